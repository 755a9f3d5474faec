"""What running the pinned Pulumi engine takes, below any stack: leaf helpers, no layout.

- ``pulumi_command``: the pinned CLI from ``llm_vault.toolchain``;
- ``trim_recorded_stack_traces``: smaller state records (the Automation API path and the
  language host record the same);
- the file backend's quirks: ``file_backend_url`` (no metadata sidecars), ``file_backend_dir``,
  ``repair_file_backend`` (what a killed write leaves).

Opening a stack is :func:`llm_vault.automation.open_stack`, the one way in for the CLI, the
main job, the tests and the benchmarks; the state layout and the passphrase rule are there too.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit, urlunsplit

from pulumi import automation as auto

from llm_vault import toolchain

# Frames of the Python stack recorded with each resource in state. The SDK records every frame
# from the program's entry down (about 45% of a dynamic resource's state record here); the
# file backend rewrites the whole state after every step, so record size costs quadratically
# in a cold up. The innermost frames (where the resource was declared) are the useful ones.
STACK_TRACE_FRAMES = 4


@cache
def trim_recorded_stack_traces(frames: int = STACK_TRACE_FRAMES) -> None:
    """Keep only the innermost ``frames`` of the stack trace the SDK records per resource.

    Patches a private SDK function (pinned: pulumi==3.272.0); if it is not there, nothing
    changes and state records are just larger.
    """
    from pulumi.runtime import resource as sdk_resource

    original = getattr(sdk_resource, "_get_stack_trace", None)
    if original is None:
        return

    def trimmed() -> Any:
        trace = original()
        del trace.frames[frames:]
        return trace

    sdk_resource._get_stack_trace = trimmed


@cache
def pulumi_command() -> auto.PulumiCommand:
    """The pinned CLI (``<root>/bin/pulumi``); built once per process because it runs ``pulumi version``.

    Through its hard link in the virtualenv when bootstrap made one: the engine then finds the
    provider host beside the CLI it runs (bundled) and does not warn "using
    pulumi-resource-pulumi-python from $PATH" on every run.
    """
    linked = toolchain.venv_bin() / "pulumi"
    if linked.exists() and toolchain.pulumi_bin().exists() and linked.samefile(toolchain.pulumi_bin()):
        return auto.PulumiCommand(root=str(linked.parent.parent))
    return auto.PulumiCommand(root=str(toolchain.pulumi_dir()))


def file_backend_url(path: Path) -> str:
    """The ``file://`` URL of a folder backend, with ``metadata=skip``.

    The blob library under the file backend writes a sidecar ``<file>.attrs`` (content type,
    md5) next to each file with a plain truncate-and-write, after the file itself (which goes
    to a temp file and is renamed). A run killed in between leaves an empty sidecar, and every
    later command then fails with "failed to load checkpoint: EOF". Nothing reads those
    attributes back, so they are not written at all.
    """
    return with_file_metadata_skipped(f"file://{path}")


def with_file_metadata_skipped(url: str) -> str:
    """``url`` with ``metadata=skip`` when it is a ``file://`` URL that does not say otherwise."""
    if not url.startswith("file://"):
        return url
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if "metadata" in query:
        return url
    return urlunsplit(parts._replace(query=urlencode({**{k: v[-1] for k, v in query.items()}, "metadata": "skip"})))


def file_backend_dir(url: str) -> Path | None:
    """The folder of a ``file://`` backend URL (its query left out); None for other backends."""
    if not url.startswith("file://"):
        return None
    return Path(unquote(urlsplit(url).path))


def repair_file_backend(directory: Path) -> list[str]:
    """Remove torn sidecars (``.attrs`` that do not parse) and temp files a killed run left.

    Only called when no live run holds the stack's lock: a temp file is then no one's. A
    missing sidecar is what ``metadata=skip`` writes anyway; a torn one breaks every command.
    """
    root = directory / ".pulumi"
    if not root.is_dir():
        return []
    torn = 0
    for path in root.rglob("*.attrs"):
        try:
            json.loads(path.read_text() or "x")
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            torn += 1
    temps = [p for p in (root / "stacks").rglob("*.tmp") if p.is_file()] if (root / "stacks").is_dir() else []
    for path in temps:
        path.unlink(missing_ok=True)
    notes = []
    if torn:
        notes.append(f"removed {torn} torn metadata file(s) of the file backend")
    if temps:
        notes.append(f"removed {len(temps)} half-written temp file(s) of the file backend")
    return notes

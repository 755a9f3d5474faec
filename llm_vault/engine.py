"""Run an inline Pulumi program with the real engine through the Automation API.

One entry, ``inline_stack``: a stack on a local file backend (``file://<state_dir>``) with a
passphrase secrets provider, driven by the pinned CLI in ``llm_vault.toolchain``. The CLI
entry point, the end-to-end tests and the benchmarks build on it.

Two things the Automation API does on its own that we do not want:

- it writes into the stack file (``encryptionsalt`` on first use, every ``set_config``), so a
  checked-in ``Pulumi.<stack>.yaml`` is never used in place: project and stack files are
  copied into a work dir of ours first;
- without a work dir it makes a fresh temp dir per call and never removes it, so ours lives
  under ``state_dir`` and is reused.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit, urlunsplit

import yaml
from pulumi import automation as auto

from llm_vault import toolchain

PASSPHRASE_ENV = "PULUMI_CONFIG_PASSPHRASE"
PASSPHRASE_FILE = ".passphrase"  # inside state_dir: the state and the key to its secrets go together
WORK_DIRS = "work"  # under state_dir: one work dir per (project, stack)


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


def passphrase(state_dir: Path) -> str:
    """PULUMI_CONFIG_PASSPHRASE from the environment, else the one generated for ``state_dir``.

    The generated one is written once (mode 0600) and reused, so a later run can decrypt the
    secrets an earlier run stored. Never printed.
    """
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    path = state_dir / PASSPHRASE_FILE
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes racing on a fresh state dir must not end up with two keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def _stack_file_name(stack_name: str) -> str:
    return stack_name.split("/")[-1]  # "org/project/dev" -> "dev", as the CLI names stack files


def _prepare_work_dir(state_dir: Path, project_name: str, stack_name: str, source: Path | None) -> Path:
    """Our own work dir; with ``source``, a fresh copy of its project and stack files."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{project_name}.{stack_name}")
    work = state_dir / WORK_DIRS / safe
    work.mkdir(parents=True, exist_ok=True)
    if source is not None:
        source = source.resolve()
        stack_file = f"Pulumi.{_stack_file_name(stack_name)}"
        for path in source.iterdir():
            if path.suffix not in (".yaml", ".yml", ".json") or not path.is_file():
                continue
            if path.stem == "Pulumi":
                copy_project_file(path, work / path.name, source)
            elif path.stem == stack_file:
                shutil.copyfile(path, work / path.name)
    return work


def copy_project_file(path: Path, target: Path, source: Path) -> None:
    """Copy Pulumi.yaml for an inline program: without ``main`` (the program is the callable;
    the CLI would insist that the folder exists next to the copy) and with the virtualenv path
    made absolute."""
    project = yaml.safe_load(path.read_text()) or {}
    project.pop("main", None)
    runtime = project.get("runtime")
    options = runtime.get("options") if isinstance(runtime, dict) else None
    if isinstance(options, dict) and isinstance(options.get("virtualenv"), str):
        options["virtualenv"] = str(source / options["virtualenv"])
    target.write_text(yaml.safe_dump(project, sort_keys=False))


def inline_stack(
    stack_name: str,
    program: Callable[[], None],
    *,
    state_dir: Path,
    config: Mapping[str, tuple[Any, bool]] | None = None,
    project_name: str = "llm-vault",
    work_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> auto.Stack:
    """Create or select ``stack_name`` running ``program`` in process.

    ``config`` maps full keys (``vault:address``) to ``(value, secret)``; a value that is not
    a string (a list, a mapping) is stored as JSON, which ``pulumi.Config.get_object`` reads.
    ``work_dir`` may hold the checked-in ``Pulumi.yaml`` and ``Pulumi.<stack>.yaml``: they are
    copied (never written) and their values are the stack's config before ``config`` is set.
    ``env`` adds to the engine environment (e.g. ``VAULT_ADDR``); the engine otherwise runs with
    ``toolchain.engine_env()``.
    """
    state_dir = Path(state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    trim_recorded_stack_traces()
    work = _prepare_work_dir(state_dir, project_name, stack_name, work_dir)

    env_vars = toolchain.engine_env()
    env_vars.update(env or {})
    env_vars[PASSPHRASE_ENV] = passphrase(state_dir)
    env_vars["PULUMI_BACKEND_URL"] = file_backend_url(state_dir)

    project_settings = None
    if not any((work / f"Pulumi{ext}").exists() for ext in (".yaml", ".yml", ".json")):
        project_settings = auto.ProjectSettings(name=project_name, runtime="python")
    stack = auto.create_or_select_stack(
        stack_name,
        project_name=project_name,
        program=program,
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(work),
            env_vars=env_vars,
            secrets_provider="passphrase",
            project_settings=project_settings,
            pulumi_command=pulumi_command(),
        ),
    )
    if config:
        stack.set_all_config(
            {
                key: auto.ConfigValue(value=value if isinstance(value, str) else json.dumps(value), secret=secret)
                for key, (value, secret) in config.items()
            }
        )
    return stack


def state_file(state_dir: Path, stack_name: str, project_name: str = "llm-vault") -> Path:
    """Where the file backend keeps the stack's checkpoint (project-scoped layout)."""
    return Path(state_dir) / ".pulumi" / "stacks" / project_name / f"{_stack_file_name(stack_name)}.json"

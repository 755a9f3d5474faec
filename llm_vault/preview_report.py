"""Preview with refresh, rendered as a markdown report for a pull request or a drift issue.

The report says, per stack: how many objects each operation touches, what changes in each
(property by property, secret values masked), and at the top anything that deletes or
replaces an object holding data (a namespace, a secrets mount) or a protected one, and any
config or guardrail error that stopped the preview.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi import automation as auto
from pulumi.automation import events

MASK = "[secret]"
# Values under these property names are never shown, whatever the engine says about them.
SENSITIVE = {"__provider", "token", "secret_id", "password", "data", "data_json", "value"}
# Objects whose deletion or replacement destroys secrets.
DATA_HOLDING = ("Namespace", "Mount", "namespace", "mount")
# The engine's marker for a secret value in event payloads.
_SECRET_SIG, _SECRET_VALUE = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"
DESTRUCTIVE_OPS = {"delete", "replace", "create-replacement", "delete-replaced", "discard", "discard-replaced"}
NO_CHANGE_OPS = {"same", "read", "refresh"}


@dataclass
class Change:
    op: str
    urn: str
    type: str
    name: str
    diffs: list[str] = field(default_factory=list)
    old: dict[str, Any] = field(default_factory=dict)
    new: dict[str, Any] = field(default_factory=dict)
    replace_keys: list[str] = field(default_factory=list)
    protected: bool = False

    @property
    def holds_data(self) -> bool:
        return any(self.type.endswith(f":{kind}") or self.name.endswith(f"-{kind}") or self.name == kind
                   for kind in DATA_HOLDING)


@dataclass
class Preview:
    stack: str
    counts: Counter[str] = field(default_factory=Counter)
    changes: list[Change] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.errors) or any(op not in NO_CHANGE_OPS for op in self.counts)

    @property
    def flagged(self) -> list[Change]:
        return [c for c in self.changes if c.op in DESTRUCTIVE_OPS and (c.holds_data or c.protected)]


def _mask(props: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (props or {}).items():
        if key in SENSITIVE:
            out[key] = MASK
        elif isinstance(value, dict) and value.get(_SECRET_SIG) == _SECRET_VALUE:
            out[key] = MASK  # the engine's secret sentinel
        else:
            out[key] = value
    return out


def _name_of(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _type_of(urn: str, fallback: str) -> str:
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else fallback


def collect_preview(
    stack: auto.Stack, *, stack_name: str, on_output: Callable[[str], Any] | None = None
) -> Preview:
    """Run preview with refresh and collect what it would do. Errors are collected, not raised."""
    preview = Preview(stack=stack_name)

    def on_event(event: events.EngineEvent) -> None:
        pre = event.resource_pre_event
        if pre is not None and pre.metadata is not None:
            meta = pre.metadata
            if meta.type == "pulumi:pulumi:Stack" and meta.op in NO_CHANGE_OPS:
                return
            op = meta.op.value if hasattr(meta.op, "value") else str(meta.op)
            preview.counts[op] += 1
            if op in NO_CHANGE_OPS:
                return
            old = (meta.old.inputs if meta.old else None) or {}
            new = (meta.new.inputs if meta.new else None) or {}
            replace_keys = [
                k for k, d in (meta.detailed_diff or {}).items() if "replace" in str(d.diff_kind.value).lower()
            ]
            preview.changes.append(
                Change(
                    op=op,
                    urn=meta.urn,
                    type=_type_of(meta.urn, meta.type),
                    name=_name_of(meta.urn),
                    diffs=[d for d in (meta.diffs or []) if d != "__provider"],
                    old=_mask(old),
                    new=_mask(new),
                    replace_keys=replace_keys,
                    protected=bool((meta.old and meta.old.protect) or (meta.new and meta.new.protect)),
                )
            )
        diag = event.diagnostic_event
        if diag is not None and diag.severity == "error":
            message = diag.message.strip()
            if message and message not in preview.errors:
                preview.errors.append(message)

    try:
        stack.preview(refresh=True, diff=True, on_event=on_event, on_output=on_output)
    except auto.errors.CommandError as err:
        if not preview.errors:
            preview.errors.append(_first_error_line(str(err)))
    except Exception as err:  # a config error raised by the program surfaces here too
        preview.errors.append(f"{type(err).__name__}: {err}")
    return preview


def _first_error_line(text: str) -> str:
    for line in text.splitlines():
        if "error:" in line:
            return line.strip()
    return text.strip().splitlines()[-1] if text.strip() else "preview failed"


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        text = value if len(value) <= 120 else value[:117] + "..."
        return json.dumps(text)
    return json.dumps(value, sort_keys=True, default=str)


def render_markdown(preview: Preview) -> str:
    """The report: a marker for comment updates, flags first, then counts and per-object diffs."""
    lines = [f"<!-- llm-vault-preview:{preview.stack} -->", f"## `{preview.stack}`: preview with refresh", ""]
    if preview.errors:
        lines += ["> [!CAUTION]", "> **The preview stopped with an error; nothing would be applied.**", ">"]
        lines += [f"> {line}" for e in preview.errors for line in e.splitlines()]
        lines.append("")
    for c in preview.flagged:
        what = "protected" if c.protected else "holds secrets"
        lines += [
            "> [!WARNING]",
            f"> **{c.op}** of `{c.name}` ({c.type}), which {what}."
            + (f" Replaced because of: {', '.join(c.replace_keys)}." if c.replace_keys else ""),
            "",
        ]
    changed = {op: n for op, n in preview.counts.items() if op not in NO_CHANGE_OPS}
    if not changed and not preview.errors:
        lines.append("No changes: the server matches the stack.")
    else:
        summary = ", ".join(f"{n} to {op}" for op, n in sorted(changed.items()))
        unchanged = sum(n for op, n in preview.counts.items() if op in NO_CHANGE_OPS)
        lines.append(f"**{summary}**" + (f", {unchanged} unchanged" if unchanged else ""))
    for c in preview.changes:
        lines += ["", f"### {c.op} `{c.name}` ({c.type})"]
        keys = c.diffs or sorted(set(c.old) | set(c.new) - {"__provider"})
        if c.op in ("create", "delete"):
            props = c.new if c.op == "create" else c.old
            keys = sorted(k for k in props if k != "__provider")
        rows = [
            f"| `{k}` | {_fmt(c.old.get(k)) if k in c.old else ''} | {_fmt(c.new.get(k)) if k in c.new else ''} |"
            for k in keys
        ]
        if rows:
            lines += ["", "| property | before | after |", "|---|---|---|", *rows]
    lines.append("")
    return "\n".join(lines)

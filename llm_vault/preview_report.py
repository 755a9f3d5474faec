"""Preview with refresh, rendered as a markdown report for a pull request or a drift issue.

The report says, per stack: how many objects each operation touches, what changes in each
(property by property, secret values masked), and at the top anything that deletes or
replaces an object holding data (a namespace, a secrets mount) or a protected one, and any
config or guardrail error that stopped the preview.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi import automation as auto
from pulumi.automation import events

from llm_vault.automation import refresh_then_preview
from vault_provider.args import as_props, role_set_member_name
from vault_provider.builtin._provider import INTERNAL_KEYS, UNDECLARED_KEY
from vault_provider.builtin.host import TYPE_PREFIX
from vault_provider.builtin.jwt import JwtAuthRole, JwtAuthRoleSet, JwtAuthRoleSetProvider

MASK = "[secret]"
# Values under these property names are never shown, whatever the engine says about them.
SENSITIVE = {"__provider", "token", "secret_id", "password", "data", "data_json", "value"}
# Objects whose deletion or replacement destroys secrets.
DATA_HOLDING = ("Namespace", "Mount", "namespace", "mount")
# The engine's marker for a secret value in event payloads.
_SECRET_SIG, _SECRET_VALUE = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"
DESTRUCTIVE_OPS = {"delete", "replace", "create-replacement", "delete-replaced", "discard", "discard-replaced"}
NO_CHANGE_OPS = {"same", "read"}
# Steps that are not objects of ours: the stack itself, and the default provider (which any
# config change "updates" because it receives the whole stack config).
_NOT_OURS = ("pulumi:pulumi:Stack", "pulumi:providers:")
# A role set is reported role by role, each under the name it had as a resource of its own.
_ROLE_SET_TYPE = f"{TYPE_PREFIX}{JwtAuthRoleSet._resource_type_name}"
_ROLE_TYPE = f"{TYPE_PREFIX}{JwtAuthRole._resource_type_name}"


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
    # The unmasked declared inputs of a create, for the adoption lookup only; never rendered.
    raw_type: str = field(default="", repr=False)
    raw_new: dict[str, Any] = field(default_factory=dict, repr=False)

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
    stack: auto.Stack,
    *,
    stack_name: str,
    on_output: Callable[[str], Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Preview:
    """Run preview with refresh and collect what it would do. Errors are collected, not raised.

    With ``env`` (the job's VAULT_* variables), creates that ``up`` would turn into takeovers of
    objects listed under ``llm-vault:adopt`` are shown as "adopt", with the server's values."""
    preview = Preview(stack=stack_name)

    def on_event(event: events.EngineEvent) -> None:
        pre = event.resource_pre_event
        if pre is not None and pre.metadata is not None:
            meta = pre.metadata
            op = meta.op.value if hasattr(meta.op, "value") else str(meta.op)
            # A refresh step precedes each resource's real step: count the real one only.
            if op == "refresh" or meta.type.startswith(_NOT_OURS):
                return
            # Before: what the server holds (refreshed outputs); after: what the stack declares.
            old = ((meta.old.outputs or meta.old.inputs) if meta.old else None) or {}
            new = (meta.new.inputs if meta.new else None) or {}
            if meta.type == _ROLE_SET_TYPE and op not in ("replace", "create-replacement", "delete-replaced"):
                protected = bool((meta.old and meta.old.protect) or (meta.new and meta.new.protect))
                roles = role_changes(op, meta.urn, old, new, protected=protected)
                if roles is not None:
                    preview.counts.update({"same": roles.same} if roles.same else {})
                    preview.counts.update(c.op for c in roles.changes)
                    preview.changes.extend(roles.changes)
                    return
            preview.counts[op] += 1
            if op in NO_CHANGE_OPS:
                return
            replace_keys = [
                k for k, d in (meta.detailed_diff or {}).items() if "replace" in str(d.diff_kind.value).lower()
            ]
            preview.changes.append(
                Change(
                    op=op,
                    urn=meta.urn,
                    type=_type_of(meta.urn, meta.type),
                    name=_name_of(meta.urn),
                    diffs=[d for d in (meta.diffs or []) if d not in INTERNAL_KEYS],
                    old=_mask(old),
                    new=_mask(new),
                    replace_keys=replace_keys,
                    protected=bool((meta.old and meta.old.protect) or (meta.new and meta.new.protect)),
                    raw_type=meta.type if op == "create" else "",
                    raw_new=dict(new) if op == "create" else {},
                )
            )
        diag = event.diagnostic_event
        if diag is not None and diag.severity == "error":
            message = diag.message.strip()
            if message and message not in preview.errors:
                preview.errors.append(message)

    try:
        refresh_then_preview(stack, on_event=on_event, on_output=on_output)
    except auto.errors.CommandError as err:
        if not preview.errors:
            preview.errors.append(_first_error_line(str(err)))
    except Exception as err:  # a config error raised by the program surfaces here too
        preview.errors.append(f"{type(err).__name__}: {err}")
    # Only a create can be an adoption: without one, the stack's config (a CLI call that decrypts
    # the secrets, ~0.2 s) is not read at all: a pull request's usual preview has none.
    if env is not None and not preview.errors and any(c.op == "create" and c.raw_type for c in preview.changes):
        config = {key: value.value for key, value in stack.get_all_config().items()}
        mark_adoptions(preview, config, env)
    return preview


@dataclass
class RoleChanges:
    changes: list[Change]
    same: int  # roles the step leaves as they are


def role_changes(
    op: str, urn: str, old: Mapping[str, Any], new: Mapping[str, Any], *, protected: bool
) -> RoleChanges | None:
    """One JWT role set's step as one line per role, as if each role were a resource of its own
    (it was, before sets): a create or delete of the set creates or deletes each role, an update
    creates the roles it adds, deletes those it drops and updates those whose declared fields or
    pinned settings (a refresh's drift) differ. The rest are unchanged. A replace (another backend
    or namespace) stays one line for the set, and so does a set whose records cannot be read
    (None: the caller reports it as any resource)."""
    if op in NO_CHANGE_OPS:  # the provider's diff found no role to change: nothing to compare again
        return RoleChanges([], len(dict(new.get("roles") or old.get("roles") or {})))
    provider = JwtAuthRoleSetProvider()
    set_name = _name_of(urn)
    # Each role's own props (its names, and what a refresh found, which ``shared`` never holds);
    # its whole record comes from ``provider.record`` below.
    before = dict(old.get("roles") or {}) if op not in ("create",) else {}
    after = dict(new.get("roles") or {}) if op not in ("delete", "discard") else {}
    try:
        before_args = {r.role_name: r for r in provider.record(dict(old)).roles} if before else {}
        after_args = {r.role_name: r for r in provider.record(dict(new)).roles} if after else {}
    except (TypeError, ValueError, KeyError):
        return None
    changes: list[Change] = []
    same = 0
    for name in sorted(before.keys() | after.keys()):
        if name in before and name in after:
            diffs = provider.role.changed_fields(before_args[name], after_args[name])
            diffs += [UNDECLARED_KEY] if before[name].get(UNDECLARED_KEY) else []
            if not diffs:
                same += 1
                continue
            role_op = "update"
        else:
            role_op, diffs = ("create" if name in after else "delete"), []
        old_props = _mask(as_props(before_args[name]) | _extra(before[name])) if name in before else {}
        new_props = as_props(after_args[name]) if name in after else {}
        changes.append(
            Change(
                op=role_op,
                urn=urn,
                type=_ROLE_TYPE,
                name=role_set_member_name(set_name, name),
                diffs=diffs,
                old=old_props,
                new=_mask(new_props),
                protected=protected,
                raw_type=_ROLE_TYPE if role_op == "create" else "",
                raw_new={k: v for k, v in new_props.items() if v is not None} if role_op == "create" else {},
            )
        )
    return RoleChanges(changes, same)


def _extra(fields: Mapping[str, Any]) -> dict[str, Any]:
    """What a refresh found beside the declared fields (pinned settings changed out of band)."""
    return {UNDECLARED_KEY: fields[UNDECLARED_KEY]} if fields.get(UNDECLARED_KEY) else {}


def mark_adoptions(preview: Preview, config: Mapping[str, Any], env: Mapping[str, str]) -> None:
    """Turn each "create" that ``up`` would turn into a takeover into an "adopt" whose "before" is
    the object as the server holds it: the engine previews it as a plain create (a dynamic
    provider learns only at create time that the object exists), so a reviewer would otherwise
    see empty "before" cells for an object that exists and will be changed.

    Only objects listed under ``llm-vault:adopt`` are looked up (anything else that exists makes
    ``up`` fail, as the create says); the lookup is a read with the job's own token."""
    from vault_provider.builtin import _client
    from vault_provider.builtin.lookup import lookups

    creates = [c for c in preview.changes if c.op == "create" and c.raw_type]
    if not creates or not config.get(_client.ADOPT_KEY):
        return
    with lookups(config, env) as lookup:
        for change in creates:
            try:
                found = lookup(change.raw_type, change.raw_new)
            except _client.VaultObjectError as exc:  # not readable: say so rather than guess
                change.diffs = [f"(could not read the existing object: {exc})"]
                continue
            if found is None or not found.adopted or found.live is None:
                continue  # not ours, not listed (up fails on it, as its create says), or nothing there
            before = found.live
            preview.counts["create"] -= 1
            preview.counts["adopt"] += 1
            change.op = "adopt"
            change.old = _mask(before)
            change.diffs = [k for k in sorted(set(before) | set(change.new)) if before.get(k) != change.new.get(k)]
    preview.counts = +preview.counts  # drop zero counts


def _first_error_line(text: str) -> str:
    for line in text.splitlines():
        if "error:" in line:
            return line.strip()
    return text.strip().splitlines()[-1] if text.strip() else "preview failed"


def _fmt(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str).replace("|", "\\|")


def _cells(before: Any, after: Any, *, has_before: bool, has_after: bool) -> tuple[str, str]:
    """Table cells; a multi-line text (a policy) shows the lines removed and added, in full."""
    if isinstance(before, str) and isinstance(after, str) and "\n" in before + after:
        old, new = before.splitlines(), after.splitlines()
        diff = list(difflib.ndiff(old, new))
        removed = [line[2:] for line in diff if line.startswith("- ")]
        added = [line[2:] for line in diff if line.startswith("+ ")]

        def block(lines: list[str]) -> str:
            return "<br>".join(f"`{ln}`" if ln.strip() else "" for ln in lines).replace("|", "\\|") or "(no lines)"

        return block(removed), block(added)
    return (_fmt(before) if has_before else "", _fmt(after) if has_after else "")


def render_markdown(preview: Preview) -> str:
    """The report: a marker for comment updates, flags first, then counts and per-object diffs."""
    lines = [f"<!-- llm-vault-preview:{preview.stack} -->", f"## `{preview.stack}`: preview with refresh", ""]
    if preview.errors:
        lines += ["> [!CAUTION]", "> **The preview stopped with an error; nothing would be applied.**", ">"]
        lines += [f"> {line}" for e in preview.errors for line in e.splitlines()]
        lines.append("")
    for c in preview.flagged:
        what = "is protected" if c.protected else "holds secrets"
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
        # Masked here too: a Preview may be built by other code than collect_preview.
        old, new = _mask(c.old), _mask(c.new)
        lines += ["", f"### {c.op} `{c.name}` ({c.type})"]
        if c.op == "adopt":
            lines += ["", "Exists on the server and is listed under `llm-vault:adopt`: `up` takes it over and "
                      "changes it to the declared values. Before: what the server holds now."]
        if c.op in ("create", "delete"):
            keys = sorted(k for k in (new if c.op == "create" else old) if k not in INTERNAL_KEYS)
        else:
            keys = [k for k in c.diffs if k not in INTERNAL_KEYS] or sorted(
                k for k in set(old) | set(new) if k not in INTERNAL_KEYS and old.get(k) != new.get(k)
            )
        rows = []
        for k in keys:
            before, after = _cells(old.get(k), new.get(k), has_before=k in old, has_after=k in new)
            rows.append(f"| `{k}` | {before} | {after} |")
        if rows:
            lines += ["", "| property | before | after |", "|---|---|---|", *rows]
    lines.append("")
    return "\n".join(lines)

"""State written by an earlier program, brought to the current layout before a command runs.

One migration so far: the GitHub trusts' JWT roles, one engine resource each until issue 17,
are one ``JwtAuthRoleSet`` per trust now. Left to the engine, the first ``up`` after that change
would create the set (refused: its roles exist, and this stack's set did not create them) and
then delete the per-role resources, that is the roles. So before any command, the per-role
records of each trust are merged into one set record in the state, as the set would have
written it: the same roles, inputs and outputs, under the set's name and id. The server is
not touched; the command's refresh then reads every role from the server, and its diff shows
anything that differs from the stack, role by role, as for any set.

The merge is all or nothing per trust: a trust whose role records are in the middle of
something (a pending operation, a replacement, a failed create) is left as it is and said.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infra.components.github_oidc import COMPONENT_TYPE, role_set_name
from vault_provider.builtin._provider import PROVIDER_KEY, RECOVERABLE_KEY
from vault_provider.builtin.host import TYPE_PREFIX, current_reference, pickled_reference
from vault_provider.builtin.jwt import (
    JwtAuthRole,
    JwtAuthRoleProvider,
    JwtAuthRoleSet,
    JwtAuthRoleSetProvider,
    pack_roles,
)

ROLE_TYPE = f"{TYPE_PREFIX}{JwtAuthRole._resource_type_name}"
SET_TYPE = f"{TYPE_PREFIX}{JwtAuthRoleSet._resource_type_name}"
# What the set names once for all its roles; everything else of a role record is the role's.
_SET_OWNS = frozenset({"backend", "role_name", "namespace", PROVIDER_KEY, RECOVERABLE_KEY})
# A record in one of these states is in the middle of an operation: not ours to rewrite.
_BUSY = ("delete", "pendingReplacement", "initErrors")


@dataclass
class Migration:
    merged: list[str] = field(default_factory=list)  # "<set urn name> (<n> role records)"
    left: list[str] = field(default_factory=list)  # trusts not merged, and why


def _urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _set_urn(role_urn: str, set_name: str) -> str:
    # urn:pulumi:<stack>::<project>::<parent types>$<type>::<name>
    head, types, _name = role_urn.rsplit("::", 2)
    return f"{head}::{types.rsplit('$', 1)[0]}${SET_TYPE}::{set_name}"


def _provider_blob() -> str:
    from pulumi.dynamic.dynamic import serialize_provider

    # What the program writes for a set: a by-reference pickle of the provider class (the host
    # only inspects it, never loads it).
    return str(serialize_provider(JwtAuthRoleSetProvider()))


def _roles_of(records: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The set's ``shared`` and ``roles`` props (as the program packs them) from the role records."""
    return pack_roles({
        str(r[key]["role_name"]): {k: v for k, v in r[key].items() if k not in _SET_OWNS}
        for r in sorted(records, key=lambda r: str(r[key]["role_name"]))
    })


def _merged_record(parent: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    first = records[0]
    inputs = first["inputs"]
    top = {"backend": inputs["backend"], **({"namespace": inputs["namespace"]} if inputs.get("namespace") else {})}
    blob = _provider_blob()
    set_inputs = {
        PROVIDER_KEY: blob,
        # Recoverable as the set would say it: each role was absent before this stack created it.
        RECOVERABLE_KEY: all(r["inputs"].get(RECOVERABLE_KEY) is True for r in records),
        **top,
        **_roles_of(records, "inputs"),
    }
    set_outputs = {PROVIDER_KEY: blob, **top, **_roles_of(records, "outputs")}
    provider = JwtAuthRoleSetProvider()
    dependencies = sorted({d for r in records for d in r.get("dependencies") or []})
    record = {
        **{k: v for k, v in first.items() if k not in ("sourcePosition", "stackTrace", "propertyDependencies")},
        "urn": _set_urn(first["urn"], role_set_name(_urn_name(parent))),
        "type": SET_TYPE,
        "id": provider.adoption_key(provider.record(set_outputs)),
        "inputs": set_inputs,
        "outputs": set_outputs,
        "dependencies": dependencies,
        "propertyDependencies": {key: [] for key in set_inputs},
        "created": min(str(r.get("created", "")) for r in records) or first.get("created"),
        "modified": max(str(r.get("modified", "")) for r in records) or first.get("modified"),
    }
    if any(r.get("protect") for r in records):
        record["protect"] = True
    return record


def _ours(blob: Any) -> bool:
    if blob is None:
        return True  # as the host: a record without one is checked by its type alone
    reference = pickled_reference(blob) if isinstance(blob, str) else None
    return current_reference(reference) == (JwtAuthRoleProvider.__module__, JwtAuthRoleProvider.__qualname__)


def _why_not(parent: str, records: list[dict[str, Any]], urns: set[str], busy: set[str]) -> str | None:
    if any(r.get(flag) for r in records for flag in _BUSY) or busy & {r["urn"] for r in records}:
        return "a role record is in the middle of an operation (pending, replaced or failed)"
    if not all(_ours(r.get(side, {}).get(PROVIDER_KEY)) for r in records for side in ("inputs", "outputs")):
        # An edited state: the provider host refuses such a record by name; a merge would hide it.
        return "a role record's `__provider` is not the reference to our role provider (the state was edited)"
    if len({(r["inputs"].get("backend"), r["inputs"].get("namespace"), r.get("provider")) for r in records}) != 1:
        return "its role records name different backends, namespaces or providers"
    if any("role_name" not in r.get("inputs", {}) or "role_name" not in r.get("outputs", {}) for r in records):
        return "a role record has no role name"
    if _set_urn(records[0]["urn"], role_set_name(_urn_name(parent))) in urns:
        return "the state holds its role set already, beside the role records"
    return None


def merge_role_records(deployment: dict[str, Any]) -> Migration:
    """Merge each GitHub trust's per-role records into one role-set record, in ``deployment``
    (an exported stack, changed in place). Says what it merged and what it left."""
    result = Migration()
    resources: list[dict[str, Any]] = list(deployment.get("resources") or [])
    types = {r.get("urn"): r.get("type") for r in resources}
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        if r.get("type") == ROLE_TYPE and types.get(r.get("parent")) == COMPONENT_TYPE:
            groups.setdefault(str(r["parent"]), []).append(r)
    if not groups:
        return result
    urns = {str(r.get("urn")) for r in resources}
    busy = {str((op.get("resource") or {}).get("urn")) for op in deployment.get("pending_operations") or []}
    renamed: dict[str, str] = {}
    for parent, records in groups.items():
        why = _why_not(parent, records, urns, busy)
        if why is not None:
            result.left.append(f"{_urn_name(parent)}: {why}")
            continue
        merged = _merged_record(parent, records)
        last = max(resources.index(r) for r in records)
        resources[last] = merged  # after everything the roles depended on, before all that depended on them
        members = {r["urn"] for r in records}
        resources = [r for r in resources if r.get("urn") not in members or r is merged]
        renamed.update(dict.fromkeys(members, merged["urn"]))
        result.merged.append(f"{_urn_name(merged['urn'])} ({len(records)} role records)")
    for r in resources:  # whatever depended on a role now depends on its set
        if r.get("dependencies"):
            r["dependencies"] = list(dict.fromkeys(renamed.get(d, d) for d in r["dependencies"]))
        if r.get("propertyDependencies"):
            r["propertyDependencies"] = {
                k: list(dict.fromkeys(renamed.get(d, d) for d in v)) for k, v in r["propertyDependencies"].items()
            }
        if r.get("deletedWith") in renamed:
            r["deletedWith"] = renamed[r["deletedWith"]]
    deployment["resources"] = resources
    return result

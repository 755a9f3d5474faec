"""State written before JWT role sets: each GitHub trust's per-role records are merged into one
role-set record before any command, so that the first up after the change deletes no role.

Unit: ``merge_role_records`` on hand-built deployments. Integration: a stack applied with one
resource per role, opened with the program's set, through the real engine on a real OpenBao.
"""

from __future__ import annotations

import base64
import copy
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi import automation as auto
from pulumi.dynamic.dynamic import serialize_provider

from infra.components.github_oidc import COMPONENT_TYPE, role_set_name
from llm_vault import automation, state_migration
from llm_vault.local.server import Server
from llm_vault.state_migration import ROLE_TYPE, SET_TYPE, merge_role_records
from tests.vault_provider.builtin.conftest import (
    delete_namespace,
    destroy_quietly,
    failing_up,
    live_role,
    preview_changes,
    target_for,
    unique,
    up,
    vault_config,
)
from vault_provider import args as a
from vault_provider.builtin._provider import PROVIDER_KEY, RECOVERABLE_KEY
from vault_provider.builtin.backend import BuiltinBackend
from vault_provider.builtin.host import pickled_reference
from vault_provider.builtin.jwt import JwtAuthRoleProvider, JwtAuthRoleSetProvider

STACK = "urn:pulumi:dev::llm-vault::pulumi:pulumi:Stack::llm-vault-dev"
TRUST = f"urn:pulumi:dev::llm-vault::{COMPONENT_TYPE}::github"
CONFIG = f"urn:pulumi:dev::llm-vault::{COMPONENT_TYPE}$pulumi-python:dynamic/vault:JwtAuthConfig::github-config"
PROVIDER = "urn:pulumi:dev::llm-vault::pulumi:providers:pulumi-python::default::1234"
# What the program writes as a role's `__provider`: the reference to its provider class.
ROLE_BLOB = serialize_provider(JwtAuthRoleProvider())


def _role_urn(name: str, parent_type: str = COMPONENT_TYPE) -> str:
    return f"urn:pulumi:dev::llm-vault::{parent_type}${ROLE_TYPE}::github-role-{name}"


def _role_record(name: str, *, subject: str | None = None, **extra: Any) -> dict[str, Any]:
    fields = {
        "backend": "jwt",
        "role_name": name,
        "namespace": "dev",
        "role_type": "jwt",
        "bound_audiences": ["https://vault.acme-ai.example/dev"],
        "bound_subject": subject or f"repo:acme-ai/{name}:ref:refs/heads/main",
        "user_claim": "actor_id",
        "token_policies": ["openai-llm-ci"],
        "token_ttl": 900,
    }
    return {
        "urn": _role_urn(name),
        "custom": True,
        "id": f"jwt-role:dev:jwt/{name}",
        "type": ROLE_TYPE,
        "inputs": {PROVIDER_KEY: ROLE_BLOB, RECOVERABLE_KEY: True, **fields},
        "outputs": {PROVIDER_KEY: ROLE_BLOB, **fields},
        "parent": TRUST,
        "dependencies": [CONFIG],
        "provider": PROVIDER,
        "deleteBeforeReplace": True,
        "created": f"2026-12-0{len(name)}T00:00:00Z",
        "modified": f"2026-12-0{len(name)}T00:00:00Z",
        **extra,
    }


def _deployment(*roles: dict[str, Any], after: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    resources = [
        {"urn": STACK, "type": "pulumi:pulumi:Stack", "custom": False},
        {"urn": TRUST, "type": COMPONENT_TYPE, "custom": False, "parent": STACK},
        {"urn": CONFIG, "type": "pulumi-python:dynamic/vault:JwtAuthConfig", "custom": True, "parent": TRUST},
        *roles,
        *(after or []),
    ]
    return {"manifest": {}, "resources": resources}


# --------------------------------------------------------------------------------------------
# unit


def test_a_trusts_role_records_become_one_set_record_holding_the_same_roles() -> None:
    deployment = _deployment(_role_record("ci"), _role_record("release"))

    migration = merge_role_records(deployment)

    assert migration.merged == ["github-roles (2 role records)"] and migration.left == []
    types = [r["type"] for r in deployment["resources"]]
    assert ROLE_TYPE not in types and types.count(SET_TYPE) == 1
    merged = deployment["resources"][-1]  # where the roles were: after the config they depended on
    assert merged["urn"] == f"urn:pulumi:dev::llm-vault::{COMPONENT_TYPE}${SET_TYPE}::{role_set_name('github')}"
    assert (merged["parent"], merged["provider"], merged["dependencies"]) == (TRUST, PROVIDER, [CONFIG])
    assert merged["id"] == JwtAuthRoleSetProvider().adoption_key(JwtAuthRoleSetProvider().record(merged["outputs"]))
    assert merged["deleteBeforeReplace"] is True
    for side in ("inputs", "outputs"):
        props = merged[side]
        assert (props["backend"], props["namespace"]) == ("jwt", "dev")
        assert sorted(props["roles"]) == ["ci", "release"]
        assert props["roles"]["ci"]["bound_subject"] == "repo:acme-ai/ci:ref:refs/heads/main"
        assert not {"backend", "role_name", "namespace", PROVIDER_KEY, RECOVERABLE_KEY} & set(props["roles"]["ci"])
        # The reference to the set's provider class, as the program writes it (the host checks it).
        assert pickled_reference(props[PROVIDER_KEY]) == ("vault_provider.builtin.jwt", "JwtAuthRoleSetProvider")
    assert merged["inputs"][RECOVERABLE_KEY] is True


def test_the_merged_record_reads_back_as_the_set_the_program_declares() -> None:
    deployment = _deployment(_role_record("ci"), _role_record("release"))
    merge_role_records(deployment)
    provider = JwtAuthRoleSetProvider()
    merged = provider.record(deployment["resources"][-1]["inputs"])
    assert [r.role_name for r in merged.roles] == ["ci", "release"]
    assert all(r.backend == "jwt" and r.namespace == "dev" for r in merged.roles)
    assert merged.roles[0].bound_audiences == ("https://vault.acme-ai.example/dev",)


def test_drift_a_refresh_recorded_on_a_role_is_kept_in_the_merged_outputs() -> None:
    drifted = _role_record("ci")
    drifted["outputs"]["undeclared_settings"] = {"bound_cidrs": ["127.0.0.0/8"]}
    deployment = _deployment(drifted)
    merge_role_records(deployment)
    assert deployment["resources"][-1]["outputs"]["roles"]["ci"]["undeclared_settings"] == {
        "bound_cidrs": ["127.0.0.0/8"]
    }


def test_a_role_created_after_adoption_keeps_the_set_unrecoverable() -> None:
    adopted = _role_record("ci")
    adopted["inputs"][RECOVERABLE_KEY] = False  # it existed before this stack's create
    deployment = _deployment(adopted, _role_record("release"))
    merge_role_records(deployment)
    assert deployment["resources"][-1]["inputs"][RECOVERABLE_KEY] is False


def test_whatever_depended_on_a_role_depends_on_the_set() -> None:
    dependent = {
        "urn": "urn:pulumi:dev::llm-vault::pulumi-python:dynamic/vault:Policy::x",
        "type": "pulumi-python:dynamic/vault:Policy",
        "dependencies": [_role_urn("ci"), _role_urn("release"), CONFIG],
        "propertyDependencies": {"policy": [_role_urn("ci")]},
    }
    deployment = _deployment(_role_record("ci"), _role_record("release"), after=[dependent])
    merge_role_records(deployment)
    set_urn = deployment["resources"][-2]["urn"]
    assert deployment["resources"][-1]["dependencies"] == [set_urn, CONFIG]
    assert deployment["resources"][-1]["propertyDependencies"] == {"policy": [set_urn]}


@pytest.mark.parametrize(
    ("how", "why"),
    [
        ("pending", "in the middle of an operation"),
        ("replaced", "in the middle of an operation"),
        ("other-backend", "different backends"),
        ("set-present", "holds its role set already"),
        ("tampered", "the state was edited"),
    ],
)
def test_a_trust_whose_records_are_not_plain_is_left_whole_and_said(how: str, why: str) -> None:
    roles = [_role_record("ci"), _role_record("release")]
    deployment = _deployment(*roles)
    if how == "pending":
        deployment["pending_operations"] = [{"type": "updating", "resource": copy.deepcopy(roles[0])}]
    elif how == "replaced":
        roles[1]["pendingReplacement"] = True
    elif how == "tampered":
        # An edited state: a pickle that would run code if loaded. The host refuses the record by
        # name; a merge must not replace it with a clean reference and hide the edit.
        roles[0]["outputs"][PROVIDER_KEY] = base64.b64encode(pickle.dumps(print)).decode()
    elif how == "other-backend":
        roles[1]["inputs"]["backend"] = "jwt2"
    else:
        deployment["resources"].append({"urn": _role_urn("x").replace(ROLE_TYPE, SET_TYPE).replace(
            "github-role-x", "github-roles"), "type": SET_TYPE, "parent": TRUST})
    before = copy.deepcopy(deployment)

    migration = merge_role_records(deployment)

    assert migration.merged == [] and len(migration.left) == 1
    assert migration.left[0].startswith("github: ") and why in migration.left[0]
    assert deployment == before


def test_role_records_of_anything_but_a_github_trust_are_not_touched() -> None:
    other = _role_record("ci")
    other["parent"] = "urn:pulumi:dev::llm-vault::pulumi:pulumi:Stack::llm-vault-dev"
    deployment = _deployment(other)
    before = copy.deepcopy(deployment)
    assert merge_role_records(deployment).merged == []
    assert deployment == before


def test_a_state_without_role_records_is_left_as_it_is() -> None:
    deployment = _deployment()
    before = copy.deepcopy(deployment)
    assert merge_role_records(deployment) == state_migration.Migration()
    assert deployment == before


# --------------------------------------------------------------------------------------------
# integration: a stack applied before sets, opened with the program's set

AUDIENCE = "https://vault.acme-ai.example/dev"
ROLES = ("ci", "release", "nightly")


def _role(ns: str, name: str) -> a.JwtAuthRoleArgs:
    return a.JwtAuthRoleArgs(
        backend="jwt",
        role_name=name,
        bound_audiences=(AUDIENCE,),
        user_claim="actor_id",
        bound_subject=f"repo:acme-ai/{name}:ref:refs/heads/main",
        token_policies=("openai-llm-ci",),
        token_ttl=900,
        token_max_ttl=900,
        namespace=ns,
    )


def _program(ns: str, names: tuple[str, ...], *, as_set: bool) -> Callable[[], None]:
    """The trust's shape before sets (one resource per role, ``github-role-<name>``) or now (one
    set, ``github-roles``), under a component of the trust's type and name, as the program has it."""

    def program() -> None:
        backend = BuiltinBackend()
        trust = pulumi.ComponentResource(COMPONENT_TYPE, "github")
        jwt = backend.declare(
            "github-backend", a.AuthBackendArgs(type="jwt", path="jwt", namespace=ns),
            pulumi.ResourceOptions(parent=trust),
        )
        child = pulumi.ResourceOptions(parent=trust, depends_on=[jwt], delete_before_replace=True)
        if as_set:
            roles = tuple(_role(ns, n) for n in names)
            backend.declare(role_set_name("github"), a.JwtAuthRoleSetArgs("jwt", roles, namespace=ns), child)
        else:
            for n in names:
                backend.declare(f"github-role-{n}", _role(ns, n), child)

    return program


def _types(stack: auto.Stack) -> list[str]:
    return [r["type"] for r in stack.export_stack().deployment["resources"] if r["type"].startswith("pulumi-python")]


@pytest.fixture
def applied_before_sets(openbao: Server, tmp_path: Path) -> Iterator[tuple[automation.StackTarget, str]]:
    """A stack applied by the per-role program, with its three roles on the server."""
    ns = unique("migrate")
    openbao.client().sys.create_namespace(ns)
    target = target_for("migrate", state_dir=tmp_path / "state", config=vault_config(openbao.address,
                                                                                      openbao.root_token))
    stack = automation.open_stack(target, _program(ns, ROLES, as_set=False))
    up(stack)
    assert _types(stack).count("pulumi-python:dynamic/vault:JwtAuthRole") == 3
    yield target, ns
    destroy_quietly(automation.open_stack(target, _program(ns, ROLES, as_set=True)))
    delete_namespace(openbao.client(), ns)


@pytest.mark.integration
@pytest.mark.engine
def test_opening_an_applied_per_role_stack_merges_its_records_and_the_up_touches_no_role(
    openbao: Server, applied_before_sets: tuple[automation.StackTarget, str]
) -> None:
    target, ns = applied_before_sets
    before = {name: live_role(openbao, ns, name) for name in ROLES}
    said: list[str] = []

    stack = automation.open_stack(target, _program(ns, ROLES, as_set=True), say=said.append)

    assert said == [
        "migrated stack migrate's state: merged the per-role JWT records of an earlier version into their role "
        "sets (state only, the server is not touched): github-roles (3 role records)"
    ]
    assert sorted(_types(stack)) == ["pulumi-python:dynamic/vault:AuthBackend", SET_TYPE]
    assert preview_changes(stack) == {}  # refreshed from the server: every role as declared
    result = up(stack)
    assert {op: n for op, n in (result.summary.resource_changes or {}).items() if op != "same"} == {}
    assert {name: live_role(openbao, ns, name) for name in ROLES} == before
    # Opened again: nothing left to merge, nothing said.
    said.clear()
    automation.open_stack(target, _program(ns, ROLES, as_set=True), say=said.append)
    assert said == []


@pytest.mark.integration
@pytest.mark.engine
def test_after_the_merge_the_set_changes_and_destroys_the_roles_it_took_over(
    openbao: Server, applied_before_sets: tuple[automation.StackTarget, str]
) -> None:
    target, ns = applied_before_sets
    stack = automation.open_stack(target, _program(ns, ("ci", "release", "hotfix"), as_set=True))

    assert preview_changes(stack) == {"update": 1}
    up(stack)

    assert [live_role(openbao, ns, n) is not None for n in ("ci", "release", "nightly", "hotfix")] == [
        True, True, False, True]
    stack.destroy(on_output=lambda _line: None)
    assert [live_role(openbao, ns, n) for n in ("ci", "release", "hotfix")] == [None, None, None]


@pytest.mark.integration
@pytest.mark.engine
def test_unmerged_per_role_records_cannot_make_an_up_delete_the_roles(
    openbao: Server, applied_before_sets: tuple[automation.StackTarget, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the "left unmerged" line promises: with the records not merged (here: the migration
    # skipped), the up fails on the set's create, which refuses the existing roles, before the
    # engine gets to deleting the per-role resources.
    target, ns = applied_before_sets
    before = {name: live_role(openbao, ns, name) for name in ROLES}
    monkeypatch.setattr(state_migration, "merge_role_records", lambda _deployment: state_migration.Migration())
    stack = automation.open_stack(target, _program(ns, ROLES, as_set=True))

    error = failing_up(stack)

    assert "3 role(s) already exist and this stack did not create them" in error
    assert {name: live_role(openbao, ns, name) for name in ROLES} == before
    assert _types(stack).count("pulumi-python:dynamic/vault:JwtAuthRole") == 3
    monkeypatch.undo()  # the fixture's teardown merges, then destroys

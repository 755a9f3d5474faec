"""``JwtAuthRoleSet``: every JWT role of a backend as one engine resource, through the real engine
against a real OpenBao. Each role must end up exactly as a ``JwtAuthRole`` would have written it;
drift, adoption and failures are per role, and a failed run leaves no role the state does not hold.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pulumi
import pytest
from pulumi import automation as auto

from llm_vault import automation
from llm_vault.automation import state_file
from llm_vault.local.server import Server
from vault_provider import args as a
from vault_provider.builtin._provider import RECOVERABLE_KEY
from vault_provider.builtin.backend import BuiltinBackend
from vault_provider.builtin.jwt import JwtAuthRoleProvider

from .conftest import failing_up, live_role, preview_changes, target_for, up, vault_config

pytestmark = [pytest.mark.integration, pytest.mark.engine]

AUDIENCE = "https://vault.acme-ai.example/dev"


def role(ns: str, name: str, *, subject: str | None = None, **fields: object) -> a.JwtAuthRoleArgs:
    return a.JwtAuthRoleArgs(
        backend="jwt",
        role_name=name,
        bound_audiences=(AUDIENCE,),
        user_claim="repository",
        bound_subject=subject or f"repo:acme-ai/{name}:ref:refs/heads/main",
        token_policies=("openai-llm-ci",),
        token_ttl=900,
        token_max_ttl=900,
        namespace=ns,
        **fields,  # type: ignore[arg-type]
    )


def program_of(ns: str, roles: list[a.JwtAuthRoleArgs]) -> Callable[[], None]:
    """The auth method and a set of ``roles`` (read at each run: a test changes the list in place)."""

    def program() -> None:
        backend = BuiltinBackend()
        jwt = backend.declare("jwt", a.AuthBackendArgs(type="jwt", path="jwt", namespace=ns))
        backend.declare(
            "ci-roles",
            a.JwtAuthRoleSetArgs(backend="jwt", roles=tuple(roles), namespace=ns),
            pulumi.ResourceOptions(depends_on=[jwt]),
        )

    return program


def engine_resources(stack: auto.Stack) -> list[str]:
    return [r["type"] for r in stack.export_stack().deployment["resources"] if r["type"].startswith("pulumi-python")]


def test_a_set_writes_each_role_as_a_role_resource_would_and_is_one_engine_resource(
    openbao: Server, namespaces: Callable[[str], str], make_stack: Callable[..., auto.Stack]
) -> None:
    ns = namespaces("set")
    openbao.client().sys.create_namespace(ns)
    roles = [role(ns, "app-a"), role(ns, "app-b", bound_claims={"repository_id": "500000001"}), role(ns, "app-c")]
    stack = make_stack("set", program_of(ns, roles), config=vault_config(openbao.address, openbao.root_token))

    up(stack)

    single = JwtAuthRoleProvider()
    for declared in roles:
        live = live_role(openbao, ns, declared.role_name)
        assert live is not None, declared.role_name
        for field, value in single.body(declared).items():  # the single-role body, pinned settings included
            want = single.canonical(field, tuple(value) if isinstance(value, list) else value)
            got = live[field]
            assert single.canonical(field, tuple(got) if isinstance(got, list) else got) == want, (declared, field)
    # Three roles, two engine resources: the auth method and the set.
    assert sorted(engine_resources(stack)) == [
        "pulumi-python:dynamic/vault:AuthBackend",
        "pulumi-python:dynamic/vault:JwtAuthRoleSet",
    ]
    assert preview_changes(stack) == {}


def test_drift_in_one_role_is_shown_then_repaired_and_a_deleted_role_is_written_again(
    openbao: Server, namespaces: Callable[[str], str], make_stack: Callable[..., auto.Stack]
) -> None:
    ns = namespaces("set-drift")
    openbao.client().sys.create_namespace(ns)
    roles = [role(ns, "app-a"), role(ns, "app-b"), role(ns, "app-c")]
    stack = make_stack("set-drift", program_of(ns, roles), config=vault_config(openbao.address, openbao.root_token))
    up(stack)
    client = openbao.client(namespace=ns)
    widened = {**live_role(openbao, ns, "app-b"), "bound_subject": "repo:acme-ai/*", "clock_skew_leeway": 3600}
    client.adapter.post("/v1/auth/jwt/role/app-b", json=widened)
    client.adapter.delete("/v1/auth/jwt/role/app-c")

    assert preview_changes(stack) == {"update": 1}
    up(stack, refresh=True)

    repaired = live_role(openbao, ns, "app-b")
    assert repaired is not None
    assert (repaired["bound_subject"], repaired["clock_skew_leeway"]) == ("repo:acme-ai/app-b:ref:refs/heads/main", 60)
    assert live_role(openbao, ns, "app-c") is not None
    assert preview_changes(stack) == {}


def test_a_change_updates_adds_and_removes_only_the_roles_it_names(
    openbao: Server, namespaces: Callable[[str], str], make_stack: Callable[..., auto.Stack]
) -> None:
    ns = namespaces("set-change")
    openbao.client().sys.create_namespace(ns)
    config = vault_config(openbao.address, openbao.root_token)
    declared = [role(ns, "app-a"), role(ns, "app-b")]
    stack = make_stack("set-change", program_of(ns, declared), config=config)
    up(stack)

    declared[:] = [role(ns, "app-a", subject="repo:acme-ai/app-a:environment:prod"), role(ns, "app-d")]
    assert preview_changes(stack) == {"update": 1}
    up(stack)

    assert live_role(openbao, ns, "app-a")["bound_subject"] == "repo:acme-ai/app-a:environment:prod"  # type: ignore[index]
    assert live_role(openbao, ns, "app-b") is None
    assert live_role(openbao, ns, "app-d") is not None
    assert preview_changes(stack) == {}

    stack.destroy(on_output=lambda _line: None)
    assert [live_role(openbao, ns, name) for name in ("app-a", "app-d")] == [None, None]


def test_roles_that_exist_are_refused_by_name_before_any_write_unless_listed_for_adoption(
    openbao: Server, namespaces: Callable[[str], str], make_stack: Callable[..., auto.Stack]
) -> None:
    ns = namespaces("set-adopt")
    openbao.client().sys.create_namespace(ns)
    client = openbao.client(namespace=ns)
    client.sys.enable_auth_method("jwt", path="jwt")
    by_hand = {"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["anyone"], "bound_subject": "repo:*"}
    client.adapter.post("/v1/auth/jwt/role/app-a", json=by_hand)

    def program() -> None:  # the auth method was made by hand too: the set alone
        BuiltinBackend().declare(
            "ci-roles", a.JwtAuthRoleSetArgs("jwt", (role(ns, "app-a"), role(ns, "app-b")), namespace=ns)
        )

    stack = make_stack("set-adopt", program, config=vault_config(openbao.address, openbao.root_token))
    error = failing_up(stack)

    assert f"'jwt-role:{ns}:jwt/app-a'" in error
    assert "this stack did not create them" in error and "`llm-vault:adopt`" in error
    assert live_role(openbao, ns, "app-a")["bound_subject"] == "repo:*"  # type: ignore[index]  # untouched
    assert live_role(openbao, ns, "app-b") is None  # refused before any write

    stack.set_config("llm-vault:adopt", auto.ConfigValue(value=json.dumps([f"jwt-role:{ns}:jwt/app-a"])))
    up(stack)

    assert live_role(openbao, ns, "app-a")["bound_subject"] == "repo:acme-ai/app-a:ref:refs/heads/main"  # type: ignore[index]
    assert live_role(openbao, ns, "app-b") is not None
    assert preview_changes(stack) == {}


def test_a_create_refused_halfway_deletes_the_roles_it_wrote_and_the_fixed_run_succeeds(
    openbao: Server, namespaces: Callable[[str], str], make_stack: Callable[..., auto.Stack]
) -> None:
    ns = namespaces("set-half")
    openbao.client().sys.create_namespace(ns)
    # Written in name order: app-a and app-b first, then app-c, which the server refuses (an
    # OIDC role needs redirect URIs).
    refused = role(ns, "app-c", role_type="oidc")
    roles = [role(ns, "app-a"), role(ns, "app-b"), refused]
    stack = make_stack("set-half", program_of(ns, roles), config=vault_config(openbao.address, openbao.root_token))

    error = failing_up(stack)

    assert "role 'app-c'" in error and "allowed_redirect_uris" in error
    assert "the 2 role(s) this run created were deleted again" in error
    assert [live_role(openbao, ns, name) for name in ("app-a", "app-b", "app-c")] == [None, None, None]

    roles[2] = role(ns, "app-c")
    up(stack)  # no role is refused as someone else's: none was left behind

    assert all(live_role(openbao, ns, name) is not None for name in ("app-a", "app-b", "app-c"))


def test_a_set_whose_create_was_killed_halfway_is_recovered_and_completed_by_the_next_up(
    openbao: Server, namespaces: Callable[[str], str], state_dir: Path
) -> None:
    ns = namespaces("set-crash")
    openbao.client().sys.create_namespace(ns)
    roles = [role(ns, "app-a"), role(ns, "app-b"), role(ns, "app-c")]
    target = target_for("set-crash", state_dir=state_dir, config=vault_config(openbao.address, openbao.root_token))
    stack = automation.open_stack(target, program_of(ns, roles))
    up(stack)
    # What a run killed inside the set's create leaves (app-a and app-b written, app-c not): the
    # engine's pending create, with the inputs its check recorded, and no set in the state.
    path = state_file(state_dir, "set-crash")
    document = json.loads(path.read_text())
    latest = document["checkpoint"]["latest"]
    the_set = next(r for r in latest["resources"] if r["type"].endswith(":JwtAuthRoleSet"))
    assert the_set["inputs"][RECOVERABLE_KEY] is True  # none of its roles existed before its create
    latest["resources"].remove(the_set)
    latest["pending_operations"] = [
        {"resource": {k: v for k, v in the_set.items() if k not in ("id", "outputs")}, "type": "creating"}
    ]
    path.write_text(json.dumps(document))
    openbao.client(namespace=ns).adapter.delete("/v1/auth/jwt/role/app-c")

    said: list[str] = []
    stack = automation.open_stack(target, program_of(ns, roles), say=said.append)
    assert said and "imported 1 object(s)" in said[0] and "JwtAuthRoleSet" in said[0]
    up(stack, refresh=True)  # not refused as someone else's roles: the recovered set holds them

    assert all(live_role(openbao, ns, name) is not None for name in ("app-a", "app-b", "app-c"))
    assert preview_changes(stack) == {}
    stack.destroy(on_output=lambda _line: None)
    assert [live_role(openbao, ns, name) for name in ("app-a", "app-b", "app-c")] == [None, None, None]

"""``JwtAuthRoleSet``'s rules without a server: what a set may hold, how it is stored, and what
its diff calls a change (the engine tests are in ``test_jwt_role_set.py``)."""

from __future__ import annotations

import pytest

from vault_provider import args as a
from vault_provider.builtin._provider import UNDECLARED_KEY
from vault_provider.builtin.jwt import JwtAuthRoleSetProvider, role_set_props


def role(name: str, *, backend: str = "jwt", namespace: str | None = "dev", subject: str = "") -> a.JwtAuthRoleArgs:
    return a.JwtAuthRoleArgs(
        backend=backend,
        role_name=name,
        bound_audiences=("https://vault.acme-ai.example/dev", "second-audience"),
        user_claim="repository",
        bound_subject=subject or f"repo:acme-ai/{name}:ref:refs/heads/main",
        token_policies=("openai-llm-ci", "openai-llm-read"),
        token_ttl=900,
        namespace=namespace,
    )


def props(*roles: a.JwtAuthRoleArgs, backend: str = "jwt") -> dict[str, object]:
    return role_set_props(a.JwtAuthRoleSetArgs(backend, roles, namespace="dev"))


def test_a_set_refuses_a_role_name_twice() -> None:
    with pytest.raises(ValueError, match=r"role names repeated: \['app-a'\]"):
        a.JwtAuthRoleSetArgs("jwt", (role("app-a"), role("app-a", subject="repo:x")), namespace="dev")


@pytest.mark.parametrize("stray", [role("app-b", backend="jwt-other"), role("app-b", namespace="prod")])
def test_a_set_refuses_a_role_of_another_backend_or_namespace(stray: a.JwtAuthRoleArgs) -> None:
    with pytest.raises(ValueError, match=r"roles of another backend or namespace: \['app-b'\]"):
        a.JwtAuthRoleSetArgs("jwt", (role("app-a"), stray), namespace="dev")


def test_the_stored_form_keys_roles_by_name_and_reads_back_as_the_same_record() -> None:
    declared = a.JwtAuthRoleSetArgs("jwt", (role("app-b"), role("app-a")), namespace="dev")
    stored = role_set_props(declared)

    assert sorted(stored["roles"]) == ["app-a", "app-b"]
    assert "role_name" not in stored["roles"]["app-a"] and "backend" not in stored["roles"]["app-a"]
    back = JwtAuthRoleSetProvider().record(stored)
    assert back == a.JwtAuthRoleSetArgs("jwt", (role("app-a"), role("app-b")), namespace="dev")


def test_the_diff_sees_no_change_in_order_alone() -> None:
    provider = JwtAuthRoleSetProvider()
    reordered = role("app-a")
    reordered = a.JwtAuthRoleArgs(
        **{**reordered.__dict__, "bound_audiences": tuple(reversed(reordered.bound_audiences))}
    )
    result = provider.diff("id", props(role("app-a"), role("app-b")), props(role("app-b"), reordered))
    assert not result.changes


@pytest.mark.parametrize(
    "after",
    [
        (role("app-a", subject="repo:acme-ai/app-a:environment:prod"), role("app-b")),  # one role changed
        (role("app-a"),),  # one removed
        (role("app-a"), role("app-b"), role("app-c")),  # one added
    ],
    ids=["changed", "removed", "added"],
)
def test_the_diff_is_an_update_in_place_for_any_role_changed_added_or_removed(after: tuple[a.JwtAuthRoleArgs]) -> None:
    result = JwtAuthRoleSetProvider().diff("id", props(role("app-a"), role("app-b")), props(*after))
    assert result.changes and not result.replaces


def test_pinned_settings_changed_on_the_server_are_a_change() -> None:
    olds = props(role("app-a"))
    olds["roles"]["app-a"][UNDECLARED_KEY] = {"clock_skew_leeway": 3600}  # what a refresh reports
    assert JwtAuthRoleSetProvider().diff("id", olds, props(role("app-a"))).changes


def test_another_backend_replaces_the_set_deleting_first() -> None:
    moved = a.JwtAuthRoleSetArgs("jwt-ci", (role("app-a", backend="jwt-ci"),), namespace="dev")
    result = JwtAuthRoleSetProvider().diff("id", props(role("app-a")), role_set_props(moved))
    assert (result.replaces, result.delete_before_replace) == (["backend"], True)

"""``JwtAuthRoleSet``'s rules without a server: what a set may hold, how it is stored, and what
its diff calls a change (the engine tests are in ``test_jwt_role_set.py``)."""

from __future__ import annotations

import pytest

from vault_provider import args as a
from vault_provider.builtin._provider import UNDECLARED_KEY
from vault_provider.builtin.jwt import JwtAuthRoleSetProvider, pack_roles, role_entries, role_set_props


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


def test_what_every_role_has_alike_is_stored_once_and_each_role_keeps_what_differs() -> None:
    stored = props(role("app-a"), role("app-b"), role("app-c"))

    assert stored["shared"]["user_claim"] == "repository" and stored["shared"]["token_ttl"] == 900
    assert stored["roles"]["app-a"] == {"bound_subject": "repo:acme-ai/app-a:ref:refs/heads/main"}
    assert role_entries(stored)["app-a"] == {
        k: v for k, v in a.as_props(role("app-a")).items() if k not in ("backend", "role_name", "namespace")
    }


def test_a_field_one_role_has_otherwise_is_stored_per_role_for_every_role() -> None:
    longer = a.JwtAuthRoleArgs(**{**role("app-b").__dict__, "token_ttl": 1800})
    stored = props(role("app-a"), longer)

    assert "token_ttl" not in stored["shared"]
    assert (stored["roles"]["app-a"]["token_ttl"], stored["roles"]["app-b"]["token_ttl"]) == (900, 1800)
    assert JwtAuthRoleSetProvider().record(stored).roles == (role("app-a"), longer)


def test_what_a_refresh_found_beside_the_declared_fields_stays_with_its_role() -> None:
    found = {"clock_skew_leeway": 3600}
    packed = pack_roles({"a": {"x": 1, UNDECLARED_KEY: found}, "b": {"x": 1, UNDECLARED_KEY: found}})
    assert packed["shared"] == {"x": 1}
    assert packed["roles"] == {"a": {UNDECLARED_KEY: found}, "b": {UNDECLARED_KEY: found}}


def test_a_set_of_no_roles_or_of_one_role_is_stored_and_read_back() -> None:
    assert pack_roles({}) == {"shared": {}, "roles": {}}
    one = props(role("app-a"))
    assert one["roles"] == {"app-a": {}}
    assert JwtAuthRoleSetProvider().record(one).roles == (role("app-a"),)


def test_props_stored_before_shared_fields_read_back_the_same() -> None:
    # Each role with all its fields (the first form of the set's props; a migration made before
    # this one may have written it): read as it is.
    full = {"backend": "jwt", "namespace": "dev", "roles": role_entries(props(role("app-a"), role("app-b")))}
    assert JwtAuthRoleSetProvider().record(full) == JwtAuthRoleSetProvider().record(props(role("app-a"), role("app-b")))


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

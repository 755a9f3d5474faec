"""The providers' rules that need no server: typing of props, diff, adoption keys, connection
settings, what gets pickled."""

from __future__ import annotations

import base64
import os
import typing
from typing import Any

import pytest
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc

from vault_provider import args as a
from vault_provider.builtin import _client
from vault_provider.builtin._provider import coerce, seconds
from vault_provider.builtin.audit import AuditProvider
from vault_provider.builtin.backend import RESOURCES, BuiltinBackend
from vault_provider.builtin.jwt import JwtAuthRoleProvider
from vault_provider.builtin.mount import MountProvider
from vault_provider.builtin.policy import PolicyProvider
from vault_provider.builtin.token import TokenRoleProvider

CONNECTION_ENV = [name for names in _client._ENV.values() for name in names]


@pytest.fixture(autouse=True)
def no_ambient_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither the developer's VAULT_* variables nor an earlier test's config leak in."""
    for name in CONNECTION_ENV:
        monkeypatch.delenv(name, raising=False)
    _client.configure({})


def props(record: Any, **changes: Any) -> dict[str, Any]:
    return {**a.as_props(record), **changes}


def test_every_record_type_has_a_resource() -> None:
    assert set(RESOURCES) == set(typing.get_args(a.ObjectArgs))
    assert {r.provider_type.args_type for r in RESOURCES.values()} == set(RESOURCES)


def test_declare_refuses_something_that_is_not_a_record() -> None:
    with pytest.raises(TypeError, match="no builtin resource for dict"):
        BuiltinBackend().declare("x", {"name": "p"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        (None, 0),
        ("", 0),
        (900, 900),
        (900.0, 900),
        ("900", 900),
        ("0s", 0),
        ("1h0m30s", 3630),
        ("24h0m0s", 86400),
        ("90m", 5400),
        ("250ms", 0),
    ],
)
def test_durations_as_the_server_reports_them_become_seconds(reported: Any, expected: int) -> None:
    assert seconds(reported) == expected


def test_props_from_the_engine_become_typed_records() -> None:
    # The engine hands numbers back as floats and tuples as lists; null means "the default".
    record = coerce(
        a.JwtAuthRoleArgs,
        {
            "backend": "jwt",
            "role_name": "ci",
            "bound_audiences": ["x"],
            "user_claim": "sub",
            "token_ttl": 900.0,
            "namespace": None,
            "bound_claims": {"repository_id": "1"},
        },
    )
    assert record == a.JwtAuthRoleArgs(
        backend="jwt",
        role_name="ci",
        bound_audiences=("x",),
        user_claim="sub",
        token_ttl=900,
        bound_claims={"repository_id": "1"},
    )
    assert isinstance(record.token_ttl, int)


ROLE = a.JwtAuthRoleArgs(
    backend="jwt",
    role_name="ci",
    bound_audiences=("a", "b"),
    user_claim="sub",
    token_policies=("p1", "p2"),
    token_bound_cidrs=("203.0.113.7",),
    namespace="dev",
)


@pytest.mark.parametrize(
    ("provider", "old", "new", "changes", "replaces"),
    [
        (PolicyProvider(), a.PolicyArgs("p", "x"), a.PolicyArgs("p", "x"), False, []),
        (PolicyProvider(), a.PolicyArgs("p", "x"), a.PolicyArgs("p", "y"), True, []),
        (PolicyProvider(), a.PolicyArgs("p", "x"), a.PolicyArgs("q", "x"), True, ["name"]),
        (PolicyProvider(), a.PolicyArgs("p", "x"), a.PolicyArgs("p", "x", namespace="dev"), True, ["namespace"]),
        # Sets: order and the /32 of a single address are not changes.
        (
            JwtAuthRoleProvider(),
            ROLE,
            ROLE.__class__(
                **{
                    **a.as_props(ROLE),
                    "bound_audiences": ("b", "a"),
                    "token_policies": ("p2", "p1"),
                    "token_bound_cidrs": ("203.0.113.7/32",),
                }
            ),
            False,
            [],
        ),
        (JwtAuthRoleProvider(), ROLE, ROLE.__class__(**{**a.as_props(ROLE), "token_ttl": 60}), True, []),
        (JwtAuthRoleProvider(), ROLE, ROLE.__class__(**{**a.as_props(ROLE), "role_name": "cd"}), True, ["role_name"]),
        (MountProvider(), a.MountArgs("kv", "kv-v2"), a.MountArgs("kv", "kv-v2", description="d"), True, []),
        (
            MountProvider(),
            a.MountArgs("kv", "kv", options={"version": "1"}),
            a.MountArgs("kv", "kv", options={"version": "2"}),
            True,
            ["options"],
        ),
        (MountProvider(), a.MountArgs("kv", "kv-v2"), a.MountArgs("kv", "kv"), True, ["type"]),
        (
            AuditProvider(),
            a.AuditArgs("file", "a", options={"file_path": "x"}),
            a.AuditArgs("file", "a", options={"file_path": "y"}),
            True,
            ["options"],
        ),
        # The token store lowercases policies and calls "default" "default-service".
        (
            TokenRoleProvider(),
            a.TokenRoleArgs("r", allowed_policies=("A", "b")),
            a.TokenRoleArgs("r", allowed_policies=("b", "a"), token_type="default-service"),
            False,
            [],
        ),
    ],
)
def test_diff_updates_in_place_and_replaces_only_what_vault_cannot_change(
    provider: Any, old: Any, new: Any, changes: bool, replaces: list[str]
) -> None:
    result = provider.diff("id", props(old), props(new))
    assert result.changes is changes
    assert sorted(result.replaces or []) == replaces
    assert result.delete_before_replace is (True if replaces else None)


def test_a_value_unknown_during_preview_counts_as_a_change() -> None:
    old = props(a.PolicyArgs("p", "x"))
    result = PolicyProvider().diff("id", old, {**old, "policy": rpc.UNKNOWN})
    assert (result.changes, result.replaces) == (True, [])


def test_a_token_role_ttl_the_server_ignores_is_a_check_failure() -> None:
    result = TokenRoleProvider().check({}, props(a.TokenRoleArgs("r", token_ttl=3600, token_explicit_max_ttl=60)))
    assert [(f.property, "ignore" in f.reason) for f in result.failures] == [("token_ttl", True)]


def test_adoption_keys_name_kind_namespace_and_path() -> None:
    assert PolicyProvider().adoption_key(a.PolicyArgs("ci", "x")) == "policy:ci"
    assert PolicyProvider().adoption_key(a.PolicyArgs("ci", "x", namespace="dev/team")) == "policy:dev/team:ci"
    assert JwtAuthRoleProvider().adoption_key(ROLE) == "jwt-role:dev:jwt/ci"


@pytest.mark.parametrize(
    ("configured", "adopted"),
    [
        (None, []),
        ('["policy:dev:ci", "mount:dev:*"]', ["policy:dev:ci", "mount:dev:kv"]),  # as the engine passes a list
        (["policy:*"], ["policy:dev:ci", "policy:ci", "policy:dev:cd"]),  # any namespace
        ("policy:ci", ["policy:ci"]),  # a single entry set as a plain string
    ],
)
def test_only_listed_objects_are_adopted(configured: Any, adopted: list[str]) -> None:
    _client.configure({} if configured is None else {_client.ADOPT_KEY: configured})
    candidates = ["policy:dev:ci", "policy:ci", "mount:dev:kv", "mount:kv", "policy:dev:cd"]
    assert [k for k in candidates if _client.is_adopted(k)] == adopted


def test_the_environment_names_the_server_and_the_stack_config_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:1")
    monkeypatch.setenv("BAO_ADDR", "http://127.0.0.1:2")
    monkeypatch.setenv("BAO_TOKEN", "from-bao-env")
    assert _client._setting("address") == "http://127.0.0.1:1"  # VAULT_* before BAO_*
    assert _client._setting("token") == "from-bao-env"
    _client.configure({"vault:address": "http://127.0.0.1:3", "vault:namespace": "admin"})
    # A stack file cannot send the token elsewhere: the job's VAULT_ADDR wins.
    assert _client._setting("address") == "http://127.0.0.1:1"
    monkeypatch.delenv("VAULT_ADDR")
    monkeypatch.delenv("BAO_ADDR")
    assert _client._setting("address") == "http://127.0.0.1:3"
    assert _client.join_namespace(_client._setting("namespace"), "dev/") == "admin/dev"
    assert _client.join_namespace(None, None) is None


def test_no_token_is_an_error_naming_the_object_and_the_settings() -> None:
    _client.configure({"vault:address": "http://127.0.0.1:1"})
    with pytest.raises(_client.ConnectionConfigError) as info:
        PolicyProvider().read("policy:dev:ci", props(a.PolicyArgs("ci", "x", namespace="dev")))
    assert str(info.value) == (
        "vault Policy 'ci' in namespace 'dev': no Vault token; set `vault:token` (as a secret) or VAULT_TOKEN"
    )


def test_the_pickled_provider_is_a_class_reference_without_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    token = "t" + os.urandom(8).hex()
    _client.configure({"vault:address": "http://127.0.0.1:8200", "vault:token": token})
    provider = PolicyProvider()
    provider.configure(type("Req", (), {"config": {"vault:token": token}})())
    pickled = base64.b64decode(serialize_provider(provider))
    assert token.encode() not in pickled
    assert b"127.0.0.1" not in pickled
    assert b"vault_provider.builtin.policy" in pickled and len(pickled) < 200


def test_go_multierror_text_reads_as_one_line() -> None:
    assert _client._one_line("1 error occurred:\n\t* permission denied\n\n") == "permission denied"
    assert _client._one_line("2 errors occurred:\n\t* a\n\t* b\n\n") == "a; b"


@pytest.mark.parametrize(
    ("config", "verify"),
    [
        ({}, True),
        ({"vault:skipTlsVerify": "true"}, False),
        ({"vault:caCertFile": "/etc/llm-vault/ca.pem"}, "/etc/llm-vault/ca.pem"),
    ],
)
def test_tls_settings_come_from_the_official_providers_keys(
    config: dict[str, str], verify: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without these, verification uses requests' own CA bundle (with them: test_client_costs).
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setattr(_client, "_sessions", {})  # sessions keep the environment they were made in
    _client.configure({"vault:address": "https://127.0.0.1:8200", "vault:token": "unused", **config})
    api = _client.Api(_client.Where("Policy", "ci", None), None)
    assert api._client.adapter._kwargs["verify"] == verify


def test_messages_name_the_namespace_as_the_server_knows_it() -> None:
    _client.configure({"vault:namespace": "admin"})
    where = PolicyProvider().where(a.PolicyArgs("ci", "x", namespace="dev"))
    assert str(where) == "vault Policy 'ci' in namespace 'admin/dev'"
    assert PolicyProvider().adoption_key(a.PolicyArgs("ci", "x", namespace="dev")) == "policy:dev:ci"

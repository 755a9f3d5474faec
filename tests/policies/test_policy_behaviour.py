"""Every policy does exactly what policies/expectations.yaml says, on real OpenBao and Vault servers.

All policies are written to one throwaway scope (tests/scope.py) holding kv-v2 at ``openai-llm``
(this environment) and ``openai-llm-prod`` (standing for another environment), a few seeded
secrets and the ``openai-llm-readonly`` token role. On OpenBao the scope is a namespace; on Vault
OSS (no namespaces) it is the root, the two mounts get the scope's unique prefix and every table
path naming them is translated (``Environment.path``); the policy and token-role names stay as
the files name them (the operator policy names the role), owned by this module while it runs.
Each policy gets a token holding ONLY that policy (no ``default``). Every row of the table is then checked twice:

* through ``sys/capabilities`` (asked by the root token about the policy's token: the token
  itself may not call ``sys/capabilities-self``, which only the ``default`` policy grants);
* by real requests made with the policy's token: GET (read), LIST (list), PATCH (patch),
  POST (create/update) and DELETE (delete) must each be answered 403 exactly when the
  capability is missing. Any other answer (200, 204, 400, 404, 405) means the ACL let it through.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from infra import policy_reach
from llm_vault.access_matrix import DENY, load_expectations, load_policies
from llm_vault.local.server import Server
from tests.infra.test_policy_reach import ACL_CASES
from tests.scope import Scope

EXPECTATIONS = load_expectations()
KV_MOUNT = EXPECTATIONS.kv_mount
OTHER_ENVIRONMENT_MOUNT = f"{KV_MOUNT}-prod"
READONLY_ROLE = "openai-llm-readonly"
SEEDED = ("api-keys", "models/gpt-4o", "teams/search")
ROWS = [
    pytest.param(policy, api_path, caps, id=f"{policy}:{api_path}")
    for policy, table in EXPECTATIONS.policies.items()
    for api_path, caps in table.items()
]


@dataclass
class Environment:
    scope: Scope
    tokens: dict[str, str]  # policy -> token holding only that policy

    @property
    def server(self) -> Server:
        return self.scope.server

    def path(self, api_path: str) -> str:
        """A table path as it is in this scope: the kv mounts carry the scope's prefix (on Vault)."""
        first, slash, rest = api_path.partition("/")
        return self.scope.name(first) + slash + rest if first in (KV_MOUNT, OTHER_ENVIRONMENT_MOUNT) else api_path

    def client(self) -> Any:
        return self.scope.client()

    def capabilities(self, token: str, api_path: str) -> list[str]:
        """POST sys/capabilities as root about ``token`` on the table path ``api_path``."""
        path = self.path(api_path)
        answer = self.client().write_data("sys/capabilities", data={"token": token, "paths": [path]})
        return list(answer["data"][path])

    def request(self, method: str, api_path: str, token: str, body: dict[str, Any] | None = None) -> Any:
        headers = self.scope.headers(token)
        if method == "PATCH":
            headers["Content-Type"] = "application/merge-patch+json"
        url = f"{self.server.address}/v1/{self.path(api_path)}"
        return requests.request(method, url, headers=headers, json=body, timeout=10)


@pytest.fixture(scope="module")
def environment(server: Server) -> Iterator[Environment]:
    scope = Scope(server, "policies")
    tokens: dict[str, str] = {}
    client = scope.client()
    policies = {**load_policies(scope.name(KV_MOUNT)), **EXPECTATIONS.generated}
    try:
        for mount in (KV_MOUNT, OTHER_ENVIRONMENT_MOUNT):
            client.sys.enable_secrets_engine("kv", path=scope.name(mount), options={"version": "2"})
        for name in SEEDED:
            client.secrets.kv.v2.create_or_update_secret(
                name, secret={"value": secrets.token_urlsafe(12)}, mount_point=scope.name(KV_MOUNT)
            )
        client.secrets.kv.v2.create_or_update_secret(
            "api-keys", secret={"value": secrets.token_urlsafe(12)}, mount_point=scope.name(OTHER_ENVIRONMENT_MOUNT)
        )
        # The policy files, and the database grant policies the program generates.
        for name, text in policies.items():
            client.sys.create_or_update_acl_policy(name, text)
        client.write_data(
            f"auth/token/roles/{READONLY_ROLE}",
            # token_explicit_max_ttl, not token_ttl: OpenBao's token roles silently ignore token_ttl.
            data={"allowed_policies": [READONLY_ROLE], "orphan": False, "token_explicit_max_ttl": 300},
        )
        for name in EXPECTATIONS.policies:
            tokens[name] = client.auth.token.create(policies=[name], no_default_policy=True, ttl="30m")["auth"][
                "client_token"
            ]
        yield Environment(scope, tokens)
    finally:
        if scope.namespace is None:
            # Root objects named as the files name them (a namespace's deletion removes them on OpenBao).
            for token in tokens.values():
                client.auth.token.revoke(token)
            for name in policies:
                client.sys.delete_acl_policy(name)
            client.adapter.delete(f"/v1/auth/token/roles/{READONLY_ROLE}")
        scope.close()


@pytest.mark.integration
def test_every_policy_token_holds_only_its_policy(environment: Environment) -> None:
    client = environment.client()
    for policy, token in environment.tokens.items():
        looked_up = client.auth.token.lookup(token)["data"]
        assert looked_up["policies"] == [policy]


@pytest.mark.integration
@pytest.mark.parametrize(("policy", "api_path", "expected"), ROWS)
def test_sys_capabilities_match_the_table(
    environment: Environment, policy: str, api_path: str, expected: tuple[str, ...]
) -> None:
    assert sorted(environment.capabilities(environment.tokens[policy], api_path)) == sorted(expected)


def _probes(api_path: str) -> list[tuple[str, set[str], dict[str, Any] | None]]:
    """(method, capabilities any one of which lets it through, body); DELETE last, it may remove data."""
    marker = secrets.token_hex(4)
    body = {"data": {"probe": marker}, "versions": [1], "custom_metadata": {"probe": marker}}
    reads: list[tuple[str, set[str], dict[str, Any] | None]] = [("GET", {"read"}, None), ("LIST", {"list"}, None)]
    writes: list[tuple[str, set[str], dict[str, Any] | None]] = [
        ("PATCH", {"patch"}, {"data": {"probe": marker}}),
        # The server asks for "create" or "update" depending on whether the object exists; a
        # row grants both or neither, or "update" alone on a path without an existence check
        # (kv delete/, undelete/, token create): either one is enough to get through.
        ("POST", {"create", "update"}, body),
    ]
    # A write to a path ending in "/" is refused (400) before the ACL is consulted: nothing to learn.
    return reads + ([] if api_path.endswith("/") else writes) + [("DELETE", {"delete"}, None)]


@pytest.mark.integration
@pytest.mark.parametrize(("policy", "api_path", "expected"), ROWS)
def test_real_requests_match_the_table(
    environment: Environment, policy: str, api_path: str, expected: tuple[str, ...]
) -> None:
    granted = set(expected) - {DENY}
    root = environment.client()
    outcomes = []
    for method, needs, body in _probes(api_path):
        response = environment.request(method, api_path, environment.tokens[policy], body)
        allowed = bool(needs & granted)
        ok = response.status_code != 403 if allowed else response.status_code == 403
        # Status and error text only: a response body may hold a secret value.
        errors = response.json().get("errors") if response.content else None
        outcomes.append((method, "allowed" if allowed else "denied", response.status_code, errors, ok))
        if response.content and (response.json().get("auth") or {}).get("accessor"):
            # A token minted through the readonly role: revoke it now, not at namespace deletion.
            root.auth.token.revoke_accessor(response.json()["auth"]["accessor"])
    assert all(ok for *_, ok in outcomes), [o[:4] for o in outcomes if not o[4]]


@pytest.mark.integration
def test_a_child_token_minted_through_the_role_carries_only_the_readonly_policy(
    environment: Environment,
) -> None:
    root = environment.client()
    for parent in ("openai-llm-operator",):  # model-runner may not: its children would read more than it
        response = environment.request("POST", f"auth/token/create/{READONLY_ROLE}", environment.tokens[parent], {})
        assert response.status_code == 200, response.json().get("errors")
        auth = response.json()["auth"]
        try:
            assert set(auth["policies"]) <= {READONLY_ROLE, "default"}
            assert READONLY_ROLE in auth["policies"]
            assert auth["lease_duration"] <= 300
            # Asking the role for another policy is refused.
            widened = environment.request(
                "POST",
                f"auth/token/create/{READONLY_ROLE}",
                environment.tokens[parent],
                {"policies": ["openai-llm-operator"]},
            )
            assert widened.status_code in (400, 403)
        finally:
            root.auth.token.revoke_accessor(auth["accessor"])


@pytest.mark.integration
@pytest.mark.parametrize(("policies", "path", "expected"), ACL_CASES)
def test_the_servers_acl_rules_are_the_ones_the_identity_view_assumes(
    environment: Environment, policies: list[str], path: str, expected: set[str]
) -> None:
    """``infra.policy_reach.capabilities_on`` (behind the access matrix's identity view) on Vault's
    priority rules, against the real server: a token holding exactly these policies."""
    client = environment.client()
    names = [environment.scope.name(f"acl-case-{secrets.token_hex(4)}") for _ in policies]
    for name, text in zip(names, policies, strict=True):
        client.sys.create_or_update_acl_policy(name, text)
    try:
        token = client.auth.token.create(policies=names or ["default"], no_default_policy=True, ttl="1m")
        answer = client.write_data("sys/capabilities", data={"token": token["auth"]["client_token"], "paths": [path]})
        assert set(answer["data"][path]) - {"deny"} == expected == policy_reach.capabilities_on(policies, path)
    finally:
        for name in names:
            client.sys.delete_acl_policy(name)

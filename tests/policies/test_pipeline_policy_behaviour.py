"""The pipeline's root-namespace policies do exactly what policies/pipeline/expectations.yaml says.

The policies and the table are rendered with throwaway names (environment and namespace
``pl-<hex>``, another stack ``ot-<hex>``), never ``dev``: other tests share the server. The
fixture builds what the rows are about: both namespaces with kv-v2 at ``kv_mount`` and a secret,
the approle ``model-runner``, the token role and a namespace policy; in the root namespace the
pipeline's own JWT backend and both policies, named ``<stem>-<environment>`` as the stack names
them. Each policy gets a ROOT-namespace token holding only that policy (no ``default``).

Every row is checked through ``sys/capabilities`` (asked by root about the token: the token may
not call ``sys/capabilities-self`` without ``default``); a representative set of rows (secret
values, secret-id minting, namespace deletion, unmounting, the pipeline's own trust, another
stack, root-namespace policies and tokens, plus allowed reads and writes) also by real requests:
GET, LIST, PATCH, POST and DELETE must each be answered 403 exactly when the capability is missing.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hcl2
import pytest
import requests

from llm_vault.access_matrix import (
    CAPABILITIES,
    DENY,
    PIPELINE_POLICY_DIR,
    load_pipeline_expectations,
    load_pipeline_policies,
    policy_files,
)
from llm_vault.local.server import Server

EXPECTATIONS = load_pipeline_expectations()
SUFFIX = secrets.token_hex(4)
ENVIRONMENT = f"pl-{SUFFIX}"
OTHER = {"environment": f"ot-{SUFFIX}", "namespace": f"ot-{SUFFIX}"}
# The stack under test: the file's values with every name another test could share made unique.
PLACEHOLDERS = {
    **EXPECTATIONS.placeholders,
    "environment": ENVIRONMENT,
    "namespace": ENVIRONMENT,
    "audit_path": f"llm-vault-{ENVIRONMENT}",
    "pipeline_path": f"github-pipeline-{ENVIRONMENT}",
}
VALUES = EXPECTATIONS.path_values(PLACEHOLDERS, OTHER)
TABLES = EXPECTATIONS.rendered(PLACEHOLDERS, OTHER).policies
ROWS = [
    pytest.param(policy, api_path, caps, id=f"{policy}:{template}")
    for policy, table in EXPECTATIONS.policies.items()
    for (template, caps), api_path in zip(table.items(), TABLES[policy], strict=True)
]
# Rows also checked by real requests (templates; each is in both tables). Every request is
# harmless when the table is right: allowed writes only reach the throwaway namespace or
# uniquely named root objects, and the dangerous ones (seal, another stack) are denied.
PROBED = (
    "${ns}${kv_mount}/data/api-keys",
    "${ns}auth/${approle_path}/role/model-runner/secret-id",
    "${ns}auth/${approle_path}/role/model-runner/custom-secret-id",
    "sys/namespaces/${namespace}",
    "${ns}sys/mounts/${kv_mount}",
    "${ns}${kv_mount}/metadata/",
    "${ns}sys/policies/acl/openai-llm-ci",
    "${ns}auth/token/create/openai-llm-readonly",
    "sys/audit",
    "sys/audit/${audit_path}",
    "sys/auth/${pipeline_path}",
    "auth/${pipeline_path}/role/llm-vault-apply",
    "sys/policies/acl/llm-vault-apply-${environment}",
    "sys/policies/acl/root",
    "sys/policies/acl/default",
    "auth/token/create",
    "sys/namespaces/${other_namespace}",
    "sys/audit/llm-vault-${other_environment}",
    "${other_ns}${kv_mount}/metadata/api-keys",
    "${other_ns}sys/policies/acl/openai-llm-ci",
)
PROBED_ROWS = [
    pytest.param(policy, TABLES[policy], template, id=f"{policy}:{template}")
    for policy in EXPECTATIONS.policies
    for template in PROBED
]


def _render(template: str) -> str:
    return string.Template(template).substitute(VALUES)


# --------------------------------------------------------------------------------------------------
# unit


def test_every_pipeline_policy_file_has_a_table_and_every_table_a_file() -> None:
    assert (
        set(policy_files(PIPELINE_POLICY_DIR))
        == set(EXPECTATIONS.policies)
        == {
            "llm-vault-preview",
            "llm-vault-apply",
        }
    )


@pytest.mark.parametrize("name", sorted(policy_files(PIPELINE_POLICY_DIR)))
def test_pipeline_policy_renders_and_parses(name: str) -> None:
    text = load_pipeline_policies(EXPECTATIONS.placeholders)[name]
    assert "$" not in text
    parsed = {key: value for key, value in hcl2.loads(text).items() if not key.startswith("__")}
    assert set(parsed) == {"path"}
    for block in parsed["path"]:
        for quoted_path, body in block.items():
            caps = [cap.strip('"') for cap in body["capabilities"]]
            assert caps and set(caps) <= CAPABILITIES, (quoted_path, caps)
            assert DENY not in caps or caps == [DENY], (quoted_path, caps)


def test_every_probed_row_is_in_both_tables() -> None:
    for table in EXPECTATIONS.policies.values():
        assert set(PROBED) <= set(table)


def test_the_throwaway_names_reach_every_row() -> None:
    # A path still naming "dev" or "staging" would test the shared server's objects, not ours.
    for table in TABLES.values():
        for api_path in table:
            assert "$" not in api_path
            assert not {"dev", "staging"} & set(api_path.replace("-", "/").split("/")), api_path


# --------------------------------------------------------------------------------------------------
# integration


@dataclass
class Stack:
    server: Server
    tokens: dict[str, str]  # policy stem -> root-namespace token holding only that policy

    def request(self, method: str, api_path: str, token: str, body: dict[str, Any] | None = None) -> Any:
        # No X-Vault-Namespace: the token and the policy live in the root namespace.
        headers = {"X-Vault-Token": token}
        if method == "PATCH":
            headers["Content-Type"] = "application/merge-patch+json"
        return requests.request(method, f"{self.server.address}/v1/{api_path}", headers=headers, json=body, timeout=10)


def _vault_name(stem: str) -> str:
    return f"{stem}-{PLACEHOLDERS['environment']}"  # as infra/config/ names root-namespace policies


@pytest.fixture(scope="module")
def stack(openbao: Server) -> Iterator[Stack]:
    root = openbao.client()
    kv_mount = PLACEHOLDERS["kv_mount"]
    created_namespaces: list[str] = []
    created_policies: list[str] = []
    accessors: list[str] = []
    pipeline_enabled = False
    try:
        for namespace in (PLACEHOLDERS["namespace"], OTHER["namespace"]):
            root.sys.create_namespace(namespace)
            created_namespaces.append(namespace)
            client = openbao.client(namespace=namespace)
            client.sys.enable_secrets_engine("kv", path=kv_mount, options={"version": "2"})
            client.secrets.kv.v2.create_or_update_secret(
                "api-keys", secret={"value": secrets.token_urlsafe(12)}, mount_point=kv_mount
            )
            client.sys.create_or_update_acl_policy(
                "openai-llm-ci", f'path "{kv_mount}/data/*" {{ capabilities = ["read"] }}'
            )
        mine = openbao.client(namespace=PLACEHOLDERS["namespace"])
        mine.sys.enable_auth_method("jwt", path=PLACEHOLDERS["jwt_path"])
        mine.sys.enable_auth_method("approle", path=PLACEHOLDERS["approle_path"])
        mine.write_data(f"auth/{PLACEHOLDERS['approle_path']}/role/model-runner", data={"token_ttl": "5m"})
        mine.write_data(
            "auth/token/roles/openai-llm-readonly",
            data={"allowed_policies": ["openai-llm-readonly"], "token_explicit_max_ttl": 300},
        )
        root.sys.enable_auth_method("jwt", path=PLACEHOLDERS["pipeline_path"])
        pipeline_enabled = True
        tokens = {}
        for stem, text in load_pipeline_policies(PLACEHOLDERS).items():
            root.sys.create_or_update_acl_policy(_vault_name(stem), text)
            created_policies.append(_vault_name(stem))
            auth = root.auth.token.create(policies=[_vault_name(stem)], no_default_policy=True, ttl="30m")["auth"]
            accessors.append(auth["accessor"])
            tokens[stem] = auth["client_token"]
        yield Stack(openbao, tokens)
    finally:
        for accessor in accessors:
            root.auth.token.revoke_accessor(accessor)
        for name in created_policies:
            root.sys.delete_acl_policy(name)
        if pipeline_enabled:
            root.sys.disable_auth_method(PLACEHOLDERS["pipeline_path"])
        # Deleting a namespace removes its mounts, roles and policies.
        for namespace in created_namespaces:
            root.sys.delete_namespace(namespace)
        # A probe that wrongly got through may have enabled this stack's audit device; not left behind.
        if f"{PLACEHOLDERS['audit_path']}/" in (root.sys.list_enabled_audit_devices().get("data") or {}):
            root.sys.disable_audit_device(PLACEHOLDERS["audit_path"])


@pytest.mark.integration
def test_every_pipeline_token_holds_only_its_policy_in_the_root_namespace(stack: Stack) -> None:
    root = stack.server.client()
    for stem, token in stack.tokens.items():
        looked_up = root.auth.token.lookup(token)["data"]
        assert looked_up["policies"] == [_vault_name(stem)]


@pytest.mark.integration
@pytest.mark.parametrize(("policy", "api_path", "expected"), ROWS)
def test_sys_capabilities_match_the_table(stack: Stack, policy: str, api_path: str, expected: tuple[str, ...]) -> None:
    answer = stack.server.client().write_data(
        "sys/capabilities", data={"token": stack.tokens[policy], "paths": [api_path]}
    )
    assert sorted(answer["data"][api_path]) == sorted(expected)


def _probes(api_path: str) -> list[tuple[str, set[str], dict[str, Any] | None]]:
    """(method, capabilities any one of which lets it through, body); DELETE last, it may remove data."""
    marker = secrets.token_hex(4)
    reads: list[tuple[str, set[str], dict[str, Any] | None]] = [("GET", {"read"}, None), ("LIST", {"list"}, None)]
    writes: list[tuple[str, set[str], dict[str, Any] | None]] = [
        ("PATCH", {"patch"}, {"custom_metadata": {"probe": marker}}),
        # The server asks for "create" or "update" depending on whether the object exists.
        # The body is deliberately incomplete (no type, no policy text): an allowed write is
        # refused with 400 after the ACL let it through, and creates nothing.
        ("POST", {"create", "update"}, {"custom_metadata": {"probe": marker}}),
    ]
    # A write to a path ending in "/" is refused (400) before the ACL is consulted: nothing to learn.
    return reads + ([] if api_path.endswith("/") else writes) + [("DELETE", {"delete"}, None)]


@pytest.mark.integration
@pytest.mark.parametrize(("policy", "table", "template"), PROBED_ROWS)
def test_real_requests_match_the_table(
    stack: Stack, policy: str, table: dict[str, tuple[str, ...]], template: str
) -> None:
    api_path = _render(template)
    granted = set(table[api_path]) - {DENY}
    root = stack.server.client()
    outcomes = []
    for method, needs, body in _probes(api_path):
        response = stack.request(method, api_path, stack.tokens[policy], body)
        allowed = bool(needs & granted)
        ok = response.status_code != 403 if allowed else response.status_code == 403
        # Status and error text only: a response body may hold a secret value.
        errors = response.json().get("errors") if response.content else None
        outcomes.append((method, "allowed" if allowed else "denied", response.status_code, errors, ok))
        if response.content and (response.json().get("auth") or {}).get("accessor"):
            root.auth.token.revoke_accessor(response.json()["auth"]["accessor"])  # minted by mistake: gone now
    assert all(ok for *_, ok in outcomes), [o[:4] for o in outcomes if not o[4]]

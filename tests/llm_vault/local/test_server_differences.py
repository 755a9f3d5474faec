"""Where OpenBao 2.7 and HashiCorp Vault 1.21 OSS behave differently, pinned on each server.

Each test runs on both servers (``server`` is parametrised) and asserts what THAT server does: a
difference is documented here and in the README's list, never skipped. When an upgrade changes
one of them, the test says which server moved.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import hvac.exceptions
import pytest
import requests

from llm_vault.local.server import Server, start_server
from tests.scope import PRODUCT_PARAMS, Scope

pytestmark = pytest.mark.integration


def test_namespaces_exist_on_openbao_only(server: Server) -> None:
    name = f"t-ns-{secrets.token_hex(4)}"
    root = server.client()
    if server.product == "vault":
        # Enterprise only: OSS has no route for sys/namespaces at all.
        with pytest.raises(hvac.exceptions.InvalidPath):
            root.sys.create_namespace(name)
        assert requests.get(f"{server.address}/v1/sys/namespaces", timeout=5).status_code in (403, 404)
        return
    root.sys.create_namespace(name)
    try:
        assert f"{name}/" in root.sys.list_namespaces()["data"]["keys"]
    finally:
        root.sys.delete_namespace(name)


def test_a_namespace_header_isolates_on_openbao_and_is_ignored_by_vault_oss(scope: Scope) -> None:
    """Vault OSS drops X-Vault-Namespace (http/handler_stubs_oss.go): a client pointed at a
    namespace reads and writes the root. On OpenBao an unknown namespace is refused."""
    server = scope.server
    mount = scope.name(f"kv-{secrets.token_hex(3)}")
    scope.client().sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    scope.client().secrets.kv.v2.create_or_update_secret("probe", secret={"v": "root"}, mount_point=mount)
    elsewhere = server.client(namespace=f"no-such-{secrets.token_hex(3)}")
    if server.has_namespaces:
        with pytest.raises(hvac.exceptions.VaultError):
            elsewhere.secrets.kv.v2.read_secret_version("probe", mount_point=mount, raise_on_deleted_version=True)
        return
    read = elsewhere.secrets.kv.v2.read_secret_version("probe", mount_point=mount, raise_on_deleted_version=True)
    assert read["data"]["data"] == {"v": "root"}


def test_service_tokens_start_with_hvs_on_vault_and_s_on_openbao(scope: Scope) -> None:
    token = scope.client().auth.token.create(policies=["default"], ttl="1m")["auth"]["client_token"]
    try:
        assert token.startswith("hvs." if scope.server.product == "vault" else "s."), token[:4]
    finally:
        scope.client().auth.token.revoke(token)


def test_token_roles_ignore_token_ttl_on_both_servers_and_honour_explicit_max_ttl(scope: Scope) -> None:
    """Not a difference, though issue #14 expected one: Vault 1.21.0 ignores a token role's
    token_ttl / token_max_ttl exactly like OpenBao 2.7.2 (neither stores them; the token gets the
    mount's 32-day default). Both cap with token_explicit_max_ttl, which is why the provider
    refuses token_ttl on a token role on either server (vault_provider/builtin/token.py)."""
    client = scope.client()
    ignored, capped = scope.name(f"ttl-{secrets.token_hex(3)}"), scope.name(f"cap-{secrets.token_hex(3)}")
    client.write_data(f"auth/token/roles/{ignored}", data={"allowed_policies": ["default"], "token_ttl": 300,
                                                             "token_max_ttl": 600})
    client.write_data(f"auth/token/roles/{capped}", data={"allowed_policies": ["default"],
                                                            "token_explicit_max_ttl": 600})
    stored = client.read(f"auth/token/roles/{ignored}")["data"]
    assert "token_ttl" not in stored and "token_max_ttl" not in stored, sorted(stored)
    tokens = [client.write_data(f"auth/token/create/{role}", data={})["auth"] for role in (ignored, capped)]
    try:
        assert [t["lease_duration"] for t in tokens] == [32 * 24 * 3600, 600], scope.server.label
    finally:
        for token in tokens:
            client.auth.token.revoke_accessor(token["accessor"])


@pytest.mark.parametrize("product", PRODUCT_PARAMS)
def test_api_created_audit_devices_need_a_server_switch_on_openbao_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, product: str
) -> None:
    """Without ``unsafe_allow_api_audit_creation`` OpenBao refuses PUT sys/audit/:path; Vault
    always allows it (the dev config of the harness sets the switch for OpenBao)."""
    plain = Server._config_text
    monkeypatch.setattr(
        Server, "_config_text", lambda self: plain(self).replace("unsafe_allow_api_audit_creation = true\n", "")
    )
    with start_server("dev", workdir=tmp_path, prefer="process", product=product) as server:
        assert "unsafe_allow_api_audit_creation" not in server.config_path.read_text()
        enable = lambda: server.client().sys.enable_audit_device(  # noqa: E731
            "file", path="probe", options={"file_path": str(tmp_path / "audit.log")}
        )
        if product == "openbao":
            with pytest.raises(hvac.exceptions.InvalidRequest, match="audit"):
                enable()
            assert server.client().sys.list_enabled_audit_devices()["data"] == {}
        else:
            enable()
            assert "probe/" in server.client().sys.list_enabled_audit_devices()["data"]

"""HashiCorp Vault too (OSS, no namespaces): the dev stack in the per-environment mount layout
(``namespace: ''``, ``openai-llm-dev``, ``jwt-dev``, ``approle-dev``) applied through the real
engine to a real Vault dev server built from its Go module, beside the OpenBao suite.

What differs from OpenBao and is checked here rather than skipped: no namespaces (the layout
keeps the environment apart by mount paths), tokens start with ``hvs.``, API-created audit
devices are allowed without a server switch (OpenBao needs ``unsafe_allow_api_audit_creation``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac.exceptions
import pytest

from llm_vault import toolchain
from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.server import Server, start_server
from llm_vault.local_job import vault_oss_layout
from llm_vault.undeclared import find_undeclared
from tests.e2e.harness import Deployment, change_counts, remember
from tests.e2e.identities import Caller, claims_for, jwt_login, sign

pytestmark = [pytest.mark.integration, pytest.mark.engine]



@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not toolchain.vault_bin().exists():
        pytest.fail(
            f"HashiCorp Vault {toolchain.VAULT_VERSION} is part of the toolchain but {toolchain.vault_bin()} is "
            "missing: run `make bootstrap` (it builds Vault from its Go module)"
        )
    server = start_server("dev", workdir=tmp_path_factory.mktemp("vault"), product="vault")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def applied(
    vault: Server, oidc_issuer: GitHubOidcIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    state = tmp_path_factory.mktemp("vault-state")
    deployment = Deployment(vault, oidc_issuer, state, extra_overrides={"dev": vault_oss_layout("dev")})
    first = deployment.up("dev")
    assert change_counts(first).get("create", 0) > 20
    yield deployment
    deployment.destroy_all()


def test_the_server_is_hashicorp_vault_at_the_pinned_version(vault: Server) -> None:
    health = vault.client().sys.read_health_status(method="GET")
    assert health["version"].startswith(toolchain.VAULT_VERSION), health["version"]
    assert vault.client().sys.read_health_status(method="GET")["initialized"] is True


def test_a_second_up_changes_nothing_and_drift_finds_nothing_undeclared(applied: Deployment) -> None:
    again = change_counts(applied.up("dev"))
    assert set(again) == {"same"}, again  # every object read back equal to its declaration
    record = applied.stacks["dev"]
    env = {"VAULT_ADDR": applied.server.address, "VAULT_TOKEN": applied.server.root_token}
    assert find_undeclared(record.settings, env) == []
    assert applied.preview("dev").has_changes is False


def _login(applied: Deployment, role: str, **claims: Any) -> Any:
    settings = applied.stacks["dev"].settings
    binding = next(b for b in settings.github.bindings if b.role == role)
    token = sign(applied.issuer, claims_for(applied.issuer, binding, **claims))
    return jwt_login(applied.server, None, settings.github.path, role, token)


def test_ci_logs_in_with_an_hvs_token_for_15_minutes_and_reads_only_this_environments_secrets(
    applied: Deployment,
) -> None:
    kv = applied.stacks["dev"].settings.kv.path
    value = {"openai_key": remember("secret value", "test-data-" + secrets.token_hex(8))}
    applied.root().secrets.kv.v2.create_or_update_secret("api-keys", secret=value, mount_point=kv)
    login = _login(applied, "github-actions")
    assert login.token.startswith("hvs.")  # Vault's token format (OpenBao's: "s.")
    assert login.lease_duration == 900
    ci = Caller(applied.server, login.token, None, "vault:dev:github-actions")
    assert ci.read_secret(kv, "api-keys") == value
    ci.denied("POST", f"{kv}/data/api-keys", {"data": {"openai_key": "x"}})
    ci.denied("GET", "sys/policies/acl/openai-llm-operator")
    pr = Caller(applied.server, _login(applied, "github-actions-pr").token, None, "vault:dev:github-actions-pr")
    pr.denied("GET", f"{kv}/data/api-keys")


def test_a_token_for_another_audience_is_refused(applied: Deployment) -> None:
    with pytest.raises(hvac.exceptions.VaultError):
        _login(applied, "github-actions", audience="https://vault.acme-ai.example/prod")


def test_the_api_created_audit_device_logs_requests_with_values_hmacd(applied: Deployment) -> None:
    settings = applied.stacks["dev"].settings
    devices = applied.root().sys.list_enabled_audit_devices()["data"]
    assert f"{settings.audit.path}/" in devices  # created through the API: Vault allows it as it is
    kv = settings.kv.path
    value = "test-data-" + secrets.token_hex(8)
    applied.root().secrets.kv.v2.create_or_update_secret("audited", secret={"k": value}, mount_point=kv)
    login = _login(applied, "github-actions")
    Caller(applied.server, login.token, None, "vault:dev:ci").read_secret(kv, "audited")
    text = Path(settings.audit.file_path).read_text()
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    target = f"{kv}/data/audited"
    reads = [
        e for e in entries
        if e.get("type") == "response" and e["request"]["path"] == target and e["request"]["operation"] == "read"
    ]
    assert reads, "the read was not audited"
    assert value not in text and login.token not in text  # values and tokens are HMAC'd
    assert all(str(e["response"]["data"]["data"]["k"]).startswith("hmac-sha256:") for e in reads if e.get("response"))

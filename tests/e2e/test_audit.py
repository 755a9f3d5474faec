"""Audit: the requests of the tests are in the audit log (path and namespace), in both audit
modes, and no secret value or token used in the session appears there in plaintext.

Requests are matched by the ``request_id`` the server returned for them, so a match is this
test's request and no other. Each test makes the traffic it looks for, so the module runs alone
and in any order; the provisioned fixture's teardown repeats the plaintext search over every value
the whole session handled. On Vault the stacks' devices are created through the API, as on
OpenBao (which needs ``unsafe_allow_api_audit_creation`` for it; Vault allows it as it is).
"""

from __future__ import annotations

import os
import secrets
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.server import DECLARED_AUDIT_DEVICE, Server
from llm_vault.stackfiles import STACKS

from .harness import SENSITIVE, Deployment, Seeded, audit_entries, leaks_in, remember
from .identities import Caller, github_login, operator_caller

pytestmark = [pytest.mark.integration, pytest.mark.engine]

KINDS_HANDLED = {"root token", "client token", "secret value", "jwt"}


def _by_request_id(path: Path) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in audit_entries(path):
        # (dev mode's own start-up requests, such as mounting secret/, carry no request id)
        if entry["request"].get("id"):
            found[entry["request"]["id"]].append(entry)
    return found


def _traffic(deployment: Deployment, stack: str) -> dict[str, tuple[str, str]]:
    """A CI login and a secret read in ``stack``: request id -> (namespace path, request path)."""
    record = deployment.stacks[stack]
    kv = record.settings.kv.path
    ns = f"{record.namespace}/" if record.namespace else ""  # root: the entry's namespace has no path
    login = github_login(deployment, stack)
    ci = Caller(deployment.server, login.token, record.namespace, f"{stack}:ci")
    read = ci.request("GET", f"{kv}/data/api-keys")
    ci.denied("POST", f"{kv}/data/api-keys", {"data": {"x": "y"}})  # denied requests are audited too
    return {
        login.request_id: (ns, f"auth/{record.settings.github.path}/login"),
        read["request_id"]: (ns, f"{kv}/data/api-keys"),
    }


def _assert_logged(log: Path, expected: dict[str, tuple[str, str]]) -> None:
    entries = _by_request_id(log)
    for request_id, (namespace, path) in expected.items():
        logged = entries.get(request_id, [])
        assert {e["type"] for e in logged} == {"request", "response"}, f"{path} in {namespace} is not in {log.name}"
        for entry in logged:
            assert entry["request"]["path"] == path
            assert entry["request"]["namespace"].get("path", "") == namespace  # root: no path


def _assert_denial_logged(log: Path, namespace: str, path: str) -> None:
    denied = [
        e
        for entries in _by_request_id(log).values()
        for e in entries
        if e["type"] == "response"
        and e["request"]["path"] == path
        and e["request"]["operation"] == "update"
        and e["request"]["namespace"].get("path", "") == namespace
        and "permission denied" in e.get("error", "")
    ]
    assert denied, f"the denied write to {path} in {namespace} is not in {log.name}"


def _assert_no_plaintext(deployment: Deployment, device: str, log: Path, value: str, token: str) -> None:
    text = log.read_text()
    leaks = leaks_in(text)
    assert not leaks, f"{log.name} holds values in plaintext (kind: count): {leaks}"
    # Hashed, not left out: the device's HMAC of a value and a token we used is in the log.
    root = deployment.root()
    for what, secret in (("secret value", value), ("client token", token)):
        digest = root.write_data(f"sys/audit-hash/{device}", data={"input": secret})["data"]["hash"]
        assert digest in text, f"the HMAC of a {what} we used is not in {log.name}"


def test_requests_are_in_every_audit_log_with_their_path_and_namespace(provisioned: Deployment, seeded: Seeded) -> None:
    expected: dict[str, tuple[str, str]] = {}
    for stack in STACKS:
        expected |= _traffic(provisioned, stack)
    for stack in STACKS:
        audit = provisioned.stacks[stack].settings.audit
        assert audit.mode == "api"
        # Every device of the server logs every request, whichever namespace it was made in.
        log = Path(audit.file_path)
        _assert_logged(log, expected)
        for other in STACKS:
            record = provisioned.stacks[other]
            ns = f"{record.namespace}/" if record.namespace else ""
            _assert_denial_logged(log, ns, f"{record.settings.kv.path}/data/api-keys")


def test_no_secret_value_or_token_is_in_any_audit_log_in_plaintext(provisioned: Deployment, seeded: Seeded) -> None:
    record = provisioned.stacks["dev"]
    kv = record.settings.kv.path
    operator = operator_caller(provisioned, "dev")
    value = remember("secret value", secrets.token_urlsafe(24))
    operator.request("POST", f"{kv}/data/e2e/audited", {"data": {"api_key": value}})
    ci = github_login(provisioned, "dev")
    Caller(provisioned.server, ci.token, record.namespace, "dev:ci").read_secret(kv, "e2e/audited")
    # Without these kinds the check below could not fail for them.
    assert set(SENSITIVE) >= KINDS_HANDLED

    for stack in STACKS:
        audit = provisioned.stacks[stack].settings.audit
        _assert_no_plaintext(provisioned, audit.path, Path(audit.file_path), value, ci.token)
    provisioned.root(record.namespace).secrets.kv.v2.delete_metadata_and_all_versions("e2e/audited", mount_point=kv)


def test_declared_audit_mode_declares_no_device_and_the_servers_device_logs(
    openbao_declared_audit: Server, oidc_issuer: GitHubOidcIssuer, tmp_path: Path
) -> None:
    server = openbao_declared_audit
    assert server.audit_log_path is not None
    saved = {key: os.environ.get(key) for key in ("VAULT_ADDR", "VAULT_TOKEN")}
    deployment = Deployment(
        server, oidc_issuer, tmp_path / "state", extra_overrides={"dev": {"llm-vault:audit": {"mode": "declared"}}}
    )
    try:
        deployment.up("dev")
        record = deployment.stacks["dev"]
        assert record.settings.audit.mode == "declared"
        devices = deployment.root().sys.list_enabled_audit_devices()["data"]
        assert set(devices) == {f"{DECLARED_AUDIT_DEVICE}/"}, "declared mode must not add an audit device"

        value = remember("secret value", secrets.token_urlsafe(24))
        deployment.root(record.namespace).secrets.kv.v2.create_or_update_secret(
            "api-keys", secret={"openai_key": value}, mount_point=record.settings.kv.path
        )
        expected = _traffic(deployment, "dev")
        _assert_logged(server.audit_log_path, expected)
        _assert_denial_logged(server.audit_log_path, f"{record.namespace}/", f"{record.settings.kv.path}/data/api-keys")
        token = github_login(deployment, "dev").token
        _assert_no_plaintext(deployment, DECLARED_AUDIT_DEVICE, server.audit_log_path, value, token)

        deployment.destroy_all()
        assert deployment.leftovers(["dev"]) == []
        # The server's own device is not ours to remove.
        assert set(deployment.root().sys.list_enabled_audit_devices()["data"]) == {f"{DECLARED_AUDIT_DEVICE}/"}
    finally:
        deployment.destroy_all()
        for key, saved_value in saved.items():
            if saved_value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = saved_value

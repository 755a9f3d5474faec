"""Attacks on what the pipeline can do and see, each tried for real and refused.

Every test is one attempt by one attacker of ``docs/security.md``: a pull-request author, the
holder of a pipeline token (real JWT logins to the stacks' pipeline roles, from the
GitHub-shaped issuer), someone who can write the state, someone editing a stack file, a
server that redirects. Each names the control that stops it; ``tried`` counts the attempt and
records it as succeeded when the attack got through. The run ends with
``attacks: N tried, 0 succeeded`` (``conftest.pytest_terminal_summary``).
"""

from __future__ import annotations

import base64
import http.server
import json
import pickle
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import hvac.exceptions
import pytest
from pulumi import automation as auto

from infra.config import ConfigError
from llm_vault import automation
from vault_provider.builtin import _client
from vault_secrets import VaultSecretManager
from vault_secrets.errors import VaultSecretsError

from .harness import Deployment, Seeded, remember
from .identities import COUNTS, claims_for, pipeline_caller, refused_login, sign

pytestmark = [pytest.mark.integration]


@contextmanager
def tried(name: str) -> Iterator[None]:
    """One attack attempt: an AssertionError inside means it got through."""
    COUNTS["attacks tried"] += 1
    try:
        yield
    except AssertionError:
        COUNTS["attacks succeeded"] += 1
        raise
    COUNTS.setdefault("attacks succeeded", 0)


# --------------------------------------------------------------------------------------------
# the holder of the apply token (a compromised or misused apply job)

DEFAULT_POLICY_SPELLINGS = ["default", "DEFAULT", "Default", "default%20"]


@pytest.mark.parametrize("spelling", DEFAULT_POLICY_SPELLINGS)
def test_apply_cannot_rewrite_the_default_policy_under_any_spelling(provisioned: Deployment, spelling: str) -> None:
    # Every token of the environment carries `default`: widening it would reach the model runner's.
    apply = pipeline_caller(provisioned, "dev", "llm-vault-apply")
    path = provisioned.stacks["dev"].from_root(f"sys/policies/acl/{spelling}")
    with tried(f"apply writes {path}"):
        apply.denied("PUT", path, {"policy": 'path "*" { capabilities = ["read"] }'})


# {ns}: the environment's namespace as a path prefix from the root ("prod/"; "" in the Vault OSS
# root layout, where {ci} and {token_role} carry the "prod-" instead); {namespace}: its name.
APPLY_DENIALS = [
    ("reads a secret value", "GET", "{ns}{kv}/data/api-keys", None),
    ("lists secret values' metadata delete", "DELETE", "{ns}{kv}/metadata/api-keys", None),
    ("mints a model-runner secret id", "POST", "{ns}auth/{approle}/role/{runner}/secret-id", {}),
    ("sets a custom secret id", "POST", "{ns}auth/{approle}/role/{runner}/custom-secret-id", {"secret_id": "x"}),
    ("reads the model runner's role id", "GET", "{ns}auth/{approle}/role/{runner}/role-id", None),
    ("deletes the namespace", "DELETE", "sys/namespaces/{namespace}", None),
    ("unmounts the kv store", "DELETE", "{ns}sys/mounts/{kv}", None),
    ("widens its own role", "POST", "auth/{pipeline}/role/llm-vault-apply", {"token_policies": ["root"]}),
    ("rewrites its own policy", "PUT", "sys/policies/acl/llm-vault-apply-{env}", {"policy": 'path "*" {}'}),
    ("writes another environment's policy", "PUT", "{other_ns}sys/policies/acl/{other_ci}", {"policy": 'path "x" {}'}),
    (
        "enables a socket audit device elsewhere",
        "PUT",
        "sys/audit/exfil",
        {"type": "socket", "options": {"address": "127.0.0.1:9"}},
    ),
    ("creates a token from the read-only token role", "POST", "{ns}auth/token/create/{token_role}", {}),
    ("mounts a new secrets engine", "POST", "{ns}sys/mounts/exfil", {"type": "kv"}),
    (
        "adds a JWT role bound to itself",
        "POST",
        "{ns}auth/{jwt}/role/ci-backdoor",
        {
            "role_type": "jwt",
            "bound_subject": "repo:acme-ai/llm-vault:environment:prod",
            "token_policies": ["openai-llm-operator"],
        },
    ),
    (
        "adds an AppRole role without secret id",
        "POST",
        "{ns}auth/{approle}/role/backdoor",
        {"bind_secret_id": False, "token_policies": ["openai-llm-operator"]},
    ),
    ("adds a policy to its namespace", "PUT", "{ns}sys/policies/acl/backdoor", {"policy": 'path "*" {}'}),
    ("adds a policy named like its own", "PUT", "{ns}sys/policies/acl/{ci}-2", {"policy": 'path "*" {}'}),
    (
        "adds a token role with a policy glob",
        "POST",
        "{ns}auth/token/roles/backdoor",
        {"allowed_policies_glob": ["*"]},
    ),
    ("creates a root-namespace policy", "PUT", "sys/policies/acl/backdoor", {"policy": 'path "*" {}'}),
]


def _names(deployment: Deployment) -> dict[str, str]:
    """What the attack tables name, for prod (the target) and staging (another environment)."""
    prod, staging = deployment.stacks["prod"], deployment.stacks["staging"]
    s = prod.settings
    assert s.pipeline is not None
    return {
        "ns": prod.from_root(""),
        "namespace": s.namespace or "",
        "kv": s.kv.path,
        "jwt": s.github.path,
        "approle": s.model_runner.path,
        "runner": s.model_runner.role,
        "pipeline": s.pipeline.path,
        "env": s.environment,
        "audit": s.audit.path,
        "ci": prod.policy("openai-llm-ci"),
        "token_role": s.short_lived_tokens.role,
        "other_ns": staging.from_root(""),
        "other_ci": staging.policy("openai-llm-ci"),
    }


@pytest.mark.parametrize(("what", "method", "path", "body"), APPLY_DENIALS, ids=[a[0] for a in APPLY_DENIALS])
def test_the_apply_token_is_refused(
    provisioned: Deployment, seeded: Seeded, what: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    filled = path.format(**_names(provisioned))
    apply = pipeline_caller(provisioned, "prod", "llm-vault-apply")
    with tried(f"apply token {what}"):
        apply.denied(method, filled, body)


@pytest.mark.parametrize(
    ("what", "body"),
    [
        ("turns off the secret-id requirement", {"bind_secret_id": False}),
        ("turns it off spelled as a string", {"bind_secret_id": "false"}),
        ("chooses the role id", {"role_id": "chosen-by-the-apply-job"}),
    ],
)
def test_the_apply_token_cannot_make_the_model_runner_log_in_without_a_secret_id(
    provisioned: Deployment, seeded: Seeded, what: str, body: dict[str, Any]
) -> None:
    # The apply token manages the declared AppRole role (exact name) but may not mint secret-ids:
    # a role that needs none, or whose role-id it picks, would be a login as the model runner.
    record = provisioned.stacks["prod"]
    s = record.settings
    runner = s.model_runner
    role = record.from_root(f"auth/{runner.path}/role/{runner.role}")
    before = provisioned.root(s.namespace).read(f"auth/{runner.path}/role/{runner.role}")["data"]
    apply = pipeline_caller(provisioned, "prod", "llm-vault-apply")
    with tried(f"apply token rewrites the model runner's AppRole role: {what}"):
        apply.denied("POST", role, {**body, "token_policies": list(runner.policies)})
        after = provisioned.root(s.namespace).read(f"auth/{runner.path}/role/{runner.role}")["data"]
        assert after["bind_secret_id"] is True and after == before
    # The declared settings still go through (what an apply writes is not caught by the guard).
    apply.request("POST", role, {"bind_secret_id": True, "token_policies": list(runner.policies),
                                 "secret_id_ttl": runner.secret_id_ttl_seconds})


# --------------------------------------------------------------------------------------------
# a pull-request author: the preview token and the other pipeline roles

PREVIEW_DENIALS = [
    ("reads a secret value", "GET", "{ns}{kv}/data/api-keys", None),
    ("rewrites a policy", "PUT", "{ns}sys/policies/acl/{ci}", {"policy": 'path "*" {}'}),
    (
        "tunes the kv mount to log values",
        "POST",
        "{ns}sys/mounts/{kv}/tune",
        {"audit_non_hmac_response_keys": ["openai_key"]},
    ),
    ("adds a JWT role", "POST", "{ns}auth/{jwt}/role/ci-backdoor", {"role_type": "jwt"}),
    ("changes kv config", "POST", "{ns}{kv}/config", {"max_versions": 1}),
    ("disables the audit device", "DELETE", "sys/audit/{audit}", None),
    ("reads another environment's policy", "GET", "{other_ns}sys/policies/acl/{other_ci}", None),
]


@pytest.mark.parametrize(("what", "method", "path", "body"), PREVIEW_DENIALS, ids=[a[0] for a in PREVIEW_DENIALS])
def test_the_preview_token_is_refused(
    provisioned: Deployment, seeded: Seeded, what: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    filled = path.format(**_names(provisioned))
    preview = pipeline_caller(provisioned, "prod", "llm-vault-preview")
    with tried(f"preview token {what}"):
        preview.denied(method, filled, body)


@pytest.mark.parametrize("role", ["llm-vault-apply", "llm-vault-drift"])
def test_a_pull_request_token_cannot_log_in_as_apply_or_drift(provisioned: Deployment, role: str) -> None:
    pipeline = provisioned.stacks["prod"].settings.pipeline
    assert pipeline is not None
    preview = next(b for b in pipeline.bindings if b.role == "llm-vault-preview")
    jwt = sign(provisioned.issuer, claims_for(provisioned.issuer, preview))
    with tried(f"pull-request JWT logs in as {role}"):
        refused_login(provisioned.server, None, pipeline.path, role, jwt)


# --------------------------------------------------------------------------------------------
# someone who can write the state: a pickle in `__provider` runs nothing


class WritesAMarker:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


@pytest.mark.engine
@pytest.mark.parametrize("where", ["outputs", "type"])
def test_a_tampered_state_runs_no_code_in_the_next_apply(provisioned: Deployment, tmp_path: Path, where: str) -> None:
    _target, _settings, stack = provisioned.open("dev")
    deployment = stack.export_stack()
    state = deployment.deployment or {}
    original = [dict(r) for r in state["resources"]]
    marker = tmp_path / "code-ran"
    blob = base64.b64encode(pickle.dumps(WritesAMarker(marker))).decode()
    # A resource nothing else refers to: renaming its type (below) must leave the state consistent.
    referred = json.dumps([{k: v for k, v in r.items() if k != "urn"} for r in state["resources"]])
    victim = next(
        r
        for r in state["resources"]
        if r["type"].startswith("pulumi-python:dynamic/vault:") and r["urn"] not in referred
    )
    victim["outputs"] = {**victim["outputs"], "__provider": blob}
    victim["inputs"] = {**victim["inputs"], "__provider": blob}
    if where == "type":  # a resource type we do not ship, whose provider Pulumi's own host would unpickle
        victim["urn"] = victim["urn"].replace(victim["type"], "pulumi-python:dynamic:Resource")
        victim["type"] = "pulumi-python:dynamic:Resource"
    stack.import_stack(auto.Deployment(version=deployment.version, deployment=state))
    try:
        with tried(f"state with a code-running __provider ({where})"):
            with pytest.raises(auto.CommandError) as failed:
                automation.refresh_then_up(stack)
            assert not marker.exists(), "the provider host ran code from the state"
        message = str(failed.value)
        assert victim["urn"].split("::")[-1] in message
        assert "state was edited" in message or "not one this project ships" in message, message[-2000:]
    finally:
        state["resources"] = original
        stack.import_stack(auto.Deployment(version=deployment.version, deployment=state))
    assert not marker.exists()


# --------------------------------------------------------------------------------------------
# someone editing a stack file


STACK_FILE_EDITS = [
    ("points the apply at another server", {"vault:address": "http://127.0.0.2:8200"}, "vault:address"),
    ("turns TLS verification off on prod", {"vault:skipTlsVerify": True}, "vault:skipTlsVerify"),
    ("names its own CA on prod", {"vault:caCertFile": "/etc/evil-ca.pem"}, "vault:caCertFile"),
    ("puts a token in the stack file", {"vault:token": "hvs.not-a-real-token"}, "vault:token"),
    ("asks the audit device for raw values", {"llm-vault:audit": {"logRaw": True}}, "llm-vault:audit.logRaw"),
    ("sets an audit device type", {"llm-vault:audit": {"type": "socket"}}, "llm-vault:audit.type"),
]


@pytest.mark.parametrize(("what", "edit", "key"), STACK_FILE_EDITS, ids=[e[0] for e in STACK_FILE_EDITS])
def test_a_stack_file_edit_is_refused_before_the_engine_runs(
    provisioned: Deployment, what: str, edit: dict[str, Any], key: str
) -> None:
    with tried(f"stack file {what}"):
        with pytest.raises((SystemExit, ConfigError)) as refused:
            provisioned.open("prod", edit)
        assert key in str(refused.value)


# --------------------------------------------------------------------------------------------
# a server (or anything in the path) that redirects the token elsewhere


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []
    location = ""

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        if self.location:
            self.send_response(307)
            self.send_header("Location", self.location + self.path)
            self.end_headers()
            return
        type(self).seen.append(dict(self.headers))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"data": {}}')

    do_GET = do_POST = do_PUT = _answer


@contextmanager
def _server(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def _redirect_to_elsewhere() -> Iterator[tuple[str, list[dict[str, str]]]]:
    sink = type("Sink", (_Recorder,), {"seen": [], "location": ""})
    with _server(sink) as elsewhere:
        # "localhost" is the same machine under another name: to requests, another host.
        redirector = type(
            "Redirector", (_Recorder,), {"seen": [], "location": elsewhere.replace("127.0.0.1", "localhost")}
        )
        with _server(redirector) as address:
            yield address, sink.seen


def test_the_client_does_not_follow_a_redirect_to_another_host() -> None:
    token = remember("client token", "hvs.attack-test-token")
    with _redirect_to_elsewhere() as (address, seen), tried("redirect carries the client's token elsewhere"):
        with pytest.raises(VaultSecretsError) as failed:
            VaultSecretManager(vault_addr=address, vault_token=token, retries=0)
        assert seen == [], "the token reached the other host"
        assert token not in repr(failed.value.__cause__.__dict__ if failed.value.__cause__ else "")


def test_the_provider_does_not_follow_a_redirect_to_another_host(monkeypatch: pytest.MonkeyPatch) -> None:
    token = remember("client token", "hvs.attack-test-token-2")
    with _redirect_to_elsewhere() as (address, seen):
        monkeypatch.setenv("VAULT_ADDR", address)
        monkeypatch.setenv("VAULT_TOKEN", token)
        api = _client.Api(_client.Where("Policy", "x", None), None)
        with tried("redirect carries the apply token elsewhere"):
            with pytest.raises(_client.VaultObjectError) as failed:
                api.read("sys/policies/acl/x")
            assert seen == [], "the token reached the other host"
            cause = failed.value.cause
            request = getattr(cause, "request", None)
            assert token not in str(getattr(request, "headers", ""))


def test_no_token_survives_in_a_failed_request(openbao_closed_port: str) -> None:
    token = remember("client token", "hvs.attack-test-token-3")
    api_env = {"VAULT_ADDR": openbao_closed_port, "VAULT_TOKEN": token}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in api_env.items():
            mp.setenv(k, v)
        mp.setattr(_client, "RETRY_DELAYS_SECONDS", ())
        api = _client.Api(_client.Where("Policy", "x", None), None)
        with tried("token read back from an exception's request"):
            with pytest.raises(_client.VaultObjectError) as failed:
                api.read("sys/policies/acl/x")
            request = getattr(failed.value.cause, "request", None)
            assert token not in str(getattr(request, "headers", {})), "the exception keeps the token"


@pytest.fixture
def openbao_closed_port() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_hvac_errors_from_the_server_are_403s_not_hidden(provisioned: Deployment) -> None:
    # Guard against a vacuous suite: a denial must be a 403 from the real server.
    apply = pipeline_caller(provisioned, "dev", "llm-vault-apply")
    dev = provisioned.stacks["dev"]
    with pytest.raises(hvac.exceptions.Forbidden):
        apply.request("GET", dev.from_root(f"{dev.settings.kv.path}/data/api-keys"))


# --------------------------------------------------------------------------------------------
# someone with a server token changing things by hand: drift sees it


@pytest.mark.engine
def test_drift_reports_a_leaking_tune_and_a_backdoor_role_and_up_repairs_the_tune(provisioned: Deployment) -> None:
    from llm_vault.cli import preview_with_undeclared

    record = provisioned.stacks["dev"]
    s = record.settings
    root = provisioned.root(record.namespace)
    root.write_data(f"sys/mounts/{s.kv.path}/tune", data={"audit_non_hmac_response_keys": ["openai_key"]})
    backdoor = f"auth/{s.github.path}/role/ci-backdoor"
    root.write_data(
        backdoor,
        data={
            "role_type": "jwt",
            "user_claim": "sub",
            "bound_audiences": ["https://github.com/evil"],
            "bound_subject": "repo:evil/repo:ref:refs/heads/main",
            "token_policies": ["openai-llm-operator"],
        },
    )
    try:
        with tried("a tuned mount and a backdoor role pass drift unseen"):
            report, differs = preview_with_undeclared(provisioned.target("dev"))
            assert differs, "drift would exit 0"
            assert "audit_non_hmac_response_keys" in report and "openai_key" in report
            assert "ci-backdoor" in report and "not declared" in report
        provisioned.up("dev")
        tune = root.read(f"sys/mounts/{s.kv.path}/tune")["data"]
        assert not tune.get("audit_non_hmac_response_keys"), "up did not repair the mount"
        assert root.read(backdoor) is not None, "up must not delete an undeclared role silently"
    finally:
        root.delete(backdoor)
        root.write_data(f"sys/mounts/{s.kv.path}/tune", data={"audit_non_hmac_response_keys": []})

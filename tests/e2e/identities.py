"""Who calls the server in the end-to-end tests: GitHub Actions jobs (JWTs from the local
issuer), operators, read-only children and the model runner, plus the counters the session
summary prints (how many tokens were tried and accepted, how many denials were checked).
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

import hvac
import hvac.exceptions
import jwt as pyjwt

from infra.config import OidcBinding
from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.server import Server
from tests.session_report import shared_counter

from .harness import Deployment, remember

# "tokens tried", "tokens accepted", "denials checked", ... (summed over the pytest-xdist workers)
COUNTS: Counter[str] = shared_counter("e2e counts")


def claims_for(issuer: GitHubOidcIssuer, binding: OidcBinding, /, **overrides: Any) -> dict[str, Any]:
    """The claim set GitHub would send to the job this binding trusts; ``overrides`` are
    ``GitHubOidcIssuer.claims`` keywords (the near misses change exactly one thing)."""
    kw: dict[str, Any] = {
        "repository": binding.repository,
        "repository_id": binding.repository_id,
        "repository_owner_id": binding.owner_id,
        "audience": binding.audience,
        "immutable_subject": binding.immutable_subject,
        "runner_environment": binding.runner_environment or "github-hosted",
    }
    if binding.kind == "ref":
        kw["ref"] = binding.value
    elif binding.kind == "tag":
        kw["ref"] = f"refs/tags/{binding.value}"
    elif binding.kind == "environment":
        kw["environment"] = binding.value
    else:
        kw["pull_request"] = True
    if binding.job_workflow_ref:
        # "<owner>/<repo>/.github/workflows/<file>@<ref>": the issuer builds it from the same parts.
        path, _, ref = binding.job_workflow_ref.partition("@")
        kw["workflow_file"] = path.rsplit("/", 1)[-1]
        kw["ref"] = ref
    # The first trigger the role accepts (push, schedule, pull_request...).
    events = binding.bound_claims["event_name"]
    kw["event_name"] = events[0] if isinstance(events, list) else events
    kw.update(overrides)
    return issuer.claims(**kw)


def sign(issuer: GitHubOidcIssuer, claims: dict[str, Any], *, how: str = "published") -> str:
    """A JWT for ``claims``: signed with the published key, an unpublished one, not at all
    ("none"), or signed and then given another payload ("tampered")."""
    if how == "none":
        token = pyjwt.encode(claims, "", algorithm="none")
    elif how == "tampered":
        signed = issuer.sign(claims)
        header, _, signature = signed.split(".")
        forged = {**claims, "repository_id": "1"}  # what an attacker would like to change
        payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
        token = f"{header}.{payload}.{signature}"
    else:
        token = issuer.sign(claims, sign_with=how)
    return remember("jwt", token)


@dataclass(frozen=True)
class Login:
    """What a JWT login returned (never the token in repr: it is a secret)."""

    token: str
    policies: tuple[str, ...]
    lease_duration: int
    renewable: bool
    request_id: str = ""  # names the login in the audit log

    def __repr__(self) -> str:
        return f"Login(policies={self.policies}, lease_duration={self.lease_duration})"


def jwt_login(server: Server, namespace: str | None, mount: str, role: str, token: str) -> Login:
    """POST /v1/auth/:mount/login in ``namespace``; raises hvac's error when refused."""
    COUNTS["tokens tried"] += 1
    # token="": hvac would otherwise send $VAULT_TOKEN (the engine run exports the root token).
    client = hvac.Client(url=server.address, token="", namespace=namespace)
    response = client.adapter.post(f"/v1/auth/{mount}/login", json={"role": role, "jwt": token})
    COUNTS["tokens accepted"] += 1
    auth = response["auth"]
    return Login(
        token=remember("client token", auth["client_token"]),
        policies=tuple(sorted(auth["token_policies"])),
        lease_duration=int(auth["lease_duration"]),
        renewable=bool(auth["renewable"]),
        request_id=str(response.get("request_id", "")),
    )


def refused_login(server: Server, namespace: str | None, mount: str, role: str, token: str) -> str:
    """The server's reason for refusing the login (AssertionError when it was accepted)."""
    try:
        login = jwt_login(server, namespace, mount, role, token)
    except hvac.exceptions.VaultError as exc:
        COUNTS["near misses refused"] += 1
        return str(exc)
    COUNTS["near misses accepted"] += 1
    # Revoke at once: an accepted near miss must not leave a usable token behind.
    hvac.Client(url=server.address, token=login.token, namespace=namespace).auth.token.revoke_self()
    raise AssertionError(f"login to {mount}/{role} in {namespace or 'root'} was ACCEPTED ({login!r})")


class Caller:
    """Requests with one token in one namespace; each ``denied`` check is counted."""

    def __init__(self, server: Server, token: str, namespace: str | None, who: str) -> None:
        self.client = hvac.Client(url=server.address, token=remember("client token", token), namespace=namespace)
        self.namespace = namespace
        self.who = who

    def __repr__(self) -> str:
        return f"Caller({self.who!r} in {self.namespace or 'root'})"

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.adapter.request(method, f"/v1/{path}", json=body)

    def read_secret(self, mount: str, name: str) -> dict[str, Any]:
        return dict(self.request("GET", f"{mount}/data/{name}")["data"]["data"])

    def denied(self, method: str, path: str, body: dict[str, Any] | None = None) -> None:
        """Assert the server answers 403 (an ACL denial, not a 404 or a 400 that hides one)."""
        COUNTS["denials checked"] += 1
        try:
            self.request(method, path, body)
        except hvac.exceptions.Forbidden:
            return
        except hvac.exceptions.VaultError as exc:
            raise AssertionError(f"{self!r}: {method} {path} answered {type(exc).__name__}, not 403") from None
        raise AssertionError(f"{self!r}: {method} {path} was ALLOWED")


def github_login(deployment: Deployment, stack: str, role: str = "github-actions") -> Login:
    """A real JWT login as the stack's binding ``role`` (in its namespace)."""
    record = deployment.stacks[stack]
    binding = next(b for b in record.settings.github.bindings if b.role == role)
    token = sign(deployment.issuer, claims_for(deployment.issuer, binding))
    return jwt_login(deployment.server, record.namespace, record.settings.github.path, role, token)


def github_caller(deployment: Deployment, stack: str, role: str = "github-actions") -> Caller:
    login = github_login(deployment, stack, role)
    return Caller(deployment.server, login.token, deployment.stacks[stack].namespace, f"{stack}:{role}")


def pipeline_caller(deployment: Deployment, stack: str, role: str) -> Caller:
    """A real JWT login as one of the stack's pipeline roles (root namespace)."""
    pipeline = deployment.stacks[stack].settings.pipeline
    assert pipeline is not None, f"stack {stack} declares no pipeline trust"
    binding = next(b for b in pipeline.bindings if b.role == role)
    token = sign(deployment.issuer, claims_for(deployment.issuer, binding))
    login = jwt_login(deployment.server, None, pipeline.path, role, token)
    return Caller(deployment.server, login.token, None, f"{stack}:pipeline:{role}")


def operator_caller(deployment: Deployment, stack: str) -> Caller:
    """A token created by root in the stack's namespace with only openai-llm-operator."""
    record = deployment.stacks[stack]
    created = deployment.root(record.namespace).auth.token.create(
        policies=[record.policy("openai-llm-operator")], no_default_policy=True, ttl="15m"
    )
    return Caller(deployment.server, created["auth"]["client_token"], record.namespace, f"{stack}:operator")


def model_runner_caller(deployment: Deployment, stack: str) -> tuple[Caller, dict[str, Any]]:
    """An AppRole login as the model runner, with a role-id and secret-id fetched by root."""
    record = deployment.stacks[stack]
    runner = record.settings.model_runner
    root = deployment.root(record.namespace)
    base = f"auth/{runner.path}/role/{runner.role}"
    role_id = remember("role id", root.read(f"{base}/role-id")["data"]["role_id"])
    secret_id = remember("secret id", root.write_data(f"{base}/secret-id")["data"]["secret_id"])
    COUNTS["approle logins"] += 1
    anonymous = hvac.Client(url=deployment.server.address, token="", namespace=record.namespace)
    auth = anonymous.adapter.post(f"/v1/auth/{runner.path}/login", json={"role_id": role_id, "secret_id": secret_id})
    return Caller(deployment.server, auth["auth"]["client_token"], record.namespace, f"{stack}:model-runner"), auth[
        "auth"
    ]

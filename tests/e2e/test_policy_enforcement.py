"""The policies as the applied stacks enforce them, with real tokens of each kind of holder:
a CI job (JWT login), an operator, a read-only child from the token role, the model runner
(AppRole). Every denial is a real request answered 403.
"""

from __future__ import annotations

import dataclasses
import secrets
import time

import hvac.exceptions
import pytest

from llm_vault.stackfiles import STACKS

from .harness import Deployment, EnvStack, Seeded, remember, same_secret
from .identities import (
    COUNTS,
    Caller,
    claims_for,
    github_caller,
    jwt_login,
    model_runner_caller,
    operator_caller,
    refused_login,
    sign,
)

pytestmark = [pytest.mark.integration, pytest.mark.engine]

# Long enough to use it a few times, short enough to outlive within the test.
CHILD_TTL = "3s"
EXPIRY_WAIT_SECONDS = 60  # a bound on waiting, not an assertion about timing


def _other(stack: str) -> str:
    return STACKS[(STACKS.index(stack) + 1) % len(STACKS)]


def _no_token_minting(caller: Caller) -> None:
    caller.denied("POST", "auth/token/create", {"policies": ["default"]})
    caller.denied("POST", "auth/token/create-orphan", {})
    caller.denied("POST", "auth/token/create/some-other-role", {})


def _no_server_changes(caller: Caller, record: EnvStack) -> None:
    kv, jwt = record.settings.kv.path, record.settings.github.path
    caller.denied("GET", f"sys/policies/acl/{record.policy('openai-llm-ci')}")
    caller.denied("PUT", "sys/policies/acl/e2e-escalation", {"policy": 'path "*" { capabilities = ["sudo"] }'})
    caller.denied("GET", "sys/mounts")
    caller.denied("POST", "sys/mounts/e2e-other", {"type": "kv"})
    caller.denied("POST", f"sys/mounts/{kv}/tune", {"max_lease_ttl": "1h"})
    caller.denied("GET", "sys/auth")
    caller.denied("POST", f"auth/{jwt}/role/github-actions", {"bound_subject": "repo:evil/x:ref:refs/heads/main"})
    caller.denied(
        "POST",
        f"auth/token/roles/{record.settings.short_lived_tokens.role}",
        {"allowed_policies": [record.policy("openai-llm-operator")]},
    )
    caller.denied("GET", f"{kv}/config")
    caller.denied("POST", f"{kv}/config", {"max_versions": 1})


def _not_in_other_environment(deployment: Deployment, token: str, stack: str) -> None:
    other = deployment.stacks[_other(stack)]
    kv = other.settings.kv.path
    # With the other namespace in the header (root layout: the one namespace), and as a path from the root.
    there = Caller(deployment.server, token, other.namespace, f"{stack} token in {other.namespace or 'root'}")
    there.denied("GET", f"{kv}/data/api-keys")
    from_root = Caller(deployment.server, token, None, f"{stack} token in root")
    from_root.denied("GET", other.from_root(f"{kv}/data/api-keys"))


@pytest.mark.parametrize("stack", STACKS)
def test_ci_reads_and_lists_its_environments_secrets_and_nothing_else(
    provisioned: Deployment, seeded: Seeded, stack: str
) -> None:
    kv = provisioned.stacks[stack].settings.kv.path
    ci = github_caller(provisioned, stack)
    root = provisioned.root(provisioned.stacks[stack].namespace)
    version_before = root.secrets.kv.v2.read_secret_metadata("api-keys", mount_point=kv)["data"]["current_version"]

    for name in ("api-keys", "models/gpt-4o", "teams/search"):
        ok = same_secret(ci.read_secret(kv, name), seeded.of(stack, name))
        assert ok, f"CI read something else than the seeded {name}"
    listed = ci.request("LIST", f"{kv}/metadata/")["data"]["keys"]
    assert {"api-keys", "models/", "teams/"} <= set(listed)

    body = {"data": {"openai_key": secrets.token_urlsafe(8)}, "options": {"cas": version_before}}
    ci.denied("POST", f"{kv}/data/api-keys", body)
    ci.denied("DELETE", f"{kv}/data/api-keys")
    ci.denied("POST", f"{kv}/delete/api-keys", {"versions": [1]})
    ci.denied("POST", f"{kv}/undelete/api-keys", {"versions": [1]})
    ci.denied("POST", f"{kv}/destroy/api-keys", {"versions": [1]})
    ci.denied("GET", f"{kv}/metadata/api-keys")  # version history and custom metadata: not CI's business
    ci.denied("POST", f"{kv}/metadata/api-keys", {"max_versions": 1})
    ci.denied("DELETE", f"{kv}/metadata/api-keys")
    _no_token_minting(ci)
    ci.denied("POST", f"auth/token/create/{provisioned.stacks[stack].settings.short_lived_tokens.role}", {})
    _no_server_changes(ci, provisioned.stacks[stack])
    _not_in_other_environment(provisioned, ci.client.token, stack)

    version_after = root.secrets.kv.v2.read_secret_metadata("api-keys", mount_point=kv)["data"]["current_version"]
    assert version_after == version_before, "a denied write still made a new version"


def test_pull_request_token_reads_only_dev_fixtures(provisioned: Deployment, seeded: Seeded) -> None:
    kv = provisioned.stacks["dev"].settings.kv.path
    pr = github_caller(provisioned, "dev", "github-actions-pr")
    ok = same_secret(pr.read_secret(kv, "fixtures/eval-set"), seeded.of("dev", "fixtures/eval-set"))
    assert ok
    # Anyone who can push a branch writes the pull request's workflow: no real credential for them.
    for name in ("api-keys", "models/gpt-4o", "teams/search"):
        pr.denied("GET", f"{kv}/data/{name}")
    pr.denied("POST", f"{kv}/data/fixtures/eval-set", {"data": {"x": "y"}})
    pr.denied("DELETE", f"{kv}/data/api-keys")
    pr.denied("LIST", f"{kv}/metadata/")
    _no_token_minting(pr)


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_a_pull_requests_own_workflow_gets_no_secret_of_a_protected_environment(
    provisioned: Deployment, stack: str
) -> None:
    """The attacker's token: a pull request's run of a workflow file the pull request rewrote
    (job_workflow_ref ...@refs/pull/N/merge), with every audience it could ask GitHub for."""
    record = provisioned.stacks[stack]
    settings = record.settings
    assert settings.pipeline is not None
    pr_claims = dict(pull_request=True, ref="refs/pull/7/merge", workflow_file="evil.yml")
    trusts = ((settings.github, record.namespace), (settings.pipeline, None))
    accepted = []
    for trust, namespace in trusts:
        for b in trust.bindings:
            template = dataclasses.replace(b, kind="pull_request", value=None, job_workflow_ref=None)
            claims = claims_for(provisioned.issuer, template, **pr_claims)
            token = sign(provisioned.issuer, claims)
            if b.kind != "pull_request":
                refused_login(provisioned.server, namespace, trust.path, b.role, token)
                continue
            # The only door a pull request has is the pipeline's preview: configuration, never values.
            login = jwt_login(provisioned.server, namespace, trust.path, b.role, token)
            accepted.append(b.role)
            caller = Caller(provisioned.server, login.token, namespace, f"{stack}:pr:{b.role}")
            try:
                for name in ("api-keys", "models/gpt-4o", "teams/search", "fixtures/eval-set"):
                    caller.denied("GET", record.from_root(f"{settings.kv.path}/data/{name}"))
            finally:
                caller.request("POST", "auth/token/revoke-self")
    assert accepted == ["llm-vault-preview"]


@pytest.mark.parametrize("stack", STACKS)
def test_operator_writes_and_rotates_but_cannot_lose_data_or_widen_access(
    provisioned: Deployment, seeded: Seeded, stack: str
) -> None:
    record = provisioned.stacks[stack]
    kv, role = record.settings.kv.path, record.settings.short_lived_tokens.role
    operator = operator_caller(provisioned, stack)
    name = f"e2e/operator-{secrets.token_hex(4)}"

    first = {"api_key": remember("secret value", secrets.token_urlsafe(24))}
    operator.request("POST", f"{kv}/data/{name}", {"data": first, "options": {"cas": 0}})
    rotated = {"api_key": remember("secret value", secrets.token_urlsafe(24))}
    # Rotation = a new version, written against the version just read (cas is required in staging/prod).
    current = operator.request("GET", f"{kv}/metadata/{name}")["data"]["current_version"]
    operator.request("POST", f"{kv}/data/{name}", {"data": rotated, "options": {"cas": current}})
    ok = same_secret(operator.read_secret(kv, name), rotated)
    assert ok, "the rotated value is not the current version"
    ok = same_secret(github_caller(provisioned, stack).read_secret(kv, name), rotated)
    assert ok, "CI does not see the rotated value"
    old = operator.request("GET", f"{kv}/data/{name}?version=1")["data"]["data"]
    ok = same_secret(old, first)
    assert ok, "the previous version is not kept"

    # Soft delete and undelete are recoverable, so operators may; destroy and metadata delete are not.
    operator.request("DELETE", f"{kv}/data/{name}")
    with pytest.raises(hvac.exceptions.InvalidPath):
        operator.read_secret(kv, name)
    operator.request("POST", f"{kv}/undelete/{name}", {"versions": [2]})
    ok = same_secret(operator.read_secret(kv, name), rotated)
    assert ok
    operator.denied("POST", f"{kv}/destroy/{name}", {"versions": [1]})
    operator.denied("DELETE", f"{kv}/metadata/{name}")
    _no_token_minting(operator)
    _no_server_changes(operator, provisioned.stacks[stack])
    _not_in_other_environment(provisioned, operator.client.token, stack)

    # Children only through the token role, and only with its allowed policy.
    child = operator.request("POST", f"auth/token/create/{role}", {"ttl": "1m"})["auth"]
    remember("client token", child["client_token"])
    assert set(child["token_policies"]) - {"default"} == {record.policy("openai-llm-readonly")}
    with pytest.raises(hvac.exceptions.VaultError):
        operator.request("POST", f"auth/token/create/{role}", {"policies": [record.policy("openai-llm-operator")]})
    COUNTS["denials checked"] += 1

    provisioned.root(provisioned.stacks[stack].namespace).secrets.kv.v2.delete_metadata_and_all_versions(
        name, mount_point=kv
    )


def test_readonly_child_token_works_and_then_expires(provisioned: Deployment, seeded: Seeded) -> None:
    record = provisioned.stacks["dev"]
    kv, role = record.settings.kv.path, record.settings.short_lived_tokens.role
    operator = operator_caller(provisioned, "dev")

    # Asking for more than the role allows gets the role's ceiling, not what was asked.
    capped = operator.request("POST", f"auth/token/create/{role}", {"ttl": "48h"})["auth"]
    remember("client token", capped["client_token"])
    assert capped["lease_duration"] <= record.settings.short_lived_tokens.ttl_seconds

    auth = operator.request("POST", f"auth/token/create/{role}", {"ttl": CHILD_TTL})["auth"]
    child = Caller(provisioned.server, auth["client_token"], record.namespace, "dev:readonly-child")
    ok = same_secret(child.read_secret(kv, "api-keys"), seeded.of("dev", "api-keys"))
    assert ok
    assert "api-keys" in child.request("LIST", f"{kv}/metadata/")["data"]["keys"]
    child.denied("POST", f"{kv}/data/api-keys", {"data": {"x": "y"}})
    child.denied("POST", f"auth/token/create/{role}", {})  # no grandchildren
    _no_token_minting(child)

    deadline = time.monotonic() + EXPIRY_WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            child.request("GET", "auth/token/lookup-self")
        except hvac.exceptions.Forbidden:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the child token (ttl {CHILD_TTL}) was still valid after {EXPIRY_WAIT_SECONDS}s")
    child.denied("GET", f"{kv}/data/api-keys")


@pytest.mark.parametrize("stack", STACKS)
def test_model_runner_reads_what_it_needs_and_nothing_else(provisioned: Deployment, seeded: Seeded, stack: str) -> None:
    settings = provisioned.stacks[stack].settings
    kv = settings.kv.path
    runner, auth = model_runner_caller(provisioned, stack)

    assert sorted(auth["token_policies"]) == sorted({"default", *settings.model_runner.policies})
    assert auth["lease_duration"] == settings.model_runner.token_ttl_seconds
    for name in ("api-keys", "models/gpt-4o"):
        ok = same_secret(runner.read_secret(kv, name), seeded.of(stack, name))
        assert ok, f"the model runner read something else than {name}"
    runner.denied("GET", f"{kv}/data/teams/search")  # another team's secret
    runner.denied("GET", f"{kv}/data/api-keys-old")  # exact path, not a prefix
    runner.denied("LIST", f"{kv}/metadata/")
    runner.denied("GET", f"{kv}/metadata/api-keys")
    runner.denied("POST", f"{kv}/data/api-keys", {"data": {"x": "y"}})
    runner.denied("POST", f"auth/{settings.model_runner.path}/role/{settings.model_runner.role}/secret-id", {})
    _no_token_minting(runner)
    _no_server_changes(runner, provisioned.stacks[stack])
    _not_in_other_environment(provisioned, runner.client.token, stack)
    # Model runners mint no tokens at all: a child would read every secret of the environment.
    runner.denied("POST", f"auth/token/create/{settings.short_lived_tokens.role}", {"ttl": "1m"})

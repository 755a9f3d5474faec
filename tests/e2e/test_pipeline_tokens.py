"""This project's own CI, with real tokens: the pipeline roles can do their job and no more.

A preview, a drift check and an apply each run the real engine (refresh included) with the
token its GitHub Actions job would get, not the root token: if a pipeline policy missed a
path the stack declares, the refresh would fail with 403 here.
"""

from __future__ import annotations

import dataclasses

import pytest

from llm_vault import automation
from llm_vault.preview_report import collect_preview

from .harness import Deployment, Seeded, change_counts
from .identities import pipeline_caller

pytestmark = [pytest.mark.integration, pytest.mark.engine]


def _as(deployment: Deployment, stack: str, role: str) -> automation.StackTarget:
    caller = pipeline_caller(deployment, stack, role)
    target = deployment.target(stack)
    return dataclasses.replace(target, env={**target.env, "VAULT_TOKEN": caller.client.token})


@pytest.mark.parametrize("role", ["llm-vault-preview", "llm-vault-drift"])
def test_the_preview_and_drift_tokens_can_refresh_and_preview_the_whole_stack(
    provisioned: Deployment, role: str
) -> None:
    stack = automation.open_stack(_as(provisioned, "staging", role))
    preview = collect_preview(stack, stack_name="staging")
    assert preview.errors == []
    assert not preview.has_changes, [c.name for c in preview.changes]


def test_the_apply_token_repairs_drift_in_its_environment(provisioned: Deployment) -> None:
    record = provisioned.stacks["dev"]
    root = provisioned.root(record.namespace)
    role_path = f"auth/{record.settings.github.path}/role/github-actions"
    # An out-of-band edit of one field (the role keeps its type and bindings).
    root.write(role_path, role_type="jwt", token_ttl=3600, token_max_ttl=3600, token_explicit_max_ttl=3600)

    result = automation.refresh_then_up(automation.open_stack(_as(provisioned, "dev", "llm-vault-apply")))

    assert change_counts(result).get("update") == 1
    assert root.read(role_path)["data"]["token_ttl"] == 900


def test_the_apply_token_reads_no_secret_and_mints_no_runner_identity(provisioned: Deployment, seeded: Seeded) -> None:
    apply = pipeline_caller(provisioned, "prod", "llm-vault-apply")
    prod, staging = provisioned.stacks["prod"], provisioned.stacks["staging"]
    settings = prod.settings
    assert settings.pipeline is not None
    kv, approle = settings.kv.path, settings.model_runner.path
    apply.denied("GET", prod.from_root(f"{kv}/data/api-keys"))
    apply.denied("POST", prod.from_root(f"auth/{approle}/role/{settings.model_runner.role}/secret-id"))
    apply.denied("DELETE", f"sys/namespaces/{settings.namespace or ''}")
    apply.denied("DELETE", prod.from_root(f"sys/mounts/{kv}"))
    # Not its own trust: CI cannot widen what CI may do.
    apply.denied("POST", f"auth/{settings.pipeline.path}/role/llm-vault-apply", {"token_policies": ["root"]})
    # Not another environment's objects.
    policy = staging.from_root(f"sys/policies/acl/{staging.policy('openai-llm-ci')}")
    apply.denied("POST", policy, {"policy": 'path "x" { capabilities = ["read"] }'})


def test_the_preview_token_changes_nothing(provisioned: Deployment) -> None:
    preview = pipeline_caller(provisioned, "prod", "llm-vault-preview")
    prod = provisioned.stacks["prod"]
    settings = prod.settings
    policy = prod.from_root(f"sys/policies/acl/{prod.policy('openai-llm-ci')}")
    preview.denied("POST", policy, {"policy": 'path "x" { capabilities = ["read"] }'})
    preview.denied("POST", prod.from_root(f"auth/{settings.github.path}/role/github-actions"), {"token_ttl": 3600})
    preview.denied("POST", prod.from_root(f"{settings.kv.path}/config"), {"max_versions": 1})
    preview.denied("GET", prod.from_root(f"{settings.kv.path}/data/api-keys"))

"""Namespace isolation: nothing of one environment is visible or usable from another, and
the pipeline's root-namespace roles reach their own environment only."""

from __future__ import annotations

import itertools

import pytest

from llm_vault.stackfiles import STACKS

from .harness import Deployment, Seeded, same_secret
from .identities import Caller, github_login, operator_caller, pipeline_caller

pytestmark = [pytest.mark.integration, pytest.mark.engine]

PAIRS = list(itertools.permutations(STACKS, 2))


@pytest.mark.parametrize(("mine", "theirs"), PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
def test_an_environments_tokens_are_worthless_in_another(
    provisioned: Deployment, seeded: Seeded, mine: str, theirs: str
) -> None:
    kv = provisioned.stacks[theirs].settings.kv.path
    their_ns = provisioned.stacks[theirs].namespace
    ci = github_login(provisioned, mine)
    operator = operator_caller(provisioned, mine)

    for token, who in ((ci.token, "ci"), (operator.client.token, "operator")):
        there = Caller(provisioned.server, token, their_ns, f"{mine} {who} in {their_ns}")
        if who == "ci":  # (the operator token holds no `default` policy, so no lookup-self anywhere)
            # A token may still look itself up through another namespace (OpenBao answers from
            # the token's own namespace); it must not be able to use anything there.
            me = there.request("GET", "auth/token/lookup-self")["data"]
            assert me["namespace_path"] == f"{provisioned.stacks[mine].namespace}/"
        there.denied("POST", "cubbyhole/e2e", {"x": "y"})
        there.denied("GET", f"{kv}/data/api-keys")
        there.denied("LIST", f"{kv}/metadata/")
        there.denied("POST", f"{kv}/data/e2e-planted", {"data": {"x": "y"}})
        there.denied("LIST", "sys/policies/acl")
        from_root = Caller(provisioned.server, token, None, f"{mine} {who} from root")
        from_root.denied("GET", f"{their_ns}/{kv}/data/api-keys")
        from_root.denied("LIST", "sys/namespaces")

    # Each environment holds its own values: what my CI reads is mine, not theirs.
    mine_client = Caller(provisioned.server, ci.token, provisioned.stacks[mine].namespace, f"{mine} ci")
    read = mine_client.read_secret(provisioned.stacks[mine].settings.kv.path, "api-keys")
    ok = same_secret(read, seeded.of(mine, "api-keys")) and not same_secret(read, seeded.of(theirs, "api-keys"))
    assert ok, f"{mine}'s CI did not read {mine}'s own api-keys"


@pytest.mark.parametrize(("mine", "theirs"), PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
def test_the_pipeline_roles_reach_their_own_environment_only(provisioned: Deployment, mine: str, theirs: str) -> None:
    me = provisioned.stacks[mine]
    them = provisioned.stacks[theirs]
    assert me.settings.pipeline is not None and them.settings.pipeline is not None
    apply = pipeline_caller(provisioned, mine, "llm-vault-apply")
    preview = pipeline_caller(provisioned, mine, "llm-vault-preview")

    # What the apply job manages in its own environment, it may read ...
    apply.request("GET", f"sys/namespaces/{me.namespace}")
    apply.request("GET", f"{me.namespace}/sys/policies/acl/openai-llm-ci")
    preview.request("GET", f"{me.namespace}/sys/policies/acl/openai-llm-ci")
    # ... but never a secret value, not even its own environment's.
    apply.denied("GET", f"{me.namespace}/{me.settings.kv.path}/data/api-keys")
    preview.denied("GET", f"{me.namespace}/{me.settings.kv.path}/data/api-keys")
    # The preview/drift token changes nothing, even at home.
    preview.denied("PUT", f"{me.namespace}/sys/policies/acl/openai-llm-ci", {"policy": 'path "x" {}'})

    for caller in (apply, preview):
        caller.denied("GET", f"sys/namespaces/{them.namespace}")
        caller.denied("GET", f"{them.namespace}/sys/policies/acl/openai-llm-ci")
        caller.denied("GET", f"{them.namespace}/auth/{them.settings.github.path}/role/github-actions")
        caller.denied("GET", f"auth/{them.settings.pipeline.path}/role/llm-vault-apply")
    apply.denied("PUT", f"{them.namespace}/sys/policies/acl/openai-llm-ci", {"policy": 'path "x" {}'})
    apply.denied("DELETE", f"sys/audit/{them.settings.audit.path}")
    apply.denied("DELETE", f"sys/namespaces/{them.namespace}")
    apply.denied(
        "POST",
        f"{them.namespace}/auth/{them.settings.github.path}/role/github-actions",
        {"bound_subject": "repo:evil/x:ref:refs/heads/main"},
    )

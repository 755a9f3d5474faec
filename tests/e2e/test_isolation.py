"""Environment isolation: nothing of one environment is visible or usable from another, and
the pipeline's root-namespace roles reach their own environment only.

On OpenBao the environments are namespaces; on Vault OSS (root layout) they share the root
namespace and are kept apart by mount paths and ``<env>-`` names. The attacks are the same; where
the layouts differ (a namespace header to try, a namespace object to delete) each is checked in
the form its layout has.
"""

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
    me, them = provisioned.stacks[mine], provisioned.stacks[theirs]
    kv = them.settings.kv.path
    ci = github_login(provisioned, mine)
    operator = operator_caller(provisioned, mine)

    for token, who in ((ci.token, "ci"), (operator.client.token, "operator")):
        there = Caller(provisioned.server, token, them.namespace, f"{mine} {who} in {them.namespace or 'root'}")
        if them.namespace is not None:
            if who == "ci":  # (the operator token holds no `default` policy, so no lookup-self anywhere)
                # A token may still look itself up through another namespace (OpenBao answers from
                # the token's own namespace); it must not be able to use anything there.
                data = there.request("GET", "auth/token/lookup-self")["data"]
                assert data["namespace_path"] == f"{me.namespace}/"
            there.denied("POST", "cubbyhole/e2e", {"x": "y"})
        # (root layout: the cubbyhole is the token's own, in the one namespace there is; nothing of theirs)
        there.denied("GET", f"{kv}/data/api-keys")
        there.denied("LIST", f"{kv}/metadata/")
        there.denied("POST", f"{kv}/data/e2e-planted", {"data": {"x": "y"}})
        there.denied("LIST", "sys/policies/acl")
        there.denied("GET", f"sys/policies/acl/{them.policy('openai-llm-ci')}")
        there.denied("POST", f"auth/token/create/{them.settings.short_lived_tokens.role}", {})
        there.denied("GET", f"auth/{them.settings.github.path}/role/github-actions")
        from_root = Caller(provisioned.server, token, None, f"{mine} {who} from root")
        from_root.denied("GET", them.from_root(f"{kv}/data/api-keys"))
        from_root.denied("LIST", "sys/namespaces")

    # Each environment holds its own values: what my CI reads is mine, not theirs.
    mine_client = Caller(provisioned.server, ci.token, me.namespace, f"{mine} ci")
    read = mine_client.read_secret(me.settings.kv.path, "api-keys")
    ok = same_secret(read, seeded.of(mine, "api-keys")) and not same_secret(read, seeded.of(theirs, "api-keys"))
    assert ok, f"{mine}'s CI did not read {mine}'s own api-keys"


@pytest.mark.parametrize(("mine", "theirs"), PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
def test_the_pipeline_roles_reach_their_own_environment_only(provisioned: Deployment, mine: str, theirs: str) -> None:
    me = provisioned.stacks[mine]
    them = provisioned.stacks[theirs]
    assert me.settings.pipeline is not None and them.settings.pipeline is not None
    apply = pipeline_caller(provisioned, mine, "llm-vault-apply")
    preview = pipeline_caller(provisioned, mine, "llm-vault-preview")
    my_ci, their_ci = me.policy("openai-llm-ci"), them.policy("openai-llm-ci")
    their_role = them.settings.short_lived_tokens.role

    # What the apply job manages in its own environment, it may read ...
    if me.namespace is not None:
        apply.request("GET", f"sys/namespaces/{me.namespace}")
    apply.request("GET", me.from_root(f"sys/policies/acl/{my_ci}"))
    preview.request("GET", me.from_root(f"sys/policies/acl/{my_ci}"))
    preview.request("GET", me.from_root(f"auth/token/roles/{me.settings.short_lived_tokens.role}"))
    # ... but never a secret value, not even its own environment's.
    apply.denied("GET", me.from_root(f"{me.settings.kv.path}/data/api-keys"))
    preview.denied("GET", me.from_root(f"{me.settings.kv.path}/data/api-keys"))
    # The preview/drift token changes nothing, even at home.
    preview.denied("PUT", me.from_root(f"sys/policies/acl/{my_ci}"), {"policy": 'path "x" {}'})

    for caller in (apply, preview):
        if them.namespace is not None:
            caller.denied("GET", f"sys/namespaces/{them.namespace}")
        # Root layout: their policies and token role sit beside ours; the preview's glob is "<env>-*".
        caller.denied("GET", them.from_root(f"sys/policies/acl/{their_ci}"))
        caller.denied("GET", them.from_root(f"auth/token/roles/{their_role}"))
        caller.denied("GET", them.from_root(f"auth/{them.settings.github.path}/role/github-actions"))
        caller.denied("GET", them.from_root(f"sys/mounts/{them.settings.kv.path}"))
        caller.denied("GET", f"auth/{them.settings.pipeline.path}/role/llm-vault-apply")
    apply.denied("PUT", them.from_root(f"sys/policies/acl/{their_ci}"), {"policy": 'path "x" {}'})
    apply.denied("POST", them.from_root(f"auth/token/roles/{their_role}"), {"allowed_policies": [my_ci]})
    apply.denied("DELETE", f"sys/audit/{them.settings.audit.path}")
    apply.denied("DELETE", them.from_root(f"sys/mounts/{them.settings.kv.path}"))
    if them.namespace is not None:
        apply.denied("DELETE", f"sys/namespaces/{them.namespace}")
    apply.denied(
        "POST",
        them.from_root(f"auth/{them.settings.github.path}/role/github-actions"),
        {"bound_subject": "repo:evil/x:ref:refs/heads/main"},
    )

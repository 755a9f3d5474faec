"""The access matrix's identity view holds on a real server: for each way in that the applied
stacks declare (each JWT binding, the AppRole, the token role), a real token of that way in has
exactly the derived capabilities on every secret endpoint of every environment, and a token is
refused outright in an environment its tokens are not valid in.

The view is derived from the declared bindings and the rendered policies
(``llm_vault.access_matrix.identity_view``); this test is what makes it a statement about the
server rather than about our reading of Vault's ACL rules.
"""

from __future__ import annotations

import contextlib
from typing import Any

import hvac.exceptions
import pytest

from llm_vault.access_matrix import SECRET_ENDPOINTS, IdentityView, WayIn, address, identity_view
from llm_vault.stackfiles import STACKS, stack_config

from .harness import Deployment, Seeded, remember
from .identities import COUNTS, Caller, claims_for, jwt_login, model_runner_caller, sign

pytestmark = [pytest.mark.integration, pytest.mark.engine]


def _declared_ways() -> list[Any]:
    """(stack, way-in name) of every way in the checked-in stacks declare, for test ids."""
    from llm_vault.access_matrix import checked_in_settings, ways_in

    params = []
    for settings in checked_in_settings():
        # By position: on Vault OSS the same way in has its root-layout mount path (jwt-dev/...).
        params += [pytest.param(settings.environment, i, id=f"{way.environment}:{way.kind}:{way.name}")
                   for i, way in enumerate(ways_in(settings))]
    return params


@pytest.fixture(scope="module")
def view(provisioned: Deployment) -> IdentityView:
    """The view of the stacks as applied (their namespaces and names on this server)."""
    return identity_view([provisioned.stacks[stack].settings for stack in STACKS])


def _token(deployment: Deployment, way: WayIn) -> str:
    """A real token of ``way``, obtained the way its users obtain one."""
    record = deployment.stacks[way.environment]
    settings = record.settings
    if way.kind in ("github", "pipeline"):
        trust = settings.github if way.kind == "github" else settings.pipeline
        assert trust is not None
        binding = next(b for b in trust.bindings if f"{trust.path}/{b.role}" == way.name)
        token = sign(deployment.issuer, claims_for(deployment.issuer, binding))
        return jwt_login(deployment.server, way.namespace, trust.path, binding.role, token).token
    if way.kind == "approle":
        caller, _ = model_runner_caller(deployment, way.environment)
        return caller.client.token
    assert way.kind == "token-role"
    created = deployment.root(record.namespace).write_data(
        f"auth/token/create/{settings.short_lived_tokens.role}", data={"ttl": "5m"}
    )
    return remember("client token", created["auth"]["client_token"])


@pytest.mark.parametrize(("stack", "index"), _declared_ways())
def test_a_real_token_of_each_way_in_has_exactly_the_derived_reach(
    provisioned: Deployment, seeded: Seeded, view: IdentityView, stack: str, index: int
) -> None:
    way = [w for w in view.ways if w.environment == stack][index]
    caller = Caller(provisioned.server, _token(provisioned, way), way.namespace, way.label)
    try:
        for secret in view.secrets:
            reach = view.reach[way, secret]
            if not reach.addressable:
                # Its tokens are not valid in that namespace: any request there is a 403.
                other = Caller(provisioned.server, caller.client.token, secret.namespace, way.label)
                other.denied("GET", secret.endpoint("data"))
                continue
            paths = {kind: address(way, secret, kind) for kind in SECRET_ENDPOINTS}
            answer = caller.request("POST", "sys/capabilities-self", {"paths": list(paths.values())})
            for kind, path in paths.items():
                on_server = set(answer["data"][path]) - {"deny"}
                COUNTS["identity cells checked"] += 1
                assert on_server == set(reach.capabilities[kind]), (
                    f"{way.label} on {path}: the server grants {sorted(on_server)}, "
                    f"the view says {sorted(reach.capabilities[kind])}"
                )
            if secret.name in seeded.values[secret.environment]:
                # And a real read agrees: the value where the view says read, a 403 where not.
                if reach.read:
                    data = caller.request("GET", paths["data"])["data"]["data"]
                    assert data == seeded.of(secret.environment, secret.name)
                else:
                    caller.denied("GET", paths["data"])
    finally:
        with contextlib.suppress(hvac.exceptions.VaultError):  # (a token that is already gone)
            caller.client.auth.token.revoke_self()


def test_the_checked_in_view_is_the_one_the_applied_stacks_give(provisioned: Deployment, view: IdentityView) -> None:
    """The test above checks the applied stacks; the report renders the checked-in ones. They are
    the same declarations (the harness changes only server addresses and, on Vault OSS, applies the
    root layout: ``llm_vault.local_job.vault_oss_layout``), so their cells agree."""
    from infra.config import load_settings
    from llm_vault.automation import deep_merge

    declared = []
    for stack in STACKS:
        config = deep_merge(stack_config(stack), provisioned.extra_overrides.get(stack, {}))
        declared.append(load_settings({k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("llm-vault:")}))
    checked_in = identity_view(declared)
    assert {(w.label, s.environment, s.name): r.capabilities for (w, s), r in checked_in.reach.items()} == {
        (w.label, s.environment, s.name): r.capabilities for (w, s), r in view.reach.items()
    }
    assert len(checked_in.ways) == sum(len(stack_config(stack)["llm-vault:github"]["bindings"]) for stack in STACKS) + (
        sum(len(stack_config(stack)["llm-vault:pipeline"]["bindings"]) + 2 for stack in STACKS)
    ), "every binding, plus each stack's AppRole and token role, is a way in"

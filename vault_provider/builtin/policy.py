"""ACL policies: PUT/GET/DELETE /v1/sys/policies/acl/:name.

https://openbao.org/api-docs/system/policies/
"""

from __future__ import annotations

from vault_provider.args import PolicyArgs
from vault_provider.builtin._provider import EndpointProvider, VaultResource


class PolicyProvider(EndpointProvider[PolicyArgs]):
    args_type = PolicyArgs
    kind = "Policy"
    adopt_kind = "policy"
    identity = frozenset({"name"})
    replace_on = frozenset({"name", "namespace"})

    def object_path(self, args: PolicyArgs) -> str:
        return args.name

    def api_path(self, args: PolicyArgs) -> str:
        return f"sys/policies/acl/{args.name}"


class Policy(VaultResource, module="vault", name="Policy"):
    """pulumi-vault: vault.Policy."""

    provider_type = PolicyProvider

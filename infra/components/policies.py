"""ACL policies from ``policies/*.hcl``: the file stem is the policy name."""

from __future__ import annotations

import pulumi

from infra.config import Policy
from vault_provider.args import PolicyArgs
from vault_provider.backend import VaultBackend

from ._base import VaultComponent


class PolicySet(VaultComponent):
    def __init__(
        self,
        name: str,
        policies: tuple[Policy, ...],
        backend: VaultBackend,
        *,
        namespace: str | None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("llmvault:vault:PolicySet", name, backend, opts)
        self.names = [p.name for p in policies]
        for policy in policies:
            args = PolicyArgs(name=policy.name, policy=policy.text, namespace=namespace)
            # Named by the file stem: the same resource in every layout (root layout: "dev-" + stem).
            self._declare(f"policy-{policy.stem or policy.name}", args)
        self.register_outputs({"names": self.names})

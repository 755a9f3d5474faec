"""The environment's namespace: everything of one environment lives below it."""

from __future__ import annotations

import pulumi

from vault_provider.args import NamespaceArgs
from vault_provider.backend import VaultBackend

from ._base import VaultComponent


class EnvironmentNamespace(VaultComponent):
    """Declares the namespace (when the stack sets one) and hands its children their options.

    A stack without a namespace (Vault OSS) declares nothing here; its environments are
    kept apart by mount paths instead.
    """

    def __init__(
        self,
        name: str,
        path: str | None,
        backend: VaultBackend,
        *,
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("llmvault:vault:EnvironmentNamespace", name, backend, opts)
        self.path = path
        self.resource: pulumi.Resource | None = None
        if path is not None:
            # Deleting a namespace deletes every secret in it: protected in staging and prod.
            self.resource = self._declare(name, NamespaceArgs(path=path), protect=protect)
        self.register_outputs({"path": path or ""})

    def child_opts(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(depends_on=[self.resource] if self.resource else [])

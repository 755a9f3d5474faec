"""What every component shares: the backend seam and the target namespace."""

from __future__ import annotations

import pulumi

from vault_provider.args import ObjectArgs
from vault_provider.backend import VaultBackend


class VaultComponent(pulumi.ComponentResource):
    """A component whose children are Vault objects declared through one backend."""

    def __init__(
        self,
        type_: str,
        name: str,
        backend: VaultBackend,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(type_, name, None, opts)
        self._backend = backend

    def _declare(
        self, name: str, args: ObjectArgs, *, protect: bool = False, depends_on: list[pulumi.Resource] | None = None
    ) -> pulumi.Resource:
        # Named Vault objects are deleted before they are replaced: a create-before-delete
        # replace of a named object deletes what it just created (pulumi/pulumi#9881). Our own
        # providers also say so in every replacing diff; this option is what the official
        # backend's resources get it from.
        opts = pulumi.ResourceOptions(
            parent=self, protect=protect, delete_before_replace=True, depends_on=depends_on or []
        )
        return self._backend.declare(name, args, opts)

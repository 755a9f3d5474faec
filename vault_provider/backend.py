"""The provider seam: components declare Vault objects through a ``VaultBackend``.

Two implementations: ``builtin`` (our Pulumi dynamic providers over hvac; works offline,
the default) and ``pulumi_vault`` (the official provider; needs its plugin installed). A
stack chooses with the ``llm-vault:providerBackend`` config key.
"""

from __future__ import annotations

from typing import Protocol

import pulumi

from vault_provider.args import ObjectArgs

BACKENDS = ("builtin", "pulumi_vault")


class VaultBackend(Protocol):
    name: str

    def declare(
        self, resource_name: str, args: ObjectArgs, opts: pulumi.ResourceOptions | None = None
    ) -> pulumi.Resource:
        """Declare one Vault object; returns the Pulumi resource (for depends_on/parent)."""
        ...


def select_backend(name: str) -> VaultBackend:
    if name == "builtin":
        from vault_provider.builtin.backend import BuiltinBackend

        return BuiltinBackend()
    if name == "pulumi_vault":
        from vault_provider.official import OfficialBackend

        return OfficialBackend()
    raise ValueError(f"unknown provider backend {name!r}; expected one of {', '.join(BACKENDS)}")

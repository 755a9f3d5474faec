"""The token role that mints read-only child tokens (``get_short_lived_token``)."""

from __future__ import annotations

import pulumi

from infra.config import ShortLivedTokenSettings
from vault_provider.args import TokenRoleArgs
from vault_provider.backend import VaultBackend

from ._base import VaultComponent


class ShortLivedTokens(VaultComponent):
    """Callers need ``update`` on ``auth/token/create/<role>`` only, never ``auth/token/create``:
    the role caps the policies a child can carry, whatever the caller holds."""

    def __init__(
        self,
        name: str,
        settings: ShortLivedTokenSettings,
        backend: VaultBackend,
        *,
        namespace: str | None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("llmvault:auth:ShortLivedTokens", name, backend, opts)
        self._declare(
            f"{name}-role",
            TokenRoleArgs(
                role_name=settings.role,
                allowed_policies=settings.allowed_policies,
                orphan=False,  # children die with their parent's revocation
                renewable=settings.renewable,
                token_explicit_max_ttl=settings.ttl_seconds,
                token_type="service",
                namespace=namespace,
            ),
        )
        self.register_outputs({"role": settings.role})

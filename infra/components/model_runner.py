"""The model runner's machine identity: an AppRole role."""

from __future__ import annotations

import pulumi

from infra.config import ModelRunnerSettings
from vault_provider.args import AppRoleRoleArgs, AuthBackendArgs
from vault_provider.backend import VaultBackend

from ._base import VaultComponent


class ModelRunnerIdentity(VaultComponent):
    def __init__(
        self,
        name: str,
        settings: ModelRunnerSettings,
        backend: VaultBackend,
        *,
        namespace: str | None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("llmvault:auth:ModelRunnerIdentity", name, backend, opts)
        auth = self._declare(
            f"{name}-backend",
            AuthBackendArgs(type="approle", path=settings.path, description="Model runners", namespace=namespace),
        )
        self._declare(
            f"{name}-role",
            AppRoleRoleArgs(
                backend=settings.path,
                role_name=settings.role,
                token_policies=settings.policies,
                bind_secret_id=True,
                # Secret IDs are rotated daily by the runner's deployment; the TTL is the grace window.
                secret_id_ttl=settings.secret_id_ttl_seconds,
                secret_id_num_uses=settings.secret_id_num_uses,
                token_ttl=settings.token_ttl_seconds,
                token_max_ttl=settings.token_max_ttl_seconds,
                namespace=namespace,
            ),
            depends_on=[auth],
        )
        self.register_outputs({"path": settings.path, "role": settings.role})

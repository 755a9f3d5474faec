"""The audit device (root namespace: OpenBao keeps audit devices there)."""

from __future__ import annotations

import pulumi

from infra.config import AuditSettings
from vault_provider.args import AuditArgs
from vault_provider.backend import VaultBackend

from ._base import VaultComponent


class AuditDevice(VaultComponent):
    """A file audit device, or nothing when the server declares its own in its config file.

    In ``declared`` mode the entry point checks before applying that a device is enabled
    (``llm_vault.cli``): a server that audits nothing must not receive changes.
    """

    def __init__(
        self,
        name: str,
        settings: AuditSettings,
        backend: VaultBackend,
        opts: pulumi.ResourceOptions | None = None,
        *,
        protect: bool = False,
    ):
        super().__init__("llmvault:audit:AuditDevice", name, backend, opts)
        if settings.mode == "api":
            self._declare(
                f"{name}-device",
                AuditArgs(
                    type="file",
                    path=settings.path,
                    # Secrets and tokens are HMAC'd in the log; accessors stay readable only when
                    # hmacAccessor is false, for revocation by accessor during an incident.
                    options={"file_path": settings.file_path, "hmac_accessor": str(settings.hmac_accessor).lower()},
                    description="llm-vault audit log",
                ),
                # Deleting or replacing the device stops the audit trail: a protected change.
                protect=protect,
            )
        self.register_outputs({"mode": settings.mode, "path": settings.path})

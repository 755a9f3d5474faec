"""The kv-v2 store: its mount, its versioning settings and the catalogue of secret paths."""

from __future__ import annotations

import pulumi

from infra.config import KvSettings
from vault_provider.args import KvMetadataArgs, KvV2ConfigArgs, MountArgs
from vault_provider.backend import VaultBackend

from ._base import VaultComponent


class SecretsStore(VaultComponent):
    """kv-v2 mount + engine config + one metadata record per catalogued secret (never values)."""

    def __init__(
        self,
        name: str,
        settings: KvSettings,
        backend: VaultBackend,
        *,
        namespace: str | None,
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("llmvault:vault:SecretsStore", name, backend, opts)
        self.path = settings.path
        # The mount holds the secrets: replacing it deletes them, so staging and prod protect it.
        mount = self._declare(
            f"{name}-mount",
            MountArgs(
                path=settings.path,
                type="kv",
                description=settings.description,
                options={"version": "2"},
                namespace=namespace,
            ),
            protect=protect,
        )
        self._declare(
            f"{name}-config",
            KvV2ConfigArgs(
                mount=settings.path,
                max_versions=settings.max_versions,
                cas_required=settings.cas_required,
                delete_version_after=settings.delete_version_after,
                namespace=namespace,
                # Lowering max_versions prunes history on the next write: protected stacks refuse
                # it at preview unless the stack file states why (kv.maxVersionsLoweredReason).
                keep_history="llm-vault:kv.maxVersions" if protect and not settings.max_versions_lowered_reason else "",
            ),
            depends_on=[mount],
        )
        for entry in settings.secrets:
            metadata = {"owner": entry.owner, "rotation_period": entry.rotation_period}
            if entry.keys:
                metadata["keys"] = ",".join(entry.keys)
            if entry.description:
                metadata["description"] = entry.description
            self._declare(
                f"{name}-meta-{entry.name.replace('/', '-')}",
                KvMetadataArgs(
                    mount=settings.path,
                    name=entry.name,
                    custom_metadata=metadata,
                    max_versions=settings.max_versions,
                    cas_required=settings.cas_required,
                    delete_version_after=settings.delete_version_after,
                    namespace=namespace,
                ),
                depends_on=[mount],
            )
        self.register_outputs({"path": settings.path, "secrets": [e.name for e in settings.secrets]})

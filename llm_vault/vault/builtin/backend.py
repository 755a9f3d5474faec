"""``BuiltinBackend``: the provider seam's default implementation, our dynamic providers."""

from __future__ import annotations

import pulumi

from llm_vault.vault import args as a
from llm_vault.vault.builtin._provider import VaultResource
from llm_vault.vault.builtin.approle import AppRoleRole
from llm_vault.vault.builtin.audit import Audit
from llm_vault.vault.builtin.auth import AuthBackend
from llm_vault.vault.builtin.database import (
    DatabaseSecretBackendConnection,
    DatabaseSecretBackendRole,
    DatabaseSecretBackendStaticRole,
)
from llm_vault.vault.builtin.jwt import JwtAuthConfig, JwtAuthRole
from llm_vault.vault.builtin.kv import KvMetadata, KvV2Config
from llm_vault.vault.builtin.mount import Mount
from llm_vault.vault.builtin.namespace import Namespace
from llm_vault.vault.builtin.policy import Policy
from llm_vault.vault.builtin.token import TokenRole

RESOURCES: dict[type, type[VaultResource]] = {
    a.NamespaceArgs: Namespace,
    a.MountArgs: Mount,
    a.KvV2ConfigArgs: KvV2Config,
    a.KvMetadataArgs: KvMetadata,
    a.AuthBackendArgs: AuthBackend,
    a.JwtAuthConfigArgs: JwtAuthConfig,
    a.JwtAuthRoleArgs: JwtAuthRole,
    a.PolicyArgs: Policy,
    a.AuditArgs: Audit,
    a.TokenRoleArgs: TokenRole,
    a.AppRoleRoleArgs: AppRoleRole,
    a.DatabaseConnectionArgs: DatabaseSecretBackendConnection,
    a.DatabaseRoleArgs: DatabaseSecretBackendRole,
    a.DatabaseStaticRoleArgs: DatabaseSecretBackendStaticRole,
}


class BuiltinBackend:
    """Declares each record as the dynamic resource of its kind.

    Every object here is named inside Vault, so a replace must delete before it creates
    (pulumi/pulumi#9881): the providers say so in each diff that replaces (``_provider.diff``),
    whatever the caller's options are. Connection settings come from the stack config (see
    ``_client``), not from here.
    """

    name = "builtin"

    def declare(
        self, resource_name: str, args: a.ObjectArgs, opts: pulumi.ResourceOptions | None = None
    ) -> pulumi.CustomResource:
        resource = RESOURCES.get(type(args))
        if resource is None:
            raise TypeError(f"no builtin resource for {type(args).__name__}")
        return resource(resource_name, args, opts)

"""``BuiltinBackend``: the provider seam's default implementation, our dynamic providers."""

from __future__ import annotations

import pulumi

from vault_provider import args as a
from vault_provider.builtin._provider import VaultResource
from vault_provider.builtin.approle import AppRoleRole
from vault_provider.builtin.audit import Audit
from vault_provider.builtin.auth import AuthBackend
from vault_provider.builtin.database import (
    DatabaseSecretBackendConnection,
    DatabaseSecretBackendRole,
    DatabaseSecretBackendStaticRole,
)
from vault_provider.builtin.jwt import JwtAuthConfig, JwtAuthRole, JwtAuthRoleSet
from vault_provider.builtin.kv import KvMetadata, KvV2Config
from vault_provider.builtin.mount import Mount
from vault_provider.builtin.namespace import Namespace
from vault_provider.builtin.policy import Policy
from vault_provider.builtin.token import TokenRole

RESOURCES: dict[type, type[VaultResource]] = {
    a.NamespaceArgs: Namespace,
    a.MountArgs: Mount,
    a.KvV2ConfigArgs: KvV2Config,
    a.KvMetadataArgs: KvMetadata,
    a.AuthBackendArgs: AuthBackend,
    a.JwtAuthConfigArgs: JwtAuthConfig,
    a.JwtAuthRoleArgs: JwtAuthRole,
    a.JwtAuthRoleSetArgs: JwtAuthRoleSet,
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
    ) -> pulumi.Resource:
        resource = RESOURCES.get(type(args))
        if resource is None:
            raise TypeError(f"no builtin resource for {type(args).__name__}")
        return resource(resource_name, args, opts)

"""Dynamic and static database credentials: a database secrets engine, its connections and roles,
and one read-only policy per grant.

Every role depends on its connection and every connection on the mount, so a destroy deletes
roles (revoking their leases) before the connection and the mount (vault#4846).
"""

from __future__ import annotations

import pulumi

from infra.config.databases import DatabaseSettings, grant_policy
from vault_provider.args import (
    DatabaseConnectionArgs,
    DatabaseRoleArgs,
    DatabaseStaticRoleArgs,
    MountArgs,
    PolicyArgs,
)
from vault_provider.backend import VaultBackend

from ._base import VaultComponent


class DatabaseCredentials(VaultComponent):
    def __init__(
        self,
        name: str,
        settings: DatabaseSettings,
        backend: VaultBackend,
        *,
        namespace: str | None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("llmvault:secrets:DatabaseCredentials", name, backend, opts)
        path = settings.path
        mount = self._declare(
            f"{name}-mount",
            MountArgs(path=path, type="database", description="Database credentials", namespace=namespace),
        )
        for conn in settings.connections:
            connection = self._declare(
                f"{name}-{conn.name}",
                DatabaseConnectionArgs(
                    backend=path,
                    name=conn.name,
                    connection_url=conn.url,
                    username=conn.username,
                    password_source=conn.password_from,
                    password_version=conn.password_version,
                    # Exactly the roles declared for it: no other role may issue on this connection.
                    allowed_roles=(*(r.name for r in conn.roles), *(r.name for r in conn.static_roles)),
                    max_open_connections=conn.max_open_connections,
                    verify_connection=conn.verify_connection,
                    root_rotation_statements=conn.root_rotation_statements,
                    namespace=namespace,
                ),
                depends_on=[mount],
            )
            for role in conn.roles:
                self._declare(
                    f"{name}-{conn.name}-role-{role.name}",
                    DatabaseRoleArgs(
                        backend=path,
                        name=role.name,
                        db_name=conn.name,
                        creation_statements=role.creation_statements,
                        revocation_statements=role.revocation_statements,
                        renew_statements=role.renew_statements,
                        default_ttl=role.ttl_seconds,
                        max_ttl=role.max_ttl_seconds,
                        namespace=namespace,
                    ),
                    depends_on=[connection],
                )
            for static in conn.static_roles:
                self._declare(
                    f"{name}-{conn.name}-static-{static.name}",
                    DatabaseStaticRoleArgs(
                        backend=path,
                        name=static.name,
                        db_name=conn.name,
                        username=static.username,
                        rotation_period=static.rotation_period_seconds,
                        rotation_statements=static.rotation_statements,
                        namespace=namespace,
                    ),
                    depends_on=[connection],
                )
        self.policies = [settings.policy_name(g) for g in settings.grants]
        for grant in settings.grants:
            self._declare(
                f"{name}-policy-{grant.role}",
                PolicyArgs(name=settings.policy_name(grant), policy=grant_policy(path, grant), namespace=namespace),
            )
        self.register_outputs({"path": path, "policies": self.policies})

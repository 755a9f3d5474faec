"""Database secrets engine: connections (/v1/:backend/config/:name), dynamic roles
(/v1/:backend/roles/:name) and static roles (/v1/:backend/static-roles/:name). The mount itself
is a ``Mount`` of type ``database``.

https://openbao.org/api-docs/secret/databases/

The root password is the one secret this layer touches, and it never enters props, outs,
messages or the engine's output: the record names where to read it (``password_source``), the
provider reads it only in ``write`` and only when it must be sent (create, or a bumped
``password_version``). An update without a password leaves the server's (possibly rotated)
password alone: the engine merges a config update into the stored connection details, so the
next apply never sets the old password back (vault-config-operator#131, bank-vaults#503).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vault_provider.args import DatabaseConnectionArgs, DatabaseRoleArgs, DatabaseStaticRoleArgs
from vault_provider.builtin._client import Api, VaultObjectError
from vault_provider.builtin._provider import EndpointProvider, VaultProvider, VaultResource

# Statements run in order: compared as sequences, not sets.
ORDERED = frozenset(
    {
        "creation_statements",
        "revocation_statements",
        "renew_statements",
        "rotation_statements",
        "root_rotation_statements",
    }
)


def read_password(source: str, where: object) -> str:
    """The password ``source`` names (``env:VAR`` or ``file:/path``); the message names the source
    only, never a value."""
    kind, _, ref = source.partition(":")
    if kind == "env" and ref:
        value = os.environ.get(ref, "")
        if not value:
            raise VaultObjectError(f"{where}: the root password source {source!r} is unset or empty")
        return value
    if kind == "file" and ref:
        try:
            return Path(ref).read_text().strip()
        except OSError as exc:
            raise VaultObjectError(f"{where}: cannot read the root password file {ref!r}: {exc.strerror}") from None
    raise VaultObjectError(f"{where}: password_source {source!r} must be 'env:VAR' or 'file:/path'")


class DatabaseConnectionProvider(VaultProvider[DatabaseConnectionArgs]):
    args_type = DatabaseConnectionArgs
    kind = "DatabaseSecretBackendConnection"
    adopt_kind = "database-connection"
    replace_on = frozenset({"backend", "name", "plugin_name", "namespace"})

    def object_path(self, args: DatabaseConnectionArgs) -> str:
        return f"{args.backend.strip('/')}/{args.name}"

    def api_path(self, args: DatabaseConnectionArgs) -> str:
        return f"{args.backend.strip('/')}/config/{args.name}"

    def canonical(self, field: str, value: Any) -> Any:
        if field in ORDERED:
            return tuple(value)
        return super().canonical(field, value)

    def validate(self, args: DatabaseConnectionArgs) -> list[tuple[str, str]]:
        failures = []
        authority = args.connection_url.partition("://")[2].partition("/")[0]
        if "@" in authority and authority.partition("@")[0] != "{{username}}:{{password}}":
            failures.append(("connection_url", "must not hold credentials: use {{username}}:{{password}}"))
        if not args.password_source.startswith(("env:", "file:")):
            failures.append(("password_source", "must be 'env:VAR' or 'file:/path' (never the password)"))
        return failures

    def fetch(self, api: Api, args: DatabaseConnectionArgs) -> dict[str, Any] | None:
        data = api.read(self.api_path(args))
        if data is None:
            return None
        details = data.get("connection_details") or {}
        live: dict[str, Any] = {
            "plugin_name": data.get("plugin_name", ""),
            "allowed_roles": data.get("allowed_roles") or [],
            "root_rotation_statements": data.get("root_credentials_rotate_statements") or [],
        }
        for field in ("connection_url", "username", "max_open_connections", "password_authentication"):
            if field in details:
                live[field] = details[field]
        if "verify_connection" in data:
            live["verify_connection"] = data["verify_connection"]
        return live

    def body(self, args: DatabaseConnectionArgs) -> dict[str, Any]:
        return {
            "plugin_name": args.plugin_name,
            "connection_url": args.connection_url,
            "username": args.username,
            "allowed_roles": list(args.allowed_roles),
            "max_open_connections": args.max_open_connections,
            "password_authentication": args.password_authentication,
            "verify_connection": args.verify_connection,
            "root_rotation_statements": list(args.root_rotation_statements),
        }

    def write(self, api: Api, args: DatabaseConnectionArgs, current: DatabaseConnectionArgs | None) -> None:
        body = self.body(args)
        # An adopted connection (current from the server) keeps its password unless the version
        # is bumped; a new one (current None) must be given it.
        send_password = current is None or current.password_version != args.password_version
        if send_password:
            body["password"] = read_password(args.password_source, self.where(args))
        # A failure message is the server's words (describe()): the request body is never in it.
        api.write(self.api_path(args), body)
        if send_password and args.rotate_root:
            # Once per supplied password: the state records password_version, so a later apply
            # with the same version neither rotates again nor sends the old password back.
            api.write(f"{args.backend.strip('/')}/rotate-root/{args.name}", {})

    def remove(self, api: Api, args: DatabaseConnectionArgs) -> None:
        api.delete(self.api_path(args))


class DatabaseRoleProvider(EndpointProvider[DatabaseRoleArgs]):
    args_type = DatabaseRoleArgs
    kind = "DatabaseSecretBackendRole"
    adopt_kind = "database-role"
    identity = frozenset({"backend", "name"})
    durations = frozenset({"default_ttl", "max_ttl"})
    replace_on = frozenset({"backend", "name", "namespace"})

    def object_path(self, args: DatabaseRoleArgs) -> str:
        return f"{args.backend.strip('/')}/{args.name}"

    def api_path(self, args: DatabaseRoleArgs) -> str:
        return f"{args.backend.strip('/')}/roles/{args.name}"

    def canonical(self, field: str, value: Any) -> Any:
        if field in ORDERED:
            return tuple(value)
        return super().canonical(field, value)

    def remove(self, api: Api, args: DatabaseRoleArgs) -> None:
        # Deleting a role leaves its leases; they would be revoked at unmount, when the connection
        # they need is gone already, and the unmount fails (vault#4846). So its leases go first
        # (PUT /v1/sys/leases/revoke-prefix/:prefix, sudo; none left is success), then the role.
        api.write(f"sys/leases/revoke-prefix/{args.backend.strip('/')}/creds/{args.name}", {}, method="PUT")
        api.delete(self.api_path(args))


class DatabaseStaticRoleProvider(EndpointProvider[DatabaseStaticRoleArgs]):
    args_type = DatabaseStaticRoleArgs
    kind = "DatabaseSecretBackendStaticRole"
    adopt_kind = "database-static-role"
    identity = frozenset({"backend", "name"})
    durations = frozenset({"rotation_period"})
    # The server refuses to change a static role's username or connection in place.
    replace_on = frozenset({"backend", "name", "db_name", "username", "namespace"})

    def object_path(self, args: DatabaseStaticRoleArgs) -> str:
        return f"{args.backend.strip('/')}/{args.name}"

    def api_path(self, args: DatabaseStaticRoleArgs) -> str:
        return f"{args.backend.strip('/')}/static-roles/{args.name}"

    def canonical(self, field: str, value: Any) -> Any:
        if field in ORDERED:
            return tuple(value)
        return super().canonical(field, value)

    def fetch(self, api: Api, args: DatabaseStaticRoleArgs) -> dict[str, Any] | None:
        live = super().fetch(api, args)
        return None if live is None else {"backend": args.backend, **live}


class DatabaseSecretBackendConnection(VaultResource, module="vault", name="DatabaseSecretBackendConnection"):
    """pulumi-vault: vault.database.SecretBackendConnection (postgresql)."""

    provider_type = DatabaseConnectionProvider


class DatabaseSecretBackendRole(VaultResource, module="vault", name="DatabaseSecretBackendRole"):
    """pulumi-vault: vault.database.SecretBackendRole."""

    provider_type = DatabaseRoleProvider


class DatabaseSecretBackendStaticRole(VaultResource, module="vault", name="DatabaseSecretBackendStaticRole"):
    """pulumi-vault: vault.database.SecretBackendStaticRole."""

    provider_type = DatabaseStaticRoleProvider

"""Database credentials for ``VaultSecretManager``: dynamic (``creds``) and static (``static-creds``).

A mixin so that the kv client stays as it is; it uses the manager's ``_call`` (fresh token,
retries, typed errors). Passwords are only in the returned records: their ``repr`` hides them and
every error is built with the password among the values scrubbed from the server's message.

https://openbao.org/api-docs/secret/databases/
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import hvac

from .errors import SecretNotFound, VaultSecretsError

T = TypeVar("T")
DEFAULT_DATABASE_MOUNT = "databases"  # infra/config/databases.py's default path


@dataclass(frozen=True)
class Lease:
    id: str
    duration_seconds: int
    renewable: bool


@dataclass(frozen=True)
class DatabaseCredentials:
    username: str
    password: str = field(repr=False)
    lease: Lease | None = None  # None for static credentials: the server rotates them itself
    ttl_seconds: int = 0  # static credentials: seconds until the next rotation


class DatabaseCredentialsMixin:
    """``get_database_credentials``, ``renew_lease``, ``revoke_lease``, ``database_credentials``
    (revoking on exit) and ``get_static_database_credentials``."""

    if TYPE_CHECKING:
        client: hvac.Client

        def _call(self, operation: str, path: str, fn: Callable[[], T], *, sensitive: Iterable[str] = ()) -> T: ...

    def get_database_credentials(self, role: str, mount: str = DEFAULT_DATABASE_MOUNT) -> DatabaseCredentials:
        """New credentials for ``role``: GET /v1/:mount/creds/:role. Raises PermissionDenied,
        SecretNotFound (no such role), AuthenticationFailed or VaultUnavailable."""
        path = f"{mount.strip('/')}/creds/{role}"
        response = self._read_role(path)
        data = response.get("data") or {}
        return DatabaseCredentials(
            username=str(data.get("username", "")),
            password=str(data.get("password", "")),
            lease=Lease(
                id=str(response.get("lease_id", "")),
                duration_seconds=int(response.get("lease_duration") or 0),
                renewable=bool(response.get("renewable")),
            ),
        )

    def get_static_database_credentials(self, role: str, mount: str = DEFAULT_DATABASE_MOUNT) -> DatabaseCredentials:
        """The current password of static role ``role``: GET /v1/:mount/static-creds/:role."""
        path = f"{mount.strip('/')}/static-creds/{role}"
        response = self._read_role(path)
        data = response.get("data") or {}
        return DatabaseCredentials(
            username=str(data.get("username", "")),
            password=str(data.get("password", "")),
            ttl_seconds=int(data.get("ttl") or 0),
        )

    def _read_role(self, path: str) -> dict[str, Any]:
        try:
            response: dict[str, Any] = self._call("read", path, lambda: self.client.adapter.get(f"/v1/{path}"))
        except VaultSecretsError as exc:
            # The engine answers a missing role with a 400 "unknown role", not a 404.
            if type(exc) is VaultSecretsError and "unknown role" in exc.server_message:
                raise SecretNotFound(
                    exc.server_message, operation=exc.operation, path=exc.path, namespace=exc.namespace
                ) from exc
            raise
        return response

    def renew_lease(self, lease: Lease, increment_seconds: int | None = None) -> Lease:
        """PUT /v1/sys/leases/renew; the lease as the server now reports it."""
        body: dict[str, Any] = {"lease_id": lease.id}
        if increment_seconds:
            body["increment"] = increment_seconds
        response: dict[str, Any] = self._call(
            "renew", "sys/leases/renew", lambda: self.client.adapter.put("/v1/sys/leases/renew", json=body)
        )
        return Lease(
            id=str(response.get("lease_id", lease.id)),
            duration_seconds=int(response.get("lease_duration") or 0),
            renewable=bool(response.get("renewable")),
        )

    def revoke_lease(self, lease: Lease) -> None:
        """PUT /v1/sys/leases/revoke: the database user is dropped. Revoking an already revoked
        or expired lease succeeds (the server answers 204 for an unknown lease id)."""
        self._call(
            "revoke",
            "sys/leases/revoke",
            lambda: self.client.adapter.put("/v1/sys/leases/revoke", json={"lease_id": lease.id}),
        )

    @contextmanager
    def database_credentials(self, role: str, mount: str = DEFAULT_DATABASE_MOUNT) -> Iterator[DatabaseCredentials]:
        """``with manager.database_credentials("rag-readonly") as creds:``; revoked on exit."""
        creds = self.get_database_credentials(role, mount)
        try:
            yield creds
        finally:
            if creds.lease is not None:
                self.revoke_lease(creds.lease)

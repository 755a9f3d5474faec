"""Auth methods: /v1/sys/auth/:path (enable, read, disable) and .../tune (update).

https://openbao.org/api-docs/system/auth/
"""

from __future__ import annotations

from typing import Any

from vault_provider.args import AuthBackendArgs
from vault_provider.builtin._client import Api, VaultObjectError
from vault_provider.builtin._provider import VaultProvider, VaultResource
from vault_provider.builtin.mount import TUNE_PINNED, tune_live


class AuthBackendProvider(VaultProvider[AuthBackendArgs]):
    args_type = AuthBackendArgs
    kind = "AuthBackend"
    adopt_kind = "auth"
    replace_on = frozenset({"type", "path", "namespace"})
    pinned = TUNE_PINNED

    def object_path(self, args: AuthBackendArgs) -> str:
        return args.path.strip("/")

    def fetch(self, api: Api, args: AuthBackendArgs) -> dict[str, Any] | None:
        data = api.read(f"sys/auth/{self.object_path(args)}", missing=("No auth engine at",))
        if data is None:
            return None
        config = data.get("config") or {}
        return {
            "type": data.get("type", ""),
            "description": data.get("description", ""),
            "default_lease_ttl_seconds": config.get("default_lease_ttl", 0),
            "max_lease_ttl_seconds": config.get("max_lease_ttl", 0),
        }

    def pinned_live(self, api: Api, args: AuthBackendArgs) -> dict[str, Any]:
        return tune_live(api, f"sys/auth/{self.object_path(args)}")

    def check_adoptable(self, args: AuthBackendArgs, current: AuthBackendArgs) -> None:
        if current.type != args.type:
            raise VaultObjectError(
                f"{self.where(args)} cannot be adopted: it is a {current.type!r} auth method, declared {args.type!r}"
            )

    def write(self, api: Api, args: AuthBackendArgs, current: AuthBackendArgs | None) -> None:
        path = self.object_path(args)
        ttls = {
            "default_lease_ttl": args.default_lease_ttl_seconds,
            "max_lease_ttl": args.max_lease_ttl_seconds,
        }
        if current is None:
            api.write(f"sys/auth/{path}", {"type": args.type, "description": args.description, "config": ttls})
        else:  # tuned in place: disabling would revoke every token it issued
            api.write(f"sys/auth/{path}/tune", {"description": args.description, **ttls, **self.pinned})

    def remove(self, api: Api, args: AuthBackendArgs) -> None:
        api.delete(f"sys/auth/{self.object_path(args)}")


class AuthBackend(VaultResource, module="vault", name="AuthBackend"):
    """pulumi-vault: vault.AuthBackend."""

    provider_type = AuthBackendProvider

"""AppRole roles: POST/GET/DELETE /v1/auth/:backend/role/:role_name (never a secret-id).

https://openbao.org/api-docs/auth/approle/
"""

from __future__ import annotations

from typing import Any, ClassVar

from vault_provider.args import AppRoleRoleArgs
from vault_provider.builtin._provider import EndpointProvider, VaultResource
from vault_provider.builtin.cidr import canonical_cidrs


class AppRoleRoleProvider(EndpointProvider[AppRoleRoleArgs]):
    args_type = AppRoleRoleArgs
    kind = "AppRoleRole"
    adopt_kind = "approle-role"
    pinned: ClassVar[dict[str, Any]] = {"token_num_uses": 0}
    identity = frozenset({"backend", "role_name"})
    replace_on = frozenset({"backend", "role_name", "namespace"})

    def object_path(self, args: AppRoleRoleArgs) -> str:
        return f"{args.backend.strip('/')}/{args.role_name}"

    def api_path(self, args: AppRoleRoleArgs) -> str:
        return f"auth/{args.backend.strip('/')}/role/{args.role_name}"

    def canonical(self, field: str, value: Any) -> Any:
        if field in ("token_bound_cidrs", "secret_id_bound_cidrs"):
            return canonical_cidrs(value)
        return super().canonical(field, value)


class AppRoleRole(VaultResource, module="vault", name="AppRoleRole"):
    """pulumi-vault: vault.approle.AuthBackendRole."""

    provider_type = AppRoleRoleProvider

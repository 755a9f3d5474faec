"""Token roles: POST/GET/DELETE /v1/auth/token/roles/:role_name.

https://openbao.org/api-docs/auth/token/
"""

from __future__ import annotations

from typing import Any, ClassVar

from vault_provider.args import TokenRoleArgs
from vault_provider.builtin._provider import EndpointProvider, VaultResource


class TokenRoleProvider(EndpointProvider[TokenRoleArgs]):
    args_type = TokenRoleArgs
    kind = "TokenRole"
    adopt_kind = "token-role"
    # A glob of allowed policies would let the role's children carry any matching policy.
    pinned: ClassVar[dict[str, Any]] = {
        "allowed_policies_glob": [],
        "disallowed_policies_glob": [],
        "token_num_uses": 0,
    }
    identity = frozenset({"role_name"})
    replace_on = frozenset({"role_name", "namespace"})

    def object_path(self, args: TokenRoleArgs) -> str:
        return args.role_name

    def api_path(self, args: TokenRoleArgs) -> str:
        return f"auth/token/roles/{args.role_name}"

    def validate(self, args: TokenRoleArgs) -> list[tuple[str, str]]:
        # The token store accepts token_ttl and token_max_ttl on a role and ignores them: tokens
        # would get the mount's 32-day default while the declaration promises less.
        return [
            (
                field,
                "token roles ignore it (tokens would get the 32-day default); "
                "cap tokens with token_explicit_max_ttl or token_period instead",
            )
            for field in ("token_ttl", "token_max_ttl")
            if getattr(args, field)
        ]

    def body(self, args: TokenRoleArgs) -> dict[str, Any]:
        body = super().body(args)
        if body["token_type"] == "default":
            # The records say "default" like every other role; the token store only knows
            # "default-service" (and "default-batch") for it.
            body["token_type"] = "default-service"
        return body

    def canonical(self, field: str, value: Any) -> Any:
        # The token store lowercases policy names, and stores token_type "default" as
        # "default-service": neither is a change.
        if field in ("allowed_policies", "disallowed_policies"):
            return frozenset(p.lower() for p in value)
        if field == "token_type" and value == "default":
            return "default-service"
        return super().canonical(field, value)


class TokenRole(VaultResource, module="vault", name="TokenRole"):
    """pulumi-vault: vault.tokenauth.AuthBackendRole."""

    provider_type = TokenRoleProvider

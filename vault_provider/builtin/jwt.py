"""JWT/OIDC auth: the method's config (/v1/auth/:path/config) and its roles
(/v1/auth/:backend/role/:role_name).

https://openbao.org/api-docs/auth/jwt/
"""

from __future__ import annotations

from typing import Any, ClassVar

from vault_provider.args import JwtAuthConfigArgs, JwtAuthRoleArgs
from vault_provider.builtin._client import Api
from vault_provider.builtin._provider import EndpointProvider, VaultResource
from vault_provider.builtin.cidr import canonical_cidrs


class JwtAuthConfigProvider(EndpointProvider[JwtAuthConfigArgs]):
    """The config part of pulumi-vault's jwt.AuthBackend. A part of the auth method: adopted
    with it (`auth:<ns>:<path>`), gone with it.

    OpenBao fetches ``oidc_discovery_url`` when the config is written (so it must be reachable
    from the server). A write replaces the whole config.
    """

    args_type = JwtAuthConfigArgs
    kind = "JwtAuthConfig"
    adopt_kind = "auth"
    # Keys or CAs the program does not set: with them a token signed elsewhere would verify.
    pinned: ClassVar[dict[str, Any]] = {
        "jwt_validation_pubkeys": [],
        "oidc_discovery_ca_pem": "",
        "jwks_url": "",
        "jwks_ca_pem": "",
    }
    identity = frozenset({"path"})
    replace_on = frozenset({"path", "namespace"})

    def object_path(self, args: JwtAuthConfigArgs) -> str:
        return args.path.strip("/")

    def api_path(self, args: JwtAuthConfigArgs) -> str:
        return f"auth/{self.object_path(args)}/config"

    def body(self, args: JwtAuthConfigArgs) -> dict[str, Any]:
        body = super().body(args)
        if not body["default_role"]:
            del body["default_role"]  # unset, not a role named ""
        return body

    def remove(self, api: Api, args: JwtAuthConfigArgs) -> None:
        # There is no DELETE for the config, and an empty config does not validate: it goes
        # with its auth method (pulumi-vault's generic.Endpoint for it sets disable_delete too).
        return


class JwtAuthRoleProvider(EndpointProvider[JwtAuthRoleArgs]):
    args_type = JwtAuthRoleArgs
    kind = "JwtAuthRole"
    adopt_kind = "jwt-role"
    # OpenBao's defaults; wider leeways accept expired tokens, token_num_uses limits nothing we rely on.
    pinned: ClassVar[dict[str, Any]] = {
        "token_num_uses": 0,
        "clock_skew_leeway": 60,
        "expiration_leeway": 150,
        "not_before_leeway": 150,
    }
    identity = frozenset({"backend", "role_name"})
    replace_on = frozenset({"backend", "role_name", "namespace"})

    def object_path(self, args: JwtAuthRoleArgs) -> str:
        return f"{args.backend.strip('/')}/{args.role_name}"

    def api_path(self, args: JwtAuthRoleArgs) -> str:
        return f"auth/{args.backend.strip('/')}/role/{args.role_name}"

    def canonical(self, field: str, value: Any) -> Any:
        if field == "token_bound_cidrs":
            return canonical_cidrs(value)
        return super().canonical(field, value)


class JwtAuthConfig(VaultResource, module="vault", name="JwtAuthConfig"):
    """pulumi-vault: vault.jwt.AuthBackend (its config fields)."""

    provider_type = JwtAuthConfigProvider


class JwtAuthRole(VaultResource, module="vault", name="JwtAuthRole"):
    """pulumi-vault: vault.jwt.AuthBackendRole."""

    provider_type = JwtAuthRoleProvider

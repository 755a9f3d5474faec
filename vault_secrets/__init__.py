"""Secrets client for the LLM platform's Vault/OpenBao (see docs/client.md)."""

from .auth import (
    AppRoleAuth,
    AuthMethod,
    Credentials,
    GitHubOidcAuth,
    TokenAuth,
    auth_from_env,
    fetch_github_id_token,
)
from .client import READONLY_TOKEN_ROLE, VaultSecretManager
from .errors import (
    AuthenticationFailed,
    PermissionDenied,
    SecretNotFound,
    VaultSecretsError,
    VaultUnavailable,
)

__all__ = [
    "READONLY_TOKEN_ROLE",
    "AppRoleAuth",
    "AuthMethod",
    "AuthenticationFailed",
    "Credentials",
    "GitHubOidcAuth",
    "PermissionDenied",
    "SecretNotFound",
    "TokenAuth",
    "VaultSecretManager",
    "VaultSecretsError",
    "VaultUnavailable",
    "auth_from_env",
    "fetch_github_id_token",
]

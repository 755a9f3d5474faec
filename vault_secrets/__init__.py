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
from .diagnose import Check, Diagnosis, diagnose
from .errors import (
    ApiKeyNotFound,
    AuthenticationFailed,
    PermissionDenied,
    SecretNotFound,
    VaultSecretsError,
    VaultUnavailable,
)

__all__ = [
    "READONLY_TOKEN_ROLE",
    "ApiKeyNotFound",
    "AppRoleAuth",
    "AuthMethod",
    "AuthenticationFailed",
    "Check",
    "Credentials",
    "Diagnosis",
    "GitHubOidcAuth",
    "PermissionDenied",
    "SecretNotFound",
    "TokenAuth",
    "VaultSecretManager",
    "VaultSecretsError",
    "VaultUnavailable",
    "auth_from_env",
    "diagnose",
    "fetch_github_id_token",
]

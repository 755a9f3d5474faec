"""How the client gets a token: one small strategy object per login method.

A strategy's ``login(client)`` talks to the server (or, for GitHub Actions, first to the runner's
ID-token endpoint) and returns :class:`Credentials`. It does not touch ``client.token``: the
manager installs the new token only once the login succeeded. ``can_relogin`` says whether the
manager may call ``login`` again when the current token can no longer be renewed; a static token
cannot be re-obtained, a login method can. ``sensitive()`` lists the strings the manager scrubs
from every error message.

API pages: AppRole https://openbao.org/api-docs/auth/approle/#login-with-approle,
JWT https://openbao.org/api-docs/auth/jwt/#jwt-login.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import hvac
import requests

from .errors import AuthenticationFailed
from .settings import env_setting

GITHUB_REQUEST_URL_ENV = "ACTIONS_ID_TOKEN_REQUEST_URL"
GITHUB_REQUEST_TOKEN_ENV = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
# The runner's token service answers in well under a second; a hung request must not hold a job.
ID_TOKEN_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Credentials:
    """A token and what the login told about it (None: unknown, the manager looks it up)."""

    token: str = field(repr=False)
    accessor: str | None = None
    ttl: int | None = None  # seconds; 0 means the token never expires
    renewable: bool | None = None


class AuthMethod(Protocol):
    """What the manager needs from a login method."""

    @property
    def name(self) -> str: ...

    @property
    def can_relogin(self) -> bool: ...

    def login(self, client: hvac.Client) -> Credentials: ...

    def sensitive(self) -> tuple[str, ...]: ...


def _credentials(response: Any) -> Credentials:
    auth = response["auth"]
    return Credentials(
        token=auth["client_token"],
        accessor=auth.get("accessor"),
        ttl=int(auth.get("lease_duration") or 0),
        renewable=bool(auth.get("renewable")),
    )


@dataclass(frozen=True)
class TokenAuth:
    """A token handed to the process (``VAULT_TOKEN``/``BAO_TOKEN`` or a parameter).

    It can be renewed while renewable but never obtained again: once it expires, operations raise
    :class:`AuthenticationFailed`.
    """

    token: str = field(repr=False)
    name: str = "token"
    can_relogin: bool = False

    def login(self, client: hvac.Client) -> Credentials:
        # Nothing to send: the manager validates the token with lookup-self.
        return Credentials(token=self.token)

    def sensitive(self) -> tuple[str, ...]:
        return (self.token,)


@dataclass(frozen=True)
class AppRoleAuth:
    """AppRole login: POST /v1/auth/:mount_path/login with role_id and secret_id (the model runner)."""

    role_id: str = field(repr=False)
    secret_id: str = field(repr=False)
    mount_path: str = "approle"
    name: str = "approle"
    can_relogin: bool = True

    def login(self, client: hvac.Client) -> Credentials:
        return _credentials(
            client.auth.approle.login(
                role_id=self.role_id, secret_id=self.secret_id, use_token=False, mount_point=self.mount_path
            )
        )

    def sensitive(self) -> tuple[str, ...]:
        return (self.role_id, self.secret_id)


def fetch_github_id_token(
    audience: str,
    *,
    request_url: str | None = None,
    request_token: str | None = None,
    environ: Mapping[str, str] | None = None,
    timeout: float = ID_TOKEN_TIMEOUT_SECONDS,
) -> str:
    """A GitHub Actions OIDC ID token (a JWT) for ``audience``.

    GET ``$ACTIONS_ID_TOKEN_REQUEST_URL&audience=<audience>`` with
    ``Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN``; the answer is ``{"value": <jwt>}``.
    The audience is always sent: without it GitHub uses the repository owner's URL, which a
    Vault role should not have to accept.

    Raises :class:`AuthenticationFailed` when the variables are missing (the job lacks
    ``permissions: id-token: write``) or the endpoint refuses; connection errors propagate as
    ``requests`` exceptions so the caller's retry policy applies.
    """
    if not audience:
        raise ValueError("audience must be given explicitly")
    env = os.environ if environ is None else environ
    url = request_url or env.get(GITHUB_REQUEST_URL_ENV, "")
    bearer = request_token or env.get(GITHUB_REQUEST_TOKEN_ENV, "")
    if not url or not bearer:
        raise AuthenticationFailed(
            f"{GITHUB_REQUEST_URL_ENV} and {GITHUB_REQUEST_TOKEN_ENV} must be set: "
            "give the job `permissions: id-token: write`",
            operation="fetch GitHub OIDC token",
        )
    # The runner's URL already carries a query string (api-version); append to it.
    full = f"{url}{'&' if '?' in url else '?'}audience={quote(audience, safe='')}"
    response = requests.get(full, headers={"Authorization": f"bearer {bearer}"}, timeout=timeout)
    if response.status_code != 200:
        raise AuthenticationFailed(
            f"token endpoint answered HTTP {response.status_code}",
            operation="fetch GitHub OIDC token",
            sensitive=(bearer,),
        )
    try:
        value = response.json()["value"]
    except (ValueError, KeyError, TypeError):
        value = None
    if not isinstance(value, str) or not value:
        raise AuthenticationFailed("token endpoint gave no 'value'", operation="fetch GitHub OIDC token")
    return value


@dataclass(frozen=True)
class GitHubOidcAuth:
    """GitHub Actions OIDC: fetch an ID token for ``audience``, then POST /v1/auth/:mount_path/login.

    Every login fetches a fresh ID token (they live minutes), so re-login works for the whole job.
    ``request_url``/``request_token`` default to the runner's ``ACTIONS_ID_TOKEN_REQUEST_*``
    variables, read at login time.
    """

    role: str
    audience: str
    mount_path: str = "jwt"
    request_url: str | None = None
    request_token: str | None = field(default=None, repr=False)
    name: str = "github-oidc"
    can_relogin: bool = True

    def __post_init__(self) -> None:
        if not self.role or not self.audience:
            raise ValueError("GitHubOidcAuth needs an explicit role and audience")

    def login(self, client: hvac.Client) -> Credentials:
        jwt = fetch_github_id_token(self.audience, request_url=self.request_url, request_token=self.request_token)
        return _credentials(client.auth.jwt.jwt_login(role=self.role, jwt=jwt, use_token=False, path=self.mount_path))

    def sensitive(self) -> tuple[str, ...]:
        bearer = self.request_token or os.environ.get(GITHUB_REQUEST_TOKEN_ENV, "")
        return (bearer,) if bearer else ()


def auth_from_env(environ: Mapping[str, str] | None = None) -> AuthMethod | None:
    """AppRole when ``VAULT_ROLE_ID`` and ``VAULT_SECRET_ID`` (or ``BAO_*``) are set, else None.

    None means "use the token from the environment", which is what ``VaultSecretManager()`` does
    without ``auth=``. ``VAULT_APPROLE_PATH`` (or ``BAO_``) overrides the mount path.
    """
    role_id = env_setting("ROLE_ID", environ)
    secret_id = env_setting("SECRET_ID", environ)
    if role_id and secret_id:
        return AppRoleAuth(
            role_id=role_id, secret_id=secret_id, mount_path=env_setting("APPROLE_PATH", environ) or "approle"
        )
    return None

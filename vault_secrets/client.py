"""``VaultSecretManager``: the LLM platform's secrets client over hvac.

It keeps the original interface (names, parameters, defaults, return values) and adds namespaces,
login methods (token, AppRole, GitHub Actions OIDC), token renewal and re-login, typed errors and
bounded retries. Each public method's docstring names the HTTP method and API path it uses.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar, overload

import hvac
import hvac.exceptions as hvac_errors
import requests

from .auth import AppRoleAuth, AuthMethod, Credentials, GitHubOidcAuth, TokenAuth
from .database import DatabaseCredentialsMixin
from .diagnose import Diagnosis, diagnose
from .errors import (
    ApiKeyNotFound,
    AuthenticationFailed,
    PermissionDenied,
    SecretNotFound,
    VaultSecretsError,
    VaultUnavailable,
)
from .http import guarded_session, scrub
from .settings import resolve_addr, resolve_namespace, resolve_token, resolve_verify

log = logging.getLogger("vault_secrets")

T = TypeVar("T")

API_KEYS_PATH = "api-keys"
MODEL_CREDENTIAL_KEYS = ("huggingface_token", "openai_key", "anthropic_key")
# The original client's naming: a hub token for Hugging Face, an API key for everyone else.
API_KEY_NAMES = {"huggingface": "huggingface_token"}
# The token role the Pulumi program declares (infra/components/short_lived_tokens.py): it caps
# a child's policies at openai-llm-readonly whatever its parent holds.
READONLY_TOKEN_ROLE = "openai-llm-readonly"

# Failures worth another try: the request may succeed unchanged a moment later (a standby or
# sealed node answers 503/429, a restarting server refuses connections, a proxy answers 502).
_TRANSIENT_HVAC: tuple[type[Exception], ...] = (
    hvac_errors.InternalServerError,
    hvac_errors.BadGateway,
    hvac_errors.VaultDown,
    hvac_errors.RateLimitExceeded,
)
# During a login, a refusal comes as 400 (bad credentials), 403 (bad token) or 404 (no such mount).
_LOGIN_REFUSED: tuple[type[Exception], ...] = (
    hvac_errors.InvalidRequest,
    hvac_errors.Forbidden,
    hvac_errors.InvalidPath,
)
_TRANSIENT_HTTP: tuple[type[Exception], ...] = (requests.ConnectionError, requests.Timeout)
# The longest single wait between retries; with the default 3 retries the worst case is ~3.5 s.
MAX_BACKOFF_SECONDS = 8.0
_jitter = secrets.SystemRandom()


@dataclass
class _TokenState:
    accessor: str | None
    creation_ttl: int  # seconds granted at login (or creation); 0: never expires
    renewable: bool
    expires_at: float | None  # monotonic clock; None: never expires
    warned: bool = False  # "cannot be extended" said once per token, not on every call


def _one_of(name: str, value: T | None, alias: str, alias_value: T | None) -> T | None:
    """A parameter given under our name or the original's, not both with different values."""
    if value is not None and alias_value is not None and value != alias_value:
        raise TypeError(f"pass {name} or {alias} (its original name), not both")
    return value if value is not None else alias_value


def _revoke_quietly(client: hvac.Client) -> None:
    """Revoke-self for a manager that was never closed; nothing to report to at that point."""
    # Exit-time hygiene, swallowed whole: the token still ends at its TTL.
    with contextlib.suppress(Exception):
        client.auth.token.revoke_self()


class VaultSecretManager(DatabaseCredentialsMixin):
    """Read and write the platform's secrets in a kv-v2 mount, with a token that stays valid.

    ``VaultSecretManager()`` behaves as it always did: address and token from ``VAULT_ADDR`` and
    ``VAULT_TOKEN`` (``BAO_ADDR``/``BAO_TOKEN`` also work; ``VAULT_*`` wins when both are set),
    mount ``openai-llm``. New: ``namespace=`` (default ``VAULT_NAMESPACE``/``BAO_NAMESPACE``) and
    ``auth=`` a login strategy, or the classmethods :meth:`from_approle`,
    :meth:`from_github_actions` and :meth:`from_token`.

    The constructor authenticates at once (login, or lookup-self for a token) and raises
    :class:`AuthenticationFailed` or :class:`VaultUnavailable` rather than failing later.

    Before each operation the token is renewed when less than ``renew_threshold_seconds`` (at
    most half the TTL it was issued with) remain; when renewal can no longer extend it (max TTL
    reached, not renewable, revoked) the manager logs in again if its method allows that (AppRole,
    GitHub OIDC). A static token is used until it expires, then operations raise
    :class:`AuthenticationFailed`.

    Transient failures (connection errors, timeouts, 500/502/503, 429) are retried ``retries``
    times with exponential backoff and jitter, then raise :class:`VaultUnavailable`.

    ``client`` is the underlying ``hvac.Client``: calls made through it bypass renewal, retries and
    error mapping.

    The original keyword names ``vault_url=`` and ``token=`` are accepted as well (positional
    arguments were always address, token).

    ``revoke_on_close``: :meth:`close` (and leaving a ``with`` block) revokes the token
    (``auth/token/revoke-self``). Default: revoke tokens this manager logged in for (AppRole,
    GitHub OIDC), so that a CI job's token ends with the job; keep a token that was handed in,
    which belongs to the caller.
    """

    def __init__(
        self,
        vault_addr: str | None = None,
        vault_token: str | None = None,
        mount_point: str = "openai-llm",
        *,
        namespace: str | None = None,
        auth: AuthMethod | None = None,
        verify: bool | str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff_seconds: float = 0.5,
        renew_threshold_seconds: float = 300.0,
        revoke_on_close: bool | None = None,
        vault_url: str | None = None,
        token: str | None = None,
    ) -> None:
        vault_addr = _one_of("vault_addr", vault_addr, "vault_url", vault_url)
        vault_token = _one_of("vault_token", vault_token, "token", token)
        if vault_token is not None and auth is not None:
            raise ValueError("pass either vault_token or auth, not both")
        if retries < 0 or backoff_seconds < 0 or renew_threshold_seconds < 0:
            raise ValueError("retries, backoff_seconds and renew_threshold_seconds must not be negative")
        self.vault_addr = resolve_addr(vault_addr)
        self.namespace = resolve_namespace(namespace)
        self.mount_point = mount_point.strip("/")
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.renew_threshold_seconds = renew_threshold_seconds
        if auth is None:
            token = resolve_token(vault_token)
            if not token:
                raise AuthenticationFailed(
                    "no token: pass vault_token= or auth=, or set VAULT_TOKEN (or BAO_TOKEN)",
                    operation="login",
                    namespace=self.namespace,
                )
            auth = TokenAuth(token)
        self.auth: AuthMethod = auth
        self.revoke_on_close = auth.can_relogin if revoke_on_close is None else revoke_on_close
        # token="": without it hvac falls back to VAULT_TOKEN or ~/.vault-token on its own, behind
        # the login method's back. The login below installs the token.
        self.verify = resolve_verify(verify)
        self.timeout = timeout
        self.client = hvac.Client(
            url=self.vault_addr,
            token="",
            namespace=self.namespace,
            verify=self.verify,
            timeout=timeout,
            session=guarded_session(self.verify),  # no redirect to another server: it would carry the token
        )
        self._lock = threading.RLock()
        self._state: _TokenState | None = None
        # Seams for the unit tests: waiting and the clock.
        self._sleep: Callable[[float], None] = time.sleep
        self._clock: Callable[[], float] = time.monotonic
        self.login()
        # A manager never closed (a script that just ends) still revokes its login token: at
        # interpreter exit, or when it is garbage-collected. The callback holds the hvac client,
        # not the manager, so it reads the token current at that moment (after any re-login).
        self._finalizer = weakref.finalize(self, _revoke_quietly, self.client) if self.revoke_on_close else None

    # -- constructors for each login method ---------------------------------------------------

    @classmethod
    def from_token(cls, token: str, **kwargs: Any) -> VaultSecretManager:
        """A manager using ``token`` (renewed while renewable, never re-obtained)."""
        return cls(auth=TokenAuth(token), **kwargs)

    @classmethod
    def from_approle(
        cls, role_id: str, secret_id: str, *, mount_path: str = "approle", **kwargs: Any
    ) -> VaultSecretManager:
        """A manager that logs in with AppRole (POST /v1/auth/:mount_path/login), again when needed."""
        return cls(auth=AppRoleAuth(role_id=role_id, secret_id=secret_id, mount_path=mount_path), **kwargs)

    @classmethod
    def from_github_actions(
        cls, role: str, audience: str, *, mount_path: str = "jwt", **kwargs: Any
    ) -> VaultSecretManager:
        """A manager that logs in with the job's GitHub OIDC ID token for ``audience`` as JWT ``role``."""
        return cls(auth=GitHubOidcAuth(role=role, audience=audience, mount_path=mount_path), **kwargs)

    # -- token lifecycle ----------------------------------------------------------------------

    def login(self) -> None:
        """Obtain a token through the login method and install it.

        For a token: GET /v1/auth/token/lookup-self validates it and reads its TTL. Raises
        :class:`AuthenticationFailed` (refused, invalid token) or :class:`VaultUnavailable`.
        """
        with self._lock:
            started = self._clock()
            creds: Credentials = self._with_retries(
                "login", f"auth method {self.auth.name}", lambda: self.auth.login(self.client), auth_step=True
            )
            self.client.token = creds.token
            if creds.ttl is None:
                info = self._with_retries(
                    "login", "auth/token/lookup-self", self.client.auth.token.lookup_self, auth_step=True
                )["data"]
                ttl = int(info.get("ttl") or 0)
                creation_ttl = int(info.get("creation_ttl") or ttl)
                accessor, renewable = info.get("accessor"), bool(info.get("renewable"))
            else:
                ttl = creation_ttl = creds.ttl
                accessor, renewable = creds.accessor, bool(creds.renewable)
            self._state = _TokenState(
                accessor=accessor,
                creation_ttl=creation_ttl,
                renewable=renewable,
                expires_at=started + ttl if ttl > 0 else None,
            )
            log.info(
                "logged in (%s): token TTL %s, renewable=%s",
                self.auth.name,
                f"{ttl}s" if ttl else "unlimited",
                renewable,
            )

    def renew_token(self) -> int:
        """Renew the current token: PUT /v1/auth/token/renew-self. Returns the new TTL in seconds.

        The server may grant less than asked (the token's max TTL); see :meth:`token_expires_in`.
        Raises :class:`AuthenticationFailed`/:class:`PermissionDenied` when the token cannot be
        renewed, :class:`VaultUnavailable` on transient failures.
        """
        with self._lock:
            started = self._clock()
            auth = self._with_retries("renew", "auth/token/renew-self", self.client.auth.token.renew_self)["auth"]
            ttl = int(auth.get("lease_duration") or 0)
            state = self._require_state()
            state.renewable = bool(auth.get("renewable"))
            state.expires_at = started + ttl if ttl > 0 else None
            log.info("renewed token: TTL now %ss", ttl)
            return ttl

    @property
    def token_accessor(self) -> str | None:
        """The current token's accessor (not a secret: it can look up and revoke, not authenticate)."""
        return self._state.accessor if self._state else None

    def token_expires_in(self) -> float | None:
        """Seconds until the current token expires (by the client's clock); None: it never expires."""
        state = self._require_state()
        return None if state.expires_at is None else state.expires_at - self._clock()

    def _require_state(self) -> _TokenState:
        if self._state is None:
            self.login()
        assert self._state is not None
        return self._state

    def _threshold(self, state: _TokenState) -> float:
        # Half the issued TTL at most: a 10-second token would otherwise be renewed on every call.
        return min(self.renew_threshold_seconds, state.creation_ttl / 2)

    def _ensure_fresh(self) -> None:
        """Renew the token when it is close to expiry; log in again when renewal no longer helps."""
        with self._lock:
            state = self._require_state()
            if state.expires_at is None:
                return
            threshold = self._threshold(state)
            remaining = state.expires_at - self._clock()
            if remaining > threshold:
                return
            if remaining > 0 and state.renewable:
                try:
                    if self.renew_token() > threshold:
                        return
                    # Capped by the max TTL: renewing again would not push expiry out.
                    state.renewable = False
                except (AuthenticationFailed, PermissionDenied) as exc:
                    log.info("token renewal refused (%s)", type(exc).__name__)
            if self.auth.can_relogin:
                self.login()
                return
            if remaining <= 0:
                raise AuthenticationFailed(
                    "the token has expired and the token login method cannot obtain a new one",
                    operation="renew",
                    namespace=self.namespace,
                )
            if not state.warned:
                state.warned = True
                log.warning("token expires in %.0fs and cannot be extended; no login method to replace it", remaining)

    def _token_is_dead(self) -> bool:
        """After a 403: is the token itself invalid (expired, revoked) rather than lacking a policy?"""
        try:
            self._with_retries("lookup", "auth/token/lookup-self", self.client.auth.token.lookup_self)
        except (PermissionDenied, AuthenticationFailed):
            return True
        except VaultSecretsError:
            return False
        return False

    # -- request plumbing ---------------------------------------------------------------------

    def _sensitive(self, extra: Iterable[str]) -> list[str]:
        token = self.client.token if isinstance(self.client.token, str) else ""
        return [token, *self.auth.sensitive(), *extra]

    def _map_error(
        self, exc: Exception, operation: str, path: str, *, auth_step: bool, sensitive: Iterable[str]
    ) -> VaultSecretsError:
        if isinstance(exc, requests.RequestException):
            # The prepared request holds the X-Vault-Token header; keep it from travelling
            # with the exception chain into error reports.
            exc.request = None
            message = f"{type(exc).__name__}: {exc}"
        elif isinstance(exc, hvac_errors.VaultError):
            message = (
                ", ".join(str(e) for e in exc.errors)
                if exc.errors
                else (exc.args[0] if exc.args and isinstance(exc.args[0], str) else "")
            )
        else:
            message = str(exc)
        cls: type[VaultSecretsError]
        if isinstance(exc, hvac_errors.Unauthorized) or (auth_step and isinstance(exc, _LOGIN_REFUSED)):
            cls = AuthenticationFailed
        elif isinstance(exc, hvac_errors.Forbidden):
            cls = PermissionDenied
        elif isinstance(exc, hvac_errors.InvalidPath):
            cls = SecretNotFound
        elif isinstance(exc, (*_TRANSIENT_HVAC, *_TRANSIENT_HTTP, hvac_errors.VaultNotInitialized)):
            cls = VaultUnavailable
        else:
            cls = VaultSecretsError
        return cls(
            message,
            operation=operation,
            path=path,
            namespace=self.namespace,
            sensitive=self._sensitive(sensitive),
        )

    def _with_retries(
        self,
        operation: str,
        path: str,
        fn: Callable[[], T],
        *,
        auth_step: bool = False,
        sensitive: Iterable[str] = (),
    ) -> T:
        """``fn()`` with bounded retries on transient failures and typed errors for the rest."""
        attempt = 0
        while True:
            try:
                return fn()
            except VaultSecretsError:
                raise  # already typed (our errors also subclass hvac's and requests')
            except (*_TRANSIENT_HVAC, *_TRANSIENT_HTTP) as exc:
                scrub(exc)  # the cause chain keeps the request, and the request the token
                if attempt >= self.retries:
                    raise self._map_error(exc, operation, path, auth_step=auth_step, sensitive=sensitive) from exc
                delay = min(MAX_BACKOFF_SECONDS, self.backoff_seconds * 2**attempt)
                delay *= 0.5 + _jitter.random() / 2  # jitter: clients restarted together spread out
                log.info(
                    "%s %s: %s, retry %d/%d in %.2fs",
                    operation,
                    path,
                    type(exc).__name__,
                    attempt + 1,
                    self.retries,
                    delay,
                )
                self._sleep(delay)
                attempt += 1
            except (hvac_errors.VaultError, requests.RequestException) as exc:
                scrub(exc)
                raise self._map_error(exc, operation, path, auth_step=auth_step, sensitive=sensitive) from exc

    def _call(self, operation: str, path: str, fn: Callable[[], T], *, sensitive: Iterable[str] = ()) -> T:
        """An authenticated operation: fresh token first; one re-login when a 403 means a dead token."""
        self._ensure_fresh()
        token_used = self.client.token
        try:
            return self._with_retries(operation, path, fn, sensitive=sensitive)
        except PermissionDenied as denied:
            if self.client.token != token_used:
                # Another thread logged in while this request was on its way: try the new token.
                return self._with_retries(operation, path, fn, sensitive=sensitive)
            # Vault answers 403 both for a missing policy and for a revoked or expired token.
            if not self._token_is_dead():
                raise
            if not self.auth.can_relogin:
                raise AuthenticationFailed(
                    "the token is invalid, expired or revoked",
                    operation=operation,
                    path=path,
                    namespace=self.namespace,
                ) from denied
            log.info("token no longer valid; logging in again (%s)", self.auth.name)
            self.login()
            return self._with_retries(operation, path, fn, sensitive=sensitive)

    def _where(self, path: str) -> str:
        return f"{self.mount_point}/{path.strip('/')}".rstrip("/")

    # -- the original interface ---------------------------------------------------------------

    @overload
    def read_secret(self, path: str, key: None = None) -> dict[str, Any]: ...
    @overload
    def read_secret(self, path: str, key: str) -> Any | None: ...

    def read_secret(self, path: str, key: str | None = None) -> dict[str, Any] | Any | None:
        """The latest version of the secret at ``path``: all of its data, or the value of ``key``.

        GET /v1/:mount/data/:path. Returns None when ``key`` is given and the secret lacks it.
        Raises :class:`SecretNotFound` when no live version exists at ``path`` (never written,
        deleted), :class:`PermissionDenied`, :class:`AuthenticationFailed`, :class:`VaultUnavailable`.
        """
        where = self._where(path)
        response = self._call(
            "read",
            where,
            lambda: self.client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=self.mount_point, raise_on_deleted_version=True
            ),
        )
        data = (response.get("data") or {}).get("data")
        if data is None:  # a destroyed version: metadata without data
            raise SecretNotFound("latest version is destroyed", operation="read", path=where, namespace=self.namespace)
        if key is None:
            return dict(data)
        return data.get(key)

    def write_secret(
        self, path: str, data: Mapping[str, Any] | None = None, *, secret_data: Mapping[str, Any] | None = None
    ) -> bool:
        """Write ``data`` as a new version of the secret at ``path``: POST /v1/:mount/data/:path.

        ``secret_data=`` is the original keyword name for ``data``. Returns True.
        Raises :class:`PermissionDenied`, :class:`AuthenticationFailed`,
        :class:`VaultUnavailable` or :class:`VaultSecretsError`; no error carries a value of ``data``.
        """
        data = _one_of("data", data, "secret_data", secret_data)
        if not isinstance(data, Mapping):
            raise TypeError("data must be a mapping of key to value")
        values = [v for v in data.values() if isinstance(v, str)]
        self._call(
            "write",
            self._where(path),
            lambda: self.client.secrets.kv.v2.create_or_update_secret(
                path=path, secret=dict(data), mount_point=self.mount_point
            ),
            sensitive=values,
        )
        return True

    def list_secrets(self, path: str = "") -> list[str]:
        """Names under ``path`` (folders end in ``/``): LIST /v1/:mount/metadata/:path.

        Returns ``[]`` when nothing is there (kv-v2 does not tell an empty folder from a missing
        one). Raises :class:`PermissionDenied`, :class:`AuthenticationFailed`, :class:`VaultUnavailable`.
        """
        try:
            response = self._call(
                "list",
                self._where(path),
                lambda: self.client.secrets.kv.v2.list_secrets(path=path, mount_point=self.mount_point),
            )
        except SecretNotFound:
            return []
        return list(response["data"]["keys"])

    def delete_secret(self, path: str, *, permanent: bool = False) -> bool:
        """Delete the secret at ``path``; returns True, also when nothing was there.

        Default: DELETE /v1/:mount/data/:path, a soft delete of the latest version. Reads then
        raise :class:`SecretNotFound`, the name stays listed and the version can be restored
        (``undelete``); this is what the operator policy allows. ``permanent=True``: DELETE
        /v1/:mount/metadata/:path removes every version and the name for good (admins only).
        Raises :class:`PermissionDenied`, :class:`AuthenticationFailed`, :class:`VaultUnavailable`.
        """
        kv2 = self.client.secrets.kv.v2
        self._call(
            "delete permanently" if permanent else "delete",
            self._where(path),
            (lambda: kv2.delete_metadata_and_all_versions(path=path, mount_point=self.mount_point))
            if permanent
            else (lambda: kv2.delete_latest_version_of_secret(path=path, mount_point=self.mount_point)),
        )
        return True

    def get_api_key(self, service: str) -> str:
        """The ``api-keys`` secret's key for ``service``: ``huggingface_token`` for ``"huggingface"``,
        ``<service>_key`` for every other service (the original's mapping). GET /v1/:mount/data/api-keys.

        Raises :class:`ApiKeyNotFound` (a ``ValueError`` and ``KeyError``, message "API key not
        found for service: ...") when the key is absent, :class:`SecretNotFound` when ``api-keys``
        itself is missing, and the errors of :meth:`read_secret`.
        """
        key = API_KEY_NAMES.get(service, f"{service}_key")
        value = self.read_secret(API_KEYS_PATH, key)
        if value is None:
            raise ApiKeyNotFound(service, key, path=self._where(API_KEYS_PATH), namespace=self.namespace)
        return str(value)

    def get_model_credentials(self) -> dict[str, str | None]:
        """``huggingface_token``, ``openai_key`` and ``anthropic_key`` from ``api-keys`` (None when absent).

        One read of ``api-keys``; raises as :meth:`read_secret` does.
        """
        data = self.read_secret(API_KEYS_PATH)
        return {name: (None if data.get(name) is None else str(data[name])) for name in MODEL_CREDENTIAL_KEYS}

    def get_short_lived_token(self, ttl: str = "1h", *, role: str = READONLY_TOKEN_ROLE) -> str:
        """A child token created through token role ``role``: POST /v1/auth/token/create/:role.

        The role (``openai-llm-readonly``, declared by the Pulumi program) sets its policies; the
        caller needs only ``update`` on that path. The child is revoked with its parent: a child of
        an AppRole or OIDC login token dies when that login token expires, whatever ``ttl`` says.
        Returns the token string. Raises :class:`PermissionDenied`, :class:`AuthenticationFailed`,
        :class:`VaultUnavailable`, or :class:`VaultSecretsError` (e.g. the role does not exist).
        """
        response = self._call(
            "create token",
            f"auth/token/create/{role}",
            lambda: self.client.auth.token.create(role_name=role, ttl=ttl),
        )
        return str(response["auth"]["client_token"])

    # -- housekeeping -------------------------------------------------------------------------

    def revoke_token(self) -> None:
        """Revoke the current token (and its children): POST /v1/auth/token/revoke-self.

        The manager logs in again on its next call if its method can (AppRole, OIDC).
        Raises :class:`AuthenticationFailed` when the token is already dead, :class:`VaultUnavailable`.
        """
        with self._lock:
            self._with_retries("revoke", "auth/token/revoke-self", self.client.auth.token.revoke_self)
            self._state = None

    def close(self) -> None:
        """Revoke the token when ``revoke_on_close`` says so, then close the HTTP session.

        A failed revocation is logged, not raised: ``close`` runs on the way out, often while
        another error is propagating, and the token still dies at the end of its TTL.
        """
        if self._finalizer is not None:
            self._finalizer.detach()
        if self.revoke_on_close and self._state is not None:
            try:
                self.revoke_token()
                log.info("revoked the token (%s) on close", self.auth.name)
            except VaultSecretsError as exc:
                log.warning("could not revoke the token on close: %s", type(exc).__name__)
        self.client.adapter.close()

    def diagnose(self, path: str = API_KEYS_PATH, **kwargs: Any) -> Diagnosis:
        """``llm-vault doctor`` for this manager's address, token, namespace and mount: see
        :func:`vault_secrets.diagnose.diagnose`. Stops at the first failed check."""
        token = self.client.token if isinstance(self.client.token, str) else None
        return diagnose(
            self.vault_addr,
            token,
            namespace=self.namespace,
            mount=self.mount_point,
            path=path,
            verify=self.verify,
            timeout=self.timeout,
            **kwargs,
        )

    def __enter__(self) -> VaultSecretManager:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"VaultSecretManager(vault_addr={self.vault_addr!r}, namespace={self.namespace!r}, "
            f"mount_point={self.mount_point!r}, auth={self.auth.name!r})"
        )

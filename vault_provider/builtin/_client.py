"""Connection to Vault/OpenBao for the dynamic providers, resolved at operation time.

The providers are pickled into Pulumi state, so they hold nothing: address, token and root
namespace come from the stack config the engine hands to ``ResourceProvider.configure`` (the
keys the official provider reads: ``vault:address``, ``vault:token``, ``vault:namespace``,
``vault:skipTlsVerify``, ``vault:caCertFile``), else from the environment (``VAULT_*``, then
``BAO_*``), and live only in this module of the provider host process. One
``requests.Session`` per process pools the connections of all resources.

Every call goes through ``Api``: transient failures (connection refused, 500/502/503 —
sealed or standby — 429, and a write that a standby cannot route yet) are retried with a short
bounded backoff, and any failure that is left is raised as ``VaultObjectError`` naming the
object, the request and the server's message.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import hvac
import hvac.exceptions
import requests

from vault_secrets.http import UnsafeRedirect, guarded_session, scrub

ADOPT_KEY = "llm-vault:adopt"
REQUEST_TIMEOUT_SECONDS = 10
# Backoff between attempts: about 4 s in all, enough for a restart or a leader election to
# pass without turning a real outage into minutes of waiting per resource.
RETRY_DELAYS_SECONDS = (0.25, 0.5, 1.0, 2.0)

_ENV = {
    "address": ("VAULT_ADDR", "BAO_ADDR"),
    "token": ("VAULT_TOKEN", "BAO_TOKEN"),
    "namespace": ("VAULT_NAMESPACE", "BAO_NAMESPACE"),
    "skip_verify": ("VAULT_SKIP_VERIFY", "BAO_SKIP_VERIFY"),
    "ca_cert": ("VAULT_CACERT", "BAO_CACERT"),
}
_CONFIG_KEYS = {
    "address": "vault:address",
    "token": "vault:token",
    "namespace": "vault:namespace",
    "skip_verify": "vault:skipTlsVerify",
    "ca_cert": "vault:caCertFile",
}

# Stack config as received by configure(): module state of the provider host, never pickled.
_stack_config: dict[str, Any] = {}
# One pooled session per (address, TLS verification setting) (in practice: one per process).
_sessions: dict[tuple[str, bool | str], requests.Session] = {}
_session_lock = threading.Lock()

T = TypeVar("T")


class VaultObjectError(Exception):
    """A Vault request for one declared object failed; the message names object, request and cause."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause  # the hvac/requests exception, for callers that branch on the status


class ConnectionConfigError(VaultObjectError):
    """No address or no token could be found."""


def configure(config: Any) -> None:
    """Keep the stack config the engine passed (a ``pulumi.dynamic.Config``) for later calls."""
    raw = getattr(config, "_props", None)
    if raw is None and isinstance(config, Mapping):
        raw = config
    global _stack_config
    # One assignment, not clear()+update(): the host serves resources from several threads.
    _stack_config = dict(raw or {})


# Where the server is and how it is verified: the job's environment wins over the stack file,
# so that an edited stack file cannot send the token elsewhere (see llm_vault.connection_guard).
_ENV_FIRST = frozenset({"address", "skip_verify", "ca_cert"})


# The environment the settings are read from: the process's own, except inside `connected`.
_environment: Mapping[str, str] | None = None


def _setting(name: str) -> str | None:
    environ = os.environ if _environment is None else _environment
    if name in _ENV_FIRST:
        for var in _ENV[name]:
            if environ.get(var):
                return environ[var]
    value = _stack_config.get(_CONFIG_KEYS[name])
    if value not in (None, ""):
        return str(value)
    for var in _ENV[name]:
        if environ.get(var):
            return environ[var]
    return None


@contextmanager
def connected(config: Mapping[str, Any], environ: Mapping[str, str]) -> Iterator[None]:
    """Provider calls from this process (not the provider host) with a stack's config and the
    engine's environment: crash recovery asks the same questions the provider would. The
    previous settings come back afterwards; the provider host never enters this."""
    global _stack_config, _environment
    saved = (_stack_config, _environment)
    _stack_config, _environment = dict(config), environ
    try:
        yield
    finally:
        _stack_config, _environment = saved


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def root_namespace() -> str | None:
    """The namespace every record's ``namespace`` is relative to (None: the server's root)."""
    return _setting("namespace")


def join_namespace(*parts: str | None) -> str | None:
    """``join_namespace("admin", "dev/team") == "admin/dev/team"``; None for the root namespace."""
    segments = [p.strip("/") for p in parts if p and p.strip("/")]
    return "/".join(segments) or None


@dataclass(frozen=True)
class Where:
    """What a request is about, for error messages: ``vault Policy 'ci' in namespace 'dev'``."""

    kind: str
    name: str
    namespace: str | None

    def __str__(self) -> str:
        ns = f" in namespace {self.namespace!r}" if self.namespace else " in the root namespace"
        return f"vault {self.kind} {self.name!r}{ns}"


def _get_session(address: str, verify: bool | str) -> requests.Session:
    # hvac lets a given session's `verify` override the one passed to it when it is truthy
    # (hvac#991), so the setting lives on the session itself.
    with _session_lock:
        key = (address, verify)
        if key not in _sessions:
            # Refuses redirects to another host or scheme: requests would re-send X-Vault-Token.
            session = guarded_session(verify)
            # requests reads proxies, the CA bundle (REQUESTS_CA_BUNDLE) and ~/.netrc from the
            # environment again on every request (a scan of os.environ and several stat calls:
            # a third of the host's own time per read in `bench_program.py --profile`). The
            # environment does not change while the host runs, so it is resolved once, for the
            # one address this session talks to. A ~/.netrc login is no longer sent: Vault
            # authenticates by the X-Vault-Token header, never by basic auth.
            resolved = session.merge_environment_settings(address, {}, None, verify, None)
            session.proxies = resolved["proxies"]
            session.verify = resolved["verify"]
            session.trust_env = False
            _sessions[key] = session
        return _sessions[key]


_STATUS = {
    hvac.exceptions.InvalidRequest: "400 Bad Request",
    hvac.exceptions.Unauthorized: "401 Unauthorized",
    hvac.exceptions.Forbidden: "403 Forbidden",
    hvac.exceptions.InvalidPath: "404 Not Found",
    hvac.exceptions.RateLimitExceeded: "429 Too Many Requests",
    hvac.exceptions.InternalServerError: "500 Internal Server Error",
    hvac.exceptions.VaultNotInitialized: "501 Not Initialized",
    hvac.exceptions.BadGateway: "502 Bad Gateway",
    hvac.exceptions.VaultDown: "503 Unavailable (sealed or standby)",
}
TRANSIENT: tuple[type[BaseException], ...] = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    hvac.exceptions.InternalServerError,
    hvac.exceptions.BadGateway,
    hvac.exceptions.VaultDown,
    hvac.exceptions.RateLimitExceeded,
    # A standby that cannot forward (its cluster is electing a leader) redirects to the active
    # node. The redirect is never followed (it would carry the token to another address); asked
    # again a moment later, the standby forwards.
    UnsafeRedirect,
)


_STANDBY_CATCHING_UP = "Waiting for the primary to upgrade from non-versioned to versioned data"
# An OpenBao standby serves requests itself and forwards only the writes its router can place.
# Right after a mount or a namespace is created (through it, forwarded to the active node) the
# standby may not have applied that change from the raft log yet: a write into the new mount or
# namespace is answered with one of these 404s, though the next attempt a moment later goes
# through. Only writes are asked again (a read's 404 means "gone", a delete's counts as done, and
# a write that clears what we wrote counts a missing mount as done: ``write(..., gone_ok=True)``).
_NOT_YET_ROUTED = ("no handler for route", "namespace not found")
_MULTIERROR = re.compile(r"^\d+ errors? occurred:\s*")


def _one_line(message: str) -> str:
    """Go's multierror text ("1 error occurred:\n\t* permission denied\n\n") on one line."""
    message = _MULTIERROR.sub("", message.strip())
    items = [item.strip() for item in re.split(r"\s*\n\s*\*\s*|^\*\s*", message) if item.strip()]
    return "; ".join(items) if items else message


def describe(exc: BaseException) -> str:
    """The server's own words (no URL: it is in the request part of our message already)."""
    if isinstance(exc, hvac.exceptions.VaultError):
        status = _STATUS.get(type(exc), "unexpected status")
        errors = exc.errors if isinstance(exc.errors, list) else ([exc.errors] if exc.errors else [])
        message = "; ".join(_one_line(str(e)) for e in errors)
        if not message and exc.args and exc.args[0]:
            message = _one_line(str(exc.args[0]))
        return f"{status}: {message}" if message else status
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"cannot connect: {exc.__class__.__name__}"
    return f"{exc.__class__.__name__}: {exc}"


class Api:
    """Requests to one Vault namespace on behalf of one declared object."""

    def __init__(self, where: Where, namespace: str | None) -> None:
        address = _setting("address")
        token = _setting("token")
        if not address:
            raise ConnectionConfigError(
                f"{where}: no Vault address; set the `vault:address` stack config key or VAULT_ADDR"
            )
        if not token:
            raise ConnectionConfigError(f"{where}: no Vault token; set `vault:token` (as a secret) or VAULT_TOKEN")
        verify: bool | str = True
        if _truthy(_setting("skip_verify")):
            verify = False
        elif _setting("ca_cert"):
            verify = str(_setting("ca_cert"))
        self.where = where
        self.namespace = join_namespace(root_namespace(), namespace)
        # GET answers kept while `reads_once` is active (None: every read asks the server).
        self._answers: dict[str, Any] | None = None
        url = address.rstrip("/")
        self._client = hvac.Client(
            url=url,
            token=token,
            namespace=self.namespace,
            verify=verify,
            timeout=REQUEST_TIMEOUT_SECONDS,
            session=_get_session(url, verify),
        )

    @contextmanager
    def reads_once(self) -> Iterator[None]:
        """Within this block each path is read from the server once: a refresh asks for the
        declared fields and the pinned settings of the same path, and one GET answers both.
        Only for a read of the current object; a write or delete forgets what was read."""
        self._answers = {}
        try:
            yield
        finally:
            self._answers = None

    def _call(self, method: str, path: str, fn: Callable[[], T], *, wait_for_route: bool = False) -> T:
        for delay in (*RETRY_DELAYS_SECONDS, None):
            try:
                return fn()
            except TRANSIENT as exc:
                scrub(exc)
                if delay is None:
                    raise VaultObjectError(
                        f"{self.where}: {method} /v1/{path} failed after {len(RETRY_DELAYS_SECONDS) + 1} "
                        f"attempts: {describe(exc)}",
                        exc,
                    ) from None
                time.sleep(delay)
            except hvac.exceptions.InvalidRequest as exc:
                # A standby (or a new leader) answers a kv-v2 mount it has not caught up with yet
                # with a 400 that says to wait: transient, like a 503.
                if delay is None or _STANDBY_CATCHING_UP not in str(exc):
                    raise self.error(method, path, exc) from None
                time.sleep(delay)
            except hvac.exceptions.InvalidPath as exc:
                # A write a standby cannot route yet (see _NOT_YET_ROUTED); a mount that is really
                # missing fails the same way after the bounded retries.
                if delay is None or not wait_for_route or not any(m in str(exc) for m in _NOT_YET_ROUTED):
                    raise self.error(method, path, exc) from None
                time.sleep(delay)
            except hvac.exceptions.VaultError as exc:
                raise self.error(method, path, exc) from None
            except requests.RequestException as exc:  # an UnsafeRedirect among them
                raise self.error(method, path, scrub(exc)) from None
        raise AssertionError("unreachable")

    def error(self, method: str, path: str, exc: BaseException) -> VaultObjectError:
        return VaultObjectError(f"{self.where}: {method} /v1/{path} failed: {describe(exc)}", exc)

    def read(self, path: str, missing: tuple[str, ...] = ()) -> dict[str, Any] | None:
        """GET; the response's ``data``, or None when the object is gone.

        Gone is a 404 (the object, its mount or its namespace), or a 400 whose message starts
        with one of ``missing`` (``sys/mounts/:path`` answers a missing mount with a 400).
        """
        try:
            if self._answers is not None and path in self._answers:
                response = self._answers[path]
            else:
                response = self._call("GET", path, lambda: self._client.adapter.get(f"/v1/{path}"))
                if self._answers is not None:
                    self._answers[path] = response
        except VaultObjectError as exc:
            if isinstance(exc.cause, hvac.exceptions.InvalidPath):
                return None
            message = describe(exc.cause).partition(": ")[2] if exc.cause else ""
            if isinstance(exc.cause, hvac.exceptions.InvalidRequest) and message.startswith(missing):
                return None
            raise
        if not isinstance(response, dict):
            return {}
        data = response.get("data")
        return data if isinstance(data, dict) else response

    def write(self, path: str, data: Mapping[str, Any], method: str = "POST", *, gone_ok: bool = False) -> Any:
        """POST (or PUT). With ``gone_ok``, a 404 (the mount or namespace is gone, and what the
        write would clear with it) counts as done at once and returns None; otherwise a 404 that
        says the path is not routed yet is asked again, as a standby catching up answers."""
        if self._answers is not None:
            self._answers.clear()
        send = self._client.adapter.put if method == "PUT" else self._client.adapter.post
        try:
            return self._call(
                method, path, lambda: send(f"/v1/{path}", json=dict(data)), wait_for_route=not gone_ok
            )
        except VaultObjectError as exc:
            if gone_ok and isinstance(exc.cause, hvac.exceptions.InvalidPath):
                return None
            raise

    def delete(self, path: str) -> None:
        """DELETE; a 404 (already gone, or its mount or namespace gone) counts as done."""
        if self._answers is not None:
            self._answers.clear()
        try:
            self._call("DELETE", path, lambda: self._client.adapter.delete(f"/v1/{path}"))
        except VaultObjectError as exc:
            if not isinstance(exc.cause, hvac.exceptions.InvalidPath):
                raise


def adopt_patterns() -> list[str]:
    """The ``llm-vault:adopt`` list: a YAML list in the stack file arrives as a JSON string."""
    raw = _stack_config.get(ADOPT_KEY)
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = [raw]  # a single entry set with `pulumi config set llm-vault:adopt policy:ci`
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise VaultObjectError(f"`{ADOPT_KEY}` must be a list of strings like 'policy:dev:ci'")
    return [str(p) for p in raw]


def adoption_key(kind: str, namespace: str | None, path: str) -> str:
    """How an object is named under ``llm-vault:adopt``: ``<kind>:<path>`` in the root namespace,
    ``<kind>:<namespace>:<path>`` elsewhere (namespace relative to ``vault:namespace``)."""
    ns = join_namespace(namespace)
    return f"{kind}:{ns}:{path}" if ns else f"{kind}:{path}"


def is_adopted(key: str) -> bool:
    # fnmatch: an entry may be a glob ("policy:dev:*"); still an explicit, reviewed opt-in.
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in adopt_patterns())

"""Typed errors of the secrets client, all under :class:`VaultSecretsError`.

An error keeps what is needed to act on it: the operation, the secret path, the namespace and the
server's own message, and chains the original exception as ``__cause__``. It never carries a
secret value or a token: messages are built from the server's error text (which Vault/OpenBao
never fills with request data) and are scrubbed of every sensitive string the client knows of
(its token, the values being written) before the error is raised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import hvac.exceptions as hvac_errors
import requests

REDACTED = "<redacted>"
# Long enough for any Vault error text; a proxy's HTML error page is cut rather than dumped whole.
MAX_SERVER_MESSAGE = 500
# Shorter strings are not scrubbed: replacing "1" or "ab" everywhere would garble the message
# without protecting anything a reader could not guess anyway.
MIN_SCRUB_LENGTH = 4


_MULTIERROR_HEAD = re.compile(r"^\s*\d+ errors? occurred:\s*")
_MULTIERROR_ITEM = re.compile(r"\s*\n\s*\*\s*")


def clean_server_message(text: str) -> str:
    """Vault's multierror text ("1 error occurred:\\n\\t* permission denied") as one line."""
    text = _MULTIERROR_HEAD.sub("", text.strip())
    text = _MULTIERROR_ITEM.sub("; ", "\n" + text if text.startswith("*") else text)
    return text.lstrip("*; ").strip()


def scrub(text: str, sensitive: Iterable[str]) -> str:
    """``text`` with every occurrence of each sensitive string replaced by ``<redacted>``."""
    # Longest first, so a secret that contains another is replaced whole.
    for value in sorted({s for s in sensitive if isinstance(s, str)}, key=len, reverse=True):
        if len(value) >= MIN_SCRUB_LENGTH:
            text = text.replace(value, REDACTED)
    return text


class VaultSecretsError(Exception):
    """Base of every error the secrets client raises.

    Attributes: ``operation`` (e.g. ``"read"``), ``path`` (``<mount>/<path>`` or an API path),
    ``namespace`` (None: the root namespace) and ``server_message`` (the server's error text,
    scrubbed and cut to 500 characters; empty when the server gave none).
    """

    default_reason = "Vault request failed"

    def __init__(
        self,
        server_message: str = "",
        *,
        operation: str = "",
        path: str | None = None,
        namespace: str | None = None,
        sensitive: Iterable[str] = (),
    ) -> None:
        message = clean_server_message(scrub(server_message or "", sensitive))
        if len(message) > MAX_SERVER_MESSAGE:
            message = message[:MAX_SERVER_MESSAGE] + "..."
        self.server_message = message
        self.operation = operation
        self.path = path
        self.namespace = namespace
        super().__init__(self._render())

    def __str__(self) -> str:
        # hvac's VaultError.__str__ appends ", on <method> <url>" (None None here): keep our line.
        return str(self.args[0]) if self.args else ""

    def _render(self) -> str:
        where = ""
        if self.path:
            where = f" {self.path}"
        if self.namespace:
            where += f" (namespace {self.namespace})"
        head = f"{self.operation}{where}".strip()
        reason = self.server_message or self.default_reason
        return f"{head}: {reason}" if head else reason

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


# Each typed error also subclasses what the original client raised in its place, so that code
# written against it (`except ValueError`, `except hvac.exceptions.Forbidden`) keeps catching it.
# The original raised ValueError for a missing token, a failed authentication, a secret not found
# on read and an API key not found; everything else was hvac's or requests' own exception.
# The hvac bases come before the builtin ones: VaultError.__init__ is cooperative, the builtins' is not.


class SecretNotFound(VaultSecretsError, hvac_errors.InvalidPath, ValueError):
    """No secret (or no live version of it) at the path: HTTP 404.

    Also a ``ValueError`` (the original read raised ``ValueError("Secret not found at path: ...")``)
    and an ``hvac.exceptions.InvalidPath`` (what its other methods let through).
    """

    default_reason = "no secret at this path"


class ApiKeyNotFound(SecretNotFound, KeyError):
    """``get_api_key``: the ``api-keys`` secret exists but lacks the service's key.

    A ``ValueError`` as in the original (``"API key not found for service: <service>"``) and a
    ``KeyError`` (a missing key of a mapping). ``service`` and ``key`` name what was looked for.
    """

    default_reason = "API key not found"

    def __init__(self, service: str, key: str, *, path: str, namespace: str | None = None) -> None:
        self.service = service
        self.key = key
        super().__init__(
            f"API key not found for service: {service} (no key {key!r})",
            operation="get api key",
            path=path,
            namespace=namespace,
        )


class PermissionDenied(VaultSecretsError, hvac_errors.Forbidden):
    """The token is valid but its policies do not allow the operation: HTTP 403.

    Also an ``hvac.exceptions.Forbidden``, which the original let through.
    """

    default_reason = "permission denied"


class AuthenticationFailed(VaultSecretsError, ValueError):
    """No usable token: login refused, token invalid, expired or revoked and no way to log in again.

    Also a ``ValueError``: the original raised ``ValueError`` for a missing token and a failed
    authentication.
    """

    default_reason = "authentication failed"


class VaultUnavailable(VaultSecretsError, hvac_errors.VaultDown, requests.exceptions.ConnectionError):
    """The server could not be reached or answered with a transient failure (5xx, sealed, standby,
    rate limit) on every bounded retry.

    Also an ``hvac.exceptions.VaultDown`` (the original's error for a sealed server) and a
    ``requests.exceptions.ConnectionError`` (its error for an unreachable one).
    """

    default_reason = "Vault is unavailable"

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


class SecretNotFound(VaultSecretsError):
    """No secret (or no live version of it) at the path: HTTP 404."""

    default_reason = "no secret at this path"


class PermissionDenied(VaultSecretsError):
    """The token is valid but its policies do not allow the operation: HTTP 403."""

    default_reason = "permission denied"


class AuthenticationFailed(VaultSecretsError):
    """No usable token: login refused, token invalid, expired or revoked and no way to log in again."""

    default_reason = "authentication failed"


class VaultUnavailable(VaultSecretsError):
    """The server could not be reached or answered with a transient failure (5xx, sealed, standby,
    rate limit) on every bounded retry."""

    default_reason = "Vault is unavailable"

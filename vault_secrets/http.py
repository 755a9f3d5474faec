"""HTTP sessions for talking to Vault: no token follows a redirect to another server.

hvac lets ``requests`` follow redirects, and ``requests`` re-sends every header but
``Authorization`` to the new location, ``X-Vault-Token`` included. A server (or anything in
the path) answering with a redirect to another host or scheme would receive the token.
Vault's own redirects (a standby pointing at the active node) stay on the configured origin
here; anything else is refused before it is followed. Both the client (``VaultSecretManager``)
and the provider layer (``vault_provider.builtin._client``) use this one session factory.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

TOKEN_HEADER = "X-Vault-Token"


class UnsafeRedirect(requests.exceptions.RequestException):
    """The server answered with a redirect to another scheme or host; it was not followed."""


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.netloc or "").lower()


def _refuse_cross_origin_redirects(response: requests.Response, *_args: Any, **_kwargs: Any) -> requests.Response:
    if response.is_redirect:
        target = urljoin(response.url, response.headers.get("location", ""))
        if _origin(target) != _origin(response.url):
            scheme, host = _origin(target)
            response.close()
            raise UnsafeRedirect(
                f"the server at {_origin(response.url)[1]} redirected to {scheme}://{host}; "
                "a redirect to another host or scheme is never followed (it would carry the token)"
            )
    return response


class _OncePerOrigin(requests.adapters.HTTPAdapter):
    """requests works out a connection pool's TLS settings again for every request, and with a
    CA bundle given by path (``REQUESTS_CA_BUNDLE``, ``VAULT_CACERT``) that includes a stat of the
    path: 0.2 s of a 500-role refresh in the provider host (bench_program.py, py-spy). They
    depend on the origin, ``verify`` and ``cert`` only, so they are worked out once for each."""

    def __init__(self) -> None:
        super().__init__()
        self._pool_keys: dict[tuple[Any, ...], Any] = {}

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> Any:
        parts = urlsplit(request.url or "")
        key = (parts.scheme.lower(), parts.hostname, parts.port, verify, cert)
        known = self._pool_keys.get(key)
        if known is None:
            known = super().build_connection_pool_key_attributes(request, verify, cert)
            self._pool_keys[key] = known
        host_params, pool_kwargs = known
        return dict(host_params), dict(pool_kwargs)  # (urllib3 may change what it is given)


def guarded_session(verify: bool | str | None = True) -> requests.Session:
    """A session that refuses cross-origin redirects; ``verify`` None keeps requests' default."""
    session = requests.Session()
    for prefix in ("http://", "https://"):
        session.mount(prefix, _OncePerOrigin())
    if verify is not None:
        session.verify = verify
    session.hooks["response"].append(_refuse_cross_origin_redirects)
    return session


def scrub(exc: BaseException) -> BaseException:
    """Remove the token from any request an exception keeps (``exc.request``, ``exc.response.request``)."""
    for request in (getattr(exc, "request", None), getattr(getattr(exc, "response", None), "request", None)):
        headers = getattr(request, "headers", None)
        if headers is not None and TOKEN_HEADER in headers:
            headers[TOKEN_HEADER] = "<redacted>"
    return exc

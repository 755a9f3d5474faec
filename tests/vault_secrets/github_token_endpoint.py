"""A simulated GitHub Actions ID-token request endpoint (``ACTIONS_ID_TOKEN_REQUEST_URL``) on 127.0.0.1.

A runner hands a job ``ACTIONS_ID_TOKEN_REQUEST_URL`` (with a query string already) and a bearer
``ACTIONS_ID_TOKEN_REQUEST_TOKEN``; ``GET <url>&audience=<aud>`` answers ``{"value": <jwt>}``.
This stand-in checks the bearer (401 otherwise) and requires an explicit audience (400 otherwise),
then answers with whatever ``mint(audience)`` returns (in integration tests: a JWT signed by the
``oidc_issuer`` fixture). The bearer is generated at runtime.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

PATH = "/_apis/distributedtask/idtoken"


class GitHubTokenEndpoint:
    def __init__(self, mint: Callable[[str], str]) -> None:
        self._mint = mint
        self.request_token = secrets.token_urlsafe(24)
        self.audiences: list[str] = []  # every audience asked for, in order (successful requests)
        self.refused = 0  # requests answered 401/400
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "endpoint not started"
        # A query string is present, as on a real runner: the client must append with '&'.
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{PATH}?api-version=2.0"

    def env(self) -> dict[str, str]:
        return {"ACTIONS_ID_TOKEN_REQUEST_URL": self.url, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_token}

    def start(self) -> GitHubTokenEndpoint:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                scheme, _, bearer = self.headers.get("Authorization", "").partition(" ")
                if parts.path != PATH:
                    self._answer(404, {"message": "not found"})
                elif scheme.lower() != "bearer" or not secrets.compare_digest(bearer, endpoint.request_token):
                    endpoint.refused += 1
                    self._answer(401, {"message": "bad credentials"})
                elif query.get("api-version") != ["2.0"] or len(query.get("audience", [])) != 1:
                    endpoint.refused += 1
                    self._answer(400, {"message": "api-version and exactly one audience are required"})
                else:
                    audience = query["audience"][0]
                    endpoint.audiences.append(audience)
                    self._answer(200, {"value": endpoint._mint(audience)})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: test output is for failures

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # loopback only
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="gh-token-endpoint", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._httpd = None

    def __enter__(self) -> GitHubTokenEndpoint:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

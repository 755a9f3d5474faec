"""The one session factory (``vault_secrets.http``): TLS pool settings worked out once per origin.

A local plain-HTTP server on 127.0.0.1 answers; the CA bundle is a file path, as
``REQUESTS_CA_BUNDLE`` or ``VAULT_CACERT`` give it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from vault_secrets.http import guarded_session


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture()
def origins() -> Iterator[list[str]]:
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Ok) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield [f"http://127.0.0.1:{server.server_address[1]}" for server in servers]
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_text("(a CA bundle path; not read for plain HTTP)\n")
    return path


def count_looks_at(monkeypatch: pytest.MonkeyPatch, path: Path) -> list[str]:
    seen: list[str] = []
    real = os.path.isdir

    def isdir(candidate: object) -> bool:
        if str(candidate) == str(path):
            seen.append(str(candidate))
        return real(candidate)  # type: ignore[arg-type]

    monkeypatch.setattr(os.path, "isdir", isdir)
    return seen


def test_the_ca_bundle_is_looked_at_once_per_origin_not_once_per_request(
    origins: list[str], bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    looks = count_looks_at(monkeypatch, bundle)
    session = guarded_session(str(bundle))

    for _ in range(5):
        for origin in origins:
            # (hvac passes `verify` with every request, as here)
            assert session.get(f"{origin}/v1/sys/health", verify=str(bundle)).status_code == 200

    assert len(looks) == 2  # one per origin


def test_each_verify_setting_keeps_its_own_pool_settings(origins: list[str], bundle: Path) -> None:
    session = guarded_session(str(bundle))
    adapter = session.get_adapter(origins[0])
    request = requests.Request("GET", f"{origins[0]}/v1/sys/health").prepare()

    _, with_bundle = adapter.build_connection_pool_key_attributes(request, str(bundle))
    _, unverified = adapter.build_connection_pool_key_attributes(request, False)
    with_bundle["ca_certs"] = "changed by urllib3"
    _, again = adapter.build_connection_pool_key_attributes(request, str(bundle))

    assert (again["ca_certs"], again["cert_reqs"]) == (str(bundle), "CERT_REQUIRED")
    assert unverified["cert_reqs"] == "CERT_NONE" and "ca_certs" not in unverified

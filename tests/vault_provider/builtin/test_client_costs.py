"""The provider host's per-call savings (issue 17) keep the behaviour they replace.

Unit tests: no server. A stand-in for hvac's adapter counts the GETs; the session tests look
at what requests would use for the one address a session serves.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from vault_provider.builtin import _client
from vault_provider.builtin._client import Api, Where

ADDRESS = "http://127.0.0.1:8200"


@pytest.fixture(autouse=True)
def connection(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in [*(v for pair in _client._ENV.values() for v in pair), "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"]:
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VAULT_ADDR", ADDRESS)
    monkeypatch.setenv("VAULT_TOKEN", "unit-test-placeholder")
    monkeypatch.setattr(_client, "_sessions", {})
    yield


class CountingAdapter:
    def __init__(self) -> None:
        self.gets: list[str] = []
        self.answer: dict[str, Any] = {"data": {"n": 1}}

    def get(self, url: str) -> dict[str, Any]:
        self.gets.append(url)
        return {"data": dict(self.answer["data"])}

    def post(self, url: str, json: Any = None) -> None:
        self.answer = {"data": dict(json or {})}

    def delete(self, url: str) -> None:
        self.answer = {"data": {}}


def counted_api() -> tuple[Api, CountingAdapter]:
    api = Api(Where("JwtAuthRole", "jwt/ci", None), None)
    adapter = CountingAdapter()
    api._client.adapter = adapter  # type: ignore[assignment]
    return api, adapter


def test_a_refresh_asks_the_server_once_per_path() -> None:
    api, adapter = counted_api()
    with api.reads_once():
        assert api.read("auth/jwt/role/ci") == {"n": 1}
        assert api.read("auth/jwt/role/ci") == {"n": 1}
        api.read("auth/jwt/config")
    assert adapter.gets == ["/v1/auth/jwt/role/ci", "/v1/auth/jwt/config"]


def test_a_write_forgets_what_was_read() -> None:
    api, adapter = counted_api()
    with api.reads_once():
        api.read("auth/jwt/role/ci")
        api.write("auth/jwt/role/ci", {"n": 2})
        assert api.read("auth/jwt/role/ci") == {"n": 2}
        api.delete("auth/jwt/role/ci")
        assert api.read("auth/jwt/role/ci") == {}
    assert len(adapter.gets) == 3


def test_outside_a_refresh_every_read_asks_the_server() -> None:
    # A provider that waits for the server (a namespace being deleted) polls with reads.
    api, adapter = counted_api()
    api.read("sys/namespaces/dev")
    with api.reads_once():
        api.read("sys/namespaces/dev")
    api.read("sys/namespaces/dev")
    assert len(adapter.gets) == 3


def test_the_session_keeps_the_ca_bundle_the_environment_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("placeholder")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    api = Api(Where("JwtAuthRole", "jwt/ci", None), None)
    session = _client._sessions[(ADDRESS, True)]
    assert session.trust_env is False  # resolved once, not on every request
    assert session.verify == str(bundle)
    assert api._client.adapter._kwargs["verify"] == str(bundle)  # what hvac passes per request


def test_an_explicit_ca_file_or_no_verification_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "other.pem"))
    monkeypatch.setenv("VAULT_CACERT", str(tmp_path / "mine.pem"))
    api = Api(Where("JwtAuthRole", "jwt/ci", None), None)
    assert api._client.adapter._kwargs["verify"] == str(tmp_path / "mine.pem")
    monkeypatch.setenv("VAULT_SKIP_VERIFY", "true")
    api = Api(Where("JwtAuthRole", "jwt/ci", None), None)
    assert api._client.adapter._kwargs["verify"] is False


def test_the_session_keeps_the_proxy_the_environment_names_for_its_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:3128")
    counted_api()
    assert _client._sessions[(ADDRESS, True)].proxies.get("http") == "http://127.0.0.1:3128"
    monkeypatch.setattr(_client, "_sessions", {})
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    counted_api()
    assert not _client._sessions[(ADDRESS, True)].proxies.get("http")

"""Which failed requests the provider host asks again, and which it reports at once.

Unit tests: no server. A stand-in for hvac's adapter answers with the errors a server gives;
the backoff is set to zero. The behaviour on a real standby is shown by the raft cluster test
(tests/llm_vault/test_server_faults.py), whose stack talks to a standby.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hvac.exceptions
import pytest

from vault_provider.builtin import _client
from vault_provider.builtin._client import Api, VaultObjectError, Where

NOT_ROUTED = 'no handler for route "auth/github-dev/config". route entry not found.'
NO_NAMESPACE = "namespace not found"


@pytest.fixture(autouse=True)
def connection(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in [v for pair in _client._ENV.values() for v in pair]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:8200")
    monkeypatch.setenv("VAULT_TOKEN", "unit-test-placeholder")
    monkeypatch.setattr(_client, "_sessions", {})
    monkeypatch.setattr(_client, "RETRY_DELAYS_SECONDS", (0.0, 0.0, 0.0, 0.0))
    yield


class Answers:
    """Fails the first ``failures`` requests with ``error``, then succeeds; counts the requests."""

    def __init__(self, error: Exception, failures: int) -> None:
        self.error, self.failures, self.calls = error, failures, 0

    def _answer(self) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return {"data": {"ok": True}}

    def get(self, url: str) -> dict[str, Any]:
        return self._answer()

    def post(self, url: str, json: Any = None) -> dict[str, Any]:
        return self._answer()

    def put(self, url: str, json: Any = None) -> dict[str, Any]:
        return self._answer()

    def delete(self, url: str) -> dict[str, Any]:
        return self._answer()


def api_answering(error: Exception, failures: int) -> tuple[Api, Answers]:
    api = Api(Where("JwtAuthConfig", "github-dev", "dev"), "dev")
    answers = Answers(error, failures)
    api._client.adapter = answers  # type: ignore[assignment]
    return api, answers


@pytest.mark.parametrize("message", [NOT_ROUTED, NO_NAMESPACE])
def test_a_write_a_standby_cannot_route_yet_is_asked_again(message: str) -> None:
    # A mount (or namespace) just created through a standby: its raft log entry is not applied
    # there yet, so the next write into it is a 404 for a moment.
    api, answers = api_answering(hvac.exceptions.InvalidPath(message), failures=2)
    assert api.write("auth/github-dev/config", {"bound_issuer": "x"}) == {"data": {"ok": True}}
    assert answers.calls == 3


def test_a_write_to_a_mount_that_stays_missing_fails_after_the_bounded_retries_naming_the_object() -> None:
    api, answers = api_answering(hvac.exceptions.InvalidPath(NOT_ROUTED), failures=99)
    with pytest.raises(VaultObjectError) as raised:
        api.write("auth/github-dev/config", {"bound_issuer": "x"})
    assert answers.calls == len(_client.RETRY_DELAYS_SECONDS) + 1
    assert str(raised.value).startswith("vault JwtAuthConfig 'github-dev' in namespace 'dev': POST ")
    assert "404 Not Found: no handler for route" in str(raised.value)


def test_any_other_404_on_a_write_fails_at_once() -> None:
    api, answers = api_answering(hvac.exceptions.InvalidPath("unsupported path"), failures=99)
    with pytest.raises(VaultObjectError):
        api.write("auth/github-dev/config", {})
    assert answers.calls == 1


def test_a_read_that_is_not_routed_means_gone_without_waiting() -> None:
    api, answers = api_answering(hvac.exceptions.InvalidPath(NOT_ROUTED), failures=99)
    assert api.read("auth/github-dev/config") is None
    assert answers.calls == 1


def test_a_delete_that_is_not_routed_counts_as_done_without_waiting() -> None:
    api, answers = api_answering(hvac.exceptions.InvalidPath(NOT_ROUTED), failures=99)
    api.delete("auth/github-dev/role/ci")
    assert answers.calls == 1


def test_a_write_that_clears_what_we_wrote_counts_a_missing_mount_as_done_at_once() -> None:
    # A destroy after someone deleted the namespace: one request per object, not the retries.
    api, answers = api_answering(hvac.exceptions.InvalidPath(NO_NAMESPACE), failures=99)
    assert api.write("openai-llm/metadata/team/a", {}, gone_ok=True) is None
    assert answers.calls == 1


def test_a_sealed_or_unreachable_server_is_asked_again_then_reported() -> None:
    api, answers = api_answering(hvac.exceptions.VaultDown("Vault is sealed"), failures=99)
    with pytest.raises(VaultObjectError) as raised:
        api.write("auth/github-dev/config", {})
    assert answers.calls == len(_client.RETRY_DELAYS_SECONDS) + 1
    assert "failed after 5 attempts: 503" in str(raised.value)

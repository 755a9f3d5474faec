"""VaultSecretManager without a server: error mapping, retries, the token lifecycle, return shapes.

The hvac calls are replaced on the manager's own client; the address is a closed port on
127.0.0.1, so anything not replaced fails as a connection error instead of reaching a server.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hvac
import hvac.exceptions as hvac_errors
import pytest
import requests

from vault_secrets import (
    ApiKeyNotFound,
    AuthenticationFailed,
    Credentials,
    PermissionDenied,
    SecretNotFound,
    VaultSecretManager,
    VaultSecretsError,
    VaultUnavailable,
)
from vault_secrets.client import MAX_BACKOFF_SECONDS

from .secrecy import assert_not_leaked, assert_same_secret


def _closed_port_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # closed once the socket is: connections are refused


@dataclass
class StubAuth:
    """A login method that issues made-up tokens with a chosen TTL, without any request."""

    ttl: int = 0
    renewable: bool = False
    can_relogin: bool = True
    name: str = "stub"
    logins: int = 0
    tokens: list[str] = field(default_factory=list)

    def login(self, client: hvac.Client) -> Credentials:
        self.logins += 1
        self.tokens.append("s." + secrets.token_urlsafe(16))
        return Credentials(token=self.tokens[-1], accessor=f"acc-{self.logins}", ttl=self.ttl, renewable=self.renewable)

    def sensitive(self) -> tuple[str, ...]:
        return ()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    manager: VaultSecretManager
    auth: StubAuth
    clock: FakeClock
    sleeps: list[float]


def make(auth: StubAuth | None = None, **kwargs: Any) -> Harness:
    auth = auth or StubAuth()
    kwargs.setdefault("namespace", "dev")
    manager = VaultSecretManager(_closed_port_address(), auth=auth, **kwargs)
    clock, sleeps = FakeClock(), list[float]()
    manager._clock = clock
    manager._sleep = sleeps.append
    manager.login()  # again, on the fake clock
    auth.logins = 0
    return Harness(manager, auth, clock, sleeps)


def kv(manager: VaultSecretManager) -> Any:
    return manager.client.secrets.kv.v2


def raiser(*excs: Exception, then: Any = None) -> Callable[..., Any]:
    """A stand-in for an hvac call: raises ``excs`` one per call, then returns ``then``."""
    pending = list(excs)
    calls: list[dict[str, Any]] = []

    def call(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        if pending:
            raise pending.pop(0)
        return then

    call.calls = calls  # type: ignore[attr-defined]
    return call


def kv_response(data: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"data": data, "metadata": {"version": 1}}}


# -- construction -------------------------------------------------------------------------------


def test_the_original_constructor_without_any_token_raises_authentication_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("VAULT_TOKEN", "BAO_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(AuthenticationFailed, match="VAULT_TOKEN"):
        VaultSecretManager(_closed_port_address())


def test_vault_token_and_auth_are_exclusive() -> None:
    with pytest.raises(ValueError, match="either"):
        VaultSecretManager(_closed_port_address(), vault_token="x", auth=StubAuth())


def test_an_unreachable_server_raises_vault_unavailable_after_bounded_retries() -> None:
    manager_calls = []

    class Counting(StubAuth):
        def login(self, client: hvac.Client) -> Credentials:
            manager_calls.append(1)
            client.auth.token.lookup_self()  # a real request to a closed port
            raise AssertionError("unreachable")

    with pytest.raises(VaultUnavailable, match="ConnectionError") as info:
        VaultSecretManager(_closed_port_address(), auth=Counting(), retries=2, backoff_seconds=0)
    assert len(manager_calls) == 3
    # The prepared request (with its X-Vault-Token header) does not travel with the chain.
    assert isinstance(info.value.__cause__, requests.ConnectionError)
    assert info.value.__cause__.request is None


def test_the_repr_names_the_connection_but_never_the_token() -> None:
    h = make()
    text = repr(h.manager)
    assert "namespace='dev'" in text and "openai-llm" in text
    assert_not_leaked(text, *h.auth.tokens)


# -- the original return shapes -----------------------------------------------------------------


def test_read_secret_returns_all_data_one_value_or_none_for_a_missing_key() -> None:
    h = make()
    kv(h.manager).read_secret_version = raiser(then=kv_response({"openai_key": "v1", "other": "v2"}))
    assert h.manager.read_secret("api-keys") == {"openai_key": "v1", "other": "v2"}
    assert h.manager.read_secret("api-keys", "openai_key") == "v1"
    assert h.manager.read_secret("api-keys", "missing") is None
    assert kv(h.manager).read_secret_version.calls[0] == {
        "path": "api-keys",
        "mount_point": "openai-llm",
        "raise_on_deleted_version": True,
    }


def test_model_credentials_have_the_three_documented_keys_none_when_absent() -> None:
    h = make()
    kv(h.manager).read_secret_version = raiser(then=kv_response({"openai_key": "o", "huggingface_token": "h"}))
    assert h.manager.get_model_credentials() == {"huggingface_token": "h", "openai_key": "o", "anthropic_key": None}
    assert h.manager.get_api_key("openai") == "o"


def test_get_api_key_maps_huggingface_to_its_token_and_other_services_to_their_key() -> None:
    h = make()
    kv(h.manager).read_secret_version = raiser(then=kv_response({"openai_key": "o", "huggingface_token": "h"}))
    assert h.manager.get_api_key("huggingface") == "h"
    assert h.manager.get_api_key("openai") == "o"


def test_a_missing_api_key_raises_the_originals_value_error_and_a_key_error() -> None:
    h = make()
    kv(h.manager).read_secret_version = raiser(then=kv_response({"openai_key": "o"}))
    with pytest.raises(ValueError, match="API key not found for service: anthropic") as info:
        h.manager.get_api_key("anthropic")
    assert isinstance(info.value, KeyError) and isinstance(info.value, SecretNotFound)
    assert isinstance(info.value, ApiKeyNotFound)
    assert (info.value.service, info.value.key) == ("anthropic", "anthropic_key")
    assert "API key not found for service: anthropic" in str(info.value)  # not KeyError's repr()


@pytest.mark.parametrize(
    ("ours", "originals"),
    [
        (SecretNotFound, (ValueError, hvac_errors.InvalidPath)),
        (PermissionDenied, (hvac_errors.Forbidden,)),
        (AuthenticationFailed, (ValueError,)),
        (VaultUnavailable, (hvac_errors.VaultDown, requests.exceptions.ConnectionError)),
    ],
)
def test_each_typed_error_is_also_what_the_original_raised(ours: type[Exception], originals: tuple[type, ...]) -> None:
    error = ours("server text", operation="read", path="openai-llm/api-keys", namespace="dev")
    for original in originals:
        assert isinstance(error, original)
    assert str(error) == "read openai-llm/api-keys (namespace dev): server text"


def test_the_original_keyword_names_are_accepted() -> None:
    with pytest.raises(VaultUnavailable):  # got as far as contacting the address given as vault_url
        VaultSecretManager(vault_url=_closed_port_address(), token="x", retries=0)
    with pytest.raises(TypeError, match="vault_url"):
        VaultSecretManager(vault_addr="http://127.0.0.1:1", vault_url="http://127.0.0.1:2", token="x")


def test_write_secret_takes_the_original_secret_data_keyword() -> None:
    h = make()
    kv(h.manager).create_or_update_secret = write = raiser(then={"data": {"version": 2}})
    assert h.manager.write_secret("api-keys", secret_data={"k": "v"}) is True
    assert write.calls[0]["secret"] == {"k": "v"}  # type: ignore[attr-defined]


def test_write_and_delete_return_true_and_list_returns_names() -> None:
    h = make()
    kv(h.manager).create_or_update_secret = raiser(then={"data": {"version": 2}})
    kv(h.manager).delete_latest_version_of_secret = soft = raiser(then=None)
    kv(h.manager).delete_metadata_and_all_versions = hard = raiser(then=None)
    kv(h.manager).list_secrets = raiser(then={"data": {"keys": ["api-keys", "team/"]}})
    assert h.manager.write_secret("api-keys", {"k": "v"}) is True
    assert h.manager.delete_secret("api-keys") is True
    assert len(soft.calls) == 1 and hard.calls == []  # type: ignore[attr-defined]
    assert h.manager.delete_secret("api-keys", permanent=True) is True
    assert len(hard.calls) == 1  # type: ignore[attr-defined]
    assert h.manager.list_secrets() == ["api-keys", "team/"]


def test_listing_an_empty_folder_returns_an_empty_list() -> None:
    h = make()
    kv(h.manager).list_secrets = raiser(hvac_errors.InvalidPath(errors=[]))
    assert h.manager.list_secrets("nothing-here") == []


def test_short_lived_token_goes_through_the_readonly_token_role() -> None:
    h = make()
    child = "s." + secrets.token_urlsafe(16)
    h.manager.client.auth.token.create = raiser(then={"auth": {"client_token": child}})
    assert_same_secret(h.manager.get_short_lived_token(), child)
    assert h.manager.client.auth.token.create.calls == [{"role_name": "openai-llm-readonly", "ttl": "1h"}]


# -- error mapping ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (hvac_errors.InvalidPath(errors=[]), SecretNotFound),
        (hvac_errors.Unauthorized(errors=["missing client token"]), AuthenticationFailed),
        (hvac_errors.VaultNotInitialized(errors=["Vault is not initialized"]), VaultUnavailable),
        (hvac_errors.InvalidRequest(errors=["bad request"]), VaultSecretsError),
        (hvac_errors.UnexpectedError("teapot"), VaultSecretsError),
    ],
)
def test_hvac_errors_map_to_typed_errors(raised: Exception, expected: type[VaultSecretsError]) -> None:
    h = make()
    kv(h.manager).read_secret_version = raiser(raised)
    with pytest.raises(VaultSecretsError) as info:
        h.manager.read_secret("api-keys")
    assert type(info.value) is expected
    assert info.value.__cause__ is raised  # the cause is kept
    assert info.value.path == "openai-llm/api-keys" and info.value.namespace == "dev"


def test_a_403_with_a_live_token_is_permission_denied_with_the_server_message() -> None:
    h = make()
    kv(h.manager).create_or_update_secret = raiser(
        hvac_errors.Forbidden(errors=["1 error occurred:\n\t* permission denied\n\n"])
    )
    h.manager.client.auth.token.lookup_self = raiser(then={"data": {}})  # the token is fine
    with pytest.raises(PermissionDenied) as info:
        h.manager.write_secret("api-keys", {"k": "v"})
    assert str(info.value) == "write openai-llm/api-keys (namespace dev): permission denied"
    assert h.auth.logins == 0


def test_a_403_from_a_dead_static_token_is_authentication_failed() -> None:
    h = make(StubAuth(can_relogin=False))
    kv(h.manager).read_secret_version = raiser(hvac_errors.Forbidden(errors=["permission denied"]))
    h.manager.client.auth.token.lookup_self = raiser(hvac_errors.Forbidden(errors=["permission denied"]))
    with pytest.raises(AuthenticationFailed, match="invalid, expired or revoked"):
        h.manager.read_secret("api-keys")


def test_a_403_from_a_dead_login_token_logs_in_again_and_retries_once() -> None:
    h = make()
    kv(h.manager).read_secret_version = raiser(
        hvac_errors.Forbidden(errors=["permission denied"]), then=kv_response({"k": "v"})
    )
    h.manager.client.auth.token.lookup_self = raiser(hvac_errors.Forbidden(errors=["permission denied"]))
    assert h.manager.read_secret("api-keys", "k") == "v"
    assert h.auth.logins == 1
    assert h.manager.token_accessor == "acc-1"


def test_errors_never_carry_written_values_or_the_token_even_if_the_server_echoes_them() -> None:
    h = make()
    value = secrets.token_urlsafe(20)
    token = h.auth.tokens[-1]
    kv(h.manager).create_or_update_secret = raiser(
        hvac_errors.InvalidRequest(errors=[f"cannot store {value} ({token})"])
    )
    with pytest.raises(VaultSecretsError) as info:
        h.manager.write_secret("api-keys", {"openai_key": value})
    for text in (str(info.value), repr(info.value), info.value.server_message):
        assert_not_leaked(text, value, token)


# -- retries ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "transient",
    [
        hvac_errors.VaultDown(errors=["Vault is sealed"]),
        hvac_errors.RateLimitExceeded(errors=["standby"]),
        hvac_errors.InternalServerError(errors=["internal error"]),
        hvac_errors.BadGateway("bad gateway"),
        requests.ConnectionError("refused"),
        requests.Timeout("timed out"),
    ],
)
def test_transient_failures_are_retried_with_growing_backoff(transient: Exception) -> None:
    h = make(retries=3, backoff_seconds=0.5)
    call = raiser(transient, transient, then=kv_response({"k": "v"}))
    kv(h.manager).read_secret_version = call
    assert h.manager.read_secret("api-keys", "k") == "v"
    assert len(call.calls) == 3  # type: ignore[attr-defined]
    assert len(h.sleeps) == 2 and h.sleeps[0] < h.sleeps[1] * 2  # jitter keeps each in [d/2, d]
    assert all(0 < s <= MAX_BACKOFF_SECONDS for s in h.sleeps)


def test_retries_are_bounded_then_vault_unavailable() -> None:
    h = make(retries=2, backoff_seconds=100)
    sealed = [hvac_errors.VaultDown(errors=["Vault is sealed"]) for _ in range(10)]
    call = raiser(*sealed)
    kv(h.manager).read_secret_version = call
    with pytest.raises(VaultUnavailable, match="Vault is sealed"):
        h.manager.read_secret("api-keys")
    assert len(call.calls) == 3  # type: ignore[attr-defined]
    assert all(s <= MAX_BACKOFF_SECONDS for s in h.sleeps)  # capped however large the base


@pytest.mark.parametrize(
    "permanent",
    [hvac_errors.InvalidPath(errors=[]), hvac_errors.InvalidRequest(errors=["bad"]), hvac_errors.Unauthorized()],
)
def test_permanent_failures_are_not_retried(permanent: Exception) -> None:
    h = make(retries=3)
    call = raiser(permanent, then=kv_response({}))
    kv(h.manager).read_secret_version = call
    with pytest.raises(VaultSecretsError):
        h.manager.read_secret("api-keys")
    assert len(call.calls) == 1 and h.sleeps == []  # type: ignore[attr-defined]


# -- token lifecycle ----------------------------------------------------------------------------


def _renewal(ttl: int, calls: list[int]) -> Callable[..., Any]:
    def renew_self(**kwargs: Any) -> Any:
        calls.append(ttl)
        return {"auth": {"lease_duration": ttl, "renewable": True}}

    return renew_self


def test_a_token_far_from_expiry_is_used_as_is() -> None:
    h = make(StubAuth(ttl=3600, renewable=True))
    renewals: list[int] = []
    h.manager.client.auth.token.renew_self = _renewal(3600, renewals)
    kv(h.manager).read_secret_version = raiser(then=kv_response({}))
    h.clock.now += 3600 - 301  # 301 s left: above the 300 s threshold
    h.manager.read_secret("api-keys")
    assert renewals == [] and h.auth.logins == 0


def test_a_token_under_the_threshold_is_renewed_not_replaced() -> None:
    h = make(StubAuth(ttl=3600, renewable=True))
    renewals: list[int] = []
    h.manager.client.auth.token.renew_self = _renewal(3600, renewals)
    kv(h.manager).read_secret_version = raiser(then=kv_response({}))
    accessor, token = h.manager.token_accessor, h.manager.client.token
    h.clock.now += 3600 - 200
    h.manager.read_secret("api-keys")
    assert renewals == [3600] and h.auth.logins == 0
    assert h.manager.token_expires_in() == 3600
    assert h.manager.token_accessor == accessor
    assert_same_secret(h.manager.client.token, token, "token")


def test_a_short_token_is_renewed_at_half_its_ttl_not_on_every_call() -> None:
    h = make(StubAuth(ttl=10, renewable=True))
    renewals: list[int] = []
    h.manager.client.auth.token.renew_self = _renewal(10, renewals)
    kv(h.manager).read_secret_version = raiser(then=kv_response({}))
    h.clock.now += 4  # 6 s left of 10: above half
    h.manager.read_secret("api-keys")
    assert renewals == []
    h.clock.now += 2  # 4 s left
    h.manager.read_secret("api-keys")
    assert renewals == [10]


def test_when_renewal_hits_the_max_ttl_the_manager_logs_in_again() -> None:
    h = make(StubAuth(ttl=3600, renewable=True))
    renewals: list[int] = []
    h.manager.client.auth.token.renew_self = _renewal(120, renewals)  # capped: 2 min left at most
    kv(h.manager).read_secret_version = raiser(then=kv_response({}))
    h.clock.now += 3600 - 200
    h.manager.read_secret("api-keys")
    assert renewals == [120] and h.auth.logins == 1
    assert h.manager.token_accessor == "acc-1"
    assert_same_secret(h.manager.client.token, h.auth.tokens[-1], "token")


def test_a_non_renewable_expired_login_token_is_replaced_by_a_new_login() -> None:
    h = make(StubAuth(ttl=60, renewable=False))
    kv(h.manager).read_secret_version = raiser(then=kv_response({}))
    h.clock.now += 61
    h.manager.read_secret("api-keys")
    assert h.auth.logins == 1


def test_an_expired_static_token_raises_authentication_failed() -> None:
    h = make(StubAuth(ttl=60, renewable=False, can_relogin=False))
    kv(h.manager).read_secret_version = raiser(then=kv_response({}))
    h.clock.now += 61
    with pytest.raises(AuthenticationFailed, match="expired"):
        h.manager.read_secret("api-keys")


def test_a_static_token_that_cannot_be_extended_is_used_until_it_expires() -> None:
    h = make(StubAuth(ttl=600, renewable=True, can_relogin=False))
    renewals: list[int] = []
    h.manager.client.auth.token.renew_self = _renewal(10, renewals)  # at its max TTL already
    kv(h.manager).read_secret_version = raiser(then=kv_response({"k": "v"}))
    h.clock.now += 590
    assert h.manager.read_secret("api-keys", "k") == "v"
    assert h.manager.read_secret("api-keys", "k") == "v"
    assert renewals == [10]  # once: a capped renewal is not repeated on every call
    h.clock.now += 11
    with pytest.raises(AuthenticationFailed, match="expired"):
        h.manager.read_secret("api-keys")


def test_a_token_without_ttl_is_never_renewed() -> None:
    h = make(StubAuth(ttl=0))
    h.manager.client.auth.token.renew_self = raiser(AssertionError("must not renew"))
    kv(h.manager).read_secret_version = raiser(then=kv_response({}))
    h.clock.now += 10**9
    h.manager.read_secret("api-keys")
    assert h.manager.token_expires_in() is None and h.auth.logins == 0


def test_a_refused_renewal_falls_back_to_a_new_login() -> None:
    h = make(StubAuth(ttl=3600, renewable=True))
    h.manager.client.auth.token.renew_self = raiser(hvac_errors.Forbidden(errors=["permission denied"]))
    kv(h.manager).read_secret_version = raiser(then=kv_response({}))
    h.clock.now += 3500
    h.manager.read_secret("api-keys")
    assert h.auth.logins == 1


def test_a_403_after_another_thread_logged_in_is_retried_with_the_new_token() -> None:
    h = make()
    calls: list[str] = []

    def read(**kwargs: Any) -> Any:
        calls.append(h.manager.client.token)
        if len(calls) == 1:
            h.manager.client.token = "s." + secrets.token_urlsafe(16)  # the other thread's login
            raise hvac_errors.Forbidden(errors=["permission denied"])
        return kv_response({"k": "v"})

    kv(h.manager).read_secret_version = read
    h.manager.client.auth.token.lookup_self = raiser(AssertionError("no need to check the old token"))
    assert h.manager.read_secret("api-keys", "k") == "v"
    assert len(calls) == 2
    retried_with_the_new_token = calls[0] != calls[1]  # compared here, so a failure prints no token
    assert retried_with_the_new_token

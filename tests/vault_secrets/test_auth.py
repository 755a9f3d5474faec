"""Login strategies without a server: the GitHub ID-token request, env selection, reprs."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from vault_secrets import AppRoleAuth, AuthenticationFailed, GitHubOidcAuth, TokenAuth, auth_from_env
from vault_secrets.auth import fetch_github_id_token

from .github_token_endpoint import GitHubTokenEndpoint
from .secrecy import assert_not_leaked, assert_same_secret

AUDIENCE = "https://vault.example.invalid/llm"  # never contacted: only compared as a string


@pytest.fixture
def endpoint() -> Iterator[GitHubTokenEndpoint]:
    # Echo the audience in the "JWT" so the test can see what was asked for.
    with GitHubTokenEndpoint(lambda audience: f"jwt-for:{audience}") as ep:
        yield ep


def test_fetch_sends_the_bearer_and_an_explicit_audience(endpoint: GitHubTokenEndpoint) -> None:
    token = fetch_github_id_token(AUDIENCE, environ=endpoint.env())
    assert token == f"jwt-for:{AUDIENCE}"
    assert endpoint.audiences == [AUDIENCE]


def test_fetch_reads_the_runner_variables_at_call_time(
    endpoint: GitHubTokenEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in endpoint.env().items():
        monkeypatch.setenv(key, value)
    assert fetch_github_id_token(AUDIENCE) == f"jwt-for:{AUDIENCE}"


def test_a_refused_bearer_raises_authentication_failed_without_the_bearer(endpoint: GitHubTokenEndpoint) -> None:
    wrong = secrets.token_urlsafe(24)
    with pytest.raises(AuthenticationFailed) as info:
        fetch_github_id_token(AUDIENCE, request_url=endpoint.url, request_token=wrong)
    assert "HTTP 401" in str(info.value)
    assert_not_leaked(repr(info.value), wrong, endpoint.request_token)
    assert endpoint.refused == 1


def test_missing_runner_variables_point_at_the_id_token_permission() -> None:
    with pytest.raises(AuthenticationFailed, match="id-token: write"):
        fetch_github_id_token(AUDIENCE, environ={})


def test_an_audience_is_required() -> None:
    with pytest.raises(ValueError, match="audience"):
        fetch_github_id_token("", environ={})
    with pytest.raises(ValueError, match="audience"):
        GitHubOidcAuth(role="github-actions", audience="")


def test_approle_is_chosen_from_the_environment_when_both_ids_are_set() -> None:
    role_id, secret_id = secrets.token_hex(8), secrets.token_hex(8)
    auth = auth_from_env({"VAULT_ROLE_ID": role_id, "VAULT_SECRET_ID": secret_id})
    assert isinstance(auth, AppRoleAuth)
    assert auth.mount_path == "approle"
    assert_same_secret(
        {"role_id": auth.role_id, "secret_id": auth.secret_id}, {"role_id": role_id, "secret_id": secret_id}
    )
    assert auth_from_env({"VAULT_ROLE_ID": role_id}) is None
    assert auth_from_env({}) is None


def test_strategy_reprs_hold_no_secret() -> None:
    token, secret_id = "s." + secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    bearer = secrets.token_urlsafe(16)
    for auth, secret in (
        (TokenAuth(token), token),
        (AppRoleAuth(role_id="rid", secret_id=secret_id), secret_id),
        (GitHubOidcAuth(role="r", audience=AUDIENCE, request_token=bearer), bearer),
    ):
        assert_not_leaked(repr(auth), secret)
        assert secret in auth.sensitive()  # and the manager scrubs it from its errors

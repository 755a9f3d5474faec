"""The local GitHub Actions OIDC issuer mints what GitHub mints, and OpenBao trusts only its keys."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import jwt
import pytest
import requests

from llm_vault.local.oidc_issuer import DISCOVERY_PATH, GitHubOidcIssuer, main
from llm_vault.local.server import Server, free_port_pair

AUDIENCE = "https://openbao.llm-vault.test"
GITHUB_CLAIMS = {
    "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "actor", "actor_id", "repository", "repository_id",
    "repository_owner", "repository_owner_id", "repository_visibility", "ref", "ref_type", "ref_protected",
    "event_name", "head_ref", "base_ref", "job_workflow_ref", "job_workflow_sha", "workflow_ref",
    "workflow_sha", "runner_environment", "run_id", "run_number", "run_attempt", "sha", "workflow",
    "check_run_id",
}  # fmt: skip
ID_CLAIMS = ("actor_id", "repository_id", "repository_owner_id", "run_id", "run_number", "run_attempt")


def _verify(issuer: GitHubOidcIssuer, token: str, **options: Any) -> dict[str, Any]:
    """Verify as a relying party would: keys from the published JWKS, issuer and audience checked."""
    discovery = requests.get(issuer.url + DISCOVERY_PATH, timeout=5).json()
    key = jwt.PyJWKClient(discovery["jwks_uri"], cache_keys=False).get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token, key.key, algorithms=["RS256"], issuer=discovery["issuer"], audience=AUDIENCE, **options
    )
    return claims


def test_discovery_names_the_issuer_and_its_jwks(oidc_issuer: GitHubOidcIssuer) -> None:
    discovery = requests.get(oidc_issuer.url + DISCOVERY_PATH, timeout=5).json()
    assert discovery["issuer"] == oidc_issuer.url
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", oidc_issuer.url)
    jwks = requests.get(discovery["jwks_uri"], timeout=5).json()
    assert oidc_issuer.current_kid in {key["kid"] for key in jwks["keys"]}
    assert all(key["kty"] == "RSA" and key["alg"] == "RS256" for key in jwks["keys"])
    assert "d" not in jwks["keys"][0]  # public half only


def test_a_minted_token_carries_githubs_claim_set_with_string_ids(oidc_issuer: GitHubOidcIssuer) -> None:
    claims = _verify(oidc_issuer, oidc_issuer.mint(repository="acme/models", audience=AUDIENCE))
    assert claims.keys() >= GITHUB_CLAIMS
    assert "environment" not in claims  # GitHub sends it only for jobs that name an environment
    assert all(isinstance(claims[name], str) and claims[name].isdigit() for name in ID_CLAIMS)
    assert (claims["repository"], claims["repository_owner"]) == ("acme/models", "acme")
    assert jwt.get_unverified_header(oidc_issuer.mint())["kid"] == oidc_issuer.current_kid


def test_the_default_audience_is_the_owner_url_as_on_github(oidc_issuer: GitHubOidcIssuer) -> None:
    claims = jwt.decode(oidc_issuer.mint(repository="acme/models"), options={"verify_signature": False})
    assert claims["aud"] == "https://github.com/acme"


@pytest.mark.parametrize(
    ("kwargs", "subject", "extra_claims"),
    [
        ({"ref": "refs/heads/main"}, "repo:acme/llm:ref:refs/heads/main", {"ref_type": "branch"}),
        ({"ref": "refs/tags/v1.2.0"}, "repo:acme/llm:ref:refs/tags/v1.2.0", {"ref_type": "tag"}),
        ({"environment": "prod"}, "repo:acme/llm:environment:prod", {"environment": "prod"}),
        (
            {"pull_request": True},
            "repo:acme/llm:pull_request",
            {"event_name": "pull_request", "ref": "refs/pull/1/merge", "base_ref": "refs/heads/main"},
        ),
        (
            {"ref": "refs/heads/main", "immutable_subject": True, "repository_owner_id": "11",
             "repository_id": "22"},
            "repo:acme@11/llm@22:ref:refs/heads/main",
            {"repository_owner_id": "11", "repository_id": "22"},
        ),
        (
            {"environment": "prod", "pull_request": True, "immutable_subject": True,
             "repository_owner_id": "11", "repository_id": "22"},
            "repo:acme@11/llm@22:environment:prod",
            {"event_name": "pull_request"},
        ),
    ],
)  # fmt: skip
def test_every_documented_subject_shape(
    oidc_issuer: GitHubOidcIssuer, kwargs: dict[str, Any], subject: str, extra_claims: dict[str, str]
) -> None:
    claims = _verify(oidc_issuer, oidc_issuer.mint(repository="acme/llm", audience=AUDIENCE, **kwargs))
    assert claims["sub"] == subject
    assert {name: claims[name] for name in extra_claims} == extra_claims


def test_extra_overrides_and_drop_removes_claims(oidc_issuer: GitHubOidcIssuer) -> None:
    token = oidc_issuer.mint(audience=AUDIENCE, extra={"sub": "repo:evil/x:ref:refs/heads/main"}, drop=["jti"])
    claims = _verify(oidc_issuer, token)
    assert claims["sub"] == "repo:evil/x:ref:refs/heads/main"
    assert "jti" not in claims


def test_expiry_and_not_before_are_honoured(oidc_issuer: GitHubOidcIssuer) -> None:
    with pytest.raises(jwt.ExpiredSignatureError):
        _verify(oidc_issuer, oidc_issuer.mint(audience=AUDIENCE, expires_in=-60))
    with pytest.raises(jwt.ImmatureSignatureError):
        _verify(oidc_issuer, oidc_issuer.mint(audience=AUDIENCE, not_before=int(time.time()) + 3600))


def test_a_token_signed_with_the_unpublished_key_does_not_verify(oidc_issuer: GitHubOidcIssuer) -> None:
    token = oidc_issuer.mint(audience=AUDIENCE, sign_with="unpublished")
    assert jwt.get_unverified_header(token)["kid"] == oidc_issuer.current_kid  # an impostor's header
    with pytest.raises(jwt.InvalidSignatureError):
        _verify(oidc_issuer, token)


def test_rotation_signs_with_a_new_key_and_keeps_publishing_the_old_one() -> None:
    with GitHubOidcIssuer() as issuer:
        old_token = issuer.mint(audience=AUDIENCE)
        old_kid = issuer.current_kid
        new_kid = issuer.rotate_keys()
        assert new_kid != old_kid and issuer.current_kid == new_kid
        assert _verify(issuer, issuer.mint(audience=AUDIENCE))["iss"] == issuer.url
        assert _verify(issuer, old_token)  # still published during the rotation
        issuer.rotate_keys(keep_previous=False)
        assert [key["kid"] for key in issuer.jwks()["keys"]] == [issuer.current_kid]
        with pytest.raises(jwt.PyJWKClientError):
            _verify(issuer, old_token)


def test_the_cli_mints_tokens_the_serving_issuer_vouches_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "issuer.pem"
    port = free_port_pair()
    serving = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llm_vault.local.oidc_issuer",
            "--port",
            str(port),
            "--key-file",
            str(key_file),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert serving.stdout is not None
        assert serving.stdout.readline().startswith(f"serving http://127.0.0.1:{port}")
        assert key_file.stat().st_mode & 0o077 == 0
        url = f"http://127.0.0.1:{port}"
        main(
            [
                "mint",
                "--issuer",
                url,
                "--key-file",
                str(key_file),
                "--audience",
                AUDIENCE,
                "--environment",
                "dev",
            ]
        )
        token = capsys.readouterr().out.strip()
        discovery = requests.get(url + DISCOVERY_PATH, timeout=5).json()
        key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["RS256"], issuer=url, audience=AUDIENCE)
        assert claims["sub"] == "repo:acme/llm-platform:environment:dev"
    finally:
        serving.terminate()
        serving.wait(timeout=10)


# -- OpenBao trusts the issuer ---------------------------------------------------------------------


@pytest.fixture
def jwt_backend(openbao: Server, scratch_namespace: str, oidc_issuer: GitHubOidcIssuer) -> Iterator[hvac.Client]:
    """A JWT auth method in a throwaway namespace trusting ``oidc_issuer``; one role ``ci``."""
    client = openbao.client(namespace=scratch_namespace)
    client.sys.enable_auth_method("jwt", path="github")
    # OpenBao fetches the discovery document now: the issuer is on 127.0.0.1, nothing leaves the host.
    client.write_data(
        "auth/github/config", data={"oidc_discovery_url": oidc_issuer.url, "bound_issuer": oidc_issuer.url}
    )
    client.write_data(
        "auth/github/role/ci",
        data={
            "role_type": "jwt",
            "user_claim": "sub",
            "bound_audiences": [AUDIENCE],
            "bound_subject": "repo:acme/llm:environment:dev",
            "token_policies": ["default"],
            "token_ttl": 60,
        },
    )
    yield client
    client.sys.disable_auth_method("github")


def _login(openbao: Server, namespace: str, token: str) -> dict[str, Any]:
    anonymous = openbao.client(token="", namespace=namespace)
    auth: dict[str, Any] = anonymous.write_data("auth/github/login", data={"role": "ci", "jwt": token})["auth"]
    return auth


@pytest.mark.integration
def test_openbao_accepts_a_token_from_the_issuer(
    openbao: Server, scratch_namespace: str, oidc_issuer: GitHubOidcIssuer, jwt_backend: hvac.Client
) -> None:
    auth = _login(
        openbao,
        scratch_namespace,
        oidc_issuer.mint(repository="acme/llm", environment="dev", audience=AUDIENCE),
    )
    assert auth["client_token"].startswith("s.")
    assert auth["policies"] == ["default"]
    assert auth["lease_duration"] == 60


@pytest.mark.integration
@pytest.mark.parametrize(
    "variant",
    [
        {"sign_with": "unpublished"},
        {"audience": "https://github.com/acme"},
        {"environment": "prod"},
        {"expires_in": -600},
    ],
    ids=["unpublished-key", "wrong-audience", "wrong-subject", "expired"],
)
def test_openbao_refuses_tokens_it_must_not_trust(
    openbao: Server,
    scratch_namespace: str,
    oidc_issuer: GitHubOidcIssuer,
    jwt_backend: hvac.Client,
    variant: dict[str, Any],
) -> None:
    claims = {"repository": "acme/llm", "environment": "dev", "audience": AUDIENCE, **variant}
    with pytest.raises((hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden)):
        _login(openbao, scratch_namespace, oidc_issuer.mint(**claims))


@pytest.mark.integration
def test_openbao_follows_a_key_rotation(openbao: Server, scratch_namespace: str) -> None:
    # Its own issuer: rotating the session issuer's keys would surprise other tests.
    with GitHubOidcIssuer() as issuer:
        client = openbao.client(namespace=scratch_namespace)
        client.sys.enable_auth_method("jwt", path="github")
        try:
            client.write_data("auth/github/config", data={"oidc_discovery_url": issuer.url, "bound_issuer": issuer.url})
            client.write_data(
                "auth/github/role/ci",
                data={"role_type": "jwt", "user_claim": "sub", "bound_audiences": [AUDIENCE],
                      "bound_subject": "repo:acme/llm:environment:dev", "token_ttl": 60},
            )  # fmt: skip
            mint = {"repository": "acme/llm", "environment": "dev", "audience": AUDIENCE}
            assert _login(openbao, scratch_namespace, issuer.mint(**mint))["client_token"]
            issuer.rotate_keys(keep_previous=False)
            # A kid OpenBao has not seen makes it fetch the JWKS again.
            assert _login(openbao, scratch_namespace, issuer.mint(**mint))["client_token"]
        finally:
            client.sys.disable_auth_method("github")

"""VaultSecretManager against a real OpenBao and a real Vault: every method, every login, renewal,
re-login, errors.

Everything the tests need is made by the module-scoped ``provisioned`` fixture (the one place to
swap for the Pulumi-provisioned environment later): on OpenBao in one throwaway namespace, deleted
with it; on Vault OSS (no namespaces) in the root namespace under the client's DEFAULT names (kv
mount ``openai-llm``, auth paths ``jwt`` and ``approle``: the original usage relies on them), so
the fixture refuses to start when any of them exists already, and removes all it made.

Token lifetimes are a few seconds where renewal and re-login are exercised; the tests wait on
the client's own view of the token (``token_expires_in``) and assert on behaviour (accessor kept
or changed, renewal recorded by the server), never on durations.
"""

from __future__ import annotations

import os
import secrets
import string
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions as hvac_errors
import pytest

from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.server import Server
from vault_secrets import (
    AppRoleAuth,
    AuthenticationFailed,
    PermissionDenied,
    SecretNotFound,
    VaultSecretManager,
    VaultSecretsError,
)

from .github_token_endpoint import GitHubTokenEndpoint
from .secrecy import assert_not_leaked, assert_same_secret, assert_token_shape

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
POLICY_DIR = REPO_ROOT / "policies"
KV_MOUNT = "openai-llm"
REPOSITORY = "acme-ai/llm-platform"
MAIN_REF = "refs/heads/main"
# An explicit audience, as the CI workflow requests it (never GitHub's owner-URL default).
AUDIENCE = "llm-vault-test"
CI_ROLE = "github-actions"
RUNNER_ROLE = "model-runner"
READONLY_ROLE = "openai-llm-readonly"
# Fallbacks, used only for a policy missing from policies/ (same grants, minimal).
INLINE_POLICIES = {
    "openai-llm-ci": 'path "${kv_mount}/data/*" { capabilities = ["read"] }\n'
    'path "${kv_mount}/metadata/*" { capabilities = ["list"] }\n',
    "openai-llm-readonly": 'path "${kv_mount}/data/*" { capabilities = ["read"] }\n'
    'path "${kv_mount}/metadata/*" { capabilities = ["list"] }\n',
    "model-runner": 'path "${kv_mount}/data/api-keys" { capabilities = ["read"] }\n',
    "openai-llm-operator": 'path "${kv_mount}/data/*" { capabilities = ["create", "read", "update", "delete"] }\n'
    'path "${kv_mount}/metadata/*" { capabilities = ["read", "list"] }\n'
    'path "auth/token/create/openai-llm-readonly" { capabilities = ["update"] }\n',
}
# Bounds every wait for a token to age: a stuck clock must fail the test, not hang it.
MAX_WAIT_SECONDS = 30.0


def _random_value() -> str:
    return "sk-" + secrets.token_urlsafe(24)


@dataclass
class Provisioned:
    """One environment's worth of server objects in a throwaway namespace."""

    server: Server
    issuer: GitHubOidcIssuer
    namespace: str | None  # None on Vault OSS: the root namespace
    api_keys: dict[str, str] = field(repr=False)  # what api-keys holds (generated at runtime)
    policy_sources: dict[str, str] = field(default_factory=dict)  # policy name -> "policies/<file>" or "inline"

    def admin(self, namespace: str | None = None) -> hvac.Client:
        """The root token, routed to ``namespace`` (default: this environment's)."""
        return self.server.client(namespace=namespace or self.namespace)

    def manager(self, **kwargs: Any) -> VaultSecretManager:
        kwargs.setdefault("vault_addr", self.server.address)
        kwargs.setdefault("namespace", self.namespace)
        return VaultSecretManager(**kwargs)

    def token(self, *policies: str, ttl: str = "10m", renewable: bool = True) -> str:
        """A token of this namespace holding only ``policies`` (plus default)."""
        response = self.admin().auth.token.create(policies=list(policies), ttl=ttl, renewable=renewable)
        return str(response["auth"]["client_token"])

    def approle(self, role: str = RUNNER_ROLE) -> tuple[str, str]:
        admin = self.admin()
        role_id = admin.auth.approle.read_role_id(role)["data"]["role_id"]
        secret_id = admin.auth.approle.generate_secret_id(role)["data"]["secret_id"]
        return role_id, secret_id

    def lookup(self, accessor: str) -> dict[str, Any]:
        """A token's properties by accessor (its ``id`` dropped, so a failing assert cannot show it)."""
        data = self.admin().auth.token.lookup_accessor(accessor)["data"]
        return {key: value for key, value in data.items() if key != "id"}

    def lookup_token(self, token: str) -> dict[str, Any]:
        data = self.admin().auth.token.lookup(token)["data"]
        return {key: value for key, value in data.items() if key != "id"}

    def mint_for(self, **claims: Any) -> Callable[[str], str]:
        """What the GitHub endpoint answers: a token for the requested audience."""
        claims.setdefault("repository", REPOSITORY)
        claims.setdefault("ref", MAIN_REF)
        return lambda audience: self.issuer.mint(audience=audience, **claims)


def _policies() -> tuple[dict[str, str], dict[str, str]]:
    """Policy texts rendered for KV_MOUNT: every policies/*.hcl, plus inline ones for any missing."""
    texts: dict[str, str] = {}
    sources: dict[str, str] = {}
    for path in sorted(POLICY_DIR.glob("*.hcl")) if POLICY_DIR.is_dir() else []:
        texts[path.stem] = path.read_text()
        sources[path.stem] = f"policies/{path.name}"
    for name, text in INLINE_POLICIES.items():
        if name not in texts:
            texts[name], sources[name] = text, "inline"
    # substitute, not safe_substitute: an unknown placeholder is an error, as policies/README.md says.
    values = {"kv_mount": KV_MOUNT, "token_role": READONLY_ROLE}  # the operator policy names the token role
    return {n: string.Template(t).substitute(values) for n, t in texts.items()}, sources


def _provision_environment(admin: hvac.Client, issuer: GitHubOidcIssuer, api_keys: dict[str, str]) -> dict[str, str]:
    admin.sys.enable_secrets_engine("kv", path=KV_MOUNT, options={"version": "2"})
    texts, sources = _policies()
    for name, text in texts.items():
        admin.sys.create_or_update_acl_policy(name, text)
    admin.secrets.kv.v2.create_or_update_secret(path="api-keys", secret=api_keys, mount_point=KV_MOUNT)
    # The token role the program declares: children carry openai-llm-readonly, nothing else.
    admin.auth.token.create_or_update_role(
        READONLY_ROLE, allowed_policies=["openai-llm-readonly"], orphan=False, token_explicit_max_ttl="1h"
    )
    # GitHub OIDC trust at the local issuer (never a remote discovery URL).
    admin.sys.enable_auth_method("jwt", path="jwt")
    admin.auth.jwt.configure(oidc_discovery_url=issuer.url, bound_issuer=issuer.url, path="jwt")
    admin.auth.jwt.create_role(
        CI_ROLE,
        user_claim="actor",
        allowed_redirect_uris=[],
        role_type="jwt",
        bound_audiences=[AUDIENCE],
        bound_subject=f"repo:{REPOSITORY}:ref:{MAIN_REF}",
        bound_claims={"repository": REPOSITORY},
        token_policies=["openai-llm-ci"],
        token_ttl=900,
        token_max_ttl=900,
        path="jwt",
    )
    # The model runner's AppRole.
    admin.sys.enable_auth_method("approle", path="approle")
    admin.auth.approle.create_or_update_approle(
        RUNNER_ROLE, token_policies=["model-runner"], token_ttl="1h", token_max_ttl="4h", mount_point="approle"
    )
    return sources


def _remove_root_environment(root: hvac.Client) -> None:
    """What _provision_environment made in the root namespace (Vault OSS), gone already is fine."""
    root.sys.disable_secrets_engine(KV_MOUNT)
    root.sys.disable_auth_method("jwt")
    root.sys.disable_auth_method("approle")
    for name in _policies()[0]:
        root.sys.delete_acl_policy(name)
    root.adapter.delete(f"/v1/auth/token/roles/{READONLY_ROLE}")


@pytest.fixture(scope="module")
def provisioned(server: Server, oidc_issuer: GitHubOidcIssuer) -> Iterator[Provisioned]:
    """THE environment of this module: swap this fixture for the program-provisioned one later."""
    root = server.client()
    namespace: str | None = None
    if server.has_namespaces:
        namespace = f"t-vs-{secrets.token_hex(4)}"
        root.sys.create_namespace(namespace)
    else:
        taken = {f"{KV_MOUNT}/"} & set(root.sys.list_mounted_secrets_engines()["data"]) | {"jwt/", "approle/"} & set(
            root.sys.list_auth_methods()["data"]
        )
        if taken:  # never take over (and later delete) what someone else made
            pytest.fail(f"{server.label}: {sorted(taken)} exist already in the root namespace", pytrace=False)
    try:
        api_keys = {name: _random_value() for name in ("huggingface_token", "openai_key", "anthropic_key")}
        sources = _provision_environment(server.client(namespace=namespace), oidc_issuer, api_keys)
        yield Provisioned(server, oidc_issuer, namespace, api_keys, sources)
    finally:
        if namespace is not None:
            root.sys.delete_namespace(namespace)
        else:
            _remove_root_environment(root)


@pytest.fixture
def other_namespace(provisioned: Provisioned) -> Iterator[str | None]:
    """A second environment namespace with its own kv mount of the same name; None on Vault OSS,
    after checking that it has no namespaces (``sys/namespaces`` answers 404: Enterprise only)."""
    root = provisioned.server.client()
    name = f"t-vs-{secrets.token_hex(4)}"
    if not provisioned.server.has_namespaces:
        with pytest.raises(hvac_errors.InvalidPath):
            root.sys.create_namespace(name)
        yield None
        return
    root.sys.create_namespace(name)
    try:
        provisioned.admin(name).sys.enable_secrets_engine("kv", path=KV_MOUNT, options={"version": "2"})
        yield name
    finally:
        root.sys.delete_namespace(name)


def _set_namespace(env: pytest.MonkeyPatch, variable: str, namespace: str | None) -> None:
    if namespace is not None:  # the root namespace is no namespace at all
        env.setenv(variable, namespace)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for prefix in ("VAULT_", "BAO_"):
        for name in ("ADDR", "TOKEN", "NAMESPACE", "CACERT", "ROLE_ID", "SECRET_ID"):
            monkeypatch.delenv(prefix + name, raising=False)
    return monkeypatch


@pytest.fixture
def temp_approle(provisioned: Provisioned) -> Iterator[Callable[..., tuple[str, str]]]:
    """Make extra AppRole roles (short TTLs) for one test; deleted afterwards."""
    made: list[str] = []

    def make(**token_settings: Any) -> tuple[str, str]:
        name = f"probe-{secrets.token_hex(3)}"
        provisioned.admin().auth.approle.create_or_update_approle(
            name, token_policies=["model-runner"], mount_point="approle", **token_settings
        )
        made.append(name)
        return provisioned.approle(name)

    yield make
    for name in made:
        provisioned.admin().auth.approle.delete_role(name)


def wait_until_expires_in_at_most(manager: VaultSecretManager, seconds: float) -> None:
    """Sleep until the manager's token has at most ``seconds`` left (bounded)."""
    deadline = time.monotonic() + MAX_WAIT_SECONDS
    while (left := manager.token_expires_in()) is not None and left > seconds:
        assert time.monotonic() < deadline, "token did not age within the wait bound"
        time.sleep(min(0.2, max(left - seconds, 0.01)))


def _all_text(exc: BaseException) -> str:
    """Everything an error report could show: str, repr, args and the formatted chain."""
    parts = [str(exc), repr(exc), *map(str, exc.args)]
    parts += traceback.format_exception(exc)
    cause = exc.__cause__
    while cause is not None:
        parts += [str(cause), repr(cause)]
        cause = cause.__cause__
    return "\n".join(parts)


# -- the original usage ---------------------------------------------------------------------------


def test_the_original_usage_from_vault_environment_is_unchanged(
    provisioned: Provisioned, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("VAULT_ADDR", provisioned.server.address)
    clean_env.setenv("VAULT_TOKEN", provisioned.server.root_token)
    _set_namespace(clean_env, "VAULT_NAMESPACE", provisioned.namespace)
    manager = VaultSecretManager()
    assert_same_secret(manager.get_model_credentials(), provisioned.api_keys)
    assert_same_secret(manager.get_api_key("openai"), provisioned.api_keys["openai_key"])
    with pytest.raises(ValueError, match="API key not found for service: mistral"):
        manager.get_api_key("mistral")


def test_bao_variables_alone_are_enough(provisioned: Provisioned, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("BAO_ADDR", provisioned.server.address)
    clean_env.setenv("BAO_TOKEN", provisioned.server.root_token)
    _set_namespace(clean_env, "BAO_NAMESPACE", provisioned.namespace)
    assert_same_secret(VaultSecretManager().get_api_key("anthropic"), provisioned.api_keys["anthropic_key"])


def test_vault_variables_win_over_bao_variables(
    provisioned: Provisioned, other_namespace: str | None, clean_env: pytest.MonkeyPatch
) -> None:
    # On Vault OSS (other_namespace None) only the address and the token can lose.
    if other_namespace is not None:
        provisioned.admin(other_namespace).secrets.kv.v2.create_or_update_secret(
            path="api-keys", secret={"openai_key": _random_value()}, mount_point=KV_MOUNT
        )
    clean_env.setenv("VAULT_ADDR", provisioned.server.address)
    clean_env.setenv("BAO_ADDR", "http://127.0.0.1:9")  # nothing listens there
    clean_env.setenv("VAULT_TOKEN", provisioned.server.root_token)
    clean_env.setenv("BAO_TOKEN", "s." + secrets.token_urlsafe(16))
    _set_namespace(clean_env, "VAULT_NAMESPACE", provisioned.namespace)
    _set_namespace(clean_env, "BAO_NAMESPACE", other_namespace)
    assert_same_secret(VaultSecretManager().get_api_key("openai"), provisioned.api_keys["openai_key"])


# -- each method ------------------------------------------------------------------------------------


def test_write_read_list_and_delete_a_secret(provisioned: Provisioned) -> None:
    manager = provisioned.manager(vault_token=provisioned.server.root_token)
    folder = f"crud-{secrets.token_hex(3)}"
    first, second = _random_value(), _random_value()
    assert manager.write_secret(f"{folder}/svc", {"token": first, "region": "eu"}) is True
    assert_same_secret(manager.read_secret(f"{folder}/svc"), {"token": first, "region": "eu"})
    assert manager.write_secret(f"{folder}/svc", {"token": second}) is True  # a new version
    assert_same_secret(manager.read_secret(f"{folder}/svc", "token"), second)
    assert manager.read_secret(f"{folder}/svc", "region") is None  # missing key: None, as before
    assert manager.list_secrets(folder) == ["svc"]
    assert f"{folder}/" in manager.list_secrets()
    assert manager.list_secrets(f"{folder}-nothing") == []

    assert manager.delete_secret(f"{folder}/svc") is True  # soft: latest version
    with pytest.raises(SecretNotFound):
        manager.read_secret(f"{folder}/svc")
    assert manager.list_secrets(folder) == ["svc"]  # the name stays until deleted permanently
    assert manager.delete_secret(f"{folder}/svc", permanent=True) is True
    assert manager.list_secrets(folder) == []
    assert manager.delete_secret(f"{folder}/svc", permanent=True) is True  # idempotent


def test_reading_a_missing_secret_raises_secret_not_found_with_the_path(provisioned: Provisioned) -> None:
    manager = provisioned.manager(vault_token=provisioned.server.root_token)
    with pytest.raises(SecretNotFound) as info:
        manager.read_secret("never-written", "key")
    assert info.value.path == f"{KV_MOUNT}/never-written"
    assert info.value.namespace == provisioned.namespace


def test_short_lived_token_is_a_readonly_child_made_through_the_token_role(provisioned: Provisioned) -> None:
    operator = provisioned.manager(vault_token=provisioned.token("openai-llm-operator"))
    child = operator.get_short_lived_token()
    assert_token_shape(child, provisioned.server.product)
    info = provisioned.lookup_token(child)
    assert info["path"] == f"auth/token/create/{READONLY_ROLE}"
    assert sorted(info["policies"]) == ["default", "openai-llm-readonly"]
    assert info["creation_ttl"] == 3600
    assert provisioned.lookup_token(operator.get_short_lived_token(ttl="10m"))["creation_ttl"] == 600

    reader = provisioned.manager(vault_token=child)
    assert_same_secret(reader.get_model_credentials(), provisioned.api_keys)
    with pytest.raises(PermissionDenied):
        reader.write_secret("api-keys", {"openai_key": _random_value()})
    with pytest.raises(PermissionDenied):  # a child cannot mint grandchildren
        reader.get_short_lived_token()


@pytest.mark.parametrize("policy", ["openai-llm-ci", "model-runner"])
def test_ci_and_model_runner_tokens_cannot_mint_short_lived_tokens(provisioned: Provisioned, policy: str) -> None:
    holder = provisioned.manager(vault_token=provisioned.token(policy))
    with pytest.raises(PermissionDenied) as info:
        holder.get_short_lived_token()
    assert info.value.path == f"auth/token/create/{READONLY_ROLE}"


def _approle_kwargs(role_id: str, secret_id: str) -> dict[str, Any]:
    return {"auth": AppRoleAuth(role_id=role_id, secret_id=secret_id)}


# -- each login method ------------------------------------------------------------------------------


def test_token_login(provisioned: Provisioned) -> None:
    token = provisioned.token("openai-llm-readonly")
    manager = VaultSecretManager.from_token(
        token, vault_addr=provisioned.server.address, namespace=provisioned.namespace
    )
    assert manager.auth.name == "token"
    assert provisioned.lookup(str(manager.token_accessor))["policies"] == ["default", "openai-llm-readonly"]
    assert_same_secret(manager.get_model_credentials(), provisioned.api_keys)


def test_a_revoked_or_bogus_token_is_refused_at_construction(provisioned: Provisioned) -> None:
    token = provisioned.token("openai-llm-readonly")
    provisioned.admin().auth.token.revoke(token)
    for bad in (token, "s." + secrets.token_urlsafe(16)):
        with pytest.raises(AuthenticationFailed) as info:
            provisioned.manager(vault_token=bad)
        assert_not_leaked(_all_text(info.value), bad)


def test_approle_login_as_the_model_runner(provisioned: Provisioned) -> None:
    role_id, secret_id = provisioned.approle()
    manager = VaultSecretManager.from_approle(
        role_id, secret_id, vault_addr=provisioned.server.address, namespace=provisioned.namespace
    )
    assert provisioned.lookup(str(manager.token_accessor))["policies"] == ["default", "model-runner"]
    assert_same_secret(manager.get_model_credentials(), provisioned.api_keys)
    with pytest.raises(PermissionDenied):
        manager.write_secret("api-keys", {"openai_key": _random_value()})


def test_approle_login_with_a_wrong_secret_id_fails_without_echoing_it(provisioned: Provisioned) -> None:
    role_id, _ = provisioned.approle()
    wrong = secrets.token_hex(16)
    with pytest.raises(AuthenticationFailed) as info:
        VaultSecretManager.from_approle(
            role_id, wrong, vault_addr=provisioned.server.address, namespace=provisioned.namespace
        )
    assert_not_leaked(_all_text(info.value), wrong, role_id)


def test_github_actions_oidc_login(provisioned: Provisioned, monkeypatch: pytest.MonkeyPatch) -> None:
    with GitHubTokenEndpoint(provisioned.mint_for()) as endpoint:
        for key, value in endpoint.env().items():
            monkeypatch.setenv(key, value)
        manager = VaultSecretManager.from_github_actions(
            CI_ROLE, AUDIENCE, vault_addr=provisioned.server.address, namespace=provisioned.namespace
        )
        assert endpoint.audiences == [AUDIENCE]  # asked for explicitly
    info = provisioned.lookup(str(manager.token_accessor))
    assert info["policies"] == ["default", "openai-llm-ci"]
    assert info["path"] == "auth/jwt/login"
    assert info["meta"]["role"] == CI_ROLE
    assert_same_secret(manager.get_model_credentials(), provisioned.api_keys)


@pytest.mark.parametrize(
    ("claims", "audience"),
    [
        ({}, "https://github.com/acme-ai"),  # GitHub's default audience: not bound
        ({"repository": "someone-else/fork"}, AUDIENCE),
        ({"ref": "refs/heads/feature"}, AUDIENCE),
    ],
    ids=["wrong-audience", "other-repository", "other-branch"],
)
def test_github_actions_oidc_login_is_refused_outside_the_binding(
    provisioned: Provisioned, monkeypatch: pytest.MonkeyPatch, claims: dict[str, str], audience: str
) -> None:
    with GitHubTokenEndpoint(provisioned.mint_for(**claims)) as endpoint:
        for key, value in endpoint.env().items():
            monkeypatch.setenv(key, value)
        with pytest.raises(AuthenticationFailed) as info:
            VaultSecretManager.from_github_actions(
                CI_ROLE, audience, vault_addr=provisioned.server.address, namespace=provisioned.namespace
            )
        assert_not_leaked(_all_text(info.value), endpoint.request_token)


def test_github_actions_oidc_login_refused_by_the_token_endpoint(
    provisioned: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    with GitHubTokenEndpoint(provisioned.mint_for()) as endpoint:
        monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", endpoint.url)
        monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", secrets.token_urlsafe(24))  # not the runner's
        with pytest.raises(AuthenticationFailed, match="HTTP 401"):
            VaultSecretManager.from_github_actions(
                CI_ROLE, AUDIENCE, vault_addr=provisioned.server.address, namespace=provisioned.namespace
            )
        assert endpoint.audiences == []


# -- renewal and re-login ---------------------------------------------------------------------------


def test_a_token_near_expiry_is_renewed_and_kept(
    provisioned: Provisioned, temp_approle: Callable[..., tuple[str, str]]
) -> None:
    role_id, secret_id = temp_approle(token_ttl="4s", token_max_ttl="1m")
    manager = provisioned.manager(**_approle_kwargs(role_id, secret_id))
    accessor = manager.token_accessor
    assert "last_renewal_time" not in provisioned.lookup(str(accessor))
    wait_until_expires_in_at_most(manager, 1.8)  # under the threshold (half of 4 s)
    assert_same_secret(manager.get_api_key("openai"), provisioned.api_keys["openai_key"])
    assert manager.token_accessor == accessor  # renewed, not replaced
    assert provisioned.lookup(str(accessor)).get("last_renewal_time")


def test_when_renewal_cannot_extend_the_token_the_manager_logs_in_again(
    provisioned: Provisioned, temp_approle: Callable[..., tuple[str, str]]
) -> None:
    role_id, secret_id = temp_approle(token_ttl="4s", token_max_ttl="4s")  # renewal cannot extend it
    manager = provisioned.manager(**_approle_kwargs(role_id, secret_id))
    accessor = manager.token_accessor
    wait_until_expires_in_at_most(manager, 1.8)
    assert_same_secret(manager.get_api_key("openai"), provisioned.api_keys["openai_key"])
    assert manager.token_accessor != accessor


def test_after_the_token_expired_the_manager_logs_in_again(
    provisioned: Provisioned, temp_approle: Callable[..., tuple[str, str]]
) -> None:
    role_id, secret_id = temp_approle(token_ttl="2s", token_max_ttl="2s")
    manager = provisioned.manager(**_approle_kwargs(role_id, secret_id))
    accessor = manager.token_accessor
    wait_until_expires_in_at_most(manager, -0.5)
    assert_same_secret(manager.get_model_credentials(), provisioned.api_keys)
    assert manager.token_accessor != accessor


def test_after_the_token_was_revoked_the_manager_logs_in_again(provisioned: Provisioned) -> None:
    manager = provisioned.manager(**_approle_kwargs(*provisioned.approle()))
    accessor = str(manager.token_accessor)
    provisioned.admin().auth.token.revoke_accessor(accessor)
    assert_same_secret(manager.get_model_credentials(), provisioned.api_keys)
    assert manager.token_accessor != accessor


def test_github_oidc_relogin_fetches_a_fresh_id_token(
    provisioned: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    role = f"gha-short-{secrets.token_hex(3)}"
    admin = provisioned.admin()
    admin.auth.jwt.create_role(
        role,
        user_claim="actor",
        allowed_redirect_uris=[],
        bound_audiences=[AUDIENCE],
        bound_subject=f"repo:{REPOSITORY}:ref:{MAIN_REF}",
        token_policies=["openai-llm-ci"],
        token_ttl=2,
        token_max_ttl=2,
        path="jwt",
    )
    try:
        with GitHubTokenEndpoint(provisioned.mint_for()) as endpoint:
            for key, value in endpoint.env().items():
                monkeypatch.setenv(key, value)
            manager = VaultSecretManager.from_github_actions(
                role, AUDIENCE, vault_addr=provisioned.server.address, namespace=provisioned.namespace
            )
            accessor = manager.token_accessor
            wait_until_expires_in_at_most(manager, -0.5)
            assert_same_secret(manager.get_model_credentials(), provisioned.api_keys)
            assert manager.token_accessor != accessor
            assert endpoint.audiences == [AUDIENCE, AUDIENCE]
    finally:
        admin.auth.jwt.delete_role(role, path="jwt")


def test_an_expired_static_token_raises_authentication_failed(provisioned: Provisioned) -> None:
    manager = provisioned.manager(vault_token=provisioned.token("openai-llm-readonly", ttl="2s", renewable=False))
    wait_until_expires_in_at_most(manager, -0.5)
    with pytest.raises(AuthenticationFailed):
        manager.get_model_credentials()


def test_a_revoked_static_token_raises_authentication_failed_not_permission_denied(
    provisioned: Provisioned,
) -> None:
    token = provisioned.token("openai-llm-readonly")
    manager = provisioned.manager(vault_token=token)
    provisioned.admin().auth.token.revoke(token)
    with pytest.raises(AuthenticationFailed, match="invalid, expired or revoked"):
        manager.read_secret("api-keys")


# -- policies, namespaces, secrecy ------------------------------------------------------------------


def test_a_ci_policy_token_is_denied_write_and_delete(provisioned: Provisioned) -> None:
    ci = provisioned.manager(vault_token=provisioned.token("openai-llm-ci"))
    assert_same_secret(ci.read_secret("api-keys", "openai_key"), provisioned.api_keys["openai_key"])
    with pytest.raises(PermissionDenied) as write:
        ci.write_secret("api-keys", {"openai_key": _random_value()})
    assert write.value.path == f"{KV_MOUNT}/api-keys" and write.value.server_message == "permission denied"
    with pytest.raises(PermissionDenied):
        ci.delete_secret("api-keys")
    with pytest.raises(PermissionDenied):
        ci.delete_secret("api-keys", permanent=True)
    stored = provisioned.admin().secrets.kv.v2.read_secret_version(
        path="api-keys", mount_point=KV_MOUNT, raise_on_deleted_version=True
    )
    assert_same_secret(stored["data"]["data"], provisioned.api_keys, "api-keys after the denied writes")


def test_the_same_path_in_two_namespaces_returns_each_namespaces_value(
    provisioned: Provisioned, other_namespace: str | None
) -> None:
    if other_namespace is None:
        _vault_oss_ignores_the_namespace_given_to_the_client(provisioned)
        return
    here, there = _random_value(), _random_value()
    path = f"routing-{secrets.token_hex(3)}"
    root = provisioned.server.root_token
    in_here = provisioned.manager(vault_token=root)
    in_there = provisioned.manager(vault_token=root, namespace=other_namespace)
    in_here.write_secret(path, {"value": here})
    in_there.write_secret(path, {"value": there})
    assert_same_secret(in_here.read_secret(path, "value"), here)
    assert_same_secret(in_there.read_secret(path, "value"), there)
    # And what each wrote is really in its own namespace on the server.
    stored = provisioned.admin(other_namespace).secrets.kv.v2.read_secret_version(
        path=path, mount_point=KV_MOUNT, raise_on_deleted_version=True
    )
    assert_same_secret(stored["data"]["data"], {"value": there})


def _vault_oss_ignores_the_namespace_given_to_the_client(provisioned: Provisioned) -> None:
    """Vault OSS drops X-Vault-Namespace (http/handler_stubs_oss.go): a client "in" namespace x
    reads and writes the root. A namespace is no isolation there: environments are kept apart by
    mount paths (the Vault OSS layout), never by VAULT_NAMESPACE."""
    value = _random_value()
    path = f"routing-{secrets.token_hex(3)}"
    root = provisioned.server.root_token
    in_x = provisioned.manager(vault_token=root, namespace=f"t-vs-{secrets.token_hex(4)}")
    in_x.write_secret(path, {"value": value})
    assert_same_secret(provisioned.manager(vault_token=root).read_secret(path, "value"), value)
    provisioned.manager(vault_token=root).delete_secret(path, permanent=True)


def test_errors_never_contain_the_secret_value_or_a_token(provisioned: Provisioned) -> None:
    value = _random_value()
    ci_token = provisioned.token("openai-llm-ci")
    ci = provisioned.manager(vault_token=ci_token)
    failures: list[VaultSecretsError] = []
    for attempt in (
        lambda: ci.write_secret("api-keys", {"openai_key": value}),
        lambda: ci.write_secret(f"new-{secrets.token_hex(3)}", {"v": value}),
        lambda: ci.read_secret(f"missing-{secrets.token_hex(3)}"),
        lambda: ci.delete_secret("api-keys"),
        lambda: ci.get_short_lived_token(),
    ):
        with pytest.raises(VaultSecretsError) as info:
            attempt()
        failures.append(info.value)
    assert {type(f) for f in failures} == {PermissionDenied, SecretNotFound}
    for failure in failures:
        assert_not_leaked(
            _all_text(failure), value, ci_token, provisioned.server.root_token, *provisioned.api_keys.values()
        )


def test_an_operation_on_a_missing_mount_is_a_typed_error(provisioned: Provisioned) -> None:
    manager = provisioned.manager(vault_token=provisioned.server.root_token, mount_point="no-such-mount")
    with pytest.raises(SecretNotFound) as info:
        manager.read_secret("api-keys")
    assert "no handler for route" in info.value.server_message  # the server's own words, kept
    assert isinstance(info.value.__cause__, hvac_errors.InvalidPath)


# -- the example ------------------------------------------------------------------------------------

EXAMPLE = REPO_ROOT / "examples" / "model_runner.py"


def _run_example(provisioned: Provisioned, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_", "ACTIONS_ID_TOKEN"))}
    return subprocess.run(
        # "" is the root namespace (Vault OSS); without --namespace the example would use "dev".
        [sys.executable, str(EXAMPLE), "--namespace", provisioned.namespace or "", *args],
        env={**base, "VAULT_ADDR": provisioned.server.address, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("login", ["approle", "token"])
def test_the_model_runner_example_reports_credentials_without_values(provisioned: Provisioned, login: str) -> None:
    args: tuple[str, ...]
    if login == "approle":  # the runner's own identity
        role_id, secret_id = provisioned.approle()
        env, args = {"VAULT_ROLE_ID": role_id, "VAULT_SECRET_ID": secret_id}, ()
    else:  # an operator's token: the one policy that may mint worker tokens
        env, args = {"VAULT_TOKEN": provisioned.token("openai-llm-operator")}, ("--worker-token",)
    result = _run_example(provisioned, env, *args)
    output = result.stdout + result.stderr
    assert_not_leaked(output, *provisioned.api_keys.values(), *env.values(), provisioned.server.root_token)
    assert result.returncode == 0, result.stderr
    assert f"logged in with {login}" in result.stdout
    for name, value in provisioned.api_keys.items():
        assert f"{name}: present ({len(value)} chars" in result.stdout
    assert "openai: client configured" in result.stdout and "worker env: HF_TOKEN set" in result.stdout
    assert ("worker token (openai-llm-readonly, 15m): present" in result.stdout) == (login == "token")


def test_the_model_runner_identity_may_not_mint_worker_tokens(provisioned: Provisioned) -> None:
    role_id, secret_id = provisioned.approle()
    result = _run_example(provisioned, {"VAULT_ROLE_ID": role_id, "VAULT_SECRET_ID": secret_id}, "--worker-token")
    assert_not_leaked(result.stdout + result.stderr, role_id, secret_id, *provisioned.api_keys.values())
    assert result.returncode == 2
    assert "error: PermissionDenied: create token auth/token/create/openai-llm-readonly" in result.stderr


def test_the_model_runner_example_reports_a_vault_error_without_secrets(provisioned: Provisioned) -> None:
    role_id, _ = provisioned.approle()
    wrong = secrets.token_hex(16)
    result = _run_example(provisioned, {"VAULT_ROLE_ID": role_id, "VAULT_SECRET_ID": wrong})
    assert result.returncode == 2
    assert "error: AuthenticationFailed" in result.stderr
    assert_not_leaked(result.stdout + result.stderr, wrong, role_id)

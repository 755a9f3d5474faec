"""The original document's usage examples run unchanged (but for the import line) against a real
server, as each of the three identities that run them: a CI job (GitHub OIDC login, policy
``openai-llm-ci``), the model runner (AppRole ``model-runner``) and an operator
(``openai-llm-operator``). Each gets the same two credentials; failures are the original's
``ValueError``. The examples are in ``original_usage.py`` (a reconstruction: see its docstring).
"""

# The fixtures come from test_integration (one provisioned environment per module, no copy):
# pytest finds them by name, which ruff reads as unused imports redefined by the parameters.
# ruff: noqa: F401, F811

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable

import pytest

from vault_secrets import ApiKeyNotFound, AuthenticationFailed, VaultSecretManager

from . import original_usage
from .secrecy import assert_not_leaked, assert_same_secret
from .test_integration import AUDIENCE, CI_ROLE, KV_MOUNT, Provisioned, clean_env, provisioned

pytestmark = pytest.mark.integration


def _ci_token(p: Provisioned) -> str:
    """What the job's login step leaves in VAULT_TOKEN: auth/jwt/login with the job's ID token."""
    jwt = p.mint_for()(AUDIENCE)
    return str(p.admin().auth.jwt.jwt_login(role=CI_ROLE, jwt=jwt, use_token=False, path="jwt")["auth"]["client_token"])


def _runner_token(p: Provisioned) -> str:
    role_id, secret_id = p.approle()
    return str(
        p.admin().auth.approle.login(role_id=role_id, secret_id=secret_id, use_token=False)["auth"]["client_token"]
    )


def _operator_token(p: Provisioned) -> str:
    return p.token("openai-llm-operator")


IDENTITIES: dict[str, Callable[[Provisioned], str]] = {
    "ci": _ci_token,
    "model-runner": _runner_token,
    "operator": _operator_token,
}


@pytest.fixture(params=sorted(IDENTITIES))
def as_identity(request: pytest.FixtureRequest, provisioned: Provisioned, clean_env: pytest.MonkeyPatch) -> str:
    """The environment the examples read: VAULT_ADDR, VAULT_NAMESPACE and the identity's VAULT_TOKEN."""
    token = IDENTITIES[request.param](provisioned)
    policies = provisioned.lookup_token(token)["policies"]
    expected = {"ci": "openai-llm-ci", "model-runner": "model-runner", "operator": "openai-llm-operator"}
    assert expected[request.param] in policies  # the login gave the identity it claims
    clean_env.setenv("VAULT_ADDR", provisioned.server.address)
    if provisioned.namespace:
        clean_env.setenv("VAULT_NAMESPACE", provisioned.namespace)
    else:  # Vault OSS: the root namespace, as its users run the examples (no VAULT_NAMESPACE at all)
        clean_env.delenv("VAULT_NAMESPACE", raising=False)
    clean_env.setenv("VAULT_TOKEN", token)
    for name in ("HF_TOKEN", "HUGGINGFACE_TOKEN"):
        clean_env.delenv(name, raising=False)
    return token


def test_get_model_credentials_returns_the_hub_token_and_the_openai_key(
    as_identity: str, provisioned: Provisioned, capsys: pytest.CaptureFixture[str]
) -> None:
    creds = original_usage.get_model_credentials()
    assert_same_secret(
        creds,
        {"huggingface": provisioned.api_keys["huggingface_token"], "openai": provisioned.api_keys["openai_key"]},
    )
    assert_same_secret(os.environ["HF_TOKEN"], provisioned.api_keys["huggingface_token"])
    assert capsys.readouterr().out == ""  # no failure printed


def test_initialize_model_with_vault_sets_the_hugging_face_token(
    as_identity: str, provisioned: Provisioned, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(original_usage.initialize_model_with_vault())
    assert_same_secret(os.environ["HUGGINGFACE_TOKEN"], provisioned.api_keys["huggingface_token"])
    assert capsys.readouterr().out == "Model initialized with Vault-managed credentials\n"


def test_without_a_token_the_example_prints_and_raises_the_originals_value_error(
    provisioned: Provisioned,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clean_env.setenv("VAULT_ADDR", provisioned.server.address)
    with pytest.raises(ValueError) as info:
        original_usage.get_model_credentials()
    assert isinstance(info.value, AuthenticationFailed)
    assert "Failed to retrieve credentials from Vault: " in capsys.readouterr().out


def test_a_missing_key_is_the_originals_value_error_naming_the_service(
    provisioned: Provisioned,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # An environment whose api-keys lacks the Hugging Face token: a namespace of its own on OpenBao;
    # on Vault OSS (no namespaces, and the original usage has no mount parameter) a newer version
    # of the root's api-keys, the provisioned one written back afterwards.
    name: str | None = None
    if provisioned.server.has_namespaces:
        name = f"t-vs-{secrets.token_hex(4)}"
        provisioned.server.client().sys.create_namespace(name)
        provisioned.admin(name).sys.enable_secrets_engine("kv", path=KV_MOUNT, options={"version": "2"})
    admin = provisioned.admin(name)
    try:
        openai_key = "sk-" + secrets.token_urlsafe(24)
        admin.secrets.kv.v2.create_or_update_secret(
            path="api-keys", secret={"openai_key": openai_key}, mount_point=KV_MOUNT
        )
        clean_env.setenv("VAULT_ADDR", provisioned.server.address)
        if name is not None:
            clean_env.setenv("VAULT_NAMESPACE", name)
        clean_env.setenv("VAULT_TOKEN", provisioned.server.root_token)
        with pytest.raises(ValueError, match="API key not found for service: huggingface") as info:
            original_usage.get_model_credentials()
        assert isinstance(info.value, ApiKeyNotFound) and info.value.key == "huggingface_token"
        out = capsys.readouterr().out
        assert "API key not found for service: huggingface" in out
        assert_not_leaked(out, openai_key, provisioned.server.root_token)
    finally:
        if name is not None:
            provisioned.server.client().sys.delete_namespace(name)
        else:
            admin.secrets.kv.v2.create_or_update_secret(
                path="api-keys", secret=provisioned.api_keys, mount_point=KV_MOUNT
            )


def test_the_original_constructor_keywords_reach_the_server(provisioned: Provisioned) -> None:
    by_name = VaultSecretManager(
        vault_url=provisioned.server.address, token=_operator_token(provisioned), namespace=provisioned.namespace
    )
    by_position = VaultSecretManager(
        provisioned.server.address, _operator_token(provisioned), namespace=provisioned.namespace
    )
    for manager in (by_name, by_position):
        assert_same_secret(manager.get_api_key("huggingface"), provisioned.api_keys["huggingface_token"])

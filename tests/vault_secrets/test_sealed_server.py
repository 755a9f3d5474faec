"""The client against a sealed server: a typed, bounded failure without secrets, and recovery."""

from __future__ import annotations

import secrets

import pytest

from llm_vault.local.server import Server
from vault_secrets import VaultSecretManager, VaultUnavailable

pytestmark = pytest.mark.integration


def test_a_sealed_server_is_unavailable_not_missing_and_the_client_recovers(
    openbao_persistent: Server,
) -> None:
    server = openbao_persistent
    root = server.client()
    root.sys.enable_secrets_engine("kv", path="openai-llm", options={"version": "2"})
    value = secrets.token_urlsafe(16)
    root.secrets.kv.v2.create_or_update_secret("api-keys", secret={"openai_key": value}, mount_point="openai-llm")
    manager = VaultSecretManager(server.address, server.root_token, retries=1, backoff_seconds=0.01)
    assert manager.get_api_key("openai") == value

    server.seal()
    with pytest.raises(VaultUnavailable) as err:
        manager.get_api_key("openai")
    assert value not in str(err.value) and server.root_token not in str(err.value)

    server.unseal()
    assert manager.get_api_key("openai") == value

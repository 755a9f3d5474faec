"""A sealed server: the apply fails clearly and names the object; after unsealing, a rerun converges."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_vault import automation
from llm_vault.local.server import Server
from vault_provider import args as a
from vault_provider.builtin.backend import BuiltinBackend

from .conftest import destroy_quietly, failing_up, target_for, up, vault_config

pytestmark = [pytest.mark.integration, pytest.mark.engine]


def test_an_apply_to_a_sealed_server_fails_naming_the_object_and_converges_after_unseal(
    openbao_persistent: Server, tmp_path: Path
) -> None:
    server = openbao_persistent

    def program() -> None:
        BuiltinBackend().declare("reader", a.PolicyArgs(name="reader", policy='path "x/*" { capabilities = ["read"] }'))

    config = vault_config(server.address, server.root_token)
    stack = automation.open_stack(target_for("sealed", state_dir=tmp_path / "state", config=config), program)
    try:
        server.seal()
        error = failing_up(stack)
        assert "vault Policy 'reader'" in error
        assert "sealed" in error.lower()
        assert server.root_token not in error

        server.unseal()
        result = up(stack)
        assert result.summary.resource_changes.get("create") == 1
        assert "reader" in server.client().sys.list_acl_policies()["data"]["keys"]
    finally:
        destroy_quietly(stack)

"""Where a test's server objects live, on either server.

OpenBao: a throwaway namespace, objects under their usual names, deleted with the namespace.
Vault OSS has no namespaces (Enterprise only: ``sys/namespaces`` answers 404), so there a scope is
the root namespace and every mount path, auth path, policy and token-role name the test makes
carries a unique prefix (``scope.name("openai-llm")`` -> ``t-1a2b3c4d-openai-llm``); closing the
scope removes everything of the root whose name starts with that prefix. Tests written against a
scope run unchanged on both servers.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

import hvac
import hvac.exceptions
import pytest

from llm_vault import toolchain
from llm_vault.local.server import PRODUCTS, Server

# The pytest id of each server: which one a test ran on is in its name.
SERVER_IDS = {"openbao": f"openbao-{toolchain.OPENBAO_VERSION}", "vault": f"vault-{toolchain.VAULT_VERSION}"}
# For tests that start servers of their own: parametrize("product", PRODUCT_PARAMS).
PRODUCT_PARAMS = [pytest.param(product, id=SERVER_IDS[product]) for product in PRODUCTS]


class Scope:
    def __init__(self, server: Server, label: str = "t") -> None:
        self.server = server
        self.id = f"{label}-{secrets.token_hex(4)}"
        if server.has_namespaces:
            self.namespace: str | None = self.id
            self.prefix = ""
            server.client().sys.create_namespace(self.id)
        else:
            self.namespace = None
            self.prefix = f"{self.id}-"

    def __repr__(self) -> str:
        return f"Scope({self.server.label}, namespace={self.namespace!r}, prefix={self.prefix!r})"

    def name(self, base: str) -> str:
        """The name of ``base`` (a mount path, policy or role name) in this scope."""
        return f"{self.prefix}{base}"

    def client(self, token: str | None = None) -> hvac.Client:
        """A client routed to this scope (the root token when ``token`` is None)."""
        return self.server.client(token, namespace=self.namespace)

    def headers(self, token: str) -> dict[str, str]:
        """Request headers for a raw HTTP call in this scope."""
        headers = {"X-Vault-Token": token}
        if self.namespace:
            headers["X-Vault-Namespace"] = self.namespace
        return headers

    def close(self) -> None:
        """Remove everything this scope holds (gone already is fine)."""
        root = self.server.client()
        if self.namespace is not None:
            with contextlib.suppress(hvac.exceptions.InvalidPath):  # gone already
                root.sys.delete_namespace(self.namespace)
            return
        sweep_root(root, self.prefix)


def _keys(client: hvac.Client, method: str, path: str) -> list[str]:
    try:
        answer: Any = client.adapter.list(path) if method == "LIST" else client.adapter.get(path)
    except hvac.exceptions.InvalidPath:
        return []
    data = (answer or {}).get("data") or {}
    keys = data.get("keys") if "keys" in data else list(data)
    return [str(k).rstrip("/") for k in keys or []]


def sweep_root(root: hvac.Client, prefix: str) -> None:
    """Delete every root-namespace object named ``prefix*``: secrets engines, auth methods, ACL
    policies, token roles and audit devices (what a scope on a server without namespaces makes)."""
    if not prefix:
        raise ValueError("sweep_root needs a non-empty prefix: it would delete everything")
    for path in _keys(root, "GET", "/v1/sys/audit"):
        if path.startswith(prefix):
            root.sys.disable_audit_device(path)
    for path in _keys(root, "GET", "/v1/sys/mounts"):
        if path.startswith(prefix):
            root.sys.disable_secrets_engine(path)
    for path in _keys(root, "GET", "/v1/sys/auth"):
        if path.startswith(prefix):
            root.sys.disable_auth_method(path)
    for name in _keys(root, "LIST", "/v1/sys/policies/acl"):
        if name.startswith(prefix):
            root.sys.delete_acl_policy(name)
    for name in _keys(root, "LIST", "/v1/auth/token/roles"):
        if name.startswith(prefix):
            root.adapter.delete(f"/v1/auth/token/roles/{name}")

"""Failures name the object and keep the server's words; outages are retried or converge on a rerun."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pytest
from pulumi import automation as auto

from llm_vault.local.server import Server
from vault_provider import args as a
from vault_provider.builtin.backend import BuiltinBackend

from .conftest import FlakyProxy, failing_up, preview_changes, up, vault_config

pytestmark = [pytest.mark.integration, pytest.mark.engine]

POLICY = 'path "openai-llm/data/*" { capabilities = ["read"] }\n'


def test_a_token_without_rights_fails_with_403_naming_the_object(
    openbao: Server, namespaces: Callable[[str], str], make_stack: Callable[..., auto.Stack]
) -> None:
    ns = namespaces("err403")
    openbao.client().sys.create_namespace(ns)
    weak = openbao.client().auth.token.create(policies=["default"], ttl="10m")["auth"]["client_token"]

    def program() -> None:
        BuiltinBackend().declare("reader", a.PolicyArgs(name="reader", policy=POLICY, namespace=ns))

    stack = make_stack("err403", program, config=vault_config(openbao.address, weak))
    error = failing_up(stack)

    assert f"vault Policy 'reader' in namespace '{ns}'" in error
    assert "GET /v1/sys/policies/acl/reader failed: 403 Forbidden: permission denied" in error
    leaked = weak in error
    assert not leaked


def test_a_request_the_server_rejects_fails_with_its_message(
    openbao: Server, namespaces: Callable[[str], str], make_stack: Callable[..., auto.Stack]
) -> None:
    ns = namespaces("err400")

    def program() -> None:
        backend = BuiltinBackend()
        parent = backend.declare("ns", a.NamespaceArgs(path=ns))
        backend.declare(
            "engine",
            a.MountArgs(path="models", type="no-such-engine", namespace=ns),
            pulumi.ResourceOptions(depends_on=[parent]),
        )

    error = failing_up(make_stack("err400", program))

    assert f"vault Mount 'models' in namespace '{ns}': POST /v1/sys/mounts/models failed: 400 Bad Request" in error
    assert "no-such-engine" in error  # the server's reason names the unknown plugin


def test_a_token_role_ttl_the_server_would_ignore_is_refused_before_any_request(
    make_stack: Callable[..., auto.Stack],
) -> None:
    def program() -> None:
        BuiltinBackend().declare("short", a.TokenRoleArgs(role_name="short", token_ttl=3600))

    error = failing_up(make_stack("ttl", program))

    assert "token_ttl" in error
    assert "token roles ignore it" in error


def test_transient_unavailability_is_retried(
    openbao: Server,
    namespaces: Callable[[str], str],
    flaky_proxy: Callable[..., FlakyProxy],
    make_stack: Callable[..., auto.Stack],  # last: its teardown (destroy) runs first
) -> None:
    ns = namespaces("retry")
    openbao.client().sys.create_namespace(ns)
    proxy = flaky_proxy(fail_first=3)  # three 503s, as from a sealed server or a standby

    def program() -> None:
        BuiltinBackend().declare("reader", a.PolicyArgs(name="reader", policy=POLICY, namespace=ns))

    up(make_stack("retry", program, config=vault_config(proxy.address, openbao.root_token)))

    assert proxy.refused_with_503 == 3
    policy = openbao.client(namespace=ns).sys.read_acl_policy("reader")["data"]["policy"]
    assert policy == POLICY


def test_a_server_gone_mid_apply_fails_the_run_and_a_rerun_converges(
    openbao: Server,
    namespaces: Callable[[str], str],
    flaky_proxy: Callable[..., FlakyProxy],
    make_stack: Callable[..., auto.Stack],  # last: its teardown (destroy) runs first
) -> None:
    ns = namespaces("outage")
    openbao.client().sys.create_namespace(ns)
    names = [f"reader-{i}" for i in range(8)]
    # The server goes away after three of the eight writes.
    proxy = flaky_proxy(down_after=3)

    def program() -> None:
        backend = BuiltinBackend()
        for name in names:
            backend.declare(name, a.PolicyArgs(name=name, policy=POLICY, namespace=ns))

    stack = make_stack("outage", program, config=vault_config(proxy.address, openbao.root_token))
    error = failing_up(stack)

    assert "cannot connect" in error
    assert f"in namespace '{ns}'" in error
    existing = openbao.client(namespace=ns).sys.list_acl_policies()["data"]["keys"]
    assert len(set(existing) & set(names)) == 3

    proxy.down_after = None
    proxy.start()  # the server is back, on the same address
    up(stack)

    existing = openbao.client(namespace=ns).sys.list_acl_policies()["data"]["keys"]
    assert set(names) <= set(existing)
    assert preview_changes(stack) == {}

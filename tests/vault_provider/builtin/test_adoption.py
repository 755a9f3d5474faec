"""Taking over objects that exist already: only those listed under ``llm-vault:adopt``.

Pulumi cannot ``import`` into a Python dynamic provider, so adoption is a create that finds
the object and updates it in place. Anything not listed is never taken over silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import hvac.exceptions
import pulumi
import pytest
from pulumi import automation as auto

from llm_vault.local.server import Server
from vault_provider import args as a
from vault_provider.builtin.backend import BuiltinBackend

from .conftest import failing_up, preview_changes, up, vault_config

pytestmark = [pytest.mark.integration, pytest.mark.engine]

DECLARED_POLICY = 'path "openai-llm/data/*" { capabilities = ["read"] }\n'
HAND_WRITTEN_POLICY = 'path "*" { capabilities = ["read", "list"] }\n'


def _program(ns: str) -> Callable[[], None]:
    def program() -> None:
        backend = BuiltinBackend()
        kv = backend.declare(
            "kv", a.MountArgs(path="openai-llm", type="kv-v2", description="managed now", namespace=ns)
        )
        on_kv = pulumi.ResourceOptions(depends_on=[kv])
        backend.declare("kv-config", a.KvV2ConfigArgs(mount="openai-llm", max_versions=10, namespace=ns), on_kv)
        backend.declare(
            "kv-metadata",
            a.KvMetadataArgs(mount="openai-llm", name="api-keys", custom_metadata={"owner": "llm"}, namespace=ns),
            on_kv,
        )
        backend.declare("reader", a.PolicyArgs(name="reader", policy=DECLARED_POLICY, namespace=ns))
        backend.declare("reader-2", a.PolicyArgs(name="reader-2", policy=DECLARED_POLICY, namespace=ns))
        backend.declare("taken", a.PolicyArgs(name="taken", policy=DECLARED_POLICY, namespace=ns))

    return program


def _hand_made(server: Server, ns: str, secret_value: str) -> None:
    """What an operator made by hand before this stack existed."""
    server.client().sys.create_namespace(ns)
    client = server.client(namespace=ns)
    client.sys.enable_secrets_engine("kv", path="openai-llm", options={"version": "2"}, description="by hand")
    client.adapter.post("/v1/openai-llm/config", json={"max_versions": 3})
    client.secrets.kv.v2.create_or_update_secret(
        "api-keys", secret={"openai_key": secret_value}, mount_point="openai-llm"
    )
    for name in ("reader", "reader-2", "taken"):
        client.sys.create_or_update_acl_policy(name, HAND_WRITTEN_POLICY)


def _policy(server: Server, ns: str, name: str) -> str:
    return str(server.client(namespace=ns).sys.read_acl_policy(name)["data"]["policy"])


def test_listed_objects_are_adopted_in_place_and_unlisted_ones_refused(
    openbao: Server, namespaces: Callable[[str], str], make_stack: Callable[..., auto.Stack]
) -> None:
    ns = namespaces("adopt")
    secret_value = "not-a-real-key-" + ns  # test data: what the adopted mount must keep
    _hand_made(openbao, ns, secret_value)
    adopt = [
        f"mount:{ns}:openai-llm",  # covers the engine's config as well
        f"kv-metadata:{ns}:openai-llm/api-keys",
        f"policy:{ns}:reader*",  # a glob: reader and reader-2, not taken
    ]
    config = vault_config(openbao.address, openbao.root_token, **{"llm-vault:adopt": (adopt, False)})
    stack = make_stack("adopt", _program(ns), config=config)

    error = failing_up(stack)

    # The unlisted policy: refused, named with the exact entry that would adopt it, untouched.
    # (The engine stops at the first error, so what else this run did is not asserted.)
    assert f"vault Policy 'taken' in namespace '{ns}' already exists" in error
    assert f"'policy:{ns}:taken'" in error
    assert "`llm-vault:adopt`" in error
    assert _policy(openbao, ns, "taken") == HAND_WRITTEN_POLICY

    # Listing it is what it takes.
    stack.set_config("llm-vault:adopt", auto.ConfigValue(value=json.dumps([*adopt, f"policy:{ns}:taken"])))
    up(stack)

    # Every adopted object is updated in place to the declaration...
    for name in ("reader", "reader-2", "taken"):
        assert _policy(openbao, ns, name) == DECLARED_POLICY
    client = openbao.client(namespace=ns)
    mount = client.adapter.get("/v1/sys/mounts/openai-llm")["data"]
    assert (mount["description"], mount["options"]) == ("managed now", {"version": "2"})
    assert client.adapter.get("/v1/openai-llm/config")["data"]["max_versions"] == 10
    metadata = client.secrets.kv.v2.read_secret_metadata("api-keys", mount_point="openai-llm")["data"]
    assert metadata["custom_metadata"] == {"owner": "llm"}
    # ...a mount holding secrets keeps them...
    read = client.secrets.kv.v2.read_secret_version("api-keys", mount_point="openai-llm", raise_on_deleted_version=True)
    assert read["data"]["data"] == {"openai_key": secret_value}
    # ...and the stack owns them: stable, and its destroy removes them.
    assert preview_changes(stack) == {}

    stack.destroy(on_output=lambda _line: None)
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.sys.read_acl_policy("taken")
    assert "openai-llm/" not in client.sys.list_mounted_secrets_engines()["data"]


def test_a_mount_of_another_type_is_not_adopted(
    openbao: Server, namespaces: Callable[[str], str], make_stack: Callable[..., auto.Stack]
) -> None:
    ns = namespaces("adopt-type")
    openbao.client().sys.create_namespace(ns)
    client = openbao.client(namespace=ns)
    client.sys.enable_secrets_engine("kv", path="openai-llm", options={"version": "1"})
    client.write("openai-llm/api-keys", openai_key="kept")

    def program() -> None:
        BuiltinBackend().declare("kv", a.MountArgs(path="openai-llm", type="kv-v2", namespace=ns))

    config = vault_config(
        openbao.address, openbao.root_token, **{"llm-vault:adopt": ([f"mount:{ns}:openai-llm"], False)}
    )
    error = failing_up(make_stack("adopt-type", program, config=config))

    assert f"vault Mount 'openai-llm' in namespace '{ns}' cannot be adopted" in error
    assert "'kv' mount (kv version 1), declared 'kv-v2' (kv version 2)" in error
    assert client.read("openai-llm/api-keys")["data"] == {"openai_key": "kept"}

"""Where the providers connect, what they do when a declaration changes, and ``open_stack``'s
promise never to write into a checked-in project and stack file."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import hvac.exceptions
import pulumi
import pytest
from pulumi import automation as auto

from llm_vault.local.server import Server
from llm_vault.toolchain import REPO_ROOT
from vault_provider import args as a
from vault_provider.builtin.backend import BuiltinBackend

from .conftest import preview_changes, up

pytestmark = [pytest.mark.integration, pytest.mark.engine]

POLICY = 'path "openai-llm/data/*" { capabilities = ["read"] }\n'


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_environment_connection_root_namespace_and_a_checked_in_work_dir(
    openbao: Server,
    namespaces: Callable[[str], str],
    make_stack: Callable[..., auto.Stack],
    tmp_path: Path,
) -> None:
    """Address and token from VAULT_ADDR/VAULT_TOKEN, `vault:namespace` as the root the
    records' namespaces are relative to, and the checked-in project and stack files read but
    never written (the engine writes `encryptionsalt` and config into stack files)."""
    root_ns = namespaces("rootns")
    openbao.client().sys.create_namespace(root_ns)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copyfile(REPO_ROOT / "Pulumi.yaml", checkout / "Pulumi.yaml")
    (checkout / "Pulumi.conn.yaml").write_text(
        f"# checked in\nconfig:\n  vault:namespace: {root_ns}\n  llm-vault:environment: conn\n"
    )
    before = _digests(checkout)

    def program() -> None:
        backend = BuiltinBackend()
        team = backend.declare("team", a.NamespaceArgs(path="team"))
        backend.declare(
            "reader",
            a.PolicyArgs(name="reader", policy=POLICY, namespace="team"),
            pulumi.ResourceOptions(depends_on=[team]),
        )
        pulumi.export("environment", pulumi.Config("llm-vault").get("environment"))

    stack = make_stack(
        "conn",
        program,
        source_root=checkout,
        config={"llm-vault:extra": ("set by the run", False)},  # config set on top: into the copy
        env={"VAULT_ADDR": openbao.address, "VAULT_TOKEN": openbao.root_token},
    )
    result = up(stack)

    assert result.outputs["environment"].value == "conn"
    policy = openbao.client(namespace=f"{root_ns}/team").sys.read_acl_policy("reader")["data"]["policy"]
    assert policy == POLICY
    with pytest.raises(hvac.exceptions.InvalidPath):  # not in the server's root namespace
        openbao.client(namespace="team").sys.read_acl_policy("reader")
    assert _digests(checkout) == before


def test_a_changed_name_replaces_the_object_and_other_changes_update_in_place(
    openbao: Server, namespaces: Callable[[str], str], make_stack: Callable[..., auto.Stack]
) -> None:
    ns = namespaces("replace")
    openbao.client().sys.create_namespace(ns)
    declared = {"name": "reader", "policy": POLICY, "kv_type": "kv-v2"}

    def program() -> None:
        backend = BuiltinBackend()
        backend.declare("policy", a.PolicyArgs(name=declared["name"], policy=declared["policy"], namespace=ns))
        backend.declare("kv", a.MountArgs(path="kv", type=declared["kv_type"], namespace=ns))

    stack = make_stack("replace", program)
    up(stack)
    client = openbao.client(namespace=ns)

    declared["policy"] = POLICY + "# reviewed\n"
    assert preview_changes(stack) == {"update": 1}
    up(stack)
    assert client.sys.read_acl_policy("reader")["data"]["policy"] == declared["policy"]

    declared["name"] = "reader-renamed"
    declared["kv_type"] = "kv"  # kv version 1: Vault cannot change a mount's version back
    assert preview_changes(stack) == {"replace": 2}
    up(stack)
    assert client.sys.read_acl_policy("reader-renamed")["data"]["policy"] == declared["policy"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.sys.read_acl_policy("reader")
    mount = client.adapter.get("/v1/sys/mounts/kv")["data"]
    assert (mount["type"], (mount["options"] or {}).get("version", "1")) == ("kv", "1")
    assert preview_changes(stack) == {}

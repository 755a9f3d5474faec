"""The provider host runs only the providers this project ships, never code from the state."""

from __future__ import annotations

import base64
import pickle
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from vault_provider.args import PolicyArgs
from vault_provider.builtin.host import UntrustedProvider, pickled_reference, provider_for
from vault_provider.builtin.policy import Policy, PolicyProvider

from .conftest import failing_up, unique, up

POLICY_TYPE = "pulumi-python:dynamic/vault:Policy"


class WritesAMarker:
    """What an attacker puts in `__provider`: unpickling it creates ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def _blob(obj: object) -> str:
    return base64.b64encode(pickle.dumps(obj)).decode()


def _our_blob() -> str:
    from pulumi.dynamic.dynamic import serialize_provider
    from pulumi.runtime._serialization import _serialize

    blob, _ = _serialize(True, serialize_provider, PolicyProvider())
    return blob


def test_the_reference_the_program_writes_is_recognised_without_loading_it() -> None:
    assert pickled_reference(_our_blob()) == ("vault_provider.builtin.policy", "PolicyProvider")


def test_a_pickle_that_calls_something_is_not_a_reference(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    assert pickled_reference(_blob(WritesAMarker(marker))) is None
    assert pickled_reference("not base64 !") is None
    assert not marker.exists()


def test_a_shipped_type_with_our_reference_gets_its_provider() -> None:
    provider = provider_for(POLICY_TYPE, "urn:pulumi:s::p::" + POLICY_TYPE + "::x", {"__provider": _our_blob()})
    assert type(provider) is PolicyProvider


def test_the_type_is_taken_from_the_urn_when_the_engine_sends_none() -> None:
    urn = f"urn:pulumi:s::p::llmvault:policies:PolicySet${POLICY_TYPE}::x"
    assert type(provider_for("", urn, {"__provider": _our_blob()})) is PolicyProvider


def test_another_shipped_class_under_a_shipped_type_is_refused() -> None:
    from pulumi.dynamic.dynamic import serialize_provider
    from pulumi.runtime._serialization import _serialize

    from vault_provider.builtin.mount import MountProvider

    blob, _ = _serialize(True, serialize_provider, MountProvider())
    with pytest.raises(UntrustedProvider, match="urn:x"):
        provider_for(POLICY_TYPE, "urn:x", {"__provider": blob})


def _reference_blob(module: str, qualname: str) -> str:
    """The by-reference pickle of a ``qualname`` instance living at ``module``, as the SDK writes one
    (the class is made up for the moment of pickling: nothing of the real module is needed)."""
    fake = types.ModuleType(module)
    cls = type(qualname, (), {"__module__": module, "__qualname__": qualname})
    setattr(fake, qualname, cls)
    sys.modules[module] = fake
    try:
        return _blob(cls())
    finally:
        del sys.modules[module]


def test_a_state_written_before_the_provider_layer_moved_still_loads() -> None:
    # States written when the provider layer was ``llm_vault.vault`` name the same class there.
    old = _reference_blob("llm_vault.vault.builtin.policy", "PolicyProvider")
    assert pickled_reference(old) == ("llm_vault.vault.builtin.policy", "PolicyProvider")
    assert type(provider_for(POLICY_TYPE, "urn:z", {"__provider": old})) is PolicyProvider


def test_a_look_alike_of_the_former_package_is_refused() -> None:
    blob = _reference_blob("llm_vault.vaultx.builtin.policy", "PolicyProvider")
    with pytest.raises(UntrustedProvider, match="urn:z"):
        provider_for(POLICY_TYPE, "urn:z", {"__provider": blob})


def test_a_type_we_do_not_ship_is_refused() -> None:
    with pytest.raises(UntrustedProvider, match="not one this project ships"):
        provider_for("pulumi-python:dynamic:Resource", "urn:y", {"__provider": _our_blob()})


@pytest.mark.integration
@pytest.mark.engine
def test_a_state_whose_provider_was_swapped_for_code_fails_the_apply_naming_the_resource(
    make_stack: Callable[..., auto.Stack], tmp_path: Path
) -> None:
    name = unique("tampered")

    def program() -> None:
        Policy("victim", PolicyArgs(name=name, policy='path "x" { capabilities = ["read"] }'))

    stack = make_stack("tampered", program)
    up(stack)
    marker = tmp_path / "code-ran"
    deployment = stack.export_stack()
    state = deployment.deployment or {}
    for resource in state["resources"]:
        if resource["type"] == POLICY_TYPE:
            for part in ("inputs", "outputs"):
                resource[part]["__provider"] = _blob(WritesAMarker(marker))
    stack.import_stack(auto.Deployment(version=deployment.version, deployment=state))

    error = failing_up(stack)  # a refresh first would be the same: every operation checks

    assert "victim" in error and "state was edited" in error
    assert not marker.exists(), "the provider host ran code from the state"
    # Put the real reference back so that the fixture can destroy the policy.
    for resource in state["resources"]:
        if resource["type"] == POLICY_TYPE:
            for part in ("inputs", "outputs"):
                resource[part]["__provider"] = _our_blob()
    stack.import_stack(auto.Deployment(version=deployment.version, deployment=state))

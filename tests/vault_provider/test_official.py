"""The pulumi_vault side of the seam, under Pulumi mocks (its plugin cannot run here)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pulumi
import pytest

from tests.infra.mock_program import RecordingMocks
from vault_provider import args as a
from vault_provider.official import OfficialBackend


def role(name: str) -> a.JwtAuthRoleArgs:
    return a.JwtAuthRoleArgs(
        backend="jwt",
        role_name=name,
        bound_audiences=("https://vault.acme-ai.example/dev",),
        user_claim="repository",
        bound_subject=f"repo:acme-ai/{name}:ref:refs/heads/main",
        token_policies=("openai-llm-ci",),
        token_ttl=900,
        namespace="dev",
    )


@pytest.fixture
def event_loop_for_mocks() -> Iterator[None]:
    """Pulumi's mocks take the thread's current event loop; a test that ran ``asyncio.run`` before
    on this worker left none. The new loop stays current (as if never unset) for the tests after."""
    asyncio.set_event_loop(asyncio.new_event_loop())
    yield


@pytest.mark.usefixtures("event_loop_for_mocks")
def test_a_role_set_becomes_one_official_role_per_role_under_one_component() -> None:
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="llm-vault", stack="dev", preview=False)

    @pulumi.runtime.test
    def program() -> None:
        OfficialBackend().declare("ci-roles", a.JwtAuthRoleSetArgs("jwt", (role("app-a"), role("app-b")), "dev"))

    program()

    roles = [r for r in mocks.resources if r.type == "vault:jwt/authBackendRole:AuthBackendRole"]
    assert sorted((r.name, r.inputs["roleName"], r.inputs["namespace"]) for r in roles) == [
        # The names the roles had as resources of their own, before sets (``<name>-role-<role>``).
        ("ci-role-app-a", "app-a", "dev"),
        ("ci-role-app-b", "app-b", "dev"),
    ]
    by_name = {r.inputs["roleName"]: r.inputs for r in roles}  # registered concurrently: in no set order
    assert by_name["app-a"]["boundSubject"] == "repo:acme-ai/app-a:ref:refs/heads/main"
    assert [r.type for r in mocks.resources if r.type.startswith("llm-vault:")] == ["llm-vault:official:JwtAuthRoleSet"]

"""Run the real program under Pulumi mocks and record what it declares (and what each backend made of it)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pytest

import infra.program
from infra.config import Settings
from llm_vault.stackfiles import as_engine_config, stack_config
from vault_provider.args import JwtAuthRoleArgs, JwtAuthRoleSetArgs, ObjectArgs
from vault_provider.backend import VaultBackend, select_backend


@dataclass
class Declared:
    name: str
    args: ObjectArgs
    opts: pulumi.ResourceOptions


@dataclass
class MockedResource:
    type: str
    name: str
    inputs: dict[str, Any]


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[MockedResource] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.resources.append(MockedResource(args.typ, args.name, dict(args.inputs)))
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class RecordingBackend:
    """Wraps a real backend and remembers each record it was asked to declare."""

    def __init__(self, inner: VaultBackend):
        self.inner = inner
        self.name = inner.name
        self.declared: list[Declared] = []

    def declare(self, resource_name: str, args: ObjectArgs, opts: pulumi.ResourceOptions | None = None):
        opts = opts or pulumi.ResourceOptions()
        self.declared.append(Declared(resource_name, args, opts))
        return self.inner.declare(resource_name, args, opts)


@dataclass
class ProgramRun:
    declared: list[Declared] = field(default_factory=list)
    mocked: list[MockedResource] = field(default_factory=list)

    def records(self, kind: type) -> list[Any]:
        """The declared records of a kind; JWT roles are declared in sets, and listed from them."""
        if kind is JwtAuthRoleArgs:
            return [role for s in self.records(JwtAuthRoleSetArgs) for role in s.roles]
        return [d.args for d in self.declared if isinstance(d.args, kind)]

    def one(self, kind: type) -> Any:
        found = self.records(kind)
        assert len(found) == 1, f"expected one {kind.__name__}, got {len(found)}"
        return found[0]


def run_program(
    values: dict[str, Any], *, stack: str = "dev", monkeypatch: pytest.MonkeyPatch, settings: Settings | None = None
) -> ProgramRun:
    """Run ``infra.program.main`` under mocks with the given full-key config values (the engine's
    config: the ``pulumi up`` path), or with ``settings`` already validated (our runner's path)."""
    mocks = RecordingMocks()
    run = ProgramRun(mocked=mocks.resources)
    pulumi.runtime.set_mocks(mocks, project="llm-vault", stack=stack, preview=False)
    pulumi.runtime.set_all_config(as_engine_config(values))

    def recording_select(name: str) -> RecordingBackend:
        backend = RecordingBackend(select_backend(name))
        run.declared = backend.declared
        return backend

    monkeypatch.setattr(infra.program, "select_backend", recording_select)

    @pulumi.runtime.test
    def program() -> None:
        infra.program.main(settings)

    program()
    return run


@pytest.fixture
def program_run(monkeypatch: pytest.MonkeyPatch) -> Callable[..., ProgramRun]:
    """``program_run(stack, backend=None, edit=None)``: run the program for a checked-in stack file."""

    def run(stack: str, backend: str | None = None, edit: Callable[[dict[str, Any]], None] | None = None):
        values = copy.deepcopy(stack_config(stack))
        if backend:
            values["llm-vault:providerBackend"] = backend
        if edit:
            edit(values)
        return run_program(values, stack=stack, monkeypatch=monkeypatch)

    return run

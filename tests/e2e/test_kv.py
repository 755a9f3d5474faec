"""kv-v2 as the stacks configure it: versions kept up to max_versions, check-and-set where set."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hvac
import hvac.exceptions
import pytest

from infra.config import KvSettings
from llm_vault.stackfiles import STACKS

from .harness import Deployment, remember

pytestmark = [pytest.mark.integration, pytest.mark.engine]


@dataclass(frozen=True)
class Scratch:
    client: hvac.Client  # root, in the stack's namespace
    kv: KvSettings
    name: str

    def write(self, cas: int | None) -> None:
        value = {"key": remember("secret value", secrets.token_urlsafe(16))}
        self.client.secrets.kv.v2.create_or_update_secret(self.name, secret=value, cas=cas, mount_point=self.kv.path)

    def metadata(self) -> dict[str, Any]:
        return dict(self.client.secrets.kv.v2.read_secret_metadata(self.name, mount_point=self.kv.path)["data"])


@pytest.fixture(params=STACKS)
def scratch(provisioned: Deployment, request: pytest.FixtureRequest) -> Iterator[Scratch]:
    """A fresh secret path in one stack's kv mount, deleted with all its versions afterwards."""
    record = provisioned.stacks[request.param]
    scratch = Scratch(provisioned.root(record.namespace), record.settings.kv, f"e2e/kv-{secrets.token_hex(4)}")
    yield scratch
    scratch.client.secrets.kv.v2.delete_metadata_and_all_versions(scratch.name, mount_point=scratch.kv.path)


def test_versions_are_kept_up_to_max_versions(scratch: Scratch) -> None:
    kv = scratch.kv
    config = scratch.client.secrets.kv.v2.read_configuration(mount_point=kv.path)["data"]
    assert config["max_versions"] == kv.max_versions

    written = kv.max_versions + 2
    for version in range(written):
        scratch.write(cas=version)  # the version it replaces: valid whether or not cas is required

    meta = scratch.metadata()
    assert meta["current_version"] == written
    assert meta["oldest_version"] == 3  # the two oldest were dropped
    assert sorted(int(v) for v in meta["versions"]) == list(range(3, written + 1))
    read = scratch.client.secrets.kv.v2.read_secret_version
    for gone in (1, 2):
        with pytest.raises(hvac.exceptions.InvalidPath):
            read(scratch.name, version=gone, mount_point=kv.path, raise_on_deleted_version=True)
    read(scratch.name, version=3, mount_point=kv.path, raise_on_deleted_version=True)


def test_check_and_set_is_enforced_where_the_stack_requires_it(scratch: Scratch) -> None:
    kv = scratch.kv
    config = scratch.client.secrets.kv.v2.read_configuration(mount_point=kv.path)["data"]
    assert config["cas_required"] == kv.cas_required

    if kv.cas_required:
        with pytest.raises(hvac.exceptions.InvalidRequest, match="check-and-set parameter required"):
            scratch.write(None)
        scratch.write(0)
        with pytest.raises(hvac.exceptions.InvalidRequest, match="check-and-set parameter did not match"):
            scratch.write(0)  # a stale writer: version 1 was written since it read
        scratch.write(1)
    else:
        scratch.write(None)
        scratch.write(None)  # last writer wins where cas is not required
    assert scratch.metadata()["current_version"] == 2

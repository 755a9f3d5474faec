"""The local server (OpenBao and HashiCorp Vault) behaves the same in both runtimes and in every flavour."""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import hvac
import hvac.exceptions
import pytest
import requests

from llm_vault import toolchain
from llm_vault.local import server as server_module
from llm_vault.local.server import (
    DECLARED_AUDIT_DEVICE,
    RUNTIME_ENV,
    Server,
    ServerStartError,
    choose_runtime,
    detached_state,
    free_port_pair,
    start_detached,
    start_server,
    stop_detached,
)
from tests.scope import PRODUCT_PARAMS


def _container_or_skip(product: str = "openbao") -> None:
    problem = server_module._container_problem(product)
    if problem:
        if os.environ.get("LLM_VAULT_REQUIRE_DOCKER") == "1":
            pytest.fail(f"container runtime unavailable: {problem}")
        pytest.skip(f"CONTAINER RUNTIME NOT TESTED: {problem}")


def _answers(address: str) -> bool:
    try:
        requests.get(f"{address}/v1/sys/health", timeout=2)
    except requests.ConnectionError:
        return False
    return True


def _write_once_the_kv_mount_is_ready(client: hvac.Client, mount: str, path: str, secret: dict[str, str]) -> None:
    """A kv-v2 mount answers 400 "Upgrading from non-versioned to versioned data" until its
    upgrade ends; on a loaded machine (2 cores, five helpers) that outlasts the enable call by
    seconds. Retried on that answer only, for 30 s; any other error is the test's."""
    deadline = time.monotonic() + 30
    while True:
        try:
            client.secrets.kv.v2.create_or_update_secret(path, secret=secret, mount_point=mount)
            return
        except hvac.exceptions.InvalidRequest as exc:
            if "non-versioned to versioned" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _round_trip_a_secret(server: Server) -> None:
    client = server.client()
    mount = f"kv-{secrets.token_hex(3)}"
    value = secrets.token_urlsafe(8)
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    try:
        _write_once_the_kv_mount_is_ready(client, mount, "probe", {"v": value})
        read = client.secrets.kv.v2.read_secret_version("probe", mount_point=mount, raise_on_deleted_version=True)
        assert read["data"]["data"] == {"v": value}
    finally:
        client.sys.disable_secrets_engine(mount)


# -- runtime choice (unit) --------------------------------------------------------------------------


def test_free_port_pair_leaves_the_cluster_port_free_too() -> None:
    port = free_port_pair()
    for candidate in (port, port + 1):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", candidate))


def test_the_environment_forces_the_process_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUNTIME_ENV, "process")
    choice = choose_runtime("auto")
    assert (choice.runtime, choice.reason) == ("process", f"forced by {RUNTIME_ENV}=process")


def test_an_unknown_runtime_in_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUNTIME_ENV, "podman")
    with pytest.raises(ValueError, match=RUNTIME_ENV):
        choose_runtime("auto")


def test_auto_falls_back_to_a_process_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RUNTIME_ENV, raising=False)
    monkeypatch.setattr(toolchain, "docker_available", lambda: False)
    choice = choose_runtime("auto")
    assert choice.runtime == "process"
    assert "no Docker engine" in choice.reason


def test_the_runtime_reason_names_each_products_image_and_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RUNTIME_ENV, raising=False)
    monkeypatch.setattr(toolchain, "docker_available", lambda: True)
    missing = server_module.subprocess.CompletedProcess([], 1)  # `docker image inspect` finds no image
    monkeypatch.setattr(server_module.subprocess, "run", lambda *args, **kwargs: missing)
    assert choose_runtime("auto", "vault").reason == (
        f"fallback to a `vault server` process: image {toolchain.VAULT_IMAGE} is missing (run scripts/bootstrap.sh)"
    )
    assert f"llm-vault/vault:{toolchain.VAULT_VERSION}" == toolchain.VAULT_IMAGE
    with pytest.raises(ValueError, match="product='consul'"):
        choose_runtime("auto", "consul")


def test_vault_cannot_have_the_declared_audit_flavour(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"Vault 1\.21 OSS cannot declare an audit device in its server config"):
        start_server("declared-audit", workdir=tmp_path, prefer="process", product="vault")


def test_a_forced_container_without_docker_fails_instead_of_falling_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(toolchain, "docker_available", lambda: False)
    with pytest.raises(ServerStartError, match="no Docker engine"):
        choose_runtime("container")


# -- dev flavour ------------------------------------------------------------------------------------


@pytest.mark.integration
def test_dev_server_is_unsealed_and_its_root_token_authenticates(server: Server) -> None:
    health = requests.get(f"{server.address}/v1/sys/health", timeout=5)
    assert health.status_code == 200
    assert health.json()["version"] == server.version
    assert server.client().is_authenticated()
    assert not server.client(token=secrets.token_urlsafe(16)).is_authenticated()


@pytest.mark.integration
def test_the_root_token_appears_in_no_repr_and_no_log(server: Server) -> None:
    token = server.root_token
    assert token
    assert token not in repr(server) and token not in str(server)
    # Dev mode prints its banner (with the root token) only after its own post-start setup, which
    # can end after the health check already answered: wait for it rather than race it.
    deadline = time.monotonic() + 15
    while "Root Token:" not in (logs := server.logs()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "Root Token: <redacted>" in logs  # dev mode prints it; we blank it
    assert token not in logs


@pytest.mark.integration
def test_the_dev_config_allows_api_audit_devices(server: Server) -> None:
    client = server.client()
    device = f"api-{secrets.token_hex(3)}"
    # Inside the work folder: the only host folder a container sees at the same path.
    log = server.workdir / f"{device}.log"
    client.sys.enable_audit_device("file", path=device, options={"file_path": str(log)})
    try:
        client.sys.list_mounted_secrets_engines()
        assert log.exists() and log.stat().st_size > 0
    finally:
        client.sys.disable_audit_device(device)


@pytest.mark.integration
@pytest.mark.parametrize("product", PRODUCT_PARAMS)
def test_the_process_runtime_serves_the_same_interface(tmp_path: Path, product: str) -> None:
    with start_server("dev", workdir=tmp_path, prefer="process", product=product) as server:
        assert server.runtime == "process"
        assert server.client().sys.read_health_status(method="GET")["version"].startswith(server.version)
        assert server.address.startswith("http://127.0.0.1:")
        _round_trip_a_secret(server)
        assert "core: vault is unsealed" in server.logs()
    assert not _answers(server.address)


@pytest.mark.integration
@pytest.mark.parametrize("product", PRODUCT_PARAMS)
def test_the_container_runtime_serves_the_same_interface(tmp_path: Path, product: str) -> None:
    _container_or_skip(product)
    with start_server("dev", workdir=tmp_path, prefer="container", product=product) as server:
        assert server.runtime == "container"
        assert server.client().sys.read_health_status(method="GET")["version"].startswith(server.version)
        _round_trip_a_secret(server)
        assert "core: vault is unsealed" in server.logs()
    assert not _answers(server.address)


@pytest.mark.integration
def test_a_server_that_cannot_start_raises_with_its_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A config the server rejects: the error must carry the server's own explanation.
    monkeypatch.setattr(Server, "_config_text", lambda self: 'storage "nonesuch" {}\n')
    with pytest.raises(ServerStartError, match="nonesuch"):
        start_server("persistent", workdir=tmp_path, prefer="process")


# -- declared-audit flavour -------------------------------------------------------------------------


@pytest.mark.integration
def test_the_declared_audit_device_logs_requests_without_secret_values(
    openbao_declared_audit: Server,
) -> None:
    server = openbao_declared_audit
    client = server.client()
    assert f"{DECLARED_AUDIT_DEVICE}/" in client.sys.list_enabled_audit_devices()["data"]
    mount = f"kv-{secrets.token_hex(3)}"
    value = secrets.token_urlsafe(12)
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    try:
        _write_once_the_kv_mount_is_ready(client, mount, "audited", {"v": value})
    finally:
        client.sys.disable_secrets_engine(mount)
    assert server.audit_log_path is not None
    entries = [json.loads(line) for line in server.audit_log_path.read_text().splitlines()]
    writes = [e for e in entries if e.get("request", {}).get("path") == f"{mount}/data/audited"]
    assert {e["type"] for e in writes} == {"request", "response"}
    assert value not in server.audit_log_path.read_text()  # values are HMAC'd


@pytest.mark.integration
def test_vault_ignores_an_audit_stanza_in_its_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Why the declared-audit flavour is OpenBao only: Vault 1.21 OSS starts with OpenBao's
    stanza in its config, says nothing about it, and has no audit device (nothing is audited)."""
    log = tmp_path / "declared.log"
    stanza = f'audit "file" "{DECLARED_AUDIT_DEVICE}" {{\n  options {{\n    file_path = "{log}"\n  }}\n}}\n'
    plain = Server._config_text
    monkeypatch.setattr(Server, "_config_text", lambda self: plain(self) + stanza)
    with start_server("dev", workdir=tmp_path, prefer="process", product="vault") as server:
        assert server.client().sys.list_enabled_audit_devices()["data"] == {}
        assert 'audit "file"' in server.config_path.read_text()
        server.client().sys.list_mounted_secrets_engines()  # a request no device records
        assert not log.exists()


@pytest.mark.integration
@pytest.mark.parametrize("product", PRODUCT_PARAMS)
def test_the_api_audit_flavour_logs_requests_without_secret_values(tmp_path: Path, product: str) -> None:
    with start_server("api-audit", workdir=tmp_path, product=product) as server:
        client = server.client()
        devices = client.sys.list_enabled_audit_devices()["data"]
        assert devices[f"{DECLARED_AUDIT_DEVICE}/"]["options"] == {"file_path": str(server.audit_log_path)}
        mount = f"kv-{secrets.token_hex(3)}"
        value = secrets.token_urlsafe(12)
        client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
        _write_once_the_kv_mount_is_ready(client, mount, "audited", {"v": value})
        assert server.audit_log_path is not None
        text = server.audit_log_path.read_text()
        entries = [json.loads(line) for line in text.splitlines()]
        writes = [e for e in entries if e.get("request", {}).get("path") == f"{mount}/data/audited"]
        assert {e["type"] for e in writes} == {"request", "response"}
        assert value not in text and server.root_token not in text  # values and tokens are HMAC'd


# -- persistent flavour -----------------------------------------------------------------------------


@pytest.fixture(params=PRODUCT_PARAMS)
def persistent(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A fresh raft-backed, initialised and unsealed server of each product."""
    if request.param == "openbao":
        yield request.getfixturevalue("openbao_persistent")
        return
    with start_server("persistent", workdir=tmp_path_factory.mktemp("vault-persistent"), product="vault") as server:
        yield server


@pytest.mark.integration
def test_persistent_server_keeps_data_through_seal_unseal_and_restart(persistent: Server) -> None:
    server = persistent
    client = server.client()
    value = secrets.token_urlsafe(8)
    client.sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})
    _write_once_the_kv_mount_is_ready(client, "kv", "kept", {"v": value})

    server.seal()
    assert client.sys.is_sealed()
    with pytest.raises(hvac.exceptions.VaultDown):
        client.secrets.kv.v2.read_secret_version("kept", mount_point="kv", raise_on_deleted_version=True)
    server.unseal()
    server.restart()

    assert not client.sys.is_sealed()
    read = client.secrets.kv.v2.read_secret_version("kept", mount_point="kv", raise_on_deleted_version=True)
    assert read["data"]["data"] == {"v": value}
    # Initialisation, unsealing and restarts never leak the root token or put it on disk.
    assert server.root_token not in server.logs()
    assert not list(server.workdir.glob("*token*"))


@pytest.mark.integration
def test_a_restarted_persistent_server_stays_sealed_until_unsealed(persistent: Server) -> None:
    persistent.restart(unseal=False)
    assert persistent.client().sys.is_sealed()
    persistent.unseal()
    assert persistent.client().is_authenticated()


# -- detached (main job) ----------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("prefer", ["process", "container"])
def test_a_detached_server_outlives_its_handle_until_stop_detached(tmp_path: Path, prefer: str) -> None:
    if prefer == "container":
        _container_or_skip()
    # A unique name: the main job's own `llm-vault-local` may be running on this machine.
    state = start_detached("dev", workdir=tmp_path, prefer=prefer, name=f"llm-vault-test-{secrets.token_hex(3)}")
    try:
        assert detached_state(tmp_path) == state
        assert state.token_file.stat().st_mode & 0o077 == 0
        client = hvac.Client(url=state.address, token=state.token_file.read_text())
        assert client.is_authenticated()
        with pytest.raises(ServerStartError, match="is recorded in"):
            start_detached("dev", workdir=tmp_path, prefer=prefer)
    finally:
        assert stop_detached(tmp_path)
    assert not _answers(state.address)
    assert detached_state(tmp_path) is None and not state.token_file.exists()
    assert not stop_detached(tmp_path)

"""``pulumi-language-python``: the plugin itself, then the real CLI running this repository with it.

The CLI tests work on a copy of the repository (``Pulumi.yaml``, one stack file, ``infra/``,
``policies/``) with state in a temporary file backend: the CLI writes ``encryptionsalt`` into
the stack file it uses, and the checked-in ones must never change.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2
from pulumi.runtime.proto import language_pb2, language_pb2_grpc

from llm_vault import automation, cli, engine, language_host, toolchain
from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.server import Server
from tests.e2e.harness import Deployment, leaks_in

PINNED_SDK = "3.272.0"  # pyproject.toml: the host subclasses a private class of this release


def _request(root: Path, program_dir: Path, entry: str = ".") -> Any:
    return language_pb2.RunRequest(
        pwd=str(root),
        info=language_pb2.ProgramInfo(
            root_directory=str(root), program_directory=str(program_dir), entry_point=entry
        ),
    )


# -- the plugin ------------------------------------------------------------------------------------


def test_the_program_is_the_folder_pulumi_yaml_names_run_from_the_project_root() -> None:
    root = toolchain.REPO_ROOT
    assert language_host.program_path(_request(root, root / "infra")) == (root, root / "infra")


def test_a_program_that_is_not_there_is_named_in_the_error(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    with pytest.raises(language_host.ProgramNotRunnable, match=r"infra/__main__\.py does not exist"):
        language_host.program_path(_request(tmp_path, tmp_path / "infra"))


def test_the_engine_address_is_the_last_argument() -> None:
    assert language_host.engine_address(["-tracing", "x", "127.0.0.1:4242"]) == "127.0.0.1:4242"
    assert language_host.engine_address([]) == ""


def test_the_private_sdk_server_it_builds_on_is_the_pinned_one() -> None:
    from pulumi._version import _VERSION

    assert _VERSION == PINNED_SDK, "bump deliberately: llm_vault/language_host.py subclasses a private SDK class"
    assert f'"pulumi=={PINNED_SDK}"' in (toolchain.REPO_ROOT / "pyproject.toml").read_text()


@pytest.fixture
def host_process() -> Iterator[language_pb2_grpc.LanguageRuntimeStub]:
    """The plugin as the CLI starts it: engine address last, gRPC port on the first line."""
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "llm_vault.language_host", "127.0.0.1:9"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=toolchain.REPO_ROOT,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().strip())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield language_pb2_grpc.LanguageRuntimeStub(channel)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_host_answers_plugin_info_and_needs_no_plugins(host_process) -> None:
    assert host_process.GetPluginInfo(empty_pb2.Empty(), timeout=10).version == PINNED_SDK
    info = _request(toolchain.REPO_ROOT, toolchain.REPO_ROOT / "infra").info
    assert list(host_process.GetRequiredPackages(language_pb2.GetRequiredPackagesRequest(info=info)).packages) == []
    assert list(host_process.GetRequiredPlugins(language_pb2.GetRequiredPluginsRequest(info=info)).plugins) == []


def test_dependency_installation_does_nothing_and_says_so(host_process) -> None:
    replies = list(host_process.InstallDependencies(language_pb2.InstallDependenciesRequest(), timeout=10))
    said = b"".join(r.stdout for r in replies).decode()
    assert "nothing to install" in said and "make bootstrap" in said


def test_a_program_that_cannot_start_fails_at_once_with_its_path(host_process, tmp_path: Path) -> None:
    started = time.monotonic()
    response = host_process.Run(_request(tmp_path, tmp_path / "infra"), timeout=30)
    assert "cannot start the program" in response.error and str(tmp_path / "infra") in response.error
    assert time.monotonic() - started < 10  # an answer, not a hang (the timeout above would raise)


# -- the CLI with it ---------------------------------------------------------------------------------


def repo_copy(dest: Path, stack: str, config: dict[str, Any]) -> Path:
    """What `pulumi` needs from the repository, with ``Pulumi.<stack>.yaml`` holding ``config``."""
    for name in ("infra", "policies"):
        shutil.copytree(toolchain.REPO_ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(toolchain.REPO_ROOT / "Pulumi.yaml", dest / "Pulumi.yaml")
    (dest / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}, sort_keys=True))
    return dest


def pulumi_env(state_dir: Path, vault: dict[str, str]) -> dict[str, str]:
    """A shell with the virtualenv on PATH (where bootstrap puts the plugins, and the CLI beside
    them), the state's backend and passphrase: the same state `llm-vault` opens."""
    env = toolchain.engine_env()
    env["PATH"] = os.pathsep.join([str(toolchain.venv_bin()), env["PATH"]])
    env["PULUMI_BACKEND_URL"] = engine.file_backend_url(state_dir / automation.BACKEND_DIR)
    env[automation.PASSPHRASE_ENV] = automation.passphrase(state_dir)
    env.update(vault)
    (state_dir / automation.BACKEND_DIR).mkdir(parents=True, exist_ok=True)
    return env


def pulumi(cwd: Path, env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["pulumi", *args, "--non-interactive"], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def language_plugin() -> Path:
    host = toolchain.venv_bin() / "pulumi-language-python"
    if not host.exists():
        pytest.fail(f"{host} is missing: run `make bootstrap` (scripts/bootstrap.sh writes it)", pytrace=False)
    return host


class CountingListener:
    """A TCP listener on 127.0.0.1 that counts connections: stands in for the server that must
    not be called."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


@pytest.mark.engine
def test_a_bad_value_stops_pulumi_preview_with_the_key_llm_vault_names(
    language_plugin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    listener = CountingListener()
    bad = {"llm-vault:kv": {"maxVersions": 0}, "vault:address": listener.address}
    copy = repo_copy(tmp_path / "repo", "dev", automation.StackTarget("dev", tmp_path, overrides=bad).config_values())
    env = pulumi_env(tmp_path / "state", {"VAULT_ADDR": listener.address, "VAULT_TOKEN": "not-a-token"})

    assert pulumi(copy, env, "stack", "init", "dev").returncode == 0
    run = pulumi(copy, env, "preview", "--stack", "dev")

    # The project's own command on the same copy, for the line to compare with.
    monkeypatch.setattr(automation.StackTarget, "__init__", _with_source_root(copy))
    monkeypatch.setenv("VAULT_ADDR", listener.address)
    monkeypatch.setenv("VAULT_TOKEN", "not-a-token")
    assert cli.main(["preview", "--stack", "dev", "--state-dir", str(tmp_path / "llm-vault-state")]) == 1
    expected = capsys.readouterr().err.strip()

    assert expected.startswith("config error: llm-vault:kv.maxVersions: ")
    assert run.returncode != 0
    assert f"error: {expected}" in run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert listener.connections == 0, "the server was called before the config was checked"


def _with_source_root(root: Path) -> Any:
    original = automation.StackTarget.__init__

    def init(self: automation.StackTarget, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.source_root = root

    return init


@dataclass
class CliStack:
    """The prod stack applied by `pulumi up` from a copy of the repository, in its own namespace."""

    name: str
    copy: Path
    env: dict[str, str]
    deployment: Deployment
    up: subprocess.CompletedProcess[str]

    def __repr__(self) -> str:  # env holds the root token
        return f"CliStack({self.name!r})"


@pytest.fixture(scope="module")
def cli_prod(
    language_plugin, openbao: Server, oidc_issuer: GitHubOidcIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CliStack]:
    env_name = f"cli-{secrets.token_hex(3)}"  # its own namespace and root-namespace paths on the shared server
    tmp = tmp_path_factory.mktemp("pulumi-cli")
    overrides = {
        "prod": {
            "llm-vault:environment": env_name,
            "llm-vault:namespace": env_name,
            "llm-vault:audit": {
                "path": f"llm-vault-{env_name}",
                "filePath": str(openbao.workdir / "audit" / f"{env_name}.log"),
            },
            "llm-vault:pipeline": {"path": f"github-pipeline-{env_name}"},
        }
    }
    deployment = Deployment(openbao, oidc_issuer, tmp / "state", extra_overrides=overrides)
    target = deployment.target("prod")
    config = {k: v for k, v in target.config_values().items() if k not in automation.ENV_ONLY_KEYS}
    copy = repo_copy(tmp / "repo", "prod", config)
    env = pulumi_env(target.state_dir, target.env)
    try:
        assert pulumi(copy, env, "stack", "init", "prod").returncode == 0
        up = pulumi(copy, env, "up", "--yes", "--refresh", "--stack", "prod")
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        yield CliStack("prod", copy, env, deployment, up)
    finally:
        # Unprotect on purpose, then destroy, through the project's own path (same state).
        deployment.up("prod", {"llm-vault:protect": False})
        deployment.destroy("prod")
        assert deployment.leftovers(["prod"]) == []


@pytest.mark.integration
@pytest.mark.engine
def test_pulumi_up_applies_the_stack_without_warnings(cli_prod: CliStack) -> None:
    assert "created" in cli_prod.up.stdout
    output = cli_prod.up.stdout + cli_prod.up.stderr
    assert "warning" not in output.lower(), output[-3000:]


@pytest.mark.integration
@pytest.mark.engine
def test_llm_vault_preview_of_what_pulumi_up_applied_shows_no_changes(cli_prod: CliStack) -> None:
    preview = cli_prod.deployment.preview("prod")
    assert preview.errors == []
    assert not preview.has_changes, [c.name for c in preview.changes]


@pytest.mark.integration
@pytest.mark.engine
def test_pulumi_stack_export_holds_no_token_or_secret(cli_prod: CliStack) -> None:
    export = pulumi(cli_prod.copy, cli_prod.env, "stack", "export", "--stack", "prod")
    assert export.returncode == 0, export.stderr
    resources = json.loads(export.stdout)["deployment"]["resources"]
    assert len(resources) > 20  # the whole stack is there to search
    assert leaks_in(export.stdout) == {}  # the root token among them
    assert cli_prod.env[automation.PASSPHRASE_ENV] not in export.stdout


@pytest.mark.integration
@pytest.mark.engine
def test_pulumi_destroy_of_a_protected_stack_stops_at_the_protected_objects(cli_prod: CliStack) -> None:
    settings = cli_prod.deployment.target("prod").settings()
    root = cli_prod.deployment.root(settings.namespace)
    root.secrets.kv.v2.create_or_update_secret(
        "api-keys", secret={"openai_key": "x"}, cas=0, mount_point=settings.kv.path
    )

    destroy = pulumi(cli_prod.copy, cli_prod.env, "destroy", "--yes", "--stack", "prod")

    output = destroy.stdout + destroy.stderr
    assert destroy.returncode != 0
    assert "protect" in output
    assert f"{settings.namespace}/" in cli_prod.deployment.root().sys.list_namespaces()["data"]["keys"]
    assert f"{settings.kv.path}/" in root.sys.list_mounted_secrets_engines()["data"]
    kept = root.secrets.kv.v2.read_secret_version(
        "api-keys", mount_point=settings.kv.path, raise_on_deleted_version=True
    )
    assert set(kept["data"]["data"]) == {"openai_key"}

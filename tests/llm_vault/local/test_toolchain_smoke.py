"""The pinned toolchain is installed and usable (run first when anything else fails oddly)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from llm_vault import toolchain

pytestmark = pytest.mark.smoke


def _docker_required() -> bool:
    # CI sets this: there, no engine is a failure, not a reason to fall back.
    return os.environ.get("LLM_VAULT_REQUIRE_DOCKER") == "1"


def _no_docker(reason: str) -> None:
    message = f"NO DOCKER ENGINE: {reason}; OpenBao tests run as a `bao server` process instead"
    if _docker_required():
        pytest.fail(message + " (LLM_VAULT_REQUIRE_DOCKER=1)")
    pytest.skip(message)


def test_pulumi_cli_is_the_pinned_version() -> None:
    result = subprocess.run(
        [str(toolchain.pulumi_bin()), "version"],
        env=toolchain.engine_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == f"v{toolchain.PULUMI_VERSION}"


def test_dynamic_provider_host_is_an_executable_script() -> None:
    host = toolchain.provider_host()
    assert host.is_file(), f"{host} missing: run scripts/bootstrap.sh"
    assert os.access(host, os.X_OK)
    assert "vault_provider.builtin.host" in host.read_text()  # ours: never unpickles state


def test_bao_binary_is_the_pinned_openbao_version() -> None:
    result = subprocess.run([str(toolchain.bao_bin()), "version"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith(f"OpenBao v{toolchain.OPENBAO_VERSION} ")


def test_docker_engine_answers() -> None:
    if shutil.which("docker") is None:
        _no_docker("no `docker` command on PATH")
    result = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if result.returncode != 0:
        _no_docker(f"`docker info` failed: {result.stderr.strip()[:200]}")
    assert result.stdout.strip()


def test_openbao_image_is_present_locally() -> None:
    if not toolchain.docker_available():
        _no_docker("`docker info` failed, so there is no image to check")
    result = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Config.Entrypoint}}", toolchain.OPENBAO_IMAGE],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"{toolchain.OPENBAO_IMAGE} missing: run scripts/bootstrap.sh"
    assert result.stdout.strip() == "[/bin/bao]"

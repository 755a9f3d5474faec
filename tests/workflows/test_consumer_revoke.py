"""The consumer example's revoke step, run as written against a real server: the token is dead after it."""

from __future__ import annotations

import os
import shutil
import subprocess

import hvac
import hvac.exceptions as hvac_errors
import pytest
import yaml

from llm_vault.local.server import Server

from .test_workflows_lint import CONSUMER_EXAMPLE

pytestmark = pytest.mark.integration


def _revoke_script() -> str:
    (job,) = yaml.safe_load(CONSUMER_EXAMPLE.read_text())["jobs"].values()
    (step,) = [s for s in job["steps"] if s.get("name") == "Revoke the Vault token"]
    return str(step["run"])


def test_the_revoke_step_kills_the_jobs_token(openbao: Server, scratch_namespace: str) -> None:
    if shutil.which("curl") is None:
        pytest.fail("curl is not installed: the revoke step (and GitHub's runners) use it", pytrace=False)
    admin = openbao.client(namespace=scratch_namespace)
    token = admin.auth.token.create(policies=["default"], ttl="15m")["auth"]["client_token"]
    env = {
        "PATH": os.environ["PATH"],
        "VAULT_ADDR": openbao.address,
        "VAULT_NAMESPACE": scratch_namespace,
        "VAULT_TOKEN": token,
    }
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", _revoke_script()],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert token not in result.stdout + result.stderr
    with pytest.raises(hvac_errors.Forbidden):
        hvac.Client(url=openbao.address, token=token, namespace=scratch_namespace).auth.token.lookup_self()


def test_the_revoke_step_does_nothing_without_a_token(openbao: Server) -> None:
    env = {"PATH": os.environ["PATH"], "VAULT_ADDR": openbao.address, "VAULT_NAMESPACE": "dev", "VAULT_TOKEN": ""}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", _revoke_script()], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr

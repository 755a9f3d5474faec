"""The main job's database (``make run``): a local PostgreSQL with a database per stack, declared
for the run under ``llm-vault:databases``, and printed commands that work as printed: they fetch
a one-hour login from the stack's database engine and query with ``psql``, and the login can
read but not write. Real PostgreSQL, real OpenBao, the real engine."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_vault.local import database_job
from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.server import Server
from tests.e2e.harness import Deployment, leaks_in, remember

pytestmark = [pytest.mark.integration, pytest.mark.engine]


@pytest.fixture(scope="module")
def local_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[database_job.LocalDatabase]:
    missing = database_job.available()
    if missing:
        pytest.fail(f"PostgreSQL is part of the toolchain (make bootstrap installs it): {missing}")
    workdir = tmp_path_factory.mktemp("local-job")
    database = database_job.ensure(workdir)
    try:
        yield database
    finally:
        assert database_job.stop(workdir)
        assert not list(workdir.glob("postgres*")), "make down leaves no password file behind"


def test_each_stack_gets_its_own_database_once_and_the_password_file_is_private(
    local_database: database_job.LocalDatabase,
) -> None:
    local_database.prepare("dev")
    before = local_database.password_file("dev").read_text()
    local_database.prepare("dev")  # a second make run: nothing recreated, the (rotated) password left alone
    assert local_database.password_file("dev").read_text() == before
    assert stat.S_IMODE(local_database.password_file("dev").stat().st_mode) == 0o600
    assert local_database.cluster.query("SELECT count(*) FROM documents", dbname="rag_dev") == ["2"]
    # The running cluster is found again by a later `make run` or `make status`.
    again = database_job.running(local_database.workdir)
    assert again is not None and again.cluster.port == local_database.cluster.port


def test_the_printed_commands_fetch_a_login_that_reads_and_cannot_write(
    local_database: database_job.LocalDatabase,
    openbao: Server,
    oidc_issuer: GitHubOidcIssuer,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tag = secrets.token_hex(3)
    namespace = f"localdb-{tag}"
    local_database.prepare("dev")
    overrides = {
        "llm-vault:environment": f"localdb{tag}",
        "llm-vault:namespace": namespace,
        "llm-vault:audit": {"path": f"llm-vault-localdb-{tag}"},
        "llm-vault:pipeline": {"path": f"github-pipeline-localdb-{tag}"},
        **local_database.overrides("dev"),
    }
    deployment = Deployment(
        openbao, oidc_issuer, tmp_path_factory.mktemp("localdb-state"), extra_overrides={"dev": overrides}
    )
    root_password = remember("secret value", local_database.password_file("dev").read_text())
    try:
        result = deployment.up("dev")
        assert leaks_in(str(result.stdout)) == {}
        bao = Path(sys.executable).parent / "bao"
        steps = database_job.next_steps(bao, namespace, local_database.cluster.port, "dev")
        lines = [line.strip() for line in steps.splitlines() if line.strip() and not line.strip().startswith("#")]
        fetch, query, revoke = lines
        env = {**os.environ, "VAULT_ADDR": openbao.address, "VAULT_TOKEN": openbao.root_token}
        env.pop("PGPASSWORD", None)

        def shell(*commands: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(["bash", "-c", " && ".join(commands)], env=env, capture_output=True, text=True)

        read = shell(fetch, query)
        assert read.returncode == 0, read.stderr
        assert "model card" in read.stdout and "eval report" in read.stdout
        assert root_password not in read.stdout + read.stderr
        write = shell(fetch, query.replace("SELECT * FROM documents", "INSERT INTO documents (id) VALUES (9)"))
        assert write.returncode != 0 and "permission denied for table documents" in write.stderr
        # rotate-root ran after the connection was made: the file no longer opens the database.
        assert not local_database.cluster.can_login(database_job.engine_root("dev"), root_password, dbname="rag_dev")
        assert shell(revoke).returncode == 0
    finally:
        deployment.destroy_all()
        assert deployment.leftovers(["dev"]) == []

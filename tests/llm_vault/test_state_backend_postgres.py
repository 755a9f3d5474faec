"""The team's state on PostgreSQL (``PULUMI_BACKEND_URL=postgres://…``), on a real local cluster.

Each test gets a database of its own on the session's cluster. The URL carries no password: it
comes from PGPASSWORD, as the README tells a team to do; every message is checked for it. Runs
go through ``crash_driver`` (``llm_vault.automation``, in a process of their own) so that two can
run at once and one can be killed. Every "engineer" has a work folder of their own: what they
share is the database and the passphrase.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_vault import automation
from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.postgres import PostgresCluster
from llm_vault.local.server import Server, start_server

from .conftest import BACKEND_REPORT
from .engine_runs import Driver, Outcome

pytestmark = [pytest.mark.integration, pytest.mark.engine]

# Staging and prod are protected: unprotected here, so that the test can destroy what it made.
UNPROTECTED = {"llm-vault:protect": False}
CATALOGUE = [{"name": f"team/s{i:03d}", "owner": "platform"} for i in range(120)]
KV = {"path": "openai-llm", "secrets": CATALOGUE}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    try:
        srv = start_server("dev", workdir=tmp_path_factory.mktemp("openbao-team"))
    except Exception as exc:
        pytest.fail(f"could not start an OpenBao server (dev): {exc}", pytrace=False)
    (srv.workdir / "audit").mkdir(exist_ok=True)
    yield srv
    srv.stop()


@pytest.fixture
def backend(postgres: PostgresCluster) -> dict[str, str]:
    """A fresh database; the environment a team member sets: URL without password, PGPASSWORD, passphrase."""
    database = f"state_{secrets.token_hex(4)}"
    postgres.create_database(database)
    url = f"postgres://{postgres.superuser}@{postgres.host}:{postgres.port}/{database}?sslmode=disable"
    return {
        "PULUMI_BACKEND_URL": url,
        "PGPASSWORD": postgres.password,
        "PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(16),
    }


def _no_password(postgres: PostgresCluster, *outcomes: Outcome) -> None:
    leaked = sum(postgres.password in line for o in outcomes for line in o.lines)
    assert leaked == 0, f"{leaked} line(s) of engine output hold the database password"


def _destroy(driver: Driver, stack: str = "dev") -> None:
    driver.start(None, action="destroy", stack=stack, extra=UNPROTECTED).finish()


def test_two_ups_of_one_stack_at_once_one_applies_the_other_stops_naming_the_lock_or_waits(
    server: Server, oidc_issuer: GitHubOidcIssuer, backend: dict[str, str], postgres: PostgresCluster,
    tmp_path: Path,
) -> None:
    driver = Driver(server, oidc_issuer, tmp_path, env=backend)
    # Two engineers, two work folders, one state: started in the same instant.
    first = driver.start(KV, state_dir=tmp_path / "alice")
    second = driver.start(KV, state_dir=tmp_path / "bob")
    outcomes = [first.finish(may_fail=True), second.finish(may_fail=True)]
    try:
        # One applies everything; the other stops naming the lock, or (when it took the lock only
        # after the first let go, having waited through its retries) finds nothing left to do.
        applied = [o for o in outcomes if o.returncode == 0 and o.changes()]
        assert len(applied) == 1, [o.lines[-3:] for o in outcomes]
        assert applied[0].changes().get("create", 0) > 120
        other = next(o for o in outcomes if o is not applied[0])
        if other.returncode == 0:
            assert other.changes() == {}, other.result
            did = f"waited for the lock and found 0 changes ({other.seconds:.1f}s)"
        else:
            error = next(line for line in other.lines if line.startswith("ERROR "))
            assert "ERROR stack dev is locked by " in error and "which may still be running" in error
            did = f"stopped after {other.seconds:.1f}s: {error.removeprefix('ERROR ')[:90]}…"
        _no_password(postgres, *outcomes)
        BACKEND_REPORT.append(
            f"postgres, two ups of dev at once: one applied {applied[0].changes()} in {applied[0].seconds:.1f}s, "
            f"the other {did}"
        )
    finally:
        _destroy(driver)


def test_different_stacks_apply_at_once_and_the_state_survives_the_machine(
    server: Server, oidc_issuer: GitHubOidcIssuer, backend: dict[str, str], postgres: PostgresCluster,
    tmp_path: Path,
) -> None:
    driver = Driver(server, oidc_issuer, tmp_path, env=backend)
    runs = [driver.start(None, stack=s, state_dir=tmp_path / s, extra=UNPROTECTED) for s in ("dev", "staging")]
    outcomes = [run.finish() for run in runs]
    try:
        assert all(o.changes().get("create", 0) > 20 for o in outcomes), [o.result for o in outcomes]
        # Another machine: a new work folder, the same database and passphrase: nothing to do.
        again = driver.start(None, stack="staging", state_dir=tmp_path / "ci-runner", extra=UNPROTECTED).finish()
        assert again.changes() == {}
        # Four stacks or more are listed without hanging (PULUMI_DIY_BACKEND_PARALLEL).
        prod = driver.start(None, action="preview", stack="prod", state_dir=tmp_path / "prod").finish()
        assert prod.returncode == 0
        _no_password(postgres, *outcomes, again, prod)
        # The state is in the database, not in any work folder.
        database = backend["PULUMI_BACKEND_URL"].rsplit("/", 1)[1].split("?")[0]
        keys = set(postgres.query("SELECT key FROM pulumi_state", dbname=database))
        # (keys start with the URL's path, the database name)
        wanted = {f"{database}/.pulumi/stacks/llm-vault/{s}.json" for s in ("dev", "staging")}
        assert wanted <= keys, sorted(keys)
        assert not list(tmp_path.rglob("dev.json")), "a checkpoint was written to a work folder"
    finally:
        _destroy(driver, "dev")
        _destroy(driver, "staging")


def test_a_run_killed_mid_apply_recovers_on_postgres_too(
    server: Server, oidc_issuer: GitHubOidcIssuer, backend: dict[str, str], postgres: PostgresCluster,
    tmp_path: Path,
) -> None:
    driver = Driver(server, oidc_issuer, tmp_path, env=backend)
    killed = driver.start(KV).finish(kill_on="create", after=60)
    # A pull request's preview first, with a credential that can only read the state (docs/ci.md):
    # it cannot recover, says so, and previews the state as it is.
    database = backend["PULUMI_BACKEND_URL"].rsplit("/", 1)[1].split("?")[0]
    reader_password = secrets.token_urlsafe(12)
    postgres.query(f"CREATE ROLE reader_{database} LOGIN PASSWORD '{reader_password}'")
    postgres.query(f"GRANT SELECT ON pulumi_state TO reader_{database}", dbname=database)
    reader_url = backend["PULUMI_BACKEND_URL"].replace(f"//{postgres.superuser}@", f"//reader_{database}@")
    preview = driver.start(KV, action="preview", state_dir=tmp_path / "pr-preview",
                           env={"PULUMI_BACKEND_URL": reader_url, "PGPASSWORD": reader_password}).finish()
    assert "left for the next apply, which can write the state" in preview.recovered, preview.lines[-5:]
    assert reader_password not in "\n".join(preview.lines)
    rerun = driver.start(KV, state_dir=tmp_path / "next-runner").finish()
    try:
        assert "removed the stale lock of " in rerun.recovered
        assert rerun.changes().get("create", 0) > 0
        again = driver.start(KV).finish()
        assert again.changes() == {}
        _no_password(postgres, killed, rerun, again)
        BACKEND_REPORT.append(f"postgres, killed after {sum(killed.steps.values())} steps: rerun {rerun.recovered}; "
                              f"changes {rerun.changes()}; second rerun {again.changes() or '0 changes'}")
    finally:
        _destroy(driver)


def test_a_password_in_the_backend_url_is_masked_in_the_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    password = secrets.token_urlsafe(12)
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"postgres://pulumi:{password}@127.0.0.1:9/state?sslmode=disable")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "x")
    target = automation.StackTarget(stack="dev", state_dir=tmp_path, env={"VAULT_ADDR": "http://127.0.0.1:9"})
    with pytest.raises(automation.EngineError) as info:
        automation.open_stack(target, lambda: None)
    assert password not in str(info.value)
    assert "postgres://pulumi:****@127.0.0.1:9" in str(info.value) or "127.0.0.1:9" in str(info.value)


def test_a_shared_backend_without_the_teams_passphrase_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULUMI_BACKEND_URL", "postgres://pulumi:hunter2@127.0.0.1:9/state")
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE", raising=False)
    target = automation.StackTarget(stack="dev", state_dir=tmp_path)
    with pytest.raises(automation.BackendConfigError, match="set PULUMI_CONFIG_PASSPHRASE") as info:
        automation.engine_env(target)
    assert "hunter2" not in str(info.value) and "postgres://pulumi:****@127.0.0.1:9/state" in str(info.value)



def test_a_listing_of_many_stacks_does_not_hang(
    backend: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On 2 CPUs the backend's default of 10 parallel reads waits forever for one of its 4
    connections once 4 stacks or more are listed (measured: `pulumi stack ls` of 5 stacks did not
    return in 40 s; with PULUMI_DIY_BACKEND_PARALLEL=2 it took 0.2 s). The engine env sets it."""
    for key, value in backend.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv(automation.DIY_PARALLEL_ENV, raising=False)
    stack = automation.open_stack(automation.StackTarget(stack="dev", state_dir=tmp_path), lambda: None)
    assert stack.workspace.env_vars[automation.DIY_PARALLEL_ENV] == str(max(1, os.cpu_count() or 1))
    for name in ("team-a", "team-b", "team-c", "team-d"):
        stack.workspace.create_stack(name)
    listed: list[str] = []
    worker = threading.Thread(target=lambda: listed.extend(s.name for s in stack.workspace.list_stacks()), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "listing 5 stacks did not finish in 60 s"
    assert {"dev", "team-a", "team-b", "team-c", "team-d"} <= set(listed)

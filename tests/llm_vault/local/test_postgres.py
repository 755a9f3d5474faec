"""The throwaway PostgreSQL cluster: loopback only, password auth, gone after stop."""

from __future__ import annotations

import subprocess

import pytest

from llm_vault.local.postgres import PostgresCluster


@pytest.mark.integration
def test_the_superuser_logs_in_with_the_generated_password_and_no_other(postgres: PostgresCluster) -> None:
    assert postgres.can_login(postgres.superuser, postgres.password)
    assert not postgres.can_login(postgres.superuser, "not-" + postgres.password)


@pytest.mark.integration
def test_the_server_listens_on_loopback_only(postgres: PostgresCluster) -> None:
    assert postgres.query("SHOW listen_addresses") == ["127.0.0.1"]


@pytest.mark.integration
def test_a_created_database_is_reachable_by_its_dsn(postgres: PostgresCluster) -> None:
    postgres.create_database("probe_db")
    dsn = postgres.dsn("probe_db")
    assert dsn.startswith("postgresql://postgres:") and dsn.endswith(f"@127.0.0.1:{postgres.port}/probe_db")
    done = subprocess.run(
        ["psql", "-X", "-A", "-t", "-c", "SELECT current_database()", dsn], capture_output=True, text=True, check=False
    )
    assert done.stdout.strip() == "probe_db", done.stderr
    postgres.query('DROP DATABASE "probe_db"')


@pytest.mark.integration
def test_the_password_is_in_no_file_of_the_cluster_and_stop_removes_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with PostgresCluster(base_dir=tmp_path) as pg:
        folder = pg.base_dir
        assert folder is not None
        hits = [p for p in folder.rglob("*") if p.is_file() and pg.password.encode() in p.read_bytes()]
        assert hits == []
    assert not folder.exists()

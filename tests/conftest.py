"""Shared fixtures: local OpenBao servers and a GitHub Actions OIDC issuer.

The servers run as a container when a Docker engine answers, else as a ``bao server`` process
(``LLM_VAULT_SERVER_RUNTIME=process|container`` forces one); the report header says which and
why. A server that cannot start makes every test using it ERROR with the reason: integration
tests never pass without a server. A failing test's report carries the logs of the servers it
used (tokens blanked).
"""

from __future__ import annotations

import secrets
from collections.abc import Generator, Iterator

import pytest

from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.postgres import PostgresCluster
from llm_vault.local.server import OpenBaoServer, ServerStartError, choose_runtime, start_server

LOG_LINES_IN_REPORT = 200


def pytest_report_header(config: pytest.Config) -> str:
    try:
        choice = choose_runtime("auto")
    except (ServerStartError, ValueError) as exc:
        return f"openbao runtime: NONE - {exc}"
    return f"openbao runtime: {choice.runtime} ({choice.reason})"


def _start(flavour: str, tmp_path_factory: pytest.TempPathFactory) -> OpenBaoServer:
    workdir = tmp_path_factory.mktemp(f"openbao-{flavour}")
    try:
        return start_server(flavour, workdir=workdir)
    except Exception as exc:  # any reason at all (no engine, no binary, bad config) must be loud
        # Loud: the test that needed the server errors with the reason (and the log tail).
        pytest.fail(f"could not start an OpenBao server ({flavour}): {exc}", pytrace=False)


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBaoServer]:
    """A dev-mode server shared by the session; tests isolate themselves in throwaway namespaces."""
    server = _start("dev", tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def openbao_declared_audit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBaoServer]:
    """A dev-mode server with a file audit device declared in its config (``audit_log_path``)."""
    server = _start("declared-audit", tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture
def openbao_persistent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBaoServer]:
    """A fresh raft-backed, initialised and unsealed server per test (seal/unseal/restart)."""
    server = _start("persistent", tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def oidc_issuer() -> Iterator[GitHubOidcIssuer]:
    with GitHubOidcIssuer() as issuer:
        yield issuer


@pytest.fixture
def scratch_namespace(openbao: OpenBaoServer) -> Iterator[str]:
    """A throwaway namespace on ``openbao`` (deleted with everything in it afterwards)."""
    name = f"t-{secrets.token_hex(4)}"
    root = openbao.client()
    root.sys.create_namespace(name)
    yield name
    root.sys.delete_namespace(name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        for name, value in funcargs.items():
            if isinstance(value, OpenBaoServer):
                tail = "\n".join(value.logs().splitlines()[-LOG_LINES_IN_REPORT:])
                report.sections.append((f"openbao logs: {name} ({value.runtime}, {value.address})", tail))
    return report


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 shared by the session (stopped and removed after)."""
    cluster = PostgresCluster(base_dir=tmp_path_factory.mktemp("postgres"))
    try:
        cluster.start()
    except Exception as exc:  # loud, like the servers: tests that need it error with the reason
        pytest.fail(f"could not start a PostgreSQL cluster: {exc}", pytrace=False)
    yield cluster
    cluster.stop()

"""Shared fixtures: local OpenBao and HashiCorp Vault servers and a GitHub Actions OIDC issuer.

The servers run as a container when a Docker engine answers, else as a ``bao server`` /
``vault server`` process (``LLM_VAULT_SERVER_RUNTIME=process|container`` forces one); the report
header says which and why. A server that cannot start makes every test using it ERROR with the
reason: integration tests never pass without a server. A failing test's report carries the logs of
the servers it used (tokens blanked).

``server`` is parametrised over both products (ids ``openbao-2.7.2``, ``vault-1.21.0``): a test
that asks for it runs on each. ``scope`` (tests/scope.py) is where such a test puts its objects:
a throwaway namespace on OpenBao, uniquely prefixed names in the root on Vault OSS. ``openbao``
and the other ``openbao_*`` fixtures are OpenBao only.
"""

from __future__ import annotations

import secrets
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from llm_vault import toolchain
from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.postgres import PostgresCluster
from llm_vault.local.server import PRODUCTS, Server, ServerStartError, choose_runtime, start_server
from tests import session_report
from tests.scope import SERVER_IDS, Scope

LOG_LINES_IN_REPORT = 200


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = []
    for product in PRODUCTS:
        try:
            choice = choose_runtime("auto", product)
        except (ServerStartError, ValueError) as exc:
            lines.append(f"{product} runtime: NONE - {exc}")
            continue
        lines.append(f"{product} runtime: {choice.runtime} ({choice.reason})")
    return [*lines, VAULT_SUBSET]


# Said in the header and again in the summary of every run: Vault runs a subset, on purpose.
VAULT_SUBSET = (
    "Vault 1.21.0 runs a SUBSET (README 'Tested against'): the server harness and the pinned differences, "
    "the provider lifecycle (every object kind, second up 0 changes, drift repaired), the policy behaviour "
    "table, the client suites (tests/vault_secrets) and tests/e2e (every module); the provider engine edge "
    "cases (adoption, outages, replace, database, sealed server, the JWT role set's rules), the pipeline "
    "policies (a table about namespaces) and the rest of tests/llm_vault (recovery, state backends, preview "
    "report, server faults) run on OpenBao only"
)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    session_report.write_summary(terminalreporter)
    ran: dict[str, set[str]] = {product: set() for product in PRODUCTS}
    for reports in terminalreporter.stats.values():
        for report in reports:
            nodeid = getattr(report, "nodeid", "")
            for product, server_id in SERVER_IDS.items():
                if server_id in nodeid:
                    ran[product].add(nodeid)
    if any(ran.values()):
        counts = ", ".join(f"{len(ids)} on {SERVER_IDS[product]}" for product, ids in ran.items())
        terminalreporter.write_sep("=", f"servers: {counts}", yellow=True)
        terminalreporter.write_line(VAULT_SUBSET)


def _start(flavour: str, tmp_path_factory: pytest.TempPathFactory, product: str = "openbao") -> Server:
    workdir = tmp_path_factory.mktemp(f"{product}-{flavour}")
    if product == "vault" and not toolchain.vault_bin().exists():
        pytest.fail(
            f"HashiCorp Vault {toolchain.VAULT_VERSION} is part of the toolchain but {toolchain.vault_bin()} is "
            "missing: run `make bootstrap` (it builds Vault from its Go module)",
            pytrace=False,
        )
    try:
        return start_server(flavour, workdir=workdir, product=product)
    except Exception as exc:  # any reason at all (no engine, no binary, bad config) must be loud
        # Loud: the test that needed the server errors with the reason (and the log tail).
        pytest.fail(f"could not start a {product} server ({flavour}): {exc}", pytrace=False)


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A dev-mode server shared by the session; tests isolate themselves in throwaway namespaces."""
    server = _start("dev", tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def openbao_declared_audit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A dev-mode server with a file audit device declared in its config (``audit_log_path``)."""
    server = _start("declared-audit", tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture
def openbao_persistent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A fresh raft-backed, initialised and unsealed server per test (seal/unseal/restart)."""
    server = _start("persistent", tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A HashiCorp Vault OSS dev-mode server shared by the session (no namespaces: see ``scope``)."""
    server = _start("dev", tmp_path_factory, "vault")
    yield server
    server.stop()


@pytest.fixture(scope="session", params=PRODUCTS, ids=[SERVER_IDS[p] for p in PRODUCTS])
def server(request: pytest.FixtureRequest) -> Server:
    """The session's dev server of each product in turn: ``openbao``, then ``vault``."""
    found: Server = request.getfixturevalue(request.param)
    return found


@pytest.fixture
def scope(server: Server) -> Iterator[Scope]:
    """A throwaway place on ``server`` for one test (see tests/scope.py), emptied afterwards."""
    made = Scope(server)
    yield made
    made.close()


@pytest.fixture(scope="session")
def oidc_issuer() -> Iterator[GitHubOidcIssuer]:
    with GitHubOidcIssuer() as issuer:
        yield issuer


@pytest.fixture
def scratch_namespace(openbao: Server) -> Iterator[str]:
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
            if isinstance(value, Scope):
                value = value.server
            if isinstance(value, Server):
                tail = "\n".join(value.logs().splitlines()[-LOG_LINES_IN_REPORT:])
                report.sections.append((f"{value.product} logs: {name} ({value.runtime}, {value.address})", tail))
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


# ``make test`` runs two pytest-xdist workers with ``--dist loadgroup``. A module is one group, so
# its module-scoped servers start once; the end-to-end suite is one group because its modules
# share the applied stacks of a session. xdist hands the groups out largest (most tests) first,
# so the end-to-end group starts at once on one worker and the other works through the rest;
# the order inside a group is unchanged, and modules run in any order anyway. (Measured: splitting
# the end-to-end group per server with the long groups first took 737 s against 656 s.)
def _group(rel: str) -> str:
    return "tests/e2e" if rel.startswith("tests/e2e/") else rel


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item.path.relative_to(config.rootpath).as_posix())))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In a worker: hand the shared report objects (tests/session_report.py) to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[session_report.WORKER_OUTPUT_KEY] = session_report.dump()


def pytest_testnodedown(node: Any, error: object) -> None:
    """In the controller: merge what a worker's tests reported, for the terminal summaries."""
    text = getattr(node, "workeroutput", {}).get(session_report.WORKER_OUTPUT_KEY)
    if text:
        session_report.merge(text)

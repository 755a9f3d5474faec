"""Fixtures of the end-to-end tests: the three stacks applied to one server, seeded secrets.

The server is a parameter (``e2e_server``: ``openbao`` and ``vault``; test ids say which).
OpenBao gets a namespace per environment, as the checked-in stack files say; HashiCorp Vault OSS,
which has no namespaces, gets the same three stacks in the root layout
(``llm_vault.local_job.vault_oss_layout``: per-environment paths, ``<env>-`` names). A test or a
module that runs on one server only says so with ``@pytest.mark.servers("openbao")`` and why; the
session summary (tests/session_report.py) lists what ran where.

Engine runs cost seconds, so the stacks are applied once per server and shared. Every module runs
alone and in any order: a test that changes the server repairs it before it ends, a test that
needs audit traffic makes its own, and the destroy tests apply a stack of their own
(``test_drift.own_stack``). The teardown searches every audit log for every value the session
handled, whatever ran, then destroys the stacks and checks that nothing of ours is left.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_vault import toolchain
from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.server import Server, start_server
from llm_vault.local_job import vault_oss_layout
from llm_vault.stackfiles import STACKS
from tests.session_report import shared_map, shared_sets

from .harness import (
    SEEDED_SECRETS,
    Deployment,
    Seeded,
    checked_in_stack_files,
    git_status_of_stack_files,
    leaks_in,
    provision,
    remember,
)

SERVERS = ("openbao", "vault")
# The engine and the provider host read these; an engine run exports VAULT_* into this process.
_ENV_KEYS = ("VAULT_ADDR", "VAULT_TOKEN", "PULUMI_BACKEND_URL")
# test node id -> server, for the summary of what ran where
# (shared: filled in the pytest-xdist workers, printed by the controller)
_RAN: dict[str, set[str]] = shared_sets("e2e ran")
_ONLY: dict[str, str] = shared_map("e2e only")  # module or test -> why it runs on one server
for _server in SERVERS:  # a server none of whose tests passed is printed with 0
    _RAN.setdefault(_server, set())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses the shared deployment runs once per server (``[openbao-...]``, ``[vault-...]``)."""
    if "e2e_server" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("servers")
    servers = tuple(marker.args) if marker else SERVERS
    if marker:
        unknown = set(servers) - set(SERVERS)
        assert not unknown, f"{metafunc.definition.nodeid}: unknown servers {unknown}"
        reason = marker.kwargs.get("reason")
        assert reason, f"{metafunc.definition.nodeid}: a test on fewer servers than all states why (reason=...)"
        _ONLY[metafunc.definition.module.__name__.rsplit(".", 1)[-1]] = f"{', '.join(servers)} only: {reason}"
    metafunc.parametrize("e2e_server", servers, indirect=True, scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``E2E_SERVERS=vault`` (comma-separated) runs the end-to-end tests of those servers only; the
    others are deselected (pytest reports how many), never skipped as if they had run."""
    chosen = {s.strip() for s in os.environ.get("E2E_SERVERS", ",".join(SERVERS)).split(",") if s.strip()}
    unknown = chosen - set(SERVERS)
    if unknown:
        raise pytest.UsageError(f"E2E_SERVERS: unknown servers {sorted(unknown)}; known: {list(SERVERS)}")
    here = Path(__file__).parent
    keep, drop = [], []
    for item in items:
        server = item.callspec.params.get("e2e_server") if hasattr(item, "callspec") else None
        (drop if item.path.parent == here and server is not None and server not in chosen else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


_SERVER_OF: dict[str, str] = {}  # test node id -> the server it runs against


def pytest_runtest_setup(item: pytest.Item) -> None:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "e2e_server" in callspec.params:
        _SERVER_OF[item.nodeid] = callspec.params["e2e_server"]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed and report.nodeid in _SERVER_OF:
        _RAN.setdefault(_SERVER_OF[report.nodeid], set()).add(report.nodeid)


@pytest.fixture(scope="session")
def e2e_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The server the shared deployment is applied to: the session's OpenBao, or a Vault OSS of its own."""
    if request.param == "openbao":
        yield request.getfixturevalue("openbao")
        return
    if not toolchain.vault_bin().exists():
        pytest.fail(
            f"HashiCorp Vault {toolchain.VAULT_VERSION} is part of the toolchain but {toolchain.vault_bin()} is "
            "missing: run `make bootstrap` (it builds Vault from its Go module)",
            pytrace=False,
        )
    try:
        server = start_server("dev", workdir=tmp_path_factory.mktemp("e2e-vault"), product="vault")
    except Exception as exc:  # loud: every test that needed it errors with the reason
        pytest.fail(f"could not start HashiCorp Vault: {exc}", pytrace=False)
    yield server
    server.stop()


def layout_overrides(server: Server) -> dict[str, dict[str, object]]:
    """Per-stack overrides for ``server``: none on OpenBao; the root layout on Vault OSS."""
    return {stack: vault_oss_layout(stack) for stack in STACKS} if server.product == "vault" else {}


@pytest.fixture(scope="session")
def provisioned(
    e2e_server: Server, oidc_issuer: GitHubOidcIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """dev, staging and prod applied to ``e2e_server``, destroyed afterwards.

    Teardown searches every audit log for every value the session handled, then unprotects
    staging and prod on purpose (protect=false, up) before destroying, then checks that nothing
    of ours is left and that the checked-in stack files are untouched.
    """
    stack_files = checked_in_stack_files()
    # Compared before/after rather than with "": someone may be editing the stack files in
    # this checkout; what matters is that our engine runs never write to them.
    git_status = git_status_of_stack_files()
    saved = {key: os.environ.get(key) for key in _ENV_KEYS}
    # Our state goes to the temp folder, whatever backend the developer's shell points at.
    os.environ.pop("PULUMI_BACKEND_URL", None)
    deployment = Deployment(
        e2e_server,
        oidc_issuer,
        tmp_path_factory.mktemp(f"e2e-state-{e2e_server.product}"),
        extra_overrides=layout_overrides(e2e_server),
    )
    try:
        provision(deployment, STACKS)
        yield deployment
        # Whatever ran, in whatever order: no value handled so far is in any audit log in plaintext.
        for stack in STACKS:
            log = Path(deployment.stacks[stack].settings.audit.file_path)
            leaks = leaks_in(log.read_text()) if log.exists() else {}
            assert not leaks, f"{log.name} holds values in plaintext (kind: count): {leaks}"
        deployment.destroy_all()
        left = deployment.leftovers(STACKS)
        assert not left, f"destroy left objects of ours on the server: {left}"
        assert checked_in_stack_files() == stack_files, "an engine run changed a checked-in Pulumi.*.yaml"
        assert git_status_of_stack_files() == git_status, "git sees new changes in the stack files"
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def seeded(provisioned: Deployment) -> Seeded:
    values: dict[str, dict[str, dict[str, str]]] = {}
    for env, record in provisioned.stacks.items():
        kv = record.settings.kv
        client = provisioned.root(record.namespace)
        values[env] = {}
        for name, keys in SEEDED_SECRETS.items():
            data = {k: remember("secret value", secrets.token_urlsafe(24)) for k in keys}
            # cas=0 (create only) where the stack requires check-and-set: what a careful operator sends.
            cas = 0 if kv.cas_required else None
            client.secrets.kv.v2.create_or_update_secret(name, secret=data, cas=cas, mount_point=kv.path)
            values[env][name] = data
    return Seeded(values)

"""Fixtures of the end-to-end tests: the three stacks applied to one OpenBao, seeded secrets.

Engine runs cost seconds, so the stacks are applied once per session and shared; tests that
change the server (the drift tests) repair what they broke before the next one runs. Modules
run in a fixed order (see ``MODULE_ORDER``): behaviour first, then the audit checks (which
search the log for everything the earlier tests handled), then drift, whose last test destroys.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.server import Server
from llm_vault.stackfiles import STACKS

from .harness import (
    SEEDED_SECRETS,
    Deployment,
    Seeded,
    checked_in_stack_files,
    git_status_of_stack_files,
    provision,
    remember,
)
from .identities import COUNTS

MODULE_ORDER = (
    "test_login_matrix",
    "test_policy_enforcement",
    "test_identity_view",
    "test_isolation",
    "test_kv",
    "test_protection",
    "test_pipeline_tokens",
    "test_attacks",
    "test_audit",
    "test_drift",
)
# The engine and the provider host read these; an engine run exports VAULT_* into this process.
_ENV_KEYS = ("VAULT_ADDR", "VAULT_TOKEN", "PULUMI_BACKEND_URL")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put this folder's tests in MODULE_ORDER, in the slots they already occupy."""
    here = Path(__file__).parent
    slots = [i for i, item in enumerate(items) if item.path.parent == here]

    def rank(item: pytest.Item) -> int:
        stem = item.path.stem
        return MODULE_ORDER.index(stem) if stem in MODULE_ORDER else len(MODULE_ORDER)

    ordered = sorted((items[i] for i in slots), key=rank)  # stable: order inside a module is kept
    for slot, item in zip(slots, ordered, strict=True):
        items[slot] = item


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if COUNTS:
        terminalreporter.write_sep("-", "end-to-end counts")
        for name, value in sorted(COUNTS.items()):
            terminalreporter.write_line(f"{name}: {value}")
    if COUNTS.get("tokens tried"):
        terminalreporter.write_line(
            f"logins: {COUNTS['tokens tried']} tried, {COUNTS.get('near misses refused', 0)} near misses, "
            f"{COUNTS.get('near misses accepted', 0)} accepted"
        )
    if COUNTS.get("attacks tried"):
        terminalreporter.write_line(
            f"attacks: {COUNTS['attacks tried']} tried, {COUNTS.get('attacks succeeded', 0)} succeeded"
        )


@pytest.fixture(scope="session")
def provisioned(
    openbao: Server, oidc_issuer: GitHubOidcIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """dev, staging and prod applied to ``openbao`` (one namespace each), destroyed afterwards.

    Teardown unprotects staging and prod on purpose (protect=false, up) before destroying, then
    checks that nothing of ours is left and that the checked-in stack files are untouched.
    """
    stack_files = checked_in_stack_files()
    # Compared before/after rather than with "": someone may be editing the stack files in
    # this checkout; what matters is that our engine runs never write to them.
    git_status = git_status_of_stack_files()
    saved = {key: os.environ.get(key) for key in _ENV_KEYS}
    # Our state goes to the temp folder, whatever backend the developer's shell points at.
    os.environ.pop("PULUMI_BACKEND_URL", None)
    deployment = Deployment(openbao, oidc_issuer, tmp_path_factory.mktemp("e2e-state"))
    try:
        provision(deployment, STACKS)
        yield deployment
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

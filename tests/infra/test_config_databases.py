"""The `llm-vault:databases` key: secure defaults, and every bad value stopped at load naming its key."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.config import ConfigError, load_settings
from infra.config.databases import grant_policy
from tests.infra.test_config import dev_raw
from vault_provider import args as a

CREATE = ["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'"]
DATABASES: dict[str, Any] = {
    "path": "databases",
    "connections": [
        {
            "name": "rag",
            "url": "postgresql://{{username}}:{{password}}@127.0.0.1:5432/rag",
            "username": "vault_root",
            "passwordFrom": "env:RAG_DB_ROOT_PASSWORD",
            "roles": [{"name": "rag-readonly", "creationStatements": CREATE}],
            "staticRoles": [{"name": "rag-etl", "username": "rag_etl"}],
        }
    ],
    "grants": [
        {"role": "rag-readonly", "identities": ["model-runner"]},
        {"role": "rag-etl", "identities": ["github-actions"]},
    ],
}


def with_databases() -> dict[str, Any]:
    raw = dev_raw()
    raw["databases"] = copy.deepcopy(DATABASES)
    return raw


def test_defaults_are_one_hour_leases_capped_at_a_day_and_daily_rotation() -> None:
    settings = load_settings(with_databases()).databases
    assert settings is not None
    role = settings.connections[0].roles[0]
    static = settings.connections[0].static_roles[0]
    assert (role.ttl_seconds, role.max_ttl_seconds, static.rotation_period_seconds) == (3600, 86400, 86400)
    assert settings.connections[0].password_version == 1 and settings.connections[0].verify_connection


def test_a_grant_policy_reads_exactly_its_roles_credentials() -> None:
    settings = load_settings(with_databases()).databases
    assert settings is not None
    dynamic, static = settings.grants
    assert grant_policy("databases", dynamic) == 'path "databases/creds/rag-readonly" {\n  capabilities = ["read"]\n}\n'
    assert 'path "databases/static-creds/rag-etl"' in grant_policy("databases", static)


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda d: d["grants"][0].update(role="nope"), "llm-vault:databases.grants[0].role"),
        (lambda d: d["grants"][0].update(identities=["stranger"]), "llm-vault:databases.grants[0].identities[0]"),
        (
            lambda d: d["connections"][0]["roles"][0].update(ttl="25h"),
            "llm-vault:databases.connections[0].roles[0].ttl",
        ),
        (
            lambda d: d["connections"][0]["roles"][0].update(creationStatements=["CREATE ROLE fixed"]),
            "llm-vault:databases.connections[0].roles[0].creationStatements[0]",
        ),
        (
            lambda d: d["connections"][0].update(url="postgresql://root:hunter2@db/rag"),
            "llm-vault:databases.connections[0].url",
        ),
        (
            lambda d: d["connections"][0].update(passwordFrom="hunter2"),
            "llm-vault:databases.connections[0].passwordFrom",
        ),
        (
            lambda d: d["connections"][0]["staticRoles"].append({"name": "rag-etl2", "username": "etl2"}),
            "llm-vault:databases.connections[0].staticRoles[1].rotationPeriod",
        ),
        (lambda d: d["connections"][0].update(pasword="x"), "llm-vault:databases.connections[0].pasword"),
    ],
)
def test_bad_input_is_a_config_error_naming_the_key(edit: Any, key: str) -> None:
    raw = with_databases()
    edit(raw["databases"])
    with pytest.raises(ConfigError) as info:
        load_settings(raw)
    assert info.value.key == key


def test_two_static_roles_may_share_a_period_when_stated() -> None:
    raw = with_databases()
    raw["databases"]["connections"][0]["staticRoles"].append(
        {"name": "rag-etl2", "username": "etl2", "samePeriodAllowed": True}
    )
    settings = load_settings(raw).databases
    assert settings is not None and len(settings.connections[0].static_roles) == 2


@pytest.mark.parametrize("backend", ["builtin", "pulumi_vault"])
def test_the_program_declares_roles_after_their_connection_and_the_connection_after_the_mount(
    program_run: Any, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_DB_ROOT_PASSWORD", "only-for-the-official-backend-mock")

    def edit(values: dict[str, Any]) -> None:
        values["llm-vault:databases"] = copy.deepcopy(DATABASES)

    run = program_run("dev", backend=backend, edit=edit)
    mount = next(r for r in run.records(a.MountArgs) if r.type == "database")
    connection = run.one(a.DatabaseConnectionArgs)
    assert connection.backend == mount.path == "databases" and mount.namespace == "dev"
    assert set(connection.allowed_roles) == {"rag-readonly", "rag-etl"}
    assert "password" not in a.as_props(connection)
    role = run.one(a.DatabaseRoleArgs)
    assert (role.db_name, role.default_ttl, role.max_ttl) == ("rag", 3600, 86400)
    assert run.one(a.DatabaseStaticRoleArgs).rotation_period == 86400
    names = [d.name for d in run.declared]
    assert (
        names.index("databases-mount") < names.index("databases-rag") < names.index("databases-rag-role-rag-readonly")
    )
    depends = {d.name: d.opts.depends_on for d in run.declared if d.opts is not None}
    assert depends["databases-rag-role-rag-readonly"] and depends["databases-rag-static-rag-etl"]
    policies = {p.name: p.policy for p in run.records(a.PolicyArgs) if p.name.startswith("database-")}
    assert set(policies) == {"database-rag-readonly", "database-rag-etl"}


def test_a_grants_policy_goes_to_the_identities_it_names_and_no_one_else() -> None:
    settings = load_settings(with_databases())
    assert "database-rag-readonly" in settings.model_runner.policies
    assert "database-rag-etl" not in settings.model_runner.policies
    by_role = {b.role: b.policies for b in settings.github.bindings}
    assert "database-rag-etl" in by_role["github-actions"]
    assert not any(p.startswith("database-") for p in by_role["github-actions-pr"])

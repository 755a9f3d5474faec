"""The database secrets engine through the real engine, a real OpenBao and a real PostgreSQL.

One deployment (a ``database`` mount, a postgresql connection, a read-only dynamic role and a
static role) is taken through its life: issued credentials log in and can do exactly what the
statements grant; revoke ends them; the static password rotates at its period; rotate-root made
the supplied root password useless; a second up is 0 changes; drift is shown and repaired; the
root password is in no state, engine output or audit log; destroy leaves no role the engine
created. The tests run in file order on one deployment; each also works alone.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import hvac
import hvac.exceptions
import pulumi
import pytest
from pulumi import automation as auto

from infra.config.databases import Grant, grant_policy
from llm_vault import automation
from llm_vault.automation import state_file
from llm_vault.local.postgres import PostgresCluster
from llm_vault.local.server import Server
from vault_provider import args as a
from vault_provider.builtin.backend import BuiltinBackend
from vault_secrets import SecretNotFound, VaultSecretManager

from .conftest import Run, destroy_quietly, failing_up, preview_changes, target_for, unique, up, vault_config

pytestmark = [pytest.mark.integration, pytest.mark.engine]

PASSWORD_ENV = "LLM_VAULT_TEST_PG_ROOT_PASSWORD"
READONLY_CREATE = (
    "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
    'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";',
)
REVOKE = (
    'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{{name}}";',
    'DROP ROLE IF EXISTS "{{name}}";',
)
STATIC_PERIOD_SECONDS = 5  # the server's minimum rotation period
SHORT_TTL_SECONDS = 3


@dataclass
class Deployment:
    stack: auto.Stack
    state_dir: Path
    client: hvac.Client
    pg: PostgresCluster
    server: Server
    mount: str
    db: str
    root_user: str
    root_password: str
    static_user: str
    issued: int = 0
    logins: int = 0

    def login(self, user: str, password: str) -> bool:
        self.logins += 1
        return self.pg.can_login(user, password, dbname=self.db)

    def creds(self) -> dict[str, object]:
        self.issued += 1
        return dict(self.client.read(f"{self.mount}/creds/readonly"))


def plan(mount: str, pg: PostgresCluster, db: str, root_user: str, static_user: str) -> list[a.ObjectArgs]:
    return [
        a.MountArgs(path=mount, type="database", description="test databases"),
        a.DatabaseConnectionArgs(
            backend=mount,
            name="app",
            connection_url=f"postgresql://{{{{username}}}}:{{{{password}}}}@{pg.host}:{pg.port}/{db}",
            username=root_user,
            password_source=f"env:{PASSWORD_ENV}",
            allowed_roles=("readonly", "short", "svc"),
        ),
        # A dynamic role whose logins live 3 s: what "after its TTL the login fails" is tested with.
        a.DatabaseRoleArgs(
            backend=mount,
            name="short",
            db_name="app",
            creation_statements=READONLY_CREATE,
            revocation_statements=REVOKE,
            default_ttl=SHORT_TTL_SECONDS,
            max_ttl=SHORT_TTL_SECONDS,
        ),
        a.DatabaseRoleArgs(
            backend=mount,
            name="readonly",
            db_name="app",
            creation_statements=READONLY_CREATE,
            revocation_statements=REVOKE,
            default_ttl=600,
            max_ttl=1200,
        ),
        a.DatabaseStaticRoleArgs(
            backend=mount, name="svc", db_name="app", username=static_user, rotation_period=STATIC_PERIOD_SECONDS
        ),
    ]


def program_for(objects: list[a.ObjectArgs]):  # type: ignore[no-untyped-def]
    def program() -> None:
        backend = BuiltinBackend()
        previous: pulumi.Resource | None = None
        for i, obj in enumerate(objects):
            # Each object depends on the one before: destroy removes roles before the connection
            # and the connection before the mount.
            opts = pulumi.ResourceOptions(depends_on=[previous] if previous else [])
            previous = backend.declare(f"db-{i}-{type(obj).__name__}", obj, opts)

    return program


@pytest.fixture(scope="module")
def deployment(
    openbao_declared_audit: Server, postgres: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    server = openbao_declared_audit
    suffix = secrets.token_hex(3)
    db, root_user, static_user = f"app_{suffix}", f"vault_root_{suffix}", f"svc_{suffix}"
    root_password = secrets.token_urlsafe(18)
    postgres.create_database(db)
    # The engine's root: may create roles and owns the schema it grants on, but is no superuser.
    postgres.query(f"CREATE ROLE \"{root_user}\" WITH LOGIN CREATEROLE PASSWORD '{root_password}'")
    postgres.query(f"CREATE ROLE \"{static_user}\" WITH LOGIN PASSWORD '{secrets.token_urlsafe(18)}'")
    setup = f'CREATE TABLE notes (id int); INSERT INTO notes VALUES (1); ALTER TABLE notes OWNER TO "{root_user}";'  # noqa: S608 (test-made names)
    postgres.query(setup + f'GRANT ALL ON SCHEMA public TO "{root_user}";', dbname=db)
    state_dir = tmp_path_factory.mktemp("db-state")
    mount = unique("db")
    stack = automation.open_stack(
        target_for(
            "database",
            state_dir=state_dir,
            config=vault_config(server.address, server.root_token),
            env={PASSWORD_ENV: root_password},
        ),
        program_for(plan(mount, postgres, db, root_user, static_user)),
    )
    dep = Deployment(
        stack, state_dir, server.client(), postgres, server, mount, db, root_user, root_password, static_user
    )
    up(stack)
    yield dep
    print(f"\ndatabase figures: credentials issued {dep.issued}, logins tried {dep.logins}")
    destroy_quietly(stack)


def test_issued_credentials_log_in_and_can_read_but_not_write(deployment: Deployment) -> None:
    data = deployment.creds()
    user, password = data["data"]["username"], data["data"]["password"]  # type: ignore[index]
    assert data["lease_duration"] == 600 and data["renewable"] is True
    assert deployment.login(user, password)
    ok = deployment.pg.psql("SELECT count(*) FROM notes", dbname=deployment.db, user=user, password=password)
    assert ok.returncode == 0 and ok.stdout.strip() == "1", ok.stderr
    insert = deployment.pg.psql("INSERT INTO notes VALUES (2)", dbname=deployment.db, user=user, password=password)
    assert insert.returncode != 0 and "permission denied" in insert.stderr


def test_after_revoke_the_credentials_no_longer_log_in(deployment: Deployment) -> None:
    data = deployment.creds()
    user, password = data["data"]["username"], data["data"]["password"]  # type: ignore[index]
    assert deployment.login(user, password)
    deployment.client.sys.revoke_lease(data["lease_id"])
    assert not deployment.login(user, password)
    assert user not in deployment.pg.roles()


def test_after_its_ttl_the_login_fails_and_the_engine_drops_the_role(deployment: Deployment) -> None:
    data = dict(deployment.client.read(f"{deployment.mount}/creds/short"))
    deployment.issued += 1
    user, password = data["data"]["username"], data["data"]["password"]
    assert data["lease_duration"] == SHORT_TTL_SECONDS
    assert deployment.login(user, password)
    # The lease expires at its TTL; the server revokes it (the revocation statements drop the role).
    deadline = time.monotonic() + SHORT_TTL_SECONDS + 20
    while user in deployment.pg.roles() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert user not in deployment.pg.roles(), "the expired lease was not revoked"
    assert not deployment.login(user, password)


def test_after_rotate_root_the_supplied_root_password_no_longer_works(deployment: Deployment) -> None:
    assert not deployment.login(deployment.root_user, deployment.root_password)
    # ... and the engine still works with the password only it knows.
    assert deployment.creds()["data"]


def test_the_static_password_changes_at_its_period(deployment: Deployment) -> None:
    path = f"{deployment.mount}/static-creds/svc"
    first = deployment.client.read(path)["data"]
    deployment.issued += 1
    assert first["username"] == deployment.static_user and first["rotation_period"] == STATIC_PERIOD_SECONDS
    deadline = time.monotonic() + 4 * STATIC_PERIOD_SECONDS
    second = first
    while second["password"] == first["password"] and time.monotonic() < deadline:
        time.sleep(1)
        second = deployment.client.read(path)["data"]
    deployment.issued += 1
    assert second["password"] != first["password"], "the static password was not rotated within 4 periods"
    assert deployment.login(deployment.static_user, second["password"])
    assert not deployment.login(deployment.static_user, first["password"])


def test_a_second_up_changes_nothing(deployment: Deployment) -> None:
    assert preview_changes(deployment.stack) == {}


def test_drift_on_allowed_roles_and_statements_is_shown_and_repaired(deployment: Deployment) -> None:
    client, mount = deployment.client, deployment.mount
    conn = client.read(f"{mount}/config/app")["data"]
    client.write_data(f"{mount}/config/app", data={"allowed_roles": ["readonly", "svc", "intruder"]})
    role = client.read(f"{mount}/roles/readonly")["data"]
    client.write_data(
        f"{mount}/roles/readonly",
        data={
            **role,
            "creation_statements": ["CREATE ROLE \"{{name}}\" WITH LOGIN SUPERUSER PASSWORD '{{password}}';"],
        },
    )
    assert preview_changes(deployment.stack) == {"update": 2}
    up(deployment.stack, refresh=True)
    assert set(client.read(f"{mount}/config/app")["data"]["allowed_roles"]) == set(conn["allowed_roles"])
    assert client.read(f"{mount}/roles/readonly")["data"]["creation_statements"] == list(READONLY_CREATE)
    # The repair did not send the (rotated away) root password back: the engine still works.
    assert deployment.creds()["data"]
    assert preview_changes(deployment.stack) == {}


def test_the_root_password_is_in_no_state_output_or_audit_log(deployment: Deployment) -> None:
    run = Run()
    deployment.stack.preview(refresh=True, on_output=run)
    places = {
        "state": state_file(deployment.state_dir, "database").read_text(),
        "engine output": run.text,
        "audit log": deployment.server.audit_log_path.read_text() if deployment.server.audit_log_path else "",
    }
    assert places["audit log"], "the audit log is empty: the check would prove nothing"
    hits = {where: text.count(deployment.root_password) for where, text in places.items()}
    print(f"root password hits: {hits}; credentials issued: {deployment.issued}; logins tried: {deployment.logins}")
    assert hits == {"state": 0, "engine output": 0, "audit log": 0}


def test_a_grant_token_reads_its_roles_credentials_and_nothing_else(deployment: Deployment) -> None:
    grant = Grant(role="readonly", identities=("model-runner",), static=False)
    client, mount = deployment.client, deployment.mount
    client.sys.create_or_update_policy(name=f"grant-{mount}", policy=grant_policy(mount, grant))
    token = client.auth.token.create(policies=[f"grant-{mount}"], no_default_policy=True, ttl="5m")["auth"]
    holder = hvac.Client(url=deployment.server.address, token=token["client_token"])
    try:
        issued = holder.read(f"{mount}/creds/readonly")
        deployment.issued += 1
        assert deployment.login(issued["data"]["username"], issued["data"]["password"])
        for path in (f"{mount}/static-creds/svc", f"{mount}/config/app", f"{mount}/roles/readonly"):
            with pytest.raises(hvac.exceptions.Forbidden):
                holder.read(path)
        with pytest.raises(hvac.exceptions.Forbidden):
            holder.write_data(f"{mount}/rotate-root/app", data={})
    finally:
        client.auth.token.revoke(token["client_token"])
        client.sys.delete_policy(f"grant-{mount}")


def test_the_client_issues_renews_and_revokes_on_exit(deployment: Deployment) -> None:
    manager = VaultSecretManager(deployment.server.address, deployment.server.root_token)
    with manager.database_credentials("readonly", mount=deployment.mount) as creds:
        deployment.issued += 1
        assert creds.password not in repr(creds)
        assert creds.lease is not None and creds.lease.renewable and creds.lease.duration_seconds == 600
        assert deployment.login(creds.username, creds.password)
        assert manager.renew_lease(creds.lease).id == creds.lease.id
    assert not deployment.login(creds.username, creds.password)
    manager.revoke_lease(creds.lease)  # already revoked: no error
    static = manager.get_static_database_credentials("svc", mount=deployment.mount)
    deployment.issued += 1
    assert static.username == deployment.static_user and static.lease is None
    assert deployment.login(static.username, static.password)
    with pytest.raises(SecretNotFound):
        manager.get_database_credentials("no-such-role", mount=deployment.mount)


def test_a_role_made_by_hand_is_refused_until_listed_under_adopt_then_taken_over(
    deployment: Deployment, tmp_path: Path
) -> None:
    # The original setup's way: a role written at the CLI, with a wider grant than declared.
    wide = ('CREATE ROLE "{{name}}" WITH LOGIN PASSWORD \'{{password}}\';', 'GRANT ALL ON notes TO "{{name}}";')
    deployment.client.write_data(
        f"{deployment.mount}/roles/byhand", data={"db_name": "app", "creation_statements": list(wide)}
    )
    declared = a.DatabaseRoleArgs(
        backend=deployment.mount, name="byhand", db_name="app", creation_statements=READONLY_CREATE,
        revocation_statements=REVOKE, default_ttl=600, max_ttl=1200,
    )
    key = f"database-role:{deployment.mount}/byhand"

    def stack_with(adopt: list[str]) -> auto.Stack:
        server = deployment.server
        config = vault_config(server.address, server.root_token, **{"llm-vault:adopt": (adopt, False)})
        return automation.open_stack(
            target_for("database-adopt", state_dir=tmp_path, config=config), program_for([declared])
        )

    refused = stack_with([])
    try:
        error = failing_up(refused)
        assert "already exists and this stack did not create it" in error and key in error
        assert deployment.client.read(f"{deployment.mount}/roles/byhand")["data"]["creation_statements"] == list(wide)
        adopting = stack_with([key])
        up(adopting)
        role = deployment.client.read(f"{deployment.mount}/roles/byhand")["data"]
        assert role["creation_statements"] == list(READONLY_CREATE) and role["default_ttl"] == 600
        assert preview_changes(adopting) == {}  # taken over: the second run has nothing to do
    finally:
        destroy_quietly(stack_with([key]))


def test_destroy_leaves_no_role_the_engine_created(deployment: Deployment) -> None:
    deployment.creds()  # a live lease: the role delete must revoke it
    before = deployment.pg.roles()
    assert any(r.startswith("v-") for r in before)
    deployment.stack.destroy(on_output=Run())
    left = {r for r in deployment.pg.roles() if r.startswith("v-")}
    assert left == set()
    mounts = deployment.client.sys.list_mounted_secrets_engines()["data"]
    assert f"{deployment.mount}/" not in mounts

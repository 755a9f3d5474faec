"""The main job's PostgreSQL: dynamic database credentials on the laptop, like in production.

``make run`` starts one throwaway cluster (Debian's binaries, 127.0.0.1 only, see
``llm_vault.local.postgres``) beside the local OpenBao, creates a database per applied stack
with a root role for the secrets engine and a table to read, and declares that database under
``llm-vault:databases`` for the run (the checked-in stack files name no database: a real
environment's database is that environment's own data). The stack's database engine then
issues short-lived logins (``rag-readonly``, granted to the model runner) and the job prints
the commands that fetch one and use it with ``psql``.

Passwords: the cluster's superuser password and each stack's engine-root password live only in
0600 files under the local work folder (like the dev server's root token); the engine-root one
is read by the provider at apply time (``passwordFrom: file:…``), sent once, and rotated by
OpenBao right after (``rotate-root``), so the file no longer opens the database afterwards.
Nothing here prints a password.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_vault.local.postgres import HOST, PostgresCluster, PostgresError, pg_bin_dir, psql_bin

STATE_FILE = "postgres.json"
SUPERUSER_PASSWORD_FILE = "postgres-superuser.password"
ENGINE_MOUNT = "database"
CONNECTION = "rag-metadata"
READONLY_ROLE = "rag-readonly"
READONLY_CREATE = (
    "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
    'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";',
)
READONLY_REVOKE = (
    'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{{name}}";',
    'DROP ROLE IF EXISTS "{{name}}";',
)


def database_name(stack: str) -> str:
    return f"rag_{stack.replace('-', '_')}"


def engine_root(stack: str) -> str:
    return f"vault_root_{stack.replace('-', '_')}"


@dataclass
class LocalDatabase:
    cluster: PostgresCluster
    workdir: Path

    def password_file(self, stack: str) -> Path:
        return self.workdir / f"postgres-{engine_root(stack)}.password"

    def overrides(self, stack: str, mount: str = ENGINE_MOUNT) -> dict[str, Any]:
        """The ``llm-vault:databases`` declaration of this run for ``stack`` (engine at ``mount``)."""
        url = f"postgresql://{{{{username}}}}:{{{{password}}}}@{HOST}:{self.cluster.port}/{database_name(stack)}"
        return {
            "llm-vault:databases": {
                "path": mount,
                "connections": [
                    {
                        "name": CONNECTION,
                        "url": url,
                        "username": engine_root(stack),
                        "passwordFrom": f"file:{self.password_file(stack)}",
                        "roles": [
                            {
                                "name": READONLY_ROLE,
                                "creationStatements": list(READONLY_CREATE),
                                "revocationStatements": list(READONLY_REVOKE),
                                "ttl": "1h",
                                "maxTtl": "24h",
                            }
                        ],
                    }
                ],
                "grants": [{"role": READONLY_ROLE, "identities": ["model-runner"]}],
            }
        }

    def prepare(self, stack: str) -> None:
        """The stack's database, its engine-root role (may create roles, owns what it grants on) and
        a table to read; once: a rerun finds them and leaves them (and the rotated password) alone."""
        name, root = database_name(stack), engine_root(stack)
        if self.cluster.query(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):  # noqa: S608 (our own names)
            return
        password = secrets.token_urlsafe(24)
        _write_secret(self.password_file(stack), password)
        self.cluster.create_database(name)
        self.cluster.query(f"CREATE ROLE \"{root}\" WITH LOGIN CREATEROLE PASSWORD '{password}'")
        self.cluster.query("CREATE TABLE documents (id int PRIMARY KEY, title text)", dbname=name)
        self.cluster.query("INSERT INTO documents VALUES (1, 'model card'), (2, 'eval report')", dbname=name)
        owner = f'ALTER TABLE documents OWNER TO "{root}"; GRANT ALL ON SCHEMA public TO "{root}"'
        self.cluster.query(owner, dbname=name)


def _write_secret(path: Path, value: str) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)


def available() -> str | None:
    """None when PostgreSQL's binaries are here, else why not (for a loud one-line notice)."""
    try:
        pg_bin_dir()
    except PostgresError as exc:
        return str(exc)
    return None


def running(workdir: Path) -> LocalDatabase | None:
    """The local cluster a previous ``make run`` started, when it still answers."""
    state, password = workdir / STATE_FILE, workdir / SUPERUSER_PASSWORD_FILE
    if not (state.exists() and password.exists()):
        return None
    saved = json.loads(state.read_text())
    cluster = PostgresCluster.attach(Path(saved["base_dir"]), int(saved["port"]), password.read_text())
    return LocalDatabase(cluster, workdir) if cluster.alive() else None


def ensure(workdir: Path) -> LocalDatabase:
    """The running local cluster (reused), or a new one."""
    found = running(workdir)
    if found is not None:
        return found
    stop(workdir)  # (a stale record: a reboot, or a cluster removed by hand)
    cluster = PostgresCluster().start()
    _write_secret(workdir / SUPERUSER_PASSWORD_FILE, cluster.password)
    (workdir / STATE_FILE).write_text(json.dumps({"base_dir": str(cluster.base_dir), "port": cluster.port}))
    return LocalDatabase(cluster, workdir)


def stop(workdir: Path) -> bool:
    """Stop and remove the local cluster and its password files; False when none was recorded."""
    state = workdir / STATE_FILE
    if not state.exists():
        return False
    saved = json.loads(state.read_text())
    password_file = workdir / SUPERUSER_PASSWORD_FILE
    password = password_file.read_text() if password_file.exists() else ""
    PostgresCluster.attach(Path(saved["base_dir"]), int(saved["port"]), password).stop()
    for path in [state, password_file, *workdir.glob("postgres-vault_root_*.password")]:
        path.unlink(missing_ok=True)
    return True


def next_steps(bao: Path, namespace: str, port: int, stack: str, mount: str = ENGINE_MOUNT) -> str:
    """Commands that work as printed: a login from the engine, then psql with it (never a password
    on screen: the credentials go from `bao` straight into psql's environment)."""
    ns = f"-namespace={namespace} " if namespace else ""
    py = Path(bao).parent / "python"
    fetch = (
        f"eval \"$({bao} read {ns}-format=json {mount}/creds/{READONLY_ROLE} | {py} -c "
        "'import json,sys; d=json.load(sys.stdin)[\"data\"]; "
        "print(\"export PGUSER=%s PGPASSWORD=%s\" % (d[\"username\"], d[\"password\"]))')\""
    )
    query = "SELECT * FROM documents"  # the table prepare() made
    return "\n".join([
        f"  # a one-hour PostgreSQL login from the {stack} stack's database engine ({READONLY_ROLE}), then a query:",
        f"  {fetch}",
        f"  {psql_bin()} -h {HOST} -p {port} -d {database_name(stack)} -c '{query}'",
        f"  {bao} lease revoke {ns}-prefix {mount}/creds/{READONLY_ROLE}   # ends every such login at once",
    ])

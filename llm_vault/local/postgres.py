"""A throwaway PostgreSQL cluster for tests and the local job: Debian's ``postgresql`` binaries.

``initdb`` in a temporary folder, a server listening on 127.0.0.1 only (no other address, a
Unix socket only inside that folder), on a free port, with a random superuser password that is
never printed and never written anywhere but a 0600 file that ``initdb`` reads and that is removed
at once. ``stop()`` stops the server and removes the folder::

    with PostgresCluster() as pg:
        pg.create_database("rag")
        pg.psql("SELECT 1", dbname="rag")
        url = pg.dsn("rag")          # postgresql://postgres:...@127.0.0.1:<port>/rag

PostgreSQL refuses to run as root, so as root the binaries run as the ``postgres`` system user
(created by the Debian package) and the folder is handed to it. Queries go through ``psql`` (the
client the local job tells users to run), so the harness needs no Python driver.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

HOST = "127.0.0.1"
SUPERUSER = "postgres"
SYSTEM_USER = "postgres"  # runs the server when we are root
BIN_ENV = "LLM_VAULT_PG_BIN"
START_TIMEOUT_SECONDS = 60


class PostgresError(RuntimeError):
    """The cluster could not be started or a command failed (no password in the message)."""


def pg_bin_dir() -> Path:
    """The folder holding initdb/pg_ctl: ``$LLM_VAULT_PG_BIN``, else Debian's newest, else PATH."""
    if os.environ.get(BIN_ENV):
        return Path(os.environ[BIN_ENV])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise PostgresError("no PostgreSQL server binaries (initdb) found: run scripts/bootstrap.sh")


def psql_bin() -> str:
    candidate = pg_bin_dir() / "psql"
    return str(candidate) if candidate.exists() else (shutil.which("psql") or "psql")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class PostgresCluster:
    """One PostgreSQL cluster of its own; see the module docstring."""

    def __init__(self, base_dir: str | os.PathLike[str] | None = None) -> None:
        self._base_arg = Path(base_dir) if base_dir is not None else None
        self.base_dir: Path | None = None
        self.host = HOST
        self.port = 0
        self.superuser = SUPERUSER
        # Random per cluster; a property of this object only (never logged, never in a message).
        self.password = secrets.token_urlsafe(24)
        self._started = False

    @classmethod
    def attach(cls, base_dir: Path, port: int, password: str) -> PostgresCluster:
        """A cluster started earlier (by another process: the local job's ``make run``)."""
        cluster = cls()
        cluster.base_dir, cluster.port, cluster.password, cluster._started = Path(base_dir), port, password, True
        return cluster

    def alive(self) -> bool:
        """Whether the server answers with this object's superuser password."""
        return self.base_dir is not None and self.base_dir.exists() and self.can_login(self.superuser, self.password)

    # --- lifecycle ------------------------------------------------------------------------

    def _as_server_user(self) -> dict[str, Any]:
        if os.geteuid() != 0:
            return {}
        return {"user": SYSTEM_USER, "group": SYSTEM_USER}

    def _run(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args,
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            **self._as_server_user(),
            **kwargs,
        )

    @property
    def data_dir(self) -> Path:
        assert self.base_dir is not None, "not started"
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        assert self.base_dir is not None, "not started"
        return self.base_dir / "server.log"

    def start(self) -> PostgresCluster:
        if self._started:
            return self
        parent = self._base_arg
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
            # As root the server runs as `postgres`, which cannot enter a root-only folder
            # (pytest's tmp folders are 0700): then the system temp folder is used instead.
            if os.geteuid() == 0 and self._run(["test", "-w", str(parent), "-a", "-x", str(parent)]).returncode:
                parent = None
        self.base_dir = Path(tempfile.mkdtemp(prefix="llm-vault-pg-", dir=parent))
        if os.geteuid() == 0:
            shutil.chown(self.base_dir, SYSTEM_USER, SYSTEM_USER)
        self.base_dir.chmod(0o700)
        bin_dir = pg_bin_dir()
        pwfile = self.base_dir / "pwfile"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(pwfile, SYSTEM_USER, SYSTEM_USER)
        try:
            done = self._run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.superuser,
                    f"--pwfile={pwfile}",
                    # Password auth on every connection, local socket included: no trust, no peer.
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-sync",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if done.returncode != 0:
            raise PostgresError(f"initdb failed: {done.stderr.strip()[-2000:]}")
        self.port = free_port()
        options = (
            f"-c listen_addresses={HOST} -c port={self.port} -c unix_socket_directories={self.base_dir} "
            "-c fsync=off -c max_connections=50"
        )
        done = self._run(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_path),
                "-o",
                options,
                "-w",
                "-t",
                str(START_TIMEOUT_SECONDS),
                "start",
            ]
        )
        if done.returncode != 0:
            tail = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            self._remove()
            raise PostgresError(f"pg_ctl start failed: {done.stderr.strip()} {tail}")
        self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            self._run([str(pg_bin_dir() / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])
            self._started = False
        self._remove()

    def _remove(self) -> None:
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- use ------------------------------------------------------------------------------

    def dsn(self, dbname: str = "postgres", user: str | None = None, password: str | None = None) -> str:
        """A libpq URL; the superuser's unless ``user`` is given (then ``password``, if any)."""
        user = user or self.superuser
        if password is None and user == self.superuser:
            password = self.password
        auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password is not None else "")
        return f"postgresql://{auth}@{self.host}:{self.port}/{quote(dbname, safe='')}"

    def psql(
        self, sql: str, dbname: str = "postgres", user: str | None = None, password: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``sql`` with psql over TCP as ``user`` (default: the superuser); never raises on SQL
        errors: the caller reads ``returncode``/``stderr``. The password goes via PGPASSWORD only."""
        user = user or self.superuser
        if password is None and user == self.superuser:
            password = self.password
        env = {**os.environ, "PGPASSWORD": password or "", "PGCONNECT_TIMEOUT": "5"}
        return subprocess.run(
            [
                psql_bin(),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                user,
                "-d",
                dbname,
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            env=env,
        )

    def query(self, sql: str, dbname: str = "postgres") -> list[str]:
        """Rows of ``sql`` as the superuser (one string per row, columns ``|``-separated)."""
        done = self.psql(sql, dbname=dbname)
        if done.returncode != 0:
            raise PostgresError(f"psql failed: {done.stderr.strip()}")
        return [line for line in done.stdout.splitlines() if line]

    def create_database(self, name: str) -> None:
        if not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"database name {name!r}: letters, digits, '-' and '_' only")
        self.query(f'CREATE DATABASE "{name}"')

    def can_login(self, user: str, password: str, dbname: str = "postgres") -> bool:
        return self.psql("SELECT 1", dbname=dbname, user=user, password=password).returncode == 0

    def roles(self) -> set[str]:
        """Login roles other than the superuser (what an engine created and did not drop)."""
        return set(self.query("SELECT rolname FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%' AND rolname <> 'postgres'"))

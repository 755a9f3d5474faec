"""Open a stack and run the program through the Automation API with the real Pulumi engine.

:func:`open_stack` is the one way in: the CLI, the main job, the end-to-end tests, the provider
tests and the benchmarks all open their stacks with it, so workspace, passphrase, recovery and
lock handling are the same for every stack. A :class:`StackTarget` says which stack and where its
state lives, and where its config comes from: the checked-in ``Pulumi.<stack>.yaml`` plus this
run's overrides (the CLI, the main job, the end-to-end tests), or, with ``config=``, a config
given directly and no stack file (the provider tests, the benchmarks: their own program).

Our machines have no Python language plugin for the CLI, so the program runs inline (the
same ``infra.program.main`` that ``infra/__main__.py`` calls, unless the caller gives another).

The state layout, one for every stack, under a state folder (``--state-dir``,
``LLM_VAULT_STATE_DIR``, default ``.state``)::

    backend/              the file backend (``file://…/backend?metadata=skip``), unless
                          PULUMI_BACKEND_URL names another backend; :func:`state_file` is a
                          stack's checkpoint in it
    workspaces/<stack>/   the engine's work dir: ``Pulumi.yaml`` copied and ``Pulumi.<stack>.yaml``
                          regenerated on each open (the checked-in files are never written: the
                          engine writes ``encryptionsalt`` and config into the stack file), keeping
                          the ``encryptionsalt`` the engine wrote there
    .passphrase           the generated state passphrase (mode 0600)

The passphrase rule (:func:`passphrase`), one for every stack: PULUMI_CONFIG_PASSPHRASE when it
is set; else, on a file backend, the one generated once for the state folder; a shared backend
(PULUMI_BACKEND_URL not ``file://``) without PULUMI_CONFIG_PASSPHRASE is refused before
anything runs (:class:`BackendConfigError`). PULUMI_CONFIG_PASSPHRASE_FILE is never used.

Apply and preview always refresh first: without refresh, drift is neither shown nor repaired.

Every stack opened here is first recovered from an interrupted run (:func:`recover`): a stale
lock is removed and the pending creates the run left in the state are resolved against the
server, so that a killed CI job needs no hand edits. Every engine operation goes through
:func:`run_locked`, which turns a lock held by a live process into :class:`StackLockedError`
(one line, no traceback) and removes a stale one.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import secrets
import socket
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from pulumi import automation as auto

if TYPE_CHECKING:
    from infra.config import Settings

from llm_vault import engine, toolchain
from llm_vault.stackfiles import dump_yaml, load_yaml, stack_config

PROJECT = "llm-vault"
# The state layout (module docstring): folders and file under the state folder.
BACKEND_DIR = "backend"
WORKSPACES_DIR = "workspaces"
PASSPHRASE_FILE = ".passphrase"  # the state and the key to its secrets go together
PASSPHRASE_ENV = "PULUMI_CONFIG_PASSPHRASE"
# Keys that never go in a generated stack file: the provider reads them from the environment.
ENV_ONLY_KEYS = {"vault:token"}
# A lock older than this is taken to be left by a process that is gone, wherever it ran. The
# engine's locks carry no heartbeat, so age is the only sign for a lock from another host; our
# longest apply (a cold up of a 200-object stack) takes seconds, a stuck one should not block
# the team for longer than this.
STALE_LOCK_MINUTES_ENV = "LLM_VAULT_STALE_LOCK_MINUTES"
STALE_LOCK_MINUTES = 60
# Two runs that take the lock in the same instant both see the other's lock and both give up
# (the backend writes, then checks). Each retries after a random pause, so one of them goes on.
LOCK_RACE_RETRIES = 3

T = TypeVar("T")
# What the PostgreSQL backend answers when two runs open a stack of a fresh database at once.
_OPEN_RACES = ("failed to create table", "sql: no rows in result set")


def default_state_dir() -> Path:
    return Path(os.environ.get("LLM_VAULT_STATE_DIR", toolchain.REPO_ROOT / ".state"))


def deep_merge(base: Any, override: Any) -> Any:
    """Mappings merge key by key; anything else (lists included) is replaced."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


@dataclass
class StackTarget:
    """Which stack, where its state lives, its config, and this run's config overrides (full keys)."""

    stack: str
    state_dir: Path = field(default_factory=default_state_dir)
    overrides: dict[str, Any] = field(default_factory=dict)
    # Extra env for the engine and the provider host (VAULT_TOKEN among it): never in a repr.
    env: dict[str, str] = field(default_factory=dict, repr=False)
    source_root: Path = toolchain.REPO_ROOT
    # None: the stack's config is the checked-in Pulumi.<stack>.yaml under source_root. A mapping
    # (full keys): the whole config, no stack file (provider tests and benchmarks, which declare
    # their own records). ``overrides`` apply on top of either.
    config: dict[str, Any] | None = None
    # Config the engine keeps encrypted (``vault:token`` of a provider test): set through the
    # engine after the generated stack file is written, never in it in plain. Never in a repr.
    secrets: dict[str, Any] = field(default_factory=dict, repr=False)
    # (config values, the settings validated from them): see settings().
    _validated: tuple[dict[str, Any], Settings] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def backend_url(self) -> str:
        configured = os.environ.get("PULUMI_BACKEND_URL")
        if configured:
            return engine.with_file_metadata_skipped(configured)
        return engine.file_backend_url(self.state_dir / BACKEND_DIR)

    @property
    def backend_label(self) -> str:
        """The backend URL for messages: a password in it is masked."""
        return mask_url(self.backend_url)

    @property
    def workspace_dir(self) -> Path:
        return self.state_dir / WORKSPACES_DIR / self.stack

    def settings(self) -> Settings:
        """The stack's validated settings with this run's overrides (raises ConfigError naming the key).

        Validated once per run: the preflight, the job and the inline program (``open_stack``)
        share one result while the config values are the same."""
        from infra.config import load_settings

        values = self.config_values()
        if self._validated is None or self._validated[0] != values:
            raw = {k.split(":", 1)[1]: v for k, v in values.items() if k.startswith("llm-vault:")}
            self._validated = (copy.deepcopy(values), load_settings(raw))
        return self._validated[1]

    def config_values(self) -> dict[str, Any]:
        """The stack's whole config (full keys), secrets included: what the program and the provider see."""
        values = stack_config(self.stack, self.source_root) if self.config is None else copy.deepcopy(self.config)
        for key, value in {**self.overrides, **self.secrets}.items():
            values[key] = deep_merge(values[key], value) if key in values else value
        return values


def state_file(state_dir: Path, stack: str) -> Path:
    """Where the file backend under ``state_dir`` keeps ``stack``'s checkpoint (project-scoped layout)."""
    return _checkpoint_in(Path(state_dir) / BACKEND_DIR, stack)


def _checkpoint_in(folder: Path, stack: str) -> Path:
    return folder / ".pulumi" / "stacks" / PROJECT / f"{stack}.json"


def passphrase(state_dir: Path, backend_url: str | None = None) -> str:
    """The state passphrase (module docstring): PULUMI_CONFIG_PASSPHRASE from the environment, else
    the one generated for ``state_dir``; ``backend_url`` (None: the file backend under
    ``state_dir``) not a file backend and no PULUMI_CONFIG_PASSPHRASE: :class:`BackendConfigError`.

    The generated one is written once (mode 0600) and reused, so a later run can decrypt the
    secrets an earlier run stored. Never printed.
    """
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    if backend_url is not None and engine.file_backend_dir(backend_url) is None:
        # The generated passphrase lives beside one machine's work folder; a team's state must be
        # readable by every member and CI, so the passphrase comes from the team's secret store.
        raise BackendConfigError(
            f"PULUMI_BACKEND_URL points at a shared backend ({mask_url(backend_url)}); set "
            f"{PASSPHRASE_ENV} to the team's state passphrase (from your secret store) as well"
        )
    path = Path(state_dir) / PASSPHRASE_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes racing on a fresh state dir must not end up with two keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def copy_project_file(path: Path, target: Path, source: Path) -> None:
    """Copy Pulumi.yaml for an inline program: without ``main`` (the program is the callable;
    the CLI would insist that the folder exists next to the copy) and with the virtualenv path
    made absolute."""
    project = load_yaml(path.read_text()) or {}
    project.pop("main", None)
    runtime = project.get("runtime")
    options = runtime.get("options") if isinstance(runtime, dict) else None
    if isinstance(options, dict) and isinstance(options.get("virtualenv"), str):
        options["virtualenv"] = str(source / options["virtualenv"])
    target.write_text(dump_yaml(project, sort_keys=False))


def _write_workspace(target: StackTarget) -> None:
    wd = target.workspace_dir
    wd.mkdir(parents=True, exist_ok=True)
    copy_project_file(target.source_root / "Pulumi.yaml", wd / "Pulumi.yaml", target.source_root)
    stack_path = wd / f"Pulumi.{target.stack}.yaml"
    previous = load_yaml(stack_path.read_text()) if stack_path.exists() else {}
    document: dict[str, Any] = {
        k: v for k, v in (previous or {}).items() if k in ("encryptionsalt", "secretsprovider", "encryptedkey")
    }
    document["config"] = {
        k: v for k, v in target.config_values().items() if k not in ENV_ONLY_KEYS and k not in target.secrets
    }
    stack_path.write_text(
        "# Generated for one run from the checked-in stack file (or the config given) plus overrides; "
        "not the source of truth.\n"
        + dump_yaml(document, sort_keys=True)
    )


# The PostgreSQL backend opens at most 2 x GOMAXPROCS connections (4 on 2 CPUs) and lists a
# folder through one that stays busy while up to PULUMI_DIY_BACKEND_PARALLEL (default 10)
# workers read the stacks it lists, each needing a connection of its own: with 4 stacks or more
# on 2 CPUs, `stack ls` (and `stack select`, which lists) waits forever. One worker per CPU
# leaves a connection free.
DIY_PARALLEL_ENV = "PULUMI_DIY_BACKEND_PARALLEL"


class BackendConfigError(ValueError):
    """The state backend is not set up the way a shared backend must be (one line, what to set)."""


def engine_env(target: StackTarget) -> dict[str, str]:
    env = toolchain.engine_env()
    env.update(target.env)
    env["PULUMI_BACKEND_URL"] = target.backend_url
    env[PASSPHRASE_ENV] = passphrase(target.state_dir, target.backend_url)
    env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    env.setdefault(DIY_PARALLEL_ENV, str(max(1, os.cpu_count() or 1)))
    return env


def open_stack(
    target: StackTarget,
    program: Callable[[], None] | None = None,
    *,
    say: Callable[[str], None] | None = None,
    read_only_ok: bool = False,
) -> auto.Stack:
    """Create or select the stack in its workspace, with the program inline, recovered from an
    interrupted run (:func:`recover`; ``say`` gets its one line; ``read_only_ok`` for preview
    and drift, which may hold a read-only state credential).

    ``program``: ``infra.program.main`` unless given (provider tests and benchmarks declare their
    own records). The one way any caller opens a stack (module docstring)."""
    if program is None:
        from infra.program import main

        # The program declares from the settings the run validated before the engine started
        # (the CLI's preflight; ``settings()`` keeps them): it does not parse the engine's copy of
        # the config a second time. Asked for inside the program, so that a caller that skipped
        # the preflight still gets a config error the way the engine reports a program's errors.
        program = lambda: main(target.settings())  # noqa: E731

    folder = engine.file_backend_dir(target.backend_url)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    engine.trim_recorded_stack_traces()
    _write_workspace(target)
    env = engine_env(target)  # the provider host is the engine's child and inherits it
    workspace = auto.LocalWorkspaceOptions(
        work_dir=str(target.workspace_dir),
        env_vars=env,
        secrets_provider="passphrase",
        pulumi_command=engine.pulumi_command(),
    )
    repaired = repair_before_open(target)

    def create_or_select() -> auto.Stack:
        for attempt in range(3):
            try:
                return auto.create_or_select_stack(
                    stack_name=target.stack, project_name=PROJECT, program=program, opts=workspace
                )
            except auto.StackAlreadyExistsError:
                # Another run created it between our select and our create (two first runs at once).
                return auto.select_stack(
                    stack_name=target.stack, project_name=PROJECT, program=program, opts=workspace
                )
            except auto.CommandError as exc:
                # Two first runs on an empty PostgreSQL database race in the backend: both create the
                # state table (the loser's CREATE fails on PostgreSQL's catalogue, "duplicate key …
                # pg_type"), or one lists a row the other is writing ("sql: no rows in result set").
                # Both are over a moment later.
                if not any(sign in str(exc) for sign in _OPEN_RACES) or attempt == 2:
                    raise
                time.sleep(random.uniform(0.2, 1.0))  # noqa: S311 (a pause, not a secret)
        raise AssertionError("unreachable")

    stack = run_locked(target.stack, create_or_select, "opening the stack", repaired)
    if target.secrets:
        # Encrypted by the engine with the state passphrase into the generated stack file, which
        # was just written without them.
        values = {
            key: auto.ConfigValue(value=value if isinstance(value, str) else json.dumps(value), secret=True)
            for key, value in target.secrets.items()
        }
        run_locked(stack, lambda: stack.set_all_config(values), "setting the secret config")
    recover(stack, target, say=say, notes=repaired, read_only_ok=read_only_ok)
    return stack


def refresh_then_preview(stack: auto.Stack, **kwargs: Any) -> auto.PreviewResult:
    return run_locked(stack, lambda: stack.preview(refresh=True, diff=True, **kwargs), "preview")


def refresh_then_up(stack: auto.Stack, **kwargs: Any) -> auto.UpResult:
    kwargs.setdefault("show_secrets", False)
    return run_locked(stack, lambda: stack.up(refresh=True, **kwargs), "up")


def refresh_then_destroy(stack: auto.Stack, **kwargs: Any) -> auto.DestroyResult:
    kwargs.setdefault("show_secrets", False)
    return run_locked(stack, lambda: stack.destroy(refresh=True, **kwargs), "destroy")


# -- errors a user can expect -------------------------------------------------------------------

_PASSWORD_IN_TEXT = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@")


def mask_url(url: str) -> str:
    """``postgres://user:secret@host/db`` -> ``postgres://user:****@host/db``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:****@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def mask_text(text: str) -> str:
    """Any ``scheme://user:password@`` in ``text`` with the password masked (engine messages quote URLs)."""
    text = _PASSWORD_IN_TEXT.sub(lambda m: f"{m['scheme']}{m['user']}:****@", text)
    backend = os.environ.get("PULUMI_BACKEND_URL", "")
    secret = urlsplit(backend).password if "://" in backend else None
    for value in {secret, unquote(secret) if secret else None, os.environ.get("PGPASSWORD")}:
        if value:
            text = text.replace(value, "****")
    return text


class EngineError(auto.CommandError):
    """An engine command failed: the engine's own error lines, on one line, passwords masked.

    A CommandError still (callers that handle the engine's errors keep working); its text is
    the one line instead of the whole command result.
    """

    def __init__(self, stack: str, doing: str, exc: auto.CommandError) -> None:
        self.name = "EngineError"
        self.stack = stack
        self.detail = engine_message(exc)
        self.engine_output = mask_text(str(exc))  # the whole result, for a test's failure message
        Exception.__init__(self, f"stack {stack}: {doing} failed: {self.detail}")


class StackLockedError(auto.ConcurrentUpdateError):
    """The stack is locked by a process that may still be running (one line, with the next step)."""

    def __init__(self, message: str) -> None:
        self.name = "StackLockedError"
        Exception.__init__(self, message)


# Lines of the engine's diagnostics that only say that something else failed.
_NOISE = ("update failed", "preview failed", "refresh failed", "destroy failed", "Resource monitor has terminated")


def engine_message(exc: BaseException) -> str:
    """The engine's error lines from a CommandError, on one line, passwords masked.

    A CommandError's text is the whole command result (the command line, stdout, stderr). The
    lines that say what went wrong are the ``error:`` lines of the engine's "Diagnostics"
    section, else those of its stderr.
    """
    text = str(exc)
    found: list[str] = []
    in_diagnostics = False
    for raw in text.splitlines():
        line = raw.strip()
        if raw.startswith("Diagnostics:") or line == "Diagnostics:":
            in_diagnostics = True
            continue
        if in_diagnostics and raw and not raw.startswith(" "):
            in_diagnostics = False  # "Resources:", "Outputs:", "Duration:": the section is over
        if in_diagnostics and line.startswith("error:"):
            message = line.removeprefix("error:").strip()
            if message and not message.startswith(_NOISE) and message not in found:
                found.append(message)
    if not found:
        stderr = text.split(" stderr:", 1)[1] if " stderr:" in text else text
        lines = [ln.strip() for ln in stderr.splitlines()]
        found = [ln.removeprefix("error:").strip() for ln in lines if ln.startswith("error:")]
        found = [m for m in found if m and not m.startswith(_NOISE)]
    if not found:
        found = [next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), type(exc).__name__)]
    return mask_text("; ".join(dict.fromkeys(found)))


# -- locks --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lock:
    """One lock of the backend: who took it, where and when (as the engine records it)."""

    where: str  # the lock file's URL as the engine names it (credentials masked by the engine)
    user: str
    host: str
    pid: int
    since: datetime

    def __str__(self) -> str:
        return f"{self.user}@{self.host} (pid {self.pid}, since {self.since:%Y-%m-%d %H:%M:%S} UTC)"


_LOCK_LINE = re.compile(
    r"^\s*(?P<where>\S+): created by (?P<user>[^@\s]*)@(?P<host>\S+) \(pid (?P<pid>\d+)\) at (?P<at>\S+)\s*$"
)


def locks_in_message(text: str) -> list[Lock]:
    """The locks the engine lists when it refuses to start ("the stack is currently locked by …")."""
    locks = []
    for line in text.splitlines():
        m = _LOCK_LINE.match(line)
        if m:
            locks.append(Lock(m["where"], m["user"], m["host"], int(m["pid"]), _parse_time(m["at"])))
    return locks


def _parse_time(text: str) -> datetime:
    # Go writes RFC 3339 with nanoseconds ("2026-01-02T03:04:05.123456789+01:00"); Python takes micro.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return datetime.now(UTC)  # unreadable: taken as fresh, never as stale


def file_backend_locks(backend_url: str, stack_name: str) -> list[Lock]:
    """The stack's lock files on a ``file://`` backend (other backends: found when the engine refuses)."""
    folder = engine.file_backend_dir(backend_url)
    # Project-scoped layout of the file backend: .pulumi/locks/organization/<project>/<stack>/<id>.json
    directory = folder / ".pulumi" / "locks" / "organization" / PROJECT / stack_name if folder else None
    if directory is None or not directory.is_dir():
        return []
    locks = []
    for path in sorted(directory.glob("*.json")):
        try:
            raw = json.loads(path.read_text())
            locks.append(
                Lock(path.as_uri(), str(raw["username"]), str(raw["hostname"]), int(raw["pid"]),
                     _parse_time(str(raw["timestamp"])))
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being written or removed right now: the engine will see it (or not)
    return locks


def stale_because(lock: Lock, now: datetime | None = None) -> str | None:
    """Why ``lock`` is provably left by a process that is gone, or None when it may be live."""
    limit = float(os.environ.get(STALE_LOCK_MINUTES_ENV) or STALE_LOCK_MINUTES)
    age = ((now or datetime.now(UTC)) - lock.since).total_seconds()
    if lock.host == socket.gethostname():
        if not _pid_alive(lock.pid):
            return f"pid {lock.pid} is no longer running on this host"
        if not _is_pulumi(lock.pid):
            return f"pid {lock.pid} on this host is now another program, not the engine"
        return None  # a live engine on this host, however old: never taken away
    if age > limit * 60:
        return f"it is {age / 60:.0f} minutes old (more than {limit:.0f}; {STALE_LOCK_MINUTES_ENV})"
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    try:
        # A killed engine whose parent died too stays a zombie until init reaps it: gone all the same.
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def _is_pulumi(pid: int) -> bool:
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return True  # cannot tell (not Linux): alive is the safe answer
    return b"pulumi" in Path(os.fsdecode(argv0)).name.encode()


def remove_stale_locks(stack: auto.Stack | str, locks: list[Lock]) -> list[str]:
    """Remove ``locks`` if every one is stale; the notes saying so. Raises StackLockedError otherwise.

    ``stack`` may be a name only when every lock is a file (nothing to ask the engine).
    """
    name = stack if isinstance(stack, str) else stack.name
    live = [lock for lock in locks if stale_because(lock) is None]
    if live:
        others = f" ({len(live) - 1} more)" if len(live) > 1 else ""
        raise StackLockedError(
            f"stack {name} is locked by {live[0]}{others}, which may still be running: wait for it to "
            f"finish and run again (a lock from another host counts as gone after "
            f"{os.environ.get(STALE_LOCK_MINUTES_ENV) or STALE_LOCK_MINUTES} minutes)"
        )
    notes = []
    for lock in locks:
        if lock.where.startswith("file://"):
            # One lock file, not `pulumi cancel`: that removes every lock of the stack, including
            # one a live run took after we looked.
            Path(unquote(urlsplit(lock.where).path)).unlink(missing_ok=True)
        notes.append(f"removed the stale lock of {lock} ({stale_because(lock)})")
    if any(not lock.where.startswith("file://") for lock in locks):
        assert not isinstance(stack, str), "a lock of a non-file backend is removed through the engine"
        try:
            stack.cancel()  # other backends: the engine's own way to remove a stack's locks
        except auto.CommandError as exc:
            raise EngineError(name, "removing a stale lock", exc) from None
    return notes


def run_locked(
    stack: auto.Stack | str, operation: Callable[[], T], doing: str, notes: list[str] | None = None
) -> T:
    """Run an engine operation; a stale lock in the way is removed (and said), a live one is an error.

    ``stack`` is a name only while the stack is being opened (file backends: the lock is a file).
    """
    name = stack if isinstance(stack, str) else stack.name
    for attempt in range(LOCK_RACE_RETRIES + 1):
        try:
            return operation()
        except auto.ConcurrentUpdateError as exc:
            locks = locks_in_message(str(exc))
            if not locks:
                raise EngineError(name, doing, exc) from None
            if all(stale_because(lock) is not None for lock in locks):
                if isinstance(stack, str) and not all(lock.where.startswith("file://") for lock in locks):
                    if attempt < LOCK_RACE_RETRIES:
                        # Most often a run that just ended and is removing its lock: look again.
                        time.sleep(random.uniform(0.5, 2.5))  # noqa: S311 (a pause, not a secret)
                        continue
                    raise StackLockedError(
                        f"stack {name} is locked by {locks[0]}, which is gone ({stale_because(locks[0])}); "
                        f"remove the lock with `pulumi cancel --stack {name}` and run again"
                    ) from None
                said = remove_stale_locks(stack, locks)
                if notes is None:
                    _say_default(f"stack {name}: " + "; ".join(said))
                else:
                    notes.extend(said)
                continue
            recent = all((datetime.now(UTC) - lock.since).total_seconds() < 10 for lock in locks)
            if attempt < LOCK_RACE_RETRIES and recent:
                time.sleep(random.uniform(0.5, 2.5))  # noqa: S311 (a pause, not a secret)
                continue
            remove_stale_locks(stack, locks)  # raises StackLockedError naming the live one
        except auto.CommandError as exc:
            raise EngineError(name, doing, exc) from None
    raise StackLockedError(f"stack {name} stayed locked after {LOCK_RACE_RETRIES} retries; run again")


def _say_default(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- recovery from an interrupted run --------------------------------------------------------------


@dataclass
class Recovery:
    """What :func:`recover` did to one stack."""

    stack: str
    notes: list[str] = field(default_factory=list)  # stale locks removed
    imported: list[str] = field(default_factory=list)  # objects of ours found on the server
    cleared: list[str] = field(default_factory=list)  # pending creates with nothing to import
    merged: list[str] = field(default_factory=list)  # per-role records merged into a role set
    not_merged: list[str] = field(default_factory=list)  # and the trusts left as they were, with why

    def line(self) -> str | None:
        parts = list(self.notes)
        if self.imported:
            parts.append(f"imported {len(self.imported)} object(s) its interrupted create had made: "
                         f"{_some(self.imported)}")
        if self.cleared:
            parts.append(f"cleared {len(self.cleared)} pending create(s) (nothing of ours on the server to import): "
                         f"{_some(self.cleared)}")
        migrated = []
        if self.merged:
            migrated.append(f"merged the per-role JWT records of an earlier version into their role sets "
                            f"(state only, the server is not touched): {_some(self.merged)}")
        if self.not_merged:
            migrated.append(f"left per-role JWT records unmerged: {_some(self.not_merged)} (an up fails on the "
                            f"set's create, which refuses roles it did not create, and deletes nothing)")
        said = [f"recovered stack {self.stack} after an interrupted run: " + "; ".join(parts)] if parts else []
        said += [f"migrated stack {self.stack}'s state: " + "; ".join(migrated)] if migrated else []
        return ". ".join(said) or None


def _some(labels: list[str], shown: int = 5) -> str:
    more = f" and {len(labels) - shown} more" if len(labels) > shown else ""
    return ", ".join(labels[:shown]) + more


def repair_before_open(target: StackTarget) -> list[str]:
    """On a file backend with no live lock: remove stale locks and what a killed write left (torn
    metadata files make even selecting the stack fail, so this runs before it)."""
    folder = engine.file_backend_dir(target.backend_url)
    if folder is None:
        return []
    locks = file_backend_locks(target.backend_url, target.stack)
    if not all(stale_because(lock) is not None for lock in locks):
        return []  # a live run: its files are its own
    try:
        notes = remove_stale_locks(target.stack, locks) if locks else []
        return notes + engine.repair_file_backend(folder)
    except OSError as exc:  # a read-only state folder (a preview job's copy): nothing of ours to fix there
        return [f"could not repair the state folder ({exc.strerror}); the next run that can write it will"]


def checkpoint_file(target: StackTarget) -> Path | None:
    """The checkpoint of ``target``'s stack as a file backend keeps it; None for other backends."""
    folder = engine.file_backend_dir(target.backend_url)
    return None if folder is None else _checkpoint_in(folder, target.stack)


def _checkpoint_says_nothing_to_recover(target: StackTarget) -> bool:
    """On the file backend, whether the checkpoint itself shows nothing for :func:`recover` to do:
    no pending operation, and no role records for the state migration to merge or to report.
    Then no ``stack export`` is needed (a CLI process and the passphrase's key derivation: ~0.4 s
    of every command, issue 17). Anything else (another backend, no plain checkpoint, a compressed
    one beside it, something to do) is False, and the engine's export decides as before."""
    from llm_vault.state_migration import merge_role_records

    path = checkpoint_file(target)
    if path is None or any(path.with_name(f"{path.name}{ext}").exists() for ext in (".gz", ".zst")):
        return False
    try:
        deployment = json.loads(path.read_text())["checkpoint"]["latest"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if not isinstance(deployment, dict) or deployment.get("pending_operations"):
        return False
    migration = merge_role_records(deployment)  # (on this throwaway copy of the state)
    return not migration.merged and not migration.left


def recover(
    stack: auto.Stack,
    target: StackTarget,
    *,
    say: Callable[[str], None] | None = None,
    notes: list[str] | None = None,
    read_only_ok: bool = False,
) -> Recovery:
    """Resolve the pending creates an interrupted run left in the state, before any other command.

    The engine records a pending create before it asks the provider to create the object, and
    removes it once the object is in the state; a run killed in between leaves it, and the
    object may or may not be on the server. The next up would create it anew, and our provider
    refuses an object it did not create. So, for each pending create:

    - of one of our own resource types, whose checked inputs say that an object at its id can
      only be ours (``RECOVERABLE_KEY``): the server is asked, as the provider would ask it; an
      object there goes into the state under its deterministic id (imported: the up's refresh
      then reads it), no object there clears the pending create (the up creates it);
    - anything else is cleared: a component or provider has no object, and an object that
      existed before our create began is not ours to take over (the up refuses it, as before).

    ``notes``: what was repaired before the stack could be opened (:func:`repair_before_open`).
    ``read_only_ok``: a state that cannot be written (a preview's read-only credential) is not an
    error; what would be recovered is said, and left for the next apply.
    One line (``say``, else stderr) says what was recovered; nothing is said when nothing was.
    """
    from llm_vault.state_migration import merge_role_records
    from vault_provider.builtin import _client
    from vault_provider.builtin._provider import RECOVERABLE_KEY, VaultProvider
    from vault_provider.builtin.host import shipped_providers

    result = Recovery(stack.name, notes=list(notes or []))
    if _checkpoint_says_nothing_to_recover(target):
        line = result.line()  # (what was repaired before the stack could be opened, if anything)
        if line:
            (say if say is not None else _say_default)(line)
        return result
    exported = stack.export_stack()
    deployment = dict(exported.deployment or {})
    pending = list(deployment.get("pending_operations") or [])
    creates = [op for op in pending if op.get("type") == "creating" and op.get("resource")]
    if creates:
        providers = shipped_providers()
        resources = list(deployment.get("resources") or [])
        config = {k: v for k, v in target.config_values().items() if k.startswith(("vault:", "llm-vault:"))}
        with _client.connected(config, engine_env(target)):
            for op in creates:
                res = op["resource"]
                inputs = dict(res.get("inputs") or {})
                provider_cls = providers.get(str(res.get("type")))
                if provider_cls is None:
                    continue  # a component or provider: nothing on the server to find
                provider = provider_cls()
                assert isinstance(provider, VaultProvider)  # every shipped provider is one
                try:
                    args = provider.record(inputs)
                    object_id = provider.adoption_key(args)
                    label = str(provider.where(args))
                except (TypeError, ValueError, KeyError):
                    result.cleared.append(str(res.get("urn", "")).rsplit("::", 1)[-1])
                    continue
                if inputs.get(RECOVERABLE_KEY) is not True:
                    result.cleared.append(f"{label} (was there before this stack's create: not taken over)")
                    continue
                live = provider.fetch(provider.api(args), args)  # a VaultObjectError names the object
                if live is None or not provider.occupied(live):
                    result.cleared.append(label)
                    continue
                outputs = {k: v for k, v in inputs.items() if k != RECOVERABLE_KEY}
                record = {**res, "id": object_id, "outputs": outputs}
                # A delete-before-replace cut off in its create leaves the old record at this URN
                # (deleted on the server, marked pendingReplacement): the new one takes its
                # place, so everything that depends on it stays after it.
                at = next((i for i, r in enumerate(resources) if r.get("urn") == res.get("urn")), None)
                if at is None:
                    resources.append(record)  # its parent and dependencies were done before it began
                else:
                    resources[at] = record
                result.imported.append(label)
        deployment["resources"] = resources
        deployment["pending_operations"] = [op for op in pending if op not in creates]
    # After the pending creates (a role record just imported is merged too): state written by an
    # earlier program, in the current layout (llm_vault.state_migration; the server is not touched).
    migration = merge_role_records(deployment)
    result.merged, result.not_merged = migration.merged, migration.left
    if creates or migration.merged:
        try:
            run_locked(stack, lambda: stack.import_stack(auto.Deployment(exported.version, deployment)),
                       "recovering pending creates" if creates else "merging role records", result.notes)
        except EngineError as exc:
            if not read_only_ok:
                raise
            # Preview and drift may hold a read-only state credential (docs/ci.md): they report what
            # the next apply will recover, and preview the state as it is.
            would = [f"{len(result.imported)} object(s) to import"] if result.imported else []
            would += [f"{len(result.cleared)} pending create(s) to clear"] if result.cleared else []
            would += [f"role records to merge into {', '.join(result.merged)} (this preview shows the set "
                      f"created and the role records deleted; the apply merges them first, and deletes no role)"
                      ] if result.merged else []
            result.imported, result.cleared, result.merged = [], [], []
            result.notes.append(
                f"{' and '.join(would) or 'pending operations'} left for the next apply, which can write the "
                f"state (this one could not: {exc.detail})"
            )
    line = result.line()
    if line:
        (say if say is not None else _say_default)(line)
    return result

"""An interrupted apply recovers by itself: run before every engine command on a stack.

A lost CI runner or a reboot kills the engine mid-apply (SIGKILL: nothing gets to clean up).
It leaves two things behind, and each would otherwise need a person:

- **its lock** on the stack (the DIY backend's ``.pulumi/locks/<org>/<project>/<stack>/*.json``):
  every later run fails "the stack is currently locked". A lock is removed when its owner is
  provably gone: the same host and a pid that is not running, or (another host) older than
  :data:`STALE_AFTER_SECONDS`, longer than any of our jobs may run. A live lock is left alone
  and reported with its owner.
- **pending operations** in the state. A pending create may or may not have reached the server
  before the kill. Retrying it blindly fails on an object that exists ("already exists and this
  stack did not create it"), so each one is resolved against the server: when the object is
  there it is put into the state under its deterministic id (our ids are the adoption keys),
  with the declared inputs, and the next refresh reads it whole; when it is not there the
  pending create is dropped and the apply creates it. Only this stack's own pending creates are
  looked at: nothing else is ever taken over. Other pending operations (update, delete, read)
  are dropped: their resource is still in the state, and the refresh reads what the server
  holds.

Each recovery prints one line saying what was done. Works on the state through the backend's
export/import, so on any backend; lock files are handled for ``file://`` backends.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from pulumi import automation as auto

STALE_AFTER_SECONDS = int(os.environ.get("LLM_VAULT_STALE_LOCK_AFTER", 3 * 3600))  # our jobs time out in 30-60 min


def _lock_files(backend_url: str, project: str, stack: str) -> list[Path]:
    if not backend_url.startswith("file://"):
        return []
    root = Path(backend_url.removeprefix("file://").split("?", 1)[0]) / ".pulumi" / "locks"  # (?no_tmp_dir=...)
    # "organization/<project>/<stack>" (project-scoped layout) or the old "<stack>" one.
    return sorted([*root.glob(f"*/{project}/{stack}/*.json"), *root.glob(f"{stack}/*.json")])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    # A killed process that nobody has reaped yet (a zombie) still answers signal 0.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def stale_lock_reason(lock: dict[str, Any], *, now: float | None = None) -> str | None:
    """Why the lock's owner is provably gone, or None when it may still be running."""
    pid, host = int(lock.get("pid", 0)), str(lock.get("hostname", ""))
    if host == socket.gethostname():
        return None if _pid_alive(pid) else f"pid {pid} is no longer running on {host}"
    stamp = str(lock.get("timestamp", ""))
    try:
        taken = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
    age = (now or time.time()) - taken
    if age <= STALE_AFTER_SECONDS:
        return None
    return f"it is {age / 3600:.1f} h old (stale after {STALE_AFTER_SECONDS / 3600:.1f} h)"


def describe_lock(lock: dict[str, Any]) -> str:
    return f"pid {lock.get('pid')} on {lock.get('hostname')} ({lock.get('username')}, since {lock.get('timestamp')})"


def remove_stale_locks(backend_url: str, project: str, stack: str) -> list[str]:
    lines = []
    for path in _lock_files(backend_url, project, stack):
        try:
            lock = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        reason = stale_lock_reason(lock)
        if reason is not None:
            path.unlink(missing_ok=True)
            lines.append(f"removed the lock left on stack {stack} by {describe_lock(lock)}: {reason}")
    return lines


def live_lock(backend_url: str, project: str, stack: str) -> str | None:
    """Who holds the stack now (for a clear "locked by" message), or None."""
    for path in _lock_files(backend_url, project, stack):
        try:
            return f"{describe_lock(json.loads(path.read_text()))} (lock file {path})"
        except (OSError, ValueError):
            continue
    return None


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def resolve_pending(stack: auto.Stack, env: dict[str, str]) -> list[str]:
    """Resolve the pending operations an interrupted run left in the state (see the module doc)."""
    exported = stack.export_stack()
    state: dict[str, Any] = dict(exported.deployment or {})
    exported.deployment = state
    pending = state.get("pending_operations") or []
    if not pending:
        return []
    from llm_vault.vault.builtin.lookup import lookups

    resources: list[dict[str, Any]] = state.setdefault("resources", [])
    # An entry being replaced (delete-before-replace: deleted on the server, "pendingReplacement"
    # in the state) is where its replacement's create goes when that create got through.
    replacing = {r["urn"]: i for i, r in enumerate(resources) if r.get("pendingReplacement") or r.get("delete")}
    present = {r["urn"] for r in resources if r["urn"] not in replacing}
    config = {key: value.value for key, value in stack.get_all_config().items()}
    lines = []
    with lookups(config, env) as lookup:
        for op in pending:
            resource, kind = op.get("resource") or {}, op.get("type", "")
            urn = str(resource.get("urn", ""))
            if kind != "creating" or urn in present:
                lines.append(f"dropped the interrupted {kind} of {_name(urn)}: the refresh reads what the server holds")
                continue
            found = lookup(str(resource.get("type", "")), resource.get("inputs") or {})
            if found is None or found.live is None:
                lines.append(f"dropped the interrupted create of {_name(urn)}: it had not reached the server")
                continue
            created = {**resource, "id": found.key, "outputs": dict(resource.get("inputs") or {})}
            created.pop("pendingReplacement", None)
            if urn in replacing:
                resources[replacing.pop(urn)] = created  # the replacement is there: the old one is gone
            else:
                resources.append(created)
            present.add(urn)
            lines.append(f"kept {_name(urn)} ({found.key}): its interrupted create had reached the server")
    state["pending_operations"] = []
    stack.import_stack(exported)
    return lines


def _workspace_env(stack: auto.Stack) -> dict[str, str]:
    return dict(getattr(stack.workspace, "env_vars", None) or {})


def recover(stack: auto.Stack, project: str, say: Callable[[str], Any] | None = None) -> list[str]:
    """Before a command that writes the state: stale locks, then pending operations; each line
    said with a "recovered:" prefix. A live lock is left for the command to report."""
    env = _workspace_env(stack)
    backend_url = env.get("PULUMI_BACKEND_URL", "")
    lines = remove_stale_locks(backend_url, project, stack.name)
    if live_lock(backend_url, project, stack.name) is None:
        lines += resolve_pending(stack, env)
    for line in lines:
        (say or print)(f"recovered: {line}")
    return lines


def pending_note(stack: auto.Stack) -> str | None:
    """For a preview, which writes nothing: what the next apply will resolve, if anything."""
    pending = (stack.export_stack().deployment or {}).get("pending_operations") or []
    if not pending:
        return None
    names = ", ".join(_name(str((op.get("resource") or {}).get("urn", ""))) for op in pending)
    return f"the state holds {len(pending)} interrupted operation(s) ({names}); the next apply resolves them"

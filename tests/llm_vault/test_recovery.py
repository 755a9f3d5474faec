"""An interrupted apply recovers by itself (``llm_vault/recovery.py``).

Unit: when a lock's owner is provably gone. Integration, through the real engine on a real
OpenBao: the dev stack with 170 more CI bindings (over 200 objects) is applied in a child
process that is SIGKILLed with its whole process group at kill points spread over the run —
during the refresh, while objects are being created, during a delete-before-replace, while
roles are being updated, during a destroy — and each kill is followed by a plain rerun. Every
rerun converges (nothing else to do afterwards), with no orphan and no duplicate on the server
and the secrets intact. The kill points and what each rerun did are printed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.server import OpenBaoServer
from llm_vault.recovery import STALE_AFTER_SECONDS, stale_lock_reason
from llm_vault.toolchain import REPO_ROOT

# --------------------------------------------------------------------------------------------
# unit: stale locks


def _lock(**kw: Any) -> dict[str, Any]:
    return {"pid": 1, "username": "ci", "hostname": socket.gethostname(), "timestamp": datetime.now(UTC).isoformat(),
            **kw}


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_lock_whose_process_is_gone_on_this_host_is_stale() -> None:
    reason = stale_lock_reason(_lock(pid=_dead_pid()))
    assert reason is not None and "no longer running" in reason


def test_a_lock_of_a_running_process_on_this_host_is_kept() -> None:
    assert stale_lock_reason(_lock(pid=os.getpid())) is None


def test_a_lock_from_another_host_is_kept_until_it_is_older_than_any_job() -> None:
    recent = _lock(hostname="runner-7", timestamp=datetime.now(UTC).isoformat())
    long_ago = datetime.now(UTC) - timedelta(seconds=STALE_AFTER_SECONDS + 60)
    old = _lock(hostname="runner-7", timestamp=long_ago.isoformat())
    assert stale_lock_reason(recent) is None
    reason = stale_lock_reason(old)
    assert reason is not None and "h old" in reason


# --------------------------------------------------------------------------------------------
# integration: SIGKILL at kill points, then a plain rerun

EXTRA_BINDINGS = 170  # with the dev stack's own objects: over 200
SECRET = "api-keys"


@dataclass
class Crash:
    server: OpenBaoServer
    issuer: GitHubOidcIssuer
    state_dir: Path
    namespace: str
    overrides: dict[str, Any]
    log: list[str]

    def spec(self, overrides: dict[str, Any]) -> Path:
        path = self.state_dir / "spec.json"
        path.write_text(json.dumps({"stack": "dev", "state_dir": str(self.state_dir), "overrides": overrides}))
        return path

    def env(self) -> dict[str, str]:
        return {**os.environ, "VAULT_ADDR": self.server.address, "VAULT_TOKEN": self.server.root_token}

    def run(self, overrides: dict[str, Any], command: str = "up", kill_when: re.Pattern[str] | None = None,
            after: int = 1) -> tuple[bool, list[str]]:
        """One engine run in a child process group; SIGKILL after the ``after``-th output line
        matching ``kill_when``. (killed?, output lines)."""
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.llm_vault.crash_runner", str(self.spec(overrides)), command],
            cwd=REPO_ROOT, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
        assert child.stdout is not None
        lines, seen, killed = [], 0, False
        for line in child.stdout:
            lines.append(line.rstrip())
            if kill_when is not None and kill_when.search(line):
                seen += 1
                if seen >= after:
                    os.killpg(child.pid, signal.SIGKILL)
                    killed = True
                    break
        child.wait(timeout=300)
        if not killed:
            errors = [line for line in lines if "error" in line.lower()][:12]
            assert child.returncode == 0, "\n".join(errors + lines[-15:])
        return killed, lines

    def changes(self, lines: list[str]) -> dict[str, int]:
        last = next(line for line in reversed(lines) if line.startswith("CHANGES "))
        return {k: v for k, v in json.loads(last.removeprefix("CHANGES ")).items() if k != "same"}

    def objects(self) -> dict[str, list[str]]:
        """What the stack's namespace holds: roles, policies, mounts (duplicates would show twice)."""
        c = self.server.client(namespace=self.namespace)
        roles = (c.list("auth/jwt/role") or {}).get("data", {}).get("keys", [])
        policies = [p for p in c.sys.list_acl_policies()["data"]["keys"] if p not in ("default", "root")]
        builtin = ("sys/", "cubbyhole/", "identity/")
        mounts = [m for m in c.sys.list_mounted_secrets_engines()["data"] if m not in builtin]
        return {"jwt roles": sorted(roles), "policies": sorted(policies), "mounts": sorted(mounts)}


def _bindings(n: int, ttl: str, prefix: str = "svc") -> list[dict[str, Any]]:
    return [
        {
            "role": f"{prefix}-{i:03d}",
            "repository": f"acme-ai/svc-{i:03d}",
            "repositoryId": str(900000 + i),
            "ownerId": "98765432",
            "ref": "refs/heads/main",
            "audience": "https://vault.acme-ai.example/dev",
            "policies": ["openai-llm-ci"],
            "ttl": ttl,
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def crash(
    openbao: OpenBaoServer, oidc_issuer: GitHubOidcIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Crash]:
    from llm_vault.local_job import overrides_for
    from llm_vault.stackfiles import stack_config

    tag = secrets.token_hex(3)
    namespace = f"crash-{tag}"
    dev = stack_config("dev")
    overrides = overrides_for(
        "dev", server_address=openbao.address, issuer_url=oidc_issuer.url, workdir=openbao.workdir
    )
    overrides.update({
        "llm-vault:environment": "dev",
        "llm-vault:namespace": namespace,
        "llm-vault:audit": {**overrides["llm-vault:audit"], "path": f"llm-vault-crash-{tag}"},
        "llm-vault:pipeline": {"path": f"github-pipeline-crash-{tag}"},
    })
    overrides["llm-vault:github"] = {**overrides["llm-vault:github"], "bindings": dev["llm-vault:github"]["bindings"]}
    (openbao.workdir / "audit").mkdir(parents=True, exist_ok=True)
    state_dir = tmp_path_factory.mktemp("crash-state")
    c = Crash(openbao, oidc_issuer, state_dir, namespace, overrides, [])
    yield c
    print("\ncrash test:\n  " + "\n  ".join(c.log))


def _with(crash: Crash, bindings: list[dict[str, Any]]) -> dict[str, Any]:
    github = crash.overrides["llm-vault:github"]
    return {**crash.overrides, "llm-vault:github": {**github, "bindings": [*github["bindings"], *bindings]}}


CREATED = re.compile(r"\bcreated\b")
UPDATED = re.compile(r"\bupdated\b")
DELETED = re.compile(r"\bdeleted\b")
REFRESHING = re.compile(r"\brefreshing\b")


def _summary(recovered: list[str]) -> str:
    """"a stale lock, 7 creates kept, 3 creates dropped" from the rerun's "recovered:" lines."""
    kinds = {
        "a stale lock": sum(line.startswith("removed the lock") for line in recovered),
        "creates that had reached the server (kept)": sum(line.startswith("kept ") for line in recovered),
        "creates that had not (dropped)": sum("interrupted create of" in line for line in recovered),
        "other interrupted operations (dropped)": sum(
            line.startswith("dropped the interrupted") and "interrupted create of" not in line for line in recovered
        ),
    }
    return ", ".join(f"{n} {k}" if k != "a stale lock" else k for k, n in kinds.items() if n) or "nothing"


def _expected_roles(config: dict[str, Any]) -> list[str]:
    return sorted(b["role"] for b in config["llm-vault:github"]["bindings"])


@pytest.mark.integration
@pytest.mark.engine
def test_killed_at_any_point_a_plain_rerun_converges(crash: Crash) -> None:
    none = _with(crash, [])
    wide, tighter = _with(crash, _bindings(EXTRA_BINDINGS, "15m")), _with(crash, _bindings(EXTRA_BINDINGS, "10m"))
    # The JWT backend moved: its mount and every role on it are replaced, deleted before created.
    moved = {**tighter, "llm-vault:github": {**tighter["llm-vault:github"], "path": "jwt-ci"}}
    # (configuration, kill on, after how many matching lines, what the kill interrupts)
    plan: list[tuple[dict[str, Any], re.Pattern[str], int, str]] = [
        (wide, CREATED, 1, "the first create of a new stack"),
        (none, DELETED, 40, "deletes of 170 removed bindings"),
        (wide, CREATED, 60, "creates, in the middle"),
        (none, DELETED, 150, "deletes, late"),
        (wide, CREATED, 150, "creates, late"),
        (wide, REFRESHING, 30, "the refresh before an up"),
        (tighter, UPDATED, 2, "updates of every role's TTL, early"),
        (moved, DELETED, 1, "a delete-before-replace of the JWT backend and its roles"),
        (wide, CREATED, 40, "the creates of a delete-before-replace (moving back)"),
        (tighter, UPDATED, 120, "updates, late"),
    ]
    seeded: dict[str, str] | None = None
    try:
        for number, (config, pattern, after, what) in enumerate(plan, 1):
            killed, before = crash.run(config, kill_when=pattern, after=after)
            assert killed, f"kill point {number} ({what}): the run ended before {after} x {pattern.pattern}"
            _, rerun = crash.run(config)
            recovered = [line.removeprefix("recovered: ") for line in rerun if line.startswith("recovered: ")]
            _, again = crash.run(config, "preview")
            assert crash.changes(again) == {}, f"kill point {number} ({what}): the rerun did not converge"
            held = crash.objects()
            path = config["llm-vault:github"].get("path", "jwt")
            roles = crash.server.client(namespace=crash.namespace).list(f"auth/{path}/role")["data"]["keys"]
            assert sorted(roles) == _expected_roles(config), f"kill point {number}: orphans or missing roles"
            assert held["mounts"].count("openai-llm/") == 1, held["mounts"]
            kv = crash.server.client(namespace=crash.namespace).secrets.kv.v2
            if seeded is None:
                seeded = {"openai_key": "test-data-" + secrets.token_hex(8)}  # a stand-in, not a credential
                kv.create_or_update_secret(SECRET, secret=seeded, mount_point="openai-llm")
            data = kv.read_secret_version(SECRET, mount_point="openai-llm", raise_on_deleted_version=True)
            assert data["data"]["data"] == seeded, f"kill point {number}: the secret changed"
            crash.log.append(
                f"{number:2d}. killed during {what} ({len(before)} output lines in); rerun recovered "
                f"{_summary(recovered)}, then applied {crash.changes(rerun) or 'no changes'}; then 0 changes"
            )
    finally:
        crash.run(none, "destroy")
        crash.server.client().sys.delete_namespace(crash.namespace)


def test_a_live_lock_is_left_alone_and_named_in_the_error(tmp_path: Path) -> None:
    from pulumi.automation import errors
    from pulumi.automation._cmd import CommandResult

    from llm_vault import automation
    from llm_vault.cli import engine_error_message
    from llm_vault.recovery import live_lock, remove_stale_locks

    locks = tmp_path / "backend" / ".pulumi" / "locks" / "organization" / automation.PROJECT / "dev"
    locks.mkdir(parents=True)
    (locks / "a.json").write_text(json.dumps(_lock(pid=os.getpid())))
    backend = f"file://{tmp_path / 'backend'}?no_tmp_dir=true"
    assert remove_stale_locks(backend, automation.PROJECT, "dev") == []
    owner = live_lock(backend, automation.PROJECT, "dev")
    assert owner is not None and f"pid {os.getpid()}" in owner
    os.environ["LLM_VAULT_STATE_DIR"], saved = str(tmp_path), os.environ.get("LLM_VAULT_STATE_DIR")
    try:
        err = errors.ConcurrentUpdateError(CommandResult("", "error: the stack is currently locked by 1 lock(s)", 255))
        message = engine_error_message(err, "dev")
    finally:
        if saved is None:
            os.environ.pop("LLM_VAULT_STATE_DIR")
        else:
            os.environ["LLM_VAULT_STATE_DIR"] = saved
    assert message.startswith("error: stack dev is being changed by another run: pid") and "Traceback" not in message


def test_an_engine_error_is_its_own_lines_and_a_next_step() -> None:
    from pulumi.automation import errors
    from pulumi.automation._cmd import CommandResult

    from llm_vault.cli import engine_error_message

    stderr = (
        "Traceback (most recent call last):\n  File x\n"
        "error: vault Policy 'x' in namespace 'dev': permission denied\n"
    )
    message = engine_error_message(errors.CommandError(CommandResult("", stderr, 255)), "dev")
    assert message.splitlines() == [
        "error: vault Policy 'x' in namespace 'dev': permission denied",
        "next: fix what the error names and run again (an interrupted apply resumes by itself)",
    ]

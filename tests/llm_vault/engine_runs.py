"""Engine runs in a process of their own (``crash_driver``), which a test can kill or run side by side.

``Driver(server, issuer, workdir)`` runs the dev stack (or another) with the test's overrides
against ``server``; ``run(...)`` waits for the run, ``start(...)`` returns a :class:`Running`
to wait for later (two runs at once). ``kill_on``/``after`` kill the whole process session at
that engine step: what a lost CI runner does to the driver, the engine and the provider host.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from llm_vault import toolchain
from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.server import OpenBaoServer
from llm_vault.local_job import overrides_for

# A run that hangs must not hang the suite.
RUN_TIMEOUT_SECONDS = 180


@dataclass
class Outcome:
    """One run of the driver: its lines (no STEP lines), the steps seen and how it ended."""

    lines: list[str]
    steps: Counter[str]
    killed: bool
    returncode: int
    seconds: float

    @property
    def result(self) -> dict[str, int]:
        line = next((ln for ln in reversed(self.lines) if ln.startswith("RESULT ")), None)
        return json.loads(line.removeprefix("RESULT ")) if line else {}

    @property
    def recovered(self) -> str:
        return next((ln.removeprefix("RECOVERED ") for ln in self.lines if ln.startswith("RECOVERED ")), "")

    def changes(self) -> dict[str, int]:
        return {op: n for op, n in self.result.items() if op != "same" and n}


def _kill_session(sid: int) -> None:
    """SIGKILL every process of session ``sid`` (the driver made it; engine and plugins are in it)."""
    for _ in range(20):
        alive = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.getsid(int(entry)) == sid:
                    alive.append(int(entry))
                    os.kill(int(entry), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue
        if not alive:
            return
        time.sleep(0.05)


class Driver:
    """Runs ``crash_driver`` for a stack against one server, killing it on request.

    ``env``: extra environment of every run (a state backend URL, its passphrase); without
    PULUMI_BACKEND_URL in it the state is a file backend under ``workdir/state``.
    """

    def __init__(
        self, server: OpenBaoServer, issuer: GitHubOidcIssuer, workdir: Path, env: dict[str, str] | None = None
    ) -> None:
        self.server = server
        self.issuer = issuer
        self.workdir = workdir
        self.state_dir = workdir / "state"
        self.env = env or {}
        self.base = self.overrides("dev")

    def overrides(self, stack: str) -> dict[str, Any]:
        return overrides_for(
            stack, server_address=self.server.address, issuer_url=self.issuer.url, workdir=self.server.workdir
        )

    def run(self, kv: dict[str, Any], *, action: str = "up", kill_on: str | None = None, after: int = 0) -> Outcome:
        return self.start(kv, action=action).finish(kill_on=kill_on, after=after)

    def start(
        self,
        kv: dict[str, Any] | None,
        *,
        action: str = "up",
        stack: str = "dev",
        state_dir: Path | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Running:
        overrides = {**(self.base if stack == "dev" else self.overrides(stack)), **(extra or {})}
        spec = {
            "stack": stack,
            "state_dir": str(state_dir or self.state_dir),
            "overrides": {**overrides, **({"llm-vault:kv": kv} if kv is not None else {})},
            "action": action,
        }
        spec_file = self.workdir / f"spec-{time.monotonic_ns()}.json"
        spec_file.write_text(json.dumps(spec))
        env = {**os.environ, "VAULT_ADDR": self.server.address, "VAULT_TOKEN": self.server.root_token}
        env.pop("PULUMI_BACKEND_URL", None)  # the file backend under state_dir, unless self.env says otherwise
        env.update(self.env)
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.llm_vault.crash_driver", str(spec_file)],
            cwd=toolchain.REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own session: the kill takes the whole tree, nothing else
        )
        return Running(proc, time.monotonic())

    def checkpoint(self) -> dict[str, Any]:
        path = self.state_dir / "backend" / ".pulumi" / "stacks" / "llm-vault" / "dev.json"
        if not path.exists():
            return {}
        return dict(json.loads(path.read_text()).get("checkpoint", {}).get("latest") or {})


@dataclass
class Running:
    """A driver run under way."""

    proc: subprocess.Popen[str]
    started: float

    def finish(self, *, kill_on: str | None = None, after: int = 0, may_fail: bool = False) -> Outcome:
        """Read the run to its end (or kill it at the ``after``-th ``kill_on`` step)."""
        proc, started = self.proc, self.started
        assert proc.stdout is not None
        lines: list[str] = []
        steps: Counter[str] = Counter()
        killed = False
        deadline = started + RUN_TIMEOUT_SECONDS
        for line in proc.stdout:
            if line.startswith("STEP "):
                op = line.split()[1]
                steps[op] += 1
                if kill_on is not None and op == kill_on and steps[op] >= after:
                    _kill_session(proc.pid)
                    killed = True
                    break
            else:
                lines.append(line.rstrip())
            if time.monotonic() > deadline:
                _kill_session(proc.pid)
                pytest.fail(f"a run took longer than {RUN_TIMEOUT_SECONDS}s:\n" + "\n".join(lines[-40:]))
        proc.stdout.close()
        returncode = proc.wait(timeout=30)
        outcome = Outcome(lines, steps, killed, returncode, time.monotonic() - started)
        if kill_on is not None:
            assert killed, f"the run ended before {after} {kill_on} steps: {dict(steps)}\n" + "\n".join(lines[-40:])
        elif returncode != 0 and not may_fail:
            pytest.fail(f"a plain run failed (exit {returncode}):\n" + "\n".join(lines[-60:]), pytrace=False)
        return outcome



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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pytest

from llm_vault import automation, toolchain
from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.server import Server
from llm_vault.local_job import overrides_for
from vault_provider.builtin.host import shipped_providers
from vault_provider.builtin.jwt import JwtAuthRoleSetProvider

# A run that hangs must not hang the suite.
RUN_TIMEOUT_SECONDS = 180
# Parts of another object (its mount, its auth method): the same adopt key, not an object of their own.
PARTS = {"pulumi-python:dynamic/vault:KvV2Config", "pulumi-python:dynamic/vault:JwtAuthConfig"}


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
        self, server: Server, issuer: GitHubOidcIssuer, workdir: Path, env: dict[str, str] | None = None
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
        env: dict[str, str] | None = None,
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
        run_env = {**os.environ, "VAULT_ADDR": self.server.address, "VAULT_TOKEN": self.server.root_token}
        run_env.pop("PULUMI_BACKEND_URL", None)  # the file backend under state_dir, unless self.env says otherwise
        run_env.update(self.env)
        run_env.update(env or {})
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.llm_vault.crash_driver", str(spec_file)],
            cwd=toolchain.REPO_ROOT,
            env=run_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own session: the kill takes the whole tree, nothing else
        )
        return Running(proc, time.monotonic())

    def checkpoint(self) -> dict[str, Any]:
        path = automation.state_file(self.state_dir, "dev")
        if not path.exists():
            return {}
        return dict(json.loads(path.read_text()).get("checkpoint", {}).get("latest") or {})


@dataclass
class Running:
    """A driver run under way."""

    proc: subprocess.Popen[str]
    started: float

    def finish(
        self,
        *,
        kill_on: str | None = None,
        after: int = 0,
        may_fail: bool = False,
        then: Callable[[], None] | None = None,
    ) -> Outcome:
        """Read the run to its end, or kill it at the ``after``-th ``kill_on`` step; with ``then``,
        call that there instead (a server fault mid-apply) and read on."""
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
                if kill_on is not None and op == kill_on and steps[op] >= after and not killed:
                    if then is not None:
                        then()
                        killed = True  # (acted: once)
                        continue
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
            steps_seen = f"the run ended before {after} {kill_on} steps: {dict(steps)}\n"
            assert killed, steps_seen + "\n".join(lines[-40:])
        if (kill_on is None or then is not None) and returncode != 0 and not may_fail:
            pytest.fail(f"a plain run failed (exit {returncode}):\n" + "\n".join(lines[-60:]), pytrace=False)
        return outcome




# -- what the server holds and what the state says ------------------------------------------------


def server_objects(client: hvac.Client) -> list[str]:
    """Every object of the kinds the program manages, as its ``llm-vault:adopt`` key."""
    found: list[str] = []

    def ns_client(ns: str | None) -> hvac.Client:
        return hvac.Client(url=client.url, token=client.token, namespace=ns)

    try:
        namespaces = [k.rstrip("/") for k in client.sys.list_namespaces()["data"]["keys"]]
    except hvac.exceptions.InvalidPath:
        namespaces = []
    found += [f"namespace:{ns}" for ns in namespaces]
    found += [f"audit:{p.rstrip('/')}" for p in client.sys.list_enabled_audit_devices()["data"]]
    for ns in [None, *namespaces]:
        c = ns_client(ns)
        prefix = f"{ns}:" if ns else ""
        for path, mount in c.sys.list_mounted_secrets_engines()["data"].items():
            if mount["type"] in ("cubbyhole", "identity", "system", "ns_cubbyhole", "ns_identity", "ns_system"):
                continue
            found.append(f"mount:{prefix}{path.rstrip('/')}")
            if mount["type"] == "kv" and (mount.get("options") or {}).get("version") == "2":
                found += [f"kv-metadata:{prefix}{path.rstrip('/')}/{n}" for n in _catalogued(c, path.rstrip("/"))]
        for path, auth in c.sys.list_auth_methods()["data"].items():
            if auth["type"] in ("token", "ns_token"):
                continue
            found.append(f"auth:{prefix}{path.rstrip('/')}")
            kind = {"jwt": "jwt-role", "approle": "approle-role"}.get(auth["type"])
            if kind:
                roles = (c.list(f"auth/{path}role") or {}).get("data", {}).get("keys", [])
                found += [f"{kind}:{prefix}{path.rstrip('/')}/{r}" for r in roles]
        policies = c.sys.list_acl_policies()["data"]["keys"]
        found += [f"policy:{prefix}{p}" for p in policies if p not in ("default", "root")]
        roles = (c.list("auth/token/roles") or {}).get("data", {}).get("keys", [])
        found += [f"token-role:{prefix}{r}" for r in roles]
    return found


def _catalogued(c: hvac.Client, mount: str, folder: str = "") -> list[str]:
    """Secret paths under ``mount`` whose metadata the catalogue wrote (non-empty custom metadata)."""
    out: list[str] = []
    listed = (c.list(f"{mount}/metadata/{folder}") or {}).get("data", {}).get("keys", [])
    for key in listed:
        if key.endswith("/"):
            out += _catalogued(c, mount, f"{folder}{key}")
            continue
        meta = c.read(f"{mount}/metadata/{folder}{key}")["data"]
        if meta.get("custom_metadata"):
            out.append(f"{folder}{key}")
    return out


def state_objects(checkpoint: dict[str, Any]) -> list[str]:
    """The adopt key of every object in the state (one entry per resource; a role set's, per role)."""
    providers = shipped_providers()
    keys = []
    for res in checkpoint.get("resources") or []:
        cls = providers.get(res.get("type", ""))
        if cls is None or res["type"] in PARTS:
            continue
        provider: Any = cls()
        args = provider.record(res.get("outputs") or res.get("inputs") or {})
        if isinstance(provider, JwtAuthRoleSetProvider):  # one resource, one object per role on the server
            keys.extend(provider.role.adoption_key(role) for role in args.roles)
            continue
        keys.append(provider.adoption_key(args))
    return keys

"""What the program costs at scale (issue 17): the dev stack with N CI bindings, end to end.

For each N (default 50, 500, 2000) the dev stack's ``llm-vault:github.bindings`` is replaced
by N generated bindings (one JWT role each, sharing the ``openai-llm-ci`` policy, as real
bindings name policy files) and the program runs against one throwaway local OpenBao and one
local OIDC issuer (never GitHub's discovery URL: the server fetches it), through the same path
as the end-to-end tests (``tests/e2e/harness.Deployment``: ``llm_vault.automation``, refresh
first, the local job's overrides). Measured, in this order:

- cold ``up``; no-op ``preview`` with refresh (the preview report's path);
  (the program holds each trust's roles in one ``JwtAuthRoleSet``: ``make bench-synthetic``
  compares that shape with one resource per role);
- ``llm-vault preview`` of a one-binding change (a pull request), then ``up`` of it;
- ``llm-vault drift`` (the same preview plus the undeclared-object scan; expects no drift);
- ``destroy``;
- the same N roles written by one ``bao write`` process each (the original setup's way) and
  by one hvac session (the API floor), with the bodies the provider writes.

Printed: a table of figures and ratios, peak memory of the engine and the provider host, the
load average at start and end (the 2 cores may be shared), and each target of the issue as
met or not. It asserts nothing.

    .venv/bin/python benchmarks/bench_program.py [--n 50 500 2000] [--env PULUMI_X=y ...]
        [--skip-baselines] [--profile-host DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import hvac

from infra import policy_reach
from infra.components.github_oidc import binding_role
from llm_vault import automation, toolchain
from llm_vault.cli import preview_with_undeclared
from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.server import Server, start_server
from tests.e2e.harness import Deployment
from vault_provider.builtin.jwt import JwtAuthRoleProvider

STACK = "dev"
AUDIENCE = "https://vault.acme-ai.example/dev"
DEFAULT_N = (50, 500, 2000)
TARGET_N, SMALL_N, LARGE_N = 500, 50, 2000
MEMORY_LIMIT_BYTES = 2 * 1024**3


def generated_bindings(n: int, *, first_ttl: str = "15m") -> list[dict[str, Any]]:
    """N bindings shaped like the dev stack's CI binding, one repository each."""
    return [
        {
            "role": f"ci-{i:04d}",
            "repository": f"acme-ai/app-{i:04d}",
            "repositoryId": str(500000000 + i),
            "ownerId": "98765432",
            "ref": "refs/heads/main",
            "audience": AUDIENCE,
            "policies": ["openai-llm-ci"],
            "ttl": first_ttl if i == 0 else "15m",
        }
        for i in range(n)
    ]


def bindings_override(n: int, **kwargs: Any) -> dict[str, Any]:
    return {"llm-vault:github": {"bindings": generated_bindings(n, **kwargs)}}


# -- measuring ---------------------------------------------------------------------------------


def _descendants(pid: int) -> Iterator[int]:
    """Every process below ``pid`` (by parent pid: the engine starts its plugins from any thread)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    stack = list(parents.get(pid, []))
    while stack:
        child = stack.pop()
        yield child
        stack.extend(parents.get(child, []))


_TICK = os.sysconf("SC_CLK_TCK")


def _usage(pid: int) -> tuple[int, float, str] | None:
    """(RSS bytes, CPU seconds so far, kind) of one process."""
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next((int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:")), 0)
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError, IndexError):
        return None
    exe = Path(cmdline[0].decode(errors="replace")).name if cmdline and cmdline[0] else ""
    joined = b" ".join(cmdline)
    if b"pulumi-resource-pulumi-python" in joined or b"vault_provider.builtin.host" in joined:
        return rss, cpu, "provider host"
    if exe == "pulumi":
        return rss, cpu, "engine"
    return rss, cpu, "other"


PROGRAM = "program (this process)"
KINDS = ("engine", "provider host", PROGRAM)


@dataclass
class Usage:
    """While an operation runs: peak resident memory of the engine (``pulumi``), the provider
    host and this process (the program runs inline here), each and at one instant in all; and
    the CPU seconds each used (a process that ends between two samples loses its last 0.2 s)."""

    peaks: dict[str, int] = field(default_factory=dict)
    total: int = 0
    cpu: dict[str, float] = field(default_factory=dict)

    def merge(self, other: Usage) -> None:
        for k, v in other.peaks.items():
            self.peaks[k] = max(self.peaks.get(k, 0), v)
        self.total = max(self.total, other.total)
        for k, c in other.cpu.items():
            self.cpu[k] = self.cpu.get(k, 0.0) + c


@contextmanager
def sampling(into: Usage, interval: float = 0.2) -> Iterator[None]:
    stop = threading.Event()
    me = os.getpid()
    cpu_seen: dict[int, tuple[str, float, float]] = {}  # pid -> (kind, CPU first seen, CPU last seen)
    own_start = os.times()

    def sample() -> None:
        while not stop.is_set():
            now: dict[str, int] = {}
            for pid in _descendants(me):
                found = _usage(pid)
                if found:
                    rss, cpu, kind = found
                    now[kind] = now.get(kind, 0) + rss
                    first = cpu_seen[pid][1] if pid in cpu_seen else cpu
                    cpu_seen[pid] = (kind, first, cpu)
            own = _usage(me)
            now[PROGRAM] = own[0] if own else 0
            into.total = max(into.total, sum(now.get(k, 0) for k in KINDS))
            for k, v in now.items():
                into.peaks[k] = max(into.peaks.get(k, 0), v)
            stop.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        own_end = os.times()
        into.cpu[PROGRAM] = (own_end.user - own_start.user) + (own_end.system - own_start.system)
        for kind, _first, last in cpu_seen.values():
            # Each engine run starts its own engine and provider host: all their CPU is this run's.
            into.cpu[kind] = into.cpu.get(kind, 0.0) + last


def timed(fn: Callable[[], object], usage: Usage | None = None) -> tuple[float, Any]:
    peak = Usage()
    start = time.perf_counter()
    with sampling(peak):
        result = fn()
    elapsed = time.perf_counter() - start
    if usage is not None:
        usage.merge(peak)
    return elapsed, result


# -- the program through the engine ------------------------------------------------------------


@dataclass
class EngineRun:
    figures: dict[str, float] = field(default_factory=dict)
    memory: Usage = field(default_factory=Usage)
    steps: dict[str, Usage] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    resources: int = 0
    state_bytes: int = 0
    # bytes of one JWT role's state record, by field (the record size lever: what each checkpoint rewrites)
    record: dict[str, float] = field(default_factory=dict)


def bench_engine(
    server: Server, issuer: GitHubOidcIssuer, n: int, state_dir: Path, profile: Path | None = None
) -> EngineRun:
    run = EngineRun()
    deployment = Deployment(server, issuer, state_dir, extra_overrides={STACK: bindings_override(n)})
    changed = bindings_override(n, first_ttl="10m")

    def step(label: str, fn: Callable[[], Any]) -> Any:
        if profile is not None:
            profiling.point_at(profile / f"n{n}" / label.replace(" ", "_"))
        # Each step is a new `llm-vault` process for its user: nothing parsed by an earlier step.
        policy_reach.clear_caches()
        usage = Usage()
        seconds, result = timed(fn, usage)
        run.memory.merge(usage)
        run.steps[label] = usage
        run.figures[label] = seconds
        print(f"    {label:<40} {seconds:8.2f} s", flush=True)
        return result

    try:
        result = step("cold up", lambda: deployment.up(STACK))
        run.resources = sum((result.summary.resource_changes or {}).values())
        run.state_bytes = checkpoint_size(state_dir)
        run.record = record_breakdown(deployment.stacks[STACK].stack)
        preview = step("no-op preview --refresh", lambda: deployment.preview(STACK))
        if preview.has_changes or preview.errors:
            run.notes.append(f"no-op preview was not empty: {dict(preview.counts)} {preview.errors[:1]}")
        report, differs = step(
            "preview of a one-binding change", lambda: preview_with_undeclared(deployment.target(STACK, changed))
        )
        if "1 to update" not in report:
            run.notes.append("the one-binding-change preview did not show exactly one update")
        result = step("up of the one-binding change", lambda: deployment.up(STACK, changed))
        counts = {getattr(k, "value", str(k)): v for k, v in (result.summary.resource_changes or {}).items()}
        if counts.get("update") != 1:
            run.notes.append(f"the one-binding-change up changed {counts}")
        report, differs = step(
            "drift (llm-vault drift)", lambda: preview_with_undeclared(deployment.target(STACK, changed))
        )
        if differs:
            run.notes.append("drift found differences right after an up")
        # The harness destroys with the last overrides it applied (here: the changed bindings).
        deployment.extra_overrides = {STACK: changed}
        step("destroy", lambda: deployment.destroy(STACK))
    except BaseException:
        try:
            deployment.destroy_all()
        except Exception as cleanup:  # the server is thrown away anyway; say so and go on
            print(f"    (cleanup after a failure failed too: {cleanup})")
        raise
    return run


SET_TYPE = "pulumi-python:dynamic/vault:JwtAuthRoleSet"


def record_breakdown(stack: Any) -> dict[str, float]:
    """Bytes (compact JSON, as the file backend writes) of the JWT roles' state, per role, by
    field of the role sets' records; "total" is the whole records. The program holds each trust's
    roles in one set record, so each checkpoint rewrites this many bytes per role. Read through
    the engine (``stack export``), outside the timed steps, so that a compressed checkpoint reads
    the same."""
    resources = (stack.export_stack().deployment or {}).get("resources") or []
    sets = [r for r in resources if r.get("type") == SET_TYPE]
    roles = sum(len((r.get("outputs") or {}).get("roles") or {}) for r in sets)
    if not roles:
        return {}
    sizes: dict[str, float] = {}
    for r in sets:
        for key, value in r.items():
            sizes[key] = sizes.get(key, 0) + len(json.dumps(value, separators=(",", ":")))
        sizes["total"] = sizes.get("total", 0) + len(json.dumps(r, separators=(",", ":")))
    return {k: v / roles for k, v in sizes.items()}


def checkpoint_size(state_dir: Path) -> int:
    """Bytes of the stack's checkpoint as written (compressed or not), without backups or history."""
    stacks = automation.state_file(state_dir, STACK).parent  # the one state layout
    found = [p for p in stacks.rglob(f"{STACK}.json*") if not p.name.endswith(".bak")]
    return sum(p.stat().st_size for p in found)


class profiling:  # a namespace of helpers for --profile
    """``--profile DIR``: the engine's Go profiles (``pulumi --profiling``) and the provider host's
    cProfile (``LLM_VAULT_HOST_PROFILE``), one folder per operation, summarised at the end."""

    PREFIX_ENV = "LLM_VAULT_BENCH_ENGINE_PROFILE"

    @staticmethod
    def install(folder: Path) -> None:
        """Run the engine through a wrapper that adds ``--profiling`` (a global flag of the CLI)."""
        from pulumi import automation as auto

        from llm_vault import engine

        real = engine.pulumi_command().command
        wrapper = folder / "pulumi-root" / "bin" / "pulumi"
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        wrapper.write_text(
            f'#!/bin/sh\nexec "{real}" --profiling "${{{profiling.PREFIX_ENV}:-{folder}/engine}}" "$@"\n'
        )
        wrapper.chmod(0o755)
        command = auto.PulumiCommand(root=str(wrapper.parent.parent))
        engine.pulumi_command = lambda: command  # type: ignore[assignment]

    @staticmethod
    def point_at(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        os.environ[profiling.PREFIX_ENV] = str(folder / "engine")
        os.environ["LLM_VAULT_HOST_PROFILE"] = str(folder / "host")

    @staticmethod
    def summarise(folder: Path, top: int = 18) -> None:
        import pstats

        for step_dir in sorted(p for p in folder.glob("n*/*") if p.is_dir()):
            print(f"\n=== profile: {step_dir.relative_to(folder)}")
            calls: dict[str, list[float]] = {}
            for f in (step_dir / "host").glob("*.calls.json"):
                for method, (count, seconds) in json.loads(f.read_text()).items():
                    total = calls.setdefault(method, [0, 0.0])
                    total[0] += count
                    total[1] += seconds
            for method, (count, seconds) in sorted(calls.items(), key=lambda kv: -kv[1][1]):
                per_call = 1000 * seconds / count
                print(f"  host {method:<8} {int(count):6d} calls {seconds:8.2f} s  {per_call:6.1f} ms/call")
            stats_files = [str(p) for p in (step_dir / "host").glob("*.pstats")]
            if stats_files:
                print("  host cProfile, by own time:")
                stats = pstats.Stats(*stats_files, stream=sys.stdout)
                stats.sort_stats("tottime").print_stats(top)
            # The engine run that did the work is the one with the largest CPU profile.
            cpus = sorted((step_dir).glob("engine.*.cpu"), key=lambda p: p.stat().st_size)
            if cpus:
                from llm_vault import toolchain as tc

                out = subprocess.run(
                    ["go", "tool", "pprof", "-top", "-cum", f"-nodecount={top + 12}", str(tc.pulumi_bin()),
                     str(cpus[-1])],
                    capture_output=True, text=True, check=False,
                )
                print("  engine CPU profile (cumulative):")
                print("\n".join("    " + line for line in (out.stdout or out.stderr).splitlines()))


# -- the baselines -----------------------------------------------------------------------------


def role_bodies(n: int, deployment: Deployment) -> list[tuple[str, dict[str, Any]]]:
    """(role name, request body) of each generated binding, exactly as the provider writes it."""
    settings = deployment.target(STACK, bindings_override(n)).settings()
    provider = JwtAuthRoleProvider()
    out = []
    for b in settings.github.bindings:
        args = binding_role(b, backend="jwt", namespace=None)
        out.append((b.role, provider.body(args)))
    return out


def _scratch(server: Server, label: str) -> str:
    ns = f"bench-{label}-{secrets.token_hex(3)}"
    server.client().sys.create_namespace(ns)
    server.client(namespace=ns).sys.enable_auth_method("jwt", path="jwt")
    return ns


def _drop(server: Server, ns: str) -> None:
    root = server.client()
    root.sys.delete_namespace(ns)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if not root.adapter.get(f"/v1/sys/namespaces/{ns}")["data"].get("tainted"):
                break
        except hvac.exceptions.InvalidPath:
            return
        time.sleep(0.2)


def bench_cli(server: Server, bodies: list[tuple[str, dict[str, Any]]], work: Path) -> float:
    ns = _scratch(server, "cli")
    env = {**os.environ, "BAO_ADDR": server.address, "BAO_TOKEN": server.root_token, "BAO_NAMESPACE": ns}
    bao = str(toolchain.bao_bin())
    work.mkdir(parents=True, exist_ok=True)
    files = []
    for role, body in bodies:
        path = work / f"{role}.json"
        path.write_text(json.dumps(body))
        files.append((role, path))

    def run() -> None:
        for role, path in files:
            subprocess.run(
                [bao, "write", f"auth/jwt/role/{role}", f"@{path}"], env=env, check=True, capture_output=True
            )

    try:
        return timed(run)[0]
    finally:
        _drop(server, ns)


def bench_hvac(server: Server, bodies: list[tuple[str, dict[str, Any]]]) -> float:
    ns = _scratch(server, "hvac")
    client = server.client(namespace=ns)

    def run() -> None:
        for role, body in bodies:
            client.adapter.post(f"/v1/auth/jwt/role/{role}", json=body)

    try:
        return timed(run)[0]
    finally:
        _drop(server, ns)


# -- report ------------------------------------------------------------------------------------


def _mb(n: int) -> str:
    mb = n / 1024**2
    return f"{mb:,.0f} MB" if mb >= 10 else f"{mb:.2f} MB"


def print_table(results: dict[int, EngineRun], baselines: dict[int, dict[str, float]]) -> None:
    labels = list(next(iter(results.values())).figures) if results else []
    ns = sorted(results)
    print("\nseconds (ms per binding)")
    head = f"  {'':<40}" + "".join(f"{f'N={n}':>20}" for n in ns)
    print(head)
    rows = [*labels, *(["bao write, one process per role", "hvac, one session"] if baselines else [])]
    for label in rows:
        cells = []
        for n in ns:
            value = results[n].figures.get(label, baselines.get(n, {}).get(label))
            cells.append(f"{value:9.2f} ({1000 * value / n:6.1f})" if value is not None else f"{'-':>20}")
        print(f"  {label:<40}" + "".join(f"{c:>20}" for c in cells))
    print(f"  {'engine resources (cold up)':<40}" + "".join(f"{results[n].resources:>20}" for n in ns))
    print(f"  {'state file after cold up':<40}" + "".join(f"{_mb(results[n].state_bytes):>20}" for n in ns))
    biggest = max(ns, key=lambda n: len(results[n].record))
    fields = sorted(results[biggest].record, key=lambda k: -results[biggest].record[k])
    if fields:
        print(f"  {'JWT role state, bytes per role':<40}" + "".join(
            f"{results[n].record.get('total', 0):>20,.0f}" for n in ns))
        for key in fields:
            if key != "total" and results[biggest].record[key] >= 40:
                print(f"  {'  ' + key:<40}" + "".join(f"{results[n].record.get(key, 0):>20,.0f}" for n in ns))
    print(f"  {'peak RSS, engine + host + program':<40}" + "".join(f"{_mb(results[n].memory.total):>20}" for n in ns))
    for kind in ("engine", "provider host", "program (this process)"):
        print(f"  {'  ' + kind:<40}" + "".join(f"{_mb(results[n].memory.peaks.get(kind, 0)):>20}" for n in ns))
    print("\nCPU seconds: engine / provider host / program (this process)")
    for label in labels:
        cells = []
        for n in ns:
            cpu = results[n].steps[label].cpu
            cells.append("/".join(f"{cpu.get(k, 0):.1f}" for k in KINDS))
        print(f"  {label:<40}" + "".join(f"{c:>20}" for c in cells))
    if baselines:
        print("\nratios")
        for n in ns:
            f, b = results[n].figures, baselines.get(n, {})
            if not b:
                continue
            cli, floor = b["bao write, one process per role"], b["hvac, one session"]
            print(
                f"  N={n}: bao-CLI / cold up {cli / f['cold up']:.2f}x; cold up / hvac {f['cold up'] / floor:.0f}x; "
                f"no-op preview / cold up {f['no-op preview --refresh'] / f['cold up']:.2f}"
            )
    for n in ns:
        for note in results[n].notes:
            print(f"  note N={n}: {note}")


def print_targets(results: dict[int, EngineRun], baselines: dict[int, dict[str, float]], failed: set[int]) -> None:
    """The issue's targets, each with its measured value (information, not a test)."""
    print(f"\ntargets (N={TARGET_N}, checkpoints on)")
    rows: list[tuple[str, str, bool | None]] = []
    r = results.get(TARGET_N)
    if r is None:
        print(f"  N={TARGET_N} was not measured: pass --n {SMALL_N} {TARGET_N} [{LARGE_N}]")
    else:
        f = r.figures
        cli = baselines.get(TARGET_N, {}).get("bao write, one process per role")
        if cli:
            rows.append(("cold up >= 5x faster than one bao process per object", f"{cli / f['cold up']:.2f}x",
                         cli / f["cold up"] >= 5))
        else:
            rows.append(("cold up >= 5x faster than one bao process per object", "baselines skipped", None))
        change = f["preview of a one-binding change"]
        rows.append(("one-binding-change preview <= 3 s", f"{change:.2f} s", change <= 3))
        ratio = f["no-op preview --refresh"] / f["cold up"]
        rows.append(("no-op preview <= 1/5 of the cold up", f"{ratio:.2f}", ratio <= 0.2))
        small = results.get(SMALL_N)
        for label in ("cold up", "no-op preview --refresh"):
            if small is None:
                rows.append((f"{label}: time({TARGET_N}) / time({SMALL_N}) <= 12", "not measured", None))
                continue
            growth = f[label] / small.figures[label]
            rows.append((f"{label}: time({TARGET_N}) / time({SMALL_N}) <= 12", f"{growth:.1f}", growth <= 12))
    big = results.get(LARGE_N)
    if big is not None:
        rows.append((f"N={LARGE_N} completes with memory < 2 GB", _mb(big.memory.total),
                     big.memory.total < MEMORY_LIMIT_BYTES))
    elif LARGE_N in failed:
        rows.append((f"N={LARGE_N} completes with memory < 2 GB", "did not complete", False))
    else:
        rows.append((f"N={LARGE_N} completes with memory < 2 GB", "not measured", None))
    for label, value, met in rows:
        verdict = "met" if met else ("NOT met" if met is not None else "-")
        print(f"  {label:<58} {value:>18}  {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--n", type=int, nargs="+", default=list(DEFAULT_N), help="binding counts (default 50 500 2000)"
    )
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the engine and provider host (a lever to measure)")
    parser.add_argument("--skip-baselines", action="store_true", help="measure the engine only")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="profile the engine (Go pprof) and the provider host (cProfile) into DIR")
    options = parser.parse_args(argv)
    for item in options.env:
        key, _, value = item.partition("=")
        os.environ[key] = value
    os.environ.pop("PULUMI_BACKEND_URL", None)  # our state goes to the temp folder
    if options.profile is not None:
        options.profile = options.profile.resolve()
        profiling.install(options.profile)

    load_start = os.getloadavg()
    results: dict[int, EngineRun] = {}
    baselines: dict[int, dict[str, float]] = {}
    failed: set[int] = set()
    with tempfile.TemporaryDirectory(prefix="bench-program-") as tmp, GitHubOidcIssuer() as issuer:
        root = Path(tmp)
        server = start_server("dev", workdir=root / "server")
        print(f"server: OpenBao {toolchain.OPENBAO_VERSION} dev mode, {server.runtime}, {server.address}")
        print(f"engine: pulumi {toolchain.PULUMI_VERSION}, file backend, checkpoints on; {os.cpu_count()} CPUs")
        levers = {k: v for k, v in os.environ.items() if k.startswith(("PULUMI_", "LLM_VAULT_"))}
        print(f"environment: {levers or 'defaults'}")
        print(f"load average at start: {' '.join(f'{x:.2f}' for x in load_start)}")
        try:
            for n in options.n:
                print(f"\nN={n} bindings (stack {STACK}: {n} JWT roles + the stack's fixed objects)", flush=True)
                try:
                    results[n] = bench_engine(server, issuer, n, root / f"state-{n}", options.profile)
                except Exception as exc:  # report and go on: a failure at one N is a figure too
                    print(f"    FAILED: {type(exc).__name__}: {str(exc).strip().splitlines()[-1:]}")
                    failed.add(n)
                    continue
                if options.skip_baselines:
                    continue
                bodies = role_bodies(n, Deployment(server, issuer, root / "scratch"))
                cli = bench_cli(server, bodies, root / f"cli-{n}")
                print(f"    {'bao write, one process per role':<40} {cli:8.2f} s", flush=True)
                floor = bench_hvac(server, bodies)
                print(f"    {'hvac, one session':<40} {floor:8.2f} s", flush=True)
                baselines[n] = {"bao write, one process per role": cli, "hvac, one session": floor}
        finally:
            server.stop()
    if results:
        print_table(results, baselines)
    print_targets(results, baselines, failed)
    if options.profile is not None:
        profiling.summarise(options.profile)
    load_end = os.getloadavg()
    print(f"\nload average at start {' '.join(f'{x:.2f}' for x in load_start)}, "
          f"at end {' '.join(f'{x:.2f}' for x in load_end)} (1, 5, 15 min; {os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

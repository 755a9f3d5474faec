"""What the engine costs for CI bindings, by the shape of the engine resources (issues 5 and 17).

For N bindings (default N=50 and 500), against a throwaway local OpenBao server, each shape
(``SHAPES``: a role and a policy per binding; a role per binding and one shared policy, as the
program declares them; one ``JwtAuthRoleSet`` holding every role) is taken through: cold ``up``,
no-op ``up`` and ``preview`` with refresh, the preview and the up of a one-binding change (a
pull request), ``destroy`` (file backend, checkpoints on unless told). Baselines: the same 2N
writes by one ``bao write`` process per object, and by one hvac session.

It prints the figures and issue 17's targets per shape, met or not. It asserts nothing. The
program's own shape end to end is ``bench_program.py`` (``make bench``).

    .venv/bin/python benchmarks/bench_bindings.py [--n 50 500] [--shapes set shared] [--skip-checkpoints]
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import hvac
import pulumi

from llm_vault import automation, toolchain
from llm_vault.local.server import Server, start_server
from vault_provider import args as a
from vault_provider.builtin.backend import BuiltinBackend

AUDIENCE = "https://github.com/acme-ai"


def policy_text(i: int) -> str:
    return f'path "ci/data/app-{i}/*" {{\n  capabilities = ["read"]\n}}\n'


def role_fields(i: int) -> dict[str, object]:
    return {
        "role_type": "jwt",
        "bound_audiences": [AUDIENCE],
        "user_claim": "repository",
        "bound_subject": f"repo:acme-ai/app-{i}:ref:refs/heads/main",
        "token_policies": [f"ci-{i}"],
        "token_ttl": 900,
        "token_max_ttl": 900,
    }


def prepare_namespace(server: Server, ns: str) -> None:
    server.client().sys.create_namespace(ns)
    server.client(namespace=ns).sys.enable_auth_method("jwt", path="jwt")


def drop_namespace(server: Server, ns: str) -> None:
    root = server.client()
    root.sys.delete_namespace(ns)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            root.adapter.get(f"/v1/sys/namespaces/{ns}")
        except hvac.exceptions.InvalidPath:
            return
        time.sleep(0.2)


def quiet(_line: str) -> None:
    """Engine output is not part of the figures (and would drown them)."""


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


SHAPES = {
    "role+policy": "a JWT role and its own policy per binding (2 engine resources each)",
    "shared": "a JWT role per binding, one shared policy (the program's shape: 1 engine resource each)",
    "set": "one JwtAuthRoleSet holding every role, one shared policy (a fixed 4 engine resources)",
}


def role_args(i: int, ns: str, *, shared_policy: bool, subject: str | None = None) -> a.JwtAuthRoleArgs:
    f = role_fields(i)
    return a.JwtAuthRoleArgs(
        backend="jwt",
        role_name=f"ci-{i}",
        bound_audiences=(AUDIENCE,),
        user_claim=str(f["user_claim"]),
        bound_subject=subject or str(f["bound_subject"]),
        token_policies=("ci-shared" if shared_policy else f"ci-{i}",),
        token_ttl=900,
        token_max_ttl=900,
        namespace=ns,
    )


def bench_engine(server: Server, n: int, state_root: Path, env: dict[str, str], *, shape: str) -> dict[str, float]:
    """One shape (``SHAPES``) of N bindings: cold up, no-op up and preview with refresh, the
    preview and the up of a one-binding change (a pull request), destroy."""
    ns = f"bench-engine-{n}-{secrets.token_hex(2)}"
    shared_policy = shape != "role+policy"
    changed: dict[int, str] = {}  # binding -> its changed subject (the one-binding change)

    def program() -> None:
        backend = BuiltinBackend()
        namespace = backend.declare("ns", a.NamespaceArgs(path=ns))
        in_ns = pulumi.ResourceOptions(depends_on=[namespace])
        jwt = backend.declare("jwt", a.AuthBackendArgs(type="jwt", path="jwt", namespace=ns), in_ns)
        shared = (
            backend.declare("policy-shared", a.PolicyArgs(name="ci-shared", policy=policy_text(0), namespace=ns), in_ns)
            if shared_policy
            else None
        )
        roles = [role_args(i, ns, shared_policy=shared_policy, subject=changed.get(i)) for i in range(n)]
        if shape == "set":
            backend.declare(
                "roles",
                a.JwtAuthRoleSetArgs(backend="jwt", roles=tuple(roles), namespace=ns),
                pulumi.ResourceOptions(depends_on=[jwt, shared]),
            )
            return
        for i, role in enumerate(roles):
            policy = shared or backend.declare(
                f"policy-{i}", a.PolicyArgs(name=f"ci-{i}", policy=policy_text(i), namespace=ns), in_ns
            )
            backend.declare(f"role-{i}", role, pulumi.ResourceOptions(depends_on=[jwt, policy]))

    target = automation.StackTarget(
        f"bench-{n}-{shape.replace('+', '-')}",
        state_root / f"engine-{n}-{shape.replace('+', '-')}",
        config={"vault:address": server.address},
        secrets={"vault:token": server.root_token},
        env=env,
    )
    stack = automation.open_stack(target, program)
    figures: dict[str, float] = {}
    try:
        figures["cold up"] = timed(lambda: stack.up(on_output=quiet))
        figures["no-op up --refresh"] = timed(lambda: stack.up(refresh=True, on_output=quiet))
        figures["no-op preview --refresh"] = timed(lambda: stack.preview(refresh=True, on_output=quiet))
        changed[n // 2] = f"repo:acme-ai/app-{n // 2}:environment:prod"
        figures["one-binding change: preview"] = timed(lambda: stack.preview(refresh=True, on_output=quiet))
        figures["one-binding change: up"] = timed(lambda: stack.up(refresh=True, on_output=quiet))
        figures["state file kB"] = automation.state_file(target.state_dir, target.stack).stat().st_size / 1024
        figures["destroy"] = timed(lambda: stack.destroy(on_output=quiet))
    finally:
        stack.workspace.remove_stack(stack.name, force=True)
        drop_namespace(server, ns)
    return figures


def bench_cli(server: Server, n: int, work: Path) -> float:
    ns = f"bench-cli-{n}-{secrets.token_hex(2)}"
    prepare_namespace(server, ns)
    env = {**os.environ, "BAO_ADDR": server.address, "BAO_TOKEN": server.root_token, "BAO_NAMESPACE": ns}
    bao = str(toolchain.bao_bin())
    files = []
    for i in range(n):
        path = work / f"ci-{i}.hcl"
        path.write_text(policy_text(i))
        files.append(path)

    def run() -> None:
        for i in range(n):
            subprocess.run(
                [bao, "write", f"sys/policies/acl/ci-{i}", f"policy=@{files[i]}"],
                env=env,
                check=True,
                capture_output=True,
            )
            f = role_fields(i)
            subprocess.run(
                [
                    bao,
                    "write",
                    f"auth/jwt/role/ci-{i}",
                    "role_type=jwt",
                    f"bound_audiences={AUDIENCE}",
                    f"user_claim={f['user_claim']}",
                    f"bound_subject={f['bound_subject']}",
                    f"token_policies=ci-{i}",
                    "token_ttl=900",
                    "token_max_ttl=900",
                ],
                env=env,
                check=True,
                capture_output=True,
            )

    try:
        return timed(run)
    finally:
        drop_namespace(server, ns)


def bench_hvac(server: Server, n: int) -> float:
    ns = f"bench-hvac-{n}-{secrets.token_hex(2)}"
    prepare_namespace(server, ns)
    client = server.client(namespace=ns)

    def run() -> None:
        for i in range(n):
            client.sys.create_or_update_acl_policy(f"ci-{i}", policy_text(i))
            client.adapter.post(f"/v1/auth/jwt/role/ci-{i}", json=role_fields(i))

    try:
        return timed(run)
    finally:
        drop_namespace(server, ns)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[50, 500], help="binding counts (default: 50 500)")
    parser.add_argument(
        "--shapes",
        nargs="+",
        choices=sorted(SHAPES),
        default=list(SHAPES),
        help="engine shapes to measure (default: all)",
    )
    parser.add_argument(
        "--skip-checkpoints", action="store_true", help="PULUMI_SKIP_CHECKPOINTS=true (no crash safety)"
    )
    parser.add_argument("--skip-baselines", action="store_true", help="skip the bao-process and hvac baselines")
    options = parser.parse_args(argv)
    results: dict[int, dict[str, dict[str, float]]] = {}
    env = {"PULUMI_SKIP_CHECKPOINTS": "true"} if options.skip_checkpoints else {}
    os.environ.pop("PULUMI_BACKEND_URL", None)  # our state goes to the temp folder (a file backend)

    with tempfile.TemporaryDirectory(prefix="bench-bindings-") as tmp:
        root = Path(tmp)
        server = start_server("dev", workdir=root / "server")
        print(f"server: OpenBao {toolchain.OPENBAO_VERSION} dev mode, {server.runtime}, {server.address}")
        print(
            f"engine: pulumi {toolchain.PULUMI_VERSION}, file backend, checkpoints "
            f"{'OFF' if options.skip_checkpoints else 'on'}; {os.cpu_count()} CPUs; load average "
            f"{os.getloadavg()[0]:.1f}"
        )
        for shape in options.shapes:
            print(f"  shape {shape}: {SHAPES[shape]}")
        try:
            for n in options.n:
                results[n] = {shape: bench_engine(server, n, root, env, shape=shape) for shape in options.shapes}
                if not options.skip_baselines:
                    (root / f"cli-{n}").mkdir()
                    results[n]["baseline"] = {
                        "bao write, one process per object": bench_cli(server, n, root / f"cli-{n}"),
                        "hvac, one session": bench_hvac(server, n),
                    }
                print_table(n, results[n])
        finally:
            server.stop()
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    print_targets(results)
    return 0


def print_table(n: int, figures: dict[str, dict[str, float]]) -> None:
    shapes = [s for s in figures if s != "baseline"]
    print(f"\nN={n} bindings (baselines write {2 * n} objects: {n} JWT roles + {n} policies)")
    print(f"  {'seconds':<32}" + "".join(f"{s:>14}" for s in shapes))
    for row in figures[shapes[0]] if shapes else []:
        print(f"  {row:<32}" + "".join(f"{figures[s][row]:14.2f}" for s in shapes))
    for label, seconds in figures.get("baseline", {}).items():
        print(f"  {label:<46} {seconds:8.2f}")


def print_targets(results: dict[int, dict[str, dict[str, float]]]) -> None:
    """Issue 17's targets, per shape, each with its measured value (information, not a test)."""
    if not results:
        return
    big, small = max(results), min(results)
    cli = results[big].get("baseline", {}).get("bao write, one process per object")
    print(f"\nTargets (N={big}, checkpoints as above):")
    for shape, r in results[big].items():
        if shape == "baseline":
            continue
        checks = [
            ("one-binding change preview <= 3 s", r["one-binding change: preview"], "<=", 3.0),
            ("no-op preview <= 1/5 of the cold up", r["no-op preview --refresh"] / r["cold up"], "<=", 1 / 5),
        ]
        if cli:
            checks.insert(0, ("cold up >= 5x faster than one bao process per object", cli / r["cold up"], ">=", 5.0))
        if big != small and shape in results[small]:
            for row in ("cold up", "no-op preview --refresh"):
                growth = r[row] / results[small][shape][row]
                checks.append((f"{row}: time({big}) / time({small}) <= 12", growth, "<=", 12.0))
        print(f"  {shape}:")
        for label, value, op, bound in checks:
            met = value >= bound if op == ">=" else value <= bound
            print(f"    {label:<56} {value:7.2f}  ({'met' if met else 'NOT met'})")


if __name__ == "__main__":
    sys.exit(main())

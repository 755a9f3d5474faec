"""What the engine costs for CI bindings (project issue #5, item 7).

A CI binding is one JWT role and its policy. For N bindings (default N=50 and 500) this
measures, against a throwaway local OpenBao server:

- the Pulumi engine with the builtin providers: cold ``up``, no-op ``up`` with refresh,
  no-op ``preview`` with refresh, ``destroy`` (file backend, checkpoints on);
- the same 2N writes by one ``bao write`` process per object;
- the same 2N writes by one hvac session;

and prints the figures and their ratios. It asserts nothing.

    .venv/bin/python benchmarks/bench_bindings.py [--n 50 500] [--skip-checkpoints]
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


def bench_engine(
    server: Server, n: int, state_root: Path, env: dict[str, str], *, shared_policy: bool = False
) -> dict[str, float]:
    """``shared_policy``: every role uses one policy, as the program's bindings name policy
    files: one engine resource per binding instead of two."""
    ns = f"bench-engine-{n}-{secrets.token_hex(2)}"

    def program() -> None:
        backend = BuiltinBackend()
        namespace = backend.declare("ns", a.NamespaceArgs(path=ns))
        jwt = backend.declare(
            "jwt",
            a.AuthBackendArgs(type="jwt", path="jwt", namespace=ns),
            pulumi.ResourceOptions(depends_on=[namespace]),
        )
        shared = (
            backend.declare(
                "policy-shared",
                a.PolicyArgs(name="ci-shared", policy=policy_text(0), namespace=ns),
                pulumi.ResourceOptions(depends_on=[namespace]),
            )
            if shared_policy
            else None
        )
        for i in range(n):
            policy = shared or backend.declare(
                f"policy-{i}",
                a.PolicyArgs(name=f"ci-{i}", policy=policy_text(i), namespace=ns),
                pulumi.ResourceOptions(depends_on=[namespace]),
            )
            f = role_fields(i)
            backend.declare(
                f"role-{i}",
                a.JwtAuthRoleArgs(
                    backend="jwt",
                    role_name=f"ci-{i}",
                    bound_audiences=(AUDIENCE,),
                    user_claim=str(f["user_claim"]),
                    bound_subject=str(f["bound_subject"]),
                    token_policies=(f"ci-{i}",),
                    token_ttl=900,
                    token_max_ttl=900,
                    namespace=ns,
                ),
                pulumi.ResourceOptions(depends_on=[jwt, policy]),
            )

    target = automation.StackTarget(
        f"bench-{n}{'-shared' if shared_policy else ''}",
        state_root / f"engine-{n}",
        config={"vault:address": server.address},
        secrets={"vault:token": server.root_token},
        env=env,
    )
    stack = automation.open_stack(target, program)
    figures: dict[str, float] = {}
    try:
        figures["engine cold up"] = timed(lambda: stack.up(on_output=quiet))
        figures["engine no-op up --refresh"] = timed(lambda: stack.up(refresh=True, on_output=quiet))
        figures["engine no-op preview --refresh"] = timed(lambda: stack.preview(refresh=True, on_output=quiet))
        figures["engine destroy"] = timed(lambda: stack.destroy(on_output=quiet))
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
        "--skip-checkpoints", action="store_true", help="PULUMI_SKIP_CHECKPOINTS=true (no crash safety)"
    )
    parser.add_argument(
        "--no-shared", action="store_true", help="skip the one-resource-per-binding (shared policy) variant"
    )
    options = parser.parse_args(argv)
    results: dict[int, dict[str, float]] = {}
    env = {"PULUMI_SKIP_CHECKPOINTS": "true"} if options.skip_checkpoints else {}
    os.environ.pop("PULUMI_BACKEND_URL", None)  # our state goes to the temp folder (a file backend)

    with tempfile.TemporaryDirectory(prefix="bench-bindings-") as tmp:
        root = Path(tmp)
        server = start_server("dev", workdir=root / "server")
        print(f"server: OpenBao {toolchain.OPENBAO_VERSION} dev mode, {server.runtime}, {server.address}")
        print(
            f"engine: pulumi {toolchain.PULUMI_VERSION}, file backend, checkpoints "
            f"{'OFF' if options.skip_checkpoints else 'on'}; {os.cpu_count()} CPUs"
        )
        try:
            for n in options.n:
                writes = 2 * n
                print(f"\nN={n} bindings ({writes} objects: {n} JWT roles + {n} policies; engine: +2 resources)")
                engine = bench_engine(server, n, root, env)
                shared = (
                    {}
                    if options.no_shared
                    else {
                        f"{k} (shared policy)": v
                        for k, v in bench_engine(server, n, root, env, shared_policy=True).items()
                        if k in ("engine cold up", "engine no-op preview --refresh")
                    }
                )
                (root / f"cli-{n}").mkdir()
                cli = bench_cli(server, n, root / f"cli-{n}")
                direct = bench_hvac(server, n)
                results[n] = {**engine, **shared, "cli": cli, "hvac": direct}
                rows = [
                    *engine.items(),
                    *shared.items(),
                    ("bao write, one process per object", cli),
                    ("hvac, one session", direct),
                ]
                for label, seconds in rows:
                    print(
                        f"  {label:<36} {seconds:8.2f} s  {1000 * seconds / writes:7.1f} ms/object"
                        f"  x{seconds / direct:6.1f} hvac  x{seconds / cli:5.2f} bao-cli"
                    )
        finally:
            server.stop()
    print_targets(results)
    return 0


def print_targets(results: dict[int, dict[str, float]]) -> None:
    """The issue's targets, each with its measured value (information, not a test)."""
    if not results:
        return
    big, small = max(results), min(results)
    r = results[big]
    print(f"\nTargets (N={big}, checkpoints as above):")
    checks = [
        ("cold up >= 5x faster than one bao process per object", r["cli"] / r["engine cold up"], ">=", 5.0),
        ("no-op preview <= 1/3 of the cold up", r["engine no-op preview --refresh"] / r["engine cold up"], "<=", 1 / 3),
    ]
    if big != small:
        growth = r["engine cold up"] / results[small]["engine cold up"]
        checks.append((f"cold up time({big}) / time({small}) <= 12", growth, "<=", 12.0))
    shared = r.get("engine cold up (shared policy)")
    if shared:
        checks.append(("  same, one engine resource per binding: cli / cold up", r["cli"] / shared, ">=", 5.0))
        if big != small and results[small].get("engine cold up (shared policy)"):
            growth = shared / results[small]["engine cold up (shared policy)"]
            checks.append((f"  same, time({big}) / time({small})", growth, "<=", 12.0))
    for label, value, op, bound in checks:
        met = value >= bound if op == ">=" else value <= bound
        print(f"  {label:<58} {value:7.2f}  ({'met' if met else 'NOT met'})")


if __name__ == "__main__":
    sys.exit(main())

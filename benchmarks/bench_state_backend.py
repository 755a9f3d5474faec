"""What the team backend costs: the dev stack on the file backend and on PostgreSQL, one run each.

Against a throwaway local OpenBao (dev mode) and a throwaway local PostgreSQL cluster (Debian's
binaries, ``llm_vault.local.postgres``), through ``llm_vault.automation`` as ``llm-vault up``
runs it, for each backend in turn:

- cold ``up`` (refresh, then apply) of the dev stack, with ``--catalogue N`` extra secret
  catalogue entries (default 0: the dev stack as checked in, 23 objects);
- no-op ``preview`` (refresh, then preview) right after;
- ``destroy``, so that the next backend starts from the same empty server.

Prints the figures and the ratio; asserts nothing. The database password never leaves this
process's environment (PGPASSWORD); the URL printed has none.

    .venv/bin/python benchmarks/bench_state_backend.py [--catalogue 200]
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llm_vault import automation
from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.postgres import PostgresCluster
from llm_vault.local.server import start_server
from llm_vault.local_job import overrides_for


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalogue", type=int, default=0, help="extra secret catalogue entries (objects)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-backend-") as tmp:
        work = Path(tmp)
        server = start_server("dev", workdir=work / "openbao")
        (server.workdir / "audit").mkdir(exist_ok=True)
        try:
            with GitHubOidcIssuer() as issuer, PostgresCluster(base_dir=work / "pg") as pg:
                pg.create_database("pulumi_state")
                overrides = overrides_for(
                    "dev", server_address=server.address, issuer_url=issuer.url, workdir=server.workdir
                )
                if args.catalogue:
                    overrides["llm-vault:kv"] = {
                        "secrets": [{"name": f"bench/s{i:04d}", "owner": "bench"} for i in range(args.catalogue)]
                    }
                url = f"postgres://{pg.superuser}@{pg.host}:{pg.port}/pulumi_state?sslmode=disable"
                backends = {
                    "file": {},
                    "postgres": {
                        "PULUMI_BACKEND_URL": url,
                        "PGPASSWORD": pg.password,
                        "PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(16),
                    },
                }
                figures: dict[str, dict[str, float]] = {}
                objects = 0
                for name, env in backends.items():
                    target = automation.StackTarget(
                        stack="dev",
                        state_dir=work / f"state-{name}",
                        overrides=overrides,
                        env={"VAULT_ADDR": server.address, "VAULT_TOKEN": server.root_token},
                    )
                    with environment(env):
                        stack = automation.open_stack(target)
                        result: dict[str, Any] = {}
                        cold = timed(lambda: result.update(up=automation.refresh_then_up(stack)))  # noqa: B023
                        noop = timed(lambda: automation.refresh_then_preview(stack))  # noqa: B023
                        gone = timed(lambda: automation.refresh_then_destroy(stack))  # noqa: B023
                    objects = sum((result["up"].summary.resource_changes or {}).values())
                    figures[name] = {"cold up": cold, "no-op preview": noop, "destroy": gone}

                print(f"dev stack, {objects} resources (components included), one run each; "
                      f"postgres: {automation.mask_url(url)}")
                print(f"{'':16}{'file':>10}{'postgres':>10}{'ratio':>8}")
                for step in ("cold up", "no-op preview", "destroy"):
                    f, p = figures["file"][step], figures["postgres"][step]
                    print(f"{step:16}{f:>9.1f}s{p:>9.1f}s{p / f:>7.2f}x")
        finally:
            server.stop()


if __name__ == "__main__":
    main()

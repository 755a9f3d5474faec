"""An apply killed with SIGKILL at many points converges on a plain rerun: no hand edits.

The dev stack with a 180-entry secret catalogue (203 Vault objects) is applied through the real
engine by ``crash_driver`` (``llm_vault.automation``, as ``llm-vault up`` runs it), in a
process session of its own. At each kill point the test counts the engine's steps as the run
reports them and, at the chosen one, SIGKILLs every process of the session (driver, engine,
provider host): what a lost CI runner does. Then a plain rerun must converge: finish, leave no
object on the server that the state does not hold (orphans) and none twice (duplicates), keep
the secret values written between the runs, and a second rerun must report 0 changes.

The points are spread over the kinds of work: the first creates of a cold up, mid-refresh, a
batch of creates, updates, both halves of a delete-before-replace, deletes, a late update, the
first refresh steps, and a destroy. What each rerun did is printed at the end of the session
("crash recovery" section).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.server import Server, start_server

from .conftest import CRASH_REPORT
from .engine_runs import Driver, server_objects, state_objects

pytestmark = [pytest.mark.integration, pytest.mark.engine]

# Secret catalogue entries: with the dev stack's other 23, 203 Vault objects (213 resources with
# the components). Enough for the 200; every object more costs every run of this test.
CATALOGUE = 180
MOUNT = "openai-llm"
NAMESPACE = "dev"
# Written between runs, read after every rerun: values of catalogued secrets, renamed ones too.
SEEDED = ("crash/s000", "crash/s001", "crash/s100", "crash/s120", "crash/s250")


def entries(names: list[str], owner: str = "crash-test") -> list[dict[str, Any]]:
    return [{"name": n, "owner": owner} for n in names]


def names(first: int, last: int, sep: str = "/") -> list[str]:
    return [f"crash{sep}s{i:03d}" for i in range(first, last)]


def fingerprint(data: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@dataclass
class Point:
    label: str
    kv: dict[str, Any]
    kill_on: str
    after: int
    action: str = "up"


@dataclass
class Ledger:
    rows: list[str] = field(default_factory=list)
    seconds: float = 0.0


@pytest.fixture(scope="module")
def crash_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own: orphans are counted on the whole server, against a fresh baseline."""
    try:
        server = start_server("dev", workdir=tmp_path_factory.mktemp("openbao-crash"))
    except Exception as exc:
        pytest.fail(f"could not start an OpenBao server (dev): {exc}", pytrace=False)
    (server.workdir / "audit").mkdir(exist_ok=True)
    yield server
    server.stop()


def kv(catalogue: list[dict[str, Any]], max_versions: int = 10) -> dict[str, Any]:
    return {"path": MOUNT, "maxVersions": max_versions, "secrets": catalogue}


def plan() -> list[Point]:
    c0 = entries(names(0, CATALOGUE))
    c1 = c0 + entries(names(200, 240))
    c2 = c1 + entries(names(240, 280))
    c3 = entries(names(0, 80), owner="team-b") + c2[80:]
    # Same resource name ('/' becomes '-' in it), new secret path: a replace, deleted first.
    c4 = c3[:100] + entries(names(100, 140, sep="-")) + c3[140:]
    c5 = c3
    c6 = c5[:CATALOGUE]
    return [
        Point("cold up, 2nd create", kv(c0), "create", 2),
        Point("refresh, 120th object", kv(c1), "refresh", 120),
        Point("create, 20th of 40", kv(c2), "create", 20),
        Point("update, 40th of 80", kv(c3), "update", 40),
        Point("delete-before-replace, 15th delete", kv(c4), "delete-replaced", 15),
        Point("delete-before-replace, 10th create", kv(c5), "create-replacement", 10),
        Point("delete, 40th of 80", kv(c6), "delete", 40),
        Point("update, 150th of 181", kv(c6, max_versions=12), "update", 150),
        Point("refresh, 3rd step", kv(c6), "refresh", 3),
        Point("destroy, 100th delete", kv(c6), "delete", 100, action="destroy"),
    ]


def test_a_killed_apply_converges_on_a_plain_rerun_at_every_kill_point(
    crash_server: Server, oidc_issuer: GitHubOidcIssuer, tmp_path: Path
) -> None:
    server = crash_server
    driver = Driver(server, oidc_issuer, tmp_path)
    root = server.client()
    baseline = set(server_objects(root))
    seeded: dict[str, str] = {}
    ledger = Ledger()
    try:
        for number, point in enumerate(plan(), 1):
            killed = driver.run(point.kv, action=point.action, kill_on=point.kill_on, after=point.after)
            pending = Counter(op["type"] for op in driver.checkpoint().get("pending_operations") or [])
            rerun = driver.run(point.kv, action=point.action)
            again = driver.run(point.kv, action=point.action)
            ledger.seconds += killed.seconds + rerun.seconds + again.seconds

            where = f"kill point {number} ({point.label})"
            checkpoint = driver.checkpoint()
            in_state = state_objects(checkpoint)
            duplicates = sorted(k for k, n in Counter(in_state).items() if n > 1)
            urns = Counter(r["urn"] for r in checkpoint.get("resources") or [])
            on_server = set(server_objects(root)) - baseline
            orphans = sorted(on_server - set(in_state))
            missing = sorted(set(in_state) - on_server)
            assert not checkpoint.get("pending_operations"), f"{where}: pending operations left"
            assert not duplicates and max(urns.values(), default=1) == 1, f"{where}: duplicates {duplicates}"
            assert not orphans, f"{where}: objects on the server that the state does not hold: {orphans[:10]}"
            assert not missing, f"{where}: objects in the state that the server does not hold: {missing[:10]}"
            if point.action == "destroy":
                assert not in_state and not on_server, f"{where}: the destroy left {sorted(on_server)[:10]}"
            else:
                declared = {f"kv-metadata:{NAMESPACE}:{MOUNT}/{e['name']}" for e in point.kv["secrets"]}
                catalogued = {k for k in in_state if k.startswith("kv-metadata:")}
                assert catalogued == declared, f"{where}: catalogue differs: {sorted(catalogued ^ declared)[:10]}"
                assert len(in_state) >= 200, f"{where}: only {len(in_state)} objects"
            assert again.changes() == {}, f"{where}: the second rerun changed {again.changes()}"

            if not seeded and point.action == "up":
                client = server.client(namespace=NAMESPACE)
                for path in SEEDED:
                    data = {"api_key": secrets.token_urlsafe(16)}
                    client.secrets.kv.v2.create_or_update_secret(path, secret=data, mount_point=MOUNT)
                    seeded[path] = fingerprint(data)
            elif point.action == "up":
                client = server.client(namespace=NAMESPACE)
                for path, expected in seeded.items():
                    kv2 = client.secrets.kv.v2
                    data = kv2.read_secret_version(path, mount_point=MOUNT, raise_on_deleted_version=True)
                    intact = fingerprint(data["data"]["data"]) == expected
                    assert intact, f"{where}: the value of {path} changed"  # values never shown

            did = rerun.recovered or "nothing to recover"
            ledger.rows.append(
                f"{number:>2}. {point.label}: killed after {sum(killed.steps.values())} steps "
                f"(pending {dict(pending) or 'none'}); rerun: {did}; changes {rerun.changes()} "
                f"in {rerun.seconds:.1f}s; second rerun: {again.changes() or '0 changes'}"
            )
    finally:
        CRASH_REPORT.extend(ledger.rows)
    CRASH_REPORT.append(
        f"{len(ledger.rows)} kill points, {len(ledger.rows)} reruns converged, 0 orphans, 0 duplicates, "
        f"secrets intact, every second rerun 0 changes; engine runs took {ledger.seconds:.0f}s"
    )

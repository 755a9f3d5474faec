"""Server faults in the middle of an apply: the persistent (raft) server sealed, and restarted.

A 100-entry catalogue on the dev stack (123 objects) is applied by ``crash_driver`` to a fresh
raft-backed server; at the 30th create the test seals (or restarts) the server while the run
goes on. The apply must fail naming the object it was writing (or ride out the restart on the
provider's retries); once the server is back, a plain rerun converges with 0 orphans and a
second rerun reports 0 changes. A 3-node raft cluster (``raft_cluster``) whose leader is killed
mid-apply, with the stack talking to a standby, must complete or fail cleanly, and converge.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.server import Server

from .conftest import CRASH_REPORT
from .engine_runs import Driver, Outcome, server_objects, state_objects
from .raft_cluster import RaftCluster

pytestmark = [pytest.mark.integration, pytest.mark.engine]

KV = {"path": "openai-llm", "secrets": [{"name": f"fault/s{i:03d}", "owner": "faults"} for i in range(100)]}


def _converged(driver: Driver, server: Any, baseline: set[str], where: str) -> Outcome:
    rerun = driver.run(KV)
    again = driver.run(KV)
    in_state = state_objects(driver.checkpoint())
    on_server = set(server_objects(server.client())) - baseline
    assert not driver.checkpoint().get("pending_operations"), f"{where}: pending operations left"
    assert max(Counter(in_state).values()) == 1, f"{where}: an object twice in the state"
    assert on_server == set(in_state), f"{where}: server and state differ: {sorted(on_server ^ set(in_state))[:10]}"
    assert again.changes() == {}, f"{where}: the second rerun changed {again.changes()}"
    return rerun


def test_a_server_sealed_mid_apply_fails_naming_the_object_and_the_rerun_converges(
    openbao_persistent: Server, oidc_issuer: GitHubOidcIssuer, tmp_path: Path
) -> None:
    server = openbao_persistent
    (server.workdir / "audit").mkdir(exist_ok=True)
    baseline = set(server_objects(server.client()))
    driver = Driver(server, oidc_issuer, tmp_path)
    failed = driver.start(KV).finish(kill_on="create", after=30, then=server.seal, may_fail=True)
    assert failed.returncode == 4, failed.lines[-5:]
    error = next(line for line in failed.lines if line.startswith("ERROR "))
    assert "failed after 5 attempts: 503" in error and "sealed" in error.lower()
    assert "vault KvMetadata 'openai-llm/fault/s" in error or "vault " in error  # names the object
    assert server.root_token not in "\n".join(failed.lines)

    server.unseal()
    rerun = _converged(driver, server, baseline, "sealed at the 30th create")
    CRASH_REPORT.append(f"raft server sealed at the 30th create: the apply failed ({error[6:140]}…); after unseal "
                        f"the rerun did: {rerun.recovered or 'nothing to recover'}; changes {rerun.changes()}; "
                        "second rerun 0 changes")


def test_a_server_restarted_mid_apply_is_ridden_out_or_fails_cleanly_and_the_rerun_converges(
    openbao_persistent: Server, oidc_issuer: GitHubOidcIssuer, tmp_path: Path
) -> None:
    server = openbao_persistent
    (server.workdir / "audit").mkdir(exist_ok=True)
    baseline = set(server_objects(server.client()))
    driver = Driver(server, oidc_issuer, tmp_path)
    during = driver.start(KV).finish(kill_on="create", after=30, then=server.restart, may_fail=True)
    if during.returncode != 0:
        error = next(line for line in during.lines if line.startswith("ERROR "))
        assert "vault " in error and "failed" in error, error  # names the object and the request
    rerun = _converged(driver, server, baseline, "restarted at the 30th create")
    how = "rode it out" if during.returncode == 0 else "failed cleanly"
    CRASH_REPORT.append(f"raft server restarted at the 30th create: the apply {how} ({during.changes()}); "
                        f"the rerun did: {rerun.recovered or 'nothing to recover'}; changes {rerun.changes()}; "
                        "second rerun 0 changes")


def test_a_3_node_cluster_whose_leader_dies_mid_apply_completes_or_fails_cleanly_and_the_rerun_converges(
    oidc_issuer: GitHubOidcIssuer, tmp_path: Path
) -> None:
    try:
        cluster = RaftCluster(tmp_path / "raft").start()
    except Exception as exc:
        pytest.fail(f"could not start a 3-node OpenBao raft cluster: {exc}", pytrace=False)
    try:
        leader = cluster.leader()
        # The stack talks to a standby: during the apply it forwards to the leader; once the
        # leader is gone it answers 5xx until a new one is elected, which the provider retries.
        standby = next(n for n in cluster.nodes if n is not leader)
        cluster.address = standby.address
        (cluster.workdir / "audit").mkdir(exist_ok=True)
        server: Any = cluster  # address, root_token, workdir, client(): what Driver and the helpers use
        baseline = set(server_objects(server.client()))
        driver = Driver(server, oidc_issuer, tmp_path)
        # The audit device is declared in the nodes' config (mode "declared"): the stack enables none.
        driver.base = {**driver.base, "llm-vault:audit": {"mode": "declared"}}
        during = driver.start(KV).finish(kill_on="create", after=30, then=lambda: cluster.stop(leader), may_fail=True)
        if during.returncode != 0:
            error = next(line for line in during.lines if line.startswith("ERROR "))
            assert "vault " in error and "failed" in error, error
        new_leader = cluster.leader()
        assert new_leader is not leader
        rerun = _converged(driver, server, baseline, "leader stopped at the 30th create")
        how = "completed" if during.returncode == 0 else "failed cleanly"
        CRASH_REPORT.append(
            f"3-node raft cluster, leader {leader.name} killed at the 30th create (stack on standby {standby.name}): "
            f"the apply {how} ({during.changes() or during.lines[-1][:120]}); new leader {new_leader.name}; "
            f"rerun changes {rerun.changes()}; second rerun 0 changes"
        )
    finally:
        cluster.close()

"""The provider host talking to an OpenBao standby: writes into what it just created go through.

An OpenBao standby serves requests itself and forwards a write to the active node only once
its own router can place it. A mount or namespace created through the standby exists on the
active node when the create returns, but the standby applies that change from the raft log
about 0.1 s later (measured here: 0.08-0.11 s); a write into it before then is a 404 ("no
handler for route"). A stack whose `vault:address` is a load balancer in front of a cluster
meets this on every apply (first seen as a flaky run of the leader-dies test in
tests/llm_vault/test_server_faults.py). Real 3-node raft cluster, processes on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator

import hvac
import hvac.exceptions
import pytest

from tests.llm_vault.raft_cluster import Node, RaftCluster
from vault_provider.builtin import _client
from vault_provider.builtin._client import Api, Where

pytestmark = [pytest.mark.integration]

ROLE = {"role_type": "jwt", "user_claim": "actor_id", "bound_audiences": ["aud"], "bound_subject": "repo:a/b:ref:x"}
POLICY = {"policy": 'path "openai-llm/data/x" { capabilities = ["read"] }'}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RaftCluster]:
    with RaftCluster(tmp_path_factory.mktemp("standby") / "raft") as started:
        yield started


@pytest.fixture()
def standby(cluster: RaftCluster, monkeypatch: pytest.MonkeyPatch) -> Node:
    leader = cluster.leader()
    node = next(n for n in cluster.nodes if n is not leader)
    for name in [v for pair in _client._ENV.values() for v in pair]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(_client, "_stack_config", {})
    monkeypatch.setenv("VAULT_ADDR", node.address)
    monkeypatch.setenv("VAULT_TOKEN", cluster.root_token)
    return node


def test_the_standby_answers_a_write_into_a_mount_it_has_not_applied_yet_with_a_404(
    cluster: RaftCluster, standby: Node
) -> None:
    # The server's behaviour the provider works around: if this stops failing, the retry is moot.
    raw = cluster.client_of(standby)
    raw.sys.enable_auth_method("jwt", path="raw-jwt")
    with pytest.raises(hvac.exceptions.InvalidPath, match="no handler for route"):
        raw.adapter.post("/v1/auth/raw-jwt/role/ci", json=ROLE)


def test_a_role_written_right_after_its_mount_was_created_through_a_standby_is_written(
    cluster: RaftCluster, standby: Node
) -> None:
    for path in ("jwt-a", "jwt-b", "jwt-c"):
        api = Api(Where("JwtAuthRole", f"{path}/role/ci", None), None)
        api.write(f"sys/auth/{path}", {"type": "jwt"})
        api.write(f"auth/{path}/role/ci", ROLE)
        # Read on the active node: the standby's own reads lag its writes by the same 0.1 s.
        held = on_leader(cluster).adapter.get(f"/v1/auth/{path}/role/ci")["data"]
        assert held["bound_subject"] == ROLE["bound_subject"]


def test_a_policy_written_right_after_its_namespace_was_created_through_a_standby_is_written(
    cluster: RaftCluster, standby: Node
) -> None:
    Api(Where("Namespace", "team-x", None), None).write("sys/namespaces/team-x", {})
    Api(Where("Policy", "reader", "team-x"), "team-x").write("sys/policies/acl/reader", POLICY)
    held = on_leader(cluster, namespace="team-x").sys.read_acl_policy("reader")["data"]["policy"]
    assert held == POLICY["policy"]


def on_leader(cluster: RaftCluster, namespace: str | None = None) -> hvac.Client:
    client = cluster.client_of(cluster.leader())
    if namespace:
        client.adapter.namespace = namespace
    return client

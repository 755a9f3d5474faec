"""A 3-node OpenBao raft cluster on 127.0.0.1, as ``bao server`` processes, for the fault tests.

Node 1 is initialised (one key share) and unsealed; nodes 2 and 3 join it through
``retry_join`` and are unsealed with the same key. ``stop(node)`` kills one (SIGKILL: a host
that dies), ``leader()`` says which node is active now. A test helper, not a runtime of
``llm_vault.local.server``: it needs no container, and the single-node runtimes stay as they are.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import hvac
import hvac.exceptions
import requests

from llm_vault import toolchain
from llm_vault.local.server import free_port_pair

READY_SECONDS = 60.0


@dataclass
class Node:
    name: str
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> int | None:
        try:
            # standbyok: a standby answers 200 too; sealed 503, uninitialised 501.
            return requests.get(f"{self.address}/v1/sys/health?standbyok=true", timeout=2).status_code
        except requests.RequestException:
            return None


@dataclass
class RaftCluster:
    base: Path
    nodes: list[Node] = field(default_factory=list)
    _root_token: str = field(default="", repr=False)
    _unseal_key: str = field(default="", repr=False)

    @property
    def root_token(self) -> str:
        return self._root_token

    # The Driver and the inventory helpers use a server's address, token, work folder and client.
    address: str = ""
    workdir: Path = Path()

    def client(self, token: str | None = None, namespace: str | None = None) -> hvac.Client:
        return hvac.Client(url=self.address, token=token or self._root_token, namespace=namespace)

    def start(self) -> RaftCluster:
        self.base.mkdir(parents=True, exist_ok=True)
        self.nodes = [Node(f"node{i}", free_port_pair(), self.base / f"node{i}") for i in (1, 2, 3)]
        for node in self.nodes:
            self._launch(node, join=node is not self.nodes[0])
            if node is self.nodes[0]:
                self._wait(node, lambda code: code is not None)
                result = hvac.Client(url=node.address).sys.initialize(secret_shares=1, secret_threshold=1)
                self._root_token, self._unseal_key = result["root_token"], result["keys_base64"][0]
            self._unseal(node)
            if node is self.nodes[0]:
                # Autopilot keeps a joined node a non-voter until it has been healthy this long
                # (default 10 s); a cluster of one voter elects no one when that one dies.
                self._shorten_stabilization(node)
        self._wait_for_voters(len(self.nodes))
        self.workdir = self.base
        self.address = self.nodes[0].address
        return self

    def _shorten_stabilization(self, node: Node) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while True:  # answers 500 until autopilot runs, a moment after the node became active
            try:
                self.client_of(node).adapter.post(
                    "/v1/sys/storage/raft/autopilot/configuration", json={"server_stabilization_time": "2s"}
                )
                return
            except hvac.exceptions.VaultError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def client_of(self, node: Node) -> hvac.Client:
        return hvac.Client(url=node.address, token=self._root_token)

    def voters(self) -> list[str]:
        config = self.client_of(self.leader()).adapter.get("/v1/sys/storage/raft/configuration")
        return [s["node_id"] for s in config["data"]["config"]["servers"] if s["voter"]]

    def _wait_for_voters(self, count: int) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if len(self.voters()) >= count:
                return
            time.sleep(0.5)
        raise RuntimeError(f"only {self.voters()} became voters in {READY_SECONDS:.0f}s")

    def _launch(self, node: Node, *, join: bool) -> None:
        node.workdir.mkdir(parents=True, exist_ok=True)
        (node.workdir / "data").mkdir(exist_ok=True)
        leader = self.nodes[0].address
        config = [
            'storage "raft" {',
            f"  path = {json.dumps(str(node.workdir / 'data'))}",
            f'  node_id = "{node.name}"',
            "  performance_multiplier = 1",
            *([f'  retry_join {{ leader_api_addr = "{leader}" }}'] if join else []),
            "}",
            'listener "tcp" {',
            f'  address = "127.0.0.1:{node.port}"',
            f'  cluster_address = "127.0.0.1:{node.port + 1}"',
            "  tls_disable = true  # loopback only, throwaway data",
            "}",
            f'api_addr = "{node.address}"',
            f'cluster_addr = "https://127.0.0.1:{node.port + 1}"',
            # Declared, as on a production cluster; the same on every node (a node that becomes
            # leader refuses a declaration that differs from the replicated table): one shared file.
            'audit "file" "declared-file" {',
            f"  options {{ file_path = {json.dumps(str(self.base / 'audit.log'))} }}",
            "}",
        ]
        (node.workdir / "openbao.hcl").write_text("\n".join(config) + "\n")
        with (node.workdir / "server.log").open("ab") as log:
            node.proc = subprocess.Popen(
                [str(toolchain.bao_bin()), "server", f"-config={node.workdir / 'openbao.hcl'}"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait(self, node: Node, ready: object) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if callable(ready) and ready(node.health()):
                return
            if node.proc is not None and node.proc.poll() is not None:
                raise RuntimeError(f"{node.name} exited: {(node.workdir / 'server.log').read_text()[-2000:]}")
            time.sleep(0.2)
        tail = (node.workdir / "server.log").read_text()[-2000:]
        raise RuntimeError(f"{node.name} not ready in {READY_SECONDS:.0f}s: {tail}")

    def _unseal(self, node: Node) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:  # a joining node takes the key once it reached the leader
            with contextlib.suppress(Exception):  # not joined yet: try again
                hvac.Client(url=node.address).sys.submit_unseal_key(self._unseal_key)
            if node.health() == 200:
                return
            time.sleep(0.3)
        raise RuntimeError(f"{node.name} did not unseal: {(node.workdir / 'server.log').read_text()[-2000:]}")

    def leader(self) -> Node:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            for node in self.nodes:
                if node.proc is None or node.proc.poll() is not None:
                    continue
                try:
                    info = requests.get(f"{node.address}/v1/sys/leader", timeout=2).json()
                except (requests.RequestException, ValueError):
                    continue
                if info.get("is_self"):
                    return node
            time.sleep(0.2)
        raise RuntimeError("no leader elected")

    def stop(self, node: Node) -> None:
        if node.proc is not None and node.proc.poll() is None:
            os.killpg(node.proc.pid, signal.SIGKILL)
            node.proc.wait(timeout=15)

    def close(self) -> None:
        for node in self.nodes:
            self.stop(node)

    def __enter__(self) -> RaftCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

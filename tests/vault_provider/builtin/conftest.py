"""Helpers for driving the builtin providers through the real engine.

Each engine test gets its own state folder under ``tmp_path`` (opened through
``automation.open_stack``, as every stack is, with the config given directly) and its own
throwaway namespace names on the shared ``openbao`` server; whatever a test creates it
destroys, and a fixture removes what a failed test left behind.
"""

from __future__ import annotations

import http.client
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import hvac
import hvac.exceptions
import pytest
from pulumi import automation as auto

from llm_vault import automation
from llm_vault.local.server import Server


def vault_config(address: str, token: str, **extra: tuple[Any, bool]) -> dict[str, tuple[Any, bool]]:
    """Stack config for the provider: the official provider's keys, the token as a secret."""
    return {"vault:address": (address, False), "vault:token": (token, True), **extra}


def target_for(
    name: str,
    *,
    state_dir: Path,
    config: dict[str, tuple[Any, bool]],
    env: dict[str, str] | None = None,
    source_root: Path | None = None,
) -> automation.StackTarget:
    """The target of a provider test's stack, for ``automation.open_stack``: ``config`` maps full
    keys to ``(value, secret)``. It is the stack's whole config (no stack file), or, with
    ``source_root``, set on top of the checked-in stack file there."""
    plain = {key: value for key, (value, secret) in config.items() if not secret}
    secrets = {key: value for key, (value, secret) in config.items() if secret}
    if source_root is None:
        return automation.StackTarget(name, state_dir, config=plain, secrets=secrets, env=dict(env or {}))
    return automation.StackTarget(
        name, state_dir, overrides=plain, secrets=secrets, env=dict(env or {}), source_root=source_root
    )


@pytest.fixture(scope="package", autouse=True)
def _state_in_the_temp_folder() -> Iterator[None]:
    """Our state goes to the temp folder, whatever backend the developer's shell points at
    (package scope: before the module-scoped deployments, and given back after this package)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("PULUMI_BACKEND_URL", raising=False)
        yield


class Run:
    """An engine operation's output kept for the failure message (the engine's own, no tokens)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)


def up(stack: auto.Stack, **kwargs: Any) -> auto.UpResult:
    run = Run()
    try:
        return stack.up(on_output=run, **kwargs)
    except auto.CommandError as exc:
        pytest.fail(f"up failed:\n{run.text[-6000:]}\n{str(exc)[-3000:]}", pytrace=False)


def preview_changes(stack: auto.Stack, *, refresh: bool = True) -> dict[str, int]:
    """What a preview would do, without the unchanged ones: {} means nothing to do."""
    result = stack.preview(refresh=refresh, on_output=Run())
    return {op: n for op, n in result.change_summary.items() if op != "same" and n}


def failing_up(stack: auto.Stack) -> str:
    """Run an up that must fail; its error text (the engine's diagnostics)."""
    run = Run()
    with pytest.raises(auto.CommandError) as info:
        stack.up(on_output=run)
    return run.text + "\n" + str(info.value)


def live_role(server: Server, ns: str, name: str) -> dict[str, Any] | None:
    """The JWT role ``name`` at ``auth/jwt`` in namespace ``ns`` as the server holds it; None when absent."""
    try:
        return dict(server.client(namespace=ns).adapter.get(f"/v1/auth/jwt/role/{name}")["data"])
    except hvac.exceptions.InvalidPath:
        return None


def destroy_quietly(stack: auto.Stack) -> None:
    try:
        stack.destroy(on_output=Run())
        stack.workspace.remove_stack(stack.name)
    except auto.CommandError:
        pass  # the test already failed; the namespace cleanup below still runs


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def delete_namespace(client: hvac.Client, path: str) -> None:
    """Delete a (possibly nested) namespace with everything in it; gone already is fine.

    OpenBao refuses to delete a namespace that has children and deletes in the background,
    so children go first and each deletion is waited for.
    """
    parent, _, name = path.rpartition("/")
    scoped = hvac.Client(url=client.url, token=client.token, namespace=parent or None)
    nested = hvac.Client(url=client.url, token=client.token, namespace=path)
    try:
        keys = nested.adapter.list("/v1/sys/namespaces")["data"]["keys"]
    except (hvac.exceptions.VaultError, TypeError, KeyError):
        keys = []  # no children (or the namespace is gone)
    for child in keys:
        delete_namespace(client, f"{path}/{child.strip('/')}")
    try:
        scoped.adapter.delete(f"/v1/sys/namespaces/{name}")
    except hvac.exceptions.InvalidPath:
        return  # its parent is gone already
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            scoped.adapter.get(f"/v1/sys/namespaces/{name}")
        except hvac.exceptions.InvalidPath:
            return
        time.sleep(0.2)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def make_stack(state_dir: Path, openbao: Server) -> Iterator[Callable[..., auto.Stack]]:
    """``make_stack(name, program, config=..., env=..., source_root=...)``: an engine stack (see
    :func:`target_for`) destroyed after the test."""
    stacks: list[auto.Stack] = []

    def make(name: str, program: Callable[[], None], **kwargs: Any) -> auto.Stack:
        kwargs.setdefault("config", vault_config(openbao.address, openbao.root_token))
        stack = automation.open_stack(target_for(name, state_dir=state_dir, **kwargs), program)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        destroy_quietly(stack)


@pytest.fixture
def namespaces(openbao: Server) -> Iterator[Callable[[str], str]]:
    """``namespaces("b")`` -> a fresh root-level namespace name, deleted (if it exists) after the test."""
    names: list[str] = []

    def new(prefix: str) -> str:
        names.append(unique(prefix))
        return names[-1]

    yield new
    for name in names:
        delete_namespace(openbao.client(), name)


class FlakyProxy:
    """An HTTP proxy on 127.0.0.1 in front of the server that can play a server outage.

    ``fail_first=n``: answer the first n requests with 503 (a sealed or standby server).
    ``down_after=n``: forward reads and n writes (POST/PUT/DELETE), then drop the connection
    of the next request and stop listening (connection refused) until ``start()``: exactly n
    writes reach the server.
    HTTP/1.0, so each request is a new connection and an outage is seen at once.
    """

    def __init__(self, upstream: str, *, fail_first: int = 0, down_after: int | None = None) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.fail_first = fail_first
        self.down_after = down_after
        self.writes = 0
        self.refused_with_503 = 0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._port = 0
        self.start()

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def _handle(self) -> None:
                with proxy._lock:
                    if proxy.refused_with_503 < proxy.fail_first:
                        proxy.refused_with_503 += 1
                        verdict = "503"
                    elif proxy.down_after is not None and proxy.writes >= proxy.down_after:
                        verdict = "down"
                    else:
                        proxy.writes += self.command in ("POST", "PUT", "DELETE")
                        verdict = "forward"
                if verdict == "503":
                    sealed = b'{"errors":["Vault is sealed"]}'
                    self.send_response(503)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(sealed)))
                    self.end_headers()
                    self.wfile.write(sealed)
                    return
                if verdict == "down":
                    self.close_connection = True
                    threading.Thread(target=proxy.stop, daemon=True).start()
                    return  # no response at all: the connection is dropped
                length = int(self.headers.get("Content-Length") or 0)
                body: bytes | None = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn = http.client.HTTPConnection(*proxy._upstream, timeout=30)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                finally:
                    conn.close()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_LIST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return

        httpd = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        httpd.daemon_threads = True
        self._port = int(httpd.server_address[1])
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()


@pytest.fixture
def flaky_proxy(openbao: Server) -> Iterator[Callable[..., FlakyProxy]]:
    proxies: list[FlakyProxy] = []

    def make(**kwargs: Any) -> FlakyProxy:
        proxies.append(FlakyProxy(openbao.address, **kwargs))
        return proxies[-1]

    yield make
    for proxy in proxies:
        proxy.stop()

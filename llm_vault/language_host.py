"""``pulumi-language-python`` for a Pulumi CLI that ships without one.

The official distribution bundles a Go language host next to ``pulumi``; the CLI we build from
the Go module ``github.com/pulumi/pulumi/pkg/v3`` has none (its module is not on the proxy),
so ``pulumi preview`` / ``pulumi up`` would stop at "no language plugin 'pulumi-language-python'
found". This is that plugin, built on the SDK's own inline language server (the one the
Automation API serves, ``pulumi.automation._server.LanguageServer``: private, hence the exact
pin ``pulumi==3.272.0`` and the tests in ``tests/llm_vault/test_language_host.py``), with
``Run`` pointed at the program the CLI names in its ``ProgramInfo`` (root directory, program
directory, entry point: ``Pulumi.yaml``'s ``main: infra/``).

``scripts/bootstrap.sh`` writes ``.venv/bin/pulumi-language-python`` (this module under the
project's interpreter) only when the CLI in use has no language plugin of its own.

The CLI starts it with the engine's address as the last argument and reads the gRPC port from
its first line of output; the program's own output follows on stdout/stderr as usual.
"""

from __future__ import annotations

import os
import runpy
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from pulumi._version import _VERSION as SDK_VERSION
from pulumi.automation._server import LanguageServer
from pulumi.errors import RunError
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

from llm_vault import engine

NO_INSTALL = (
    "pulumi-language-python (llm-vault): nothing to install; the project's dependencies are pinned in "
    "pyproject.toml and installed into .venv by `make bootstrap` (scripts/bootstrap.sh)\n"
)


class ProgramNotRunnable(RunError):
    """The program the CLI names cannot be started (no such file, no ``__main__.py``)."""


def program_path(request: Any) -> tuple[Path, Path]:
    """(project root, file or folder to run) for a RunRequest; raises ProgramNotRunnable.

    ``ProgramInfo`` is what current CLIs send; ``pwd`` + ``program`` is the older form.
    """
    info = request.info
    if info.program_directory:
        root = Path(info.root_directory or info.program_directory)
        entry = Path(info.program_directory) / (info.entry_point or ".")
    else:
        root = Path(request.pwd or ".")
        entry = root / (request.program or ".")
    entry = entry.resolve()
    runnable = entry / "__main__.py" if entry.is_dir() else entry
    if not runnable.is_file():
        raise ProgramNotRunnable(
            f"cannot start the program: {runnable} does not exist (Pulumi.yaml `main` names the program, "
            f"relative to {root})"
        )
    return root.resolve(), entry


def project_program(root: Path, entry: Path, pwd: str) -> Callable[[], None]:
    """The program as the SDK's language server runs it: ``entry`` as ``__main__``, the project
    root first on ``sys.path`` (``infra/__main__.py`` imports ``infra.program``)."""

    def run() -> None:
        os.chdir(pwd or root)
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        # Imported from the project being run (its root is first on sys.path), not from ours.
        from infra.config import ConfigError

        try:
            runpy.run_path(str(entry), run_name="__main__")
        except ConfigError as err:
            # Expected bad input: the same line `llm-vault` prints, without a traceback.
            raise RunError(f"config error: {err}") from None

    return run


class ProgramHost(LanguageServer):
    """The SDK's inline language server, running the program named by each Run request."""

    def __init__(self, engine_address: str) -> None:
        super().__init__(program=lambda: None)
        self.engine_address = engine_address

    def Run(self, request: Any, context: Any) -> Any:
        try:
            root, entry = program_path(request)
        except ProgramNotRunnable as err:
            return language_pb2.RunResponse(error=str(err))
        self.program = project_program(root, entry, request.pwd)
        # The SDK's server is made for the Automation API, whose CLI puts the engine's address
        # first in `args`; a plugin gets it on its command line and `args` are the program's.
        forwarded = language_pb2.RunRequest()
        forwarded.CopyFrom(request)
        del forwarded.args[:]
        forwarded.args.append(self.engine_address)
        response = super().Run(forwarded, context)
        if response.error and not response.bail:
            # The server has already logged the error as a diagnostic: bail, so the CLI does not
            # print it a second time.
            return language_pb2.RunResponse(bail=True)
        return response

    def GetPluginInfo(self, request: Any, context: Any) -> Any:
        return plugin_pb2.PluginInfo(version=SDK_VERSION)

    def InstallDependencies(self, request: Any, context: Any) -> Iterator[Any]:
        yield language_pb2.InstallDependenciesResponse(stdout=NO_INSTALL.encode())


def engine_address(argv: Sequence[str]) -> str:
    """The CLI passes flags (``-tracing``, ...) first and the engine's address last."""
    positional = [a for a in argv if not a.startswith("-")]
    return positional[-1] if positional else ""


def serve(argv: Sequence[str]) -> grpc.Server:
    engine.trim_recorded_stack_traces()  # the same state records as the Automation API path
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=_GRPC_CHANNEL_OPTIONS)
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(ProgramHost(engine_address(argv)), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    return server


def main(argv: Sequence[str] | None = None) -> None:
    server = serve(sys.argv[1:] if argv is None else argv)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:  # how the CLI stops a plugin when it is done: not an error
        server.stop(0)


if __name__ == "__main__":
    main()

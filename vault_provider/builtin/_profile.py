"""Opt-in profile of the provider host, for the benchmark's "where the time goes".

With ``LLM_VAULT_HOST_PROFILE=<folder>`` in the engine's environment, each gRPC call the host
serves runs under cProfile (one profiler per serving thread: cProfile sees only the thread
that enabled it) and its wall time is counted per method. Each thread writes
``host.<pid>.<thread>.pstats`` and ``host.<pid>.<thread>.calls.json`` after every call (outside
the time it counts), because the engine kills the host without letting it flush at exit. The files
hold function names and timings only, never request data. Off (the default), calls run as
they are, at no cost.

Read them with ``benchmarks/bench_program.py --profile``, or ``pstats.Stats(*files)``.
"""

from __future__ import annotations

import cProfile
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ENV = "LLM_VAULT_HOST_PROFILE"

T = TypeVar("T")


class _ThreadProfile:
    def __init__(self, folder: Path) -> None:
        stem = f"host.{os.getpid()}.{threading.get_ident()}"
        self.pstats, self.calls_file = folder / f"{stem}.pstats", folder / f"{stem}.calls.json"
        self.profile = cProfile.Profile()
        self.calls: dict[str, list[float]] = {}  # method -> [count, seconds]

    def flush(self) -> None:
        self.profile.dump_stats(self.pstats)  # dump_stats disables; the next call enables again
        self.calls_file.write_text(json.dumps(self.calls))


class HostProfiler:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._local = threading.local()

    def _mine(self) -> _ThreadProfile:
        mine = getattr(self._local, "profile", None)
        if mine is None:
            mine = self._local.profile = _ThreadProfile(self.folder)
        return mine

    def call(self, method: str, fn: Callable[[], T]) -> T:
        mine = self._mine()
        start = time.perf_counter()
        mine.profile.enable()
        try:
            return fn()
        finally:
            mine.profile.disable()
            count = mine.calls.setdefault(method, [0, 0.0])
            count[0] += 1
            count[1] += time.perf_counter() - start
            mine.flush()


_profiler: HostProfiler | None = None


def profiler() -> HostProfiler | None:
    """The host's profiler when ``LLM_VAULT_HOST_PROFILE`` is set, else None."""
    global _profiler
    folder = os.environ.get(ENV)
    if folder and _profiler is None:
        _profiler = HostProfiler(Path(folder))
    return _profiler


def run(method: str, fn: Callable[[], T]) -> T:
    active = profiler()
    return fn() if active is None else active.call(method, fn)

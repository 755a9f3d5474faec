"""What tests tell the end-of-session summary, whichever pytest-xdist worker ran them.

``make test`` runs the suite on two workers (the 2 cores; most of a test's time is spent waiting
on a server or the engine). Each worker is a process of its own, so a counter or a list of report
lines that a test fills lives in the worker's memory, and the summary is printed by the
controller, which runs no test. A module that reports says so once::

    CRASH_REPORT: list[str] = shared_lines("crash recovery")
    COUNTS: Counter[str] = shared_counter("e2e counts")
    RAN: dict[str, set[str]] = shared_sets("e2e ran")

and fills the object as before. When a worker ends, ``pytest_sessionfinish`` (tests/conftest.py)
hands every shared object to the controller as JSON (``config.workeroutput``), and
``pytest_testnodedown`` merges it into the controller's objects of the same name, which the
terminal summaries then print. Without workers (``-p no:xdist`` or ``-n 0``) the objects are
simply the process's own.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

WORKER_OUTPUT_KEY = "llm_vault_session_report"

_LINES: dict[str, list[str]] = {}
_COUNTERS: dict[str, Counter[str]] = {}
_SETS: dict[str, dict[str, set[str]]] = {}
_MAPS: dict[str, dict[str, str]] = {}


def shared_lines(name: str) -> list[str]:
    return _LINES.setdefault(name, [])


def shared_counter(name: str) -> Counter[str]:
    return _COUNTERS.setdefault(name, Counter())


def shared_sets(name: str) -> dict[str, set[str]]:
    """{key: set of strings}: merged by union."""
    return _SETS.setdefault(name, {})


def shared_map(name: str) -> dict[str, str]:
    """{key: string}: merged by update (every worker computes the same value for a key)."""
    return _MAPS.setdefault(name, {})


def dump() -> str:
    return json.dumps(
        {
            "lines": _LINES,
            "counters": {k: dict(v) for k, v in _COUNTERS.items()},
            "sets": {k: {kk: sorted(vv) for kk, vv in v.items()} for k, v in _SETS.items()},
            "maps": _MAPS,
        }
    )


def merge(text: str) -> None:
    data: dict[str, Any] = json.loads(text)
    for name, lines in data.get("lines", {}).items():
        shared_lines(name).extend(lines)
    for name, counts in data.get("counters", {}).items():
        shared_counter(name).update(counts)
    for name, sets in data.get("sets", {}).items():
        target = shared_sets(name)
        for key, values in sets.items():
            target.setdefault(key, set()).update(values)
    for name, values in data.get("maps", {}).items():
        shared_map(name).update(values)


def write_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The end-of-session sections, printed by the root conftest: a sub-folder's conftest is not
    loaded by the xdist controller (it collects nothing), so the printing lives here."""
    tr = terminalreporter
    ran, only, counts = shared_sets("e2e ran"), shared_map("e2e only"), shared_counter("e2e counts")
    if any(ran.values()) or only:
        tr.write_sep("-", "end-to-end servers")
        for server, passed in sorted(ran.items()):
            tr.write_line(f"e2e on {server}: {len(passed)} tests passed")
        for where, why in sorted(only.items()):
            tr.write_line(f"SUBSET: {where} runs on {why}")
    if counts:
        tr.write_sep("-", "end-to-end counts")
        for name, value in sorted(counts.items()):
            tr.write_line(f"{name}: {value}")
    if counts.get("tokens tried"):
        tr.write_line(
            f"logins: {counts['tokens tried']} tried, {counts.get('near misses refused', 0)} near misses, "
            f"{counts.get('near misses accepted', 0)} accepted"
        )
    if counts.get("attacks tried"):
        tr.write_line(f"attacks: {counts['attacks tried']} tried, {counts.get('attacks succeeded', 0)} succeeded")
    for title in ("crash recovery", "state backends"):
        lines = shared_lines(title)
        if lines:
            tr.write_sep("-", title)
            for line in lines:
                tr.write_line(line)

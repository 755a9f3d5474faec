"""Reports of the engine-level tests of ``llm_vault`` printed at the end of the session."""

from __future__ import annotations

import pytest

# Lines of the crash test (kill points and what each rerun did), for the closing summary.
CRASH_REPORT: list[str] = []
# Lines of the state-backend tests (PostgreSQL), for the closing summary.
BACKEND_REPORT: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for title, lines in (("crash recovery", CRASH_REPORT), ("state backends", BACKEND_REPORT)):
        if lines:
            terminalreporter.write_sep("-", title)
            for line in lines:
                terminalreporter.write_line(line)

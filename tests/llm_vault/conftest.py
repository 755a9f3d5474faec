"""Reports of the engine-level tests of ``llm_vault``, printed at the end of the session
(tests/session_report.py: whichever worker ran them)."""

from __future__ import annotations

from tests.session_report import shared_lines

# Lines of the crash test (kill points and what each rerun did), for the closing summary.
CRASH_REPORT: list[str] = shared_lines("crash recovery")
# Lines of the state-backend tests (PostgreSQL), for the closing summary.
BACKEND_REPORT: list[str] = shared_lines("state backends")

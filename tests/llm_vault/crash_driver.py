"""One engine run of a stack, as a process the crash tests can kill: ``python -m tests.llm_vault.crash_driver SPEC``.

SPEC is a JSON file: ``{"stack", "state_dir", "overrides", "action": "up"|"destroy"|"preview"}``;
the server's address and token come from VAULT_ADDR/VAULT_TOKEN (never from the file). The run
goes through ``llm_vault.automation`` exactly as ``llm-vault up`` does (open_stack recovers, then
refresh + apply), and prints one line per engine step so that the test can pick its kill point
by counting steps instead of sleeping:

    STEP <op> <urn>          a resource step began (resource_pre_event)
    RECOVERED <line>         what open_stack recovered from an interrupted run
    RESULT <json>            the run's change summary (last line of a finished run)
    ERROR <line>             the run failed (exit 4)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from pulumi.automation import events

from llm_vault import automation


def _emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _on_event(event: events.EngineEvent) -> None:
    pre = event.resource_pre_event
    if pre is not None and pre.metadata is not None:
        op = pre.metadata.op.value if hasattr(pre.metadata.op, "value") else str(pre.metadata.op)
        _emit(f"STEP {op} {pre.metadata.urn}")


def main(spec_path: str) -> int:
    spec: dict[str, Any] = json.loads(Path(spec_path).read_text())
    target = automation.StackTarget(
        stack=spec["stack"],
        state_dir=Path(spec["state_dir"]),
        overrides=spec.get("overrides") or {},
        env={k: os.environ[k] for k in ("VAULT_ADDR", "VAULT_TOKEN")},
    )
    try:
        # As the CLI opens it: a preview may hold a read-only state credential.
        stack = automation.open_stack(
            target, say=lambda line: _emit(f"RECOVERED {line}"), read_only_ok=spec["action"] == "preview"
        )
        if spec["action"] == "destroy":
            result: Any = automation.refresh_then_destroy(stack, on_event=_on_event)
            changes = dict(result.summary.resource_changes or {})
        elif spec["action"] == "preview":
            preview = automation.refresh_then_preview(stack, on_event=_on_event)
            changes = dict(preview.change_summary or {})
        else:
            result = automation.refresh_then_up(stack, on_event=_on_event)
            changes = dict(result.summary.resource_changes or {})
    except (automation.auto.CommandError, automation.BackendConfigError) as exc:  # EngineError, StackLockedError
        _emit(f"ERROR {exc}")
        return 4
    _emit("RESULT " + json.dumps({str(getattr(k, "value", k)): v for k, v in changes.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))

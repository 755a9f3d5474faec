"""One engine run in its own process, for the crash tests to SIGKILL (the whole process group, as
a lost runner or a reboot does). Usage: ``python -m tests.llm_vault.crash_runner <spec.json> up|preview|destroy``.

The spec names the stack, its state folder and this run's overrides; the server's address and
token come from VAULT_ADDR / VAULT_TOKEN in the environment (never from a file). Every line of the
engine's output is printed at once, so that the parent can kill at a chosen step.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from llm_vault import automation


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    target = automation.StackTarget(
        stack=spec["stack"],
        state_dir=Path(spec["state_dir"]),
        overrides=spec["overrides"],
        env={"VAULT_ADDR": os.environ["VAULT_ADDR"], "VAULT_TOKEN": os.environ["VAULT_TOKEN"]},
    )
    stack = automation.open_stack(target)

    def say(line: str) -> None:
        sys.stdout.write(line if line.endswith("\n") else line + "\n")
        sys.stdout.flush()

    if sys.argv[2] == "preview":
        result = automation.refresh_then_preview(stack, on_output=say)
        say(f"CHANGES {json.dumps(result.change_summary)}")
    elif sys.argv[2] == "destroy":
        automation.refresh_then_destroy(stack, on_output=say)
    else:
        up = automation.refresh_then_up(stack, on_output=say)
        say(f"CHANGES {json.dumps(up.summary.resource_changes or {})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The github-script bodies of preview.yml and drift.yml, run under Node against a fake GitHub API.

They hold the pipeline's only logic on GitHub's side: one comment per stack on a pull request,
one drift issue per stack. The script text is taken from the workflow file itself, so what is
tested is what runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from llm_vault import toolchain

WORKFLOW_DIR = toolchain.REPO_ROOT / ".github" / "workflows"
BOT = "github-actions[bot]"
WRITES = {"createComment", "updateComment", "update", "create", "createLabel"}

# Stands in for actions/github-script: the script body runs as an async function with the same
# names in scope; every API call is recorded and answered from the fixture.
HARNESS = r"""
const fs = require('fs');
const fixture = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const body = fs.readFileSync(process.argv[3], 'utf8');
const calls = [];
const warnings = [];
const api = (name, answer) => async (params) => {
  calls.push([name, params]);
  return answer ? answer(params) : { data: {} };
};
const github = {
  paginate: async (fn, params) => (await fn(params)).data,
  rest: { issues: {
    listComments: api('listComments', () => ({ data: fixture.comments || [] })),
    createComment: api('createComment'),
    updateComment: api('updateComment'),
    listForRepo: api('listForRepo', (p) => ({
      data: (fixture.issues || []).filter((i) => i.state === p.state && i.labels.includes(p.labels)),
    })),
    update: api('update'),
    create: api('create'),
    getLabel: api('getLabel', () => {
      if (fixture.labelExists) return { data: {} };
      const error = new Error('Not Found');
      error.status = 404;
      throw error;
    }),
    createLabel: api('createLabel'),
  } },
};
const context = {
  repo: { owner: 'acme-ai', repo: 'llm-platform' },
  issue: { number: 7 },
  runId: 42,
  serverUrl: 'https://github.com',
  payload: { pull_request: { head: { sha: '0123abc' } } },
};
const core = { warning: (message) => warnings.push(message) };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
new AsyncFunction('require', 'github', 'context', 'core', body)(require, github, context, core)
  .then(() => console.log(JSON.stringify({ calls, warnings })))
  .catch((error) => { console.error(error); process.exit(1); });
"""


def _script(workflow: str, job: str) -> str:
    steps = yaml.safe_load((WORKFLOW_DIR / workflow).read_text())["jobs"][job]["steps"]
    (script,) = [s["with"]["script"] for s in steps if s.get("uses", "").startswith("actions/github-script@")]
    return str(script)


def _run(workflow: str, job: str, cwd: Path, stack: str, fixture: dict[str, Any]) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH: the github-script bodies were not exercised")
    (cwd / "fixture.json").write_text(json.dumps(fixture))
    (cwd / "script.js").write_text(_script(workflow, job))
    (cwd / "harness.js").write_text(HARNESS)
    result = subprocess.run(
        [node, "harness.js", "fixture.json", "script.js"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "STACK": stack},
    )
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def _writes(outcome: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, params) for name, params in outcome["calls"] if name in WRITES]


# --------------------------------------------------------------------------------------------------
# preview.yml: one comment per stack


def _preview(tmp_path: Path, stack: str, report: str | None, comments: list[dict[str, Any]]) -> dict[str, Any]:
    if report is not None:
        (tmp_path / "report").mkdir()
        (tmp_path / "report" / f"preview-{stack}.md").write_text(report)
    return _run("preview.yml", "comment", tmp_path, stack, {"comments": comments})


def test_first_preview_creates_a_comment_with_the_marker_and_the_report(tmp_path):
    outcome = _preview(tmp_path, "dev", "## Preview of dev\n+ 2 to create", comments=[])
    [(name, params)] = _writes(outcome)
    assert name == "createComment"
    assert params["issue_number"] == 7
    assert params["body"].startswith("<!-- llm-vault-preview:dev -->\n## Preview of dev\n+ 2 to create")
    assert "0123abc" in params["body"]


def test_next_preview_updates_its_own_comment_of_that_stack_only(tmp_path):
    comments = [
        {"id": 1, "user": {"login": "alice"}, "body": "why does <!-- llm-vault-preview:dev --> show this?"},
        {"id": 2, "user": {"login": BOT}, "body": "<!-- llm-vault-preview:staging -->\nold staging"},
        {"id": 3, "user": {"login": BOT}, "body": "<!-- llm-vault-preview:dev -->\nold dev"},
    ]
    outcome = _preview(tmp_path, "dev", "## Preview of dev\nno changes", comments)
    [(name, params)] = _writes(outcome)
    assert name == "updateComment"
    assert params["comment_id"] == 3
    assert "no changes" in params["body"]


def test_a_person_quoting_the_marker_does_not_get_their_comment_overwritten(tmp_path):
    comments = [{"id": 1, "user": {"login": "alice"}, "body": "<!-- llm-vault-preview:prod -->"}]
    outcome = _preview(tmp_path, "prod", "## Preview of prod", comments)
    assert [name for name, _ in _writes(outcome)] == ["createComment"]


def test_a_failed_preview_replaces_the_old_report_with_a_failure_note(tmp_path):
    comments = [{"id": 5, "user": {"login": BOT}, "body": "<!-- llm-vault-preview:staging -->\nall good"}]
    outcome = _preview(tmp_path, "staging", None, comments)
    [(name, params)] = _writes(outcome)
    assert name == "updateComment"
    assert params["comment_id"] == 5
    assert "failed" in params["body"]
    assert "all good" not in params["body"]
    assert "https://github.com/acme-ai/llm-platform/actions/runs/42" in params["body"]


def test_a_report_too_long_for_a_comment_is_truncated_below_githubs_limit(tmp_path):
    outcome = _preview(tmp_path, "dev", "x" * 100_000, comments=[])
    [(_, params)] = _writes(outcome)
    assert len(params["body"]) < 65_536
    assert "truncated" in params["body"]


# --------------------------------------------------------------------------------------------------
# drift.yml: one issue per stack


def _drift(
    tmp_path: Path,
    stack: str,
    exit_code: str | None,
    issues: list[dict[str, Any]],
    *,
    report: str = "## Drift\n~ policy openai-llm-ci changed",
    label_exists: bool = True,
) -> dict[str, Any]:
    if exit_code is not None:
        (tmp_path / "drift").mkdir()
        (tmp_path / "drift" / "exit-code").write_text(f"{exit_code}\n")
        (tmp_path / "drift" / f"drift-{stack}.md").write_text(report)
    return _run("drift.yml", "report", tmp_path, stack, {"issues": issues, "labelExists": label_exists})


def _issue(number: int, stack: str) -> dict[str, Any]:
    return {
        "number": number,
        "title": f"Drift: Vault differs from main in stack {stack}",
        "state": "open",
        "labels": ["llm-vault-drift"],
    }


def test_drift_opens_one_labelled_issue_with_the_report_creating_the_label_first(tmp_path):
    outcome = _drift(tmp_path, "prod", "2", issues=[], label_exists=False)
    writes = _writes(outcome)
    assert [name for name, _ in writes] == ["createLabel", "create"]
    assert writes[0][1]["name"] == "llm-vault-drift"
    issue = writes[1][1]
    assert issue["title"] == "Drift: Vault differs from main in stack prod"
    assert issue["labels"] == ["llm-vault-drift"]
    assert "~ policy openai-llm-ci changed" in issue["body"]


def test_drift_again_updates_the_stacks_open_issue_instead_of_opening_another(tmp_path):
    outcome = _drift(tmp_path, "dev", "2", issues=[_issue(11, "staging"), _issue(12, "dev")])
    [(name, params)] = _writes(outcome)
    assert name == "update"
    assert params["issue_number"] == 12
    assert "~ policy openai-llm-ci changed" in params["body"]


def test_a_stack_that_matches_again_gets_its_issue_closed_with_a_note(tmp_path):
    outcome = _drift(tmp_path, "staging", "0", issues=[_issue(11, "staging"), _issue(12, "dev")])
    writes = _writes(outcome)
    assert [name for name, _ in writes] == ["createComment", "update"]
    assert writes[0][1]["issue_number"] == 11
    assert (writes[1][1]["issue_number"], writes[1][1]["state"]) == (11, "closed")


def test_no_drift_and_no_issue_writes_nothing(tmp_path):
    assert _writes(_drift(tmp_path, "dev", "0", issues=[])) == []


@pytest.mark.parametrize("exit_code", ["1", None], ids=["check-failed", "check-never-ran"])
def test_a_check_that_failed_leaves_the_issue_alone_and_warns(tmp_path, exit_code):
    outcome = _drift(tmp_path, "dev", exit_code, issues=[_issue(12, "dev")])
    assert _writes(outcome) == []
    assert len(outcome["warnings"]) == 1

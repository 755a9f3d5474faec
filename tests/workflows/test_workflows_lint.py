"""The GitHub Actions workflows: both linters find nothing, and the rules they must keep hold.

Covers ``.github/workflows/*.yml`` and ``examples/consumer-workflow.yml`` (an application
repository's workflow kept outside ``.github`` so that it never runs here).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from llm_vault import toolchain

WORKFLOW_DIR = toolchain.REPO_ROOT / ".github" / "workflows"
CONSUMER_EXAMPLE = toolchain.REPO_ROOT / "examples" / "consumer-workflow.yml"
WORKFLOW_FILES = [*sorted(WORKFLOW_DIR.glob("*.yml")), CONSUMER_EXAMPLE]
STACKS = ("dev", "staging", "prod")  # apply order

VAULT_ACTION = "hashicorp/vault-action"
PULUMI_ACTION = "pulumi/actions"
CHECKOUT_ACTION = "actions/checkout"

_USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)\s*(?P<comment>#.*)?$")
_PINNED = re.compile(r"^(?P<action>[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+)@(?P<sha>[0-9a-f]{40})$")
_VERSION_COMMENT = re.compile(r"^#\s*v\d+\.\d+\.\d+$")


# --------------------------------------------------------------------------------------------------
# helpers


def _rel(path: Path) -> str:
    return str(path.relative_to(toolchain.REPO_ROOT))


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{_rel(path)} is not a YAML mapping"
    return data


def _triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    on = workflow.get("on", workflow.get(True))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    assert isinstance(on, dict)
    return on


def _jobs(path: Path) -> dict[str, dict[str, Any]]:
    jobs = _load(path)["jobs"]
    assert isinstance(jobs, dict)
    return jobs


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def _action(step: dict[str, Any]) -> str | None:
    uses = step.get("uses")
    return uses.split("@", 1)[0] if isinstance(uses, str) else None


def _vault_logins() -> list[tuple[Path, str, dict[str, Any], dict[str, Any]]]:
    """(file, job id, job, step) of every vault-action step."""
    found = []
    for path in WORKFLOW_FILES:
        for job_id, job in _jobs(path).items():
            for step in _steps(job):
                if _action(step) == VAULT_ACTION:
                    found.append((path, job_id, job, step))
    return found


def _matrix_values(job: dict[str, Any], expression: str) -> list[str]:
    """A literal, or the values of ``${{ matrix.<key> }}`` over the job's matrix."""
    match = re.fullmatch(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", expression.strip())
    if not match:
        return [expression]
    return [str(v) for v in job["strategy"]["matrix"][match.group(1)]]


def _stack_bindings(stack: str) -> dict[str, dict[str, Any]]:
    """Raw ``llm-vault:github`` bindings of ``Pulumi.<stack>.yaml``, by role.

    Read raw (not through infra.config) so that this test depends only on the stack files' values.
    """
    config = _load(toolchain.REPO_ROOT / f"Pulumi.{stack}.yaml")["config"]
    bindings = config.get("llm-vault:github", {}).get("bindings", [])
    return {b["role"]: b for b in bindings}


def _stack_namespace(stack: str) -> str:
    return str(_load(toolchain.REPO_ROOT / f"Pulumi.{stack}.yaml")["config"]["llm-vault:namespace"])


def _findings(result: subprocess.CompletedProcess[str]) -> str:
    return (result.stdout + result.stderr).strip()


# --------------------------------------------------------------------------------------------------
# linters


def test_the_pipeline_workflows_exist():
    assert {p.stem for p in WORKFLOW_DIR.glob("*.yml")} == {"apply", "drift", "preview", "tests"}
    assert CONSUMER_EXAMPLE.is_file()


def _actionlint(*extra: str) -> subprocess.CompletedProcess[str]:
    binary = toolchain.actionlint_bin()
    if not binary.exists():
        pytest.skip(f"actionlint is not built at {binary}: run `make bootstrap`")
    files = [str(p) for p in WORKFLOW_FILES]
    return subprocess.run(
        [str(binary), "-no-color", *extra, *files],
        capture_output=True,
        text=True,
        check=False,
        cwd=toolchain.REPO_ROOT,
    )


def test_actionlint_finds_nothing():
    # shellcheck is switched off here so that this result does not depend on what is on PATH;
    # the next test adds it where it is installed.
    result = _actionlint("-shellcheck=")
    assert result.returncode == 0, f"actionlint findings:\n{_findings(result)}"


def test_actionlint_with_shellcheck_finds_nothing_in_run_scripts():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not on PATH (apt-get install shellcheck): run scripts were not shellchecked")
    result = _actionlint(f"-shellcheck={shellcheck}")
    assert result.returncode == 0, f"actionlint (with shellcheck) findings:\n{_findings(result)}"


def test_zizmor_finds_nothing_offline():
    zizmor = toolchain.venv_bin() / "zizmor"
    if not zizmor.exists():
        pytest.skip(f"zizmor is not installed at {zizmor}: run `make bootstrap` (it is a dev dependency)")
    # Offline: no online audits and no GitHub API. Without a token in the environment it could
    # not authenticate even if it tried.
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN")}
    env["ZIZMOR_OFFLINE"] = "true"
    result = subprocess.run(
        [
            str(zizmor),
            "--offline",
            # The pedantic persona, with no config file and no inline ignores: a finding is fixed in
            # the workflow, or this test is changed where a reviewer sees it.
            "--persona=pedantic",
            "--no-config",
            "--no-ignores",
            "--no-progress",
            "--color=never",
            *(str(p) for p in WORKFLOW_FILES),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=toolchain.REPO_ROOT,
    )
    assert result.returncode == 0, f"zizmor findings (exit {result.returncode}):\n{_findings(result)}"


# --------------------------------------------------------------------------------------------------
# supply chain and permissions


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=_rel)
def test_every_action_is_pinned_by_commit_sha_with_a_version_comment(path: Path):
    lines = [(n, m) for n, line in enumerate(path.read_text().splitlines(), 1) if (m := _USES_LINE.match(line))]
    assert lines, f"{_rel(path)} uses no action at all?"
    for n, match in lines:
        ref, comment = match.group("ref"), (match.group("comment") or "").strip()
        assert _PINNED.match(ref), f"{_rel(path)}:{n}: {ref} is not pinned by a full 40-hex commit SHA"
        assert _VERSION_COMMENT.match(comment), f"{_rel(path)}:{n}: {ref} lacks a '# vX.Y.Z' comment"


def test_each_action_has_one_pin_everywhere():
    pins: dict[str, set[str]] = {}
    for path in WORKFLOW_FILES:
        for line in path.read_text().splitlines():
            if (m := _USES_LINE.match(line)) and (p := _PINNED.match(m.group("ref"))):
                pins.setdefault(p.group("action"), set()).add(f"{p.group('sha')} {m.group('comment')}")
    assert {a: v for a, v in pins.items() if len(v) > 1} == {}


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=_rel)
def test_top_level_permissions_are_empty_and_every_job_declares_its_own(path: Path):
    workflow = _load(path)
    assert "permissions" in workflow and workflow["permissions"] == {}, f"{_rel(path)}: top level needs `{{}}`"
    for job_id, job in workflow["jobs"].items():
        assert isinstance(job.get("permissions"), dict), f"{_rel(path)}: job {job_id} declares no permissions"
        assert "write-all" not in json.dumps(job["permissions"])


def test_only_jobs_that_log_in_to_vault_may_request_an_oidc_token():
    for path in WORKFLOW_FILES:
        for job_id, job in _jobs(path).items():
            logs_in = any(_action(s) == VAULT_ACTION for s in _steps(job))
            asks = job["permissions"].get("id-token") == "write"
            assert logs_in == asks, f"{_rel(path)}: job {job_id} id-token: write={asks}, logs in={logs_in}"


def test_a_job_that_can_write_to_github_runs_no_checked_out_code_and_holds_no_vault_token():
    # Pull-request code runs in the preview job; the job that comments must never be that job.
    for path in WORKFLOW_FILES:
        for job_id, job in _jobs(path).items():
            writes = {k for k, v in job["permissions"].items() if v == "write" and k != "id-token"}
            if not writes:
                continue
            actions = {_action(s) for s in _steps(job)}
            assert CHECKOUT_ACTION not in actions, f"{_rel(path)}: {job_id} can write {writes} and checks out code"
            assert VAULT_ACTION not in actions, f"{_rel(path)}: {job_id} can write {writes} and logs in to Vault"
            runs = any("run" in s for s in _steps(job))
            assert not runs, f"{_rel(path)}: {job_id} can write {writes} and runs scripts"


def test_checkout_never_persists_the_github_token():
    for path in WORKFLOW_FILES:
        for job_id, job in _jobs(path).items():
            for step in _steps(job):
                if _action(step) == CHECKOUT_ACTION:
                    assert step.get("with", {}).get("persist-credentials") is False, f"{_rel(path)}: {job_id}"


def test_no_expression_is_expanded_inside_a_script():
    # Expressions are expanded into the script text before it runs: values reach scripts as env vars.
    for path in WORKFLOW_FILES:
        for job_id, job in _jobs(path).items():
            for step in _steps(job):
                script = step.get("run") or step.get("with", {}).get("script") or ""
                assert "${{" not in script, f"{_rel(path)}: job {job_id}, step {step.get('name')!r}"


# --------------------------------------------------------------------------------------------------
# toolchain


def test_workflows_install_the_pulumi_cli_of_tools_versions_env():
    versions = {}
    for path in WORKFLOW_FILES:
        for job_id, job in _jobs(path).items():
            actions = [_action(s) for s in _steps(job)]
            for step in _steps(job):
                if _action(step) == PULUMI_ACTION:
                    versions[f"{_rel(path)}:{job_id}"] = str(step.get("with", {}).get("pulumi-version"))
            if any("make bootstrap" in s.get("run", "") for s in _steps(job)):
                # Without the official CLI on PATH, bootstrap would build the CLI from source.
                bootstrap = next(i for i, s in enumerate(_steps(job)) if "make bootstrap" in s.get("run", ""))
                assert PULUMI_ACTION in actions[:bootstrap], f"{_rel(path)}: {job_id} bootstraps without the CLI"
    assert versions, "no workflow installs the Pulumi CLI"
    assert {k: v for k, v in versions.items() if v != toolchain.PULUMI_VERSION} == {}, (
        f"tools/versions.env pins PULUMI_VERSION={toolchain.PULUMI_VERSION}"
    )


# --------------------------------------------------------------------------------------------------
# Vault logins


def test_vault_logins_use_github_oidc_with_an_explicit_audience():
    logins = _vault_logins()
    assert logins
    for path, job_id, _job, step in logins:
        where = f"{_rel(path)}: job {job_id}"
        inputs = step.get("with", {})
        assert inputs.get("method") == "jwt", where
        # vault-action's own default audience is "sigstore"; GitHub's is the owner URL.
        assert str(inputs.get("jwtGithubAudience", "")).startswith("https://"), f"{where}: audience"
        # Only GitHub's OIDC token: no stored Vault token, no GitHub token posing as a JWT.
        assert not {"token", "githubToken", "jwtPrivateKey", "roleId", "secretId"} & set(inputs), where
        assert "GITHUB_TOKEN" not in json.dumps(inputs) and "github.token" not in json.dumps(inputs), where
        assert inputs.get("namespace"), f"{where}: log in to the stack's namespace"


@pytest.mark.parametrize(
    ("workflow", "role"),
    [("preview", "llm-vault-preview"), ("apply", "llm-vault-apply"), ("drift", "llm-vault-drift")],
)
def test_each_pipeline_workflow_logs_in_with_its_own_role(workflow: str, role: str):
    roles = {s["with"]["role"] for p, _, _, s in _vault_logins() if p == WORKFLOW_DIR / f"{workflow}.yml"}
    assert roles == {role}


def _login_cases() -> list[Any]:
    """One case per (workflow, job, stack) login, with the subject kind GitHub will send."""
    cases = []
    for path, job_id, job, step in _vault_logins():
        triggers = set(_triggers(_load(path)))
        for namespace in _matrix_values(job, str(step["with"]["namespace"])):
            stack = next((s for s in STACKS if _stack_namespace(s) == namespace), None)
            expected: tuple[str, str | bool]
            if "environment" in job:
                expected = ("environment", str(job["environment"]))
            elif triggers == {"pull_request"}:
                expected = ("pullRequest", True)
            else:  # push to main, schedule (runs on the default branch), manual runs checked by Vault
                expected = ("ref", "refs/heads/main")
            case_id = f"{path.stem}:{job_id}:{namespace}"
            cases.append(pytest.param(path, job, step, namespace, stack, expected, id=case_id))
    return cases


@pytest.mark.parametrize(("path", "job", "step", "namespace", "stack", "expected"), _login_cases())
def test_vault_login_matches_a_binding_of_the_stack(path, job, step, namespace, stack, expected):
    """The role the job names exists in the stack's config with the subject and audience GitHub sends."""
    assert stack is not None, f"{_rel(path)} logs in to namespace {namespace!r}, which no Pulumi.<stack>.yaml uses"
    role = step["with"]["role"]
    binding = _stack_bindings(stack).get(role)
    if binding is None:
        pytest.skip(
            f"Pulumi.{stack}.yaml binds no role {role!r} yet: the login in {_rel(path)} cannot succeed "
            f"until a binding with {expected[0]}={expected[1]!r} is added"
        )
    selector, value = expected
    assert binding.get(selector) == value, f"role {role!r} in {stack}: {selector} should be {value!r}"
    assert binding["audience"] == step["with"]["jwtGithubAudience"], f"role {role!r} in {stack}: audience"
    if binding.get("runnerEnvironment", "github-hosted") == "github-hosted":
        assert str(job["runs-on"]).startswith("ubuntu-"), "the role binds runner_environment=github-hosted"


# --------------------------------------------------------------------------------------------------
# the pipeline's shape


def test_apply_runs_dev_then_staging_then_prod_each_in_its_environment():
    jobs = _jobs(WORKFLOW_DIR / "apply.yml")
    assert list(jobs) == list(STACKS)
    assert "needs" not in jobs["dev"]
    assert jobs["staging"]["needs"] == "dev"
    assert jobs["prod"]["needs"] == "staging"
    for stack, job in jobs.items():
        assert job["environment"] == stack
        assert job["concurrency"] == {"group": f"llm-vault-apply-{stack}", "cancel-in-progress": False}
        (login,) = [s for s in _steps(job) if _action(s) == VAULT_ACTION]
        assert login["with"]["namespace"] == _stack_namespace(stack)
        (up,) = [s for s in _steps(job) if "llm-vault up" in s.get("run", "")]
        assert up["env"]["STACK"] == stack and '--stack "$STACK"' in up["run"]


def test_apply_jobs_differ_only_in_their_stack():
    def shape(stack: str, job: dict[str, Any]) -> str:
        rest = {k: v for k, v in job.items() if k not in ("needs", "name")}
        return re.sub(rf"\b{stack}\b", "<stack>", json.dumps(rest, sort_keys=True))

    shapes = {stack: shape(stack, job) for stack, job in _jobs(WORKFLOW_DIR / "apply.yml").items()}
    assert shapes["staging"] == shapes["dev"]
    assert shapes["prod"] == shapes["dev"]


def test_apply_runs_only_for_main():
    assert _triggers(_load(WORKFLOW_DIR / "apply.yml")) == {"push": {"branches": ["main"]}}


@pytest.mark.parametrize("workflow", ["preview", "drift"])
def test_every_stack_is_checked_and_one_failure_hides_no_other(workflow: str):
    stack_files = {p.name.split(".")[1] for p in toolchain.REPO_ROOT.glob("Pulumi.*.yaml")}
    for job in _jobs(WORKFLOW_DIR / f"{workflow}.yml").values():
        assert set(job["strategy"]["matrix"]["stack"]) == stack_files
        assert job["strategy"]["fail-fast"] is False


def test_drift_runs_on_a_schedule_and_by_hand():
    triggers = _triggers(_load(WORKFLOW_DIR / "drift.yml"))
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert any("llm-vault drift" in s.get("run", "") for s in _steps(_jobs(WORKFLOW_DIR / "drift.yml")["drift"]))


def test_preview_runs_on_pull_requests_with_refresh_and_a_report():
    assert set(_triggers(_load(WORKFLOW_DIR / "preview.yml"))) == {"pull_request"}
    (step,) = [s for s in _steps(_jobs(WORKFLOW_DIR / "preview.yml")["preview"]) if "llm-vault" in s.get("run", "")]
    assert re.search(r"llm-vault preview --stack \"\$STACK\" --report \S+", step["run"])


def test_tests_workflow_runs_make_test():
    (job,) = _jobs(WORKFLOW_DIR / "tests.yml").values()
    assert [s["run"] for s in _steps(job) if "run" in s] == ["make bootstrap", "make test"]


def test_consumer_example_reads_secrets_without_exporting_the_vault_token():
    (job,) = _jobs(CONSUMER_EXAMPLE).values()
    assert job["permissions"] == {"id-token": "write", "contents": "read"}
    (login,) = [s for s in _steps(job) if _action(s) == VAULT_ACTION]
    assert login["with"]["role"] == "github-actions"
    assert login["with"]["exportToken"] is False
    mapped = re.findall(r"\|\s*([A-Z_]+)", login["with"]["secrets"])
    assert mapped == ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "HF_TOKEN"]

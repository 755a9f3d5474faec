"""The GitHub Actions workflows: both linters find nothing, and the rules they must keep hold.

Covers ``.github/workflows/*.yml`` and ``examples/consumer-workflow.yml`` (an application
repository's workflow kept outside ``.github`` so that it never runs here).

Every Vault login is checked against the JWT backends the program declares, read from the stack
files (``llm_vault.stackfiles.stack_config``, validated by ``infra.config.load_settings``):
the pipeline's own backends in the root namespace (``llm-vault:pipeline``, one path per stack)
and the applications' backend in each environment's namespace (``llm-vault:github``).
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from infra.config import OidcBinding, Policy, load_settings
from llm_vault import toolchain
from llm_vault.stackfiles import stack_config

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
_MATRIX_EXPRESSION = re.compile(r"\$\{\{\s*matrix\.(\w+)\s*\}\}")
# Capabilities that change something. sudo alone is not one: the preview policy needs it to read sys/audit.
_WRITE_CAPABILITIES = {"create", "update", "patch", "delete"}


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


def _matrix_combinations(job: dict[str, Any]) -> list[dict[str, str]]:
    """Every combination of the job's matrix (``[{}]`` without one)."""
    matrix = job.get("strategy", {}).get("matrix")
    if not matrix:
        return [{}]
    # include/exclude would change the combinations: teach this helper before using them.
    assert not {"include", "exclude"} & set(matrix), "matrix include/exclude is not expanded by these tests"
    keys = sorted(matrix)
    return [dict(zip(keys, map(str, values), strict=True)) for values in itertools.product(*(matrix[k] for k in keys))]


def _expand(value: Any, combination: dict[str, str]) -> Any:
    """``value`` with every ``${{ matrix.<key> }}`` replaced as in that matrix combination."""
    if isinstance(value, str):
        return _MATRIX_EXPRESSION.sub(lambda m: combination[m.group(1)], value)
    if isinstance(value, dict):
        return {k: _expand(v, combination) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, combination) for v in value]
    return value


@dataclass(frozen=True)
class Backend:
    """A JWT auth backend the program declares for one stack: where a workflow can log in."""

    stack: str
    kind: str  # "pipeline" (this project's CI, root namespace) or "application" (llm-vault:github)
    namespace: str | None  # None: the root namespace
    path: str
    bindings: dict[str, OidcBinding]  # by role
    policies: dict[str, Policy]  # the policies the bindings may name, by name in Vault


@functools.cache
def _backends() -> tuple[Backend, ...]:
    """Every JWT backend of every stack, from the stack files through the program's own validation.

    Through ``load_settings`` rather than raw YAML, so that paths are the ones the program mounts
    (defaults included) and a stack file the program would reject fails here too.
    """
    found = []
    for stack in STACKS:
        raw = {k.split(":", 1)[1]: v for k, v in stack_config(stack).items() if k.startswith("llm-vault:")}
        settings = load_settings(raw)
        found.append(
            Backend(
                stack=stack,
                kind="application",
                namespace=settings.namespace,
                path=settings.github.path,
                bindings={b.role: b for b in settings.github.bindings},
                policies={p.name: p for p in settings.policies},
            )
        )
        if settings.pipeline is not None:
            found.append(
                Backend(
                    stack=stack,
                    kind="pipeline",
                    namespace=None,
                    path=settings.pipeline.path,
                    bindings={b.role: b for b in settings.pipeline.bindings},
                    policies={p.name: p for p in settings.pipeline.policies},
                )
            )
    return tuple(found)


def _pipeline_backend(stack: str) -> Backend:
    (backend,) = [b for b in _backends() if b.stack == stack and b.kind == "pipeline"]
    return backend


def _login_backend(inputs: dict[str, Any]) -> Backend | None:
    """The backend a vault-action login reaches: its namespace (none: root) and its path."""
    namespace = str(inputs.get("namespace") or "").strip("/") or None
    path = str(inputs.get("path", "jwt")).strip("/")  # vault-action's default path is "jwt"
    matches = [b for b in _backends() if b.namespace == namespace and b.path == path]
    assert len(matches) <= 1, f"stacks {[b.stack for b in matches]} declare the same backend {namespace}:{path}"
    return matches[0] if matches else None


def _writes(policy: Policy) -> set[str]:
    """The paths on which the policy grants a capability that changes something."""
    paths = set()
    for block in hcl2.loads(policy.text).get("path", []):
        for raw_path, body in block.items():
            if _WRITE_CAPABILITIES & {c.strip('"') for c in body.get("capabilities", [])}:
                paths.add(raw_path.strip('"'))
    return paths


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


def test_only_the_apply_jobs_get_a_state_credential_that_can_write():
    # Preview runs the pull request's own program; with a writable state it could plant anything
    # for the next apply. Preview and drift read the state (a DIY preview takes no lock, saves nothing).
    seen = set()
    for path in WORKFLOW_FILES:
        for job_id, job in _jobs(path).items():
            for step in _steps(job):
                url = (step.get("env") or {}).get("PULUMI_BACKEND_URL")
                if url is None:
                    continue
                seen.add(path.name)
                writable = "secrets.PULUMI_BACKEND_URL }}" in url
                read_only = "secrets.PULUMI_BACKEND_URL_READONLY }}" in url
                assert writable or read_only, f"{_rel(path)}: {job_id}: unexpected backend URL {url!r}"
                assert writable == (path.name == "apply.yml"), f"{_rel(path)}: {job_id} gets {url}"
    assert seen == {"apply.yml", "preview.yml", "drift.yml"}


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
        # Explicit, so that the login's backend is read here and never depends on vault-action's default.
        assert inputs.get("path"), f"{where}: name the auth backend's path"


@pytest.mark.parametrize(
    ("workflow", "role"),
    [("preview", "llm-vault-preview"), ("apply", "llm-vault-apply"), ("drift", "llm-vault-drift")],
)
def test_each_pipeline_workflow_logs_in_with_its_own_role(workflow: str, role: str):
    roles = {s["with"]["role"] for p, _, _, s in _vault_logins() if p == WORKFLOW_DIR / f"{workflow}.yml"}
    assert roles == {role}


def _login_cases(*, pipeline: bool | None = None, environment: bool | None = None) -> list[Any]:
    """One case per login and matrix combination: (file, job and login step as that combination runs them).

    ``pipeline``: only this project's workflows (True) or only the application example (False);
    ``environment``: only jobs that run in a GitHub environment (True) or only jobs that do not.
    """
    cases = []
    for path, job_id, job, step in _vault_logins():
        if pipeline is not None and (path.parent == WORKFLOW_DIR) != pipeline:
            continue
        if environment is not None and ("environment" in job) != environment:
            continue
        for combination in _matrix_combinations(job):
            case_id = ":".join([path.stem, job_id, *combination.values()])
            cases.append(pytest.param(path, _expand(job, combination), _expand(step, combination), id=case_id))
    return cases


def _expected_context(path: Path, job: dict[str, Any]) -> tuple[str, str | None]:
    """(binding kind, value) of the subject GitHub sends for this job, as infra.config names them."""
    if "environment" in job:
        return ("environment", str(job["environment"]))
    if set(_triggers(_load(path))) == {"pull_request"}:
        return ("pull_request", None)
    # Push to main, schedule (runs on the default branch), and manual runs, whose branch Vault checks.
    return ("ref", "refs/heads/main")


@pytest.mark.parametrize(("path", "job", "step"), _login_cases())
def test_vault_login_matches_a_binding_of_the_stack(path: Path, job: dict[str, Any], step: dict[str, Any]):
    """The login reaches a backend some stack declares, whose role takes the subject and audience GitHub sends."""
    inputs = step["with"]
    backend = _login_backend(inputs)
    if backend is None:
        elsewhere = [b for b in _backends() if b.path == str(inputs.get("path")).strip("/")]
        hint = (
            f"; stack {elsewhere[0].stack} declares path {elsewhere[0].path!r} in namespace "
            f"{elsewhere[0].namespace or '(root)'!r}"
            if elsewhere
            else ""
        )
        pytest.fail(
            f"{_rel(path)} logs in at namespace {inputs.get('namespace') or '(root)'!r}, path {inputs.get('path')!r}: "
            f"no Pulumi.<stack>.yaml declares that backend{hint}"
        )
    where = f"role {inputs['role']!r} of {backend.kind} backend {backend.path!r} (stack {backend.stack})"
    binding = backend.bindings.get(inputs["role"])
    assert binding is not None, f"{where} is not bound: Pulumi.{backend.stack}.yaml binds {sorted(backend.bindings)}"

    kind, value = _expected_context(path, job)
    assert (binding.kind, binding.value) == (kind, value), f"{where}: GitHub will send a subject of kind {kind}"
    assert binding.audience == inputs["jwtGithubAudience"], f"{where}: audience"
    if binding.runner_environment == "github-hosted":
        assert str(job["runs-on"]).startswith("ubuntu-"), f"{where} binds runner_environment=github-hosted"
    triggers = _triggers(_load(path))
    # GitHub's event_name claim is the trigger: the role must accept every trigger of the workflow.
    assert set(triggers) <= set(binding.bound_claims["event_name"]), f"{where}: binds events {binding.events}"
    if binding.job_workflow_ref is not None:
        # GitHub's job_workflow_ref claim: <owner>/<repo>/<file>@<ref>. Only a workflow that runs on
        # main alone can match one fixed ref: pushes to main, schedules (the default branch), and
        # manual runs, which the subject's ref pins to main.
        assert set(triggers) <= {"push", "schedule", "workflow_dispatch"}, f"{where} binds job_workflow_ref"
        assert triggers.get("push") in (None, {"branches": ["main"]}), f"{where} binds job_workflow_ref"
        expected_ref = f"{binding.repository}/{_rel(path)}@refs/heads/main"
        assert binding.job_workflow_ref == expected_ref, f"{where}: job_workflow_ref should be {expected_ref!r}"

    # The token is only good for the stack the login was made for: the step that uses it must
    # work on that stack (its policies are llm-vault-*-<stack>).
    for s in _steps(job):
        if "llm-vault " in s.get("run", ""):
            assert s.get("env", {}).get("STACK") == backend.stack, f"{_rel(path)}: step {s.get('name')!r}"


@pytest.mark.parametrize(("path", "job", "step"), _login_cases(pipeline=True))
def test_pipeline_logins_are_made_in_the_root_namespace(path: Path, job: dict[str, Any], step: dict[str, Any]):
    # The pipeline manages the environment's namespace object and the root audit device: a token
    # from inside the namespace could not even read them.
    assert "namespace" not in step["with"], f"{_rel(path)}: the pipeline's roles live in the root namespace"
    pipeline_paths = {b.path for b in _backends() if b.kind == "pipeline"}
    assert step["with"]["path"] in pipeline_paths, f"{_rel(path)}: log in at one of {sorted(pipeline_paths)}"
    assert any("llm-vault " in s.get("run", "") for s in _steps(job)), f"{_rel(path)}: a login that runs nothing"
    # Nor may a later step move the root token into a namespace: the program's namespaces are relative to root.
    for s in _steps(job):
        assert not [k for k in s.get("env", {}) if "NAMESPACE" in k], f"{_rel(path)}: step {s.get('name')!r}"


@pytest.mark.parametrize(("path", "job", "step"), _login_cases(pipeline=False))
def test_application_logins_are_made_in_their_environments_namespace(
    path: Path, job: dict[str, Any], step: dict[str, Any]
):
    backend = _login_backend(step["with"])
    assert backend is not None and backend.kind == "application", f"{_rel(path)}: {backend}"
    assert backend.namespace, f"{_rel(path)}: the stacks keep applications in a namespace"


@pytest.mark.parametrize("stack", STACKS)
def test_the_apply_role_is_bound_to_apply_yml_on_main(stack: str):
    # Without it, any workflow of the repository that names the environment could get the apply token.
    applies = [b for b in _pipeline_backend(stack).bindings.values() if b.kind == "environment"]
    assert applies, f"Pulumi.{stack}.yaml binds no environment-bound pipeline role"
    for binding in applies:
        expected = f"{binding.repository}/.github/workflows/apply.yml@refs/heads/main"
        assert binding.job_workflow_ref == expected, f"{binding.role} in {stack}: jobWorkflowRef"


@pytest.mark.parametrize(("path", "job", "step"), _login_cases(pipeline=True, environment=False))
def test_a_pipeline_login_outside_a_github_environment_gets_a_read_only_token(
    path: Path, job: dict[str, Any], step: dict[str, Any]
):
    # Pull requests run the code under review: their token, and the drift check's, may read but not change.
    backend = _login_backend(step["with"])
    assert backend is not None and step["with"]["role"] in backend.bindings, "see test_vault_login_matches_a_binding"
    for name in backend.bindings[step["with"]["role"]].policies:
        assert _writes(backend.policies[name]) == set(), f"{_rel(path)}: policy {name} can change Vault"


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
        assert "namespace" not in login["with"]
        assert login["with"]["path"] == _pipeline_backend(stack).path
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


def test_consumer_example_revokes_its_vault_token_at_the_end_of_the_job():
    (job,) = _jobs(CONSUMER_EXAMPLE).values()
    steps = _steps(job)
    (login,) = [s for s in steps if _action(s) == VAULT_ACTION]
    assert login["with"]["outputToken"] is True
    revoke = steps[-1]
    assert revoke["if"].startswith("${{ always()")  # also after a failed smoke test
    assert revoke["env"]["VAULT_TOKEN"] == f"${{{{ steps.{login['id']}.outputs.vault_token }}}}"
    assert revoke["env"]["VAULT_NAMESPACE"] == login["with"]["namespace"]
    assert "auth/token/revoke-self" in revoke["run"] and "${{" not in revoke["run"]
    # No other step is handed the token.
    others = [s for s in steps if s is not revoke]
    assert not any("outputs.vault_token" in json.dumps(s) for s in others)

"""The program, run under Pulumi mocks for each checked-in stack file and both provider backends."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import MISSING, fields
from typing import Any

import pytest
import yaml

import infra.program
from infra.config import GITHUB_ISSUER, POLICY_DIR, OidcBinding, load_settings, parse_duration
from llm_vault.stackfiles import STACKS, stack_config, stack_file
from tests.infra.mock_program import MockedResource, ProgramRun, run_program
from vault_provider import args as a
from vault_provider.builtin.jwt import role_entries

BACKENDS = ("builtin", "pulumi_vault")


def _cfg(stack: str, key: str) -> Any:
    return stack_config(stack)[f"llm-vault:{key}"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_declares_its_full_object_set(program_run, stack: str, backend: str) -> None:
    run: ProgramRun = program_run(stack, backend=backend)
    kinds = Counter(type(d.args).__name__ for d in run.declared)
    policy_files = list(POLICY_DIR.glob("*.hcl")) + list((POLICY_DIR / "pipeline").glob("*.hcl"))
    bindings = _cfg(stack, "github")["bindings"] + _cfg(stack, "pipeline")["bindings"]
    assert kinds == {
        "NamespaceArgs": 1,
        "PolicyArgs": len(policy_files),
        "MountArgs": 1,
        "KvV2ConfigArgs": 1,
        "KvMetadataArgs": len(_cfg(stack, "kv")["secrets"]),
        "AuthBackendArgs": 3,  # jwt for GitHub Actions, approle for model runners, jwt for this pipeline
        "JwtAuthConfigArgs": 2,
        "JwtAuthRoleSetArgs": 2,  # the roles of each JWT backend, one per binding, in one resource
        "TokenRoleArgs": 1,
        "AppRoleRoleArgs": 1,
        "AuditArgs": 1,
    }
    assert len(run.records(a.JwtAuthRoleArgs)) == len(bindings)
    # The backend turned every record into one resource of the same name; the official one has no
    # role set, and declares a component of that name with one role resource per binding, each
    # under the name it had before sets.
    custom = {m.name for m in run.mocked if not m.type.startswith(("llmvault:", "llm-vault:official:"))}
    sets = {d.name: d.args for d in run.declared if isinstance(d.args, a.JwtAuthRoleSetArgs)}
    if backend == "builtin":
        assert custom == {d.name for d in run.declared}
    else:
        members = {a.role_set_member_name(name, r.role_name) for name, s in sets.items() for r in s.roles}
        assert custom == {d.name for d in run.declared} - set(sets) | members
        assert members == {f"{name.removesuffix('-roles')}-role-{b['role']}" for name in sets
                           for b in _cfg(stack, "github" if name == "github-roles" else "pipeline")["bindings"]}


@pytest.mark.parametrize("stack", STACKS)
def test_both_backends_declare_the_same_objects_with_the_same_settings(program_run, stack: str) -> None:
    builtin, official = program_run(stack, backend="builtin"), program_run(stack, backend="pulumi_vault")
    assert [(d.name, d.args) for d in builtin.declared] == [(d.name, d.args) for d in official.declared]
    for run, view in ((builtin, _builtin_view), (official, _official_view)):
        by_name = {m.name: m for m in run.mocked}
        for d in run.declared:
            if isinstance(d.args, a.JwtAuthRoleSetArgs):
                _assert_role_set_declared(d.name, d.args, by_name, official=view is _official_view)
                continue
            expected, seen = a.as_props(d.args), view(type(d.args), by_name[d.name])
            if view is _official_view:
                # A builtin-provider check with no pulumi-vault counterpart (docs/security.md).
                expected.pop("keep_history", None)
                seen.pop("keep_history", None)
            assert seen == expected, f"{run.declared[0]}: {d.name}"


@pytest.mark.parametrize("stack", STACKS)
def test_validated_settings_declare_what_the_engines_config_declares_without_reading_it(
    program_run, stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Our runner validates once and hands the program its settings; the engine's copy of the
    # config is then not read at all (it is empty here, and the program still declares it all).
    values = stack_config(stack)
    settings = load_settings({k.split(":", 1)[1]: v for k, v in values.items() if k.startswith("llm-vault:")})
    monkeypatch.setattr(infra.program, "load_stack_settings", lambda: pytest.fail("the program parsed config again"))
    given = run_program({}, stack=stack, monkeypatch=monkeypatch, settings=settings)
    monkeypatch.undo()
    from_engine = program_run(stack)
    assert [(d.name, d.args) for d in given.declared] == [(d.name, d.args) for d in from_engine.declared]
    assert len(given.declared) > 10


def test_the_first_binding_is_ci_on_main_reading_its_environment(program_run) -> None:
    run = program_run("dev")
    role = run.records(a.JwtAuthRoleArgs)[0]
    assert role.role_name == "github-actions"
    assert role.bound_subject == "repo:acme-ai/llm-platform:ref:refs/heads/main"
    assert role.token_policies == ("openai-llm-ci",)


@pytest.mark.parametrize("stack", STACKS)
def test_every_github_role_has_the_secure_defaults(program_run, stack: str) -> None:
    run = program_run(stack)
    bindings = _cfg(stack, "github")["bindings"] + _cfg(stack, "pipeline")["bindings"]
    roles = run.records(a.JwtAuthRoleArgs)
    assert [r.role_name for r in roles] == [b["role"] for b in bindings]
    for role, binding in zip(roles, bindings, strict=True):
        assert role.role_type == "jwt"
        assert role.bound_audiences == (binding["audience"],)
        assert role.bound_subject.startswith(f"repo:{binding['repository']}:")
        assert not re.search(r"[*?]", role.bound_subject), "exact subjects only"
        assert role.user_claim == "actor_id", "the account's immutable id, not its renamable name"
        # Glob matching, for the one deliberate pattern: an unpinned job_workflow_ref.
        assert role.bound_claims_type == "glob"
        for name, value in role.bound_claims.items():
            values = value if isinstance(value, list) else [value]
            if name != "job_workflow_ref" or "jobWorkflowRef" in binding:
                assert not any("*" in v for v in values), f"{name} must match exactly"
        assert role.bound_claims["job_workflow_ref"] in (
            binding.get("jobWorkflowRef"), f"{binding['repository']}/*"
        ), "a job runs this repository's own workflow code, never a reusable workflow from elsewhere"
        events = role.bound_claims["event_name"]
        assert isinstance(events, list) and events
        assert not {"pull_request_target", "workflow_run", "issue_comment"} & set(events)
        assert role.bound_claims["repository_id"] == binding["repositoryId"]
        assert role.bound_claims["repository_owner_id"] == binding["ownerId"]
        assert role.bound_claims["runner_environment"] == "github-hosted"
        # 15 minutes unless the binding says otherwise, never over the 1 h ceiling, never renewable past it.
        assert role.token_ttl == parse_duration(binding.get("ttl", "15m"), "ttl") <= 3600
        assert role.token_ttl == role.token_max_ttl == role.token_explicit_max_ttl


def test_ci_tokens_live_15_minutes(program_run) -> None:
    role = program_run("prod").records(a.JwtAuthRoleArgs)[0]
    assert (role.token_ttl, role.token_max_ttl, role.token_explicit_max_ttl) == (900, 900, 900)


def test_jwt_backends_trust_github_actions_by_default(program_run) -> None:
    for config in program_run("prod").records(a.JwtAuthConfigArgs):
        assert config.oidc_discovery_url == GITHUB_ISSUER
        assert config.bound_issuer == GITHUB_ISSUER


def test_discovery_url_can_point_at_a_local_issuer(program_run) -> None:
    local = "http://127.0.0.1:8200"

    def edit(values: dict[str, Any]) -> None:
        values["llm-vault:github"]["oidcDiscoveryUrl"] = local

    configs = program_run("dev", edit=edit).records(a.JwtAuthConfigArgs)
    assert [(c.oidc_discovery_url, c.bound_issuer) for c in configs] == [(local, local)] * 2


@pytest.mark.parametrize("stack", STACKS)
def test_everything_but_audit_and_pipeline_lives_in_the_environment_namespace(program_run, stack: str) -> None:
    run = program_run(stack)
    assert run.one(a.NamespaceArgs) == a.NamespaceArgs(path=stack, namespace=None)
    for d in run.declared:
        # Audit devices live in the root namespace; so does the pipeline that manages them.
        if isinstance(d.args, a.AuditArgs | a.NamespaceArgs) or d.name.startswith("pipeline-"):
            assert d.args.namespace is None, d.name
        else:
            assert d.args.namespace == stack, d.name


def test_pipeline_objects_do_not_clash_between_stacks_on_one_server(program_run) -> None:
    root_objects: dict[str, set[tuple[str, str]]] = {}
    for stack in STACKS:
        run = program_run(stack)
        root_objects[stack] = {
            (type(d.args).__name__, getattr(d.args, "name", "") or getattr(d.args, "path", "")
             or f"{getattr(d.args, 'backend', '')}/{getattr(d.args, 'role_name', '')}")
            for d in run.declared if d.args.namespace is None and not isinstance(d.args, a.NamespaceArgs)
        }
    assert not root_objects["dev"] & root_objects["staging"]
    assert not root_objects["staging"] & root_objects["prod"]


def test_pipeline_roles_preview_on_pull_requests_and_apply_in_the_reviewed_environment(program_run) -> None:
    roles = {r.role_name: r for r in program_run("prod").records(a.JwtAuthRoleArgs) if r.backend.startswith("github-")}
    assert roles["llm-vault-preview"].bound_subject == "repo:acme-ai/llm-vault:pull_request"
    assert roles["llm-vault-preview"].token_policies == ("llm-vault-preview-prod",)
    assert roles["llm-vault-drift"].bound_subject == "repo:acme-ai/llm-vault:ref:refs/heads/main"
    assert roles["llm-vault-apply"].bound_subject == "repo:acme-ai/llm-vault:environment:prod"
    assert roles["llm-vault-apply"].bound_claims["environment"] == "prod"
    assert roles["llm-vault-apply"].token_policies == ("llm-vault-apply-prod",)


def test_pipeline_policies_name_the_environment_paths_from_the_root(program_run) -> None:
    policies = {p.name: p.policy for p in program_run("staging").records(a.PolicyArgs) if p.namespace is None}
    apply = policies["llm-vault-apply-staging"]
    assert 'path "staging/sys/mounts/openai-llm"' in apply
    assert 'path "sys/namespaces/staging"' in apply
    assert "data/" not in apply.split("#")[-1]  # no secret values
    assert "${" not in apply


def _root_layout(stack: str) -> Any:
    from llm_vault.automation import deep_merge
    from llm_vault.local_job import vault_oss_layout

    def edit(values: dict[str, Any]) -> None:
        values.update(deep_merge(values, vault_oss_layout(stack)))

    return edit


def test_without_a_namespace_nothing_is_namespaced(program_run) -> None:
    run = program_run("dev", edit=_root_layout("dev"))
    assert run.records(a.NamespaceArgs) == []
    assert {d.args.namespace for d in run.declared} == {None}
    assert run.one(a.MountArgs).path == "openai-llm-dev"


def _identity(args: Any) -> tuple[str, ...]:
    """What names a Vault object on the server: its kind and every path or name field it has."""
    fields_ = ("path", "backend", "mount", "role_name", "name")
    return (type(args).__name__, *(str(getattr(args, f, "") or "") for f in fields_))


def test_three_root_layout_stacks_declare_no_object_in_common(program_run) -> None:
    """Vault OSS: the three stacks share one root namespace; nothing one declares is another's."""
    declared = {stack: {_identity(d.args) for d in program_run(stack, edit=_root_layout(stack)).declared}
                for stack in STACKS}
    for one, other in ((x, y) for i, x in enumerate(STACKS) for y in STACKS[i + 1:]):
        shared = declared[one] & declared[other]
        assert not shared, f"{one} and {other} would both own {shared}"
    # The Pulumi resource names stay those of the namespace layout: a stack's state reads the same in both.
    namespaced = {d.name for d in program_run("dev").declared if not isinstance(d.args, a.NamespaceArgs)}
    assert {d.name for d in program_run("dev", edit=_root_layout("dev")).declared} == namespaced


@pytest.mark.parametrize(("stack", "protected"), [("dev", False), ("staging", True), ("prod", True)])
def test_data_holding_objects_are_protected_in_staging_and_prod(program_run, stack: str, protected: bool) -> None:
    run = program_run(stack)
    protect = {type(d.args).__name__: bool(d.opts.protect) for d in run.declared}
    assert protect["NamespaceArgs"] is protected
    assert protect["MountArgs"] is protected
    unprotected = {k for k, v in protect.items() if not v}
    assert unprotected >= {"PolicyArgs", "JwtAuthRoleSetArgs"}  # config objects stay changeable
    # Deleting the audit device stops the audit trail: a protected change too.
    assert protect["AuditArgs"] is protected


def test_named_objects_are_deleted_before_they_are_replaced(program_run) -> None:
    run = program_run("prod")
    assert all(d.opts.delete_before_replace for d in run.declared)


def test_kv_store_is_versioned_kv2_with_a_catalogue_of_metadata(program_run) -> None:
    run = program_run("prod")
    mount = run.one(a.MountArgs)
    assert (mount.path, mount.type, mount.options) == ("openai-llm", "kv", {"version": "2"})
    config = run.one(a.KvV2ConfigArgs)
    assert (config.max_versions, config.cas_required) == (50, True)
    meta = run.one(a.KvMetadataArgs)
    assert meta.name == "api-keys"
    assert meta.custom_metadata["owner"] == "llm-platform"
    assert meta.custom_metadata["keys"] == "huggingface_token,openai_key,anthropic_key"
    # Metadata only: no field of the record can carry a secret value.
    assert {f.name for f in fields(a.KvMetadataArgs)} & {"data", "data_json", "value"} == set()


def test_policies_come_from_files_named_by_their_stem_with_the_mount_filled_in(program_run) -> None:
    run = program_run("dev")
    policies = {p.name: p.policy for p in run.records(a.PolicyArgs)}
    assert {"openai-llm-ci", "openai-llm-readonly", "openai-llm-operator", "model-runner"} <= set(policies)
    for text in policies.values():
        assert "${kv_mount}" not in text
    assert "openai-llm/" in policies["openai-llm-ci"]


def test_ci_policy_cannot_create_tokens(program_run) -> None:
    ci = {p.name: p.policy for p in program_run("dev").records(a.PolicyArgs)}["openai-llm-ci"]
    granted = [line for line in ci.splitlines() if line.strip().startswith("path ")]
    assert granted and not [line for line in granted if "auth/token" in line or "sys/" in line]


def test_short_lived_tokens_carry_only_the_readonly_policy(program_run) -> None:
    role = program_run("dev").one(a.TokenRoleArgs)
    assert role.role_name == "openai-llm-readonly"
    assert role.allowed_policies == ("openai-llm-readonly",)
    assert role.renewable and not role.orphan
    assert role.token_explicit_max_ttl == 3600


def test_model_runner_is_an_approle_with_a_rotating_secret_id(program_run) -> None:
    run = program_run("prod")
    role = run.one(a.AppRoleRoleArgs)
    assert (role.backend, role.role_name, role.token_policies) == ("approle", "model-runner", ("model-runner",))
    assert 24 * 3600 <= role.secret_id_ttl <= 48 * 3600
    assert role.bind_secret_id


def test_audit_device_is_a_file_device_with_hmac(program_run) -> None:
    device = program_run("prod").one(a.AuditArgs)
    assert device.type == "file"
    assert device.options == {"file_path": "/vault/audit/prod.log", "hmac_accessor": "true"}


def test_a_server_that_declares_its_own_audit_device_gets_none_from_us(program_run) -> None:
    def edit(values: dict[str, Any]) -> None:
        values["llm-vault:audit"]["mode"] = "declared"

    assert program_run("dev", edit=edit).records(a.AuditArgs) == []


def test_stack_files_differ_only_in_data(program_run) -> None:
    shapes = {}
    for stack in STACKS:
        document = yaml.safe_load(stack_file(stack).read_text())
        assert set(document) == {"config"}, "stack files hold values only"
        run = program_run(stack)
        # Which roles a stack trusts is data (a binding list); every other object is the same.
        shapes[stack] = [(d.name, type(d.args).__name__) for d in run.declared]
    assert shapes["dev"] == shapes["staging"] == shapes["prod"]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_protected_stacks_trust_no_pull_request_with_secrets(program_run, stack: str) -> None:
    roles = program_run(stack).records(a.JwtAuthRoleArgs)
    for role in roles:
        if role.bound_subject.endswith(":pull_request"):
            assert role.token_policies == (f"llm-vault-preview-{stack}",), "only the pipeline's preview, no secrets"
        elif "openai-llm-ci" in role.token_policies:
            assert role.bound_subject.endswith(f":environment:{stack}")
            assert role.bound_claims["job_workflow_ref"].endswith(".yml@refs/heads/main")


@pytest.mark.parametrize(
    ("binding", "subject"),
    [
        (dict(kind="ref", value="refs/heads/main"), "repo:acme/llm:ref:refs/heads/main"),
        (dict(kind="tag", value="v1.2.0"), "repo:acme/llm:ref:refs/tags/v1.2.0"),
        (dict(kind="environment", value="prod"), "repo:acme/llm:environment:prod"),
        (dict(kind="pull_request", value=None), "repo:acme/llm:pull_request"),
        (dict(kind="ref", value="refs/heads/main", immutable_subject=True),
         "repo:acme@98/llm@12:ref:refs/heads/main"),
    ],
)
def test_subjects_are_built_in_one_place_for_every_github_shape(binding: dict[str, Any], subject: str) -> None:
    b = OidcBinding(role="r", repository="acme/llm", repository_id="12", owner_id="98", policies=("p",),
                    audience="https://github.com/acme", **binding)
    assert b.subject == subject


# --------------------------------------------------------------------------------------------------
# what each backend made of a record, mapped back to the record's fields


def _defaults(kind: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(kind):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
        else:
            out[f.name] = None
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in out.items()}


def _assert_role_set_declared(
    name: str, roles: a.JwtAuthRoleSetArgs, by_name: dict[str, MockedResource], *, official: bool
) -> None:
    """Builtin: one resource holding each role's fields by name. Official: one AuthBackendRole per
    role, under the name the role had before sets, with the role's settings."""
    if not official:
        held = role_entries(by_name[name].inputs)
        assert sorted(held) == sorted(r.role_name for r in roles.roles)
        for role in roles.roles:
            expected = {k: v for k, v in a.as_props(role).items() if k not in ("backend", "role_name", "namespace")}
            assert {k: held[role.role_name].get(k) for k in expected} == expected, role.role_name
        assert (by_name[name].inputs["backend"], by_name[name].inputs.get("namespace")) == (
            roles.backend, roles.namespace)
        return
    for role in roles.roles:
        seen = _official_view(a.JwtAuthRoleArgs, by_name[a.role_set_member_name(name, role.role_name)])
        assert seen == a.as_props(role), role.role_name


def _builtin_view(kind: type, resource: MockedResource) -> dict[str, Any]:
    assert resource.type.startswith("pulumi-python:dynamic")
    return {f.name: resource.inputs.get(f.name) for f in fields(kind)}


def _json(value: Any) -> Any:
    if isinstance(value, dict) and "value" in value:  # pulumi-vault marks data_json secret
        value = value["value"]
    return json.loads(value)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _official_view(kind: type, resource: MockedResource) -> dict[str, Any]:
    assert resource.type.startswith("vault:")
    view = _defaults(kind)
    inputs = {_snake(k): v for k, v in resource.inputs.items()}
    if kind is a.KvMetadataArgs:
        data = _json(inputs.pop("data_json"))
        mount, name = inputs.pop("path").split("/metadata/", 1)
        inputs.update(mount=mount, name=name, custom_metadata=data["custom_metadata"],
                      max_versions=data["max_versions"], cas_required=data["cas_required"],
                      delete_version_after=int(data["delete_version_after"].rstrip("s")))
    elif kind is a.JwtAuthConfigArgs:
        inputs.update(_json(inputs.pop("data_json")))
        inputs["path"] = inputs["path"].removeprefix("auth/").removesuffix("/config")
    elif kind is a.JwtAuthRoleArgs and inputs.get("bound_claims"):
        # The official provider takes a claim's accepted values comma-separated; ours are lists.
        inputs["bound_claims"] = {
            k: v.split(",") if k == "event_name" or "," in v else v for k, v in inputs["bound_claims"].items()
        }
    elif kind is a.AuthBackendArgs:
        tune = {_snake(k): v for k, v in inputs.pop("tune", {}).items()}
        for ours, theirs in (("default_lease_ttl_seconds", "default_lease_ttl"),
                             ("max_lease_ttl_seconds", "max_lease_ttl")):
            if tune.get(theirs):
                inputs[ours] = int(tune[theirs].rstrip("s"))
    known = {f.name for f in fields(kind)}
    view.update({k: v for k, v in inputs.items() if k in known})
    return view

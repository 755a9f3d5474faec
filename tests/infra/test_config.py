"""Typed stack config: every bad value is stopped at load, naming its key, before any resource."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.config import POLICY_DIR, ConfigError, load_settings, parse_duration, raw_from_pulumi_config
from llm_vault.stackfiles import stack_config
from tests.infra.mock_program import run_program
from vault_provider.builtin._provider import seconds


def stack_raw(stack: str) -> dict[str, Any]:
    """A stack's llm-vault keys without the prefix, as load_settings takes them."""
    return {k.split(":", 1)[1]: v for k, v in copy.deepcopy(stack_config(stack)).items() if k.startswith("llm-vault:")}


def dev_raw() -> dict[str, Any]:
    return stack_raw("dev")


def binding(raw: dict[str, Any], i: int = 0) -> dict[str, Any]:
    return raw["github"]["bindings"][i]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        node: Any = raw
        parts = path.split(".")
        for p in parts[:-1]:
            node = node[int(p)] if p.isdigit() else node[p]
        node[parts[-1]] = value

    return edit


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        node: Any = raw
        parts = path.split(".")
        for p in parts[:-1]:
            node = node[int(p)] if p.isdigit() else node[p]
        del node[parts[-1]]

    return edit


def _apply_on_pull_request(raw: dict[str, Any]) -> None:
    apply = raw["pipeline"]["bindings"][2]
    apply.pop("environment")
    apply.pop("jobWorkflowRef")
    apply.pop("events")
    apply["pullRequest"] = True


def _apply_on_branch(raw: dict[str, Any]) -> None:
    apply = raw["pipeline"]["bindings"][2]
    apply.pop("environment")
    apply["ref"] = "refs/heads/main"


def _prod_ci_on_branch(raw: dict[str, Any]) -> None:
    ci = binding(raw, 0)
    ci.pop("environment")
    ci["ref"] = "refs/heads/main"


def _prod_pull_request(raw: dict[str, Any]) -> None:
    ci = binding(raw, 0)
    raw["github"]["bindings"].append(
        {k: ci[k] for k in ("repository", "repositoryId", "ownerId", "audience")}
        | {"role": "github-actions-pr", "pullRequest": True, "policies": ["openai-llm-pr"]}
    )


def _dup_role(raw: dict[str, Any]) -> None:
    binding(raw, 1)["role"] = binding(raw, 0)["role"]


def _dup_secret(raw: dict[str, Any]) -> None:
    raw["kv"]["secrets"].append(dict(raw["kv"]["secrets"][0]))


def _two_selectors(raw: dict[str, Any]) -> None:
    binding(raw)["environment"] = "prod"


def _immutable_without_ids(raw: dict[str, Any]) -> None:
    b = binding(raw)
    b["immutableSubject"] = True
    del b["repositoryId"]
    b["identityPinOptOut"] = "The repository is pinned by its immutable subject instead."


REJECTED: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("missing audience", _drop("github.bindings.0.audience"), "github.bindings[0].audience", "explicit audience"),
    ("wildcard branch", _set("github.bindings.0.ref", "refs/heads/*"), "github.bindings[0].ref", "pattern"),
    ("org-wide repository", _set("github.bindings.0.repository", "acme-ai/*"), "github.bindings[0].repository",
     "exactly one repository"),
    ("owner only", _set("github.bindings.0.repository", "acme-ai"), "github.bindings[0].repository",
     "exactly one repository"),
    ("hand-written subject", _set("github.bindings.0.subject", "repo:acme-ai/*"), "github.bindings[0].subject",
     "built from"),
    ("CI TTL over 1 h", _set("github.bindings.0.ttl", "2h"), "github.bindings[0].ttl", "between 1s and 1h"),
    ("zero TTL", _set("github.bindings.0.ttl", "0s"), "github.bindings[0].ttl", "between 1s and 1h"),
    ("bad duration", _set("github.bindings.0.ttl", "15 minutes"), "github.bindings[0].ttl", "duration"),
    ("unknown policy", _set("github.bindings.0.policies", ["openai-llm-admin"]), "github.bindings[0].policies[0]",
     "unknown policy"),
    ("no policies", _set("github.bindings.0.policies", []), "github.bindings[0].policies", "at least one"),
    ("reserved namespace", _set("namespace", "sys"), "namespace", "reserved"),
    ("pipeline in the root namespace without a reason",
     lambda raw: (_set("namespace", "")(raw), _set("rootLayout", {"tag": "dev"})(raw)), "pipeline",
     "pipeline.rootNamespaceReason"),
    ("an empty root-namespace reason",
     lambda raw: (_set("namespace", "")(raw), _set("rootLayout", {"tag": "dev"})(raw),
                  _set("pipeline.rootNamespaceReason", " ")(raw)),
     "pipeline.rootNamespaceReason", "must not be empty"),
    ("root namespace without a layout", _set("namespace", ""), "rootLayout", "same policy and token-role names"),
    ("root layout beside a namespace", _set("rootLayout", {"tag": "dev"}), "rootLayout", "keeps it apart"),
    ("malformed namespace", _set("namespace", "dev prod"), "namespace", "malformed"),
    ("missing namespace", _drop("namespace"), "namespace", "required"),
    ("duplicate role names", _dup_role, "github.bindings[1].role", "duplicate role"),
    ("bad kv duration", _set("kv.deleteVersionAfter", "soon"), "kv.deleteVersionAfter", "duration"),
    ("typo at top level", _set("namspace", "dev"), "namspace", "did you mean 'namespace'"),
    ("typo in kv", _set("kv.maxVersion", 3), "kv.maxVersion", "did you mean 'maxVersions'"),
    ("typo in a binding", _set("github.bindings.0.audiences", ["x"]), "github.bindings[0].audiences", "unknown key"),
    ("wrong type: maxVersions", _set("kv.maxVersions", "ten"), "kv.maxVersions", "whole number"),
    ("wrong type: protect", _set("protect", "yes"), "protect", "true or false"),
    ("wrong type: bindings", _set("github.bindings", {"role": "x"}), "github.bindings", "non-empty list"),
    ("wrong type: kv", _set("kv", ["openai-llm"]), "kv", "mapping"),
    ("no repository id", _drop("github.bindings.0.repositoryId"), "github.bindings[0].repositoryId",
     "re-created repository"),
    ("no owner id", _drop("github.bindings.0.ownerId"), "github.bindings[0].ownerId", "re-created"),
    ("non-numeric repository id", _set("github.bindings.0.repositoryId", "acme"), "github.bindings[0].repositoryId",
     "numeric id"),
    ("immutable subject without ids", _immutable_without_ids, "github.bindings[0]", "immutableSubject needs"),
    ("two subject contexts", _two_selectors, "github.bindings[0]", "exactly one of"),
    ("short ref", _set("github.bindings.0.ref", "main"), "github.bindings[0].ref", "full ref"),
    ("opt-out without a reason", _set("github.bindings.0.identityPinOptOut", "yes"),
     "github.bindings[0].identityPinOptOut", "written reason"),
    ("unknown runner environment", _set("github.bindings.0.runnerEnvironment", "laptop"),
     "github.bindings[0].runnerEnvironment", "github-hosted"),
    ("secret-id TTL outside the rotation window", _set("modelRunner.secretIdTtl", "72h"), "modelRunner.secretIdTtl",
     "24h-48h"),
    ("unknown audit mode", _set("audit.mode", "syslog-ish"), "audit.mode", "must be one of"),
    ("relative audit file", _set("audit.filePath", "audit.log"), "audit.filePath", "absolute path"),
    ("audit file outside its folder", _set("audit.filePath", "/etc/cron.d/x"), "audit.filePath", "outside the audit"),
    ("audit file escaping its folder", _set("audit.filePath", "/vault/audit/../x"), "audit.filePath", "outside"),
    ("raw audit logging", _set("audit.logRaw", True), "audit.logRaw", "unknown key"),
    ("another audit device type", _set("audit.type", "socket"), "audit.type", "unknown key"),
    ("unknown backend", _set("providerBackend", "terraform"), "providerBackend", "must be one of"),
    ("secret value in stack config", _set("kv.secrets.0.value", "not-a-real-key"), "kv.secrets[0]",
     "never go in stack config"),
    ("duplicate secret path", _dup_secret, "kv.secrets[1].name", "duplicate secret path"),
    ("unknown token-role policy", _set("shortLivedTokens.allowedPolicies", ["root"]),
     "shortLivedTokens.allowedPolicies[0]", "unknown policy"),
    ("missing environment", _drop("environment"), "environment", "required"),
    ("non-URL discovery", _set("github.oidcDiscoveryUrl", "token.actions.githubusercontent.com"),
     "github.oidcDiscoveryUrl", "http(s) URL"),
    ("reserved mount path", _set("kv.path", "sys"), "kv.path", "not a usable mount path"),
    # the trust chain: who may log in is decided here, before anything reaches the server
    ("plain-http discovery off loopback", _set("github.oidcDiscoveryUrl", "http://token.actions.githubusercontent.com"),
     "github.oidcDiscoveryUrl", "must use https"),
    ("look-alike discovery host",
     _set("github.oidcDiscoveryUrl", "https://token.actions.githubusercontent.com.evil.example"),
     "github.oidcDiscoveryUrl", "is not GitHub's issuer host"),
    ("discovery URL with credentials", _set("github.oidcDiscoveryUrl", "https://u:p@token.actions.githubusercontent.com"),
     "github.oidcDiscoveryUrl", "plain issuer URL"),
    ("bound issuer other than discovery", _set("github.boundIssuer", "https://issuer.evil.example"),
     "github.boundIssuer", "must equal oidcDiscoveryUrl"),
    ("any runner without a reason", _set("github.bindings.0.runnerEnvironment", "any"),
     "github.bindings[0].runnerEnvironment", "state why"),
    ("user claim actor", _set("github.bindings.0.userClaim", "actor"), "github.bindings[0].userClaim", "actor_id"),
    ("GitHub's shared default audience", _set("github.bindings.0.audience", "https://github.com/acme-ai"),
     "github.bindings[0].audience", "this environment's own audience"),
    ("another environment's audience", _set("github.bindings.0.audience", "https://vault.acme-ai.example/prod"),
     "github.bindings[0].audience", "this environment's own audience"),
    ("risky event on a binding that reads secrets", _set("github.bindings.0.events", ["push", "pull_request_target"]),
     "github.bindings[0].events", "may not accept"),
    ("workflow_run on a binding that reads secrets", _set("github.bindings.0.events", ["workflow_run"]),
     "github.bindings[0].events", "may not accept"),
    ("unknown event", _set("github.bindings.0.events", ["push", "pushh"]), "github.bindings[0].events[1]",
     "unknown GitHub event"),
    ("pull_request_target on a pull-request binding", _set("github.bindings.1.events", ["pull_request_target"]),
     "github.bindings[1].events", "only the 'pull_request' event"),
    ("workflow pin with a pattern",
     _set("github.bindings.0.jobWorkflowRef", "acme-ai/llm-platform/.github/workflows/*"),
     "github.bindings[0].jobWorkflowRef", "is a pattern"),
    ("workflow pin of another repository",
     _set("github.bindings.0.workflowRef", "evil-ai/tools/.github/workflows/x.yml@refs/heads/main"),
     "github.bindings[0].workflowRef", "must be a workflow of acme-ai/llm-platform"),
    ("operator policy on the pull-request role", _set("github.bindings.1.policies", ["openai-llm-operator"]),
     "github.bindings[1].policies[0]", "carries no write capability"),
    ("every secret for pull requests", _set("github.bindings.1.policies", ["openai-llm-readonly"]),
     "github.bindings[1].policies[0]", "reads secret values"),
    ("apply role on a pull request", _apply_on_pull_request, "pipeline.bindings[2].policies[0]",
     "carries no write capability"),
    ("apply role on a branch", _apply_on_branch, "pipeline.bindings[2]", "bind a GitHub environment"),
    ("apply role without a pinned workflow", _drop("pipeline.bindings.2.jobWorkflowRef"),
     "pipeline.bindings[2].jobWorkflowRef", "is required"),
]


PROTECTED_REJECTED = [
    ("CI on a branch in prod", _prod_ci_on_branch, "github.bindings[0]", "bind a GitHub environment"),
    ("CI without a pinned workflow in prod", _drop("github.bindings.0.jobWorkflowRef"),
     "github.bindings[0].jobWorkflowRef", "is required"),
    ("a pull request reading fixtures in prod", _prod_pull_request, "github.bindings[1].policies[0]",
     "marks no non-production subtree"),
    ("non-production secrets in prod", _set("kv.nonProduction", ["fixtures/"]), "kv.nonProduction",
     "holds no non-production secrets"),
]


@pytest.mark.parametrize(("case", "edit", "key", "reason"), PROTECTED_REJECTED, ids=[c[0] for c in PROTECTED_REJECTED])
def test_bad_protected_config_is_rejected_naming_its_key(case: str, edit: Callable, key: str, reason: str) -> None:
    raw = stack_raw("prod")
    edit(raw)
    with pytest.raises(ConfigError) as err:
        load_settings(raw)
    assert err.value.key == f"llm-vault:{key}", str(err.value)
    assert reason in err.value.reason, str(err.value)


def test_a_listed_risky_event_is_an_opt_in_on_a_binding_that_reads_nothing() -> None:
    raw = dev_raw()
    drift = raw["pipeline"]["bindings"][1]
    drift["events"] = ["schedule", "workflow_run"]
    binding = load_settings(raw).pipeline.bindings[1]  # type: ignore[union-attr]
    assert binding.bound_claims["event_name"] == ["schedule", "workflow_run"]


def test_a_local_issuer_on_loopback_may_use_plain_http() -> None:
    raw = dev_raw()
    raw["github"]["oidcDiscoveryUrl"] = "http://127.0.0.1:8200"
    assert load_settings(raw).github.bound_issuer == "http://127.0.0.1:8200"


@pytest.mark.parametrize(("case", "edit", "key", "reason"), REJECTED, ids=[c[0] for c in REJECTED])
def test_bad_config_is_rejected_naming_its_key(case: str, edit: Callable, key: str, reason: str) -> None:
    raw = dev_raw()
    edit(raw)
    with pytest.raises(ConfigError) as err:
        load_settings(raw)
    assert err.value.key == f"llm-vault:{key}", str(err.value)
    assert reason in err.value.reason, str(err.value)
    assert str(err.value).startswith(f"llm-vault:{key}: ")


@pytest.mark.parametrize(("case", "edit", "key", "reason"), REJECTED[:8], ids=[c[0] for c in REJECTED[:8]])
def test_bad_config_declares_no_resource(
    case: str, edit: Callable, key: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = dev_raw()
    edit(raw)
    values = {f"llm-vault:{k}": v for k, v in raw.items()}
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        run = run_program(values, monkeypatch=monkeypatch)
        pytest.fail(f"program ran with bad config and declared {len(run.mocked)} resources")


def test_policy_that_is_not_hcl_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "openai-llm-ci.hcl").write_text('path "x/*" {\n  capabilities = ["read"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(dev_raw(), policy_dir=tmp_path)
    assert err.value.key == "llm-vault:policies[openai-llm-ci.hcl]"
    assert "not valid HCL" in err.value.reason


def test_policy_with_unknown_capability_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "openai-llm-ci.hcl").write_text('path "x/*" {\n  capabilities = ["read", "write"]\n}\n')
    with pytest.raises(ConfigError, match=r"unknown capabilities \['write'\]"):
        load_settings(dev_raw(), policy_dir=tmp_path)


def test_missing_policy_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(dev_raw(), policy_dir=tmp_path / "nowhere")
    assert err.value.key == "llm-vault:policies"


def test_policy_named_by_a_binding_but_missing_as_a_file(tmp_path: Path) -> None:
    (tmp_path / "openai-llm-readonly.hcl").write_text('path "${kv_mount}/data/*" {\n  capabilities = ["read"]\n}\n')
    with pytest.raises(ConfigError) as err:
        load_settings(dev_raw(), policy_dir=tmp_path)
    assert err.value.key == "llm-vault:github.bindings[0].policies[0]"
    assert "'openai-llm-ci'" in err.value.reason


@pytest.mark.parametrize(
    ("text", "seconds"), [("15m", 900), ("1h30m", 5400), ("36h", 129600), ("90d", 7776000), ("0s", 0), (60, 60)]
)
def test_durations(text: Any, seconds: int) -> None:
    assert parse_duration(text, "k") == seconds


@pytest.mark.parametrize("text", ["15m", "1h30m", "36h", "90d", "0s", "1h0m30s", "900", 60])
def test_config_and_the_provider_read_a_duration_alike(text: Any) -> None:
    # One parser: what a stack file says and what the server reports back mean the same seconds.
    assert parse_duration(text, "k") == seconds(text)


@pytest.mark.parametrize("bad", ["15 minutes", "soon", "", True, -5, "-5m", "1h 30m"])
def test_a_bad_duration_names_its_key(bad: Any) -> None:
    with pytest.raises(ConfigError) as err:
        parse_duration(bad, "kv.deleteVersionAfter")
    assert err.value.key == "llm-vault:kv.deleteVersionAfter"


# -- the schema's mechanisms, each at a depth the old hand-written readers never had to name


def test_an_unknown_key_in_a_list_item_names_the_item_and_suggests_the_key() -> None:
    raw = dev_raw()
    binding(raw, 1)["audiense"] = "https://vault.acme-ai.example/dev"
    with pytest.raises(ConfigError) as err:
        load_settings(raw)
    assert err.value.key == "llm-vault:github.bindings[1].audiense"
    assert err.value.reason == "unknown key (did you mean 'audience'?)"


def test_an_unknown_key_with_no_near_name_lists_the_known_keys() -> None:
    raw = dev_raw()
    raw["kv"]["secrets"][0]["zzz"] = 1
    with pytest.raises(ConfigError) as err:
        load_settings(raw)
    assert err.value.key == "llm-vault:kv.secrets[0].zzz"
    assert "known keys: ['description', 'keys', 'name', 'owner', 'rotationPeriod']" in err.value.reason


@pytest.mark.parametrize(
    ("edit", "key", "reason"),
    [
        (_set("kv.secrets.0.keys", ["openai_key", 3]), "kv.secrets[0].keys[1]", "must be a string, got int"),
        (_set("pipeline.bindings.2.immutableSubject", "yes"), "pipeline.bindings[2].immutableSubject",
         "must be true or false, got 'yes'"),
        (_set("modelRunner.secretIdNumUses", "3"), "modelRunner.secretIdNumUses", "must be a whole number, got '3'"),
        (_set("github.bindings.1.policies", "openai-llm-pr"), "github.bindings[1].policies", "must be a list, got str"),
    ],
)
def test_a_wrong_type_at_a_deep_path_names_the_full_key(edit: Callable, key: str, reason: str) -> None:
    raw = dev_raw()
    edit(raw)
    with pytest.raises(ConfigError) as err:
        load_settings(raw)
    assert (err.value.key, err.value.reason) == (f"llm-vault:{key}", reason)


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (_drop("kv.secrets.0.owner"), "kv.secrets[0].owner"),
        (_drop("pipeline.bindings.1.role"), "pipeline.bindings[1].role"),
        (_drop("github.bindings.0.repository"), "github.bindings[0].repository"),
    ],
)
def test_a_missing_required_key_is_named(edit: Callable, key: str) -> None:
    raw = dev_raw()
    edit(raw)
    with pytest.raises(ConfigError) as err:
        load_settings(raw)
    assert (err.value.key, err.value.reason) == (f"llm-vault:{key}", "is required")


def test_structured_values_arrive_as_json_from_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi.runtime.config as runtime_config

    runtime_config.set_all_config({})  # nothing set in-process: the CLI's language host path
    monkeypatch.setattr(
        runtime_config,
        "get_config_env",
        lambda: {"llm-vault:kv": '{"path": "x"}', "llm-vault:protect": "true", "llm-vault:namespace": "dev",
                 "vault:address": "http://127.0.0.1:1"},
    )
    assert raw_from_pulumi_config() == {"kv": {"path": "x"}, "protect": True, "namespace": "dev"}


def root_layout_raw(stack: str) -> dict[str, Any]:
    """A checked-in stack in the Vault OSS root layout, as `make run SERVER=vault` and the e2e suite apply it."""
    from llm_vault.automation import deep_merge
    from llm_vault.local_job import vault_oss_layout

    merged = deep_merge(stack_config(stack), vault_oss_layout(stack))
    return {k.split(":", 1)[1]: v for k, v in copy.deepcopy(merged).items() if k.startswith("llm-vault:")}


def test_empty_namespace_means_no_namespace() -> None:
    raw = root_layout_raw("dev")
    del raw["pipeline"]  # (a pipeline in the root namespace needs a stated reason: see REJECTED)
    assert load_settings(raw).namespace is None


def test_a_pipeline_in_the_root_namespace_loads_with_a_stated_reason() -> None:
    raw = root_layout_raw("dev")
    raw["pipeline"]["rootNamespaceReason"] = "Vault OSS has no namespaces; this server holds only this stack"
    settings = load_settings(raw)
    assert settings.namespace is None and settings.pipeline is not None


def test_the_root_layout_puts_the_tag_in_front_of_every_name_the_stacks_share() -> None:
    settings = load_settings(root_layout_raw("staging"))
    assert {p.name for p in settings.policies} == {f"staging-{path.stem}" for path in POLICY_DIR.glob("*.hcl")}
    assert all(p.name == f"staging-{p.stem}" for p in settings.policies)
    tokens = settings.short_lived_tokens
    assert (tokens.role, tokens.allowed_policies) == ("staging-openai-llm-readonly", ("staging-openai-llm-readonly",))
    assert settings.model_runner.policies == ("staging-model-runner",)
    assert {p for b in settings.github.bindings for p in b.policies} == {"staging-openai-llm-ci"}
    # The operator mints children through this stack's token role, not another environment's.
    operator = next(p.text for p in settings.policies if p.stem == "openai-llm-operator")
    assert 'path "auth/token/create/staging-openai-llm-readonly"' in operator
    assert "auth/token/create/openai-llm-readonly" not in operator
    # The pipeline's exact grants name the tagged objects; its preview reads this environment's only.
    assert settings.pipeline is not None
    texts = {p.stem: p.text for p in settings.pipeline.policies}
    assert 'path "sys/policies/acl/staging-openai-llm-ci"' in texts["llm-vault-apply"]
    assert 'path "auth/token/roles/staging-openai-llm-readonly"' in texts["llm-vault-apply"]
    assert 'path "sys/policies/acl/staging-*"' in texts["llm-vault-preview"]
    assert 'path "sys/policies/acl/*"' not in texts["llm-vault-preview"]


def test_a_namespace_stack_keeps_its_names_and_its_preview_reads_its_whole_namespace() -> None:
    settings = load_settings(dev_raw())
    assert settings.root_layout is None
    assert "openai-llm-ci" in {p.name for p in settings.policies}
    assert settings.short_lived_tokens.role == "openai-llm-readonly"
    assert settings.pipeline is not None
    preview = next(p.text for p in settings.pipeline.policies if p.stem == "llm-vault-preview")
    assert 'path "dev/sys/policies/acl/*"' in preview


@pytest.mark.parametrize(
    "key",
    ["kv.path", "github.path", "modelRunner.path", "audit.path", "pipeline.path", "databases.path"],
)
def test_a_root_layout_path_without_the_tag_is_refused_naming_its_key(key: str) -> None:
    raw = root_layout_raw("dev")
    if key == "databases.path":
        raw["databases"] = {"path": "databases"}
    else:
        _set(key, "shared")(raw)
    with pytest.raises(ConfigError) as err:
        load_settings(raw)
    assert err.value.key == f"llm-vault:{key}"
    assert "must end in '-dev' (llm-vault:rootLayout.tag)" in err.value.reason


@pytest.mark.parametrize("tag", ["dev-2", "Dev", "", "x" * 33])
def test_a_root_layout_tag_that_could_overlap_another_is_refused(tag: str) -> None:
    raw = root_layout_raw("dev")
    raw["rootLayout"] = {"tag": tag}
    with pytest.raises(ConfigError) as err:
        load_settings(raw)
    assert err.value.key == "llm-vault:rootLayout.tag"


def test_a_declared_audit_device_is_the_servers_and_needs_no_tag() -> None:
    raw = root_layout_raw("dev")
    raw["audit"] = {"mode": "declared", "path": "file"}
    assert load_settings(raw).audit.path == "file"


def test_checked_in_stacks_load() -> None:
    for stack in ("dev", "staging", "prod"):
        raw = {k.split(":", 1)[1]: v for k, v in stack_config(stack).items() if k.startswith("llm-vault:")}
        assert load_settings(raw).environment == stack


def test_at_least_25_rejected_cases() -> None:
    assert len(REJECTED) >= 25


def test_a_protected_stack_leaves_the_audit_device_to_the_server_unless_it_chooses_api_mode() -> None:
    raw = stack_raw("prod")
    raw.pop("audit", None)
    assert load_settings({**raw, "protect": False}).audit.mode == "api"
    assert load_settings(raw).audit.mode == "declared"
    assert load_settings({**raw, "audit": {"mode": "api"}}).audit.mode == "api"

"""The preview report: ``render_markdown`` on hand-built previews (unit), and ``collect_preview``
on a real stack (integration) where a policy edit, an added binding, a tightened TTL and an
out-of-band change must each show up for the right object and property.
"""

from __future__ import annotations

import secrets
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.components.github_oidc import binding_role
from infra.config import OidcBinding, load_settings, raw_from_pulumi_config
from infra.program import main as program_main
from llm_vault import automation
from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.server import Server
from llm_vault.preview_report import MASK, Change, Preview, collect_preview, render_markdown, role_changes
from llm_vault.stackfiles import stack_config
from tests.e2e.harness import Deployment, state_resources
from vault_provider.args import JwtAuthRoleSetArgs
from vault_provider.builtin.jwt import role_set_props

# The engine's marker for a secret value inside event payloads (pulumi's rpc sentinel).
SECRET_SENTINEL = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "x"}
POLICY_TYPE = "pulumi-python:dynamic/vault:Policy"
NAMESPACE_TYPE = "pulumi-python:dynamic/vault:Namespace"
MOUNT_TYPE = "pulumi-python:dynamic/vault:Mount"
ROLE_TYPE = "pulumi-python:dynamic/vault:JwtAuthRole"


def _change(op: str, name: str, type_: str, **kw: Any) -> Change:
    return Change(op=op, urn=f"urn:pulumi:dev::llm-vault::{type_}::{name}", type=type_, name=name, **kw)


def _sections(report: str) -> list[str]:
    """The report's blocks in order, to check what comes first."""
    return [line for line in report.splitlines() if line.startswith(("> [!", "**", "### ", "No changes"))]


# --------------------------------------------------------------------------------------------
# unit: render_markdown


def test_no_changes_says_so() -> None:
    report = render_markdown(Preview(stack="dev", counts=Counter({"same": 30})))
    assert report.startswith("<!-- llm-vault-preview:dev -->")  # the marker the workflow updates comments by
    assert "No changes: the server matches the stack." in report
    assert "[!WARNING]" not in report and "[!CAUTION]" not in report


def test_counts_per_operation_and_unchanged() -> None:
    preview = Preview(
        stack="staging",
        counts=Counter({"update": 2, "create": 1, "same": 27}),
        changes=[
            _change(
                "update",
                "policy-openai-llm-ci",
                POLICY_TYPE,
                diffs=["policy"],
                old={"policy": "a"},
                new={"policy": "b"},
            ),
            _change(
                "update", "policy-model-runner", POLICY_TYPE, diffs=["policy"], old={"policy": "c"}, new={"policy": "d"}
            ),
            _change(
                "create",
                "github-role-release",
                "pulumi-python:dynamic/vault:JwtAuthRole",
                new={"role_name": "release", "token_ttl": 300},
            ),
        ],
    )
    report = render_markdown(preview)
    assert "**1 to create, 2 to update**, 27 unchanged" in report
    assert '| `policy` | "a" | "b" |' in report
    assert "| `token_ttl` |  | 300 |" in report  # a create has no "before"


def test_destroying_data_or_protected_objects_is_flagged_at_the_top() -> None:
    preview = Preview(
        stack="prod",
        counts=Counter({"update": 1, "delete": 1, "replace": 1, "same": 20}),
        changes=[
            _change(
                "update",
                "policy-openai-llm-ci",
                POLICY_TYPE,
                diffs=["policy"],
                old={"policy": "a"},
                new={"policy": "b"},
            ),
            _change("delete", "namespace", NAMESPACE_TYPE, old={"path": "prod"}),
            _change(
                "replace",
                "secrets-mount",
                MOUNT_TYPE,
                diffs=["type"],
                replace_keys=["type"],
                protected=True,
                old={"type": "kv"},
                new={"type": "kv-v1"},
            ),
        ],
    )
    report = render_markdown(preview)
    blocks = _sections(report)
    first_section = next(i for i, b in enumerate(blocks) if b.startswith("### "))
    warnings = [i for i, b in enumerate(blocks) if b == "> [!WARNING]"]
    assert len(warnings) == 2 and max(warnings) < first_section
    assert "**delete** of `namespace`" in report and "which holds secrets" in report
    replace_line = next(line for line in report.splitlines() if "**replace** of `secrets-mount`" in line)
    assert "protected" in replace_line
    assert "Replaced because of: type." in report
    # The harmless update is listed but not flagged.
    assert "of `policy-openai-llm-ci`" not in report


def test_an_error_is_shown_first_and_says_nothing_would_be_applied() -> None:
    preview = Preview(
        stack="dev",
        errors=["llm-vault:kv.maxVersions: must be at least 1, got 0"],
    )
    report = render_markdown(preview)
    blocks = _sections(report)
    assert blocks[0] == "> [!CAUTION]"
    assert "nothing would be applied" in report
    assert "> llm-vault:kv.maxVersions: must be at least 1, got 0" in report
    assert "No changes" not in report  # an error is not "the server matches"


def test_values_masked_at_collection_stay_masked() -> None:
    value = secrets.token_urlsafe(16)
    preview = Preview(
        stack="dev",
        counts=Counter({"update": 1}),
        changes=[
            _change(
                "update",
                "x",
                POLICY_TYPE,
                diffs=["secret_id"],
                old={"secret_id": MASK},
                new={"secret_id": MASK, "name": "x"},
            )
        ],
    )
    report = render_markdown(preview)
    assert f'| `secret_id` | "{MASK}" | "{MASK}" |' in report
    assert value not in report


def test_render_masks_sensitive_properties_and_engine_secrets_itself() -> None:
    token, value, wrapped = (secrets.token_urlsafe(16) for _ in range(3))
    preview = Preview(
        stack="dev",
        counts=Counter({"update": 1}),
        changes=[
            _change(
                "update",
                "y",
                POLICY_TYPE,
                diffs=["token", "data", "options"],
                old={"token": token, "data": value, "options": {**SECRET_SENTINEL, "value": wrapped}},
                new={"token": token, "data": value, "options": {**SECRET_SENTINEL, "value": wrapped}},
            ),
        ],
    )
    report = render_markdown(preview)
    leaked = [name for name, v in (("token", token), ("data", value), ("secret", wrapped)) if v in report]
    assert not leaked, f"values shown in the report: {leaked}"


def test_an_update_without_engine_diffs_does_not_show_the_provider() -> None:
    preview = Preview(
        stack="dev",
        counts=Counter({"update": 1}),
        changes=[
            _change(
                "update",
                "z",
                POLICY_TYPE,
                old={"__provider": MASK, "policy": "a"},
                new={"__provider": MASK, "policy": "b"},
            )
        ],
    )
    assert "`__provider`" not in render_markdown(preview)


# --------------------------------------------------------------------------------------------
# unit: a JWT role set is reported role by role

SET_URN = ("urn:pulumi:dev::llm-vault::llmvault:auth:GitHubOidcTrust$pulumi-python:dynamic/vault:JwtAuthRoleSet"
           "::github-roles")


def _role_set(*roles: tuple[str, int], drifted: str = "") -> dict[str, Any]:
    records = []
    for name, ttl in roles:
        binding = OidcBinding(
            role=name, repository="acme-ai/llm-platform", repository_id="1", owner_id="2", kind="ref",
            value="refs/heads/main", policies=("openai-llm-ci",), audience="https://vault.example/dev",
            ttl_seconds=ttl,
        )
        records.append(binding_role(binding, backend="jwt", namespace="dev"))
    props = role_set_props(JwtAuthRoleSetArgs(backend="jwt", roles=tuple(records), namespace="dev"))
    if drifted:
        props["roles"][drifted]["undeclared_settings"] = {"bound_cidrs": ["127.0.0.0/8"]}
    return props


def test_a_set_update_lists_each_added_dropped_and_changed_role_under_its_own_name() -> None:
    before = _role_set(("ci", 900), ("old", 900), ("same", 900))
    after = _role_set(("ci", 300), ("new", 600), ("same", 900))
    roles = role_changes("update", SET_URN, before, after, protected=False)
    assert roles is not None and roles.same == 1
    assert [(c.op, c.name, c.type) for c in roles.changes] == [
        ("update", "github-role-ci", ROLE_TYPE),
        ("create", "github-role-new", ROLE_TYPE),
        ("delete", "github-role-old", ROLE_TYPE),
    ]
    ci = roles.changes[0]
    assert ci.diffs == ["token_ttl", "token_max_ttl", "token_explicit_max_ttl"]
    assert (ci.old["token_ttl"], ci.new["token_ttl"]) == (900, 300)
    # A created role can be looked up for adoption like a role of its own.
    assert roles.changes[1].raw_type == ROLE_TYPE
    assert roles.changes[1].raw_new["role_name"] == "new" and roles.changes[1].raw_new["backend"] == "jwt"


def test_a_role_a_refresh_found_changed_out_of_band_is_an_update_naming_the_pinned_settings() -> None:
    roles = role_changes("update", SET_URN, _role_set(("ci", 900), drifted="ci"), _role_set(("ci", 900)),
                         protected=False)
    assert roles is not None and roles.same == 0
    assert [(c.op, c.name, c.diffs) for c in roles.changes] == [("update", "github-role-ci", ["undeclared_settings"])]
    assert roles.changes[0].old["undeclared_settings"] == {"bound_cidrs": ["127.0.0.0/8"]}


def test_a_set_created_or_deleted_whole_is_each_of_its_roles_created_or_deleted() -> None:
    props = _role_set(("a", 900), ("b", 900))
    created = role_changes("create", SET_URN, {}, props, protected=False)
    deleted = role_changes("delete", SET_URN, props, {}, protected=True)
    assert created is not None and deleted is not None
    assert [(c.op, c.name) for c in created.changes] == [("create", "github-role-a"), ("create", "github-role-b")]
    assert [(c.op, c.name, c.protected) for c in deleted.changes] == [
        ("delete", "github-role-a", True), ("delete", "github-role-b", True)]
    # Rendered as the per-role resources were, with the counts per role.
    preview = Preview(stack="dev", counts=Counter(c.op for c in created.changes), changes=created.changes)
    report = render_markdown(preview)
    assert "**2 to create**" in report and f"### create `github-role-a` ({ROLE_TYPE})" in report


def test_an_unchanged_set_counts_each_role_unchanged() -> None:
    props = _role_set(("a", 900), ("b", 900), ("c", 900))
    roles = role_changes("same", SET_URN, props, props, protected=False)
    assert roles is not None and (roles.changes, roles.same) == ([], 3)


def test_a_set_record_that_cannot_be_read_is_reported_as_one_resource() -> None:
    assert role_changes("update", SET_URN, {"roles": {"a": {}}}, {"roles": {"a": {}}}, protected=False) is None


# --------------------------------------------------------------------------------------------
# integration: collect_preview on a real stack


@dataclass
class Collected:
    preview: Preview
    report: str
    # Vault objects in the stack (the Stack resource and the default provider excluded; each role counted)
    resources: int


@pytest.fixture(scope="module")
def report_stack(
    openbao: Server, oidc_issuer: GitHubOidcIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """The dev stack applied under names of its own (namespace, audit device, pipeline mount and
    policies), so that it shares the session's server with the end-to-end stacks."""
    tag = secrets.token_hex(3)
    audit_file = openbao.workdir / "audit" / f"report-{tag}.log"
    unique = {
        "llm-vault:environment": f"report{tag}",
        "llm-vault:namespace": f"report-{tag}",
        "llm-vault:audit": {"path": f"llm-vault-report-{tag}", "filePath": str(audit_file)},
        "llm-vault:pipeline": {"path": f"github-pipeline-report-{tag}"},
    }
    deployment = Deployment(
        openbao, oidc_issuer, tmp_path_factory.mktemp("report-state"), extra_overrides={"dev": unique}
    )
    try:
        deployment.up("dev")
        yield deployment
    finally:
        deployment.destroy_all()
        assert deployment.leftovers(["dev"]) == []


def _changed_policy_dir(tmp: Path) -> Path:
    """A copy of policies/ whose openai-llm-ci grants one more path (at the end of the file)."""
    target = tmp / "policies"
    shutil.copytree(Path(__file__).resolve().parents[2] / "policies", target)
    ci = target / "openai-llm-ci.hcl"
    ci.write_text(ci.read_text() + '\npath "${kv_mount}/subkeys/*" {\n  capabilities = ["read"]\n}\n')
    return target


NEW_ROLE = "github-actions-release"


def _binding_overrides() -> dict[str, Any]:
    """The dev bindings with github-actions tightened to 5 minutes and a release binding added."""
    github = stack_config("dev")["llm-vault:github"]
    bindings = [dict(b) for b in github["bindings"]]
    for b in bindings:
        if b["role"] == "github-actions":
            b["ttl"] = "5m"
    main = next(b for b in bindings if b["role"] == "github-actions")
    bindings.append(
        {**main, "role": NEW_ROLE, "ref": "refs/heads/release", "ttl": "10m", "policies": ["openai-llm-readonly"]}
    )
    return {"llm-vault:github": {"bindings": bindings}}


@pytest.fixture(scope="module")
def collected(report_stack: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Collected:
    record = report_stack.stacks["dev"]
    # Out of band: someone lowers max_versions on the server.
    report_stack.root(record.namespace).write_data(f"{record.settings.kv.path}/config", data={"max_versions": 3})
    policy_dir = _changed_policy_dir(tmp_path_factory.mktemp("changed"))

    def program() -> None:
        # load_settings' policy_dir default is bound when the module loads: pass the copy explicitly.
        program_main(load_settings(raw_from_pulumi_config(), policy_dir=policy_dir))

    _, _, stack = report_stack.open("dev", _binding_overrides(), program=program)
    preview = collect_preview(stack, stack_name="dev")
    not_ours = ("pulumi:pulumi:", "pulumi:providers:")
    # A role set is reported role by role: each of its roles is one object.
    resources = sum(
        len(r["outputs"]["roles"]) if r["type"].endswith(":JwtAuthRoleSet") else 1
        for r in state_resources(record.stack)
        if not r["type"].startswith(not_ours)
    )
    return Collected(preview, render_markdown(preview), resources)


def _section(report: str, heading: str) -> str:
    assert heading in report, f"missing from the report: {heading}"
    return report.split(heading, 1)[1].split("\n### ", 1)[0]


def _row(section: str, prop: str) -> list[str]:
    line = next((ln for ln in section.splitlines() if ln.startswith(f"| `{prop}` |")), None)
    assert line is not None, f"no row for {prop}"
    return [cell.strip() for cell in line.strip("|").split("|")][1:]


@pytest.mark.integration
@pytest.mark.engine
def test_every_change_is_listed_once_and_nothing_is_flagged(collected: Collected) -> None:
    assert collected.preview.errors == []
    # The default provider receives the whole stack config, so any config change "updates" it
    # too (a no-op); it is not one of the Vault objects and the report leaves it out.
    assert not [c for c in collected.preview.changes if c.type.startswith("pulumi:providers:")]
    listed = sorted((c.op, c.name) for c in collected.preview.changes)
    # The apply policy grants roles by their exact names: a new binding widens it, in the preview.
    assert listed == [
        ("create", f"github-role-{NEW_ROLE}"),
        ("update", "github-role-github-actions"),
        ("update", "pipeline-policy-llm-vault-apply"),
        ("update", "policy-openai-llm-ci"),
        ("update", "secrets-config"),
    ]
    assert "**1 to create, 4 to update**" in collected.report
    assert "[!WARNING]" not in collected.report and "[!CAUTION]" not in collected.report


@pytest.mark.integration
@pytest.mark.engine
def test_an_added_binding_shows_its_subject_and_ttl(collected: Collected) -> None:
    section = _section(collected.report, f"### create `github-role-{NEW_ROLE}`")
    assert _row(section, "bound_subject") == ["", '"repo:acme-ai/llm-platform:ref:refs/heads/release"']
    assert _row(section, "token_ttl") == ["", "600"]
    assert _row(section, "token_policies") == ["", '["openai-llm-readonly"]']


@pytest.mark.integration
@pytest.mark.engine
def test_a_tightened_ttl_shows_before_and_after(collected: Collected) -> None:
    section = _section(collected.report, "### update `github-role-github-actions`")
    for prop in ("token_ttl", "token_max_ttl", "token_explicit_max_ttl"):
        assert _row(section, prop) == ["900", "300"]


@pytest.mark.integration
@pytest.mark.engine
def test_a_policy_edit_is_listed_for_the_policy(collected: Collected) -> None:
    section = _section(collected.report, "### update `policy-openai-llm-ci`")
    _row(section, "policy")


@pytest.mark.integration
@pytest.mark.engine
def test_a_policy_edit_shows_what_changed(collected: Collected) -> None:
    section = _section(collected.report, "### update `policy-openai-llm-ci`")
    before, after = _row(section, "policy")
    assert before != after
    assert "subkeys" in after


@pytest.mark.integration
@pytest.mark.engine
def test_an_out_of_band_change_is_listed_for_its_object(collected: Collected) -> None:
    section = _section(collected.report, "### update `secrets-config`")
    _row(section, "max_versions")


@pytest.mark.integration
@pytest.mark.engine
def test_an_out_of_band_change_shows_the_servers_value_as_before(collected: Collected) -> None:
    section = _section(collected.report, "### update `secrets-config`")
    assert _row(section, "max_versions") == ["3", "10"]


@pytest.mark.integration
@pytest.mark.engine
def test_the_unchanged_count_is_the_number_of_unchanged_objects_each_role_counted(collected: Collected) -> None:
    # Changed resources already in the stack: the three updated objects.
    changed = len(collected.preview.changes) - 1  # (the created role is not in the stack yet)
    assert f", {collected.resources - changed} unchanged" in collected.report


@pytest.mark.integration
@pytest.mark.engine
def test_a_config_error_stops_the_preview_and_is_reported(report_stack: Deployment) -> None:
    # Opened past the preflight check, so that the program itself raises, as in CI.
    target = report_stack.target("dev", {"llm-vault:kv": {"maxVersions": 0}})
    preview = collect_preview(automation.open_stack(target), stack_name="dev")
    assert preview.changes == []
    report = render_markdown(preview)
    assert report.splitlines()[3] == "> [!CAUTION]"
    assert "llm-vault:kv.maxVersions" in report


# --------------------------------------------------------------------------------------------
# integration: adoption is shown as "adopt", with what the server holds as "before"


@pytest.mark.integration
@pytest.mark.engine
def test_an_object_listed_under_adopt_previews_as_adopt_with_the_servers_values(
    openbao: Server, oidc_issuer: GitHubOidcIssuer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The original setup's way: someone created the namespace and a CI policy by hand (one that
    # still mints tokens), and the stack now lists both under llm-vault:adopt.
    tag = secrets.token_hex(3)
    namespace = f"adopt-{tag}"
    root = openbao.client()
    root.sys.create_namespace(namespace)
    hand_made = (
        'path "openai-llm/data/*" { capabilities = ["read"] }\n'
        'path "auth/token/create" { capabilities = ["update"] }\n'
    )
    openbao.client(namespace=namespace).sys.create_or_update_acl_policy("openai-llm-ci", hand_made)
    overrides = {
        "llm-vault:environment": f"adopt{tag}",
        "llm-vault:namespace": namespace,
        "llm-vault:audit": {
            "path": f"llm-vault-adopt-{tag}",
            "filePath": str(openbao.workdir / "audit" / f"a-{tag}.log"),
        },
        "llm-vault:pipeline": {"path": f"github-pipeline-adopt-{tag}"},
        "llm-vault:adopt": [f"namespace:{namespace}", f"policy:{namespace}:openai-llm-ci"],
    }
    deployment = Deployment(
        openbao, oidc_issuer, tmp_path_factory.mktemp("adopt-state"), extra_overrides={"dev": overrides}
    )
    try:
        preview = deployment.preview("dev")
        assert preview.errors == []
        adopted = {c.name: c for c in preview.changes if c.op == "adopt"}
        assert set(adopted) == {"namespace", "policy-openai-llm-ci"}, [(c.op, c.name) for c in preview.changes]
        assert preview.counts["adopt"] == 2 and preview.counts["create"] == len(preview.changes) - 2
        report = render_markdown(preview)
        section = _section(report, "### adopt `policy-openai-llm-ci`")
        before, after = _row(section, "policy")
        grant = 'path "auth/token/create"'
        assert grant in before and grant not in after  # the reviewer sees the grant that goes
        assert "2 to adopt" in report

        deployment.up("dev")
        live = openbao.client(namespace=namespace).sys.read_acl_policy("openai-llm-ci")["data"]["policy"]
        assert grant not in live
        assert deployment.preview("dev").has_changes is False
    finally:
        if "dev" in deployment.stacks:
            deployment.destroy_all()
            assert deployment.leftovers(["dev"]) == []
        else:  # stopped before the apply: the hand-made namespace is still ours to remove
            root.sys.delete_namespace(namespace)

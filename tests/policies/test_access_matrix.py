"""The access matrix renders the expectation table faithfully, in markdown and HTML."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_vault.access_matrix import (
    Expectations,
    IdentityView,
    PipelineExpectations,
    checked_in_settings,
    identity_view,
    load_expectations,
    load_pipeline_expectations,
    main,
    render_html,
    render_markdown,
)

SAMPLE = Expectations(
    kv_mount="kv",
    policies={
        "reader": {"kv/data/a": ("read",), "sys/<x>": ("deny",)},
        "writer": {"kv/data/a": ("create", "update"), "kv/destroy/a": ("deny",)},
    },
)


PIPELINE_SAMPLE = PipelineExpectations(
    placeholders={
        "environment": "dev",
        "namespace": "dev",
        "kv_mount": "kv",
        "jwt_path": "jwt",
        "approle_path": "approle",
        "audit_path": "audit-dev",
        "pipeline_path": "pipe-dev",
    },
    other={"environment": "staging", "namespace": "staging"},
    policies={
        "preview": {"${ns}${kv_mount}/metadata/<x>": ("read", "list"), "sys/namespaces/${other_namespace}": ("deny",)},
        "apply": {"${ns}${kv_mount}/metadata/<x>": ("create", "read"), "sys/audit/${audit_path}": ("sudo",)},
    },
)
PIPELINE_HEADER = "## Pipeline policies (root namespace)"


def test_markdown_has_a_row_per_path_and_a_column_per_policy() -> None:
    lines = render_markdown(SAMPLE).splitlines()
    assert "| path | `reader` | `writer` |" in lines
    assert "| `kv/data/a` | read | create, update |" in lines
    assert "| `sys/<x>` | denied |  |" in lines  # unchecked for writer: empty, not "denied"
    assert "| `kv/destroy/a` |  | denied |" in lines


def test_html_marks_cells_and_escapes_paths() -> None:
    page = render_html(SAMPLE)
    assert "<code>sys/&lt;x&gt;</code>" in page and "sys/<x>" not in page
    assert '<td class="allowed">create, update</td>' in page
    assert page.count('<td class="denied">denied</td>') == 2
    assert page.count('<td class="unchecked"></td>') == 2


def test_the_cli_writes_both_reports_for_the_real_table(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path / "reports")]) == 0
    markdown = (tmp_path / "reports" / "access-matrix.md").read_text()
    assert "`openai-llm-ci`" in markdown and "`auth/token/create`" in markdown
    assert (tmp_path / "reports" / "access-matrix.html").read_text().startswith("<!DOCTYPE html>")


def test_a_malformed_table_is_refused_naming_the_row(tmp_path: Path) -> None:
    bad = tmp_path / "expectations.yaml"
    bad.write_text("kv_mount: kv\npolicies:\n  p:\n    kv/data/a: [read, deny]\n")
    with pytest.raises(ValueError, match=r"policies\.p\['kv/data/a'\]"):
        load_expectations(bad)


def test_the_pipeline_section_follows_the_namespace_section_unchanged() -> None:
    plain = render_markdown(SAMPLE)
    both = render_markdown(SAMPLE, PIPELINE_SAMPLE)
    assert both.startswith(plain) and PIPELINE_HEADER not in plain
    lines = both[len(plain) :].splitlines()
    assert PIPELINE_HEADER in lines
    assert "| path | `preview` | `apply` |" in lines
    assert "| `dev/kv/metadata/<x>` | read, list | create, read |" in lines  # paths rendered with the file's values
    assert "| `sys/namespaces/staging` | denied |  |" in lines
    assert "| `sys/audit/audit-dev` |  | sudo |" in lines


def test_the_html_pipeline_section_is_a_second_escaped_table() -> None:
    plain = render_html(SAMPLE)
    page = render_html(SAMPLE, PIPELINE_SAMPLE)
    assert page.count("<table>") == 2 and plain.count("<table>") == 1
    assert page.index("<h1>Access matrix</h1>") < page.index("<h2>Pipeline policies (root namespace)</h2>")
    assert "<code>dev/kv/metadata/&lt;x&gt;</code>" in page and "metadata/<x>" not in page
    assert '<td class="allowed">read, list</td>' in page


def test_pipeline_paths_render_with_other_names() -> None:
    names = {**PIPELINE_SAMPLE.placeholders, "namespace": "pl-1", "audit_path": "audit-pl-1"}
    tables = PIPELINE_SAMPLE.rendered(names, {"environment": "ot-1", "namespace": "ot-1"}).policies
    assert set(tables["preview"]) == {"pl-1/kv/metadata/<x>", "sys/namespaces/ot-1"}
    assert set(tables["apply"]) == {"pl-1/kv/metadata/<x>", "sys/audit/audit-pl-1"}


def test_the_cli_writes_the_pipeline_section_for_the_real_table(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    markdown = (tmp_path / "access-matrix.md").read_text()
    section = markdown[markdown.index(PIPELINE_HEADER) :]
    assert "`llm-vault-preview`" in section and "`llm-vault-apply`" in section
    assert "| `dev/openai-llm/data/api-keys` | denied | denied |" in section
    assert "| `sys/namespaces/staging` | denied | denied |" in section
    assert "$" not in section
    assert "<h2>Pipeline policies (root namespace)</h2>" in (tmp_path / "access-matrix.html").read_text()


def _pipeline_yaml(tmp_path: Path, placeholders: str, row: str) -> Path:
    path = tmp_path / "expectations.yaml"
    path.write_text(
        f"placeholders: {{{placeholders}}}\n"
        "other_environment: {environment: staging, namespace: staging}\n"
        f"policies:\n  p:\n    {row}\n"
    )
    return path


GOOD_PLACEHOLDERS = (
    "environment: dev, namespace: dev, kv_mount: kv, jwt_path: jwt, approle_path: approle, "
    "audit_path: a, pipeline_path: p, jwt_roles: r, approle_roles: r, token_roles: r, acl_policies: p"
)


def test_a_pipeline_row_naming_an_unknown_placeholder_is_refused(tmp_path: Path) -> None:
    good = load_pipeline_expectations(_pipeline_yaml(tmp_path, GOOD_PLACEHOLDERS, "'${ns}kv/config': [read]"))
    assert good.rendered().policies == {"p": {"dev/kv/config": ("read",)}}
    bad = _pipeline_yaml(tmp_path, GOOD_PLACEHOLDERS, "'${typo}kv/config': [read]")
    with pytest.raises(ValueError, match=r"policies\.p\['\$\{typo\}kv/config'\]"):
        load_pipeline_expectations(bad)


def test_pipeline_placeholders_must_be_complete(tmp_path: Path) -> None:
    missing = _pipeline_yaml(tmp_path, "environment: dev, namespace: dev", "'sys/audit': [read]")
    with pytest.raises(ValueError, match="placeholders must map exactly"):
        load_pipeline_expectations(missing)


# --------------------------------------------------------------------------------------------------
# identity view: who reaches which secret, for the checked-in stacks


@pytest.fixture(scope="module")
def identity() -> IdentityView:
    return identity_view(checked_in_settings())


def _readers(view: IdentityView, environment: str, name: str) -> set[str]:
    return {w.label for (w, s), r in view.reach.items() if s.environment == environment and s.name == name and r.read}


def test_no_way_in_reaches_another_environments_secrets(identity: IdentityView) -> None:
    for (way, secret), reach in identity.reach.items():
        if way.environment != secret.environment:
            assert not (reach.read or reach.write or reach.metadata), f"{way.label} reaches {secret}"


def test_production_api_keys_are_read_only_by_prods_deploy_job_model_runner_and_readonly_tokens(
    identity: IdentityView,
) -> None:
    assert _readers(identity, "prod", "api-keys") == {
        "prod: github jwt/github-actions",
        "prod: approle approle/model-runner",
        "prod: token-role token/openai-llm-readonly",
    }


def test_pull_requests_read_only_dev_fixtures(identity: IdentityView) -> None:
    pr_ways = [w for w in identity.ways if w.who.endswith(":pull_request; events pull_request")]
    assert pr_ways, "the stacks declare pull-request bindings"
    for way in pr_ways:
        for env in identity.environments():
            summary = identity.summary(way, env)
            expected = "read: fixtures/zz-probe" if (env, way.name) == ("dev", "jwt/github-actions-pr") else "nothing"
            assert summary == expected, f"{way.label} in {env}"


def test_the_pipeline_reads_and_writes_no_secret_value(identity: IdentityView) -> None:
    for (way, _secret), reach in identity.reach.items():
        if way.kind == "pipeline":
            assert not (reach.read or reach.write), way.label
    # The apply role keeps the catalogue's metadata records (owner, rotation period); it is shown.
    apply = next(w for w in identity.ways if w.name == "github-pipeline-prod/llm-vault-apply")
    assert identity.summary(apply, "prod") == "metadata: api-keys, zz-undeclared"


def test_the_report_puts_the_identity_view_first(identity: IdentityView) -> None:
    text = render_markdown(SAMPLE, None, identity)
    assert text.index("## Who can reach which secret") < text.index("## Policies (environment namespace)")
    assert "| prod: approle approle/model-runner | holders of a secret-id | `model-runner` | nothing | nothing | " \
        "read: api-keys |" in text
    assert "Who can reach which secret" in render_html(SAMPLE, None, identity)

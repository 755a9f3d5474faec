"""Any ``Pulumi.<name>.yaml`` is a stack: discovered in promotion order, refused by name when
absent (with the list of stacks there are), and previewed like the shipped ones."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest

from llm_vault.stackfiles import STACKS, UnknownStack, check_stack, discover_stacks, stack_config
from llm_vault.toolchain import REPO_ROOT


def _checkout_with_a_qa_stack(tmp: Path) -> Path:
    """A copy of the project's stack files plus Pulumi.qa.yaml: dev's values under qa's names,
    what a team writes to add an environment."""
    tmp.mkdir(parents=True, exist_ok=True)
    for path in [REPO_ROOT / "Pulumi.yaml", *(REPO_ROOT / f"Pulumi.{s}.yaml" for s in STACKS)]:
        shutil.copy(path, tmp / path.name)
    dev = (REPO_ROOT / "Pulumi.dev.yaml").read_text()
    (tmp / "Pulumi.qa.yaml").write_text(re.sub(r"\bdev\b", "qa", dev))
    return tmp


def test_the_shipped_stacks_are_discovered_in_promotion_order() -> None:
    assert STACKS == ("dev", "staging", "prod")


def test_a_new_stack_file_is_a_stack_and_goes_between_dev_and_the_protected_stacks(tmp_path: Path) -> None:
    root = _checkout_with_a_qa_stack(tmp_path)
    assert discover_stacks(root) == ("dev", "qa", "staging", "prod")
    assert check_stack("qa", root) == "qa"
    assert stack_config("qa", root)["llm-vault:environment"] == "qa"


def test_scalars_the_cli_wrote_as_text_read_as_the_engine_hands_them_over(tmp_path: Path) -> None:
    # `pulumi config set llm-vault:protect false` (or `pulumi stack init` rewriting the file) stores "false".
    shutil.copyfile(REPO_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.qa.yaml").write_text(
        'config:\n  llm-vault:protect: "false"\n  llm-vault:environment: "qa"\n  llm-vault:kv: {maxVersions: 5}\n'
    )
    values = stack_config("qa", tmp_path)
    assert values["llm-vault:protect"] is False
    assert values["llm-vault:environment"] == "qa"
    assert values["llm-vault:kv"] == {"maxVersions": 5}


def test_an_unknown_stack_is_refused_with_the_stacks_there_are(tmp_path: Path) -> None:
    with pytest.raises(UnknownStack, match=r"no stack file Pulumi\.qa\.yaml: the stacks are dev, staging, prod"):
        check_stack("qa")


def test_the_cli_refuses_an_unknown_stack_before_anything_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from llm_vault.cli import main

    assert main(["preview", "--stack", "qa"]) == 1
    assert "no stack file Pulumi.qa.yaml" in capsys.readouterr().err


@pytest.mark.integration
@pytest.mark.engine
def test_a_fourth_stack_file_previews_through_the_engine(tmp_path: Path, openbao, oidc_issuer) -> None:  # type: ignore[no-untyped-def]
    from llm_vault import automation
    from llm_vault.cli import preflight
    from llm_vault.preview_report import collect_preview
    from tests.e2e.harness import Deployment

    root = _checkout_with_a_qa_stack(tmp_path / "checkout")
    deployment = Deployment(openbao, oidc_issuer, tmp_path / "state")
    target = dataclasses.replace(deployment.target("qa"), source_root=root)
    settings = preflight(target)
    assert (settings.environment, settings.namespace) == ("qa", "qa")

    preview = collect_preview(automation.open_stack(target), stack_name="qa", env=target.env)
    assert preview.errors == []
    assert set(preview.counts) == {"create"} and preview.counts["create"] > 20
    assert {c.name for c in preview.changes} >= {"namespace", "secrets-mount", "policy-openai-llm-ci"}

"""A change that would replace an object holding secrets in a protected stack stops at preview."""

from __future__ import annotations

import pytest

from .harness import Deployment, Seeded

pytestmark = [pytest.mark.integration, pytest.mark.engine]


def _renamed(deployment: Deployment, stack: str) -> dict[str, object]:
    """Another kv mount path for ``stack`` ("openai-llm-v2"; root layout: "openai-llm-v2-prod")."""
    path = deployment.stacks[stack].settings.kv.path
    return {"llm-vault:kv": {"path": path.replace("openai-llm", "openai-llm-v2", 1)}}


def test_renaming_the_kv_mount_of_prod_fails_preview_and_says_why(provisioned: Deployment, seeded: Seeded) -> None:
    preview = provisioned.preview("prod", _renamed(provisioned, "prod"))
    assert preview.errors, "a replacement of the protected kv mount was previewed as if it could happen"
    assert any("protect" in e for e in preview.errors), preview.errors
    # Nothing was touched: the secrets are where they were.
    settings = provisioned.stacks["prod"].settings
    data = provisioned.root(settings.namespace).secrets.kv.v2.read_secret_version(
        "api-keys", mount_point=settings.kv.path, raise_on_deleted_version=True
    )["data"]["data"]
    assert set(data) == set(seeded.of("prod", "api-keys"))


def test_the_same_rename_in_dev_is_shown_as_a_flagged_replacement(provisioned: Deployment, seeded: Seeded) -> None:
    from llm_vault.preview_report import render_markdown

    preview = provisioned.preview("dev", _renamed(provisioned, "dev"))
    assert preview.errors == []
    flagged = {c.name for c in preview.flagged}
    assert "secrets-mount" in flagged
    report = render_markdown(preview)
    assert report.index("[!WARNING]") < report.index("### ")  # flags come first


def test_lowering_max_versions_on_prod_fails_preview_naming_the_key(provisioned: Deployment, seeded: Seeded) -> None:
    settings = provisioned.stacks["prod"].settings
    preview = provisioned.preview("prod", {"llm-vault:kv": {"maxVersions": 3}})
    message = " ".join(preview.errors)
    assert "llm-vault:kv.maxVersions: lowered from 50 to 3 on a protected stack" in message, preview.errors
    assert "llm-vault:kv.maxVersionsLoweredReason" in message
    # Stopped before any change: the engine config still keeps 50 versions.
    config = provisioned.root(settings.namespace).secrets.kv.v2.read_configuration(mount_point=settings.kv.path)
    assert config["data"]["max_versions"] == 50


def test_a_stated_reason_lets_prod_lower_max_versions_and_dev_needs_none(provisioned: Deployment) -> None:
    reason = "retention policy LLM-123: keep 20 versions"
    stated = provisioned.preview("prod", {"llm-vault:kv": {"maxVersions": 20, "maxVersionsLoweredReason": reason}})
    assert stated.errors == []
    assert "secrets-config" in {c.name for c in stated.changes}
    dev = provisioned.preview("dev", {"llm-vault:kv": {"maxVersions": 3}})
    assert dev.errors == []

"""The policy files are well-formed, least-privilege by construction, and all have a table."""

from __future__ import annotations

from pathlib import Path

import hcl2
import pytest

from infra.config import ConfigError
from llm_vault.access_matrix import (
    CAPABILITIES,
    DENY,
    load_expectations,
    load_policies,
    policy_files,
    render_policy,
)

KV_MOUNT = "openai-llm"
# The only path outside the kv mount any policy may name: the read-only child-token role.
TOKEN_ROLE_PATH = "auth/token/create/openai-llm-readonly"


def _rules(text: str) -> dict[str, list[str]]:
    """path -> capabilities, parsed by python-hcl2 (which keeps string quotes: strip them)."""
    parsed = {key: value for key, value in hcl2.loads(text).items() if not key.startswith("__")}
    assert set(parsed) == {"path"}, f"only path blocks belong in a policy, found {sorted(parsed)}"
    rules: dict[str, list[str]] = {}
    for block in parsed["path"]:
        for quoted_path, body in block.items():
            assert {key for key in body if not key.startswith("__")} == {"capabilities"}, body
            rules[quoted_path.strip('"')] = [cap.strip('"') for cap in body["capabilities"]]
    return rules


POLICIES = load_policies(KV_MOUNT)


def test_there_are_policies_and_each_has_an_expectation_table() -> None:
    expected = {"openai-llm-ci", "openai-llm-pr", "openai-llm-readonly", "openai-llm-operator", "model-runner"}
    assert set(POLICIES) == expected
    expectations = load_expectations()
    assert set(expectations.policies) == set(POLICIES) | set(expectations.generated)
    assert set(expectations.generated) == {"database-rag-readonly", "database-rag-etl"}


def test_the_expectations_are_written_for_the_mount_the_tests_render() -> None:
    assert load_expectations().kv_mount == KV_MOUNT


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_policy_parses_and_names_only_known_capabilities(name: str) -> None:
    rules = _rules(POLICIES[name])
    assert rules
    for api_path, caps in rules.items():
        assert caps and set(caps) <= CAPABILITIES, (api_path, caps)
        assert DENY not in caps or caps == [DENY], (api_path, caps)


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_policy_stays_inside_its_mount_and_never_touches_sys_or_sudo(name: str) -> None:
    for api_path, caps in _rules(POLICIES[name]).items():
        assert api_path.startswith(f"{KV_MOUNT}/") or api_path == TOKEN_ROLE_PATH, api_path
        assert "sudo" not in caps


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_no_policy_may_destroy_or_erase_metadata(name: str) -> None:
    rules = _rules(POLICIES[name])
    assert set(rules.get(f"{KV_MOUNT}/destroy/*", [DENY])) == {DENY}
    assert "delete" not in rules.get(f"{KV_MOUNT}/metadata/*", [])


def test_rendering_fills_the_mount_everywhere() -> None:
    for name, path in policy_files().items():
        rendered = render_policy(path, "env-kv")
        assert "${" not in rendered and "$" not in rendered, name
        assert "env-kv/" in rendered


def test_rendering_refuses_an_unknown_placeholder(tmp_path: Path) -> None:
    bad = tmp_path / "bad.hcl"
    bad.write_text('path "${kv_mount}/${typo}/*" {\n  capabilities = ["read"]\n}\n')
    with pytest.raises(ConfigError, match=r"policies\[bad.hcl\]: unknown placeholder \$\{typo\}"):
        render_policy(bad, KV_MOUNT)

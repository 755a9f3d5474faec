"""The apply policy's generated grants: written as HCL, known as a parsed document without
parsing every block (a block per role: at 500 bindings the parse was ~0.5 s of every command).
The document must be exactly what python-hcl2 makes of the whole text, or the loader's check
and the reach analysis would judge another policy than the one written to the server."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import hcl2
import pytest

from infra import policy_reach
from infra.config import load_settings
from infra.config.policies import Grants, render_policy_file
from tests.infra.test_config import dev_raw

APPLY = Path(__file__).resolve().parents[2] / "policies" / "pipeline" / "llm-vault-apply.hcl"


def with_bindings(n: int) -> dict[str, Any]:
    raw = dev_raw()
    template = raw["github"]["bindings"][0]
    raw["github"]["bindings"] = [
        {**copy.deepcopy(template), "role": f"ci-{i:04d}", "repository": f"acme-ai/app-{i:04d}",
         "repositoryId": str(500000000 + i)}
        for i in range(n)
    ]
    return raw


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    policy_reach.clear_caches()


def apply_policy(raw: dict[str, Any]) -> str:
    settings = load_settings(raw)
    assert settings.pipeline is not None
    return next(p.text for p in settings.pipeline.policies if p.stem == "llm-vault-apply")


def test_the_apply_policys_document_is_what_the_parser_makes_of_its_whole_text() -> None:
    text = apply_policy(with_bindings(5))
    known = policy_reach.document(text)

    assert known == hcl2.loads(text)
    assert text.count('path "dev/auth/jwt/role/ci-0') == 5  # (the blocks are in the text written to the server)
    assert {r.path for r in policy_reach.rules(text)} >= {f"dev/auth/jwt/role/ci-{i:04d}" for i in range(5)}


def test_loading_a_stack_parses_no_generated_block_however_many_bindings(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[int] = []
    real = hcl2.loads
    monkeypatch.setattr(hcl2, "loads", lambda text, **kw: parsed.append(len(text)) or real(text, **kw))
    apply_policy(with_bindings(2))
    small = sum(parsed)
    parsed.clear()
    policy_reach.clear_caches()

    apply_policy(with_bindings(200))

    assert sum(parsed) == small  # the same files, each block of the grants parsed never


def test_grants_are_one_block_per_name_in_order_and_nothing_for_no_name() -> None:
    grants = Grants("dev/auth/jwt/role/", ("a", "b"))
    assert str(grants) == (
        'path "dev/auth/jwt/role/a" {\n  capabilities = ["create", "read", "update", "delete"]\n}\n'
        'path "dev/auth/jwt/role/b" {\n  capabilities = ["create", "read", "update", "delete"]\n}'
    )
    assert str(Grants("x/", ())) == ""
    assert grants.entries() == hcl2.loads(str(grants))["path"]


def test_a_name_that_is_not_plain_is_left_to_the_parser(tmp_path: Path) -> None:
    odd = Grants("dev/auth/jwt/role/", ("ci+odd",))
    assert odd.entries() is None
    policy = tmp_path / "apply.hcl"
    policy.write_text('path "sys/x" {\n  capabilities = ["read"]\n}\n${jwt_role_grants}\n')

    text = render_policy_file(policy, {"jwt_role_grants": odd}).text

    assert policy_reach.document(text) == hcl2.loads(text)


@pytest.mark.parametrize(
    ("template", "names"),
    [
        ('# generated: ${jwt_role_grants}\npath "sys/x" {\n  capabilities = ["read"]\n}\n', ()),  # in a comment
        ('${jwt_role_grants}\npath "sys/x" {\n  capabilities = ["read"]\n}\n${jwt_role_grants}\n', ("a", "b")),  # twice
    ],
)
def test_a_placeholder_that_is_not_one_list_of_blocks_is_left_to_the_parser(
    tmp_path: Path, template: str, names: tuple[str, ...]
) -> None:
    policy = tmp_path / "apply.hcl"
    policy.write_text(template)
    text = render_policy_file(policy, {"jwt_role_grants": Grants("auth/jwt/role/", names)}).text

    assert policy_reach.document(text) == hcl2.loads(text)

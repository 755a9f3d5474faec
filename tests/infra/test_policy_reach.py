"""What a policy can reach, decided from its text: the loader's basis for refusing a binding
whose policies are wider than whoever can obtain its token."""

from __future__ import annotations

import pytest

from infra import policy_reach

TARGET = "openai-llm/data/"
FIXTURES = ("fixtures/",)


@pytest.mark.parametrize(
    ("pattern", "outside"),
    [
        ("openai-llm/data/*", True),  # everything
        ("openai-llm/*", True),  # the whole mount, data/ included
        ("*", True),
        ("+/data/*", True),  # any mount, this one included
        ("openai-llm/+/api-keys", True),  # + is one segment: data among them
        ("openai-llm/data/api-keys", True),
        ("openai-llm/data/a*", True),  # a prefix glob still names real secrets
        ("openai-llm/data/fixtures*", True),  # also matches fixtures-old, and fixtures itself
        ("openai-llm/data/fixtures/*", False),
        ("openai-llm/data/fixtures/+/golden", False),
        ("openai-llm/metadata/*", False),  # names, not values
        ("other-mount/data/*", False),
        ("openai-llm/data/", False),  # the folder itself is no secret
    ],
)
def test_a_pattern_reads_a_secret_outside_the_fixtures_exactly_when_some_path_it_matches_is_one(
    pattern: str, outside: bool
) -> None:
    example = policy_reach.reads_outside(pattern, TARGET, FIXTURES)
    assert (example is not None) is outside, example
    if example:
        assert example.startswith(TARGET) and not example[len(TARGET) :].startswith("fixtures/")


def test_only_read_rules_count_as_reading_secret_values() -> None:
    text = 'path "openai-llm/data/*" { capabilities = ["list"] }\npath "openai-llm/data/x" { capabilities = ["deny"] }'
    assert policy_reach.secret_reads_outside(text, (TARGET,), ()) == []
    assert not policy_reach.reads_secret_values(text, (TARGET,))


def test_writes_are_create_update_patch_delete_and_sudo_alone_is_not_one() -> None:
    text = (
        'path "sys/audit" { capabilities = ["read", "sudo"] }\n'
        'path "auth/token/create/x" { capabilities = ["update"] }\n'
        'path "openai-llm/destroy/*" { capabilities = ["deny"] }\n'
    )
    assert policy_reach.writes(text) == ["update on 'auth/token/create/x'"]


def test_a_root_namespace_policy_reaches_the_environment_through_its_namespace_prefix() -> None:
    text = 'path "dev/openai-llm/data/*" { capabilities = ["read"] }'
    assert policy_reach.reads_secret_values(text, ("dev/openai-llm/data/",))
    assert not policy_reach.reads_secret_values(text, ("prod/openai-llm/data/",))


def _policy(*rules: tuple[str, list[str]]) -> str:
    blocks = []
    for path, caps in rules:
        quoted = ", ".join(f'"{c}"' for c in caps)
        blocks.append(f'path "{path}" {{\n  capabilities = [{quoted}]\n}}')
    return "\n".join(blocks)


# (policies, path, capabilities a token holding them has there): also checked against a real
# server by tests/policies/test_policy_behaviour.py, so the model and the server cannot part.
ACL_CASES: list[tuple[list[str], str, set[str]]] = [
        # one policy: the matching rule decides
        ([_policy(("kv/data/*", ["read"]))], "kv/data/a", {"read"}),
        ([_policy(("kv/data/*", ["read"]))], "kv/metadata/a", set()),
        # an exact rule beats a glob, even when the glob grants more (across policies too)
        ([_policy(("kv/data/*", ["read", "update"])), _policy(("kv/data/a", ["read"]))], "kv/data/a", {"read"}),
        # the same pattern in two policies: capabilities merge
        ([_policy(("kv/data/*", ["read"])), _policy(("kv/data/*", ["update"]))], "kv/data/b", {"read", "update"}),
        # deny on the same pattern wins over any grant
        ([_policy(("kv/data/*", ["read"])), _policy(("kv/data/*", ["deny"]))], "kv/data/b", set()),
        # a more specific glob wins (first wildcard later)
        ([_policy(("kv/*", ["read"]), ("kv/data/secret/*", ["list"]))], "kv/data/secret/x", {"list"}),
        # a + segment rule beats a glob that starts earlier; a longer glob beats a shorter one
        ([_policy(("kv/*", ["read"]), ("kv/data/+/x", ["update"]))], "kv/data/a/x", {"update"}),
        ([_policy(("kv/data/a*", ["read"]), ("kv/data/ab*", ["list"]))], "kv/data/abc", {"list"}),
        # not ending in a glob beats ending in one when the first wildcard is at the same place
        ([_policy(("kv/+/x", ["read"]), ("kv/+/x*", ["list"]))], "kv/data/x", {"read"}),
        ([], "kv/data/a", set()),
]


@pytest.mark.parametrize(("policies", "path", "expected"), ACL_CASES)
def test_capabilities_on_a_path_follow_vaults_priority_rules(
    policies: list[str], path: str, expected: set[str]
) -> None:
    assert policy_reach.capabilities_on(policies, path) == expected

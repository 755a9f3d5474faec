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

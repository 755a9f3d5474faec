"""The typed errors: one base, the server's message and the path kept, secrets scrubbed."""

from __future__ import annotations

import secrets

import pytest

from vault_secrets import (
    AuthenticationFailed,
    PermissionDenied,
    SecretNotFound,
    VaultSecretsError,
    VaultUnavailable,
)
from vault_secrets.errors import MAX_SERVER_MESSAGE, REDACTED, clean_server_message, scrub

from .secrecy import assert_not_leaked, assert_same_secret


@pytest.mark.parametrize("cls", [SecretNotFound, PermissionDenied, AuthenticationFailed, VaultUnavailable])
def test_every_error_is_a_vault_secrets_error(cls: type[VaultSecretsError]) -> None:
    assert issubclass(cls, VaultSecretsError)


def test_the_message_names_operation_path_namespace_and_server_message() -> None:
    err = PermissionDenied("permission denied", operation="write", path="openai-llm/api-keys", namespace="dev")
    assert str(err) == "write openai-llm/api-keys (namespace dev): permission denied"
    assert (err.operation, err.path, err.namespace, err.server_message) == (
        "write",
        "openai-llm/api-keys",
        "dev",
        "permission denied",
    )


def test_without_a_server_message_the_class_says_what_happened() -> None:
    assert str(SecretNotFound(operation="read", path="openai-llm/x")) == "read openai-llm/x: no secret at this path"


def test_vault_multierror_text_becomes_one_line() -> None:
    assert clean_server_message("1 error occurred:\n\t* permission denied\n\n") == "permission denied"
    assert clean_server_message("2 errors occurred:\n\t* a\n\t* b\n\n") == "a; b"


def test_sensitive_strings_are_scrubbed_from_message_str_and_repr() -> None:
    value, token = secrets.token_urlsafe(20), "s." + secrets.token_urlsafe(20)
    err = VaultSecretsError(f"server echoed {value} and {token}", operation="write", sensitive=[value, token])
    for text in (str(err), repr(err), err.server_message, *map(str, err.args)):
        assert_not_leaked(text, value, token)
    assert REDACTED in str(err)


def test_a_secret_containing_another_is_replaced_whole() -> None:
    inner = secrets.token_hex(8)
    outer = f"prefix-{inner}-suffix"
    assert_same_secret(scrub(f"x {outer} y", [inner, outer]), f"x {REDACTED} y", "scrubbed text")


def test_a_long_server_message_is_cut() -> None:
    err = VaultUnavailable("<html>" + "x" * 5000)
    assert len(err.server_message) <= MAX_SERVER_MESSAGE + 3

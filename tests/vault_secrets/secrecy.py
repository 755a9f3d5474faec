"""Assertions about secret values that never print them.

A plain ``assert value not in text`` or ``assert read == expected`` makes pytest print both sides
on failure, which would put a secret (or a token) into test output. These helpers fail with the
shape of what differs (types, lengths, key names) and withhold the values.
"""

from __future__ import annotations

from typing import Any

import pytest


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, str):
        return f"<str len {len(value)}>"
    return f"<{type(value).__name__}>" if value is not None else None


def assert_same_secret(actual: Any, expected: Any, what: str = "secret") -> None:
    """``actual == expected`` (a string or a dict of them); on failure only shapes are shown."""
    if actual != expected:
        pytest.fail(
            f"{what} differs: got {_shape(actual)}, expected {_shape(expected)} (values withheld)", pytrace=False
        )


def assert_not_leaked(text: str, *secrets: str) -> None:
    """None of ``secrets`` occurs in ``text``; on failure neither is shown."""
    leaked = [i for i, secret in enumerate(secrets) if secret and secret in text]
    if leaked:
        pytest.fail(f"secret(s) at position {leaked} of {len(secrets)} appear in the text (withheld)", pytrace=False)


# A service token's prefix on each server (Vault 1.10+ issues ``hvs.`` tokens, OpenBao ``s.``).
SERVICE_TOKEN_PREFIX = {"openbao": "s.", "vault": "hvs."}


def assert_token_shape(token: Any, product: str = "openbao") -> None:
    """A service token string of ``product`` (its prefix), without showing it."""
    prefix = SERVICE_TOKEN_PREFIX[product]
    if not (isinstance(token, str) and token.startswith(prefix) and len(token) > 10):
        pytest.fail(f"not a {product} service token ({prefix!r} prefix): {_shape(token)}", pytrace=False)

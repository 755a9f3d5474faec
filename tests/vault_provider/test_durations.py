"""The one duration parser (``vault_provider.durations``): stack config and what the server reports."""

from __future__ import annotations

from typing import Any

import pytest

from vault_provider.durations import duration_seconds


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (900, 900),
        ("900", 900),
        ("15m", 900),
        ("1h30m", 5400),
        ("90d", 7_776_000),
        ("1h0m30s", 3630),  # as the server reports a TTL
        ("1.5h", 5400),
        ("1500ms", 2),  # Vault keeps TTLs in whole seconds
        ("-5m", -300),  # the sign is kept; config refuses negative durations itself
        (" 36h ", 129_600),
    ],
)
def test_vaults_duration_grammar_reads_as_whole_seconds(value: Any, seconds: int) -> None:
    assert duration_seconds(value) == seconds


@pytest.mark.parametrize("value", [True, False, None, "", "15 minutes", "1h 30m", "soon", "15x", "h", [15]])
def test_anything_else_is_not_a_duration(value: Any) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        duration_seconds(value)

"""The one duration parser: stack config (``infra.config``) and our providers (what the server
reports) both read durations here.

The grammar is the one Vault reads a duration in (``parseutil.ParseDurationSecond``): a whole
number of seconds, or Go's ``time.ParseDuration`` units with Vault's ``d`` for days added
(``15m``, ``1h30m``, ``36h``, ``90d``, and the server's own ``1h0m30s`` or ``250ms``). Vault keeps
TTLs in whole seconds, and so do the records (``args.py``).
"""

from __future__ import annotations

import re
from typing import Any

_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
# Longest unit names first, so that "ms" is not read as "m" followed by a stray "s".
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|ns|d|h|m|s)")
_NUMBER = re.compile(r"^-?\d+$")


def duration_seconds(value: Any) -> int:
    """Whole seconds in ``value`` (an int, or a string in Vault's duration grammar); sub-second
    remainders are rounded. Raises ``ValueError`` for anything else (``True``, ``""``, ``"15 minutes"``)."""
    if isinstance(value, bool):  # a bool is an int to Python, never a duration to us
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)  # the engine hands numbers back as floats
    if isinstance(value, str):
        text = value.strip()
        if _NUMBER.match(text):
            return int(text)
        sign, body = (-1, text[1:]) if text.startswith("-") else (1, text)
        parts = _PART.findall(body)
        if parts and "".join(n + u for n, u in parts) == body:
            return sign * round(sum(float(n) * _UNITS[u] for n, u in parts))
    raise ValueError(f"not a duration: {value!r}")

"""CIDR lists as Vault compares them: a set of networks (``203.0.113.7`` is ``203.0.113.7/32``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable


def canonical_cidrs(values: Iterable[str] | None) -> frozenset[str]:
    out = set()
    for value in values or ():
        try:
            out.add(str(ipaddress.ip_network(value, strict=False)))
        except ValueError:
            out.add(value)  # not ours to judge: the server's error on write says what is wrong
    return frozenset(out)

"""The provider seam: each record type is declared in one table per backend, and both tables
cover every record type (a new kind added to one and forgotten in the other fails here)."""

from __future__ import annotations

import typing

from vault_provider import args as a
from vault_provider.builtin.backend import RESOURCES
from vault_provider.official import MAPPINGS


def test_every_record_type_is_mapped_in_both_backends() -> None:
    kinds = set(typing.get_args(a.ObjectArgs))
    assert set(RESOURCES) == kinds, f"builtin: missing {kinds - set(RESOURCES)}"
    assert set(MAPPINGS) == kinds, f"pulumi_vault: missing {kinds - set(MAPPINGS)}"

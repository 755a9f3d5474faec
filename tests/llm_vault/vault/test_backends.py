"""The provider seam: each record type is declared in one table per backend, and both tables
cover every record type (a new kind added to one and forgotten in the other fails here)."""

from __future__ import annotations

import typing

from llm_vault.vault import args as a
from llm_vault.vault.builtin.backend import RESOURCES
from llm_vault.vault.official import MAPPINGS


def test_every_record_type_is_mapped_in_both_backends() -> None:
    kinds = set(typing.get_args(a.ObjectArgs))
    assert set(RESOURCES) == kinds, f"builtin: missing {kinds - set(RESOURCES)}"
    assert set(MAPPINGS) == kinds, f"pulumi_vault: missing {kinds - set(MAPPINGS)}"

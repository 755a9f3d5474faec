"""The access matrix renders the expectation table faithfully, in markdown and HTML."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_vault.access_matrix import Expectations, load_expectations, main, render_html, render_markdown

SAMPLE = Expectations(
    kv_mount="kv",
    policies={
        "reader": {"kv/data/a": ("read",), "sys/<x>": ("deny",)},
        "writer": {"kv/data/a": ("create", "update"), "kv/destroy/a": ("deny",)},
    },
)


def test_markdown_has_a_row_per_path_and_a_column_per_policy() -> None:
    lines = render_markdown(SAMPLE).splitlines()
    assert "| path | `reader` | `writer` |" in lines
    assert "| `kv/data/a` | read | create, update |" in lines
    assert "| `sys/<x>` | denied |  |" in lines  # unchecked for writer: empty, not "denied"
    assert "| `kv/destroy/a` |  | denied |" in lines


def test_html_marks_cells_and_escapes_paths() -> None:
    page = render_html(SAMPLE)
    assert "<code>sys/&lt;x&gt;</code>" in page and "sys/<x>" not in page
    assert '<td class="allowed">create, update</td>' in page
    assert page.count('<td class="denied">denied</td>') == 2
    assert page.count('<td class="unchecked"></td>') == 2


def test_the_cli_writes_both_reports_for_the_real_table(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path / "reports")]) == 0
    markdown = (tmp_path / "reports" / "access-matrix.md").read_text()
    assert "`openai-llm-ci`" in markdown and "`auth/token/create`" in markdown
    assert (tmp_path / "reports" / "access-matrix.html").read_text().startswith("<!DOCTYPE html>")


def test_a_malformed_table_is_refused_naming_the_row(tmp_path: Path) -> None:
    bad = tmp_path / "expectations.yaml"
    bad.write_text("kv_mount: kv\npolicies:\n  p:\n    kv/data/a: [read, deny]\n")
    with pytest.raises(ValueError, match=r"policies\.p\['kv/data/a'\]"):
        load_expectations(bad)

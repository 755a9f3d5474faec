"""The layers of docs/architecture.md, checked on the source: who may import whom.

A lower layer importing a higher one is how a provider ends up depending on stack config, or the
client library on the engine: each arrow here is one a reviewer would otherwise check by grep.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# package -> the packages of ours it may import (besides itself)
MAY_IMPORT = {
    "vault_secrets": set(),  # the client: applications install it alone
    "vault_provider": {"vault_secrets"},  # the provider layer shares the client's guarded HTTP session
    "infra": {"vault_provider"},  # the program declares records through the seam
    "llm_vault": {"infra", "vault_provider", "vault_secrets"},  # the runner
}


def imported_packages(path: Path) -> set[str]:
    """Top-level packages of ours that ``path`` imports (at module level or inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found.update(name.split(".")[0] for name in names if name.split(".")[0] in MAY_IMPORT)
    return found


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    allowed = MAY_IMPORT[package] | {package}
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) - allowed)
        for path in sorted((ROOT / package).rglob("*.py"))
        if imported_packages(path) - allowed
    }
    assert wrong == {}, f"{package} may import only {sorted(allowed)}"


def test_the_check_sees_an_import_from_a_higher_layer(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from infra.config import Settings\n    import llm_vault.cli\n")
    assert imported_packages(module) == {"infra", "llm_vault"}

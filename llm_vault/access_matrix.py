"""ACL policies from ``policies/*.hcl`` and the access matrix of ``policies/expectations.yaml``.

The policy files name the kv mount as ``${kv_mount}``; :func:`render_policy` fills it in (the
Pulumi program and the tests render the same way). The file stem is the policy name.

``python -m llm_vault.access_matrix --out reports/`` writes ``access-matrix.md`` and
``access-matrix.html``: policies x paths, allowed capabilities or denied.
"""

from __future__ import annotations

import argparse
import html
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from llm_vault.toolchain import REPO_ROOT

POLICY_DIR = REPO_ROOT / "policies"
EXPECTATIONS_FILE = POLICY_DIR / "expectations.yaml"
DENY = "deny"
CAPABILITIES = frozenset({"create", "read", "update", "patch", "delete", "list", "sudo", DENY})


def render_policy(path: Path, kv_mount: str) -> str:
    """The policy text of ``path`` with ``${kv_mount}`` filled in (any other ``$`` placeholder fails)."""
    return string.Template(Path(path).read_text()).substitute(kv_mount=kv_mount)


def policy_files(policy_dir: Path = POLICY_DIR) -> dict[str, Path]:
    """Policy name (file stem) -> file, sorted by name."""
    return {path.stem: path for path in sorted(Path(policy_dir).glob("*.hcl"))}


def load_policies(kv_mount: str, policy_dir: Path = POLICY_DIR) -> dict[str, str]:
    """Policy name -> rendered policy text, for every ``*.hcl`` in ``policy_dir``."""
    return {name: render_policy(path, kv_mount) for name, path in policy_files(policy_dir).items()}


@dataclass(frozen=True)
class Expectations:
    kv_mount: str
    # policy -> path -> capabilities (("deny",) when nothing is granted)
    policies: dict[str, dict[str, tuple[str, ...]]]

    def paths(self) -> list[str]:
        """Every path of any table, first-seen order (the YAML groups them sensibly)."""
        seen: dict[str, None] = {}
        for table in self.policies.values():
            seen.update(dict.fromkeys(table))
        return list(seen)


def load_expectations(path: Path = EXPECTATIONS_FILE) -> Expectations:
    raw = yaml.safe_load(Path(path).read_text())
    policies: dict[str, dict[str, tuple[str, ...]]] = {}
    for policy, table in raw["policies"].items():
        rows: dict[str, tuple[str, ...]] = {}
        for api_path, caps in table.items():
            unknown = set(caps) - CAPABILITIES
            if unknown or not caps or (DENY in caps and len(caps) > 1):
                raise ValueError(f"{path}: policies.{policy}[{api_path!r}]: bad capabilities {caps!r}")
            rows[api_path] = tuple(caps)
        policies[policy] = rows
    return Expectations(kv_mount=raw["kv_mount"], policies=policies)


def _cell(caps: tuple[str, ...] | None) -> str:
    if caps is None:
        return ""  # not in this policy's table: not checked
    return "denied" if caps == (DENY,) else ", ".join(caps)


def render_markdown(expectations: Expectations) -> str:
    names = list(expectations.policies)
    lines = [
        "# Access matrix",
        "",
        f"Capabilities each policy grants inside an environment namespace (kv mount "
        f"`{expectations.kv_mount}`), as checked against a real OpenBao server by "
        "`tests/policies/test_policy_behaviour.py`. An empty cell: not checked for that policy.",
        "",
        "| path | " + " | ".join(f"`{name}`" for name in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for api_path in expectations.paths():
        cells = [_cell(expectations.policies[name].get(api_path)) for name in names]
        lines.append(f"| `{api_path}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; }
td.allowed { background: #e3f6e3; }
td.denied { background: #fbe3e3; color: #800; }
td.unchecked { background: #f4f4f4; }
code { font-size: 0.95em; }
"""


def render_html(expectations: Expectations) -> str:
    names = list(expectations.policies)
    head = "".join(f"<th><code>{html.escape(name)}</code></th>" for name in names)
    rows = []
    for api_path in expectations.paths():
        cells = []
        for name in names:
            caps = expectations.policies[name].get(api_path)
            css = "unchecked" if caps is None else "denied" if caps == (DENY,) else "allowed"
            cells.append(f'<td class="{css}">{html.escape(_cell(caps))}</td>')
        rows.append(f"<tr><th><code>{html.escape(api_path)}</code></th>{''.join(cells)}</tr>")
    body = "\n".join(rows)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Access matrix</title>'
        f"<style>{_CSS}</style></head><body>\n<h1>Access matrix</h1>\n"
        f"<p>Capabilities each policy grants inside an environment namespace (kv mount "
        f"<code>{html.escape(expectations.kv_mount)}</code>). Empty cell: not checked.</p>\n"
        f"<table>\n<tr><th>path</th>{head}</tr>\n{body}\n</table>\n</body></html>\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llm_vault.access_matrix", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("reports"), help="folder for the two reports")
    parser.add_argument("--expectations", type=Path, default=EXPECTATIONS_FILE)
    args = parser.parse_args(argv)
    expectations = load_expectations(args.expectations)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "access-matrix.md").write_text(render_markdown(expectations))
    (args.out / "access-matrix.html").write_text(render_html(expectations))
    print(f"wrote {args.out / 'access-matrix.md'} and {args.out / 'access-matrix.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Read the checked-in Pulumi.yaml / Pulumi.<stack>.yaml without running the engine.

Used by the unit tests (mocks get the same config the engine would pass) and by the entry
point (to apply per-run overrides without rewriting the checked-in files).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from infra.config.from_engine import decode_config_text
from llm_vault.toolchain import REPO_ROOT

# PyYAML's libyaml classes where the wheel has them (it does on Linux): the generated stack file
# of a 500-binding stack took 0.6 s to read and write with the pure-Python ones, every command.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load_yaml(text: str) -> Any:
    """The one YAML reader of the stack and project files (safe: no tags, no objects)."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 (a safe loader: the C one of yaml.safe_load)


def dump_yaml(data: Any, *, sort_keys: bool = True) -> str:
    return str(yaml.dump(data, Dumper=_DUMPER, sort_keys=sort_keys))


# A stack name as Pulumi takes it in a file name (Pulumi.<name>.yaml).
_STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def discover_stacks(root: Path = REPO_ROOT) -> tuple[str, ...]:
    """Every ``Pulumi.<name>.yaml`` beside ``Pulumi.yaml`` is a stack (Pulumi's convention for a
    new environment: add a file, no code). Ordered for promotion, which is what ``up --all`` and
    ``make run STACKS=...`` follow: unprotected stacks first (``dev`` leading), then protected
    ones (``prod`` last), alphabetically within each group."""
    names = [
        path.name[len("Pulumi.") : -len(".yaml")]
        for path in sorted(Path(root).glob("Pulumi.*.yaml"))
        if _STACK_NAME.match(path.name[len("Pulumi.") : -len(".yaml")])
    ]

    def rank(name: str) -> tuple[bool, bool, bool, str]:
        document = load_yaml(stack_file(name, root).read_text()) or {}
        protect = (document.get("config") or {}).get("llm-vault:protect", False) is True
        return (protect, name != "dev", name == "prod", name)

    return tuple(sorted(names, key=rank))


class UnknownStack(ValueError):
    """A stack name with no Pulumi.<name>.yaml."""


def check_stack(stack: str, root: Path = REPO_ROOT) -> str:
    """``stack`` when it has a stack file, else ``UnknownStack`` listing the stacks there are."""
    known = discover_stacks(root)
    if stack not in known:
        raise UnknownStack(
            f"no stack file Pulumi.{stack}.yaml: the stacks are {', '.join(known) or '(none)'}; "
            f"a new environment is a new Pulumi.<name>.yaml beside Pulumi.yaml"
        )
    return stack


def stack_file(stack: str, root: Path = REPO_ROOT) -> Path:
    return root / f"Pulumi.{stack}.yaml"


# The checked-in stacks, in promotion order (dev, staging, prod as shipped).
STACKS = discover_stacks()


def stack_config(stack: str, root: Path = REPO_ROOT) -> dict[str, Any]:
    """Project defaults from Pulumi.yaml overlaid with the stack file's values, full keys."""
    project = load_yaml((root / "Pulumi.yaml").read_text()) or {}
    values: dict[str, Any] = {}
    for key, spec in (project.get("config") or {}).items():
        if isinstance(spec, dict) and "value" in spec:
            values[key] = spec["value"]
    path = stack_file(stack, root)
    if not path.exists():
        raise FileNotFoundError(f"no stack file {path.name}: stacks are {', '.join(discover_stacks(root))}")
    document = load_yaml(path.read_text()) or {}
    for key, value in (document.get("config") or {}).items():
        # The CLI writes scalars it sets as text ("false"): read them as the engine hands them over.
        values[key] = decode_config_text(value) if isinstance(value, str) else value
    return values


def as_engine_config(values: dict[str, Any]) -> dict[str, str]:
    """The form the engine hands a program: structured values as JSON, scalars as text."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, (dict, list)):
            out[key] = json.dumps(value)
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = "" if value is None else str(value)
    return out

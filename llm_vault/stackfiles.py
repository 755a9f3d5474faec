"""Read the checked-in Pulumi.yaml / Pulumi.<stack>.yaml without running the engine.

Used by the unit tests (mocks get the same config the engine would pass) and by the entry
point (to apply per-run overrides without rewriting the checked-in files).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from llm_vault.toolchain import REPO_ROOT

STACKS = ("dev", "staging", "prod")


def stack_file(stack: str, root: Path = REPO_ROOT) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def stack_config(stack: str, root: Path = REPO_ROOT) -> dict[str, Any]:
    """Project defaults from Pulumi.yaml overlaid with the stack file's values, full keys."""
    project = yaml.safe_load((root / "Pulumi.yaml").read_text()) or {}
    values: dict[str, Any] = {}
    for key, spec in (project.get("config") or {}).items():
        if isinstance(spec, dict) and "value" in spec:
            values[key] = spec["value"]
    path = stack_file(stack, root)
    if not path.exists():
        raise FileNotFoundError(f"no stack file {path.name}: stacks are {', '.join(STACKS)}")
    document = yaml.safe_load(path.read_text()) or {}
    values.update(document.get("config") or {})
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

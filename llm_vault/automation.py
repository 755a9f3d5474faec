"""Run the program for a stack through the Automation API with the real Pulumi engine.

Our machines have no Python language plugin for the CLI, so the program runs inline (the
same ``infra.program.main`` that ``infra/__main__.py`` calls). The checked-in stack files
are never rewritten: each stack gets a workspace folder beside its state where
``Pulumi.yaml`` is copied and ``Pulumi.<stack>.yaml`` is regenerated from the checked-in
values plus this run's overrides, keeping the ``encryptionsalt`` the engine wrote there.

Apply and preview always refresh first: without refresh, drift is neither shown nor repaired.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pulumi import automation as auto

if TYPE_CHECKING:
    from infra.config import Settings

from llm_vault import engine, toolchain
from llm_vault.stackfiles import stack_config

PROJECT = "llm-vault"
# Keys that never go in a generated stack file: the provider reads them from the environment.
ENV_ONLY_KEYS = {"vault:token"}


def default_state_dir() -> Path:
    return Path(os.environ.get("LLM_VAULT_STATE_DIR", toolchain.REPO_ROOT / ".state"))


def deep_merge(base: Any, override: Any) -> Any:
    """Mappings merge key by key; anything else (lists included) is replaced."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


@dataclass
class StackTarget:
    """Which stack, where its state lives, and this run's config overrides (full keys)."""

    stack: str
    state_dir: Path = field(default_factory=default_state_dir)
    overrides: dict[str, Any] = field(default_factory=dict)
    # Extra env for the engine and the provider host (VAULT_TOKEN among it): never in a repr.
    env: dict[str, str] = field(default_factory=dict, repr=False)
    source_root: Path = toolchain.REPO_ROOT

    @property
    def backend_url(self) -> str:
        return os.environ.get("PULUMI_BACKEND_URL") or f"file://{self.state_dir / 'backend'}"

    @property
    def workspace_dir(self) -> Path:
        return self.state_dir / "workspaces" / self.stack

    def settings(self) -> Settings:
        """The stack's validated settings with this run's overrides (raises ConfigError naming the key)."""
        from infra.config import load_settings

        values = self.config_values()
        return load_settings({k.split(":", 1)[1]: v for k, v in values.items() if k.startswith("llm-vault:")})

    def config_values(self) -> dict[str, Any]:
        values = stack_config(self.stack, self.source_root)
        for key, value in self.overrides.items():
            values[key] = deep_merge(values[key], value) if key in values else value
        return values


def _write_workspace(target: StackTarget) -> None:
    wd = target.workspace_dir
    wd.mkdir(parents=True, exist_ok=True)
    engine.copy_project_file(target.source_root / "Pulumi.yaml", wd / "Pulumi.yaml", target.source_root)
    stack_path = wd / f"Pulumi.{target.stack}.yaml"
    previous = yaml.safe_load(stack_path.read_text()) if stack_path.exists() else {}
    document: dict[str, Any] = {
        k: v for k, v in (previous or {}).items() if k in ("encryptionsalt", "secretsprovider", "encryptedkey")
    }
    document["config"] = {k: v for k, v in target.config_values().items() if k not in ENV_ONLY_KEYS}
    stack_path.write_text(
        "# Generated for one run from the checked-in stack file plus overrides; not the source of truth.\n"
        + yaml.safe_dump(document, sort_keys=True)
    )


def engine_env(target: StackTarget) -> dict[str, str]:
    env = toolchain.engine_env()
    env.update(target.env)
    env["PULUMI_BACKEND_URL"] = target.backend_url
    env[engine.PASSPHRASE_ENV] = engine.passphrase(target.state_dir)
    env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    return env


def open_stack(target: StackTarget, program: Callable[[], None] | None = None) -> auto.Stack:
    """Create or select the stack in its workspace, with the program inline."""
    if program is None:
        from infra.program import main as program

    backend_url = target.backend_url
    if backend_url.startswith("file://"):
        Path(backend_url.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    engine.trim_recorded_stack_traces()
    _write_workspace(target)
    env = engine_env(target)  # the provider host is the engine's child and inherits it
    workspace = auto.LocalWorkspaceOptions(
        work_dir=str(target.workspace_dir),
        env_vars=env,
        secrets_provider="passphrase",
        pulumi_command=engine.pulumi_command(),
    )
    return auto.create_or_select_stack(
        stack_name=target.stack, project_name=PROJECT, program=program, opts=workspace
    )


def refresh_then_preview(stack: auto.Stack, **kwargs: Any) -> auto.PreviewResult:
    return stack.preview(refresh=True, diff=True, **kwargs)


def refresh_then_up(stack: auto.Stack, **kwargs: Any) -> auto.UpResult:
    kwargs.setdefault("show_secrets", False)
    return stack.up(refresh=True, **kwargs)

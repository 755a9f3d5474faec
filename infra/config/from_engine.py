"""The reader of the engine's config: for the program when the engine runs it on its own
(``pulumi up`` through the language host). A run of ours hands the program the settings it
validated before the engine started (``infra.program.main(settings)``) and never comes here."""

from __future__ import annotations

import json
from typing import Any

from infra.config.schema import PROJECT
from infra.config.stack import Settings, load_settings


def raw_from_pulumi_config() -> dict[str, Any]:
    """The ``llm-vault:*`` keys of the running stack, values decoded from JSON where structured."""
    # The SDK's public reader (pulumi.Config) answers for keys one asks by name; this needs
    # every key of the namespace, so that a misspelt one is refused rather than ignored.
    from pulumi.runtime.config import CONFIG, get_config_env

    # An inline (Automation API) or mocked program gets its config set in-process; a program
    # started by the CLI's language host gets it through the PULUMI_CONFIG environment.
    everything = {**get_config_env(), **CONFIG.get()}
    raw: dict[str, Any] = {}
    for full_key, value in everything.items():
        ns, _, name = full_key.partition(":")
        if ns != PROJECT:
            continue
        raw[name] = decode_config_text(value)
    return raw


def decode_config_text(value: str) -> Any:
    """A config value as the engine hands it over (structured values as JSON, scalars as plain
    text: "true", "dev") decoded the way the program reads it. Stack files rewritten by the CLI
    (`pulumi config set llm-vault:protect false`) hold the same text, so their reader uses this too."""
    if value[:1] in ("{", "[") or value in ("true", "false"):
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


def load_stack_settings() -> Settings:
    return load_settings(raw_from_pulumi_config())

"""``llm-vault:kv``: the kv-v2 mount and its catalogue of secret paths (metadata only)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, field_validator, model_validator

from infra.config.schema import (
    GLOB_CHARS,
    MOUNT_PATH,
    ConfigError,
    Duration,
    DurationText,
    MountPath,
    Schema,
    Text,
    record,
    reject,
)


@dataclass(frozen=True)
class SecretEntry:
    """A secret path in the kv catalogue: metadata only, its value never enters code or state."""

    name: str
    owner: str
    rotation_period: str
    keys: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class KvSettings:
    path: str
    description: str
    max_versions: int
    cas_required: bool
    delete_version_after: int
    secrets: tuple[SecretEntry, ...]
    # Subtrees under data/ that hold only test fixtures: the one thing a pull request may read.
    non_production: tuple[str, ...] = ()
    # Why a protected stack may lower max_versions this once (empty: the provider refuses it).
    max_versions_lowered_reason: str = ""


class SecretEntrySchema(Schema):
    name: Text
    owner: Text
    rotation_period: DurationText = "90d"
    keys: list[Text] = []
    description: str = ""
    refused_in_item = {
        key: "secret values never go in stack config: put them in with `bao kv put`" for key in ("value", "values")
    }

    @field_validator("name")
    @classmethod
    def _path(cls, name: str) -> str:
        if not MOUNT_PATH.match(name):
            raise ValueError(f"{name!r} is not a secret path")
        return name


class KvSchema(Schema):
    path: MountPath = "openai-llm"
    description: Text = "LLM platform secrets (kv-v2)"
    max_versions: int = Field(10, ge=1)
    cas_required: bool = False
    delete_version_after: Duration = 0
    secrets: list[SecretEntrySchema] = []
    non_production: list[Text] = []
    max_versions_lowered_reason: str = ""

    @field_validator("non_production")
    @classmethod
    def _subtrees(cls, subtrees: list[str]) -> list[str]:
        for j, subtree in enumerate(subtrees):
            if not MOUNT_PATH.match(subtree.rstrip("/")) or any(c in subtree for c in GLOB_CHARS):
                raise reject(f"{subtree!r} must be a secret subtree like 'fixtures/'", at=f"[{j}]")
        return subtrees

    @model_validator(mode="after")
    def _paths_once(self) -> KvSchema:
        seen: set[str] = set()
        for i, entry in enumerate(self.secrets):
            if entry.name in seen:
                raise reject(f"duplicate secret path {entry.name!r}", at=f"secrets[{i}].name")
            seen.add(entry.name)
        return self

    def to_record(self) -> KvSettings:
        return record(
            KvSettings,
            self,
            secrets=tuple(record(SecretEntry, s) for s in self.secrets),
            non_production=tuple(t.rstrip("/") + "/" for t in self.non_production),
            max_versions_lowered_reason=self.max_versions_lowered_reason.strip(),
        )


def non_production(kv: KvSettings, protect: bool) -> tuple[str, ...]:
    if kv.non_production and protect:
        # A protected stack is production or production-like: nothing in it is a fixture.
        raise ConfigError("kv.nonProduction", "a protected stack holds no non-production secrets; remove this key")
    return kv.non_production

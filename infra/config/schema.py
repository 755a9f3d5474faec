"""What every section's schema shares: ``ConfigError``, the pydantic base model, the field
types, and the one place where pydantic's errors become ``ConfigError(key, reason)``.

Each section declares its input schema (a pydantic model with the stack file's camelCase
keys) right beside the frozen dataclass records that components import. Pydantic checks
shapes, types, required keys and single-field rules; the rules that need several sections
(trust, reach, policy names, protected stacks) are plain functions run after parsing, and
name their key themselves.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from vault_provider.durations import duration_seconds

PROJECT = "llm-vault"

RESERVED_NAMESPACES = {"root", "sys", "audit", "auth", "cubbyhole", "identity"}
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,127}$")
MOUNT_PATH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*$")
DIGITS = re.compile(r"^[0-9]+$")
GLOB_CHARS = "*?[]{}"
NS_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class ConfigError(ValueError):
    """A stack config value is wrong. ``key`` is the full key path, e.g. ``llm-vault:kv.maxVersions``."""

    def __init__(self, key: str, reason: str):
        self.key = key if key.startswith(f"{PROJECT}:") else f"{PROJECT}:{key}"
        self.reason = reason
        super().__init__(f"{self.key}: {reason}")


def reject(reason: str, at: str = "") -> PydanticCustomError:
    """A rule's refusal inside a validator; ``at`` is the key below the validated value
    (``"audience"``, ``"policies[0]"``), appended to the path pydantic knows."""
    return PydanticCustomError("llm_vault", "{reason}", {"reason": reason, "at": at})


# --------------------------------------------------------------------------------------------------
# pydantic errors -> ConfigError: the one translation


def key_path(loc: Sequence[str | int], at: str = "") -> str:
    """``("github", "bindings", 1, "audience")`` -> ``github.bindings[1].audience``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    if at:
        out += at if at.startswith("[") or not out else f".{at}"
    return out


def _reason(error: Mapping[str, Any]) -> str:
    """The project's wording for pydantic's error types (pydantic's own reads like
    "Input should be a valid integer"; ours says what the key takes and what it got)."""
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "llm_vault":
        return str(ctx["reason"])
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    reasons: dict[str, Callable[[], str]] = {
        "missing": lambda: "is required",
        "string_type": lambda: f"must be a string, got {type(value).__name__}",
        "bool_type": lambda: f"must be true or false, got {value!r}",
        "int_type": lambda: f"must be a whole number, got {value!r}",
        "greater_than_equal": lambda: f"must be at least {ctx.get('ge')}, got {value!r}",
        "list_type": lambda: f"must be a list, got {type(value).__name__}",
        "model_type": lambda: f"must be a mapping, got {type(value).__name__}",
        "dict_type": lambda: f"must be a mapping, got {type(value).__name__}",
        "literal_error": lambda: f"must be one of {ctx.get('expected')}, got {value!r}",
        "too_short": lambda: "must not be empty",
    }
    return reasons[kind]() if kind in reasons else str(error["msg"])


def config_error(exc: ValidationError, prefix: Sequence[str | int] = ()) -> ConfigError:
    """The first of pydantic's errors as a ``ConfigError`` naming the full key (the old loader
    stopped at the first problem too: one clear line to fix, then run again)."""
    error = exc.errors(include_url=False)[0]
    at = str((error.get("ctx") or {}).get("at", "")) if error["type"] == "llm_vault" else ""
    return ConfigError(key_path([*prefix, *error["loc"]], at), _reason(error))


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], raw: Any, key: str) -> M:
    """``raw`` validated against ``model``; errors name their key below ``key``."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise config_error(exc, [key] if key else []) from None


# --------------------------------------------------------------------------------------------------
# the base schema


def did_you_mean(word: str, options: Sequence[str] | set[str] | frozenset[str]) -> str | None:
    match = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6)
    return match[0] if match else None


class Schema(BaseModel):
    """A section of the stack file: camelCase keys, no coercion ("yes" is not true, "10" is not
    10), unknown keys refused with a "did you mean"."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, strict=True, frozen=True)

    # Keys that look plausible but are refused on purpose: key -> why (checked before the
    # unknown-key check, so the user reads the reason rather than "unknown key").
    refused: ClassVar[Mapping[str, str]] = {}
    # The same, for keys whose presence is wrong for the whole item (the error names the item).
    refused_in_item: ClassVar[Mapping[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        # Hand-written: pydantic's extra="forbid" names the key but offers no "did you mean".
        if not isinstance(data, Mapping):
            return data  # pydantic reports "must be a mapping"
        for key, reason in cls.refused_in_item.items():
            if key in data:
                raise reject(reason)
        for key, reason in cls.refused.items():
            if key in data:
                raise reject(reason, at=key)
        known = {info.alias or name for name, info in cls.model_fields.items()}
        for key in data:
            if key not in known:
                hint = did_you_mean(str(key), known)
                raise reject(
                    "unknown key" + (f" (did you mean '{hint}'?)" if hint else f"; known keys: {sorted(known)}"),
                    at=str(key),
                )
        return data


def record(cls: type[Any], schema: BaseModel, **derived: Any) -> Any:
    """The frozen record ``cls`` from a validated schema: every record field of the same name is
    copied (lists become tuples), ``derived`` gives the rest. Adding a plain key is then a
    field on the schema and a field on the record, side by side."""
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in derived:
            values[f.name] = derived[f.name]
        elif f.name in type(schema).model_fields:
            value = getattr(schema, f.name)
            values[f.name] = tuple(value) if isinstance(value, list) else value
    return cls(**values)


# --------------------------------------------------------------------------------------------------
# field types


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _duration(value: Any) -> int:
    try:
        seconds = duration_seconds(value)
    except ValueError:
        raise ValueError(f"must be a duration like '15m', '1h' or '36h', got {value!r}") from None
    if seconds < 0:
        raise ValueError(f"must not be negative, got {value!r}")
    return seconds


def _name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError(f"{value!r} must be lower-case letters, digits, '-' or '_'")
    return value


def _mount_path(value: str) -> str:
    path = value.strip("/")
    if not MOUNT_PATH.match(path) or path.split("/")[0] in RESERVED_NAMESPACES:
        raise ValueError(f"{path!r} is not a usable mount path")
    return path


def _url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _duration_text(value: str) -> str:
    _duration(value)
    return value


def parse_duration(value: Any, key: str) -> int:
    """Seconds from ``"15m"``, ``"1h30m"``, ``"36h"``, ``"90d"`` or a whole number of seconds."""
    try:
        return _duration(value)
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from None


Text = Annotated[str, AfterValidator(_text)]  # a string with something in it
Duration = Annotated[int, BeforeValidator(_duration)]  # seconds, from "15m" / "1h30m" / 900
DurationText = Annotated[str, AfterValidator(_text), AfterValidator(_duration_text)]  # kept as written
Name = Annotated[str, AfterValidator(_text), AfterValidator(_name)]  # a Vault object name
MountPath = Annotated[str, AfterValidator(_text), AfterValidator(_mount_path)]
Url = Annotated[str, AfterValidator(_text), AfterValidator(_url)]

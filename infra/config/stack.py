"""The whole ``llm-vault`` namespace: ``Settings``, its top-level schema, and ``load_settings``,
which validates a stack's config once and applies the rules that span sections."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from infra.config.audit import AuditSchema, AuditSettings
from infra.config.databases import DatabaseSettings, DatabasesSchema, with_database_grants
from infra.config.github import (
    GitHubSchema,
    GitHubSettings,
    PipelineSchema,
    PipelineSettings,
    TrustRules,
    github_settings,
    pipeline_settings,
)
from infra.config.kv import KvSchema, KvSettings, non_production
from infra.config.model_runner import ModelRunnerSchema, ModelRunnerSettings
from infra.config.policies import POLICY_DIR, Policy, declared_grants, load_policies, namespace_prefix
from infra.config.root_layout import RootLayout, RootLayoutSchema, in_root_layout, root_layout
from infra.config.schema import NS_SEGMENT, RESERVED_NAMESPACES, ConfigError, Name, Schema, parse
from infra.config.short_lived_tokens import ShortLivedTokenSettings, ShortLivedTokensSchema

BACKENDS = ("builtin", "pulumi_vault")


@dataclass(frozen=True)
class Settings:
    environment: str
    namespace: str | None
    provider_backend: str
    protect: bool
    kv: KvSettings
    github: GitHubSettings
    policies: tuple[Policy, ...]
    short_lived_tokens: ShortLivedTokenSettings
    model_runner: ModelRunnerSettings
    audit: AuditSettings
    pipeline: PipelineSettings | None = None
    adopt: tuple[str, ...] = field(default=())
    databases: DatabaseSettings | None = None
    root_layout: RootLayout | None = None  # llm-vault:rootLayout (stacks sharing the root namespace)


def _section() -> Any:
    # An absent section is an empty mapping: its keys take their defaults, and required ones
    # (github.bindings) are reported by their full key.
    return Field(default_factory=dict, validate_default=True)


class StackSchema(Schema):
    """The stack file's ``llm-vault:*`` keys (without the prefix)."""

    environment: Name
    # Vault namespace of the environment; '' for none (Vault OSS: environments are kept apart by mount paths).
    namespace: str | None = Field(None, validate_default=True)
    provider_backend: Literal["builtin", "pulumi_vault"] = "builtin"
    protect: bool = False
    kv: KvSchema = _section()
    github: GitHubSchema = _section()
    short_lived_tokens: ShortLivedTokensSchema = _section()
    model_runner: ModelRunnerSchema = _section()
    audit: AuditSchema = _section()
    pipeline: PipelineSchema | None = None
    adopt: list[str] = []
    databases: DatabasesSchema | None = None
    root_layout: RootLayoutSchema | None = None

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, raw: str | None) -> str:
        if raw is None:
            # Absent is a mistake more often than a choice: everything would land in the root namespace.
            raise ValueError("is required; set it to '' to use no namespace (Vault OSS)")
        if raw == "":
            return raw
        segments = raw.strip("/").split("/")
        for seg in segments:
            if not NS_SEGMENT.match(seg):
                raise ValueError(f"{raw!r} is malformed: segments are letters, digits, '-' and '_'")
            if seg.lower() in RESERVED_NAMESPACES:
                raise ValueError(f"{seg!r} is reserved by Vault/OpenBao")
        return "/".join(segments)

    @field_validator("adopt", mode="before")
    @classmethod
    def _adopt(cls, raw: Any) -> Any:
        if not isinstance(raw, list) or not all(isinstance(x, str) and ":" in x for x in raw):
            raise ValueError(
                "must be a list of '<kind>:<path>' or '<kind>:<namespace>:<path>', e.g. 'mount:dev:openai-llm'"
            )
        return raw


def _known_policies(names: tuple[str, ...], key: str, known: set[str]) -> None:
    for j, name in enumerate(names):
        if name not in known:
            raise ConfigError(f"{key}[{j}]", f"unknown policy {name!r}")


def load_settings(raw: Mapping[str, Any], *, policy_dir: Path = POLICY_DIR) -> Settings:
    """Validate the ``llm-vault`` config namespace (keys without the ``llm-vault:`` prefix)."""
    stack = parse(StackSchema, raw, "")
    environment, protect = stack.environment, stack.protect
    kv = stack.kv.to_record()
    namespace = stack.namespace or None
    layout = root_layout(stack.root_layout, namespace)

    def on_server(name: str) -> str:
        """A name as the server knows it (in the root layout, with the tag in front)."""
        return layout.name(name) if layout is not None else name

    # The operator policy names the token role it may mint through (${token_role}).
    policies = load_policies(policy_dir, {"kv_mount": kv.path, "token_role": on_server(stack.short_lived_tokens.role)})
    names = {p.name for p in policies}
    github = github_settings(
        stack.github,
        TrustRules(
            environment=environment,
            protect=protect,
            policies={p.name: p.text for p in policies},
            secret_targets=(f"{kv.path}/data/",),
            non_production=non_production(kv, protect),
        ),
    )
    model_runner = stack.model_runner.to_record()
    _known_policies(model_runner.policies, "modelRunner.policies", names)
    audit = stack.audit.to_record(protect)
    short_lived = stack.short_lived_tokens.to_record()
    _known_policies(short_lived.allowed_policies, "shortLivedTokens.allowedPolicies", names)
    # Pipeline policies live in the root namespace and name the environment's paths from there.
    placeholders: dict[str, Any] = {
        "kv_mount": kv.path,
        "ns": namespace_prefix(namespace),
        "namespace": namespace or "",
        "environment": environment,
        "jwt_path": github.path,
        "approle_path": model_runner.path,
        "audit_path": audit.path,
        "jwt_roles": ",".join(b.role for b in github.bindings),
        "approle_roles": model_runner.role,
        "token_roles": on_server(short_lived.role),
        "acl_policies": ",".join(sorted(on_server(n) for n in names)),
        "name_prefix": on_server(""),
    }
    placeholders.update(declared_grants(placeholders))
    identities = {model_runner.role, *(b.role for b in github.bindings)}
    settings = Settings(
        environment=environment,
        namespace=namespace,
        provider_backend=stack.provider_backend,
        protect=protect,
        kv=kv,
        github=github,
        policies=policies,
        short_lived_tokens=short_lived,
        model_runner=model_runner,
        audit=audit,
        pipeline=pipeline_settings(stack.pipeline, github, placeholders, policy_dir, protect),
        adopt=tuple(stack.adopt),
        databases=stack.databases.to_record(identities) if stack.databases is not None else None,
        root_layout=layout,
    )
    return in_root_layout(with_database_grants(settings))

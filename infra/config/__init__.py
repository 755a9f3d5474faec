"""Typed stack configuration, validated once when it loads.

Every key of the ``llm-vault`` config namespace is parsed here, before any resource is
declared, into frozen dataclasses. A bad value raises ``ConfigError`` naming the key path
(``llm-vault:github.bindings[1].repository``) and the reason, so nothing reaches the server
and nothing is half-applied. Stack files hold values only; differences between
environments are data read here, never branches on the stack name.

One module per section, its records and its schema side by side (``kv``, ``github`` (with the
pipeline's trust), ``short_lived_tokens``, ``model_runner``, ``audit``, ``databases``); the
top-level schema and ``load_settings`` in ``stack``; what all schemas share in ``schema``;
policy files in ``policies``; the engine's config in ``from_engine``.
"""

from infra.config.audit import AuditSettings
from infra.config.databases import DatabaseSettings, Grant, grant_policy, grant_policy_name
from infra.config.from_engine import load_stack_settings, raw_from_pulumi_config
from infra.config.github import (
    CI_TTL_CEILING,
    DEFAULT_EVENTS,
    GITHUB_EVENTS,
    GITHUB_ISSUER,
    RISKY_EVENTS,
    GitHubSettings,
    OidcBinding,
    PipelineSettings,
    TrustRules,
)
from infra.config.kv import KvSettings, SecretEntry
from infra.config.model_runner import SECRET_ID_TTL_WINDOW, ModelRunnerSettings
from infra.config.policies import (
    CAPABILITIES,
    DECLARED_NAME_KEYS,
    POLICY_DIR,
    Policy,
    declared_grants,
    load_policies,
    namespace_prefix,
    normalised_name,
    render_policy_file,
)
from infra.config.root_layout import RootLayout
from infra.config.schema import PROJECT, RESERVED_NAMESPACES, ConfigError, parse_duration
from infra.config.short_lived_tokens import READONLY_TOKEN_ROLE, ShortLivedTokenSettings
from infra.config.stack import BACKENDS, Settings, load_settings

__all__ = [
    "BACKENDS",
    "CAPABILITIES",
    "CI_TTL_CEILING",
    "DECLARED_NAME_KEYS",
    "DEFAULT_EVENTS",
    "GITHUB_EVENTS",
    "GITHUB_ISSUER",
    "POLICY_DIR",
    "PROJECT",
    "READONLY_TOKEN_ROLE",
    "RESERVED_NAMESPACES",
    "RISKY_EVENTS",
    "SECRET_ID_TTL_WINDOW",
    "AuditSettings",
    "ConfigError",
    "DatabaseSettings",
    "GitHubSettings",
    "Grant",
    "KvSettings",
    "ModelRunnerSettings",
    "OidcBinding",
    "PipelineSettings",
    "Policy",
    "RootLayout",
    "SecretEntry",
    "Settings",
    "ShortLivedTokenSettings",
    "TrustRules",
    "declared_grants",
    "grant_policy",
    "grant_policy_name",
    "load_policies",
    "load_settings",
    "load_stack_settings",
    "namespace_prefix",
    "normalised_name",
    "parse_duration",
    "raw_from_pulumi_config",
    "render_policy_file",
]

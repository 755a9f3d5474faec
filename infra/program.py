"""The program: wires the components for one environment. ``__main__`` and the Automation
API entry point both run ``main``."""

from __future__ import annotations

import pulumi

from infra.components.audit import AuditDevice
from infra.components.database_credentials import DatabaseCredentials
from infra.components.github_oidc import GitHubOidcTrust
from infra.components.model_runner import ModelRunnerIdentity
from infra.components.namespace import EnvironmentNamespace
from infra.components.pipeline_trust import DeployPipelineTrust
from infra.components.policies import PolicySet
from infra.components.secrets_store import SecretsStore
from infra.components.short_lived_tokens import ShortLivedTokens
from infra.config import Settings, load_stack_settings
from vault_provider.backend import select_backend


def main(settings: Settings | None = None) -> None:
    if settings is None:  # `pulumi up` through the language host: the engine's config, read once
        settings = load_stack_settings()  # raises ConfigError before anything is declared
    backend = select_backend(settings.provider_backend)

    ns = EnvironmentNamespace("namespace", settings.namespace, backend, protect=settings.protect)
    policies = PolicySet("policies", settings.policies, backend, namespace=ns.path, opts=ns.child_opts())
    kv = SecretsStore(
        "secrets", settings.kv, backend, namespace=ns.path, protect=settings.protect, opts=ns.child_opts()
    )
    after_policies = pulumi.ResourceOptions.merge(ns.child_opts(), pulumi.ResourceOptions(depends_on=[policies]))
    GitHubOidcTrust("github", settings.github, backend, namespace=ns.path, opts=after_policies)
    ShortLivedTokens("tokens", settings.short_lived_tokens, backend, namespace=ns.path, opts=after_policies)
    ModelRunnerIdentity("model-runner", settings.model_runner, backend, namespace=ns.path, opts=after_policies)
    AuditDevice("audit", settings.audit, backend, protect=settings.protect)
    if settings.databases is not None:
        DatabaseCredentials("databases", settings.databases, backend, namespace=ns.path, opts=after_policies)
    if settings.pipeline is not None:
        DeployPipelineTrust("pipeline", settings.pipeline, backend)

    pulumi.export("environment", settings.environment)
    pulumi.export("namespace", settings.namespace or "")
    pulumi.export("kv_path", kv.path)
    pulumi.export("policies", policies.names)
    pulumi.export("github_roles", {b.role: b.subject for b in settings.github.bindings})
    pulumi.export("jwt_path", settings.github.path)
    pulumi.export("approle_path", settings.model_runner.path)
    pulumi.export("model_runner_role", settings.model_runner.role)
    pulumi.export("audit", {"mode": settings.audit.mode, "path": settings.audit.path})
    if settings.databases is not None:
        pulumi.export("database_path", settings.databases.path)
    if settings.pipeline is not None:
        pulumi.export("pipeline_roles", {b.role: b.subject for b in settings.pipeline.bindings})
        pulumi.export("pipeline_path", settings.pipeline.path)

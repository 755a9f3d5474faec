"""This project's own CI identity: preview, drift and apply roles in the root namespace."""

from __future__ import annotations

import pulumi

from infra.components.github_oidc import GitHubOidcTrust
from infra.config import GitHubSettings, PipelineSettings
from vault_provider.args import PolicyArgs
from vault_provider.backend import VaultBackend

from ._base import VaultComponent


class DeployPipelineTrust(VaultComponent):
    """Root-namespace policies and a GitHub OIDC trust per stack, for this project's own CI.

    Root, because the stack manages the environment's namespace object and the audit device,
    which a token from inside the namespace can neither read nor change. The first apply is
    a human's with an admin token; from then on CI logs in here.
    """

    def __init__(
        self,
        name: str,
        settings: PipelineSettings,
        backend: VaultBackend,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("llmvault:auth:DeployPipelineTrust", name, backend, opts)
        policies = [
            # Resource names use the file stem, so every stack declares the same shape.
            self._declare(f"{name}-policy-{p.stem or p.name}", PolicyArgs(name=p.name, policy=p.text))
            for p in settings.policies
        ]
        trust = GitHubSettings(
            path=settings.path,
            oidc_discovery_url=settings.oidc_discovery_url,
            bound_issuer=settings.bound_issuer,
            bindings=settings.bindings,
        )
        GitHubOidcTrust(
            name,
            trust,
            backend,
            namespace=None,
            description="GitHub Actions OIDC for the llm-vault pipeline",
            opts=pulumi.ResourceOptions(parent=self, depends_on=policies),
        )
        self.register_outputs({"path": settings.path, "roles": {b.role: b.subject for b in settings.bindings}})

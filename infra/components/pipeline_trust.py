"""This project's own CI identity: preview, drift and apply roles in the root namespace."""

from __future__ import annotations

import pulumi

from infra.config import PipelineSettings
from llm_vault.vault.args import AuthBackendArgs, JwtAuthConfigArgs, JwtAuthRoleArgs, PolicyArgs
from llm_vault.vault.backend import VaultBackend

from ._base import VaultComponent


class DeployPipelineTrust(VaultComponent):
    """A JWT backend of the root namespace per stack, one role per pipeline binding.

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
        auth = self._declare(
            f"{name}-backend",
            AuthBackendArgs(
                type="jwt",
                path=settings.path,
                description="GitHub Actions OIDC for the llm-vault pipeline",
                default_lease_ttl_seconds=900,
                max_lease_ttl_seconds=3600,
            ),
        )
        config = self._declare(
            f"{name}-config",
            JwtAuthConfigArgs(
                path=settings.path, oidc_discovery_url=settings.oidc_discovery_url, bound_issuer=settings.bound_issuer
            ),
            depends_on=[auth],
        )
        for b in settings.bindings:
            self._declare(
                f"{name}-role-{b.role}",
                JwtAuthRoleArgs(
                    backend=settings.path,
                    role_name=b.role,
                    role_type="jwt",
                    bound_audiences=(b.audience,),
                    bound_subject=b.subject,
                    bound_claims=b.bound_claims,
                    bound_claims_type="string",
                    user_claim="actor",
                    claim_mappings={"repository": "repository", "ref": "ref", "sha": "sha", "run_id": "run_id"},
                    token_policies=b.policies,
                    token_ttl=b.ttl_seconds,
                    token_max_ttl=b.ttl_seconds,
                    token_explicit_max_ttl=b.ttl_seconds,
                ),
                depends_on=[config, *policies],
            )
        self.register_outputs({"path": settings.path, "roles": {b.role: b.subject for b in settings.bindings}})

"""GitHub Actions OIDC trust: the JWT auth backend and one role per binding."""

from __future__ import annotations

import pulumi

from infra.config import GitHubSettings
from llm_vault.vault.args import AuthBackendArgs, JwtAuthConfigArgs, JwtAuthRoleArgs
from llm_vault.vault.backend import VaultBackend

from ._base import VaultComponent


class GitHubOidcTrust(VaultComponent):
    def __init__(
        self,
        name: str,
        settings: GitHubSettings,
        backend: VaultBackend,
        *,
        namespace: str | None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("llmvault:auth:GitHubOidcTrust", name, backend, opts)
        auth = self._declare(
            f"{name}-backend",
            AuthBackendArgs(
                type="jwt",
                path=settings.path,
                description="GitHub Actions OIDC",
                # Roles set their own 15-minute TTLs; the mount caps anything else at 1 h.
                default_lease_ttl_seconds=900,
                max_lease_ttl_seconds=3600,
                namespace=namespace,
            ),
        )
        config = self._declare(
            f"{name}-config",
            JwtAuthConfigArgs(
                path=settings.path,
                oidc_discovery_url=settings.oidc_discovery_url,
                bound_issuer=settings.bound_issuer,
                namespace=namespace,
            ),
            depends_on=[auth],
        )
        for b in settings.bindings:  # one role per binding; never copy-paste role blocks
            self._declare(
                f"{name}-role-{b.role}",
                JwtAuthRoleArgs(
                    backend=settings.path,
                    role_name=b.role,
                    role_type="jwt",
                    # bound_audiences is required: OpenBao 2.x and Vault >= 1.16.3 reject a JWT
                    # with `aud` when the role binds none.
                    bound_audiences=(b.audience,),
                    bound_subject=b.subject,
                    bound_claims=b.bound_claims,
                    bound_claims_type="string",
                    # `actor` names the person or bot behind the run in the audit log.
                    user_claim="actor",
                    claim_mappings={"repository": "repository", "ref": "ref", "sha": "sha", "run_id": "run_id"},
                    token_policies=b.policies,
                    token_ttl=b.ttl_seconds,
                    token_max_ttl=b.ttl_seconds,
                    # Not renewable past its TTL: a leaked CI token dies with the job.
                    token_explicit_max_ttl=b.ttl_seconds,
                    token_type="default",
                    namespace=namespace,
                ),
                depends_on=[config],
            )
        self.register_outputs(
            {"path": settings.path, "roles": {b.role: b.subject for b in settings.bindings}}
        )

"""GitHub Actions OIDC trust: the JWT auth backend and one role per binding, held by one role set."""

from __future__ import annotations

import pulumi

from infra.config import GitHubSettings, OidcBinding
from vault_provider.args import AuthBackendArgs, JwtAuthConfigArgs, JwtAuthRoleArgs, JwtAuthRoleSetArgs
from vault_provider.backend import VaultBackend

from ._base import VaultComponent


def binding_role(binding: OidcBinding, *, backend: str, namespace: str | None) -> JwtAuthRoleArgs:
    """The JWT role of one binding: every GitHub-facing role of the project is made here."""
    return JwtAuthRoleArgs(
        backend=backend,
        role_name=binding.role,
        role_type="jwt",
        # bound_audiences is required: OpenBao 2.x and Vault >= 1.16.3 reject a JWT
        # with `aud` when the role binds none.
        bound_audiences=(binding.audience,),
        bound_subject=binding.subject,
        bound_claims=binding.bound_claims,
        # Glob, so that an unpinned job_workflow_ref can say "a workflow of this repository";
        # the loader refuses `*` in every other bound value, so they match exactly.
        bound_claims_type="glob",
        # The identity is the account's immutable id: `actor` is a username, which can be renamed
        # and then registered by someone else. The name still goes to the audit trail as metadata.
        user_claim="actor_id",
        claim_mappings={
            "repository": "repository",
            "ref": "ref",
            "sha": "sha",
            "run_id": "run_id",
            "actor": "actor",
            "event_name": "event_name",
            "job_workflow_ref": "job_workflow_ref",
        },
        token_policies=binding.policies,
        token_ttl=binding.ttl_seconds,
        token_max_ttl=binding.ttl_seconds,
        # Not renewable past its TTL: a leaked CI token dies with the job.
        token_explicit_max_ttl=binding.ttl_seconds,
        token_type="default",
        namespace=namespace,
    )


COMPONENT_TYPE = "llmvault:auth:GitHubOidcTrust"


def role_set_name(component_name: str) -> str:
    """The name of the set holding a trust's roles (also what earlier per-role records merge into)."""
    return f"{component_name}-roles"


class GitHubOidcTrust(VaultComponent):
    """A JWT auth backend trusting GitHub Actions' issuer, and one role per binding (in one set)."""

    def __init__(
        self,
        name: str,
        settings: GitHubSettings,
        backend: VaultBackend,
        *,
        namespace: str | None,
        description: str = "GitHub Actions OIDC",
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(COMPONENT_TYPE, name, backend, opts)
        auth = self._declare(
            f"{name}-backend",
            AuthBackendArgs(
                type="jwt",
                path=settings.path,
                description=description,
                # Roles set their own TTLs; the mount caps anything else at 1 h.
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
        # One role per binding (never copy-paste role blocks), all of them in one engine resource:
        # the engine writes a checkpoint of the whole state after every step, so a resource per
        # role made a 500-binding stack's cold up quadratic and its preview ~10 s (issue 17, README
        # "What it costs"). The set writes, reads, refuses and reports each role as before, by name.
        # Stacks applied before the set have their per-role records merged into it by the next
        # command (llm_vault.state_migration), without touching the server.
        self._declare(
            role_set_name(name),
            JwtAuthRoleSetArgs(
                backend=settings.path,
                roles=tuple(binding_role(b, backend=settings.path, namespace=namespace) for b in settings.bindings),
                namespace=namespace,
            ),
            depends_on=[config],
        )
        self.register_outputs({"path": settings.path, "roles": {b.role: b.subject for b in settings.bindings}})

"""The seam's second implementation: the official ``pulumi_vault`` provider.

For connected machines where ``pulumi plugin install resource vault 7.14.0`` works. Each
record maps to the resource pulumi-vault has for it; where pulumi-vault has no dedicated
resource (kv metadata without a value, the JWT backend's config apart from its mount),
``generic.Endpoint`` writes the same API path our builtin provider writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi

from vault_provider import args as a

Opts = pulumi.ResourceOptions | None
Resource = pulumi.Resource


def _ttl(seconds: int) -> str | None:
    return f"{seconds}s" if seconds else None


class OfficialBackend:
    name = "pulumi_vault"

    def declare(
        self, resource_name: str, args: a.ObjectArgs, opts: pulumi.ResourceOptions | None = None
    ) -> pulumi.Resource:
        import pulumi_vault as vault  # optional dependency: only stacks choosing this backend need it

        mapping = MAPPINGS.get(type(args))
        if mapping is None:
            raise TypeError(f"no pulumi_vault mapping for {type(args).__name__}")
        return mapping(vault, resource_name, args, opts, args.namespace)


# --------------------------------------------------------------------------------------------------
# one function per record type; MAPPINGS (at the end) is the table, like builtin.backend.RESOURCES


def _namespace(vault: Any, resource_name: str, args: a.NamespaceArgs, opts: Opts, ns: str | None) -> Resource:
    return vault.Namespace(resource_name, path=args.path, namespace=ns, opts=opts)


def _mount(vault: Any, resource_name: str, args: a.MountArgs, opts: Opts, ns: str | None) -> Resource:
    return vault.Mount(
        resource_name,
        path=args.path,
        type=args.type,
        description=args.description,
        options=dict(args.options),
        default_lease_ttl_seconds=args.default_lease_ttl_seconds or None,
        max_lease_ttl_seconds=args.max_lease_ttl_seconds or None,
        namespace=ns,
        opts=opts,
    )


def _kv_v2_config(vault: Any, resource_name: str, args: a.KvV2ConfigArgs, opts: Opts, ns: str | None) -> Resource:
    return vault.kv.SecretBackendV2(
        resource_name,
        mount=args.mount,
        max_versions=args.max_versions,
        cas_required=args.cas_required,
        delete_version_after=args.delete_version_after,
        namespace=ns,
        opts=opts,
    )


def _kv_metadata(vault: Any, resource_name: str, args: a.KvMetadataArgs, opts: Opts, ns: str | None) -> Resource:
    return vault.generic.Endpoint(
        resource_name,
        path=f"{args.mount}/metadata/{args.name}",
        data_json=json.dumps(
            {
                "custom_metadata": dict(args.custom_metadata),
                "max_versions": args.max_versions,
                "cas_required": args.cas_required,
                "delete_version_after": f"{args.delete_version_after}s",
            },
            sort_keys=True,
        ),
        ignore_absent_fields=True,
        namespace=ns,
        opts=opts,
    )


def _auth_backend(vault: Any, resource_name: str, args: a.AuthBackendArgs, opts: Opts, ns: str | None) -> Resource:
    return vault.AuthBackend(
        resource_name,
        type=args.type,
        path=args.path,
        description=args.description,
        tune=vault.AuthBackendTuneArgs(
            default_lease_ttl=_ttl(args.default_lease_ttl_seconds),
            max_lease_ttl=_ttl(args.max_lease_ttl_seconds),
        ),
        namespace=ns,
        opts=opts,
    )


def _jwt_auth_config(vault: Any, resource_name: str, args: a.JwtAuthConfigArgs, opts: Opts, ns: str | None) -> Resource:
    config: dict[str, Any] = {
        "oidc_discovery_url": args.oidc_discovery_url,
        "bound_issuer": args.bound_issuer,
    }
    if args.default_role:
        config["default_role"] = args.default_role
    return vault.generic.Endpoint(
        resource_name,
        path=f"auth/{args.path}/config",
        data_json=json.dumps(config, sort_keys=True),
        ignore_absent_fields=True,
        # Deleting the auth mount removes its config; there is no DELETE on .../config.
        disable_delete=True,
        namespace=ns,
        opts=opts,
    )


def _jwt_auth_role(vault: Any, resource_name: str, args: a.JwtAuthRoleArgs, opts: Opts, ns: str | None) -> Resource:
    return vault.jwt.AuthBackendRole(
        resource_name,
        backend=args.backend,
        role_name=args.role_name,
        role_type=args.role_type,
        bound_audiences=list(args.bound_audiences),
        bound_subject=args.bound_subject or None,
        # terraform-provider-vault takes a claim's accepted values as one comma-separated string.
        bound_claims={k: ",".join(v) if isinstance(v, list) else v for k, v in args.bound_claims.items()} or None,
        bound_claims_type=args.bound_claims_type,
        user_claim=args.user_claim,
        claim_mappings=dict(args.claim_mappings) or None,
        token_policies=list(args.token_policies),
        token_ttl=args.token_ttl,
        token_max_ttl=args.token_max_ttl,
        token_explicit_max_ttl=args.token_explicit_max_ttl,
        token_type=args.token_type,
        token_bound_cidrs=list(args.token_bound_cidrs) or None,
        namespace=ns,
        opts=opts,
    )


def _policy(vault: Any, resource_name: str, args: a.PolicyArgs, opts: Opts, ns: str | None) -> Resource:
    return vault.Policy(resource_name, name=args.name, policy=args.policy, namespace=ns, opts=opts)


def _audit(vault: Any, resource_name: str, args: a.AuditArgs, opts: Opts, ns: str | None) -> Resource:
    return vault.Audit(
        resource_name,
        type=args.type,
        path=args.path,
        options=dict(args.options),
        local=args.local,
        description=args.description,
        namespace=ns,
        opts=opts,
    )


def _token_role(vault: Any, resource_name: str, args: a.TokenRoleArgs, opts: Opts, ns: str | None) -> Resource:
    return vault.tokenauth.AuthBackendRole(
        resource_name,
        role_name=args.role_name,
        allowed_policies=list(args.allowed_policies),
        disallowed_policies=list(args.disallowed_policies) or None,
        orphan=args.orphan,
        renewable=args.renewable,
        token_period=args.token_period,
        token_ttl=args.token_ttl,
        token_max_ttl=args.token_max_ttl,
        token_explicit_max_ttl=args.token_explicit_max_ttl,
        token_type=args.token_type,
        namespace=ns,
        opts=opts,
    )


def _app_role_role(vault: Any, resource_name: str, args: a.AppRoleRoleArgs, opts: Opts, ns: str | None) -> Resource:
    return vault.approle.AuthBackendRole(
        resource_name,
        backend=args.backend,
        role_name=args.role_name,
        token_policies=list(args.token_policies),
        bind_secret_id=args.bind_secret_id,
        secret_id_ttl=args.secret_id_ttl,
        secret_id_num_uses=args.secret_id_num_uses,
        secret_id_bound_cidrs=list(args.secret_id_bound_cidrs) or None,
        token_ttl=args.token_ttl,
        token_max_ttl=args.token_max_ttl,
        token_explicit_max_ttl=args.token_explicit_max_ttl,
        token_bound_cidrs=list(args.token_bound_cidrs) or None,
        token_type=args.token_type,
        namespace=ns,
        opts=opts,
    )


def _database_role(vault: Any, resource_name: str, args: a.DatabaseRoleArgs, opts: Opts, ns: str | None) -> Resource:
    return vault.database.SecretBackendRole(
        resource_name,
        backend=args.backend,
        name=args.name,
        db_name=args.db_name,
        creation_statements=list(args.creation_statements),
        revocation_statements=list(args.revocation_statements) or None,
        renew_statements=list(args.renew_statements) or None,
        default_ttl=args.default_ttl,
        max_ttl=args.max_ttl,
        namespace=ns,
        opts=opts,
    )


def _database_static_role(
    vault: Any, resource_name: str, args: a.DatabaseStaticRoleArgs, opts: Opts, ns: str | None
) -> Resource:
    return vault.database.SecretBackendStaticRole(
        resource_name,
        backend=args.backend,
        name=args.name,
        db_name=args.db_name,
        username=args.username,
        rotation_period=args.rotation_period,
        rotation_statements=list(args.rotation_statements) or None,
        namespace=ns,
        opts=opts,
    )


def _database_connection(
    vault: Any, resource_name: str, args: a.DatabaseConnectionArgs, opts: Opts, ns: str | None
) -> Resource:
    """The connection with the root password as a write-only value (``password_wo`` +
    ``password_wo_version``: never in state), read from its source here, at deployment time."""
    from vault_provider.builtin.database import read_password

    password = pulumi.Output.secret(read_password(args.password_source, f"database connection {args.name!r}"))
    connection = vault.database.SecretBackendConnection(
        resource_name,
        backend=args.backend,
        name=args.name,
        plugin_name=args.plugin_name,
        allowed_roles=list(args.allowed_roles),
        verify_connection=args.verify_connection,
        root_rotation_statements=list(args.root_rotation_statements) or None,
        postgresql=vault.database.SecretBackendConnectionPostgresqlArgs(
            connection_url=args.connection_url,
            username=args.username,
            password_wo=password,
            password_wo_version=args.password_version,
            max_open_connections=args.max_open_connections,
            password_authentication=args.password_authentication,
        ),
        namespace=args.namespace,
        opts=opts,
    )
    if args.rotate_root:
        # pulumi-vault has no rotate-root resource: a write-once endpoint, replaced (so run again)
        # only when the password version changes.
        vault.generic.Endpoint(
            f"{resource_name}-rotate-root-v{args.password_version}",
            path=f"{args.backend}/rotate-root/{args.name}",
            data_json="{}",
            disable_read=True,
            disable_delete=True,
            namespace=args.namespace,
            opts=pulumi.ResourceOptions(parent=connection, depends_on=[connection]),
        )
    return connection


def _jwt_auth_role_set(
    vault: Any, resource_name: str, args: a.JwtAuthRoleSetArgs, opts: Opts, ns: str | None
) -> Resource:
    # pulumi-vault has no set: one AuthBackendRole per role, children of one component so that
    # whatever depends on the set waits for all of them. Children do not inherit the component's
    # depends_on or delete_before_replace, so each role gets them itself. Each role keeps the name
    # it had when the program declared it on its own, under the set's parent: the alias makes the
    # move under the component a rename in the state, not a replace of the role.
    group = pulumi.ComponentResource("llm-vault:official:JwtAuthRoleSet", resource_name, None, opts)
    child = pulumi.ResourceOptions(
        parent=group,
        depends_on=opts.depends_on if opts else None,
        delete_before_replace=opts.delete_before_replace if opts else None,
        aliases=[pulumi.Alias(parent=opts.parent if opts else None)],
    )
    for role in args.roles:
        _jwt_auth_role(vault, a.role_set_member_name(resource_name, role.role_name), role, child, ns)
    group.register_outputs({})
    return group


# Every record type and the pulumi-vault resource it becomes (a test checks none is missing).
MAPPINGS: dict[type, Callable[..., Resource]] = {
    a.NamespaceArgs: _namespace,
    a.MountArgs: _mount,
    a.KvV2ConfigArgs: _kv_v2_config,
    a.KvMetadataArgs: _kv_metadata,
    a.AuthBackendArgs: _auth_backend,
    a.JwtAuthConfigArgs: _jwt_auth_config,
    a.JwtAuthRoleArgs: _jwt_auth_role,
    a.JwtAuthRoleSetArgs: _jwt_auth_role_set,
    a.PolicyArgs: _policy,
    a.AuditArgs: _audit,
    a.TokenRoleArgs: _token_role,
    a.AppRoleRoleArgs: _app_role_role,
    a.DatabaseConnectionArgs: _database_connection,
    a.DatabaseRoleArgs: _database_role,
    a.DatabaseStaticRoleArgs: _database_static_role,
}

"""The provider seam's vocabulary: one typed, frozen record per Vault object.

Components build these records; a backend (``builtin`` dynamic providers over hvac, or the
official ``pulumi_vault``) turns each into a Pulumi resource. Field names follow
pulumi-vault's so a reader who knows that provider knows ours. Durations are whole seconds,
as pulumi-vault takes them. ``namespace`` is the Vault namespace the object lives in,
relative to the provider's root (None: the root namespace).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class NamespaceArgs:
    """A Vault/OpenBao namespace: POST/DELETE /v1/sys/namespaces/:path."""

    path: str
    namespace: str | None = None  # parent namespace


@dataclass(frozen=True)
class MountArgs:
    """A secrets engine mount: POST /v1/sys/mounts/:path, tuned via /v1/sys/mounts/:path/tune."""

    path: str
    type: str
    description: str = ""
    options: dict[str, str] = field(default_factory=dict)  # kv-v2: {"version": "2"}
    default_lease_ttl_seconds: int = 0
    max_lease_ttl_seconds: int = 0
    namespace: str | None = None


@dataclass(frozen=True)
class KvV2ConfigArgs:
    """kv-v2 engine settings: POST /v1/:mount/config."""

    mount: str
    max_versions: int = 0
    cas_required: bool = False
    delete_version_after: int = 0  # seconds; 0 = never
    namespace: str | None = None
    # Not a server field. Set (to the stack key that declares max_versions) on a protected stack:
    # the provider then refuses, at preview, an update that lowers max_versions, because the next
    # write to each secret prunes the versions beyond the new limit, and those cannot be undone.
    keep_history: str = ""


@dataclass(frozen=True)
class KvMetadataArgs:
    """Metadata of one kv-v2 secret path (never its value): POST /v1/:mount/metadata/:name."""

    mount: str
    name: str
    custom_metadata: dict[str, str] = field(default_factory=dict)
    max_versions: int = 0
    cas_required: bool = False
    delete_version_after: int = 0
    namespace: str | None = None


@dataclass(frozen=True)
class AuthBackendArgs:
    """An auth method: POST /v1/sys/auth/:path, tuned via /v1/sys/auth/:path/tune."""

    type: str
    path: str
    description: str = ""
    default_lease_ttl_seconds: int = 0
    max_lease_ttl_seconds: int = 0
    namespace: str | None = None


@dataclass(frozen=True)
class JwtAuthConfigArgs:
    """JWT/OIDC auth method config: POST /v1/auth/:path/config.

    OpenBao fetches ``oidc_discovery_url`` when this is written.
    """

    path: str
    oidc_discovery_url: str
    bound_issuer: str
    default_role: str = ""
    namespace: str | None = None


@dataclass(frozen=True)
class JwtAuthRoleArgs:
    """A JWT auth role: POST /v1/auth/:backend/role/:role_name."""

    backend: str
    role_name: str
    bound_audiences: tuple[str, ...]
    user_claim: str
    role_type: str = "jwt"
    bound_subject: str = ""
    bound_claims: dict[str, str | list[str]] = field(default_factory=dict)  # a list: any one value may match
    bound_claims_type: str = "string"
    claim_mappings: dict[str, str] = field(default_factory=dict)
    token_policies: tuple[str, ...] = ()
    token_ttl: int = 0
    token_max_ttl: int = 0
    token_explicit_max_ttl: int = 0
    token_type: str = "default"
    token_bound_cidrs: tuple[str, ...] = ()
    namespace: str | None = None


@dataclass(frozen=True)
class JwtAuthRoleSetArgs:
    """Every JWT role of one auth backend as one engine resource (issue 17's set shape).

    The same roles as one ``JwtAuthRoleArgs`` each, written to the same paths, with the same
    per-role adoption keys (``jwt-role:<ns>:<backend>/<role>``), and errors that name the role.
    What changes is the engine's side: one state record and one checkpoint for all of them,
    whatever their number. pulumi_vault has no such resource: the official backend declares
    one ``jwt.AuthBackendRole`` per role.
    """

    backend: str
    roles: tuple[JwtAuthRoleArgs, ...]
    namespace: str | None = None

    def __post_init__(self) -> None:
        counts = Counter(role.role_name for role in self.roles)
        duplicates = sorted(name for name, count in counts.items() if count > 1)
        if duplicates:
            raise ValueError(f"JwtAuthRoleSetArgs({self.backend!r}): role names repeated: {duplicates}")
        strays = [
            role.role_name
            for role in self.roles
            if role.backend.strip("/") != self.backend.strip("/") or role.namespace != self.namespace
        ]
        if strays:
            raise ValueError(f"JwtAuthRoleSetArgs({self.backend!r}): roles of another backend or namespace: {strays}")


def role_set_member_name(set_name: str, role_name: str) -> str:
    """The name one role of a set goes by where it needs a name of its own (the official mapping's
    resource for it, the preview report's line for it): the name it had as a resource of its own
    before sets (``github-roles`` + ``ci`` -> ``github-role-ci``), so that neither changes."""
    stem = set_name.removesuffix("s") if set_name.endswith("-roles") else f"{set_name}-role"
    return f"{stem}-{role_name}"


@dataclass(frozen=True)
class PolicyArgs:
    """An ACL policy: PUT /v1/sys/policies/acl/:name."""

    name: str
    policy: str
    namespace: str | None = None


@dataclass(frozen=True)
class AuditArgs:
    """An audit device: PUT /v1/sys/audit/:path (root namespace only)."""

    type: str
    path: str
    options: dict[str, str] = field(default_factory=dict)
    local: bool = False
    description: str = ""
    namespace: str | None = None


@dataclass(frozen=True)
class TokenRoleArgs:
    """A token role: POST /v1/auth/token/roles/:role_name."""

    role_name: str
    allowed_policies: tuple[str, ...] = ()
    disallowed_policies: tuple[str, ...] = ()
    orphan: bool = False
    renewable: bool = True
    token_period: int = 0
    token_ttl: int = 0
    token_max_ttl: int = 0
    token_explicit_max_ttl: int = 0
    token_type: str = "default"
    namespace: str | None = None


@dataclass(frozen=True)
class AppRoleRoleArgs:
    """An AppRole role: POST /v1/auth/:backend/role/:role_name."""

    backend: str
    role_name: str
    token_policies: tuple[str, ...] = ()
    bind_secret_id: bool = True
    secret_id_ttl: int = 0
    secret_id_num_uses: int = 0
    secret_id_bound_cidrs: tuple[str, ...] = ()
    token_ttl: int = 0
    token_max_ttl: int = 0
    token_explicit_max_ttl: int = 0
    token_bound_cidrs: tuple[str, ...] = ()
    token_type: str = "default"
    namespace: str | None = None


@dataclass(frozen=True)
class DatabaseConnectionArgs:
    """A database secrets engine connection: POST /v1/:backend/config/:name.

    The root password is never a field: ``password_source`` says where the provider reads it at
    apply time (``env:VAR`` or ``file:/path``), and it is sent only when the connection is created
    or ``password_version`` changes (write-only semantics, like terraform-provider-vault's
    ``password_wo_version``). With ``rotate_root`` the server rotates it right after it is sent,
    so the supplied password stops working and only the server knows the new one.
    """

    backend: str
    name: str
    connection_url: str  # with {{username}}/{{password}}: the server fills them in
    username: str
    password_source: str
    password_version: int = 1
    plugin_name: str = "postgresql-database-plugin"
    allowed_roles: tuple[str, ...] = ()
    max_open_connections: int = 4
    password_authentication: str = "scram-sha-256"
    verify_connection: bool = True
    root_rotation_statements: tuple[str, ...] = ()
    rotate_root: bool = True
    namespace: str | None = None


@dataclass(frozen=True)
class DatabaseRoleArgs:
    """A dynamic database role: POST /v1/:backend/roles/:name."""

    backend: str
    name: str
    db_name: str
    creation_statements: tuple[str, ...]
    revocation_statements: tuple[str, ...] = ()
    renew_statements: tuple[str, ...] = ()
    default_ttl: int = 3600
    max_ttl: int = 86400
    namespace: str | None = None


@dataclass(frozen=True)
class DatabaseStaticRoleArgs:
    """A static database role (an existing database user whose password the server rotates):
    POST /v1/:backend/static-roles/:name."""

    backend: str
    name: str
    db_name: str
    username: str
    rotation_period: int = 86400
    rotation_statements: tuple[str, ...] = ()
    namespace: str | None = None


ObjectArgs = (
    NamespaceArgs
    | MountArgs
    | KvV2ConfigArgs
    | KvMetadataArgs
    | AuthBackendArgs
    | JwtAuthConfigArgs
    | JwtAuthRoleArgs
    | JwtAuthRoleSetArgs
    | PolicyArgs
    | AuditArgs
    | TokenRoleArgs
    | AppRoleRoleArgs
    | DatabaseConnectionArgs
    | DatabaseRoleArgs
    | DatabaseStaticRoleArgs
)


def as_props(args: Any) -> dict[str, Any]:
    """Plain-data form of a record (tuples as lists), as it is stored and diffed."""
    from dataclasses import asdict

    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(args).items()}

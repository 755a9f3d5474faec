"""``llm-vault:databases``: database connections and their roles, as data.

::

    llm-vault:databases:
      path: databases                       # the database secrets engine mount
      connections:
        - name: rag-metadata
          url: postgresql://{{username}}:{{password}}@db.internal:5432/rag   # never credentials
          username: vault_root
          passwordFrom: env:RAG_DB_ROOT_PASSWORD   # or file:/run/secrets/rag-db; never the password
          passwordVersion: 1                        # bump to send a new root password
          roles:
            - name: rag-readonly
              creationStatements: ['CREATE ROLE "{{name}}" ...', 'GRANT SELECT ... TO "{{name}}"']
              ttl: 1h                               # default 1h
              maxTtl: 24h                           # default 24h
          staticRoles:
            - name: rag-etl
              username: rag_etl
              rotationPeriod: 24h                   # default 24h: within the 24-48 h rule
      grants:
        - role: rag-readonly                        # a role or static role above
          identities: [model-runner]

Every error is a ``ConfigError`` naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator

from infra.config.schema import ConfigError, Duration, MountPath, Schema, Text, record, reject

if TYPE_CHECKING:
    from infra.config.stack import Settings

KEY = "databases"
DEFAULT_TTL = 3600  # a service re-reads its credentials hourly; a leaked one dies within the hour
DEFAULT_MAX_TTL = 24 * 3600
DEFAULT_ROTATION = 24 * 3600  # the best-practice window is 24-48 h
_URL_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class DynamicRole:
    name: str
    creation_statements: tuple[str, ...]
    revocation_statements: tuple[str, ...]
    renew_statements: tuple[str, ...]
    ttl_seconds: int
    max_ttl_seconds: int


@dataclass(frozen=True)
class StaticRole:
    name: str
    username: str
    rotation_period_seconds: int
    rotation_statements: tuple[str, ...]


@dataclass(frozen=True)
class Connection:
    name: str
    url: str
    username: str
    password_from: str
    password_version: int
    max_open_connections: int
    verify_connection: bool
    root_rotation_statements: tuple[str, ...]
    roles: tuple[DynamicRole, ...]
    static_roles: tuple[StaticRole, ...]


@dataclass(frozen=True)
class Grant:
    role: str
    identities: tuple[str, ...]
    static: bool  # static-creds/<role> rather than creds/<role>


@dataclass(frozen=True)
class DatabaseSettings:
    path: str
    connections: tuple[Connection, ...]
    grants: tuple[Grant, ...]
    # In front of each grant's policy name: the root layout's "<tag>-" (infra.config.root_layout).
    policy_prefix: str = ""

    def policy_name(self, grant: Grant) -> str:
        return self.policy_prefix + grant_policy_name(grant)


def _statements(statements: list[str]) -> list[str]:
    for i, statement in enumerate(statements):
        # Without {{name}} a statement acts on a fixed user, not the one the engine issues.
        if "{{name}}" not in statement:
            raise reject("must refer to the user as {{name}}", at=f"[{i}]")
    return statements


class DynamicRoleSchema(Schema):
    name: Text
    creation_statements: list[Text] = Field(default_factory=list, validate_default=True)
    revocation_statements: list[Text] = []
    renew_statements: list[Text] = []
    ttl: Duration = DEFAULT_TTL
    max_ttl: Duration = DEFAULT_MAX_TTL

    @field_validator("creation_statements")
    @classmethod
    def _creates(cls, statements: list[str]) -> list[str]:
        if not statements:
            raise ValueError("is required: the statements that create the database user")
        return _statements(statements)

    @field_validator("revocation_statements", "renew_statements")
    @classmethod
    def _named(cls, statements: list[str]) -> list[str]:
        return _statements(statements)

    @model_validator(mode="after")
    def _ttl_within_max(self) -> DynamicRoleSchema:
        if self.ttl == 0 or self.ttl > self.max_ttl:
            raise reject(f"must be more than 0 and at most maxTtl ({self.max_ttl}s), got {self.ttl}s", at="ttl")
        return self


class StaticRoleSchema(Schema):
    name: Text
    username: Text
    rotation_period: Duration = DEFAULT_ROTATION
    rotation_statements: list[Text] = []
    # Static roles rotated on the same period rotate at the same moments (vault#18738).
    same_period_allowed: bool = False

    @field_validator("rotation_statements")
    @classmethod
    def _named(cls, statements: list[str]) -> list[str]:
        return _statements(statements)

    @field_validator("rotation_period")
    @classmethod
    def _server_minimum(cls, period: int) -> int:
        if period < 5:
            raise ValueError("must be at least 5s (the server's minimum)")
        return period


class ConnectionSchema(Schema):
    name: Text
    url: Text
    username: Text
    password_from: Text
    password_version: int = Field(1, ge=1)
    max_open_connections: int = Field(4, ge=1)
    verify_connection: bool = True
    root_rotation_statements: list[Text] = []
    roles: list[DynamicRoleSchema] = []
    static_roles: list[StaticRoleSchema] = []

    @field_validator("url")
    @classmethod
    def _no_credentials(cls, url: str) -> str:
        if not url.startswith(_URL_SCHEMES):
            raise ValueError("must be a postgresql:// URL")
        authority = url.partition("://")[2].partition("/")[0]
        if "@" in authority and authority.partition("@")[0] != "{{username}}:{{password}}":
            raise ValueError("must not hold credentials: write {{username}}:{{password}}@host")
        return url

    @field_validator("password_from")
    @classmethod
    def _a_reference(cls, value: str) -> str:
        kind, _, ref = value.partition(":")
        if kind not in ("env", "file") or not ref:
            raise ValueError("must be 'env:VARIABLE' or 'file:/path' (never the password)")
        return value

    @model_validator(mode="after")
    def _roles_apart(self) -> ConnectionSchema:
        seen: dict[int, str] = {}
        for i, role in enumerate(self.static_roles):
            other = seen.get(role.rotation_period)
            if other is not None and not role.same_period_allowed:
                raise reject(
                    f"same period as static role {other!r}: give it another period, or samePeriodAllowed: true",
                    at=f"staticRoles[{i}].rotationPeriod",
                )
            seen.setdefault(role.rotation_period, role.name)
        names = [r.name for r in self.roles] + [r.name for r in self.static_roles]
        for name in names:
            if names.count(name) > 1:
                raise reject(f"role name {name!r} is used twice in this connection", at="roles")
        return self

    def to_record(self) -> Connection:
        return record(
            Connection,
            self,
            roles=tuple(record(DynamicRole, r, ttl_seconds=r.ttl, max_ttl_seconds=r.max_ttl) for r in self.roles),
            static_roles=tuple(
                record(StaticRole, r, rotation_period_seconds=r.rotation_period) for r in self.static_roles
            ),
        )


class GrantSchema(Schema):
    role: Text  # a role or static role of a connection
    identities: list[Text] = []  # the model runner's AppRole role, GitHub bindings by role name

    @field_validator("identities")
    @classmethod
    def _someone(cls, identities: list[str]) -> list[str]:
        if not identities:
            raise ValueError("must name at least one identity")
        return identities


class DatabasesSchema(Schema):
    path: MountPath = "databases"
    connections: list[ConnectionSchema] = []
    grants: list[GrantSchema] = []

    @model_validator(mode="after")
    def _known_roles(self) -> DatabasesSchema:
        every = [r.name for c in self.connections for r in c.roles] + [
            r.name for c in self.connections for r in c.static_roles
        ]
        for name in every:
            if every.count(name) > 1:
                raise reject(f"role name {name!r} is used by two connections of one mount", at="connections")
        for i, grant in enumerate(self.grants):
            if grant.role not in every:
                raise reject(f"unknown role {grant.role!r}; roles: {sorted(every)}", at=f"grants[{i}].role")
        return self

    def to_record(self, identities: set[str]) -> DatabaseSettings:
        """``identities``: the names a grant may use (checked here: they come from other sections)."""
        static = {r.name for c in self.connections for r in c.static_roles}
        for i, grant in enumerate(self.grants):
            for j, ident in enumerate(grant.identities):
                if ident not in identities:
                    raise ConfigError(
                        f"{KEY}.grants[{i}].identities[{j}]", f"unknown identity {ident!r}; known: {sorted(identities)}"
                    )
        return DatabaseSettings(
            path=self.path,
            connections=tuple(c.to_record() for c in self.connections),
            grants=tuple(
                Grant(role=g.role, identities=tuple(g.identities), static=g.role in static) for g in self.grants
            ),
        )


def grant_policy_name(grant: Grant) -> str:
    return f"database-{grant.role}"


def grant_policy(path: str, grant: Grant) -> str:
    """The only capability a grant gives: reading its role's credentials."""
    endpoint = "static-creds" if grant.static else "creds"
    return f'path "{path}/{endpoint}/{grant.role}" {{\n  capabilities = ["read"]\n}}\n'


def with_database_grants(settings: Settings) -> Settings:
    """``settings`` with each grant's policy added to the identities it names (the model runner's
    AppRole role, GitHub bindings by role name), and to no one else."""
    grants = settings.databases.grants if settings.databases is not None else ()
    if not grants:
        return settings

    def extra(identity: str) -> tuple[str, ...]:
        return tuple(grant_policy_name(g) for g in grants if identity in g.identities)

    runner = settings.model_runner
    github = settings.github
    return replace(
        settings,
        model_runner=replace(runner, policies=(*runner.policies, *extra(runner.role))),
        github=replace(
            github, bindings=tuple(replace(b, policies=(*b.policies, *extra(b.role))) for b in github.bindings)
        ),
    )

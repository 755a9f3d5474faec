"""The ``llm-vault:databases`` stack key: database connections and their roles, as data.

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

Parsed once at load (``parse_databases``); every error is a ``ConfigError`` naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from infra.config import (
    ConfigError,
    Settings,
    _bool,
    _duration,
    _int,
    _mount_path,
    _no_unknown,
    _obj,
    _str,
    _str_list,
)

KEY = "databases"
DEFAULT_TTL = "1h"  # a service re-reads its credentials hourly; a leaked one dies within the hour
DEFAULT_MAX_TTL = "24h"
DEFAULT_ROTATION = "24h"  # the best-practice window is 24-48 h
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
    # In front of each grant's policy name: the root layout's "<tag>-" (infra.config.RootLayout).
    policy_prefix: str = ""

    def policy_name(self, grant: Grant) -> str:
        return self.policy_prefix + grant_policy_name(grant)


def _list(raw: Any, key: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(key, "must be a list")
    return raw


def _statements(raw: dict[str, Any], name: str, key: str, *, required: bool = False) -> tuple[str, ...]:
    path = f"{key}.{name}"
    if required and not raw.get(name):
        raise ConfigError(path, "is required: the statements that create the database user")
    statements = _str_list(raw, name, key)
    for i, statement in enumerate(statements):
        # Without {{name}} a statement acts on a fixed user, not the one the engine issues.
        if "{{name}}" not in statement:
            raise ConfigError(f"{path}[{i}]", "must refer to the user as {{name}}")
    return statements


def _role(raw: Any, key: str) -> DynamicRole:
    raw = _obj(raw, key)
    _no_unknown(raw, {"name", "creationStatements", "revocationStatements", "renewStatements", "ttl", "maxTtl"}, key)
    ttl = _duration(raw, "ttl", key, DEFAULT_TTL)
    max_ttl = _duration(raw, "maxTtl", key, DEFAULT_MAX_TTL)
    if ttl == 0 or ttl > max_ttl:
        raise ConfigError(f"{key}.ttl", f"must be more than 0 and at most maxTtl ({max_ttl}s), got {ttl}s")
    return DynamicRole(
        name=_str(raw, "name", key, required=True),
        creation_statements=_statements(raw, "creationStatements", key, required=True),
        revocation_statements=_statements(raw, "revocationStatements", key),
        renew_statements=_statements(raw, "renewStatements", key),
        ttl_seconds=ttl,
        max_ttl_seconds=max_ttl,
    )


def _static_role(raw: Any, key: str) -> tuple[StaticRole, bool]:
    raw = _obj(raw, key)
    _no_unknown(raw, {"name", "username", "rotationPeriod", "rotationStatements", "samePeriodAllowed"}, key)
    period = _duration(raw, "rotationPeriod", key, DEFAULT_ROTATION)
    if period < 5:
        raise ConfigError(f"{key}.rotationPeriod", "must be at least 5s (the server's minimum)")
    role = StaticRole(
        name=_str(raw, "name", key, required=True),
        username=_str(raw, "username", key, required=True),
        rotation_period_seconds=period,
        rotation_statements=_statements(raw, "rotationStatements", key),
    )
    return role, _bool(raw, "samePeriodAllowed", key, False)


def _connection(raw: Any, key: str) -> Connection:
    raw = _obj(raw, key)
    allowed = {
        "name", "url", "username", "passwordFrom", "passwordVersion", "maxOpenConnections", "verifyConnection",
        "rootRotationStatements", "roles", "staticRoles",
    }  # fmt: skip
    _no_unknown(raw, allowed, key)
    url = _str(raw, "url", key, required=True)
    if not url.startswith(_URL_SCHEMES):
        raise ConfigError(f"{key}.url", "must be a postgresql:// URL")
    authority = url.partition("://")[2].partition("/")[0]
    if "@" in authority and authority.partition("@")[0] != "{{username}}:{{password}}":
        raise ConfigError(f"{key}.url", "must not hold credentials: write {{username}}:{{password}}@host")
    password_from = _str(raw, "passwordFrom", key, required=True)
    kind, _, ref = password_from.partition(":")
    if kind not in ("env", "file") or not ref:
        raise ConfigError(f"{key}.passwordFrom", "must be 'env:VARIABLE' or 'file:/path' (never the password)")
    roles = tuple(_role(r, f"{key}.roles[{i}]") for i, r in enumerate(_list(raw.get("roles"), f"{key}.roles")))
    statics = [
        _static_role(r, f"{key}.staticRoles[{i}]")
        for i, r in enumerate(_list(raw.get("staticRoles"), f"{key}.staticRoles"))
    ]
    # Static roles rotated on the same period rotate at the same moments (vault#18738).
    seen: dict[int, str] = {}
    for i, (role, same_ok) in enumerate(statics):
        other = seen.get(role.rotation_period_seconds)
        if other is not None and not same_ok:
            raise ConfigError(
                f"{key}.staticRoles[{i}].rotationPeriod",
                f"same period as static role {other!r}: give it another period, or samePeriodAllowed: true",
            )
        seen.setdefault(role.rotation_period_seconds, role.name)
    names = [r.name for r in roles] + [r.name for r, _ in statics]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{key}.roles", f"role name {name!r} is used twice in this connection")
    return Connection(
        name=_str(raw, "name", key, required=True),
        url=url,
        username=_str(raw, "username", key, required=True),
        password_from=password_from,
        password_version=_int(raw, "passwordVersion", key, 1, minimum=1),
        max_open_connections=_int(raw, "maxOpenConnections", key, 4, minimum=1),
        verify_connection=_bool(raw, "verifyConnection", key, True),
        root_rotation_statements=_str_list(raw, "rootRotationStatements", key),
        roles=roles,
        static_roles=tuple(r for r, _ in statics),
    )


def parse_databases(raw: Any, identities: set[str]) -> DatabaseSettings | None:
    """``llm-vault:databases`` (None when absent). ``identities``: the names a grant may use."""
    if raw is None:
        return None
    raw = _obj(raw, KEY)
    _no_unknown(raw, {"path", "connections", "grants"}, KEY)
    connections = tuple(
        _connection(c, f"{KEY}.connections[{i}]") for i, c in enumerate(_list(raw.get("connections"), KEY))
    )
    dynamic = {r.name for c in connections for r in c.roles}
    static = {r.name for c in connections for r in c.static_roles}
    all_roles = [r.name for c in connections for r in c.roles] + [r.name for c in connections for r in c.static_roles]
    for name in all_roles:
        if all_roles.count(name) > 1:
            raise ConfigError(f"{KEY}.connections", f"role name {name!r} is used by two connections of one mount")
    grants = []
    for i, g in enumerate(_list(raw.get("grants"), f"{KEY}.grants")):
        key = f"{KEY}.grants[{i}]"
        g = _obj(g, key)
        _no_unknown(g, {"role", "identities"}, key)
        role = _str(g, "role", key, required=True)
        if role not in dynamic | static:
            raise ConfigError(f"{key}.role", f"unknown role {role!r}; roles: {sorted(dynamic | static)}")
        who = _str_list(g, "identities", key)
        if not who:
            raise ConfigError(f"{key}.identities", "must name at least one identity")
        for j, ident in enumerate(who):
            if ident not in identities:
                raise ConfigError(f"{key}.identities[{j}]", f"unknown identity {ident!r}; known: {sorted(identities)}")
        grants.append(Grant(role=role, identities=who, static=role in static))
    return DatabaseSettings(
        path=_mount_path(raw, "path", KEY, "databases"), connections=connections, grants=tuple(grants)
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

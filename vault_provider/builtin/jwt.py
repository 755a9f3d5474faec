"""JWT/OIDC auth: the method's config (/v1/auth/:path/config) and its roles
(/v1/auth/:backend/role/:role_name).

https://openbao.org/api-docs/auth/jwt/
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic as dyn
from pulumi.runtime import rpc

from vault_provider.args import JwtAuthConfigArgs, JwtAuthRoleArgs, JwtAuthRoleSetArgs, as_props
from vault_provider.builtin import _client
from vault_provider.builtin._client import Api, VaultObjectError
from vault_provider.builtin._provider import (
    UNDECLARED_KEY,
    EndpointProvider,
    VaultProvider,
    VaultResource,
    _contains_unknown,
)
from vault_provider.builtin.cidr import canonical_cidrs


class JwtAuthConfigProvider(EndpointProvider[JwtAuthConfigArgs]):
    """The config part of pulumi-vault's jwt.AuthBackend. A part of the auth method: adopted
    with it (`auth:<ns>:<path>`), gone with it.

    OpenBao fetches ``oidc_discovery_url`` when the config is written (so it must be reachable
    from the server). A write replaces the whole config.
    """

    args_type = JwtAuthConfigArgs
    kind = "JwtAuthConfig"
    adopt_kind = "auth"
    # Keys or CAs the program does not set: with them a token signed elsewhere would verify.
    pinned: ClassVar[dict[str, Any]] = {
        "jwt_validation_pubkeys": [],
        "oidc_discovery_ca_pem": "",
        "jwks_url": "",
        "jwks_ca_pem": "",
    }
    identity = frozenset({"path"})
    replace_on = frozenset({"path", "namespace"})

    def object_path(self, args: JwtAuthConfigArgs) -> str:
        return args.path.strip("/")

    def api_path(self, args: JwtAuthConfigArgs) -> str:
        return f"auth/{self.object_path(args)}/config"

    def body(self, args: JwtAuthConfigArgs) -> dict[str, Any]:
        body = super().body(args)
        if not body["default_role"]:
            del body["default_role"]  # unset, not a role named ""
        return body

    def remove(self, api: Api, args: JwtAuthConfigArgs) -> None:
        # There is no DELETE for the config, and an empty config does not validate: it goes
        # with its auth method (pulumi-vault's generic.Endpoint for it sets disable_delete too).
        return


class JwtAuthRoleProvider(EndpointProvider[JwtAuthRoleArgs]):
    args_type = JwtAuthRoleArgs
    kind = "JwtAuthRole"
    adopt_kind = "jwt-role"
    # OpenBao's defaults; wider leeways accept expired tokens, token_num_uses limits nothing we rely on.
    pinned: ClassVar[dict[str, Any]] = {
        "token_num_uses": 0,
        "clock_skew_leeway": 60,
        "expiration_leeway": 150,
        "not_before_leeway": 150,
    }
    identity = frozenset({"backend", "role_name"})
    replace_on = frozenset({"backend", "role_name", "namespace"})

    def object_path(self, args: JwtAuthRoleArgs) -> str:
        return f"{args.backend.strip('/')}/{args.role_name}"

    def api_path(self, args: JwtAuthRoleArgs) -> str:
        return f"auth/{args.backend.strip('/')}/role/{args.role_name}"

    def canonical(self, field: str, value: Any) -> Any:
        if field == "token_bound_cidrs":
            return canonical_cidrs(value)
        return super().canonical(field, value)


class JwtAuthConfig(VaultResource, module="vault", name="JwtAuthConfig"):
    """pulumi-vault: vault.jwt.AuthBackend (its config fields)."""

    provider_type = JwtAuthConfigProvider


class JwtAuthRole(VaultResource, module="vault", name="JwtAuthRole"):
    """pulumi-vault: vault.jwt.AuthBackendRole."""

    provider_type = JwtAuthRoleProvider


# Roles a set's refresh reads at once: as many calls as the provider host serves (host.HOST_THREADS).
READ_CONCURRENCY = 8

# The per-role fields a set's props hold: the role's record minus what the set itself names.
_SET_OWNS = frozenset({"backend", "role_name", "namespace"})
# The fields every role of a set has alike, said once (see ``pack_roles``).
SHARED_KEY = "shared"


def role_set_props(args: JwtAuthRoleSetArgs) -> dict[str, Any]:
    """A set as stored and diffed: its roles keyed by name, so that the engine's diff of two
    states names the role that changed (``roles.ci-app.bound_subject``), not a list index."""
    roles = {role.role_name: {k: v for k, v in as_props(role).items() if k not in _SET_OWNS} for role in args.roles}
    return {"backend": args.backend, "namespace": args.namespace, **pack_roles(roles)}


def pack_roles(roles: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``shared``: the fields that every role has with the same value, said once; ``roles``: each
    role's other fields. The project's roles differ in a few fields (subject, claims, policies)
    and share the rest (claim mappings, user claim, types, TTLs): said once, a role's record is a
    third of its full size, and the engine, the provider host and the program copy and encode
    the set's props at every step of every command (issue 17, README "What it costs at scale").
    What a refresh found beside the declared fields (``undeclared_settings``) stays per role."""
    shared: dict[str, Any] = {}
    if roles:
        first, *others = roles.values()
        shared = {
            k: v
            for k, v in first.items()
            if k != UNDECLARED_KEY and all(k in other and other[k] == v for other in others)
        }
    return {
        SHARED_KEY: shared,
        "roles": {name: {k: v for k, v in fields.items() if k not in shared} for name, fields in roles.items()},
    }


def role_entries(props: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each role's fields by name, from a set's props (what ``pack_roles`` packed)."""
    shared = dict(props.get(SHARED_KEY) or {})
    return {name: {**shared, **dict(fields or {})} for name, fields in dict(props.get("roles") or {}).items()}


class JwtAuthRoleSetProvider(VaultProvider[JwtAuthRoleSetArgs]):
    """All JWT roles of one backend in one engine resource; each role is handled exactly as
    ``JwtAuthRoleProvider`` handles it (same body, pinned settings, read-back and adoption key).

    The set's own rules, where one resource stands for many objects:

    - create refuses every role that exists and is not listed under ``llm-vault:adopt``, naming
      each, before it writes any;
    - a create or update that fails halfway deletes the roles it had just created (absent before
      it began), so that a failed run leaves nothing on the server that the state does not hold;
      roles it changed are put back by the next up (refresh, then diff);
    - a refresh drops the roles that are gone (the next up writes them again) and reports the
      server's values of the others: drift is per role;
    - crash recovery (``llm_vault.automation``) treats the set like any resource: its create was
      recoverable only if none of its roles existed before it began.
    """

    args_type = JwtAuthRoleSetArgs
    kind = "JwtAuthRoleSet"
    adopt_kind = "jwt-role-set"
    replace_on = frozenset({"backend", "namespace"})
    role = JwtAuthRoleProvider()

    def object_path(self, args: JwtAuthRoleSetArgs) -> str:
        return f"{args.backend.strip('/')}/role/*"

    def record(self, props: dict[str, Any]) -> JwtAuthRoleSetArgs:
        backend, namespace = str(props["backend"]), props.get("namespace") or None
        roles = tuple(
            self.role.record({**fields, "backend": backend, "role_name": name, "namespace": namespace})
            for name, fields in sorted(role_entries(props).items())
        )
        return JwtAuthRoleSetArgs(backend=backend, roles=roles, namespace=namespace)

    def outs(self, args: JwtAuthRoleSetArgs) -> dict[str, Any]:
        return {k: v for k, v in role_set_props(args).items() if v is not None}

    def fetch(self, api: Api, args: JwtAuthRoleSetArgs) -> dict[str, Any] | None:
        """The declared roles that the server holds, by name; None when it holds none of them."""
        found = {role.role_name: live for role in args.roles if (live := self.role.fetch(api, role)) is not None}
        return found or None

    def validate(self, args: JwtAuthRoleSetArgs) -> list[tuple[str, str]]:
        return [
            (f"roles.{role.role_name}.{name}", reason)
            for role in args.roles
            for name, reason in self.role.validate(role)
        ]

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        if any(v == rpc.UNKNOWN or _contains_unknown(v) for v in news.values()):
            return dyn.DiffResult(changes=True, replaces=[], delete_before_replace=None)
        old, new = self.record(olds), self.record(news)
        replaces = [f for f in sorted(self.replace_on) if getattr(old, f) != getattr(new, f)]
        changed = bool(replaces) or bool(self._changes(_by_name(old), _by_name(new), olds))
        return dyn.DiffResult(changes=changed, replaces=replaces, delete_before_replace=bool(replaces) or None)

    def _changes(
        self, before: dict[str, JwtAuthRoleArgs], after: dict[str, JwtAuthRoleArgs], olds: dict[str, Any]
    ) -> list[str]:
        """The names of the roles to create, update or delete to go from ``before`` to ``after``;
        a role whose pinned settings a refresh found changed (in ``olds``) is rewritten too."""
        # (what a refresh found is never packed into ``shared``: each role's own props hold it)
        drifted = {name for name, fields in dict(olds.get("roles") or {}).items() if fields.get(UNDECLARED_KEY)}
        return sorted(
            name
            for name in before.keys() | after.keys()
            if name not in before
            or name not in after
            or name in drifted
            or self.role.changed_fields(before[name], after[name])
        )

    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        args = self.record(props)
        api = self.api(args)
        self._apply(api, args, before={}, current=self._takeover(api, args, args.roles))
        return dyn.CreateResult(id_=self.adoption_key(args), outs=self.outs(args))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        old, new = self.record(olds), self.record(news)
        api = self.api(new)
        before = _by_name(old)
        added = [role for role in new.roles if role.role_name not in before]
        current = {**before, **self._takeover(api, new, tuple(added))}
        self._apply(api, new, before=before, current=current, olds=olds)
        return dyn.UpdateResult(outs=self.outs(new))

    def _takeover(
        self, api: Api, args: JwtAuthRoleSetArgs, roles: tuple[JwtAuthRoleArgs, ...]
    ) -> dict[str, JwtAuthRoleArgs]:
        """The roles about to be created that exist already: listed under ``llm-vault:adopt``
        (then: their current form), or refused, all of them in one error, before any write."""
        current: dict[str, JwtAuthRoleArgs] = {}
        refused: list[str] = []
        for role in roles:
            live = self.role.fetch(api, role)
            if live is None:
                continue
            key = self.role.adoption_key(role)
            if not _client.is_adopted(key):
                refused.append(key)
                continue
            current[role.role_name] = self.role.merged(role, live)
            self.role.check_adoptable(role, current[role.role_name])
        if refused:
            raise VaultObjectError(
                f"{self.where(args)}: {len(refused)} role(s) already exist and this stack did not create "
                f"them: {', '.join(map(repr, refused))}. "
                f"To take them over (they are then updated in place to the declared values), list them under "
                f"the `{_client.ADOPT_KEY}` stack config key, or remove the existing roles"
            )
        return current

    def _apply(
        self,
        api: Api,
        args: JwtAuthRoleSetArgs,
        *,
        before: dict[str, JwtAuthRoleArgs],
        current: dict[str, JwtAuthRoleArgs],
        olds: dict[str, Any] | None = None,
    ) -> None:
        """Make the server hold ``args``'s roles (and none of ``before``'s others)."""
        after = _by_name(args)
        todo = self._changes(before, after, olds or {})
        created: list[JwtAuthRoleArgs] = []
        try:
            for name in todo:
                if name not in after:
                    self.role.remove(api, before[name])
                    continue
                role = after[name]
                self.role.write(api, role, current.get(name))
                if name not in current:
                    created.append(role)
        except VaultObjectError as exc:
            for role in created:  # absent before this run: not left behind, out of the state
                # The first error is the one to report; the next refresh finds what is left.
                with contextlib.suppress(VaultObjectError):
                    self.role.remove(api, role)
            raise VaultObjectError(
                f"{exc} (role {name!r}; the {len(created)} role(s) this run created were deleted again)", exc.cause
            ) from None

    def read(self, id_: str, props: dict[str, Any]) -> dyn.ReadResult:
        args = self.record(props)

        def read_one(role: JwtAuthRoleArgs) -> tuple[JwtAuthRoleArgs, dict[str, Any] | None] | None:
            api = self.api(args)  # one per role: `reads_once` keeps its answers on the Api
            with api.reads_once():
                live = self.role.fetch(api, role)
                if live is None:
                    return None  # gone: dropped from the state, written again by the next up
                return self.role.merged(role, live), self.role.undeclared(api, role) or None

        # A refresh is one GET per role; one after the other they were most of a large set's
        # refresh (bench_program.py --profile). Read as many at once as the host serves calls.
        with ThreadPoolExecutor(max_workers=READ_CONCURRENCY, thread_name_prefix="role-set-read") as pool:
            present = [f for f in pool.map(read_one, args.roles) if f is not None]
        roles = [role for role, _ in present]
        undeclared = {role.role_name: extra for role, extra in present if extra}
        outs = self.outs(JwtAuthRoleSetArgs(args.backend, tuple(roles), args.namespace))
        for name, found in undeclared.items():
            outs["roles"][name][UNDECLARED_KEY] = found
        return dyn.ReadResult(id_, outs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        args = self.record(props)
        api = self.api(args)
        for role in args.roles:
            self.role.remove(api, role)


def _by_name(args: JwtAuthRoleSetArgs) -> dict[str, JwtAuthRoleArgs]:
    return {role.role_name: role for role in args.roles}


class JwtAuthRoleSet(VaultResource, module="vault", name="JwtAuthRoleSet"):
    """All JWT roles of one backend (no pulumi-vault equivalent: see ``JwtAuthRoleSetArgs``)."""

    provider_type = JwtAuthRoleSetProvider

    def __init__(self, resource_name: str, args: Any, opts: pulumi.ResourceOptions | None = None) -> None:
        if not isinstance(args, JwtAuthRoleSetArgs):
            raise TypeError(f"JwtAuthRoleSet takes JwtAuthRoleSetArgs, not {type(args).__name__}")
        dyn.Resource.__init__(self, self.provider_type(), resource_name, role_set_props(args), opts)

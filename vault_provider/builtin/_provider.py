"""What every builtin provider shares: typed props, diff, adoption, and the CRUD plumbing.

A concrete provider names its record type and says four things about its Vault object:
where it is (``object_path``), what the server holds (``fetch``), how to make the server
match the declaration (``write``) and how to remove it (``remove``). This module turns that
into Pulumi's create/read/diff/update/delete with these rules:

- props and outs are the record's fields (``args.as_props``), nothing else: no token, no
  address, nothing the server computes;
- ``read`` reports the server's values in the declared shape; a value the server normalised
  (ordering, case, ``default-service`` for ``default``) is reported as declared, so a refresh of
  an untouched object changes nothing and a second ``up`` is 0 changes;
- ``diff`` compares canonical forms (tuples are sets: Vault keeps policies, audiences and CIDRs
  as sets) and asks for a delete-before-replace where Vault cannot update in place;
- ``create`` refuses to take over an object that already exists unless the stack config lists
  it under ``llm-vault:adopt``; a listed object is updated in place.
"""

from __future__ import annotations

import dataclasses
import time
import typing
from functools import cache
from typing import Any, ClassVar, Generic, TypeVar

import pulumi
import pulumi.dynamic as dyn
from pulumi.runtime import rpc

from vault_provider.args import as_props
from vault_provider.builtin import _client
from vault_provider.builtin._client import Api, VaultObjectError, Where
from vault_provider.durations import duration_seconds

A = TypeVar("A")

PROVIDER_KEY = "__provider"
# An output key, only present after a refresh found settings the program does not declare but
# pins (``VaultProvider.pinned``) holding other values: {setting: server's value}. The inputs
# never have it, so the diff shows it (before: the server's values, after: none) and the
# update writes the pinned values back.
UNDECLARED_KEY = "undeclared_settings"
# An input key that ``check`` adds: True when an object found at this resource's id after an
# interrupted create can only be this stack's own. The engine records the checked inputs in the
# state's pending operation *before* it calls create, so crash recovery
# (``llm_vault.automation``) can tell "our create was cut off after the write" from "someone
# else's object was there before we started" (which create would have refused) without a
# journal of its own. Never a record field: diff, create and read ignore it.
RECOVERABLE_KEY = "__recoverable_create"
# How long a create whose write got no answer waits for the server to answer a read again.
AMBIGUOUS_WRITE_WAIT_SECONDS = 20.0
# Keys of the inputs and outputs that are not the object's settings (reports leave them out).
INTERNAL_KEYS = frozenset({PROVIDER_KEY, RECOVERABLE_KEY})


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce_value(hint: Any, value: Any) -> Any:
    """One prop as the record's field type (the engine hands numbers back as floats)."""
    origin = typing.get_origin(hint)
    if value is None:  # the server's null for an unset field
        return {int: 0, bool: False, str: ""}.get(hint, () if origin is tuple else {} if origin is dict else None)
    if hint is int:
        return int(value)
    if hint is bool:
        return bool(value)
    if hint is str:
        return str(value)
    if origin is tuple:
        return tuple(str(v) for v in (value or ()))
    if origin is dict:
        # A bound claim may be a list of accepted values ("any one may match").
        return {
            str(k): [str(x) for x in v] if isinstance(v, (list, tuple)) else str(v) for k, v in (value or {}).items()
        }
    if type(None) in typing.get_args(hint):  # str | None
        return None if value in (None, "") else str(value)
    return value


def coerce(cls: type[A], props: dict[str, Any]) -> A:
    """The record for ``props``; absent (or null) fields take the record's defaults."""
    hints = _hints(typing.cast(type, cls))
    values = {
        f.name: _coerce_value(hints[f.name], props[f.name])
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if props.get(f.name) is not None
    }
    return cls(**values)


def seconds(value: Any) -> int:
    """A duration as Vault reports it (int seconds, or a Go duration like ``1h0m30s``) in seconds;
    nothing reported is 0. The grammar is the one stack config uses (``vault_provider.durations``)."""
    if value in (None, ""):
        return 0
    return duration_seconds(value)


class VaultProvider(dyn.ResourceProvider, Generic[A]):
    """Base of the builtin providers. Holds no state: it is pickled into the Pulumi state."""

    # The pickled provider is a reference to this class (its module is importable) and holds
    # no secret, so it need not be encrypted: that keeps state small and the check that no
    # token reaches the state meaningful.
    serialize_as_secret_always = False

    args_type: ClassVar[type]
    kind: ClassVar[str]  # for messages, the pulumi-vault resource name: "Policy"
    adopt_kind: ClassVar[str]  # first part of the `llm-vault:adopt` key: "policy"
    replace_on: ClassVar[frozenset[str]] = frozenset({"namespace"})
    # Fields of the declaration that the server never sees (not written, read or diffed).
    declaration_only: ClassVar[frozenset[str]] = frozenset()
    # Settings of the object that the record does not model but that widen access or leak
    # values when changed by hand: the value the program writes (its default). A refresh
    # reports any other value, and every write sends these.
    pinned: ClassVar[dict[str, Any]] = {}

    # --- what a concrete provider says about its object -------------------------------------

    def object_path(self, args: A) -> str:
        """The object's path inside its namespace, as named in messages and adopt keys."""
        raise NotImplementedError

    def fetch(self, api: Api, args: A) -> dict[str, Any] | None:
        """The server's values of the record's fields (absent ones: as declared); None if gone."""
        raise NotImplementedError

    def write(self, api: Api, args: A, current: A | None) -> None:
        """Make the server hold ``args``. ``current``: what is there (None when creating anew)."""
        raise NotImplementedError

    def remove(self, api: Api, args: A) -> None:
        """Delete the object; it being gone already is success."""
        raise NotImplementedError

    def pinned_live(self, api: Api, args: A) -> dict[str, Any]:
        """The server's values of the ``pinned`` settings (those it reports)."""
        return {}

    def undeclared(self, api: Api, args: A) -> dict[str, Any]:
        """Pinned settings whose server value differs from the pinned one."""
        if not self.pinned:
            return {}
        live = self.pinned_live(api, args)
        return {k: v for k, v in sorted(live.items()) if k in self.pinned and _loose(v) != _loose(self.pinned[k])}

    def occupied(self, live: dict[str, Any]) -> bool:
        """Whether what ``fetch`` found counts as an existing object that someone else may own."""
        return True

    def check_adoptable(self, args: A, current: A) -> None:
        """Raise when an existing object cannot become the declared one in place."""

    def validate(self, args: A) -> list[tuple[str, str]]:
        """Declarations the server would accept but not honour: (field, reason) for each."""
        return []

    def canonical(self, field: str, value: Any) -> Any:
        """The form in which the server's and the declared value are compared."""
        if isinstance(value, (tuple, list)):
            return frozenset(value)
        if isinstance(value, dict):
            return tuple(sorted((k, frozenset(v) if isinstance(v, (list, tuple)) else v) for k, v in value.items()))
        return value

    # --- plumbing -------------------------------------------------------------------------

    def where(self, args: A) -> Where:
        # Messages name the namespace as the server knows it (under `vault:namespace`).
        namespace = _client.join_namespace(_client.root_namespace(), getattr(args, "namespace", None))
        return Where(self.kind, self.object_path(args), namespace)

    def adoption_key(self, args: A) -> str:
        return _client.adoption_key(self.adopt_kind, getattr(args, "namespace", None), self.object_path(args))

    def api(self, args: A) -> Api:
        return Api(self.where(args), getattr(args, "namespace", None))

    def record(self, props: dict[str, Any]) -> A:
        skip = (PROVIDER_KEY, UNDECLARED_KEY, RECOVERABLE_KEY)
        return typing.cast(A, coerce(self.args_type, {k: v for k, v in props.items() if k not in skip}))

    def outs(self, args: A) -> dict[str, Any]:
        # None (namespace: root) is left out, as the engine leaves it out of the inputs.
        return {k: v for k, v in as_props(args).items() if v is not None}

    def configure(self, req: dyn.ConfigureRequest) -> None:
        _client.configure(req.config)

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> dyn.CheckResult:
        if any(v == rpc.UNKNOWN or _contains_unknown(v) for v in news.values()):
            return dyn.CheckResult(news, [])  # preview with computed inputs: checked at apply time
        args = self.record(news)
        failures = [dyn.CheckFailure(f, reason) for f, reason in self.validate(args)]
        if olds and not _contains_unknown(olds):
            old_args = self.record({k: v for k, v in olds.items() if not k.startswith("__")})
            failures += [dyn.CheckFailure(f, reason) for f, reason in self.validate_change(old_args, args)]
        if not failures:
            news = {**news, RECOVERABLE_KEY: self.recoverable(olds, args)}
        return dyn.CheckResult(news, failures)

    def validate_change(self, old: A, new: A) -> list[tuple[str, str]]:
        """Changes from the stack's last inputs that must not be applied: (field, reason) for each."""
        return []

    def recoverable(self, olds: dict[str, Any], args: A) -> bool:
        """Whether an object at ``args``'s id after an interrupted create is this stack's own.

        Yes when the stack already holds this id (an update, or a delete-before-replace of the
        same object: once in the state, ours), or when the server has nothing there now, before
        the create. An object someone else made is there now: create would refuse it, so an
        interrupted create of it is never taken over. A failed look-up counts as "not ours".
        """
        known = {k: v for k, v in olds.items() if k not in INTERNAL_KEYS}
        if known:
            try:
                if self.adoption_key(self.record(known)) == self.adoption_key(args):
                    return True
            except (TypeError, ValueError):
                pass  # olds of an older shape: look at the server instead
        try:
            live = self.fetch(self.api(args), args)
        except VaultObjectError:
            return False
        return live is None or not self.occupied(live)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        # A value computed by another resource is unknown during preview: assume it changes.
        unknown = {k for k, v in news.items() if v == rpc.UNKNOWN or _contains_unknown(v)}
        old_args = self.record(olds)
        # (an unknown field takes its old value only so that the record can be built)
        new_args = self.record({k: (olds.get(k) if k in unknown else v) for k, v in news.items()})
        differing = set(self.changed_fields(old_args, new_args))
        changed = [
            f.name
            for f in dataclasses.fields(self.args_type)
            if f.name not in self.declaration_only and (f.name in unknown or f.name in differing)
        ]
        if olds.get(UNDECLARED_KEY):
            changed.append(UNDECLARED_KEY)  # set by a refresh: the update writes the pinned values
        replaces = [f for f in changed if f in self.replace_on]
        # delete_before_replace: the replacement has the same name inside Vault, so a
        # create-before-delete would delete what it just created (pulumi/pulumi#9881).
        return dyn.DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=bool(replaces) or None)

    def changed_fields(self, old: A, new: A) -> list[str]:
        """The declared fields whose canonical forms differ (what the server sees: not ``declaration_only``)."""
        return [
            f.name
            for f in dataclasses.fields(self.args_type)
            if f.name not in self.declaration_only
            and self.canonical(f.name, getattr(old, f.name)) != self.canonical(f.name, getattr(new, f.name))
        ]

    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        args = self.record(props)
        api = self.api(args)
        live = self.fetch(api, args)
        current: A | None = None
        if live is not None and self.occupied(live):
            key = self.adoption_key(args)
            if not _client.is_adopted(key):
                raise VaultObjectError(
                    f"{self.where(args)} already exists and this stack did not create it. Pulumi's "
                    f"dynamic providers cannot `import`; to take it over (it is then updated in place "
                    f"to the declared values), list {key!r} under the `{_client.ADOPT_KEY}` stack "
                    f"config key, or remove the existing object"
                )
            current = self.merged(args, live)
            self.check_adoptable(args, current)
        try:
            self.write(api, args, current)
        except VaultObjectError:
            if current is not None or not self._there_now(api, args):
                raise
            # A write whose answer was lost (a leader that died mid-request, a dropped connection)
            # and whose retry was refused (the object is there now): the object this create found
            # absent a moment ago holds what we declared. Failing would leave it on the server and
            # out of the state, and every later up would refuse it as someone else's. An object
            # that differs (a write refused halfway) still fails, with the server's reason.
        return dyn.CreateResult(id_=self.adoption_key(args), outs=self.outs(args))

    def _there_now(self, api: Api, args: A) -> bool:
        """Whether the object is on the server as declared, once the server answers again (a raft cluster
        answers after it elected a new leader, which first commits what the old one replicated).
        Gives up after ``AMBIGUOUS_WRITE_WAIT_SECONDS``: then the create fails as it would have."""
        deadline = time.monotonic() + AMBIGUOUS_WRITE_WAIT_SECONDS
        while True:
            try:
                live = self.fetch(api, args)
            except VaultObjectError as exc:
                if not isinstance(exc.cause, _client.TRANSIENT) or time.monotonic() > deadline:
                    return False
                time.sleep(1.0)
                continue
            if live is None or not self.occupied(live):
                return False
            merged = self.merged(args, live)
            return all(
                self.canonical(f.name, getattr(merged, f.name)) == self.canonical(f.name, getattr(args, f.name))
                for f in dataclasses.fields(self.args_type)
            )

    def merged(self, declared: A, live: dict[str, Any]) -> A:
        """The live object as a record: each field as declared when the server's value means the
        same (canonically), else the server's value."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(self.args_type):
            mine = getattr(declared, f.name)
            if f.name not in live:
                values[f.name] = mine
                continue
            theirs = _coerce_value(_hints(self.args_type)[f.name], live[f.name])
            same = self.canonical(f.name, theirs) == self.canonical(f.name, mine)
            values[f.name] = mine if same else theirs
        return typing.cast(A, self.args_type(**values))

    def read(self, id_: str, props: dict[str, Any]) -> dyn.ReadResult:
        args = self.record(props)
        api = self.api(args)
        with api.reads_once():
            live = self.fetch(api, args)
            if live is None:
                # Gone: an empty id drops it from the state and the next up creates it again.
                return dyn.ReadResult(None, {})
            undeclared = self.undeclared(api, args)
        outs = self.outs(self.merged(args, live))
        if undeclared:
            outs[UNDECLARED_KEY] = undeclared
        return dyn.ReadResult(id_, outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        args = self.record(news)
        self.write(self.api(args), args, self.record(olds))
        return dyn.UpdateResult(outs=self.outs(args))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        args = self.record(props)
        self.remove(self.api(args), args)


def _loose(value: Any) -> Any:
    """Comparison form of a pinned setting: empty list, "", None and 0 are all "unset"."""
    if value in (None, "", 0, False) or value == [] or value == {}:
        return None
    if isinstance(value, (list, tuple)):
        return frozenset(str(v) for v in value)
    return value


def _contains_unknown(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(v == rpc.UNKNOWN or _contains_unknown(v) for v in value)
    return False


class EndpointProvider(VaultProvider[A]):
    """An object that is one API path: GET returns its fields, POST writes them all, DELETE removes it.

    The fields written are the record's fields minus ``identity`` (those in the path) and
    ``namespace``; durations the server reports as Go strings are listed in ``durations``.
    """

    identity: ClassVar[frozenset[str]] = frozenset()
    durations: ClassVar[frozenset[str]] = frozenset()

    def api_path(self, args: A) -> str:
        raise NotImplementedError

    def body_fields(self) -> list[str]:
        skip = self.identity | self.declaration_only | {"namespace"}
        return [f.name for f in dataclasses.fields(self.args_type) if f.name not in skip]

    def body(self, args: A) -> dict[str, Any]:
        props = as_props(args)
        return {**self.pinned, **{f: props[f] for f in self.body_fields()}}

    def pinned_live(self, api: Api, args: A) -> dict[str, Any]:
        data = api.read(self.api_path(args)) or {}
        return {k: data[k] for k in self.pinned if k in data}

    def fetch(self, api: Api, args: A) -> dict[str, Any] | None:
        data = api.read(self.api_path(args))
        if data is None:
            return None
        return {f: seconds(data[f]) if f in self.durations else data[f] for f in self.body_fields() if f in data}

    def write(self, api: Api, args: A, current: A | None) -> None:
        api.write(self.api_path(args), self.body(args))

    def remove(self, api: Api, args: A) -> None:
        api.delete(self.api_path(args))


class VaultResource(dyn.Resource):
    """A Vault object declared from its record. Subclasses name their provider."""

    provider_type: ClassVar[type[VaultProvider[Any]]]

    def __init__(self, resource_name: str, args: Any, opts: pulumi.ResourceOptions | None = None) -> None:
        expected = self.provider_type.args_type
        if not isinstance(args, expected):
            raise TypeError(f"{type(self).__name__} takes {expected.__name__}, not {type(args).__name__}")
        super().__init__(self.provider_type(), resource_name, as_props(args), opts)

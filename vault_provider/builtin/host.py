"""This project's dynamic-provider host: ``pulumi.dynamic``'s gRPC server without the unpickling.

The engine runs ``.venv/bin/pulumi-resource-pulumi-python`` for every ``pulumi-python:dynamic``
resource. Pulumi's own host (``python -m pulumi.dynamic``) rebuilds the provider of each
request with ``dill.loads`` of the resource's ``__provider`` property, which comes from the
state on every refresh, diff, update and delete. Whoever can write the state (a preview job
holding the backend URL and passphrase, say) could put any pickle there and run code in the
next apply, with the apply token. This host never unpickles anything:

- the provider class comes from the request's resource *type* (``pulumi-python:dynamic/vault:Policy``),
  looked up in the fixed table of resources this project ships (``backend.RESOURCES``);
- ``__provider`` is only inspected, statically (``pickletools``, which executes nothing), and
  must be the plain by-reference pickle of exactly that class, which is what
  ``pulumi.dynamic.Resource`` writes for our providers; anything else is refused with an error
  naming the resource. States written by the stock host stay loadable as they are.

Everything else (the gRPC surface, property (de)serialization) follows
``pulumi/dynamic/__main__.py`` of the pinned SDK.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import pickletools
import sys
import threading
import traceback
from collections.abc import Callable
from concurrent import futures
from threading import Event
from typing import Any

import grpc
from google.protobuf import empty_pb2
from pulumi.dynamic import Config, ConfigureRequest, ResourceProvider
from pulumi.metadata import get_project
from pulumi.runtime import Settings, configure, proto, rpc
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import ResourceProviderServicer, provider_pb2_grpc

from vault_provider.builtin import _profile
from vault_provider.builtin._client import VaultObjectError

PROVIDER_KEY = "__provider"
HOST_THREADS = 8
TYPE_PREFIX = "pulumi-python:"
# Where the provider layer lived before it became its own package: states written then carry
# ``llm_vault.vault.builtin.<kind>`` references. They name the same class, so they are accepted
# (compared as text, never imported); the next up records the new module path.
FORMER_PACKAGES = {"llm_vault.vault": "vault_provider"}


class UntrustedProvider(Exception):
    """A request names a type we do not ship, or carries a ``__provider`` that is not ours."""


def shipped_providers() -> dict[str, type[ResourceProvider]]:
    """``pulumi-python:dynamic/vault:<Name>`` -> provider class, for every resource we ship."""
    from vault_provider.builtin.backend import RESOURCES

    return {f"{TYPE_PREFIX}{r._resource_type_name}": r.provider_type for r in RESOURCES.values()}


def resource_type(type_: str, urn: str) -> str:
    """The request's type token; older engines send only the URN (``urn:pulumi:s::p::a$b$<type>::name``)."""
    if type_:
        return type_
    parts = urn.split("::")
    return parts[2].split("$")[-1] if len(parts) >= 4 else ""


def pickled_reference(blob: str) -> tuple[str, str] | None:
    """``(module, qualname)`` when ``blob`` is a bare by-reference pickle of a class instance
    (``STACK_GLOBAL(module, name)`` then ``NEWOBJ`` of no arguments), else None. Nothing is loaded."""
    try:
        data = base64.b64decode(blob, validate=True)
        ops = [(op.name, arg) for op, arg, _pos in pickletools.genops(data)]
    except (binascii.Error, ValueError, TypeError):
        return None
    meaningful = [(name, arg) for name, arg in ops if name not in ("PROTO", "FRAME", "MEMOIZE", "STOP")]
    shape = [name for name, _ in meaningful]
    if shape != ["SHORT_BINUNICODE", "SHORT_BINUNICODE", "STACK_GLOBAL", "EMPTY_TUPLE", "NEWOBJ"]:
        return None
    if ops[-1][0] != "STOP":
        return None
    return str(meaningful[0][1]), str(meaningful[1][1])


def current_reference(reference: tuple[str, str] | None) -> tuple[str, str] | None:
    """``reference`` with a former package path of the provider layer replaced by today's."""
    if reference is None:
        return None
    module, qualname = reference
    for former, today in FORMER_PACKAGES.items():
        if module == former or module.startswith(former + "."):
            return today + module[len(former) :], qualname
    return reference


def provider_for(type_: str, urn: str, *prop_sets: dict[str, Any]) -> ResourceProvider:
    """A fresh provider of the shipped class for this type, after checking every ``__provider``."""
    token = resource_type(type_, urn)
    cls = shipped_providers().get(token)
    if cls is None:
        raise UntrustedProvider(
            f"resource {urn}: type {token!r} is not one this project ships; this provider host only runs "
            f"llm-vault's own providers ({', '.join(sorted(shipped_providers()))})"
        )
    for props in prop_sets:
        blob = props.get(PROVIDER_KEY)
        if blob is None or blob == rpc.UNKNOWN:
            continue
        reference = pickled_reference(blob) if isinstance(blob, str) else None
        if current_reference(reference) != (cls.__module__, cls.__qualname__):
            raise UntrustedProvider(
                f"resource {urn}: its `{PROVIDER_KEY}` in the state is not the reference to "
                f"{cls.__module__}.{cls.__qualname__} that this program writes (the state was edited); "
                f"refusing to run it. Restore the state from a trusted copy, or remove the resource "
                f"from the state (`pulumi state delete '{urn}'`) and adopt the object again"
            )
    return cls()


def _abort_on_error(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(self: Servicer, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return _profile.run(fn.__name__, lambda: fn(self, request, context))
        except UntrustedProvider as exc:  # expected: one clear line, no traceback
            context.abort(grpc.StatusCode.PERMISSION_DENIED, str(exc))
        except VaultObjectError as exc:  # expected too (refused, unreachable, exists): its message names the object
            context.abort(grpc.StatusCode.UNKNOWN, str(exc))
        except Exception:
            context.abort(grpc.StatusCode.UNKNOWN, traceback.format_exc())

    return wrapper


# One event loop per serving thread, kept: a new loop per call (as the SDK's host makes) opens
# and closes a socket pair and a selector each time, a tenth of the host's time per call.
_loops = threading.local()


def _serialize(props: dict[str, Any]) -> Any:
    loop = getattr(_loops, "loop", None)
    if loop is None:
        loop = _loops.loop = asyncio.new_event_loop()
    return loop.run_until_complete(rpc.serialize_properties(props, {}))


class Servicer(ResourceProviderServicer):
    """The ResourceProvider gRPC service for our dynamic resources."""

    def __init__(self) -> None:
        self._config: dict[str, Any] = {}

    def _provider(self, request: Any, *prop_sets: dict[str, Any]) -> ResourceProvider:
        provider = provider_for(request.type, request.urn, *prop_sets)
        provider.configure(ConfigureRequest(config=Config(raw_config=self._config, project_name=get_project())))
        return provider

    def _unimplemented(self, context: grpc.ServicerContext, what: str) -> None:
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details(f"{what} is not implemented by the dynamic provider")
        raise NotImplementedError(f"{what} is not implemented by the dynamic provider")

    def CheckConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._unimplemented(context, "CheckConfig")

    def DiffConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._unimplemented(context, "DiffConfig")

    def Invoke(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._unimplemented(context, "Invoke")

    def GetSchema(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._unimplemented(context, "GetSchema")

    def List(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._unimplemented(context, "List")

    def Configure(self, request: Any, context: grpc.ServicerContext) -> Any:
        config = rpc.deserialize_properties(request.args)
        self._config = {k: rpc.unwrap_rpc_secret(v) for k, v in config.items()}
        return proto.ConfigureResponse(acceptSecrets=False)

    def GetPluginInfo(self, request: Any, context: grpc.ServicerContext) -> Any:
        return proto.PluginInfo(version="0.1.0")

    def Cancel(self, request: Any, context: grpc.ServicerContext) -> Any:
        return empty_pb2.Empty()

    @_abort_on_error
    def Check(self, request: Any, context: grpc.ServicerContext) -> Any:
        olds = rpc.deserialize_properties(request.olds, True)
        news = rpc.deserialize_properties(request.news, True)
        result = self._provider(request, olds, news).check(olds, news)
        inputs = dict(result.inputs)
        inputs[PROVIDER_KEY] = news[PROVIDER_KEY]
        failures = [proto.CheckFailure(property=f.property, reason=f.reason) for f in result.failures]
        return proto.CheckResponse(inputs=_serialize(inputs), failures=failures)

    @_abort_on_error
    def Diff(self, request: Any, context: grpc.ServicerContext) -> Any:
        olds = rpc.deserialize_properties(request.olds, True)
        news = rpc.deserialize_properties(request.news, True)
        result = self._provider(request, olds, news).diff(request.id, olds, news)
        fields: dict[str, Any] = {}
        if result.changes is None:
            fields["changes"] = proto.DiffResponse.DIFF_UNKNOWN
        else:
            fields["changes"] = proto.DiffResponse.DIFF_SOME if result.changes else proto.DiffResponse.DIFF_NONE
        if result.replaces is not None:
            fields["replaces"] = result.replaces
        if result.delete_before_replace is not None:
            fields["deleteBeforeReplace"] = result.delete_before_replace
        return proto.DiffResponse(**fields)

    @_abort_on_error
    def Create(self, request: Any, context: grpc.ServicerContext) -> Any:
        props = rpc.deserialize_properties(request.properties)
        result = self._provider(request, props).create(props)
        outs = dict(result.outs or {})
        outs[PROVIDER_KEY] = props[PROVIDER_KEY]
        return proto.CreateResponse(id=result.id, properties=_serialize(outs))

    @_abort_on_error
    def Read(self, request: Any, context: grpc.ServicerContext) -> Any:
        # On refresh the engine passes prior outputs; on a Get only the inputs.
        props = rpc.deserialize_properties(request.properties)
        if not props and request.inputs is not None:
            props = rpc.deserialize_properties(request.inputs)
        result = self._provider(request, props).read(request.id, props)
        outs = dict(result.outs or {})
        outs[PROVIDER_KEY] = props[PROVIDER_KEY]
        fields: dict[str, Any] = {"id": result.id, "properties": _serialize(outs)}
        if result.inputs is not None:
            inputs = {**result.inputs, PROVIDER_KEY: props[PROVIDER_KEY]}
            fields["inputs"] = _serialize(inputs)
        return proto.ReadResponse(**fields)

    @_abort_on_error
    def Update(self, request: Any, context: grpc.ServicerContext) -> Any:
        olds = rpc.deserialize_properties(request.olds)
        news = rpc.deserialize_properties(request.news)
        result = self._provider(request, olds, news).update(request.id, olds, news)
        outs = dict(result.outs or {})
        outs[PROVIDER_KEY] = news[PROVIDER_KEY]
        return proto.UpdateResponse(properties=_serialize(outs))

    @_abort_on_error
    def Delete(self, request: Any, context: grpc.ServicerContext) -> Any:
        props = rpc.deserialize_properties(request.properties)
        self._provider(request, props).delete(request.id, props)
        return empty_pb2.Empty()


def main() -> None:
    # get_project() (the dynamic Config's project name) reads the SDK's runtime settings.
    configure(Settings(project=os.environ.get("PULUMI_PROJECT", "project"), stack="stack", organization="organization"))
    # As many serving threads as the engine runs steps at once (its default --parallel is 8):
    # with fewer, steps queue while a thread waits for the server's answer.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=HOST_THREADS), options=_GRPC_CHANNEL_OPTIONS)
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(Servicer(), server)
    port = server.add_insecure_port(address="127.0.0.1:0")
    server.start()
    sys.stdout.buffer.write(f"{port}\n".encode())
    sys.stdout.flush()
    try:
        Event().wait()
    except KeyboardInterrupt:
        server.stop(0)


if __name__ == "__main__":
    main()

"""What the server holds for one declared object, looked up outside the engine.

The engine only asks a provider at create time whether the object exists. Two callers need to
know before that, with the job's own token and the stack's config: the preview report (a create
that ``up`` turns into a takeover is shown as "adopt") and crash recovery (a create that was
interrupted may have reached the server). Both go through :func:`lookups`, so they read the
object exactly as the provider's create would.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

from vault_provider.builtin import _client, host
from vault_provider.builtin._provider import VaultProvider


@dataclass(frozen=True)
class Found:
    key: str  # the object's id (its `llm-vault:adopt` key): what the provider's create returns
    adopted: bool  # whether the stack lists it under llm-vault:adopt
    live: dict[str, Any] | None  # the object as a record's props (merged with the declaration), None: absent


class Lookup:
    def __init__(self) -> None:
        self._providers = host.shipped_providers()

    def __call__(self, type_token: str, inputs: Mapping[str, Any]) -> Found | None:
        """None when ``type_token`` is not one of ours; raises ``VaultObjectError`` when unreadable."""
        cls = self._providers.get(type_token)
        if cls is None or not issubclass(cls, VaultProvider):
            return None
        provider: VaultProvider[Any] = cls()
        args = provider.record({k: v for k, v in inputs.items() if not k.startswith("__")})
        key = provider.adoption_key(args)
        live = provider.fetch(provider.api(args), args)
        if live is None or not provider.occupied(live):
            return Found(key, _client.is_adopted(key), None)
        return Found(key, _client.is_adopted(key), provider.outs(provider.merged(args, live)))


@contextmanager
def lookups(config: Mapping[str, Any], env: Mapping[str, str]) -> Iterator[Lookup]:
    """A lookup with the stack's config and the job's VAULT_* variables, as the provider host has them."""
    vault_env = {k: v for k, v in env.items() if k.startswith(("VAULT_", "BAO_"))}
    with mock.patch.dict(os.environ, vault_env):
        _client.configure(dict(config))
        yield Lookup()

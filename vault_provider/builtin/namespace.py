"""Namespaces: POST/GET/DELETE /v1/sys/namespaces/:path, sent to the parent namespace.

https://openbao.org/api-docs/system/namespaces/
"""

from __future__ import annotations

import time
from typing import Any

from vault_provider.args import NamespaceArgs
from vault_provider.builtin._client import Api, VaultObjectError
from vault_provider.builtin._provider import VaultProvider, VaultResource

# OpenBao deletes a namespace in the background (it is "tainted" meanwhile) and refuses to
# create one at the same path, or delete its parent, until that is done.
DELETION_WAIT_SECONDS = 30.0


class NamespaceProvider(VaultProvider[NamespaceArgs]):
    args_type = NamespaceArgs
    kind = "Namespace"
    adopt_kind = "namespace"
    replace_on = frozenset({"path", "namespace"})

    def object_path(self, args: NamespaceArgs) -> str:
        return args.path.strip("/")

    def _api_path(self, args: NamespaceArgs) -> str:
        return f"sys/namespaces/{self.object_path(args)}"

    def _wait_gone(self, api: Api, args: NamespaceArgs) -> None:
        deadline = time.monotonic() + DELETION_WAIT_SECONDS
        while (data := api.read(self._api_path(args))) is not None and data.get("tainted"):
            if time.monotonic() > deadline:
                raise VaultObjectError(f"{self.where(args)} is still being deleted after {DELETION_WAIT_SECONDS:.0f}s")
            time.sleep(0.2)

    def fetch(self, api: Api, args: NamespaceArgs) -> dict[str, Any] | None:
        data = api.read(self._api_path(args))
        if data is not None and data.get("tainted"):
            self._wait_gone(api, args)  # being deleted: gone, once the server is done with it
            return None
        return None if data is None else {}

    def write(self, api: Api, args: NamespaceArgs, current: NamespaceArgs | None) -> None:
        if current is None:  # a namespace has no settings of ours: an existing one is as declared
            api.write(self._api_path(args), {})

    def remove(self, api: Api, args: NamespaceArgs) -> None:
        api.delete(self._api_path(args))
        self._wait_gone(api, args)


class Namespace(VaultResource, module="vault", name="Namespace"):
    """pulumi-vault: vault.Namespace."""

    provider_type = NamespaceProvider

"""Audit devices: PUT/DELETE /v1/sys/audit/:path, read from the GET /v1/sys/audit list.

Root namespace only, and OpenBao accepts them through the API only with
``unsafe_allow_api_audit_creation = true`` in the server config. Nothing about a device can
be changed in place: any change is a replace (disable, then enable).
https://openbao.org/api-docs/system/audit/
"""

from __future__ import annotations

from typing import Any

from vault_provider.args import AuditArgs
from vault_provider.builtin._client import Api
from vault_provider.builtin._provider import VaultProvider, VaultResource


class AuditProvider(VaultProvider[AuditArgs]):
    args_type = AuditArgs
    kind = "Audit"
    adopt_kind = "audit"
    replace_on = frozenset({"type", "path", "options", "local", "description", "namespace"})

    def object_path(self, args: AuditArgs) -> str:
        return args.path.strip("/")

    def fetch(self, api: Api, args: AuditArgs) -> dict[str, Any] | None:
        devices = api.read("sys/audit") or {}
        device = devices.get(f"{self.object_path(args)}/")
        if not isinstance(device, dict):
            return None
        return {
            "type": device.get("type", ""),
            "options": device.get("options") or {},
            "local": device.get("local", False),
            "description": device.get("description", ""),
        }

    def write(self, api: Api, args: AuditArgs, current: AuditArgs | None) -> None:
        path = f"sys/audit/{self.object_path(args)}"
        if current is not None:
            if current == args:
                return  # adopted as it is
            api.delete(path)  # adopted but different: devices cannot be tuned, only re-enabled
        api.write(
            path,
            {"type": args.type, "options": args.options, "local": args.local, "description": args.description},
            method="PUT",
        )

    def remove(self, api: Api, args: AuditArgs) -> None:
        api.delete(f"sys/audit/{self.object_path(args)}")


class Audit(VaultResource, module="vault", name="Audit"):
    """pulumi-vault: vault.Audit."""

    provider_type = AuditProvider

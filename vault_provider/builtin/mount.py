"""Secrets engine mounts: /v1/sys/mounts/:path (create, read, delete) and .../tune (update).

https://openbao.org/api-docs/system/mounts/
"""

from __future__ import annotations

from typing import Any

import pulumi.dynamic as dyn

from vault_provider.args import MountArgs
from vault_provider.builtin._client import Api, VaultObjectError
from vault_provider.builtin._provider import VaultProvider, VaultResource

KV_V2 = "kv-v2"  # an alias Vault resolves to type "kv" with options.version "2"


def kv_version(type_: str, options: dict[str, str]) -> str | None:
    if type_ == KV_V2:
        return "2"
    if type_ == "kv":
        return options.get("version", "1")
    return None


# Tune settings that leak values to the audit log (non-HMAC keys are logged in plaintext) or
# pass request/response headers through: the program sets none of them.
TUNE_PINNED: dict[str, Any] = {
    "audit_non_hmac_request_keys": [],
    "audit_non_hmac_response_keys": [],
    "passthrough_request_headers": [],
    "allowed_response_headers": [],
}


def tune_live(api: Api, path: str) -> dict[str, Any]:
    """The pinned tune settings from ``sys/mounts/:path`` or ``sys/auth/:path`` (its ``config``
    lists those that are set; reading ``.../tune`` of an auth method would need sudo there too)."""
    config = (api.read(path) or {}).get("config") or {}
    return {k: config[k] for k in TUNE_PINNED if k in config}


class MountProvider(VaultProvider[MountArgs]):
    args_type = MountArgs
    kind = "Mount"
    adopt_kind = "mount"
    # A kv version change is a replace too (see diff); other options are tuned in place.
    replace_on = frozenset({"path", "type", "namespace"})
    pinned = TUNE_PINNED

    def object_path(self, args: MountArgs) -> str:
        return args.path.strip("/")

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        result = super().diff(id_, olds, news)
        if result.changes and not result.replaces:
            old, new = self.record(olds), self.record(news)
            if kv_version(old.type, old.options) != kv_version(new.type, new.options):
                result.replaces = [*(result.replaces or []), "options"]
                result.delete_before_replace = True
        return result

    def fetch(self, api: Api, args: MountArgs) -> dict[str, Any] | None:
        data = api.read(f"sys/mounts/{self.object_path(args)}", missing=("No secret engine mount at",))
        if data is None:
            return None
        options = dict(data.get("options") or {})
        type_ = data.get("type", "")
        if args.type == KV_V2 and type_ == "kv" and options.get("version") == "2":
            type_ = KV_V2  # what was declared, in Vault's words
            if "version" not in args.options:
                options.pop("version")
        config = data.get("config") or {}
        return {
            "type": type_,
            "description": data.get("description", ""),
            "options": options,
            "default_lease_ttl_seconds": config.get("default_lease_ttl", 0),
            "max_lease_ttl_seconds": config.get("max_lease_ttl", 0),
        }

    def pinned_live(self, api: Api, args: MountArgs) -> dict[str, Any]:
        return tune_live(api, f"sys/mounts/{self.object_path(args)}")

    def check_adoptable(self, args: MountArgs, current: MountArgs) -> None:
        have = ("kv" if current.type == KV_V2 else current.type, kv_version(current.type, current.options))
        want = ("kv" if args.type == KV_V2 else args.type, kv_version(args.type, args.options))
        if have != want:
            raise VaultObjectError(
                f"{self.where(args)} cannot be adopted: it is a {current.type!r} mount "
                f"(kv version {have[1]}), declared {args.type!r} (kv version {want[1]}); a mount's "
                "type is fixed and replacing it would delete its data"
            )

    def write(self, api: Api, args: MountArgs, current: MountArgs | None) -> None:
        path = self.object_path(args)
        ttls = {
            "default_lease_ttl": args.default_lease_ttl_seconds,
            "max_lease_ttl": args.max_lease_ttl_seconds,
        }
        if current is None:
            api.write(
                f"sys/mounts/{path}",
                {"type": args.type, "description": args.description, "config": ttls, "options": args.options},
            )
            return
        # An existing mount (adopted, or updated) is tuned: remounting would lose its data.
        tune: dict[str, Any] = {"description": args.description, **ttls, **self.pinned}
        if self.canonical("options", current.options) != self.canonical("options", args.options):
            tune["options"] = args.options
        api.write(f"sys/mounts/{path}/tune", tune)

    def remove(self, api: Api, args: MountArgs) -> None:
        api.delete(f"sys/mounts/{self.object_path(args)}")


class Mount(VaultResource, module="vault", name="Mount"):
    """pulumi-vault: vault.Mount."""

    provider_type = MountProvider

"""KV version 2 settings: engine config (/v1/:mount/config) and per-secret metadata
(/v1/:mount/metadata/:name). Never a secret's value.

https://openbao.org/api-docs/secret/kv/kv-v2/
"""

from __future__ import annotations

from typing import Any

from vault_provider.args import KvMetadataArgs, KvV2ConfigArgs
from vault_provider.builtin._client import Api
from vault_provider.builtin._provider import EndpointProvider, VaultResource

_DEFAULTS = {"max_versions": 0, "cas_required": False, "delete_version_after": 0}


class KvV2ConfigProvider(EndpointProvider[KvV2ConfigArgs]):
    """The engine-wide settings of a kv-v2 mount: a part of the mount, adopted with it
    (`mount:<ns>:<path>`). Deleting it puts Vault's defaults back."""

    args_type = KvV2ConfigArgs
    kind = "KvV2Config"
    adopt_kind = "mount"
    identity = frozenset({"mount"})
    durations = frozenset({"delete_version_after"})
    replace_on = frozenset({"mount", "namespace"})
    declaration_only = frozenset({"keep_history"})

    def object_path(self, args: KvV2ConfigArgs) -> str:
        return args.mount.strip("/")

    def validate_change(self, old: KvV2ConfigArgs, new: KvV2ConfigArgs) -> list[tuple[str, str]]:
        # 0 is the server's default, which is 10 versions.
        before, after = old.max_versions or 10, new.max_versions or 10
        if not new.keep_history or after >= before or old.mount != new.mount:
            return []
        return [(
            "max_versions",
            f"{new.keep_history}: lowered from {before} to {after} on a protected stack; the next write to "
            f"each secret would prune every version beyond the newest {after}, and nothing brings them back. "
            f"Keep {before}, or state why under {new.keep_history}LoweredReason",
        )]

    def api_path(self, args: KvV2ConfigArgs) -> str:
        return f"{self.object_path(args)}/config"

    def occupied(self, live: dict[str, Any]) -> bool:
        # Every kv-v2 mount has a config; only one someone changed is theirs to keep.
        return any(live.get(k, v) != v for k, v in _DEFAULTS.items())

    def remove(self, api: Api, args: KvV2ConfigArgs) -> None:
        # (a 404: the mount or its namespace is gone, and its config with it)
        api.write(self.api_path(args), _DEFAULTS, gone_ok=True)


class KvMetadataProvider(EndpointProvider[KvMetadataArgs]):
    """The catalogue entry of one secret path: its metadata, never its values.

    Deleting the entry clears what the catalogue wrote and keeps the secret's versions: DELETE
    .../metadata/:name would erase every version, and a destroy (even one that a protected
    stack refuses halfway) or a rename in the catalogue must never cost an operator's secrets.
    """

    args_type = KvMetadataArgs
    kind = "KvMetadata"
    adopt_kind = "kv-metadata"
    identity = frozenset({"mount", "name"})
    durations = frozenset({"delete_version_after"})
    replace_on = frozenset({"mount", "name", "namespace"})

    def object_path(self, args: KvMetadataArgs) -> str:
        return f"{args.mount.strip('/')}/{args.name.strip('/')}"

    def api_path(self, args: KvMetadataArgs) -> str:
        return f"{args.mount.strip('/')}/metadata/{args.name.strip('/')}"

    def occupied(self, live: dict[str, Any]) -> bool:
        # A path whose values an operator wrote before the catalogue named it is not someone
        # else's catalogue entry: taking over its (empty) metadata never touches the values.
        return bool(live.get("custom_metadata"))

    def remove(self, api: Api, args: KvMetadataArgs) -> None:
        # (a 404: the mount or its namespace is gone, and the secret with it)
        api.write(self.api_path(args), {"custom_metadata": {}, **_DEFAULTS}, gone_ok=True)


class KvV2Config(VaultResource, module="vault", name="KvV2Config"):
    """pulumi-vault: vault.kv.SecretBackendV2."""

    provider_type = KvV2ConfigProvider


class KvMetadata(VaultResource, module="vault", name="KvMetadata"):
    """pulumi-vault: vault.kv.SecretV2's metadata part (custom_metadata, max_versions, ...)."""

    provider_type = KvMetadataProvider

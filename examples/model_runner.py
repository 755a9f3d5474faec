"""A model runner loading its provider credentials from Vault/OpenBao with ``VaultSecretManager``.

Login: AppRole when ``VAULT_ROLE_ID`` and ``VAULT_SECRET_ID`` are set (the runner's machine
identity, role ``model-runner``), else the token in ``VAULT_TOKEN``. ``BAO_*`` names work too.
It prints which credentials are present and their masked lengths, never a value.

Against the local server the main job provisions (namespace ``dev``, kv mount ``openai-llm``)::

    export VAULT_ADDR=http://127.0.0.1:8200          # the server's address
    export VAULT_NAMESPACE=dev                       # the default here when unset
    export VAULT_ROLE_ID=... VAULT_SECRET_ID=...     # or: export VAULT_TOKEN=...
    .venv/bin/python examples/model_runner.py [--worker-token] [--rounds N --interval SECONDS]

``--worker-token`` also mints a read-only child token (token role ``openai-llm-readonly``) for a
worker process. The project's policies allow that to ``openai-llm-operator`` only: with the
``model-runner`` AppRole it fails with PermissionDenied (a child would read more than the runner).

``--rounds`` re-reads the credentials N times (picking up rotated keys); the manager renews its
token, or logs in again, as needed in between.
Exit status: 0 when every credential is present, 1 when some are missing, 2 on a Vault error.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from vault_secrets import VaultSecretManager, VaultSecretsError, auth_from_env
from vault_secrets.settings import env_setting

DEFAULT_NAMESPACE = "dev"  # the namespace the main job provisions


def mask(value: str | None) -> str:
    """What may be printed about a secret: whether it is there and how long it is."""
    return "MISSING" if not value else f"present ({len(value)} chars, {'*' * 8})"


@dataclass
class ProviderClients:
    """Stand-ins for the SDK clients a runner builds from its credentials (kept out of repr)."""

    headers: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    worker_env: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_credentials(cls, creds: dict[str, str | None]) -> ProviderClients:
        clients = cls()
        if creds.get("openai_key"):
            clients.headers["openai"] = {"Authorization": f"Bearer {creds['openai_key']}"}
        if creds.get("anthropic_key"):
            clients.headers["anthropic"] = {"x-api-key": str(creds["anthropic_key"])}
        if creds.get("huggingface_token"):
            # huggingface_hub reads HF_TOKEN: hand it to the worker's environment, not to argv.
            clients.worker_env["HF_TOKEN"] = str(creds["huggingface_token"])
        return clients

    def describe(self) -> list[str]:
        return [f"{name}: client configured" for name in sorted(self.headers)] + [
            f"worker env: {name} set" for name in sorted(self.worker_env)
        ]


def connect(namespace: str | None, mount: str) -> VaultSecretManager:
    auth = auth_from_env()  # AppRole from VAULT_ROLE_ID/VAULT_SECRET_ID, else None: the token
    if auth is not None:
        return VaultSecretManager(mount_point=mount, namespace=namespace, auth=auth)
    return VaultSecretManager(mount_point=mount, namespace=namespace)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--namespace",
        default=env_setting("NAMESPACE") or DEFAULT_NAMESPACE,
        help="Vault namespace (default: VAULT_NAMESPACE, else 'dev'; '' for the root namespace)",
    )
    parser.add_argument("--mount", default="openai-llm", help="kv-v2 mount (default: openai-llm)")
    parser.add_argument("--worker-token", action="store_true", help="also mint a read-only child token")
    parser.add_argument("--rounds", type=int, default=1, help="how often to load the credentials")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between rounds")
    parser.add_argument("-v", "--verbose", action="store_true", help="log renewals and logins")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")

    manager: VaultSecretManager | None = None
    try:
        manager = connect(args.namespace, args.mount)
        print(
            f"logged in with {manager.auth.name} at {manager.vault_addr} "
            f"(namespace {manager.namespace or '<root>'}, mount {manager.mount_point})"
        )
        missing = False
        for round_no in range(1, max(args.rounds, 1) + 1):
            if round_no > 1:
                time.sleep(args.interval)
            creds = manager.get_model_credentials()
            print(f"round {round_no}: credentials from {manager.mount_point}/api-keys")
            for name, value in creds.items():
                print(f"  {name}: {mask(value)}")
            for line in ProviderClients.from_credentials(creds).describe():
                print(f"  {line}")
            missing = any(not value for value in creds.values())
        if args.worker_token:
            child = manager.get_short_lived_token(ttl="15m")
            # Handed to the worker (e.g. VAULT_TOKEN in its environment) and forgotten here; the
            # worker can read secrets but not change them or mint tokens.
            print(f"worker token (openai-llm-readonly, 15m): {mask(child)}")
            del child
    except VaultSecretsError as exc:
        # The error names operation, path and namespace; it never contains a secret or token.
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    finally:
        if manager is not None:
            manager.close()  # an AppRole login token is revoked here; a VAULT_TOKEN is the caller's and kept
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())

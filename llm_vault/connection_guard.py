"""Where the apply goes: a stack file must not redirect it or weaken TLS.

The token comes from the job's environment; so does the server address. A stack file may name
the address too (the local job and the tests do), but then it must be the same server as the
job's ``VAULT_ADDR``: a pull request that points ``vault:address`` at another host would
otherwise preview as "no changes" and send the apply token there. The provider layer reads the
address from the environment first for the same reason (``_client._setting``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from infra.config import Settings

_URL = re.compile(r"^https?://[^\s/?#]+/?$")


class ConnectionConfigError(SystemExit):
    """A ``vault:*`` stack key that would redirect the apply or weaken TLS (one line, key first)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"config error: {key}: {reason}")


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def check_connection_config(config: Mapping[str, Any], env: Mapping[str, str], settings: Settings) -> None:
    if config.get("vault:token") not in (None, ""):
        raise ConnectionConfigError("vault:token", "never goes in a stack file; the job's VAULT_TOKEN is used")
    address = config.get("vault:address")
    if address not in (None, ""):
        if not isinstance(address, str) or not _URL.match(address):
            raise ConnectionConfigError("vault:address", f"must be an http(s) URL of one server, got {address!r}")
        job = env.get("VAULT_ADDR", "")
        if job and job.rstrip("/") != address.rstrip("/"):
            raise ConnectionConfigError(
                "vault:address",
                f"the stack file names {address!r} but this job's VAULT_ADDR is {job!r}; the server comes from "
                "the job's environment: remove the key or make it the same server",
            )
    if settings.protect:
        if _truthy(config.get("vault:skipTlsVerify", False)):
            raise ConnectionConfigError(
                "vault:skipTlsVerify", "TLS verification cannot be turned off on a protected stack"
            )
        for key in ("vault:caCertFile", "vault:caCertDir"):
            if config.get(key) not in (None, ""):
                raise ConnectionConfigError(
                    key, "a protected stack trusts the CA of the job's environment (VAULT_CACERT), not one named here"
                )

"""Connection settings from parameters and the environment.

Each setting is looked up as ``VAULT_<NAME>`` first, then ``BAO_<NAME>`` (OpenBao's CLI names):
when both are set, ``VAULT_*`` wins. That order keeps existing Vault deployments unchanged when
someone also exports the OpenBao variables. An empty variable counts as unset. A parameter given
to the client always beats the environment.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

log = logging.getLogger("vault_secrets")

PREFIXES = ("VAULT_", "BAO_")
# Vault's own default listener; the server must still be reachable there.
DEFAULT_ADDR = "http://127.0.0.1:8200"


def env_setting(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """``VAULT_<name>``, else ``BAO_<name>``, else None (empty values count as unset)."""
    env = os.environ if environ is None else environ
    found = [(f"{p}{name}", env.get(f"{p}{name}", "").strip()) for p in PREFIXES]
    present = [(key, value) for key, value in found if value]
    if len(present) == 2 and present[0][1] != present[1][1]:
        # Names only: a value may be a token.
        log.warning("both %s and %s are set and differ; using %s", present[0][0], present[1][0], present[0][0])
    return present[0][1] if present else None


def resolve_addr(explicit: str | None, environ: Mapping[str, str] | None = None) -> str:
    return (explicit or env_setting("ADDR", environ) or DEFAULT_ADDR).rstrip("/")


def resolve_namespace(explicit: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The namespace path without surrounding slashes; None (or "" / "/") means the root namespace."""
    value = explicit if explicit is not None else env_setting("NAMESPACE", environ)
    value = (value or "").strip("/")
    return value or None


def resolve_token(explicit: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    return explicit or env_setting("TOKEN", environ)


def resolve_verify(explicit: bool | str | None, environ: Mapping[str, str] | None = None) -> bool | str | None:
    """TLS verification: the parameter, else a CA bundle from ``VAULT_CACERT``/``BAO_CACERT``.

    None leaves it to hvac, which then honours ``VAULT_CAPATH`` and otherwise verifies against the
    system CAs.
    """
    if explicit is not None:
        return explicit
    return env_setting("CACERT", environ)

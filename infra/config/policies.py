"""Policies: ``policies/*.hcl`` rendered and checked as HCL (``render_policy_file`` is THE one
renderer: the program, the access matrix and the tests use it), and the apply policy's
exact-name grants generated from the declared objects (``declared_grants``)."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from infra import policy_reach
from infra.config.schema import NAME, ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
POLICY_DIR = REPO_ROOT / "policies"
CAPABILITIES = {"create", "read", "update", "patch", "delete", "list", "sudo", "deny", "subscribe"}


@dataclass(frozen=True)
class Policy:
    name: str  # the policy's name in Vault: the file stem (pipeline policies: stem-environment)
    text: str  # rendered HCL
    stem: str = ""  # the file stem, where it differs from the name


def load_policies(policy_dir: Path, placeholders: str | dict[str, str], *, key: str = "policies") -> tuple[Policy, ...]:
    """Every ``*.hcl`` file is one ACL policy named by its stem; each must parse as HCL.

    ``placeholders`` is the kv mount path (the token role keeps its default name), or a mapping
    of every placeholder to fill.
    """
    from infra.config.short_lived_tokens import READONLY_TOKEN_ROLE

    if isinstance(placeholders, str):
        values = {"kv_mount": placeholders, "token_role": READONLY_TOKEN_ROLE}
    else:
        values = dict(placeholders)
    if not policy_dir.is_dir():
        raise ConfigError(key, f"policy folder {policy_dir} is missing")
    policies = [render_policy_file(path, values, key=key) for path in sorted(policy_dir.glob("*.hcl"))]
    if not policies:
        raise ConfigError(key, f"no *.hcl policy files in {policy_dir}")
    return tuple(policies)


def render_policy_file(path: Path, values: Mapping[str, str], *, key: str = "policies") -> Policy:
    """The one policy renderer (the program, the access matrix and the tests all use it): the
    file's placeholders filled from ``values``, checked as HCL; named by the file stem."""
    file_key = f"{key}[{path.name}]"
    if not NAME.match(path.stem):
        raise ConfigError(file_key, f"policy file name {path.stem!r} is not a valid policy name")
    try:
        text = string.Template(path.read_text()).substitute(values)
    except KeyError as missing:
        unknown = f"${{{missing.args[0]}}}"
        raise ConfigError(file_key, f"unknown placeholder {unknown}; known: {sorted(values)}") from None
    except ValueError as bad:
        raise ConfigError(file_key, f"malformed placeholder ({bad}); write a literal $ as $$") from None
    _check_policy_hcl(text, file_key)
    return Policy(name=path.stem, text=text)


def _check_policy_hcl(text: str, key: str) -> None:
    try:
        doc = policy_reach.document(text)
    except Exception as exc:  # python-hcl2 raises lark errors of several kinds
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(key, f"is not valid HCL: {first}") from None
    unknown = {k for k in doc if not k.startswith("__")} - {"path"}  # "__comments__" etc. are the parser's
    if unknown:
        raise ConfigError(key, f"only 'path' blocks belong in an ACL policy, found {sorted(unknown)}")
    for block in doc.get("path", []):
        for raw_path, body in block.items():
            caps = [c.strip('"') for c in body.get("capabilities", [])]
            bad = sorted(set(caps) - CAPABILITIES)
            if bad:
                raise ConfigError(key, f"path {raw_path.strip(chr(34))!r} has unknown capabilities {bad}")


def normalised_name(name: str) -> str:
    """A policy or role name the way the server stores it (trimmed, lower case): grants and
    denies are written for this form, so ``DEFAULT`` or ``default `` cannot slip past one."""
    return name.strip().lower()


def _grants(
    prefix: str, names: set[str], capabilities: str = '"create", "read", "update", "delete"', extra: str = ""
) -> str:
    return "\n".join(
        f'path "{prefix}{normalised_name(n)}" {{\n  capabilities = [{capabilities}]\n{extra}}}' for n in sorted(names)
    )


# An AppRole role the apply token rewrites must keep needing a secret-id, and its role-id stays the
# server's: with `bind_secret_id=false` and a role_id of its choosing, the apply token could log in
# as the model runner (it may not mint secret-ids, and that is the point). Vault compares values
# exactly: only JSON `true` passes, and any role_id is refused.
_APPROLE_PARAMETERS = """  allowed_parameters = {
    "bind_secret_id" = [true]
    "*" = []
  }
  denied_parameters = {
    "role_id" = []
  }
"""


# Placeholders naming the declared objects (comma-separated), from which the apply policy's
# exact-name grants are generated (``declared_grants``).
DECLARED_NAME_KEYS = ("jwt_roles", "approle_roles", "token_roles", "acl_policies")


def declared_grants(values: Mapping[str, str]) -> dict[str, str]:
    """Path blocks of the apply policy for exactly the objects ``values`` names (``ns``,
    ``jwt_path``, ``approle_path`` and the ``DECLARED_NAME_KEYS`` lists)."""

    def names(key: str) -> set[str]:
        return {n for n in values.get(key, "").split(",") if n.strip()}

    ns = values["ns"]
    return {
        "jwt_role_grants": _grants(f"{ns}auth/{values['jwt_path']}/role/", names("jwt_roles")),
        "approle_role_grants": _grants(
            f"{ns}auth/{values['approle_path']}/role/", names("approle_roles"), extra=_APPROLE_PARAMETERS
        ),
        "token_role_grants": _grants(f"{ns}auth/token/roles/", names("token_roles")),
        "policy_grants": _grants(f"{ns}sys/policies/acl/", names("acl_policies") - {"default", "root"}),
    }


def namespace_prefix(namespace: str | None) -> str:
    """How a root-namespace policy addresses the environment's paths: ``"dev/"``, or ``""`` without one."""
    return f"{namespace}/" if namespace else ""

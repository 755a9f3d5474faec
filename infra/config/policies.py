"""Policies: ``policies/*.hcl`` rendered and checked as HCL (``render_policy_file`` is THE one
renderer: the program, the access matrix and the tests use it), and the apply policy's
exact-name grants generated from the declared objects (``declared_grants``)."""

from __future__ import annotations

import copy
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def render_policy_file(path: Path, values: Mapping[str, Any], *, key: str = "policies") -> Policy:
    """The one policy renderer (the program, the access matrix and the tests all use it): the
    file's placeholders filled from ``values``, checked as HCL; named by the file stem."""
    file_key = f"{key}[{path.name}]"
    if not NAME.match(path.stem):
        raise ConfigError(file_key, f"policy file name {path.stem!r} is not a valid policy name")
    template = path.read_text()
    try:
        text = string.Template(template).substitute(values)
    except KeyError as missing:
        unknown = f"${{{missing.args[0]}}}"
        raise ConfigError(file_key, f"unknown placeholder {unknown}; known: {sorted(values)}") from None
    except ValueError as bad:
        raise ConfigError(file_key, f"malformed placeholder ({bad}); write a literal $ as $$") from None
    known = _known_document(template, values)
    if known is not None:
        policy_reach.remember(text, known)  # the check below and the reach analysis read it
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


# A name that needs no quoting or escaping in a policy path: a block for it parses like the
# block for any other such name, with the name in place (what ``Grants.entries`` relies on).
_PLAIN_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_PROBE = "grant-name-probe"


@dataclass(frozen=True)
class Grants:
    """Exact-name path blocks, one per declared name, alike but for the name: what fills a
    ``*_grants`` placeholder of the apply policy. ``str()`` is their HCL, which is what
    ``string.Template`` writes into the file."""

    prefix: str
    names: tuple[str, ...]
    capabilities: str = '"create", "read", "update", "delete"'
    extra: str = ""

    def block(self, name: str) -> str:
        return f'path "{self.prefix}{name}" {{\n  capabilities = [{self.capabilities}]\n{self.extra}}}'

    def __str__(self) -> str:
        return "\n".join(self.block(n) for n in self.names)

    def entries(self) -> list[dict[str, Any]] | None:
        """The blocks as python-hcl2 parses them (``document["path"]`` items), from one parsed
        block copied per name; None when a name is not plain (then only a parse of the text says).
        A policy with a block per role took ~1 ms per block to parse: at 500 bindings ~0.5 s of
        every command, at 2,000 ~2 s (issue 17)."""
        if not all(_PLAIN_NAME.fullmatch(n) for n in self.names):
            return None
        ((key, body),) = policy_reach.document(self.block(_PROBE))["path"][0].items()
        head, tail = key.split(_PROBE)
        return [{f"{head}{name}{tail}": copy.deepcopy(body)} for name in self.names]


def _grants(
    prefix: str, names: set[str], capabilities: str = '"create", "read", "update", "delete"', extra: str = ""
) -> Grants:
    return Grants(prefix, tuple(sorted({normalised_name(n) for n in names})), capabilities, extra)


def _known_document(template: str, values: Mapping[str, Any]) -> dict[str, Any] | None:
    """The parsed document of ``template`` filled from ``values`` without parsing the generated
    grants in it: the file is parsed with a marker block in place of each ``Grants`` placeholder,
    and each marker is swapped for that placeholder's blocks. None (parse the whole text) unless
    each marker is one top-level path block, once (a placeholder in a comment or a string is not
    a list of blocks), and every name is plain."""
    used = set(string.Template(template).get_identifiers())
    generated = {k: v for k, v in values.items() if isinstance(v, Grants) and k in used}
    if not generated:
        return None
    markers = {f'"{_PROBE}-{k}"': k for k in generated}
    marked = {**values, **{k: f"path {m} {{\n  capabilities = [\"deny\"]\n}}" for m, k in markers.items()}}
    try:
        doc = dict(policy_reach.document(string.Template(template).substitute(marked)))
    except Exception:  # python-hcl2's errors are lark's, of several kinds: the whole text's parse reports it
        return None
    blocks: list[dict[str, Any]] = []
    seen: list[str] = []
    for entry in doc.get("path", []):
        marker = next(iter(entry)) if len(entry) == 1 else None
        if marker in markers:
            swapped = generated[markers[marker]].entries()
            if swapped is None:
                return None
            blocks += swapped
            seen.append(marker)
        else:
            blocks.append(entry)
    if sorted(seen) != sorted(markers):
        return None
    doc["path"] = blocks
    return doc


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


def declared_grants(values: Mapping[str, Any]) -> dict[str, Grants]:
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

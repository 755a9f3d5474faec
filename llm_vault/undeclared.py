"""Objects inside the places a stack manages that the stack does not declare.

A refresh reads only what the program declares; a role added by hand to our JWT backend, a
policy or a mount added to our namespace, would stay invisible. This lists them, so that
``llm-vault drift`` and ``preview`` report each as "not declared" (exit code 2) with the
command that removes it or the key that adopts it. Nothing here deletes anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import hvac
import hvac.exceptions

from infra.config import Settings
from vault_secrets.http import guarded_session

# Present in every namespace, owned by the server.
BUILTIN_MOUNTS = {"sys", "cubbyhole", "identity"}
BUILTIN_AUTH = {"token"}
BUILTIN_POLICIES = {"default", "root", "response-wrapping", "control-group"}


@dataclass(frozen=True)
class Undeclared:
    kind: str  # "jwt role", "policy", ...
    namespace: str | None
    path: str  # the API path, e.g. "auth/jwt/role/ci-backdoor"
    adopt: str  # what to do instead of deleting

    @property
    def remove(self) -> str:
        ns = f"-namespace={self.namespace} " if self.namespace else ""
        if self.kind in ("secrets mount", "auth method"):
            verb = "secrets disable" if self.kind == "secrets mount" else "auth disable"
            return f"bao {verb} {ns}{self.path.split('/', 2)[-1]}"
        return f"bao delete {ns}{self.path}"

    def line(self) -> str:
        where = self.namespace or "(root)"
        return f"not declared: {self.kind} `{self.path}` in {where}; remove: `{self.remove}`, or {self.adopt}"


def _list(client: hvac.Client, path: str) -> list[str]:
    try:
        response = client.adapter.list(f"/v1/{path}")
    except hvac.exceptions.InvalidPath:
        return []
    keys = (response or {}).get("data", {}).get("keys", []) if isinstance(response, dict) else []
    return [str(k).rstrip("/") for k in keys]


def _table(client: hvac.Client, path: str) -> dict[str, object]:
    response = client.adapter.get(f"/v1/{path}")
    data = response.get("data", response) if isinstance(response, dict) else {}
    return {k.rstrip("/"): v for k, v in data.items() if isinstance(v, dict)}


def find_undeclared(settings: Settings, env: Mapping[str, str]) -> list[Undeclared]:
    """Every undeclared object in the stack's auth backends, namespace and the pipeline's backend."""

    def client(namespace: str | None) -> hvac.Client:
        return hvac.Client(
            url=env["VAULT_ADDR"], token=env["VAULT_TOKEN"], namespace=namespace, session=guarded_session()
        )

    ns = settings.namespace
    inner = client(ns)
    found: list[Undeclared] = []

    def check(kind: str, namespace: str | None, base: str, names: list[str], declared: set[str], adopt: str) -> None:
        found.extend(Undeclared(kind, namespace, f"{base}/{n}", adopt) for n in sorted(names) if n not in declared)

    gh = settings.github
    check(
        "jwt role",
        ns,
        f"auth/{gh.path}/role",
        _list(inner, f"auth/{gh.path}/role"),
        {b.role for b in gh.bindings},
        "declare it under llm-vault:github.bindings",
    )
    runner = settings.model_runner
    check(
        "approle role",
        ns,
        f"auth/{runner.path}/role",
        _list(inner, f"auth/{runner.path}/role"),
        {runner.role},
        "declare it under llm-vault:modelRunner",
    )
    if ns is None:
        # No namespace of its own (Vault OSS layout): the root namespace is shared with whatever
        # else the server holds, so only the stack's own auth backends are places it manages.
        return found + _pipeline_and_audit(settings, client(None))
    check(
        "token role",
        ns,
        "auth/token/roles",
        _list(inner, "auth/token/roles"),
        {settings.short_lived_tokens.role},
        "declare it under llm-vault:shortLivedTokens",
    )
    check(
        "policy",
        ns,
        "sys/policies/acl",
        _list(inner, "sys/policies/acl"),
        {p.name for p in settings.policies} | BUILTIN_POLICIES,
        "add it to policies/ (and adopt it)",
    )
    check(
        "secrets mount",
        ns,
        "sys/mounts",
        list(_table(inner, "sys/mounts")),
        {settings.kv.path} | BUILTIN_MOUNTS,
        "declare it and list it under llm-vault:adopt",
    )
    check(
        "auth method",
        ns,
        "sys/auth",
        list(_table(inner, "sys/auth")),
        {gh.path, runner.path} | BUILTIN_AUTH,
        "declare it and list it under llm-vault:adopt",
    )
    return found + _pipeline_and_audit(settings, client(None))


def _pipeline_and_audit(settings: Settings, root: hvac.Client) -> list[Undeclared]:
    found: list[Undeclared] = []
    if settings.pipeline is not None:
        p = settings.pipeline
        found += [
            Undeclared(
                "pipeline jwt role", None, f"auth/{p.path}/role/{n}", "declare it under llm-vault:pipeline.bindings"
            )
            for n in sorted(_list(root, f"auth/{p.path}/role"))
            if n not in {b.role for b in p.bindings}
        ]
    # Audit devices are shared by every stack on a server; only a device that leaks is ours to flag.
    for path, device in _table(root, "sys/audit").items():
        options = device.get("options") or {} if isinstance(device, dict) else {}
        kind = device.get("type") if isinstance(device, dict) else None
        if kind != "file" or str(options.get("log_raw", "false")).lower() == "true":
            found.append(
                Undeclared(
                    "audit device (not a file device, or log_raw)",
                    None,
                    f"sys/audit/{path}",
                    "declare the server's audit device in its config file (mode: declared)",
                )
            )
    return found


def render_undeclared(found: list[Undeclared]) -> str:
    """The report's section for them (empty when there are none); never deletes, only says how."""
    if not found:
        return ""
    lines = ["", f"### {len(found)} not declared (the stack does not manage them; `up` leaves them alone)", ""]
    lines += [f"- {u.line()}" for u in found]
    return "\n".join(lines) + "\n"

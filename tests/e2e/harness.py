"""The program applied to a real OpenBao with the real engine: stacks, teardown, leftovers.

``Deployment`` is one server, one OIDC issuer and one temporary state folder, holding any of
the three stacks. Every apply goes through ``llm_vault.automation`` (refresh first), with the
per-run overrides of ``llm_vault.local_job.overrides_for``: the JWT backends trust the local
issuer (never GitHub's discovery URL) and the audit file lands in the server's work folder,
which the container sees at the same path.

``SENSITIVE`` collects every token, secret value, secret ID and JWT the tests handle, so that
the audit log and the state file can be searched for them. Nothing in it is ever printed:
assertions report how many values leaked and of which kind, never the values.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
from pulumi import automation as auto

from infra.config import Settings
from llm_vault import automation, toolchain
from llm_vault.cli import preflight
from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.server import Server
from llm_vault.local_job import overrides_for
from llm_vault.preview_report import Preview, collect_preview
from llm_vault.stackfiles import STACKS

# kind -> values. A module global because the audit and state checks must see what every test
# handled in this session; only ever read by `leaks_in`.
SENSITIVE: dict[str, set[str]] = {}


def remember(kind: str, value: str) -> str:
    """Note ``value`` (a token, secret value, secret ID, JWT) as never to be seen in plaintext."""
    if value:
        SENSITIVE.setdefault(kind, set()).add(value)
    return value


def leaks_in(text: str) -> dict[str, int]:
    """How many remembered values of each kind occur in ``text`` (counts only, no values)."""
    found: dict[str, int] = {}
    for kind, values in SENSITIVE.items():
        hits = sum(1 for v in values if v in text)
        if hits:
            found[kind] = hits
    return found


def same_secret(a: Any, b: Any) -> bool:
    """Equality for secret values; used as ``ok = same_secret(..); assert ok`` so that pytest's
    assertion rewriting never shows either value."""
    return bool(a == b)


def checked_in_stack_files() -> dict[str, str]:
    """sha256 of every checked-in stack file: the engine must never write to them."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(toolchain.REPO_ROOT.glob("Pulumi.*.yaml"))
    }


def git_status_of_stack_files() -> str:
    # --no-optional-locks: a status check must not even refresh the index.
    result = subprocess.run(
        ["git", "--no-optional-locks", "status", "--porcelain", "--", "Pulumi.yaml", "Pulumi.*.yaml"],
        cwd=toolchain.REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@dataclass
class EnvStack:
    """One applied stack: its target (for re-opening with other overrides) and declared settings."""

    name: str
    target: automation.StackTarget
    settings: Settings
    stack: auto.Stack
    outputs: dict[str, Any] = field(default_factory=dict)
    destroyed: bool = False

    def __repr__(self) -> str:  # not the target: its env holds the root token
        return f"EnvStack({self.name!r}, destroyed={self.destroyed})"

    @property
    def namespace(self) -> str | None:
        """The environment's namespace; None in the Vault OSS root layout (``llm-vault:rootLayout``)."""
        return self.settings.namespace

    def from_root(self, path: str) -> str:
        """``path`` of this environment as a request in the root namespace addresses it."""
        return f"{self.namespace}/{path}" if self.namespace else path

    def policy(self, stem: str) -> str:
        """The server's name of the policy from ``policies/<stem>.hcl`` (root layout: ``<tag>-<stem>``)."""
        return next(p.name for p in self.settings.policies if (p.stem or p.name) == stem)


@dataclass(frozen=True)
class Seeded:
    """Secrets written by root into every environment, with values distinct per environment."""

    values: dict[str, dict[str, dict[str, str]]]  # environment -> secret name -> data

    def of(self, environment: str, name: str) -> dict[str, str]:
        return self.values[environment][name]


SEEDED_SECRETS = {
    "api-keys": ("huggingface_token", "openai_key", "anthropic_key"),
    "models/gpt-4o": ("endpoint_key",),
    "teams/search": ("api_key",),
    "fixtures/eval-set": ("sample_key",),  # test data: the one subtree dev lets pull requests read
}


class Deployment:
    """Stacks of this project applied to one server, with state in ``state_dir``."""

    def __init__(
        self,
        server: Server,
        issuer: GitHubOidcIssuer,
        state_dir: Path,
        *,
        extra_overrides: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.server = server
        self.issuer = issuer
        self.state_dir = state_dir
        self.extra_overrides = extra_overrides or {}
        self.stacks: dict[str, EnvStack] = {}
        remember("root token", server.root_token)
        # The audit file lives under the server's work folder (bind-mounted at the same path).
        (server.workdir / "audit").mkdir(parents=True, exist_ok=True)

    # -- stacks ------------------------------------------------------------------------------

    def target(self, stack: str, overrides: dict[str, Any] | None = None) -> automation.StackTarget:
        merged = overrides_for(
            stack, server_address=self.server.address, issuer_url=self.issuer.url, workdir=self.server.workdir
        )
        for extra in (self.extra_overrides.get(stack, {}), overrides or {}):
            merged = automation.deep_merge(merged, extra)
        merged = _audiences_follow_the_environment(stack, merged)
        return automation.StackTarget(
            stack=stack,
            state_dir=self.state_dir,
            overrides=merged,
            env={"VAULT_ADDR": self.server.address, "VAULT_TOKEN": self.server.root_token},
        )

    def open(
        self,
        stack: str,
        overrides: dict[str, Any] | None = None,
        program: Callable[[], None] | None = None,
    ) -> tuple[automation.StackTarget, Settings, auto.Stack]:
        target = self.target(stack, overrides)
        settings = preflight(target)  # config errors and the declared-audit guard, before the engine
        return target, settings, automation.open_stack(target, program)

    def up(self, stack: str, overrides: dict[str, Any] | None = None) -> auto.UpResult:
        """Refresh, then apply; the stack's record is updated to what was applied."""
        target, settings, opened = self.open(stack, overrides)
        # Recorded before the engine runs: a failed first apply still leaves objects to destroy.
        previous = self.stacks.get(stack)
        record = EnvStack(stack, target, settings, opened, previous.outputs if previous else {})
        self.stacks[stack] = record
        result = automation.refresh_then_up(opened)
        record.outputs = {k: v.value for k, v in result.outputs.items()}
        return result

    def preview(self, stack: str, overrides: dict[str, Any] | None = None) -> Preview:
        target, _, opened = self.open(stack, overrides)
        return collect_preview(opened, stack_name=stack, env=target.env)

    def destroy(self, stack: str) -> None:
        """Unprotect on purpose (protect=false, up), then destroy: protected objects refuse otherwise."""
        record = self.stacks.get(stack)
        if record is None or record.destroyed:
            return
        if record.settings.protect:
            self.up(stack, {"llm-vault:protect": False})
        _, _, opened = self.open(stack, {"llm-vault:protect": False})
        opened.destroy(refresh=True)
        self.stacks[stack].destroyed = True

    def destroy_all(self) -> None:
        errors: list[str] = []
        for name in reversed(list(self.stacks)):
            try:
                self.destroy(name)
            except auto.errors.CommandError as exc:  # keep going: the other stacks still need it
                errors.append(f"{name}: {str(exc).strip().splitlines()[-1]}")
        if errors:
            raise AssertionError("destroy failed for " + "; ".join(errors))

    def state_files(self) -> list[Path]:
        """The file backend's checkpoints (one JSON document per stack)."""
        return sorted((self.state_dir / automation.BACKEND_DIR).rglob("*.json"))

    # -- the server ----------------------------------------------------------------------------

    def root(self, namespace: str | None = None) -> hvac.Client:
        return self.server.client(namespace=namespace)

    def leftovers(self, stacks: Iterable[str]) -> list[str]:
        """Objects of ours still on the server, for the given stacks (empty after a destroy)."""
        root = self.root()
        found: list[str] = []
        try:
            namespaces = root.sys.list_namespaces()["data"]["keys"]
        except hvac.exceptions.InvalidPath:  # none at all (or Vault OSS, which has no namespaces)
            namespaces = []
        audit = root.sys.list_enabled_audit_devices()["data"]
        auth = root.sys.list_auth_methods()["data"]
        policies = root.sys.list_acl_policies()["data"]["keys"]
        for stack in stacks:
            record = self.stacks[stack]
            s = record.settings
            if s.namespace is not None and f"{s.namespace}/" in namespaces:
                found.append(f"namespace {s.namespace}")
            if s.namespace is None:  # root layout: what a namespace would have held sits in the root
                mounts = root.sys.list_mounted_secrets_engines()["data"]
                found += [f"mount {m}" for m in (s.kv.path,) if f"{m}/" in mounts]
                found += [f"auth method {m}" for m in (s.github.path, s.model_runner.path) if f"{m}/" in auth]
                found += [f"policy {p.name}" for p in s.policies if p.name in policies]
            if s.audit.mode == "api" and f"{s.audit.path}/" in audit:
                found.append(f"audit device {s.audit.path}")
            if s.pipeline is not None:
                if f"{s.pipeline.path}/" in auth:
                    found.append(f"auth method {s.pipeline.path}")
                found += [f"policy {p.name}" for p in s.pipeline.policies if p.name in policies]
        return found


def change_counts(result: auto.UpResult) -> dict[str, int]:
    """The up's resource changes by operation name ("same", "update", ...)."""
    return {getattr(op, "value", str(op)): n for op, n in (result.summary.resource_changes or {}).items()}


def state_resources(stack: auto.Stack) -> list[Any]:
    """The resources in the stack's checkpoint (the Stack resource and providers included)."""
    deployment = stack.export_stack().deployment or {}
    return list(deployment.get("resources") or [])


def audit_entries(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a file audit device (an absent file: no entries)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _audiences_follow_the_environment(stack: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """A stack applied under another environment name (to share the server) gets that
    environment's audiences too: the loader takes only an audience ending in '/<environment>'."""
    from llm_vault.stackfiles import stack_config

    renamed = overrides.get("llm-vault:environment")
    if not renamed or renamed == stack:
        return overrides
    config = stack_config(stack)
    out = dict(overrides)
    for section in ("llm-vault:github", "llm-vault:pipeline"):
        if section not in config:
            continue
        base = automation.deep_merge(config[section], overrides.get(section, {}))
        bindings = [
            {**b, "audience": b["audience"].removesuffix(f"/{stack}") + f"/{renamed}"}
            if str(b.get("audience", "")).endswith(f"/{stack}")
            else b
            for b in base.get("bindings", [])
        ]
        out[section] = {**overrides.get(section, {}), "bindings": bindings}
    return out


def provision(deployment: Deployment, stacks: Iterable[str] = STACKS) -> None:
    """Apply ``stacks`` in order; on failure, destroy what was applied and re-raise."""
    try:
        for stack in stacks:
            deployment.up(stack)
    except BaseException as exc:
        try:
            deployment.destroy_all()
        except Exception as cleanup:
            exc.add_note(f"destroying what was applied failed as well: {cleanup}")
        raise

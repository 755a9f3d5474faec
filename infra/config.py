"""Typed stack configuration, validated when it loads.

Every key of the ``llm-vault`` config namespace is parsed here, before any resource is
declared, into frozen dataclasses. A bad value raises ``ConfigError`` naming the key path
(``llm-vault:github.bindings[1].repository``) and the reason, so nothing reaches the server
and nothing is half-applied. Stack files hold values only; differences between
environments are data read here, never branches on the stack name.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hcl2

if TYPE_CHECKING:
    from infra.config_databases import DatabaseSettings

PROJECT = "llm-vault"
REPO_ROOT = Path(__file__).resolve().parent.parent
POLICY_DIR = REPO_ROOT / "policies"

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
FIFTEEN_MINUTES = 15 * 60
# A CI job that needs a token for longer than an hour should be split, not given a long-lived credential.
CI_TTL_CEILING = 60 * 60
# Model-runner secret IDs are rotated daily; the TTL leaves a day of grace but no more.
SECRET_ID_TTL_WINDOW = (24 * 3600, 48 * 3600)

BACKENDS = ("builtin", "pulumi_vault")
# The token role that mints read-only children; the operator policy names it as ${token_role}.
READONLY_TOKEN_ROLE = "openai-llm-readonly"
AUDIT_MODES = ("api", "declared")
RESERVED_NAMESPACES = {"root", "sys", "audit", "auth", "cubbyhole", "identity"}
CAPABILITIES = {"create", "read", "update", "patch", "delete", "list", "sudo", "deny", "subscribe"}

_NS_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_MOUNT_PATH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,127}$")
_ROOT_TAG = re.compile(r"^[a-z0-9][a-z0-9_]{0,31}$")
_GH_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_DIGITS = re.compile(r"^[0-9]+$")
_DURATION_PART = re.compile(r"(\d+)(d|h|m|s)")
# GitHub's `event_name` values a binding may list (docs: "Events that trigger workflows").
GITHUB_EVENTS = frozenset(
    {
        "push", "workflow_dispatch", "schedule", "pull_request", "pull_request_target", "workflow_run",
        "workflow_call", "issue_comment", "merge_group", "release", "deployment", "repository_dispatch",
    }
)  # fmt: skip
# Events that run the base branch's workflow with its trust on input someone else controls (a
# fork's pull request, another workflow's artifacts, a comment): never allowed by default.
RISKY_EVENTS = frozenset({"pull_request_target", "workflow_run", "issue_comment"})
DEFAULT_EVENTS = {
    "ref": ("push", "workflow_dispatch", "schedule"),
    "tag": ("push",),
    "environment": ("push", "workflow_dispatch"),
    "pull_request": ("pull_request",),
}
_GLOB_CHARS = "*?[]{}"
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


class ConfigError(ValueError):
    """A stack config value is wrong. ``key`` is the full key path, e.g. ``llm-vault:kv.maxVersions``."""

    def __init__(self, key: str, reason: str):
        self.key = key if key.startswith(f"{PROJECT}:") else f"{PROJECT}:{key}"
        self.reason = reason
        super().__init__(f"{self.key}: {reason}")


# --------------------------------------------------------------------------------------------------
# typed settings


@dataclass(frozen=True)
class SecretEntry:
    """A secret path in the kv catalogue: metadata only, its value never enters code or state."""

    name: str
    owner: str
    rotation_period: str
    keys: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class KvSettings:
    path: str
    description: str
    max_versions: int
    cas_required: bool
    delete_version_after: int
    secrets: tuple[SecretEntry, ...]
    # Subtrees under data/ that hold only test fixtures: the one thing a pull request may read.
    non_production: tuple[str, ...] = ()
    # Why a protected stack may lower max_versions this once (empty: the provider refuses it).
    max_versions_lowered_reason: str = ""


@dataclass(frozen=True)
class OidcBinding:
    """One GitHub Actions workflow identity trusted to log in with one Vault role."""

    role: str  # Vault role name, e.g. "github-actions"
    repository: str  # "owner/name"
    repository_id: str | None
    owner_id: str | None
    kind: str  # "ref" | "tag" | "environment" | "pull_request"
    value: str | None  # refs/heads/main, v1.2.3, prod, or None for pull_request
    policies: tuple[str, ...]
    audience: str  # explicit: GitHub's default audience is the owner URL, never assume it
    ttl_seconds: int = FIFTEEN_MINUTES  # 15 min: a CI job should not outlive its token
    runner_environment: str | None = "github-hosted"
    job_workflow_ref: str | None = None
    immutable_subject: bool = False
    identity_pin_opt_out: str | None = None
    description: str = ""
    # GitHub's `event_name`: which triggers may use the role (defaults by kind: DEFAULT_EVENTS).
    events: tuple[str, ...] = ()
    # The top-level workflow file (`workflow_ref`); defaults to job_workflow_ref when that is pinned.
    workflow_ref: str | None = None

    @property
    def subject(self) -> str:
        """The exact ``sub`` claim GitHub sends for this binding: built here and nowhere else."""
        owner, repo = self.repository.split("/", 1)
        if self.immutable_subject:
            prefix = f"repo:{owner}@{self.owner_id}/{repo}@{self.repository_id}"
        else:
            prefix = f"repo:{self.repository}"
        if self.kind == "ref":
            return f"{prefix}:ref:{self.value}"
        if self.kind == "tag":
            return f"{prefix}:ref:refs/tags/{self.value}"
        if self.kind == "environment":
            return f"{prefix}:environment:{self.value}"
        return f"{prefix}:pull_request"

    @property
    def bound_claims(self) -> dict[str, str | list[str]]:
        """Claims that pin identity (ids survive renames; names can be recycled) and context.

        The role matches them as globs (``bound_claims_type: glob``) so that one value can say
        "any workflow file of this repository"; every other value is checked at load to hold
        no ``*``, so it matches exactly.
        """
        claims: dict[str, str | list[str]] = {}
        if self.repository_id:
            claims["repository_id"] = self.repository_id
        if self.owner_id:
            claims["repository_owner_id"] = self.owner_id
        if self.runner_environment:
            claims["runner_environment"] = self.runner_environment
        if self.kind == "environment" and self.value:
            claims["environment"] = self.value
        # A job's code is its job_workflow_ref: pinned exactly where the stack names the workflow,
        # else any workflow file of the bound repository, never a reusable workflow from elsewhere.
        claims["job_workflow_ref"] = self.job_workflow_ref or f"{self.repository}/*"
        if self.workflow_ref or self.job_workflow_ref:
            claims["workflow_ref"] = self.workflow_ref or self.job_workflow_ref or ""
        claims["event_name"] = list(self.events or DEFAULT_EVENTS[self.kind])
        return claims


@dataclass(frozen=True)
class GitHubSettings:
    path: str
    oidc_discovery_url: str
    bound_issuer: str
    bindings: tuple[OidcBinding, ...]


@dataclass(frozen=True)
class PipelineSettings:
    """This project's own CI (preview on pull requests, apply on merge, drift on a schedule).

    It lives in the ROOT namespace: the stack manages objects there (the environment's
    namespace itself, the audit device) that no token from inside the namespace can read.
    Each stack gets its own mount path, and its pipeline policies are named
    ``<file stem>-<environment>``, so the three stacks can share one server.
    """

    path: str
    oidc_discovery_url: str
    bound_issuer: str
    bindings: tuple[OidcBinding, ...]
    policies: tuple[Policy, ...]


@dataclass(frozen=True)
class ShortLivedTokenSettings:
    role: str
    allowed_policies: tuple[str, ...]
    ttl_seconds: int
    renewable: bool


@dataclass(frozen=True)
class ModelRunnerSettings:
    path: str
    role: str
    policies: tuple[str, ...]
    secret_id_ttl_seconds: int
    secret_id_num_uses: int
    token_ttl_seconds: int
    token_max_ttl_seconds: int


@dataclass(frozen=True)
class AuditSettings:
    mode: str  # "api": we declare a file device; "declared": the server config declares it
    path: str  # device path (name) in the root namespace
    file_path: str
    hmac_accessor: bool


@dataclass(frozen=True)
class Policy:
    name: str  # the policy's name in Vault: the file stem (pipeline policies: stem-environment)
    text: str  # rendered HCL
    stem: str = ""  # the file stem, where it differs from the name


@dataclass(frozen=True)
class Settings:
    environment: str
    namespace: str | None
    provider_backend: str
    protect: bool
    kv: KvSettings
    github: GitHubSettings
    policies: tuple[Policy, ...]
    short_lived_tokens: ShortLivedTokenSettings
    model_runner: ModelRunnerSettings
    audit: AuditSettings
    pipeline: PipelineSettings | None = None
    adopt: tuple[str, ...] = field(default=())
    databases: DatabaseSettings | None = None  # infra/config_databases.py
    root_layout: RootLayout | None = None  # llm-vault:rootLayout (stacks sharing the root namespace)


# --------------------------------------------------------------------------------------------------
# primitive readers: each takes the key path it reads so that every error can name it


def _obj(raw: Any, key: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(key, f"must be a mapping, got {type(raw).__name__}")
    return dict(raw)


def _no_unknown(raw: Mapping[str, Any], allowed: set[str], key: str) -> None:
    for k in raw:
        if k not in allowed:
            hint = _closest(k, allowed)
            raise ConfigError(
                f"{key}.{k}" if key else k,
                "unknown key" + (f" (did you mean '{hint}'?)" if hint else f"; known keys: {sorted(allowed)}"),
            )


def _closest(word: str, options: set[str]) -> str | None:
    import difflib

    match = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6)
    return match[0] if match else None


def _str(raw: Mapping[str, Any], name: str, key: str, default: str | None = None, *, required: bool = False) -> str:
    if name not in raw or raw[name] is None:
        if required or default is None:
            raise ConfigError(f"{key}.{name}" if key else name, "is required")
        return default
    value = raw[name]
    if not isinstance(value, str):
        raise ConfigError(f"{key}.{name}" if key else name, f"must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ConfigError(f"{key}.{name}" if key else name, "must not be empty")
    return value


def _opt_str(raw: Mapping[str, Any], name: str, key: str) -> str | None:
    if raw.get(name) is None:
        return None
    return _str(raw, name, key)


def _bool(raw: Mapping[str, Any], name: str, key: str, default: bool) -> bool:
    value = raw.get(name, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{key}.{name}" if key else name, f"must be true or false, got {value!r}")
    return value


def _int(raw: Mapping[str, Any], name: str, key: str, default: int, *, minimum: int = 0) -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key}.{name}" if key else name, f"must be a whole number, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{key}.{name}" if key else name, f"must be at least {minimum}, got {value}")
    return value


def parse_duration(value: Any, key: str) -> int:
    """Seconds from ``"15m"``, ``"1h30m"``, ``"36h"``, ``"90d"`` or a whole number of seconds."""
    if isinstance(value, bool):
        raise ConfigError(key, f"must be a duration like '15m' or '1h', got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(key, f"must not be negative, got {value}")
        return value
    if isinstance(value, str):
        text = value.strip()
        if _DIGITS.match(text):
            return int(text)
        parts = _DURATION_PART.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            return sum(int(n) * _UNITS[u] for n, u in parts)
    raise ConfigError(key, f"must be a duration like '15m', '1h' or '36h', got {value!r}")


def _duration(raw: Mapping[str, Any], name: str, key: str, default: str) -> int:
    return parse_duration(raw.get(name, default), f"{key}.{name}" if key else name)


def _str_list(raw: Mapping[str, Any], name: str, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    value = raw.get(name, list(default))
    path = f"{key}.{name}" if key else name
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(path, "must be a list of non-empty strings")
    return tuple(value)


# --------------------------------------------------------------------------------------------------
# sections


def _namespace(raw: Any) -> str | None:
    if raw is None:
        # Absent is a mistake more often than a choice: everything would land in the root namespace.
        raise ConfigError("namespace", "is required; set it to '' to use no namespace (Vault OSS)")
    if raw == "":
        return None  # Vault OSS: environments are kept apart by mount paths instead
    if not isinstance(raw, str):
        raise ConfigError("namespace", f"must be a string or null, got {type(raw).__name__}")
    segments = raw.strip("/").split("/")
    for seg in segments:
        if not _NS_SEGMENT.match(seg):
            raise ConfigError("namespace", f"{raw!r} is malformed: segments are letters, digits, '-' and '_'")
        if seg.lower() in RESERVED_NAMESPACES:
            raise ConfigError("namespace", f"{seg!r} is reserved by Vault/OpenBao")
    return "/".join(segments)


def _mount_path(raw: Mapping[str, Any], name: str, key: str, default: str) -> str:
    value = _str(raw, name, key, default).strip("/")
    if not _MOUNT_PATH.match(value) or value.split("/")[0] in RESERVED_NAMESPACES:
        raise ConfigError(f"{key}.{name}", f"{value!r} is not a usable mount path")
    return value


def _kv(raw: Any) -> KvSettings:
    key = "kv"
    raw = _obj(raw if raw is not None else {}, key)
    allowed = {"path", "description", "maxVersions", "casRequired", "deleteVersionAfter", "secrets", "nonProduction",
               "maxVersionsLoweredReason"}
    _no_unknown(raw, allowed, key)
    non_production = _str_list(raw, "nonProduction", key)
    for j, subtree in enumerate(non_production):
        if not _MOUNT_PATH.match(subtree.rstrip("/")) or any(c in subtree for c in _GLOB_CHARS):
            raise ConfigError(f"{key}.nonProduction[{j}]", f"{subtree!r} must be a secret subtree like 'fixtures/'")
    secrets_raw = raw.get("secrets", [])
    if not isinstance(secrets_raw, list):
        raise ConfigError(f"{key}.secrets", "must be a list")
    secrets: list[SecretEntry] = []
    seen: set[str] = set()
    for i, item in enumerate(secrets_raw):
        k = f"{key}.secrets[{i}]"
        item = _obj(item, k)
        if "value" in item or "values" in item:
            raise ConfigError(f"{k}", "secret values never go in stack config: put them in with `bao kv put`")
        _no_unknown(item, {"name", "owner", "rotationPeriod", "keys", "description"}, k)
        name = _str(item, "name", k, required=True)
        if not _MOUNT_PATH.match(name):
            raise ConfigError(f"{k}.name", f"{name!r} is not a secret path")
        if name in seen:
            raise ConfigError(f"{k}.name", f"duplicate secret path {name!r}")
        seen.add(name)
        rotation = _str(item, "rotationPeriod", k, "90d")
        parse_duration(rotation, f"{k}.rotationPeriod")
        secrets.append(
            SecretEntry(
                name=name,
                owner=_str(item, "owner", k, required=True),
                rotation_period=rotation,
                keys=_str_list(item, "keys", k),
                description=_str(item, "description", k, "") if item.get("description") else "",
            )
        )
    return KvSettings(
        path=_mount_path(raw, "path", key, "openai-llm"),
        description=_str(raw, "description", key, "LLM platform secrets (kv-v2)"),
        max_versions=_int(raw, "maxVersions", key, 10, minimum=1),
        cas_required=_bool(raw, "casRequired", key, False),
        delete_version_after=_duration(raw, "deleteVersionAfter", key, "0s"),
        secrets=tuple(secrets),
        non_production=tuple(t.rstrip("/") + "/" for t in non_production),
        max_versions_lowered_reason=_str(raw, "maxVersionsLoweredReason", key, "").strip(),
    )


def _non_production(kv: KvSettings, protect: bool) -> tuple[str, ...]:
    if kv.non_production and protect:
        # A protected stack is production or production-like: nothing in it is a fixture.
        raise ConfigError("kv.nonProduction", "a protected stack holds no non-production secrets; remove this key")
    return kv.non_production


_BINDING_KEYS = {
    "role",
    "repository",
    "repositoryId",
    "ownerId",
    "ref",
    "tag",
    "environment",
    "pullRequest",
    "policies",
    "audience",
    "ttl",
    "runnerEnvironment",
    "jobWorkflowRef",
    "immutableSubject",
    "identityPinOptOut",
    "description",
    "events",
    "workflowRef",
    "runnerEnvironmentReason",
}


def _binding(raw: Any, i: int, policy_names: set[str], section: str = "github") -> OidcBinding:
    k = f"{section}.bindings[{i}]"
    raw = _obj(raw, k)
    if "subject" in raw:
        raise ConfigError(
            f"{k}.subject",
            "subjects are built from repository + ref | tag | environment | pullRequest; set those instead",
        )
    if "userClaim" in raw:
        raise ConfigError(
            f"{k}.userClaim",
            "is not configurable: roles name the caller by `actor_id` (`actor` is a username that can be "
            "renamed and then taken by someone else)",
        )
    _no_unknown(raw, _BINDING_KEYS, k)
    role = _str(raw, "role", k, required=True)
    if not _NAME.match(role):
        raise ConfigError(f"{k}.role", f"{role!r} must be lower-case letters, digits, '-' or '_'")

    repository = _str(raw, "repository", k, required=True)
    parts = repository.split("/")
    if len(parts) != 2 or not all(_GH_NAME.match(p) for p in parts):
        raise ConfigError(f"{k}.repository", f"must name exactly one repository as 'owner/name', got {repository!r}")

    selectors = [s for s in ("ref", "tag", "environment", "pullRequest") if raw.get(s) not in (None, False)]
    if len(selectors) != 1:
        raise ConfigError(k, "set exactly one of ref, tag, environment, pullRequest (the subject's context)")
    kind = selectors[0]
    value: str | None
    if kind == "pullRequest":
        if raw["pullRequest"] is not True:
            raise ConfigError(f"{k}.pullRequest", "must be true")
        kind, value = "pull_request", None
    else:
        value = _str(raw, kind, k)
        if any(c in value for c in "*?[]{}") or value.endswith("/"):
            raise ConfigError(f"{k}.{kind}", f"{value!r} is a pattern: exact bindings take one exact value")
        if kind == "ref" and not value.startswith("refs/"):
            raise ConfigError(f"{k}.ref", f"must be a full ref like 'refs/heads/main', got {value!r}")

    policies = _str_list(raw, "policies", k)
    if not policies:
        raise ConfigError(f"{k}.policies", "must name at least one policy")
    for j, p in enumerate(policies):
        if p not in policy_names:
            raise ConfigError(f"{k}.policies[{j}]", f"unknown policy {p!r}; policies/ defines {sorted(policy_names)}")

    if "audience" not in raw:
        raise ConfigError(f"{k}.audience", "is required: bind an explicit audience (GitHub's default is the owner URL)")
    audience = _str(raw, "audience", k)

    ttl = _duration(raw, "ttl", k, "15m")
    if ttl <= 0 or ttl > CI_TTL_CEILING:
        raise ConfigError(f"{k}.ttl", f"must be between 1s and 1h for CI tokens, got {ttl}s")

    repository_id = _opt_str(raw, "repositoryId", k)
    owner_id = _opt_str(raw, "ownerId", k)
    for name, v in (("repositoryId", repository_id), ("ownerId", owner_id)):
        if v is not None and not _DIGITS.match(v):
            raise ConfigError(f"{k}.{name}", f"must be GitHub's numeric id as a string, got {v!r}")
    immutable = _bool(raw, "immutableSubject", k, False)
    opt_out = _opt_str(raw, "identityPinOptOut", k)
    if immutable and not (repository_id and owner_id):
        raise ConfigError(k, "immutableSubject needs repositoryId and ownerId (they are part of the subject)")
    if not (repository_id and owner_id) and not opt_out:
        missing = "repositoryId" if not repository_id else "ownerId"
        raise ConfigError(
            f"{k}.{missing}",
            "is required: a deleted and re-created repository or organisation with the same name must not "
            "inherit access (or set identityPinOptOut with a written reason)",
        )
    if opt_out is not None and len(opt_out.strip()) < 10:
        raise ConfigError(f"{k}.identityPinOptOut", "must be a written reason (a sentence), not a flag")

    runner_env = raw.get("runnerEnvironment", "github-hosted")
    if runner_env not in ("github-hosted", "self-hosted", "any"):
        raise ConfigError(f"{k}.runnerEnvironment", "must be 'github-hosted', 'self-hosted' or 'any'")
    runner_reason = _opt_str(raw, "runnerEnvironmentReason", k)
    if runner_env == "any" and (runner_reason is None or len(runner_reason.strip()) < 10):
        raise ConfigError(
            f"{k}.runnerEnvironment",
            "'any' accepts jobs on runners nobody here controls: state why in runnerEnvironmentReason (a sentence)",
        )

    events = _str_list(raw, "events", k, DEFAULT_EVENTS[kind])
    for j, event in enumerate(events):
        if event not in GITHUB_EVENTS:
            hint = _closest(event, set(GITHUB_EVENTS))
            raise ConfigError(
                f"{k}.events[{j}]",
                f"unknown GitHub event {event!r}" + (f" (did you mean {hint!r}?)" if hint else ""),
            )
    if kind == "pull_request" and set(events) != {"pull_request"}:
        raise ConfigError(f"{k}.events", "a pullRequest binding takes only the 'pull_request' event")

    workflow_refs: dict[str, str | None] = {}
    for name in ("jobWorkflowRef", "workflowRef"):
        ref_value = _opt_str(raw, name, k)
        if ref_value is not None:
            if any(c in ref_value for c in _GLOB_CHARS):
                raise ConfigError(f"{k}.{name}", f"{ref_value!r} is a pattern: pin one exact workflow file")
            if not re.match(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/\.github/workflows/[^@/]+\.ya?ml@refs/\S+$", ref_value):
                raise ConfigError(
                    f"{k}.{name}",
                    f"must look like 'owner/repo/.github/workflows/deploy.yml@refs/heads/main', got {ref_value!r}",
                )
        workflow_refs[name] = ref_value
    workflow_ref = workflow_refs["workflowRef"]
    if workflow_ref is not None and not workflow_ref.startswith(f"{repository}/"):
        raise ConfigError(f"{k}.workflowRef", f"must be a workflow of {repository} (the repository that runs the job)")

    return OidcBinding(
        role=role,
        repository=repository,
        repository_id=repository_id,
        owner_id=owner_id,
        kind=kind,
        value=value,
        policies=policies,
        audience=audience,
        ttl_seconds=ttl,
        runner_environment=None if runner_env == "any" else runner_env,
        job_workflow_ref=workflow_refs["jobWorkflowRef"],
        immutable_subject=immutable,
        identity_pin_opt_out=opt_out,
        description=_str(raw, "description", k, "") if raw.get("description") else "",
        events=events,
        workflow_ref=workflow_ref,
    )


def _url(raw: Mapping[str, Any], name: str, key: str, default: str) -> str:
    value = _str(raw, name, key, default)
    if not re.match(r"^https?://[^\s/]+", value):
        raise ConfigError(f"{key}.{name}", f"must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


@dataclass(frozen=True)
class TrustRules:
    """What the loader needs to judge a binding's reach: who can obtain it against what its
    policies grant. Built once per section (the application trust, the pipeline trust)."""

    environment: str
    protect: bool
    policies: Mapping[str, str]  # policy name -> rendered text
    secret_targets: tuple[str, ...]  # where secret values are read, as the policies address them
    non_production: tuple[str, ...]  # subtrees under data/ that a pull request may read


def _check_reach(b: OidcBinding, k: str, rules: TrustRules) -> None:
    """Refuse a binding whose policies are wider than whoever can obtain its token."""
    from infra import policy_reach

    owner = b.repository.split("/", 1)[0]
    shared = {f"https://github.com/{owner}", f"https://github.com/{owner}/"}
    if b.audience in shared or not b.audience.rstrip("/").endswith(f"/{rules.environment}"):
        raise ConfigError(
            f"{k}.audience",
            f"must be this environment's own audience, ending in '/{rules.environment}' (e.g. "
            f"'https://vault.{owner}.example/{rules.environment}'), so that a token minted for another "
            f"environment is refused here; GitHub's default (the owner URL) is shared by every environment",
        )
    writes: list[str] = []
    reads: list[str] = []
    for j, name in enumerate(b.policies):
        text = rules.policies[name]
        w = policy_reach.writes(text)
        r = policy_reach.secret_reads_outside(text, rules.secret_targets, ())
        writes += w
        reads += r
        if b.kind == "pull_request":
            if w:
                raise ConfigError(
                    f"{k}.policies[{j}]",
                    f"policy {name!r} grants {w[0]}: a pull request's workflow is written by its author, "
                    "so a pull-request binding carries no write capability",
                )
            outside = policy_reach.secret_reads_outside(text, rules.secret_targets, rules.non_production)
            if outside:
                marked = (
                    f"outside the stack's non-production subtrees {list(rules.non_production)}"
                    if rules.non_production
                    else "and this stack marks no non-production subtree (llm-vault:kv.nonProduction)"
                )
                raise ConfigError(
                    f"{k}.policies[{j}]",
                    f"policy {name!r} reads secret values at {outside[0]} {marked}: a pull request may "
                    "read only non-production secrets",
                )
    if not (writes or reads):
        return
    risky = sorted(set(b.events) & RISKY_EVENTS)
    if risky:
        raise ConfigError(
            f"{k}.events",
            f"{risky} run trusted workflows on input someone else controls; a binding whose policies "
            f"{'write' if writes else 'read secrets'} may not accept them",
        )
    if writes or rules.protect:
        why = "its policies write" if writes else "this stack is protected and its policies read secrets"
        if b.kind != "environment":
            raise ConfigError(k, f"{why}: bind a GitHub environment (environment: ...), whose protection rules gate it")
        if b.job_workflow_ref is None:
            raise ConfigError(f"{k}.jobWorkflowRef", f"is required: {why}, so pin the one workflow file allowed to")


def _bindings(raw: Mapping[str, Any], key: str, rules: TrustRules) -> tuple[OidcBinding, ...]:
    bindings_raw = raw.get("bindings", [])
    if not isinstance(bindings_raw, list) or not bindings_raw:
        raise ConfigError(f"{key}.bindings", "must be a non-empty list of bindings")
    bindings = tuple(_binding(b, i, set(rules.policies), key) for i, b in enumerate(bindings_raw))
    seen: dict[str, int] = {}
    for i, b in enumerate(bindings):
        if b.role in seen:
            raise ConfigError(f"{key}.bindings[{i}].role", f"duplicate role {b.role!r} (also bindings[{seen[b.role]}])")
        seen[b.role] = i
        _check_reach(b, f"{key}.bindings[{i}]", rules)
    return bindings


def _discovery_url(raw: Mapping[str, Any], key: str) -> str:
    """GitHub's issuer (or an enterprise's ``/<slug>`` issuer on the same host), or a local
    issuer on loopback; any other host only with a written reason (GitHub Enterprise Server)."""
    from urllib.parse import urlsplit

    value = _url(raw, "oidcDiscoveryUrl", key, GITHUB_ISSUER)
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    loopback = host in ("127.0.0.1", "localhost", "::1")
    name = f"{key}.oidcDiscoveryUrl"
    if parts.scheme != "https" and not loopback:
        raise ConfigError(name, f"must use https (plain http only for a local issuer on loopback), got {value!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(name, f"must be a plain issuer URL (no credentials, query or fragment), got {value!r}")
    github_host = urlsplit(GITHUB_ISSUER).hostname
    if not loopback and host != github_host and not raw.get("issuerReason"):
        raise ConfigError(
            name,
            f"{host!r} is not GitHub's issuer host {github_host!r}; a GitHub Enterprise Server issuer needs "
            "issuerReason (a sentence saying whose server it is)",
        )
    return value


def _trust_section(raw: Mapping[str, Any], key: str) -> tuple[str, str]:
    """(discovery URL, bound issuer): the issuer the roles accept is the one discovery names."""
    discovery = _discovery_url(raw, key)
    bound = _url(raw, "boundIssuer", key, discovery)
    if bound != discovery:
        raise ConfigError(
            f"{key}.boundIssuer",
            f"must equal oidcDiscoveryUrl ({discovery!r}): tokens are verified with the keys discovery "
            f"finds, so any other issuer is a look-alike, got {bound!r}",
        )
    return discovery, bound


def _github(raw: Any, rules: TrustRules) -> GitHubSettings:
    key = "github"
    raw = _obj(raw if raw is not None else {}, key)
    _no_unknown(raw, {"path", "oidcDiscoveryUrl", "boundIssuer", "issuerReason", "bindings"}, key)
    discovery, bound = _trust_section(raw, key)
    bindings = _bindings(raw, key, rules)
    return GitHubSettings(
        path=_mount_path(raw, "path", key, "jwt"),
        oidc_discovery_url=discovery,
        bound_issuer=bound,
        bindings=bindings,
    )


def _pipeline(
    raw: Any,
    github: GitHubSettings,
    placeholders: dict[str, str],
    environment: str,
    policy_dir: Path,
    protect: bool,
) -> PipelineSettings | None:
    key = "pipeline"
    if raw is None:
        return None
    raw = _obj(raw, key)
    _no_unknown(raw, {"path", "bindings", "rootNamespaceReason"}, key)
    if not placeholders["ns"] and not raw.get("rootNamespaceReason"):
        # Without a namespace the apply policy's grants (auth mounts, policies, the kv mount) sit
        # in the root namespace beside everything else on the server: opt in knowingly.
        raise ConfigError(
            key,
            "with llm-vault:namespace '' the pipeline's apply token manages this stack's objects in the ROOT "
            "namespace, beside every other tenant's; give the stack a namespace, or state why under "
            "llm-vault:pipeline.rootNamespaceReason",
        )
    if "rootNamespaceReason" in raw:
        _str(raw, "rootNamespaceReason", key, required=True)
    path = _mount_path(raw, "path", key, f"github-pipeline-{environment}")
    if path == github.path:
        raise ConfigError(f"{key}.path", f"must differ from llm-vault:github.path ({github.path!r})")
    files = load_policies(policy_dir / "pipeline", {**placeholders, "pipeline_path": path}, key="pipeline.policies")
    # Root-namespace policies address the environment's secrets through its namespace prefix.
    mount = placeholders["kv_mount"]
    rules = TrustRules(
        environment=environment,
        protect=protect,
        policies={p.name: p.text for p in files},
        secret_targets=tuple(dict.fromkeys((f"{placeholders['ns']}{mount}/data/", f"{mount}/data/"))),
        non_production=(),  # the pipeline reads configuration, never secret values
    )
    bindings = _bindings(raw, key, rules)
    # Root-namespace policies are shared by every stack on the server: suffix the environment.
    named = tuple(Policy(name=f"{p.name}-{environment}", text=p.text, stem=p.name) for p in files)
    bindings = tuple(replace(b, policies=tuple(f"{p}-{environment}" for p in b.policies)) for b in bindings)
    return PipelineSettings(
        path=path,
        oidc_discovery_url=github.oidc_discovery_url,
        bound_issuer=github.bound_issuer,
        bindings=bindings,
        policies=named,
    )


def _short_lived(raw: Any, policy_names: set[str]) -> ShortLivedTokenSettings:
    key = "shortLivedTokens"
    raw = _obj(raw if raw is not None else {}, key)
    _no_unknown(raw, {"role", "allowedPolicies", "ttl", "renewable"}, key)
    allowed = _str_list(raw, "allowedPolicies", key, ("openai-llm-readonly",))
    for j, p in enumerate(allowed):
        if p not in policy_names:
            raise ConfigError(f"{key}.allowedPolicies[{j}]", f"unknown policy {p!r}")
    ttl = _duration(raw, "ttl", key, "1h")
    if ttl <= 0 or ttl > 24 * 3600:
        raise ConfigError(f"{key}.ttl", f"must be between 1s and 24h, got {ttl}s")
    return ShortLivedTokenSettings(
        role=_str(raw, "role", key, READONLY_TOKEN_ROLE),
        allowed_policies=allowed,
        ttl_seconds=ttl,
        renewable=_bool(raw, "renewable", key, True),
    )


def _model_runner(raw: Any, policy_names: set[str]) -> ModelRunnerSettings:
    key = "modelRunner"
    raw = _obj(raw if raw is not None else {}, key)
    _no_unknown(raw, {"path", "role", "policies", "secretIdTtl", "secretIdNumUses", "tokenTtl", "tokenMaxTtl"}, key)
    policies = _str_list(raw, "policies", key, ("model-runner",))
    for j, p in enumerate(policies):
        if p not in policy_names:
            raise ConfigError(f"{key}.policies[{j}]", f"unknown policy {p!r}")
    secret_id_ttl = _duration(raw, "secretIdTtl", key, "36h")
    lo, hi = SECRET_ID_TTL_WINDOW
    if not lo <= secret_id_ttl <= hi:
        raise ConfigError(f"{key}.secretIdTtl", f"must be within the 24h-48h rotation window, got {secret_id_ttl}s")
    token_ttl = _duration(raw, "tokenTtl", key, "1h")
    token_max = _duration(raw, "tokenMaxTtl", key, "4h")
    if token_ttl <= 0 or token_max < token_ttl:
        raise ConfigError(f"{key}.tokenMaxTtl", "must be at least tokenTtl, and tokenTtl positive")
    return ModelRunnerSettings(
        path=_mount_path(raw, "path", key, "approle"),
        role=_str(raw, "role", key, "model-runner"),
        policies=policies,
        secret_id_ttl_seconds=secret_id_ttl,
        secret_id_num_uses=_int(raw, "secretIdNumUses", key, 0),
        token_ttl_seconds=token_ttl,
        token_max_ttl_seconds=token_max,
    )


def _audit(raw: Any, protect: bool) -> AuditSettings:
    key = "audit"
    raw = _obj(raw if raw is not None else {}, key)
    # No logRaw, no type: a device the program creates is a file device with HMAC'd values.
    _no_unknown(raw, {"mode", "path", "filePath", "fileDir", "hmacAccessor"}, key)
    # Protected stacks leave the device to the server's config file unless they choose API mode
    # (which needs unsafe_allow_api_audit_creation on OpenBao, the switch added for CVE-2025-54997).
    mode = _str(raw, "mode", key, "declared" if protect else "api")
    if mode not in AUDIT_MODES:
        raise ConfigError(f"{key}.mode", f"must be one of {AUDIT_MODES}, got {mode!r}")
    file_dir = _str(raw, "fileDir", key, "/vault/audit").rstrip("/") or "/"
    file_path = _str(raw, "filePath", key, "/vault/audit/audit.log")
    if not file_path.startswith("/") and file_path != "stdout":
        raise ConfigError(f"{key}.filePath", f"must be an absolute path on the server or 'stdout', got {file_path!r}")
    parts = file_path.split("/")
    if mode == "api" and file_path != "stdout" and (".." in parts or not file_path.startswith(f"{file_dir}/")):
        raise ConfigError(f"{key}.filePath", f"{file_path!r} is outside the audit directory {file_dir!r} (fileDir)")
    return AuditSettings(
        mode=mode,
        path=_mount_path(raw, "path", key, "file"),
        file_path=file_path,
        hmac_accessor=_bool(raw, "hmacAccessor", key, True),
    )


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


def _adopt(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str) and ":" in x for x in raw):
        raise ConfigError(
            "adopt", "must be a list of '<kind>:<path>' or '<kind>:<namespace>:<path>', e.g. 'mount:dev:openai-llm'"
        )
    return tuple(raw)


# --------------------------------------------------------------------------------------------------
# policies


def load_policies(policy_dir: Path, placeholders: str | dict[str, str], *, key: str = "policies") -> tuple[Policy, ...]:
    """Every ``*.hcl`` file is one ACL policy named by its stem; each must parse as HCL.

    ``placeholders`` is the kv mount path (the token role keeps its default name), or a mapping
    of every placeholder to fill.
    """
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
    if not _NAME.match(path.stem):
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
        doc = hcl2.loads(text)
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


# --------------------------------------------------------------------------------------------------
# root layout: several stacks in the one root namespace of a server without namespaces (Vault OSS)


@dataclass(frozen=True)
class RootLayout:
    """``llm-vault:rootLayout: {tag: dev}``: how a stack without a namespace stays clear of the other
    environments' stacks in the root namespace they share.

    Names the stack takes from ``policies/*.hcl`` and its own keys (ACL policies, the token role,
    database grant policies) get ``<tag>-`` in front: Vault's ACL globs match prefixes only, so
    one rule can address "every policy of dev" (``sys/policies/acl/dev-*``, the preview policy).
    Paths the stack file spells out (kv, JWT and AppRole mounts, the audit device, the pipeline
    and database mounts) must already end in ``-<tag>``: they are written as they are on the
    server, so the loader checks them rather than rewrites them. JWT and AppRole role names live
    under those per-environment mounts and need nothing. Vault Enterprise and OpenBao use a
    namespace per environment instead, and a stack with a namespace refuses this key.
    """

    tag: str

    def name(self, name: str) -> str:
        return f"{self.tag}-{name}"


def _root_layout(raw: Any, namespace: str | None) -> RootLayout | None:
    key = "rootLayout"
    if raw is None:
        if namespace is None:
            # Without it, dev's and prod's openai-llm-ci (and token role) would be one object.
            raise ConfigError(
                key,
                "is required with llm-vault:namespace '': stacks sharing the root namespace would take the same "
                "policy and token-role names; set {tag: <environment>}",
            )
        return None
    raw = _obj(raw, key)
    if namespace is not None:
        raise ConfigError(
            key, f"is for stacks without a namespace; this stack's namespace {namespace!r} keeps it apart"
        )
    _no_unknown(raw, {"tag"}, key)
    tag = _str(raw, "tag", key, required=True)
    # No '-': "dev-*" must not also match the names of a stack tagged "dev-2".
    if not _ROOT_TAG.match(tag):
        raise ConfigError(f"{key}.tag", f"{tag!r} must be up to 32 lower-case letters, digits or '_' (no '-')")
    return RootLayout(tag)


def _token_role_name(raw: Mapping[str, Any], layout: RootLayout | None) -> str:
    """The token role's name on the server, for the operator policy's ``${token_role}``; the
    policies are rendered before ``shortLivedTokens`` is checked (which names a bad value)."""
    section = raw.get("shortLivedTokens")
    role = section.get("role") if isinstance(section, Mapping) else None
    role = role if isinstance(role, str) and role.strip() else READONLY_TOKEN_ROLE
    return layout.name(role) if layout is not None else role


def _in_root_layout(settings: Settings) -> Settings:
    """``settings`` with the root layout's names applied, after its paths are checked."""
    layout = settings.root_layout
    if layout is None:
        return settings
    paths = {
        "kv.path": settings.kv.path,
        "github.path": settings.github.path,
        "modelRunner.path": settings.model_runner.path,
    }
    if settings.audit.mode == "api":  # (a declared device is the server's, named in its config file)
        paths["audit.path"] = settings.audit.path
    if settings.pipeline is not None:
        paths["pipeline.path"] = settings.pipeline.path
    if settings.databases is not None:
        paths["databases.path"] = settings.databases.path
    for key, path in paths.items():
        if not path.endswith(f"-{layout.tag}"):
            raise ConfigError(
                key,
                f"{path!r} must end in '-{layout.tag}' (llm-vault:rootLayout.tag): stacks sharing the root "
                "namespace keep their mounts and audit devices apart by it",
            )

    def names(policies: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(layout.name(p) for p in policies)

    github, runner, tokens = settings.github, settings.model_runner, settings.short_lived_tokens
    return replace(
        settings,
        policies=tuple(replace(p, name=layout.name(p.name), stem=p.stem or p.name) for p in settings.policies),
        github=replace(github, bindings=tuple(replace(b, policies=names(b.policies)) for b in github.bindings)),
        model_runner=replace(runner, policies=names(runner.policies)),
        short_lived_tokens=replace(
            tokens, role=layout.name(tokens.role), allowed_policies=names(tokens.allowed_policies)
        ),
        databases=replace(settings.databases, policy_prefix=layout.name(""))
        if settings.databases is not None
        else None,
    )


# --------------------------------------------------------------------------------------------------
# entry points

TOP_LEVEL_KEYS = {
    "environment",
    "namespace",
    "providerBackend",
    "protect",
    "kv",
    "github",
    "shortLivedTokens",
    "modelRunner",
    "audit",
    "pipeline",
    "adopt",
    "databases",
    "rootLayout",
}


def load_settings(raw: Mapping[str, Any], *, policy_dir: Path = POLICY_DIR) -> Settings:
    """Validate the ``llm-vault`` config namespace (keys without the ``llm-vault:`` prefix)."""
    from infra.config_databases import parse_databases, with_database_grants  # it builds on this module's readers

    _no_unknown(raw, TOP_LEVEL_KEYS, "")
    environment = _str(raw, "environment", "", required=True)
    if not _NAME.match(environment):
        raise ConfigError("environment", f"{environment!r} must be lower-case letters, digits, '-' or '_'")
    backend = _str(raw, "providerBackend", "", "builtin")
    if backend not in BACKENDS:
        raise ConfigError("providerBackend", f"must be one of {BACKENDS}, got {backend!r}")
    kv = _kv(raw.get("kv"))
    namespace = _namespace(raw.get("namespace"))
    layout = _root_layout(raw.get("rootLayout"), namespace)
    policies = load_policies(policy_dir, {"kv_mount": kv.path, "token_role": _token_role_name(raw, layout)})
    names = {p.name for p in policies}
    protect = _bool(raw, "protect", "", False)
    github = _github(
        raw.get("github"),
        TrustRules(
            environment=environment,
            protect=protect,
            policies={p.name: p.text for p in policies},
            secret_targets=(f"{kv.path}/data/",),
            non_production=_non_production(kv, protect),
        ),
    )
    model_runner = _model_runner(raw.get("modelRunner"), names)
    audit = _audit(raw.get("audit"), _bool(raw, "protect", "", False))
    # Pipeline policies live in the root namespace and name the environment's paths from there.
    placeholders = {
        "kv_mount": kv.path,
        "ns": namespace_prefix(namespace),
        "namespace": namespace or "",
        "environment": environment,
        "jwt_path": github.path,
        "approle_path": model_runner.path,
        "audit_path": audit.path,
    }
    short_lived = _short_lived(raw.get("shortLivedTokens"), names)
    # Names as the server knows them (in the root layout, with the tag in front).
    def on_server(name: str) -> str:
        return layout.name(name) if layout is not None else name

    placeholders.update(
        jwt_roles=",".join(b.role for b in github.bindings),
        approle_roles=model_runner.role,
        token_roles=on_server(short_lived.role),
        acl_policies=",".join(sorted(on_server(n) for n in names)),
        name_prefix=on_server(""),
    )
    placeholders.update(declared_grants(placeholders))
    settings = Settings(
        environment=environment,
        namespace=namespace,
        provider_backend=backend,
        protect=protect,
        kv=kv,
        github=github,
        policies=policies,
        short_lived_tokens=short_lived,
        model_runner=model_runner,
        audit=audit,
        pipeline=_pipeline(raw.get("pipeline"), github, placeholders, environment, policy_dir, protect),
        adopt=_adopt(raw.get("adopt")),
        databases=parse_databases(raw.get("databases"), {model_runner.role, *(b.role for b in github.bindings)}),
        root_layout=layout,
    )
    return _in_root_layout(with_database_grants(settings))


def raw_from_pulumi_config() -> dict[str, Any]:
    """The ``llm-vault:*`` keys of the running stack, values decoded from JSON where structured."""
    import json

    from pulumi.runtime.config import CONFIG, get_config_env

    # An inline (Automation API) or mocked program gets its config set in-process; a program
    # started by the CLI's language host gets it through the PULUMI_CONFIG environment.
    everything = {**get_config_env(), **CONFIG.get()}
    raw: dict[str, Any] = {}
    for full_key, value in everything.items():
        ns, _, name = full_key.partition(":")
        if ns != PROJECT:
            continue
        # The engine passes structured values as JSON and scalars as plain text ("true", "dev").
        if value[:1] in ("{", "[") or value in ("true", "false"):
            try:
                raw[name] = json.loads(value)
                continue
            except ValueError:
                pass
        raw[name] = value
    return raw


def load_stack_settings() -> Settings:
    return load_settings(raw_from_pulumi_config())

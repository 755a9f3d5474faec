"""``llm-vault:github`` and ``llm-vault:pipeline``: which GitHub Actions workflows may log in,
with which role, and what their policies may reach.

A binding's own rules (one subject context, exact values, id pins, TTL ceiling) are its
schema's; the rules that need the rendered policies and the stack (reach, audience, protected
stacks) are :func:`check_reach`, run after parsing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from infra import policy_reach
from infra.config.policies import Policy, load_policies
from infra.config.schema import (
    DIGITS,
    GLOB_CHARS,
    ConfigError,
    Duration,
    MountPath,
    Name,
    Schema,
    Text,
    Url,
    did_you_mean,
    record,
    reject,
)

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
FIFTEEN_MINUTES = 15 * 60
# A CI job that needs a token for longer than an hour should be split, not given a long-lived credential.
CI_TTL_CEILING = 60 * 60
_GH_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_WORKFLOW_FILE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/\.github/workflows/[^@/]+\.ya?ml@refs/\S+$")
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


# --------------------------------------------------------------------------------------------------
# records


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


# --------------------------------------------------------------------------------------------------
# schema

_SELECTORS = {"ref": "ref", "tag": "tag", "environment": "environment", "pull_request": "pullRequest"}


class BindingSchema(Schema):
    refused = {
        "subject": "subjects are built from repository + ref | tag | environment | pullRequest; set those instead",
        "userClaim": "is not configurable: roles name the caller by `actor_id` (`actor` is a username that can be "
        "renamed and then taken by someone else)",
    }

    role: Name
    repository: Text
    repository_id: Text | None = None
    owner_id: Text | None = None
    # The subject's context: exactly one of these.
    ref: Text | None = None
    tag: Text | None = None
    environment: Text | None = None
    pull_request: bool | None = None
    policies: list[Text] = []
    audience: Text | None = None
    ttl: Duration = FIFTEEN_MINUTES
    runner_environment: Literal["github-hosted", "self-hosted", "any"] = "github-hosted"
    runner_environment_reason: Text | None = None
    job_workflow_ref: Text | None = None
    workflow_ref: Text | None = None
    immutable_subject: bool = False
    identity_pin_opt_out: Text | None = None
    description: str = ""
    events: list[Text] | None = None

    @field_validator("repository")
    @classmethod
    def _one_repository(cls, repository: str) -> str:
        parts = repository.split("/")
        if len(parts) != 2 or not all(_GH_NAME.match(p) for p in parts):
            raise ValueError(f"must name exactly one repository as 'owner/name', got {repository!r}")
        return repository

    @field_validator("repository_id", "owner_id")
    @classmethod
    def _numeric(cls, value: str | None) -> str | None:
        if value is not None and not DIGITS.match(value):
            raise ValueError(f"must be GitHub's numeric id as a string, got {value!r}")
        return value

    @field_validator("identity_pin_opt_out")
    @classmethod
    def _a_sentence(cls, value: str | None) -> str | None:
        if value is not None and len(value.strip()) < 10:
            raise ValueError("must be a written reason (a sentence), not a flag")
        return value

    @field_validator("ttl")
    @classmethod
    def _ci_ttl(cls, ttl: int) -> int:
        if ttl <= 0 or ttl > CI_TTL_CEILING:
            raise ValueError(f"must be between 1s and 1h for CI tokens, got {ttl}s")
        return ttl

    @field_validator("policies")
    @classmethod
    def _some_policy(cls, policies: list[str]) -> list[str]:
        if not policies:
            raise ValueError("must name at least one policy")
        return policies

    @field_validator("events")
    @classmethod
    def _known_events(cls, events: list[str] | None) -> list[str] | None:
        for j, event in enumerate(events or ()):
            if event not in GITHUB_EVENTS:
                hint = did_you_mean(event, GITHUB_EVENTS)
                raise reject(
                    f"unknown GitHub event {event!r}" + (f" (did you mean {hint!r}?)" if hint else ""), at=f"[{j}]"
                )
        return events

    @field_validator("job_workflow_ref", "workflow_ref")
    @classmethod
    def _one_workflow_file(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if any(c in value for c in GLOB_CHARS):
            raise ValueError(f"{value!r} is a pattern: pin one exact workflow file")
        if not _WORKFLOW_FILE.match(value):
            raise ValueError(f"must look like 'owner/repo/.github/workflows/deploy.yml@refs/heads/main', got {value!r}")
        return value

    @model_validator(mode="after")
    def _context(self) -> BindingSchema:
        selected = [s for s in _SELECTORS if getattr(self, s) not in (None, False)]
        if len(selected) != 1:
            raise reject("set exactly one of ref, tag, environment, pullRequest (the subject's context)")
        value = getattr(self, selected[0])
        if selected[0] != "pull_request":
            if any(c in value for c in GLOB_CHARS) or value.endswith("/"):
                raise reject(f"{value!r} is a pattern: exact bindings take one exact value", at=selected[0])
            if selected[0] == "ref" and not value.startswith("refs/"):
                raise reject(f"must be a full ref like 'refs/heads/main', got {value!r}", at="ref")
        if self.audience is None:
            raise reject("is required: bind an explicit audience (GitHub's default is the owner URL)", at="audience")
        pinned = self.repository_id is not None and self.owner_id is not None
        if self.immutable_subject and not pinned:
            raise reject("immutableSubject needs repositoryId and ownerId (they are part of the subject)")
        if not pinned and self.identity_pin_opt_out is None:
            raise reject(
                "is required: a deleted and re-created repository or organisation with the same name must not "
                "inherit access (or set identityPinOptOut with a written reason)",
                at="repositoryId" if self.repository_id is None else "ownerId",
            )
        reason = (self.runner_environment_reason or "").strip()
        if self.runner_environment == "any" and len(reason) < 10:
            raise reject(
                "'any' accepts jobs on runners nobody here controls: state why in runnerEnvironmentReason (a sentence)",
                at="runnerEnvironment",
            )
        if selected[0] == "pull_request" and self.events is not None and set(self.events) != {"pull_request"}:
            raise reject("a pullRequest binding takes only the 'pull_request' event", at="events")
        if self.workflow_ref is not None and not self.workflow_ref.startswith(f"{self.repository}/"):
            raise reject(
                f"must be a workflow of {self.repository} (the repository that runs the job)", at="workflowRef"
            )
        return self

    def to_record(self) -> OidcBinding:
        kind = next(s for s in _SELECTORS if getattr(self, s) not in (None, False))
        return record(
            OidcBinding,
            self,
            kind=kind,
            value=None if kind == "pull_request" else getattr(self, kind),
            ttl_seconds=self.ttl,
            runner_environment=None if self.runner_environment == "any" else self.runner_environment,
            events=tuple(self.events if self.events is not None else DEFAULT_EVENTS[kind]),
        )


class TrustSchema(Schema):
    """What the application trust (``github``) and the pipeline's share: the bindings."""

    bindings: list[BindingSchema] = Field(default_factory=list, validate_default=True)

    @field_validator("bindings", mode="before")
    @classmethod
    def _some_bindings(cls, value: Any) -> Any:
        if not isinstance(value, list) or not value:
            raise ValueError("must be a non-empty list of bindings")
        return value


class GitHubSchema(TrustSchema):
    path: MountPath = "jwt"
    oidc_discovery_url: Url = GITHUB_ISSUER
    bound_issuer: Url | None = None
    issuer_reason: Text | None = None

    @model_validator(mode="after")
    def _issuer(self) -> GitHubSchema:
        """GitHub's issuer (or an enterprise's ``/<slug>`` issuer on the same host), or a local
        issuer on loopback; any other host only with a written reason (GitHub Enterprise Server).
        The issuer the roles accept is the one discovery names."""
        value = self.oidc_discovery_url
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
        loopback = host in ("127.0.0.1", "localhost", "::1")
        at = "oidcDiscoveryUrl"
        if parts.scheme != "https" and not loopback:
            raise reject(f"must use https (plain http only for a local issuer on loopback), got {value!r}", at=at)
        if parts.username or parts.password or parts.query or parts.fragment:
            raise reject(f"must be a plain issuer URL (no credentials, query or fragment), got {value!r}", at=at)
        github_host = urlsplit(GITHUB_ISSUER).hostname
        if not loopback and host != github_host and not self.issuer_reason:
            raise reject(
                f"{host!r} is not GitHub's issuer host {github_host!r}; a GitHub Enterprise Server issuer needs "
                "issuerReason (a sentence saying whose server it is)",
                at=at,
            )
        if self.bound_issuer is not None and self.bound_issuer != value:
            raise reject(
                f"must equal oidcDiscoveryUrl ({value!r}): tokens are verified with the keys discovery "
                f"finds, so any other issuer is a look-alike, got {self.bound_issuer!r}",
                at="boundIssuer",
            )
        return self


class PipelineSchema(TrustSchema):
    path: MountPath | None = None  # default: github-pipeline-<environment>
    root_namespace_reason: Text | None = None


# --------------------------------------------------------------------------------------------------
# rules that need the policies and the stack


@dataclass(frozen=True)
class TrustRules:
    """What the loader needs to judge a binding's reach: who can obtain it against what its
    policies grant. Built once per section (the application trust, the pipeline trust)."""

    environment: str
    protect: bool
    policies: Mapping[str, str]  # policy name -> rendered text
    secret_targets: tuple[str, ...]  # where secret values are read, as the policies address them
    non_production: tuple[str, ...]  # subtrees under data/ that a pull request may read


def check_reach(b: OidcBinding, k: str, rules: TrustRules) -> None:
    """Refuse a binding whose policies are wider than whoever can obtain its token."""
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


def bindings(trust: TrustSchema, key: str, rules: TrustRules) -> tuple[OidcBinding, ...]:
    """The section's bindings as records, each checked against the policies it names."""
    out = tuple(b.to_record() for b in trust.bindings)
    seen: dict[str, int] = {}
    for i, b in enumerate(out):
        k = f"{key}.bindings[{i}]"
        for j, p in enumerate(b.policies):
            if p not in rules.policies:
                raise ConfigError(
                    f"{k}.policies[{j}]", f"unknown policy {p!r}; policies/ defines {sorted(rules.policies)}"
                )
    for i, b in enumerate(out):
        if b.role in seen:
            raise ConfigError(f"{key}.bindings[{i}].role", f"duplicate role {b.role!r} (also bindings[{seen[b.role]}])")
        seen[b.role] = i
        check_reach(b, f"{key}.bindings[{i}]", rules)
    return out


def github_settings(section: GitHubSchema, rules: TrustRules) -> GitHubSettings:
    return GitHubSettings(
        path=section.path,
        oidc_discovery_url=section.oidc_discovery_url,
        bound_issuer=section.bound_issuer or section.oidc_discovery_url,
        bindings=bindings(section, "github", rules),
    )


def pipeline_settings(
    section: PipelineSchema | None,
    github: GitHubSettings,
    placeholders: Mapping[str, Any],
    policy_dir: Path,
    protect: bool,
) -> PipelineSettings | None:
    """The pipeline's trust. Its policies (``policies/pipeline/``) live in the root namespace and
    name the environment's paths from there; they and the bindings' references to them are
    named ``<name>-<environment>``: root-namespace objects are shared by every stack on the server."""
    if section is None:
        return None
    environment = placeholders["environment"]
    if not placeholders["ns"] and not section.root_namespace_reason:
        # Without a namespace the apply policy's grants (auth mounts, policies, the kv mount) sit
        # in the root namespace beside everything else on the server: opt in knowingly.
        raise ConfigError(
            "pipeline",
            "with llm-vault:namespace '' the pipeline's apply token manages this stack's objects in the ROOT "
            "namespace, beside every other tenant's; give the stack a namespace, or state why under "
            "llm-vault:pipeline.rootNamespaceReason",
        )
    path = section.path or f"github-pipeline-{environment}"
    if path == github.path:
        raise ConfigError("pipeline.path", f"must differ from llm-vault:github.path ({github.path!r})")
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
    return PipelineSettings(
        path=path,
        oidc_discovery_url=github.oidc_discovery_url,
        bound_issuer=github.bound_issuer,
        bindings=tuple(
            replace(b, policies=tuple(f"{p}-{environment}" for p in b.policies))
            for b in bindings(section, "pipeline", rules)
        ),
        policies=tuple(Policy(name=f"{p.name}-{environment}", text=p.text, stem=p.name) for p in files),
    )

"""``llm-vault:rootLayout``: several stacks in the one root namespace of a server without
namespaces (HashiCorp Vault OSS)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator

from infra.config.schema import ConfigError, Schema

if TYPE_CHECKING:
    from infra.config.stack import Settings

# No '-': "dev-*" must not also match the names of a stack tagged "dev-2".
_TAG = re.compile(r"^[a-z0-9][a-z0-9_]{0,31}$")


def _tag(tag: str) -> str:
    if not _TAG.match(tag):
        raise ValueError(f"{tag!r} must be up to 32 lower-case letters, digits or '_' (no '-')")
    return tag


class RootLayoutSchema(Schema):
    tag: Annotated[str, AfterValidator(_tag)]


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


def root_layout(schema: RootLayoutSchema | None, namespace: str | None) -> RootLayout | None:
    """The stack's layout; ``namespace`` is None for a stack in the root namespace."""
    if schema is None:
        if namespace is None:
            # Without it, dev's and prod's openai-llm-ci (and token role) would be one object.
            raise ConfigError(
                "rootLayout",
                "is required with llm-vault:namespace '': stacks sharing the root namespace would take the same "
                "policy and token-role names; set {tag: <environment>}",
            )
        return None
    if namespace is not None:
        raise ConfigError(
            "rootLayout", f"is for stacks without a namespace; this stack's namespace {namespace!r} keeps it apart"
        )
    return RootLayout(schema.tag)


def in_root_layout(settings: Settings) -> Settings:
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

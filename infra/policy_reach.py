"""What a rendered ACL policy can reach, decided from its text before anything is applied.

The loader uses this to refuse a binding whose policies are too wide for who can obtain it:
a pull request's workflow file is written by the pull request's author, so a pull-request
binding may carry no write capability and may read no secret value outside the subtrees the
stack marks as non-production.

Vault's path syntax is small, so this is exact rather than heuristic: a path is literal
segments, ``+`` matches one segment, and a trailing ``*`` matches any suffix (a glob is allowed
only at the end). A pattern "can read a secret value outside the allowed subtrees" when some
concrete path ``<target>/data/<rest>`` that it matches has a ``rest`` under none of them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import hcl2

# Capabilities that change something. `sudo` only unlocks root-protected paths for the other
# capabilities of the same rule, so on its own it is not a write.
WRITE_CAPABILITIES = frozenset({"create", "update", "patch", "delete"})
_FILLERS = ("", "zz-probe", "zz-probe/zz")


@dataclass(frozen=True)
class Rule:
    path: str
    capabilities: frozenset[str]


# Documents of texts whose parsed form is known without parsing them (the loader's, for the
# apply policy's generated grants: ``infra.config.policies.Grants``). A few per stack.
_known: dict[str, dict[str, Any]] = {}
_KNOWN_LIMIT = 64


def remember(policy_text: str, doc: dict[str, Any]) -> None:
    """``doc`` is what python-hcl2 makes of ``policy_text``: ``document`` answers it from now on."""
    if len(_known) >= _KNOWN_LIMIT:
        _known.clear()
    _known[policy_text] = doc


def document(policy_text: str) -> dict[str, Any]:
    """A policy's HCL document, parsed once per text in a process: the loader checks it and the
    reach analysis reads it. Not to be changed by callers (it is shared). The apply policy holds
    a path block per declared role, and python-hcl2 parses ~1 ms per block: at 500 bindings each
    parse was ~0.7 s of every command (benchmarks/bench_program.py)."""
    known = _known.get(policy_text)
    return known if known is not None else _parsed(policy_text)


@functools.lru_cache(maxsize=64)
def _parsed(policy_text: str) -> dict[str, Any]:
    return cast(dict[str, Any], hcl2.loads(policy_text))


def clear_caches() -> None:
    """Forget every parse (a benchmark step starts as a new process would)."""
    _known.clear()
    _parsed.cache_clear()
    rules.cache_clear()


@functools.lru_cache(maxsize=256)  # the identity view asks about one policy text hundreds of times
def rules(policy_text: str) -> tuple[Rule, ...]:
    """The ``path`` blocks of a policy (already validated as HCL by the loader)."""
    doc = document(policy_text)
    out: list[Rule] = []
    for block in doc.get("path", []):
        for raw_path, body in block.items():
            caps = frozenset(c.strip('"') for c in body.get("capabilities", []))
            out.append(Rule(raw_path.strip('"'), caps))
    return tuple(out)


def _regex(pattern: str) -> re.Pattern[str]:
    glob = pattern.endswith("*")
    body = pattern[:-1] if glob else pattern
    parts = [("[^/]+" if seg == "+" else re.escape(seg)) for seg in body.split("/")]
    return re.compile("/".join(parts) + (".*" if glob else "") + r"\Z")


def _instances(pattern: str, target: str) -> Iterable[str]:
    """Concrete paths the pattern matches: each ``+`` as a probe or as the target's own segment
    at that position, the trailing ``*`` as nothing, a name or a deeper path."""
    glob = pattern.endswith("*")
    segments = (pattern[:-1] if glob else pattern).split("/")
    target_segments = target.split("/")
    choices: list[tuple[str, ...]] = []
    for i, seg in enumerate(segments):
        if seg == "+":
            own = target_segments[i] if i < len(target_segments) and target_segments[i] else "zz-probe"
            choices.append(("zz-probe", own))
        else:
            choices.append((seg,))
    paths = [""]
    for i, options in enumerate(choices):
        paths = [p + ("/" if i else "") + o for p in paths for o in options]
    for path in paths:
        for filler in _FILLERS if glob else ("",):
            yield path + filler


def reads_outside(pattern: str, target: str, allowed: Sequence[str]) -> str | None:
    """A secret path under ``target`` (``<ns/><mount>/data/``) outside ``allowed`` (subtrees like
    ``fixtures/``) that ``pattern`` matches, or None when there is none."""
    matcher = _regex(pattern)
    candidates = [*_instances(pattern, target), target + "zz-probe", target + "zz-probe/zz"]
    for path in candidates:
        if not matcher.match(path) or not path.startswith(target):
            continue
        rest = path[len(target) :]
        if rest and not any(rest.startswith(prefix) for prefix in allowed):
            return path
    return None


def secret_reads_outside(policy_text: str, targets: Sequence[str], allowed: Sequence[str]) -> list[str]:
    """``"<path rule> (e.g. <example path>)"`` for every rule that reads a secret value outside
    ``allowed`` under any of ``targets``."""
    found = []
    for rule in rules(policy_text):
        if "read" not in rule.capabilities:
            continue
        for target in targets:
            example = reads_outside(rule.path, target, allowed)
            if example:
                found.append(f"{rule.path!r} (e.g. {example})")
                break
    return found


def writes(policy_text: str) -> list[str]:
    """``"<capability> on <path>"`` for every write capability the policy grants."""
    return [
        f"{','.join(sorted(rule.capabilities & WRITE_CAPABILITIES))} on {rule.path!r}"
        for rule in rules(policy_text)
        if rule.capabilities & WRITE_CAPABILITIES and "deny" not in rule.capabilities
    ]


def reads_secret_values(policy_text: str, targets: Sequence[str]) -> bool:
    """Whether the policy reads any secret value under ``targets``."""
    return bool(secret_reads_outside(policy_text, targets, ()))


# --------------------------------------------------------------------------------------------------
# What a token holding several policies may do on one concrete path (Vault's ACL evaluation)


def _priority(pattern: str) -> tuple[int, int, int, int, str]:
    """Vault's rules for the pattern that wins when several match one path, higher first:
    the first ``+``/``*`` later, not ending in ``*``, fewer ``+`` segments, longer, and then
    lexicographically greater (see Vault's "Priority matching" in its policy docs)."""
    segments = pattern.split("/")
    first_wildcard = next(
        (i for i, seg in enumerate(segments) if seg == "+" or seg.endswith("*")), len(segments) + 1
    )
    return (first_wildcard, 0 if pattern.endswith("*") else 1, -segments.count("+"), len(pattern), pattern)


def capabilities_on(policy_texts: Iterable[str], path: str) -> frozenset[str]:
    """The capabilities a token holding all of ``policy_texts`` has on ``path``: rules with the same
    pattern merge (``deny`` wins), then the highest-priority matching pattern decides alone."""
    merged: dict[str, set[str]] = {}
    for text in policy_texts:
        for rule in rules(text):
            merged.setdefault(rule.path, set()).update(rule.capabilities)
    matching = [pattern for pattern in merged if _regex(pattern).match(path)]
    if not matching:
        return frozenset()
    caps = merged[max(matching, key=_priority)]
    return frozenset() if "deny" in caps else frozenset(caps)

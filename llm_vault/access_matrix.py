"""ACL policies from ``policies/*.hcl`` and the access matrix of ``policies/expectations.yaml``.

The policy files name the kv mount as ``${kv_mount}``; :func:`render_policy` fills it in (the
Pulumi program and the tests render the same way). The file stem is the policy name.

The pipeline's root-namespace policies (``policies/pipeline/*.hcl``) take more placeholders
(:data:`PIPELINE_PLACEHOLDERS`, plus ``ns`` = namespace + "/", as ``infra/config/`` fills them);
their table is ``policies/pipeline/expectations.yaml``, whose paths are templates over the same
placeholders so that a test can render both with throwaway names.

``python -m llm_vault.access_matrix --out reports/`` writes ``access-matrix.md`` and
``access-matrix.html``: policies x paths, allowed capabilities or denied; a second section
covers the pipeline policies.
"""

from __future__ import annotations

import argparse
import html
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llm_vault.stackfiles import load_yaml
from llm_vault.toolchain import REPO_ROOT

if TYPE_CHECKING:
    from infra.config import OidcBinding, Settings

POLICY_DIR = REPO_ROOT / "policies"
EXPECTATIONS_FILE = POLICY_DIR / "expectations.yaml"
PIPELINE_POLICY_DIR = POLICY_DIR / "pipeline"
PIPELINE_EXPECTATIONS_FILE = PIPELINE_POLICY_DIR / "expectations.yaml"
# The placeholders infra/config/ fills in a pipeline policy, except "ns" (derived: namespace + "/").
PIPELINE_PLACEHOLDERS = frozenset(
    {"environment", "namespace", "kv_mount", "jwt_path", "approle_path", "audit_path", "pipeline_path"}
    # the declared names the apply policy's exact grants are generated from (infra.config.DECLARED_NAME_KEYS)
    | {"jwt_roles", "approle_roles", "token_roles", "acl_policies"}
)
# A second stack on the same server: what the table's paths call it (other_ns derived as above).
OTHER_ENVIRONMENT_KEYS = frozenset({"environment", "namespace"})
DENY = "deny"
CAPABILITIES = frozenset({"create", "read", "update", "patch", "delete", "list", "sudo", DENY})


def render_policy(path: Path, kv_mount: str) -> str:
    """The policy text of ``path`` with ``${kv_mount}`` filled in (and ``${token_role}`` with the
    token role's default name), by the program's own renderer (``infra.config.render_policy_file``:
    any other placeholder is a ``ConfigError``)."""
    from infra.config import READONLY_TOKEN_ROLE, render_policy_file

    return render_policy_file(Path(path), {"kv_mount": kv_mount, "token_role": READONLY_TOKEN_ROLE}).text


def policy_files(policy_dir: Path = POLICY_DIR) -> dict[str, Path]:
    """Policy name (file stem) -> file, sorted by name."""
    return {path.stem: path for path in sorted(Path(policy_dir).glob("*.hcl"))}


def load_policies(kv_mount: str, policy_dir: Path = POLICY_DIR) -> dict[str, str]:
    """Policy name -> rendered policy text, for every ``*.hcl`` in ``policy_dir``."""
    return {name: render_policy(path, kv_mount) for name, path in policy_files(policy_dir).items()}


@dataclass(frozen=True)
class Expectations:
    kv_mount: str
    # policy -> path -> capabilities (("deny",) when nothing is granted)
    policies: dict[str, dict[str, tuple[str, ...]]]
    # Policies the program generates rather than reads from a file (database grants): name -> text.
    generated: dict[str, str] = field(default_factory=dict)

    def paths(self) -> list[str]:
        """Every path of any table, first-seen order (the YAML groups them sensibly)."""
        seen: dict[str, None] = {}
        for table in self.policies.values():
            seen.update(dict.fromkeys(table))
        return list(seen)


def _capability_rows(path: Path, policy: str, table: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    rows: dict[str, tuple[str, ...]] = {}
    for api_path, caps in table.items():
        unknown = set(caps) - CAPABILITIES
        if unknown or not caps or (DENY in caps and len(caps) > 1):
            raise ValueError(f"{path}: policies.{policy}[{api_path!r}]: bad capabilities {caps!r}")
        rows[api_path] = tuple(caps)
    return rows


def load_expectations(path: Path = EXPECTATIONS_FILE) -> Expectations:
    raw = load_yaml(Path(path).read_text())
    tables = {**raw["policies"], **(raw.get("generated_policies") or {})}
    policies = {policy: _capability_rows(path, policy, table) for policy, table in tables.items()}
    return Expectations(kv_mount=raw["kv_mount"], policies=policies, generated=_generated_database_grants(path, raw))


def _generated_database_grants(path: Path, raw: dict[str, Any]) -> dict[str, str]:
    """The database grant policies as the program renders them (infra.config.databases)."""
    from infra.config.databases import Grant, grant_policy, grant_policy_name

    spec = raw.get("generated_database_grants")
    if not spec:
        return {}
    assert isinstance(spec, dict)
    texts = {}
    for role, kind in spec["grants"].items():
        if kind not in ("dynamic", "static"):
            raise ValueError(f"{path}: generated_database_grants.grants[{role!r}]: 'dynamic' or 'static'")
        grant = Grant(role=role, identities=("model-runner",), static=kind == "static")
        texts[grant_policy_name(grant)] = grant_policy(spec["mount"], grant)
    missing = set(texts) ^ set(raw.get("generated_policies") or {})
    if missing:
        raise ValueError(f"{path}: generated_policies and generated_database_grants disagree on {sorted(missing)}")
    return texts


# --------------------------------------------------------------------------------------------------
# pipeline (root-namespace) policies


def pipeline_values(placeholders: Mapping[str, str]) -> dict[str, Any]:
    """Every value a pipeline policy names: ``placeholders`` plus ``ns`` (as infra/config/ derives it)."""
    from infra.config import declared_grants, namespace_prefix

    # name_prefix: "" in a namespace, "<tag>-" in the root layout (infra.config.RootLayout).
    values: dict[str, Any] = {"name_prefix": "", **placeholders, "ns": namespace_prefix(placeholders["namespace"])}
    # (a second stack is named by environment and namespace only: it has no grants of its own here)
    return {**values, **declared_grants(values)} if "jwt_path" in values else values


def render_pipeline_policy(path: Path, placeholders: Mapping[str, str]) -> str:
    """The pipeline policy text of ``path``, by the program's own renderer (an unknown placeholder fails)."""
    from infra.config import render_policy_file

    return render_policy_file(Path(path), pipeline_values(placeholders), key="pipeline.policies").text


def load_pipeline_policies(placeholders: Mapping[str, str], policy_dir: Path = PIPELINE_POLICY_DIR) -> dict[str, str]:
    """Policy stem -> rendered text, for every ``*.hcl`` in ``policy_dir`` (Vault names them stem-environment)."""
    return {name: render_pipeline_policy(path, placeholders) for name, path in policy_files(policy_dir).items()}


@dataclass(frozen=True)
class PipelineExpectations:
    placeholders: dict[str, str]  # what the policies are rendered with (PIPELINE_PLACEHOLDERS)
    other: dict[str, str]  # another stack on the server: environment, namespace
    # policy stem -> path template ("${ns}${kv_mount}/data/api-keys") -> capabilities
    policies: dict[str, dict[str, tuple[str, ...]]]

    def path_values(
        self, placeholders: Mapping[str, str] | None = None, other: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """What a path template may name: the pipeline values plus ``other_environment`` etc."""
        mine = pipeline_values(self.placeholders if placeholders is None else placeholders)
        theirs = pipeline_values(self.other if other is None else other)
        return {**mine, **{f"other_{key}": value for key, value in theirs.items()}}

    def rendered(
        self, placeholders: Mapping[str, str] | None = None, other: Mapping[str, str] | None = None
    ) -> Expectations:
        """The tables with every path filled in (by default with the file's own values)."""
        values = self.path_values(placeholders, other)
        policies: dict[str, dict[str, tuple[str, ...]]] = {}
        for policy, table in self.policies.items():
            rows = {string.Template(template).substitute(values): caps for template, caps in table.items()}
            if len(rows) != len(table):
                raise ValueError(f"policies.{policy}: two path templates render to the same path")
            policies[policy] = rows
        kv_mount = (self.placeholders if placeholders is None else placeholders)["kv_mount"]
        return Expectations(kv_mount=kv_mount, policies=policies)


def _string_map(path: Path, raw: object, key: str, keys: frozenset[str]) -> dict[str, str]:
    if not isinstance(raw, dict) or set(raw) != keys or not all(isinstance(v, str) for v in raw.values()):
        raise ValueError(f"{path}: {key} must map exactly {sorted(keys)} to strings")
    return dict(raw)


def load_pipeline_expectations(path: Path = PIPELINE_EXPECTATIONS_FILE) -> PipelineExpectations:
    raw = load_yaml(Path(path).read_text())
    expectations = PipelineExpectations(
        placeholders=_string_map(path, raw.get("placeholders"), "placeholders", PIPELINE_PLACEHOLDERS),
        other=_string_map(path, raw.get("other_environment"), "other_environment", OTHER_ENVIRONMENT_KEYS),
        policies={policy: _capability_rows(path, policy, table) for policy, table in raw["policies"].items()},
    )
    values = expectations.path_values()
    for policy, table in expectations.policies.items():
        for template in table:
            try:
                string.Template(template).substitute(values)
            except (KeyError, ValueError) as exc:  # refused here, not halfway through a test run
                raise ValueError(f"{path}: policies.{policy}[{template!r}]: bad placeholder ({exc})") from None
    expectations.rendered()  # refuses two templates naming one path
    return expectations


# --------------------------------------------------------------------------------------------------
# identity view: each way in x each environment -> the secrets it reaches

# The kv-v2 endpoints that touch one secret, and the capability on each that counts as "write"
# (reading a value is ``read`` on ``data/``; deleting and destroying versions live on their own
# endpoints). Metadata is reported apart: it holds no value, but whoever may update it sets the
# secret's max_versions (history is pruned on the next write) and custom metadata.
SECRET_ENDPOINTS = ("data", "delete", "undelete", "destroy", "metadata")
_WRITES_ON = {
    "data": {"create", "update", "patch", "delete"},
    "delete": {"update"},
    "undelete": {"update"},
    "destroy": {"update"},
}
_METADATA_WRITES = frozenset({"create", "update", "patch", "delete"})
OTHER_SECRET = "zz-undeclared"  # stands for any secret name the stack does not declare


@dataclass(frozen=True)
class WayIn:
    """One way to obtain a token: a JWT binding, the AppRole or a token role, as a stack declares it."""

    environment: str  # the stack that declares it
    kind: str  # "github" | "pipeline" | "approle" | "token-role"
    name: str  # "<auth mount>/<role>" (token roles: "token/<role>")
    who: str  # who can use it: the bound subject and pins, or the AppRole's role
    namespace: str | None  # where its tokens live (None: the root namespace)
    policies: tuple[str, ...]  # policy names as Vault knows them
    texts: tuple[str, ...]  # the same policies, rendered

    @property
    def label(self) -> str:
        return f"{self.environment}: {self.kind} {self.name}"


@dataclass(frozen=True)
class SecretPath:
    """One secret of one environment (or a stand-in for a subtree or an undeclared name)."""

    environment: str
    namespace: str | None
    mount: str
    name: str  # "api-keys", "fixtures/<probe>", or OTHER_SECRET

    def endpoint(self, kind: str) -> str:
        return f"{self.mount}/{kind}/{self.name}"


@dataclass(frozen=True)
class Reach:
    """What one way in may do to one secret, endpoint by endpoint (capabilities per endpoint)."""

    capabilities: dict[str, frozenset[str]]  # endpoint kind -> capabilities (empty: nothing)
    addressable: bool = True  # False: the way in's tokens are not valid where the secret lives

    @property
    def read(self) -> bool:
        return "read" in self.capabilities.get("data", frozenset())

    @property
    def write(self) -> bool:
        return any(self.capabilities.get(kind, frozenset()) & caps for kind, caps in _WRITES_ON.items())

    @property
    def metadata(self) -> bool:
        return bool(self.capabilities.get("metadata", frozenset()) & _METADATA_WRITES)


def _policy_texts(settings: Settings, names: Sequence[str], *, pipeline: bool = False) -> tuple[str, ...]:
    policies = settings.pipeline.policies if pipeline and settings.pipeline else settings.policies
    by_name = {p.name: p.text for p in policies} | {p.stem: p.text for p in policies if p.stem}
    # A policy the loader does not render (Vault's own "default") grants no secret: leave it out.
    return tuple(by_name[name] for name in names if name in by_name)


def _who(binding: OidcBinding) -> str:
    pins = [binding.subject]
    if binding.job_workflow_ref:
        pins.append(f"workflow {binding.job_workflow_ref}")
    if binding.events:
        pins.append("events " + ",".join(binding.events))
    return "; ".join(pins)


def ways_in(settings: Settings) -> list[WayIn]:
    """Every way to a token that a stack declares, in the order a reviewer reads them."""
    env, ns = settings.environment, settings.namespace
    out = [
        WayIn(env, "github", f"{settings.github.path}/{b.role}", _who(b), ns, b.policies,
              _policy_texts(settings, b.policies))
        for b in settings.github.bindings
    ]
    if settings.pipeline is not None:
        out += [
            WayIn(env, "pipeline", f"{settings.pipeline.path}/{b.role}", _who(b), None,
                  b.policies, _policy_texts(settings, b.policies, pipeline=True))
            for b in settings.pipeline.bindings
        ]
    runner, tokens = settings.model_runner, settings.short_lived_tokens
    out.append(WayIn(env, "approle", f"{runner.path}/{runner.role}", "holders of a secret-id", ns,
                     runner.policies, _policy_texts(settings, runner.policies)))
    out.append(WayIn(env, "token-role", f"token/{tokens.role}", "holders of a token allowed to use the role", ns,
                     tokens.allowed_policies, _policy_texts(settings, tokens.allowed_policies)))
    return out


def secret_paths(settings: Settings) -> list[SecretPath]:
    """The declared secrets, one stand-in per non-production subtree, and one undeclared name."""
    env, ns, mount = settings.environment, settings.namespace, settings.kv.path
    names = [s.name for s in settings.kv.secrets]
    names += [f"{subtree.rstrip('/')}/zz-probe" for subtree in settings.kv.non_production]
    return [SecretPath(env, ns, mount, name) for name in [*names, OTHER_SECRET]]


def address(way: WayIn, secret: SecretPath, kind: str = "data") -> str | None:
    """The path a token of ``way`` sends for ``secret``, or None when its tokens are not valid in
    the secret's namespace (a namespace's tokens work there and below, the root's everywhere)."""
    mine, theirs = way.namespace or "", secret.namespace or ""
    if mine == theirs:
        prefix = ""
    elif not mine or theirs.startswith(mine + "/"):
        prefix = theirs[len(mine) :].strip("/") + "/"
    else:
        return None
    return prefix + secret.endpoint(kind)


def reach(way: WayIn, secret: SecretPath) -> Reach:
    from infra.policy_reach import capabilities_on

    if address(way, secret) is None:
        return Reach({kind: frozenset() for kind in SECRET_ENDPOINTS}, addressable=False)
    return Reach({kind: capabilities_on(way.texts, address(way, secret, kind) or "") for kind in SECRET_ENDPOINTS})


@dataclass(frozen=True)
class IdentityView:
    ways: list[WayIn]
    secrets: list[SecretPath]
    reach: dict[tuple[WayIn, SecretPath], Reach]

    def environments(self) -> list[str]:
        return list(dict.fromkeys(s.environment for s in self.secrets))

    def summary(self, way: WayIn, environment: str) -> str:
        """"read: a, b; write: c; metadata: c" over the environment's secrets, or "nothing"."""
        mine = [s for s in self.secrets if s.environment == environment]
        parts = []
        for what in ("read", "write", "metadata"):
            names = [s.name for s in mine if getattr(self.reach[way, s], what)]
            if names:
                parts.append(f"{what}: {', '.join(names)}")
        return "; ".join(parts) or "nothing"


def identity_view(stacks: Sequence[Settings]) -> IdentityView:
    """Each way in of each stack against every stack's secrets, derived from the declared
    bindings and the rendered policies (Vault's ACL rules, ``infra.policy_reach``)."""
    ways = [way for settings in stacks for way in ways_in(settings)]
    secrets = [secret for settings in stacks for secret in secret_paths(settings)]
    return IdentityView(ways, secrets, {(w, s): reach(w, s) for w in ways for s in secrets})


def checked_in_settings(stacks: Sequence[str] | None = None) -> list[Settings]:
    """The settings of the checked-in stack files, loaded as the program loads them."""
    from infra.config import load_settings
    from llm_vault.stackfiles import STACKS, stack_config

    out = []
    for stack in stacks or STACKS:
        raw = {k.split(":", 1)[1]: v for k, v in stack_config(stack).items() if k.startswith("llm-vault:")}
        out.append(load_settings(raw))
    return out


def _identity_markdown(view: IdentityView) -> list[str]:
    envs = view.environments()
    lines = [
        "| way in | who | policies | " + " | ".join(f"`{env}` secrets" for env in envs) + " |",
        "|---|---|---|" + "---|" * len(envs),
    ]
    for way in view.ways:
        cells = [view.summary(way, env) for env in envs]
        policies = ", ".join(f"`{p}`" for p in way.policies)
        lines.append(f"| {way.label} | {way.who} | {policies} | " + " | ".join(cells) + " |")
    return lines


IDENTITY_INTRO = (
    "For each way to a token (each JWT binding, the AppRole, each token role) of each stack: which "
    "secrets of each environment its token can read or write (write: create, update, patch, delete, "
    "undelete or destroy a version; metadata: change the secret's metadata record, e.g. its "
    "max_versions, which prunes history on the next write). `{OTHER_SECRET}` stands for any name the stack does "
    "not declare; `<subtree>/zz-probe` for any name under a non-production subtree. Derived from the "
    "declared bindings and the policies; `tests/e2e/test_identity_view.py` logs in as each way in on a "
    "real server and checks every cell."
)


# --------------------------------------------------------------------------------------------------
# rendering


def _cell(caps: tuple[str, ...] | None) -> str:
    if caps is None:
        return ""  # not in this policy's table: not checked
    return "denied" if caps == (DENY,) else ", ".join(caps)


def _markdown_table(expectations: Expectations) -> list[str]:
    names = list(expectations.policies)
    lines = [
        "| path | " + " | ".join(f"`{name}`" for name in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for api_path in expectations.paths():
        cells = [_cell(expectations.policies[name].get(api_path)) for name in names]
        lines.append(f"| `{api_path}` | " + " | ".join(cells) + " |")
    return lines


def _pipeline_intro(pipeline: PipelineExpectations, code: Callable[[str], str]) -> str:
    values = pipeline.placeholders
    return (
        f"Capabilities each pipeline policy grants a ROOT-namespace token holding only that policy, for "
        f"the stack {code(values['environment'])} (namespace {code(values['namespace'])}, kv mount "
        f"{code(values['kv_mount'])}, audit device {code(values['audit_path'])}, pipeline auth "
        f"{code(values['pipeline_path'])}); {code(pipeline.other['namespace'])} stands for another "
        "stack's namespace. In Vault each policy is named "
        f"{code('<policy>-' + values['environment'])}. Checked by "
        f"{code('tests/policies/test_pipeline_policy_behaviour.py')}. An empty cell: not checked."
    )


def render_markdown(
    expectations: Expectations, pipeline: PipelineExpectations | None = None, identity: IdentityView | None = None
) -> str:
    """The matrix in markdown; ``identity`` puts the view by way in first (a reviewer's first question),
    ``pipeline`` adds the root-namespace section after the namespace one."""
    lines = [
        "# Access matrix",
        "",
        f"Capabilities each policy grants inside an environment namespace (kv mount "
        f"`{expectations.kv_mount}`), as checked against a real OpenBao server by "
        "`tests/policies/test_policy_behaviour.py`. An empty cell: not checked for that policy.",
        "",
        *_markdown_table(expectations),
    ]
    if identity is not None:
        lines[1:1] = ["", "## Who can reach which secret", "", IDENTITY_INTRO, "", *_identity_markdown(identity), "",
                      "## Policies (environment namespace)"]
    if pipeline is not None:
        lines += [
            "",
            "## Pipeline policies (root namespace)",
            "",
            _pipeline_intro(pipeline, lambda text: f"`{text}`"),
            "",
            *_markdown_table(pipeline.rendered()),
        ]
    return "\n".join(lines) + "\n"


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; }
td.allowed { background: #e3f6e3; }
td.denied { background: #fbe3e3; color: #800; }
td.unchecked { background: #f4f4f4; }
code { font-size: 0.95em; }
"""


def _html_table(expectations: Expectations) -> str:
    names = list(expectations.policies)
    head = "".join(f"<th><code>{html.escape(name)}</code></th>" for name in names)
    rows = []
    for api_path in expectations.paths():
        cells = []
        for name in names:
            caps = expectations.policies[name].get(api_path)
            css = "unchecked" if caps is None else "denied" if caps == (DENY,) else "allowed"
            cells.append(f'<td class="{css}">{html.escape(_cell(caps))}</td>')
        rows.append(f"<tr><th><code>{html.escape(api_path)}</code></th>{''.join(cells)}</tr>")
    body = "\n".join(rows)
    return f"<table>\n<tr><th>path</th>{head}</tr>\n{body}\n</table>\n"


def _identity_html(view: IdentityView) -> str:
    envs = view.environments()
    head = "".join(f"<th><code>{html.escape(env)}</code> secrets</th>" for env in envs)
    rows = []
    for way in view.ways:
        cells = []
        for env in envs:
            text = view.summary(way, env)
            css = "unchecked" if text == "nothing" else "allowed"
            cells.append(f'<td class="{css}">{html.escape(text)}</td>')
        policies = ", ".join(way.policies)
        rows.append(
            f"<tr><th>{html.escape(way.label)}</th><td>{html.escape(way.who)}</td>"
            f"<td><code>{html.escape(policies)}</code></td>{''.join(cells)}</tr>"
        )
    return (
        f"<h2>Who can reach which secret</h2>\n<p>{html.escape(IDENTITY_INTRO)}</p>\n<table>\n"
        f"<tr><th>way in</th><th>who</th><th>policies</th>{head}</tr>\n" + "\n".join(rows) + "\n</table>\n"
    )


def render_html(
    expectations: Expectations, pipeline: PipelineExpectations | None = None, identity: IdentityView | None = None
) -> str:
    """The matrix as one HTML page; ``identity`` first, ``pipeline`` after the namespace section."""
    first = _identity_html(identity) if identity is not None else ""
    second = ""
    if pipeline is not None:
        intro = _pipeline_intro(pipeline, lambda text: f"<code>{html.escape(text)}</code>")
        second = f"<h2>Pipeline policies (root namespace)</h2>\n<p>{intro}</p>\n{_html_table(pipeline.rendered())}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Access matrix</title>'
        f"<style>{_CSS}</style></head><body>\n<h1>Access matrix</h1>\n{first}"
        f"<p>Capabilities each policy grants inside an environment namespace (kv mount "
        f"<code>{html.escape(expectations.kv_mount)}</code>). Empty cell: not checked.</p>\n"
        f"{_html_table(expectations)}{second}</body></html>\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llm_vault.access_matrix", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("reports"), help="folder for the two reports")
    parser.add_argument("--expectations", type=Path, default=EXPECTATIONS_FILE)
    parser.add_argument("--pipeline-expectations", type=Path, default=PIPELINE_EXPECTATIONS_FILE)
    args = parser.parse_args(argv)
    expectations = load_expectations(args.expectations)
    pipeline = load_pipeline_expectations(args.pipeline_expectations)
    args.out.mkdir(parents=True, exist_ok=True)
    identity = identity_view(checked_in_settings())
    (args.out / "access-matrix.md").write_text(render_markdown(expectations, pipeline, identity))
    (args.out / "access-matrix.html").write_text(render_html(expectations, pipeline, identity))
    print(f"wrote {args.out / 'access-matrix.md'} and {args.out / 'access-matrix.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Every kind of Vault object through the real engine against a real OpenBao and a real Vault.

One stack declares one object of each kind (on OpenBao in a namespace of its own, one nested
deeper, and some in the root namespace; on Vault OSS, which has no namespaces, all in the root
under names unique to the run and without the two namespaces and the nested policy) and is taken
through its life: create, read back with hvac, a second up that changes nothing (each server
reports some fields its own way: the providers' reads must normalise both), out-of-band changes
found by a refreshing preview and repaired by a refreshing up, and a destroy that leaves nothing.
The tests of this module run in file order on one deployment per server (pytest's default
order); each also works alone.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pulumi
import pytest
from pulumi import automation as auto

from llm_vault import automation
from llm_vault.automation import state_file
from llm_vault.local.oidc_issuer import GitHubOidcIssuer
from llm_vault.local.server import Server
from tests.scope import sweep_root
from vault_provider import args as a
from vault_provider.builtin.backend import BuiltinBackend

from .conftest import delete_namespace, destroy_quietly, preview_changes, target_for, unique, up, vault_config

pytestmark = [pytest.mark.integration, pytest.mark.engine]

POLICY = 'path "secret/data/app/*" {\n  capabilities = ["read"]\n}\n'


@dataclass(frozen=True)
class Plan:
    """The declared objects, by role in the test."""

    id: str  # unique to the run: the namespace on OpenBao, the name prefix on Vault
    namespace: a.NamespaceArgs | None  # None on a server without namespaces
    team: a.NamespaceArgs | None  # nested in `namespace`
    kv: a.MountArgs
    kv_config: a.KvV2ConfigArgs
    kv_metadata: a.KvMetadataArgs
    jwt: a.AuthBackendArgs
    jwt_config: a.JwtAuthConfigArgs
    jwt_role: a.JwtAuthRoleArgs
    jwt_role_set: a.JwtAuthRoleSetArgs  # two more roles of the same backend, one engine resource
    approle: a.AuthBackendArgs
    approle_role: a.AppRoleRoleArgs
    policy: a.PolicyArgs
    token_role: a.TokenRoleArgs
    team_policy: a.PolicyArgs | None  # in the nested namespace
    root_policy: a.PolicyArgs  # in the root namespace
    audit: a.AuditArgs  # root namespace only

    @property
    def ns(self) -> str | None:
        return self.namespace.path if self.namespace else None

    def count(self) -> int:
        """How many objects the plan declares."""
        return sum(value is not None for key, value in self.__dict__.items() if key != "id")


def make_plan(issuer_url: str, *, namespaces: bool) -> Plan:
    """The plan; without ``namespaces`` (Vault OSS) every path and name carries the run's id instead."""
    run = unique("life")
    ns = run if namespaces else None

    def n(name: str) -> str:
        return name if namespaces else f"{run}-{name}"

    return Plan(
        id=run,
        namespace=a.NamespaceArgs(path=run) if namespaces else None,
        team=a.NamespaceArgs(path="team", namespace=run) if namespaces else None,
        kv=a.MountArgs(
            path=n("openai-llm"),
            type="kv-v2",
            description="LLM provider keys",
            default_lease_ttl_seconds=3600,
            max_lease_ttl_seconds=7200,
            namespace=ns,
        ),
        kv_config=a.KvV2ConfigArgs(mount=n("openai-llm"), max_versions=10, delete_version_after=86400, namespace=ns),
        kv_metadata=a.KvMetadataArgs(
            mount=n("openai-llm"),
            name="api-keys",
            custom_metadata={"owner": "llm-platform", "rotation": "90d"},
            max_versions=5,
            namespace=ns,
        ),
        jwt=a.AuthBackendArgs(type="jwt", path=n("github"), description="GitHub Actions OIDC", namespace=ns),
        jwt_config=a.JwtAuthConfigArgs(
            path=n("github"), oidc_discovery_url=issuer_url, bound_issuer=issuer_url, namespace=ns
        ),
        jwt_role=a.JwtAuthRoleArgs(
            backend=n("github"),
            role_name="ci",
            # Declared out of Vault's order: sets must not show up as changes.
            bound_audiences=("https://github.com/acme-ai", "sts.example"),
            user_claim="repository",
            bound_subject="repo:acme-ai/llm-platform:ref:refs/heads/main",
            bound_claims={"repository_id": "812345678"},
            claim_mappings={"repository": "repo"},
            token_policies=(n("openai-llm-ci"), "default-ci"),
            token_ttl=900,
            token_max_ttl=1800,
            token_bound_cidrs=("203.0.113.7", "198.51.100.0/24"),
            namespace=ns,
        ),
        jwt_role_set=a.JwtAuthRoleSetArgs(
            backend=n("github"),
            roles=tuple(
                a.JwtAuthRoleArgs(
                    backend=n("github"),
                    role_name=f"ci-{app}",
                    bound_audiences=("https://github.com/acme-ai",),
                    user_claim="repository",
                    bound_subject=f"repo:acme-ai/{app}:ref:refs/heads/main",
                    token_policies=(n("openai-llm-ci"),),
                    token_ttl=900,
                    token_max_ttl=900,
                    namespace=ns,
                )
                for app in ("rag", "eval")
            ),
            namespace=ns,
        ),
        approle=a.AuthBackendArgs(type="approle", path=n("approle"), namespace=ns),
        approle_role=a.AppRoleRoleArgs(
            backend=n("approle"),
            role_name="model-runner",
            token_policies=("model-runner",),
            secret_id_ttl=129600,
            secret_id_bound_cidrs=("198.51.100.0/25",),
            token_ttl=3600,
            token_max_ttl=14400,
            namespace=ns,
        ),
        policy=a.PolicyArgs(name=n("openai-llm-ci"), policy=POLICY, namespace=ns),
        # Upper case and unsorted on purpose: the token store lowercases and sorts.
        token_role=a.TokenRoleArgs(
            role_name=n("short-lived"),
            allowed_policies=("openai-llm-readonly", "Audit-Reader"),
            token_explicit_max_ttl=3600,
            token_type="service",
            namespace=ns,
        ),
        team_policy=a.PolicyArgs(name="team-read", policy=POLICY, namespace=f"{run}/team") if namespaces else None,
        root_policy=a.PolicyArgs(name=f"{run}-root", policy=POLICY),
        audit=a.AuditArgs(type="file", path=run, options={"file_path": "discard"}, description="test device"),
    )


def program_for(plan: Plan) -> Callable[[], None]:
    def program() -> None:
        backend = BuiltinBackend()
        inside = pulumi.ResourceOptions()
        if plan.namespace is not None:
            ns = backend.declare("namespace", plan.namespace)
            inside = pulumi.ResourceOptions(depends_on=[ns])
        kv = backend.declare("kv", plan.kv, inside)
        on_kv = pulumi.ResourceOptions(depends_on=[kv])
        backend.declare("kv-config", plan.kv_config, on_kv)
        backend.declare("kv-metadata", plan.kv_metadata, on_kv)
        jwt = backend.declare("jwt", plan.jwt, inside)
        backend.declare("jwt-config", plan.jwt_config, pulumi.ResourceOptions(depends_on=[jwt]))
        backend.declare("jwt-role", plan.jwt_role, pulumi.ResourceOptions(depends_on=[jwt]))
        backend.declare("jwt-role-set", plan.jwt_role_set, pulumi.ResourceOptions(depends_on=[jwt]))
        approle = backend.declare("approle", plan.approle, inside)
        backend.declare("approle-role", plan.approle_role, pulumi.ResourceOptions(depends_on=[approle]))
        backend.declare("policy", plan.policy, inside)
        backend.declare("token-role", plan.token_role, inside)
        if plan.team is not None and plan.team_policy is not None:
            team = backend.declare("team", plan.team, inside)
            backend.declare("team-policy", plan.team_policy, pulumi.ResourceOptions(depends_on=[team]))
        backend.declare("root-policy", plan.root_policy)
        backend.declare("audit", plan.audit)

    return program


# --- what the server holds, read with hvac (not with the providers under test) ---------------


def _data(client: hvac.Client, path: str) -> dict[str, Any] | None:
    try:
        response = client.adapter.get(f"/v1/{path}")
    except hvac.exceptions.InvalidPath:
        return None
    except hvac.exceptions.InvalidRequest as exc:
        if "No secret engine mount at" in str(exc) or "No auth engine at" in str(exc):
            return None
        raise
    return response["data"]


def server_mismatches(server: Server, plan: Plan) -> list[str]:
    """Each declared field the server does not hold as declared (empty: all as declared)."""
    root = server.client()
    inner = server.client(namespace=plan.ns)
    problems: list[str] = []

    def expect(what: str, actual: Any, wanted: Any) -> None:
        if actual != wanted:
            problems.append(f"{what}: server has {actual!r}, declared {wanted!r}")

    if plan.ns is not None:
        ns = _data(root, f"sys/namespaces/{plan.ns}")
        expect("namespace exists", ns is not None and not ns.get("tainted"), True)
        expect("nested namespace exists", _data(inner, "sys/namespaces/team") is not None, True)
        team = server.client(namespace=f"{plan.ns}/team")
        expect("nested policy text", (_data(team, "sys/policies/acl/team-read") or {}).get("policy"), POLICY)

    kv, jwt_path, approle_path = plan.kv.path, plan.jwt.path, plan.approle.path
    mount = _data(inner, f"sys/mounts/{kv}") or {}
    expect("kv type", (mount.get("type"), (mount.get("options") or {}).get("version")), ("kv", "2"))
    expect("kv description", mount.get("description"), plan.kv.description)
    expect(
        "kv ttls",
        ((mount.get("config") or {}).get("default_lease_ttl"), (mount.get("config") or {}).get("max_lease_ttl")),
        (plan.kv.default_lease_ttl_seconds, plan.kv.max_lease_ttl_seconds),
    )
    config = _data(inner, f"{kv}/config") or {}
    expect("kv config max_versions", config.get("max_versions"), plan.kv_config.max_versions)
    expect("kv config delete_version_after", config.get("delete_version_after"), "24h0m0s")
    meta = _data(inner, f"{kv}/metadata/api-keys") or {}
    expect("kv metadata custom_metadata", meta.get("custom_metadata"), plan.kv_metadata.custom_metadata)
    expect("kv metadata max_versions", meta.get("max_versions"), plan.kv_metadata.max_versions)

    jwt = _data(inner, f"sys/auth/{jwt_path}") or {}
    expect("jwt auth", (jwt.get("type"), jwt.get("description")), ("jwt", plan.jwt.description))
    jwt_config = _data(inner, f"auth/{jwt_path}/config") or {}
    expect(
        "jwt config",
        (jwt_config.get("oidc_discovery_url"), jwt_config.get("bound_issuer")),
        (plan.jwt_config.oidc_discovery_url, plan.jwt_config.bound_issuer),
    )
    role = _data(inner, f"auth/{jwt_path}/role/ci") or {}
    r = plan.jwt_role
    expect("jwt role audiences", sorted(role.get("bound_audiences") or []), sorted(r.bound_audiences))
    expect("jwt role subject", role.get("bound_subject"), r.bound_subject)
    expect("jwt role claims", role.get("bound_claims"), r.bound_claims)
    expect("jwt role claim_mappings", role.get("claim_mappings"), r.claim_mappings)
    expect("jwt role user_claim", role.get("user_claim"), r.user_claim)
    expect("jwt role policies", sorted(role.get("token_policies") or []), sorted(r.token_policies))
    expect("jwt role ttls", (role.get("token_ttl"), role.get("token_max_ttl")), (r.token_ttl, r.token_max_ttl))
    expect("jwt role cidrs", sorted(role.get("token_bound_cidrs") or []), ["198.51.100.0/24", "203.0.113.7"])
    for member in plan.jwt_role_set.roles:
        held = _data(inner, f"auth/{jwt_path}/role/{member.role_name}") or {}
        expect(
            f"jwt role set: {member.role_name}",
            (held.get("bound_subject"), held.get("token_policies"), held.get("token_ttl")),
            (member.bound_subject, list(member.token_policies), member.token_ttl),
        )

    approle = _data(inner, f"sys/auth/{approle_path}") or {}
    expect("approle auth type", approle.get("type"), "approle")
    ar = _data(inner, f"auth/{approle_path}/role/model-runner") or {}
    p = plan.approle_role
    expect("approle policies", ar.get("token_policies"), list(p.token_policies))
    expect("approle secret_id_ttl", ar.get("secret_id_ttl"), p.secret_id_ttl)
    expect("approle secret_id_bound_cidrs", ar.get("secret_id_bound_cidrs"), list(p.secret_id_bound_cidrs))
    expect("approle ttls", (ar.get("token_ttl"), ar.get("token_max_ttl")), (p.token_ttl, p.token_max_ttl))

    expect("policy text", (_data(inner, f"sys/policies/acl/{plan.policy.name}") or {}).get("policy"), POLICY)
    token_role = _data(inner, f"auth/token/roles/{plan.token_role.role_name}") or {}
    expect("token role policies", token_role.get("allowed_policies"), ["audit-reader", "openai-llm-readonly"])
    expect(
        "token role cap",
        (token_role.get("token_explicit_max_ttl"), token_role.get("token_type")),
        (plan.token_role.token_explicit_max_ttl, "service"),
    )
    expect("root policy text", (_data(root, f"sys/policies/acl/{plan.root_policy.name}") or {}).get("policy"), POLICY)
    audit = (_data(root, "sys/audit") or {}).get(f"{plan.audit.path}/") or {}
    expect(
        "audit device",
        (audit.get("type"), audit.get("options"), audit.get("description")),
        ("file", {"file_path": "discard"}, "test device"),
    )
    return problems


# --- the deployment ---------------------------------------------------------------------------


@dataclass
class Deployment:
    stack: auto.Stack
    plan: Plan
    state_dir: Path


@pytest.fixture(scope="module")
def deployed(
    server: Server, oidc_issuer: GitHubOidcIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    plan = make_plan(oidc_issuer.url, namespaces=server.has_namespaces)
    state_dir = tmp_path_factory.mktemp("lifecycle") / "state"
    stack = automation.open_stack(
        target_for("lifecycle", state_dir=state_dir, config=vault_config(server.address, server.root_token)),
        program_for(plan),
    )
    try:
        up(stack)
        yield Deployment(stack, plan, state_dir)
    finally:
        destroy_quietly(stack)
        root = server.client()
        if plan.ns is not None:
            delete_namespace(root, plan.ns)
        else:
            sweep_root(root, f"{plan.id}-")
        root.sys.delete_policy(plan.root_policy.name)
        root.sys.disable_audit_device(plan.audit.path)


def test_every_declared_object_is_on_the_server_as_declared(server: Server, deployed: Deployment) -> None:
    assert server_mismatches(server, deployed.plan) == []


def test_a_second_up_changes_nothing(deployed: Deployment) -> None:
    assert preview_changes(deployed.stack) == {}
    result = up(deployed.stack)
    assert set(result.summary.resource_changes or {}) == {"same"}


def test_the_state_holds_no_token_and_the_providers_no_connection(server: Server, deployed: Deployment) -> None:
    # Assertions compare booleans only: a failure must not print the token.
    token = server.root_token
    # Every file of the backend (checkpoint, backups, history) and the work dir's stack file.
    # (The stack config, token included, is recorded as the inputs of the engine's default
    # `pulumi-python` provider: encrypted, like any secret config.)
    leaking = [p.name for p in deployed.state_dir.rglob("*") if p.is_file() and token in p.read_text("latin-1")]
    assert leaking == []
    # Decrypted (the Automation API exports with --show-secrets): none of our resources has it.
    resources = (deployed.stack.export_stack().deployment or {})["resources"]
    ours = [r for r in resources if r["type"].startswith("pulumi-python:dynamic/vault:")]
    assert len(ours) == deployed.plan.count() == (16 if server.has_namespaces else 13)
    assert [r["urn"] for r in ours if token in json.dumps(r)] == []
    for resource in ours:
        blob = resource["outputs"]["__provider"]
        assert isinstance(blob, str), "the provider should be stored in clear (it holds no secret)"
        pickled = base64.b64decode(blob)
        assert token.encode() not in pickled, resource["urn"]
        assert server.address.encode() not in pickled, resource["urn"]
        assert len(pickled) < 200, "a provider should be pickled by reference to its class"


def _change_everything_out_of_band(server: Server, plan: Plan) -> tuple[int, int]:
    """Change ten objects (one of them a role of the role set) and delete four (on OpenBao two
    directly, two with their namespace; on Vault OSS, without namespaces, two directly) -> (changed, deleted)."""
    root = server.client()
    inner = server.client(namespace=plan.ns)
    kv, jwt_path = plan.kv.path, plan.jwt.path
    inner.adapter.post(f"/v1/sys/mounts/{kv}/tune", json={"description": "edited by hand"})
    inner.adapter.post(f"/v1/{kv}/config", json={"max_versions": 2})
    inner.adapter.post(f"/v1/{kv}/metadata/api-keys", json={"custom_metadata": {"owner": "someone-else"}})
    inner.adapter.post(f"/v1/sys/auth/{jwt_path}/tune", json={"description": "edited by hand"})
    inner.adapter.post(
        f"/v1/auth/{jwt_path}/config",
        json={"oidc_discovery_url": plan.jwt_config.oidc_discovery_url, "bound_issuer": "https://elsewhere"},
    )
    inner.adapter.post(
        f"/v1/auth/{jwt_path}/role/ci",
        json={"role_type": "jwt", "token_ttl": 600, "token_policies": [plan.policy.name, "root-ish"]},
    )
    inner.adapter.post(
        f"/v1/auth/{jwt_path}/role/ci-eval", json={"role_type": "jwt", "bound_subject": "repo:acme-ai/*"}
    )
    inner.adapter.post(f"/v1/auth/{plan.approle.path}/role/model-runner", json={"secret_id_ttl": 0})
    inner.sys.create_or_update_acl_policy(plan.policy.name, 'path "*" { capabilities = ["sudo"] }')
    inner.adapter.post(f"/v1/auth/token/roles/{plan.token_role.role_name}", json={"allowed_policies": ["root"]})
    root.sys.delete_policy(plan.root_policy.name)
    root.sys.disable_audit_device(plan.audit.path)
    if plan.ns is not None:
        delete_namespace(root, f"{plan.ns}/team")  # and the policy in it
        return 10, 4
    return 10, 2


def test_out_of_band_changes_are_found_by_a_refreshing_preview_and_repaired_by_a_refreshing_up(
    server: Server, deployed: Deployment
) -> None:
    updated, deleted = _change_everything_out_of_band(server, deployed.plan)
    assert len(server_mismatches(server, deployed.plan)) >= updated + deleted

    assert preview_changes(deployed.stack) == {"update": updated, "create": deleted}
    up(deployed.stack, refresh=True)

    assert server_mismatches(server, deployed.plan) == []
    assert preview_changes(deployed.stack) == {}


def test_destroy_leaves_nothing(server: Server, deployed: Deployment) -> None:
    deployed.stack.destroy(on_output=lambda _line: None)
    root = server.client()
    if deployed.plan.ns is not None:
        assert _data(root, f"sys/namespaces/{deployed.plan.ns}") is None
    else:
        plan = deployed.plan
        assert f"{plan.kv.path}/" not in (_data(root, "sys/mounts") or {})
        assert {f"{plan.jwt.path}/", f"{plan.approle.path}/"} & set(_data(root, "sys/auth") or {}) == set()
        assert _data(root, f"sys/policies/acl/{plan.policy.name}") is None
        assert _data(root, f"auth/token/roles/{plan.token_role.role_name}") is None
    assert _data(root, f"sys/policies/acl/{deployed.plan.root_policy.name}") is None
    assert f"{deployed.plan.audit.path}/" not in (_data(root, "sys/audit") or {})
    checkpoint = json.loads(state_file(deployed.state_dir, "lifecycle").read_text())
    assert not checkpoint["checkpoint"]["latest"].get("resources")

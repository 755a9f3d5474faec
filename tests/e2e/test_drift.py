"""Idempotency and drift: a second up changes nothing (on each server: Vault 1.21 reports some
JWT-role and mount fields differently from OpenBao); out-of-band changes of six kinds are each
shown by a preview with refresh (for the right object) and repaired by an up with refresh; the
state holds no token or secret value; destroy leaves none of our objects.

Each drift case repairs what it broke before it ends. The destroy tests destroy a stack of their
own (``own_stack``: prod, protected, under another environment name on the same server), never
the shared ones, so the module runs alone and in any order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from pulumi import automation as auto

from llm_vault.preview_report import render_markdown
from llm_vault.stackfiles import STACKS

from .harness import SEEDED_SECRETS, Deployment, EnvStack, change_counts, leaks_in, state_resources
from .identities import COUNTS

pytestmark = [pytest.mark.integration, pytest.mark.engine]


def test_a_second_up_reports_no_changes(provisioned: Deployment) -> None:
    for stack in STACKS:
        changes = change_counts(provisioned.up(stack))
        assert set(changes) == {"same"}, f"{stack}: a second up changed something: {changes}"


# --------------------------------------------------------------------------------------------
# out-of-band changes: break, preview, repair, check


def _policy_text_edited(d: Deployment, r: EnvStack) -> None:
    client = d.root(r.namespace)
    text = client.sys.read_acl_policy(r.policy("openai-llm-ci"))["data"]["policy"]
    widened = text + f'\npath "{r.settings.kv.path}/data/*" {{ capabilities = ["create", "update"] }}\n'
    client.sys.create_or_update_acl_policy(r.policy("openai-llm-ci"), widened)


def _policy_text_repaired(d: Deployment, r: EnvStack) -> None:
    declared = next(p.text for p in r.settings.policies if p.name == r.policy("openai-llm-ci"))
    assert d.root(r.namespace).sys.read_acl_policy(r.policy("openai-llm-ci"))["data"]["policy"] == declared


def _role_claim_changed(d: Deployment, r: EnvStack) -> None:
    path = f"auth/{r.settings.github.path}/role/github-actions"
    client = d.root(r.namespace)
    claims = dict(client.read(path)["data"]["bound_claims"])
    claims["repository_id"] = "900000001"  # someone "fixes" the pin to another repository
    # role_type again: OpenBao treats a role write without it as an OIDC role and refuses it.
    client.write_data(path, data={"role_type": "jwt", "bound_claims": claims})


def _role_claim_repaired(d: Deployment, r: EnvStack) -> None:
    binding = next(b for b in r.settings.github.bindings if b.role == "github-actions")
    role = d.root(r.namespace).read(f"auth/{r.settings.github.path}/role/github-actions")["data"]
    assert role["bound_claims"] == binding.bound_claims


def _role_deleted(d: Deployment, r: EnvStack) -> None:
    runner = r.settings.model_runner
    d.root(r.namespace).delete(f"auth/{runner.path}/role/{runner.role}")


def _role_recreated(d: Deployment, r: EnvStack) -> None:
    runner = r.settings.model_runner
    role = d.root(r.namespace).read(f"auth/{runner.path}/role/{runner.role}")["data"]
    assert set(role["token_policies"]) == set(runner.policies)
    assert role["secret_id_ttl"] == runner.secret_id_ttl_seconds


def _mount_tuned(d: Deployment, r: EnvStack) -> None:
    d.root(r.namespace).write_data(f"sys/mounts/{r.settings.kv.path}/tune", data={"max_lease_ttl": "2h"})


def _mount_tuning_repaired(d: Deployment, r: EnvStack) -> None:
    config = d.root(r.namespace).read(f"sys/mounts/{r.settings.kv.path}")["data"]["config"]
    assert config["max_lease_ttl"] == 0  # declared: 0, the system default


def _kv_settings_changed(d: Deployment, r: EnvStack) -> None:
    d.root(r.namespace).write_data(f"{r.settings.kv.path}/config", data={"max_versions": 3, "cas_required": False})


def _kv_settings_repaired(d: Deployment, r: EnvStack) -> None:
    config = d.root(r.namespace).read(f"{r.settings.kv.path}/config")["data"]
    assert (config["max_versions"], config["cas_required"]) == (r.settings.kv.max_versions, r.settings.kv.cas_required)


def _audit_disabled(d: Deployment, r: EnvStack) -> None:
    d.root().sys.disable_audit_device(r.settings.audit.path)


def _audit_reenabled(d: Deployment, r: EnvStack) -> None:
    device = d.root().sys.list_enabled_audit_devices()["data"].get(f"{r.settings.audit.path}/")
    assert device is not None, "the audit device is still disabled"
    assert device["options"]["file_path"] == r.settings.audit.file_path


@dataclass(frozen=True)
class Drift:
    id: str
    stack: str
    change: Callable[[Deployment, EnvStack], None]
    resource: str  # the Pulumi resource the preview must name
    op: str  # what the preview must plan for it
    repaired: Callable[[Deployment, EnvStack], None]


DRIFTS = [
    Drift("policy-text-edited", "dev", _policy_text_edited, "policy-openai-llm-ci", "update", _policy_text_repaired),
    Drift(
        "role-claim-changed", "dev", _role_claim_changed, "github-role-github-actions", "update", _role_claim_repaired
    ),
    Drift("role-deleted", "staging", _role_deleted, "model-runner-role", "create", _role_recreated),
    # prod: the mount is protected there, and tuning it back must still be an in-place update.
    Drift("mount-tuning-changed", "prod", _mount_tuned, "secrets-mount", "update", _mount_tuning_repaired),
    Drift("kv-settings-changed", "staging", _kv_settings_changed, "secrets-config", "update", _kv_settings_repaired),
    Drift("audit-device-disabled", "dev", _audit_disabled, "audit-device", "create", _audit_reenabled),
]


@pytest.mark.parametrize("drift", DRIFTS, ids=lambda d: d.id)
def test_out_of_band_change_is_shown_by_preview_and_repaired_by_up(provisioned: Deployment, drift: Drift) -> None:
    drift.change(provisioned, provisioned.stacks[drift.stack])
    try:
        preview = provisioned.preview(drift.stack)

        assert not preview.errors, preview.errors
        listed = {(c.name, c.op) for c in preview.changes}
        assert listed == {(drift.resource, drift.op)}, f"the preview should list exactly the drifted object: {listed}"
        assert f"### {drift.op} `{drift.resource}`" in render_markdown(preview)
    finally:
        # Repaired even when an assertion above failed: the next case must start from a clean server.
        changes = change_counts(provisioned.up(drift.stack))
    assert changes.get(drift.op) == 1, f"the up did not {drift.op} the drifted object: {changes}"
    drift.repaired(provisioned, provisioned.stacks[drift.stack])
    COUNTS["drift kinds detected and repaired"] += 1


def test_no_drift_is_left_after_the_repairs(provisioned: Deployment) -> None:
    for stack in {d.stack for d in DRIFTS}:
        preview = provisioned.preview(stack)
        assert not preview.has_changes, f"{stack}: {[(c.name, c.op) for c in preview.changes]} {preview.errors}"


def test_the_state_holds_no_token_or_secret_value(provisioned: Deployment) -> None:
    files = provisioned.state_files()
    text = "\n".join(f.read_text() for f in files)
    # The right files: the checkpoints describe our objects.
    assert {f"{s}.json" for s in STACKS} <= {f.name for f in files}
    assert "policy-openai-llm-ci" in text and "github-roles" in text and '"github-actions":' in text
    leaks = leaks_in(text)
    assert not leaks, f"the state holds values in plaintext (kind: count): {leaks}"


OWN = "gone"  # the environment name of the destroy tests' own stack


@pytest.fixture(scope="module")
def own_stack(provisioned: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """prod (protected, with its secrets) applied once more as environment "gone", on the shared
    server beside the shared stacks (its own namespace, or its own root-layout paths and names),
    with its own state: what the destroy tests destroy."""
    from llm_vault.local_job import vault_oss_layout

    server = provisioned.server
    overrides: dict[str, object] = {
        "llm-vault:environment": OWN,
        "llm-vault:namespace": OWN,
        "llm-vault:audit": {"path": f"llm-vault-{OWN}", "filePath": str(server.workdir / "audit" / f"{OWN}.log")},
        "llm-vault:pipeline": {"path": f"github-pipeline-{OWN}"},
    }
    if server.product == "vault":
        layout = vault_oss_layout(OWN)
        pipeline = {**layout["llm-vault:pipeline"], "path": f"github-pipeline-{OWN}"}
        overrides = {**overrides, **layout, "llm-vault:pipeline": pipeline}
    saved = {key: os.environ.get(key) for key in ("VAULT_ADDR", "VAULT_TOKEN")}
    own = Deployment(server, provisioned.issuer, tmp_path_factory.mktemp("e2e-own-state"),
                     extra_overrides={"prod": overrides})
    try:
        own.up("prod")
        record = own.stacks["prod"]
        for name, keys in SEEDED_SECRETS.items():
            own.root(record.namespace).secrets.kv.v2.create_or_update_secret(
                name, secret=dict.fromkeys(keys, "test-data"), cas=0, mount_point=record.settings.kv.path
            )
        yield own
    finally:
        own.destroy_all()  # (a no-op after the destroy test)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_a_refused_destroy_keeps_the_secrets_of_a_protected_stack(own_stack: Deployment) -> None:
    """Without unprotecting, destroying a protected stack is refused where it matters: the
    namespace, the kv mount and the secrets in it survive. (The engine still deletes every
    unprotected object before it stops: policies, roles, auth methods, the audit device; an up
    puts them back, as the destroy test's unprotect-and-up would.)"""
    _, settings, stack = own_stack.open("prod")
    assert settings.protect and settings.environment == OWN
    try:
        with pytest.raises(auto.errors.CommandError, match="protected"):
            stack.destroy(refresh=True)
        assert own_stack.leftovers(["prod"]) != []  # the namespace (or the mount) is still there
        root = own_stack.root(settings.namespace)
        for name in SEEDED_SECRETS:
            # A value, not the metadata: the catalogue's metadata object is declared by the stack.
            root.secrets.kv.v2.read_secret_version(name, mount_point=settings.kv.path, raise_on_deleted_version=True)
    finally:
        own_stack.up("prod")  # whole again, whatever runs next


def test_destroy_leaves_none_of_our_objects(own_stack: Deployment) -> None:
    """Destroys its own protected stack, unprotected on purpose first; the shared stacks stay."""
    own_stack.destroy_all()
    assert own_stack.leftovers(["prod"]) == []
    resources = state_resources(own_stack.stacks["prod"].stack)
    assert resources == [], f"the state still lists {len(resources)} resources"

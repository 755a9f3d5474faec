"""``diagnose`` (``llm-vault doctor``, ``VaultSecretManager.diagnose()``) against a real server.

One case per cause users hit: the original document's three (authentication failed, secret not
found, permission denied) and the ones behind most real reports (wrong or missing namespace, kv v1
where v2 is expected, an expired token, a sealed server). Each asserts which check fails, that the
checks before it passed, and the fix printed; none of the output may contain a token.
"""

# The fixtures come from test_integration (one provisioned environment per module, no copy):
# pytest finds them by name, which ruff reads as unused imports redefined by the parameters.
# ruff: noqa: F401, F811

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator

import hvac.exceptions as hvac_errors
import pytest

from llm_vault import cli
from llm_vault.local.server import Server
from vault_secrets import Diagnosis, diagnose

from .secrecy import assert_not_leaked
from .test_integration import KV_MOUNT, Provisioned, clean_env, provisioned

pytestmark = pytest.mark.integration

ORDER = ["address", "server", "token", "namespace", "mount", "path", "access"]


def run(p: Provisioned, token: str | None, **kwargs: object) -> Diagnosis:
    kwargs.setdefault("namespace", p.namespace)
    result = diagnose(p.server.address, token, **kwargs)  # type: ignore[arg-type]
    assert_not_leaked(str(result), *(t for t in (token, p.server.root_token) if t), *p.api_keys.values())
    return result


def failed_at(result: Diagnosis, check: str) -> str:
    """The failed check's line (with its fix); every check before it ran and did not fail."""
    names = [c.name for c in result.checks]
    assert names == ORDER[: ORDER.index(check) + 1], str(result)
    assert result.failed is not None and result.failed.name == check, str(result)
    assert result.failed.fix, "a failure always says what to do"
    return result.failed.line()


def _alive(p: Provisioned, token: str) -> bool:
    try:
        p.admin().auth.token.lookup(token)
    except hvac_errors.VaultError:
        return False
    return True


@pytest.fixture
def kv_v1_mount(provisioned: Provisioned) -> Iterator[str]:
    name = f"kv1-{secrets.token_hex(3)}"
    provisioned.admin().sys.enable_secrets_engine("kv", path=name, options={"version": "1"})
    yield name
    provisioned.admin().sys.disable_secrets_engine(name)


def test_a_ci_token_reading_api_keys_passes_every_check(provisioned: Provisioned) -> None:
    result = run(provisioned, provisioned.token("openai-llm-ci"))
    assert result.ok and [c.name for c in result.checks] == ORDER, str(result)
    token_line = result.checks[2].line()
    assert "policies default, openai-llm-ci" in token_line and "renewable" in token_line
    issued = f"namespace {provisioned.namespace}" if provisioned.namespace else "the root namespace"
    assert f"issued in {issued}" in token_line
    assert f"{KV_MOUNT}/data/api-keys: read" in result.checks[-1].line()


# -- the original troubleshooting section ------------------------------------------------------


def test_authentication_failed_because_no_token_is_set(provisioned: Provisioned) -> None:
    line = failed_at(run(provisioned, None), "token")
    assert "no token: VAULT_TOKEN (or BAO_TOKEN) is not set" in line and "export VAULT_TOKEN" in line


def test_authentication_failed_because_the_token_expired(provisioned: Provisioned) -> None:
    token = provisioned.token("openai-llm-ci", ttl="1s", renewable=False)
    deadline = time.monotonic() + 30  # bounded: a stuck server clock fails the test, not hangs it
    while _alive(provisioned, token):
        assert time.monotonic() < deadline, "the 1-second token did not expire"
        time.sleep(0.2)
    line = failed_at(run(provisioned, token), "token")
    assert "invalid, expired or revoked" in line and "log in again" in line


def test_secret_not_found_because_the_mount_is_wrong(provisioned: Provisioned) -> None:
    line = failed_at(run(provisioned, provisioned.server.root_token, mount="openai-lm"), "mount")
    assert "openai-lm/ not found" in line and "bao secrets list" in line


def test_secret_not_found_because_the_path_is_wrong(provisioned: Provisioned) -> None:
    # The CI policy may list names, so the doctor can say the name is not there.
    line = failed_at(run(provisioned, provisioned.token("openai-llm-ci"), path="api-key"), "path")
    assert f"{KV_MOUNT}/api-key: no secret there" in line and f"bao kv list -mount={KV_MOUNT}" in line


def test_the_kv_v2_data_prefix_in_the_path_is_not_found(provisioned: Provisioned) -> None:
    line = failed_at(run(provisioned, provisioned.server.root_token, path="data/api-keys"), "path")
    assert "no data/ prefix" in line


def test_permission_denied_names_the_policy_that_would_have_to_grant_read(provisioned: Provisioned) -> None:
    # The model runner reads api-keys and models/*, nothing else: another path is refused.
    result = run(provisioned, provisioned.token("model-runner"), path="billing")
    line = failed_at(result, "access")
    assert result.checks[5].status == "warn"  # cannot tell whether billing exists: may not list it
    assert f"policies default, model-runner grant no read on {KV_MOUNT}/data/billing" in line
    assert f'one of them (model-runner) needs  path "{KV_MOUNT}/data/billing" {{ capabilities = ["read"] }}' in line


# -- what real reports turn out to be -----------------------------------------------------------


def _vault_oss_refuses_any_namespace(provisioned: Provisioned) -> bool:
    """On Vault OSS (no namespaces; it ignores VAULT_NAMESPACE and serves the root, see
    tests/llm_vault/local/test_server_differences.py) the doctor fails at the namespace check and
    says to unset it, instead of reporting a namespace that cannot exist as present. Returns
    whether this server was such a one (then the namespace case has been asserted here)."""
    if provisioned.server.has_namespaces:
        return False
    with pytest.raises(hvac_errors.InvalidPath, match="enterprise-only"):
        provisioned.server.client().sys.create_namespace(f"t-vs-{secrets.token_hex(4)}")
    for token in (provisioned.token("openai-llm-ci"), provisioned.server.root_token):
        line = failed_at(run(provisioned, token, namespace="no-such-ns"), "namespace")
        assert "VAULT_NAMESPACE=no-such-ns: this server has no namespaces" in line, line
        assert "fix: unset VAULT_NAMESPACE" in line, line
    return True


def test_a_token_from_one_namespace_used_in_another(provisioned: Provisioned) -> None:
    if _vault_oss_refuses_any_namespace(provisioned):
        return
    other = f"t-vs-{secrets.token_hex(4)}"
    provisioned.server.client().sys.create_namespace(other)
    try:
        line = failed_at(run(provisioned, provisioned.token("openai-llm-ci"), namespace=other), "namespace")
        assert f"VAULT_NAMESPACE={other}, but the token was issued in namespace {provisioned.namespace}" in line
        assert f"export VAULT_NAMESPACE={provisioned.namespace}" in line
    finally:
        provisioned.server.client().sys.delete_namespace(other)


def test_no_namespace_set_for_a_namespaced_token(provisioned: Provisioned) -> None:
    if provisioned.namespace is None:  # Vault OSS: every token is a root-namespace token
        result = run(provisioned, provisioned.token("openai-llm-ci"), namespace=None)
        assert result.ok and result.checks[3].line().endswith("the root namespace"), str(result)
        return
    line = failed_at(run(provisioned, provisioned.token("openai-llm-ci"), namespace=None), "namespace")
    assert "VAULT_NAMESPACE unset (root namespace)" in line
    assert f"export VAULT_NAMESPACE={provisioned.namespace}" in line


def test_a_namespace_that_does_not_exist_hints_where_the_mount_is(provisioned: Provisioned) -> None:
    if _vault_oss_refuses_any_namespace(provisioned):
        return
    result = run(provisioned, provisioned.server.root_token, namespace="no-such-ns", other_namespaces=["x"])
    line = failed_at(result, "namespace")
    assert "VAULT_NAMESPACE=no-such-ns: no such namespace" in line
    # A root token may list namespaces: the doctor finds the mount in the provisioned one.
    assert f"mount {KV_MOUNT} exists in namespace {provisioned.namespace}" in line


def test_a_root_token_without_namespace_hints_the_namespace_of_the_mount(provisioned: Provisioned) -> None:
    if provisioned.namespace is None:  # Vault OSS: the mount is in the root, where the doctor looks
        assert run(provisioned, provisioned.server.root_token, namespace=None).ok
        return
    line = failed_at(run(provisioned, provisioned.server.root_token, namespace=None), "mount")
    assert f"export VAULT_NAMESPACE={provisioned.namespace}" in line


def test_a_kv_version_1_mount_is_named_as_such(provisioned: Provisioned, kv_v1_mount: str) -> None:
    line = failed_at(run(provisioned, provisioned.server.root_token, mount=kv_v1_mount), "mount")
    assert f"{kv_v1_mount}/ is kv version 1" in line and f"bao kv enable-versioning {kv_v1_mount}" in line


def test_an_unreachable_address(provisioned: Provisioned) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    result = diagnose(f"http://127.0.0.1:{port}", "x", namespace=None)
    assert [c.name for c in result.checks] == ["address"]
    assert "cannot connect" in str(result) and "VAULT_ADDR" in str(result)


def test_a_sealed_server(openbao_persistent: Server) -> None:
    openbao_persistent.seal()
    result = diagnose(openbao_persistent.address, openbao_persistent.root_token)
    line = failed_at(result, "server")
    assert "sealed" in line and "bao operator unseal" in line
    openbao_persistent.unseal()
    assert diagnose(openbao_persistent.address, openbao_persistent.root_token).failed.name == "mount"  # type: ignore[union-attr]


# -- the two ways in ------------------------------------------------------------------------------


def test_the_manager_diagnoses_its_own_settings(provisioned: Provisioned) -> None:
    manager = provisioned.manager(vault_token=provisioned.token("openai-llm-ci"))
    assert manager.diagnose().ok
    assert manager.diagnose("nothing-here").failed.name == "path"  # type: ignore[union-attr]


def test_llm_vault_doctor_prints_one_line_per_check_and_exits_3_on_a_failure(
    provisioned: Provisioned, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("VAULT_ADDR", provisioned.server.address)
    if provisioned.namespace:
        clean_env.setenv("VAULT_NAMESPACE", provisioned.namespace)
    clean_env.setenv("VAULT_TOKEN", provisioned.token("openai-llm-ci"))
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[1] for line in out.splitlines()] == ORDER
    assert cli.main(["doctor", "--path", "api-key"]) == cli.EXIT_DOCTOR
    out = capsys.readouterr().out
    assert out.splitlines()[-2].startswith("FAIL path") and "fix:" in out.splitlines()[-1]

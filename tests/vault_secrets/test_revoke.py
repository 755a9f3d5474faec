"""A login token ends with the manager that logged in: close() revokes it (auth/token/revoke-self).

A token handed in (VAULT_TOKEN, ``vault_token=``) belongs to the caller and is kept unless
``revoke_on_close=True``; ``revoke_on_close=False`` keeps a login token until its TTL.
"""

# The fixtures come from test_integration (one provisioned environment per module, no copy):
# pytest finds them by name, which ruff reads as unused imports redefined by the parameters.
# ruff: noqa: F401, F811

from __future__ import annotations

import subprocess
import sys

import hvac
import hvac.exceptions as hvac_errors
import pytest

from vault_secrets import VaultSecretManager

from .github_token_endpoint import GitHubTokenEndpoint
from .test_integration import AUDIENCE, CI_ROLE, Provisioned, provisioned

pytestmark = pytest.mark.integration


def _is_dead(p: Provisioned, token: str) -> bool:
    """Ask the server with the token itself: a revoked token is refused (403)."""
    try:
        hvac.Client(url=p.server.address, token=token, namespace=p.namespace).auth.token.lookup_self()
    except hvac_errors.Forbidden:
        return True
    return False


def test_a_ci_jobs_oidc_token_is_revoked_when_the_manager_closes(
    provisioned: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    with GitHubTokenEndpoint(provisioned.mint_for()) as endpoint:
        for key, value in endpoint.env().items():
            monkeypatch.setenv(key, value)
        with VaultSecretManager.from_github_actions(
            CI_ROLE, AUDIENCE, vault_addr=provisioned.server.address, namespace=provisioned.namespace
        ) as ci:
            ci.get_model_credentials()
            token = str(ci.client.token)
            assert not _is_dead(provisioned, token)
    assert _is_dead(provisioned, token)


def test_an_approle_token_is_revoked_on_close_unless_told_to_keep_it(provisioned: Provisioned) -> None:
    role_id, secret_id = provisioned.approle()
    kwargs = {"vault_addr": provisioned.server.address, "namespace": provisioned.namespace}
    revoked = VaultSecretManager.from_approle(role_id, secret_id, **kwargs)
    revoked_token = str(revoked.client.token)
    revoked.close()
    assert _is_dead(provisioned, revoked_token)

    role_id, secret_id = provisioned.approle()
    kept = VaultSecretManager.from_approle(role_id, secret_id, revoke_on_close=False, **kwargs)
    kept_token = str(kept.client.token)
    kept.close()
    assert not _is_dead(provisioned, kept_token)
    provisioned.admin().auth.token.revoke(kept_token)


def test_a_token_handed_in_is_kept_unless_revoke_on_close_is_set(provisioned: Provisioned) -> None:
    handed_in = provisioned.token("openai-llm-readonly")
    with provisioned.manager(vault_token=handed_in) as manager:
        manager.get_model_credentials()
    assert not _is_dead(provisioned, handed_in)

    with provisioned.manager(vault_token=handed_in, revoke_on_close=True) as manager:
        manager.get_model_credentials()
    assert _is_dead(provisioned, handed_in)


def test_closing_with_an_already_dead_token_does_not_raise(provisioned: Provisioned) -> None:
    token = provisioned.token("openai-llm-readonly")
    manager = provisioned.manager(vault_token=token, revoke_on_close=True)
    provisioned.admin().auth.token.revoke(token)
    manager.close()  # logged, not raised: close runs on the way out
    assert _is_dead(provisioned, token)


def test_a_login_token_of_a_manager_never_closed_is_revoked_when_the_process_exits(provisioned: Provisioned) -> None:
    # A script that logs in and just ends: the child process prints its token's accessor, exits.
    role_id, secret_id = provisioned.approle()
    script = (
        "import sys\n"
        "from vault_secrets import VaultSecretManager\n"
        "m = VaultSecretManager.from_approle(sys.argv[1], sys.argv[2], vault_addr=sys.argv[3], namespace=sys.argv[4])\n"
        "m.get_model_credentials()\n"
        "print(m.token_accessor)\n"
    )
    result = subprocess.run(
        # "" is the root namespace (Vault OSS).
        [sys.executable, "-c", script, role_id, secret_id, provisioned.server.address, provisioned.namespace or ""],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    accessor = result.stdout.strip()
    with pytest.raises(hvac_errors.InvalidRequest):  # "invalid accessor": the token is gone
        provisioned.admin().auth.token.lookup_accessor(accessor)

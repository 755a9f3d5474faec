"""Where the client's connection settings come from: parameters, VAULT_*, then BAO_*."""

from __future__ import annotations

import logging
import secrets

import pytest

from vault_secrets.settings import (
    DEFAULT_ADDR,
    env_setting,
    resolve_addr,
    resolve_namespace,
    resolve_token,
    resolve_verify,
)

from .secrecy import assert_not_leaked, assert_same_secret


def test_vault_variable_wins_when_both_are_set() -> None:
    env = {"VAULT_ADDR": "http://127.0.0.1:8200", "BAO_ADDR": "http://127.0.0.1:8201"}
    assert resolve_addr(None, env) == "http://127.0.0.1:8200"


def test_bao_variable_is_used_when_vault_is_unset() -> None:
    env = {"BAO_ADDR": "http://127.0.0.1:8201/", "BAO_NAMESPACE": "dev", "BAO_TOKEN": "t-from-bao"}
    assert resolve_addr(None, env) == "http://127.0.0.1:8201"
    assert resolve_namespace(None, env) == "dev"
    assert resolve_token(None, env) == "t-from-bao"


def test_an_empty_vault_variable_counts_as_unset() -> None:
    env = {"VAULT_NAMESPACE": "", "BAO_NAMESPACE": "staging"}
    assert resolve_namespace(None, env) == "staging"


def test_a_parameter_beats_the_environment() -> None:
    env = {"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_NAMESPACE": "dev", "VAULT_TOKEN": "env-token"}
    assert resolve_addr("http://127.0.0.1:2", env) == "http://127.0.0.1:2"
    assert resolve_namespace("prod", env) == "prod"
    assert resolve_token("param-token", env) == "param-token"


def test_an_explicit_empty_namespace_means_the_root_namespace_even_when_the_environment_names_one() -> None:
    assert resolve_namespace("", {"VAULT_NAMESPACE": "dev"}) is None
    assert resolve_namespace("/dev/team/", {}) == "dev/team"


def test_defaults_without_any_setting() -> None:
    assert resolve_addr(None, {}) == DEFAULT_ADDR
    assert resolve_namespace(None, {}) is None
    assert resolve_token(None, {}) is None
    assert resolve_verify(None, {}) is None  # hvac's own defaults: VAULT_CAPATH, else system CAs
    assert resolve_verify(None, {"BAO_CACERT": "/etc/ca.pem"}) == "/etc/ca.pem"


def test_a_conflict_is_logged_by_variable_name_never_by_value(caplog: pytest.LogCaptureFixture) -> None:
    vault_token, bao_token = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    with caplog.at_level(logging.WARNING, logger="vault_secrets"):
        assert_same_secret(env_setting("TOKEN", {"VAULT_TOKEN": vault_token, "BAO_TOKEN": bao_token}), vault_token)
    assert "VAULT_TOKEN" in caplog.text and "BAO_TOKEN" in caplog.text
    assert_not_leaked(caplog.text, vault_token, bao_token)

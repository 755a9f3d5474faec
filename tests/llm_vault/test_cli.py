"""The entry point stops bad runs before the engine or the server is touched."""

from __future__ import annotations

import pytest

from llm_vault import automation, cli


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the engine was started")

    monkeypatch.setattr(automation, "open_stack", refuse)


@pytest.fixture
def server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Never contacted: every test here stops before the engine would connect.
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:9")
    monkeypatch.setenv("VAULT_TOKEN", "not-a-token")


def test_destroying_a_protected_stack_is_refused_up_front(no_engine, server_env, tmp_path) -> None:
    with pytest.raises(SystemExit, match="protect: true; set it to false"):
        cli.main(["destroy", "--stack", "prod", "--yes", "--state-dir", str(tmp_path)])


def test_destroy_needs_confirmation(no_engine, server_env, tmp_path) -> None:
    with pytest.raises(SystemExit, match="--yes"):
        cli.main(["destroy", "--stack", "dev", "--state-dir", str(tmp_path)])


def test_without_a_server_address_nothing_runs(no_engine, monkeypatch, tmp_path) -> None:
    for name in ("VAULT_ADDR", "VAULT_TOKEN", "BAO_ADDR", "BAO_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit, match="VAULT_ADDR and VAULT_TOKEN"):
        cli.main(["up", "--stack", "dev", "--state-dir", str(tmp_path)])


def test_a_config_error_names_the_key_and_exits_1(no_engine, server_env, monkeypatch, tmp_path, capsys) -> None:
    target = automation.StackTarget
    monkeypatch.setattr(
        automation,
        "StackTarget",
        lambda **kw: target(**kw, overrides={"llm-vault:kv": {"maxVersions": "ten"}}),
    )
    assert cli.main(["preview", "--stack", "dev", "--state-dir", str(tmp_path)]) == cli.EXIT_CONFIG
    assert "llm-vault:kv.maxVersions: must be a whole number" in capsys.readouterr().err


def test_bao_variables_work_when_vault_ones_are_unset(monkeypatch) -> None:
    for name in ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BAO_ADDR", "http://127.0.0.1:8200")
    monkeypatch.setenv("BAO_TOKEN", "t")
    assert cli.vault_env() == {"VAULT_ADDR": "http://127.0.0.1:8200", "VAULT_TOKEN": "t"}


def test_the_stack_target_never_shows_its_environment() -> None:
    target = automation.StackTarget(stack="dev", env={"VAULT_TOKEN": "s.sensitive"})
    assert "sensitive" not in repr(target)


def test_doctor_stops_at_an_unreachable_address_with_exit_3(monkeypatch, capsys) -> None:
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:9")  # discard port: nothing listens
    monkeypatch.delenv("BAO_ADDR", raising=False)
    assert cli.main(["doctor"]) == cli.EXIT_DOCTOR
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("FAIL address   http://127.0.0.1:9: cannot connect")
    assert lines[1].strip().startswith("fix: start the server, or set VAULT_ADDR")
    assert len(lines) == 2  # nothing after the first failure

"""``llm_vault.automation``: recovery from an interrupted run, locks, and errors as one line.

The unit tests need nothing; the others run the real engine against a server of this module
(never the shared one: a test here that went wrong would otherwise apply the dev stack to the
server the end-to-end tests use). Interrupted runs are set up exactly: the resource is moved
from the state's resources back to a pending create, as the engine leaves it when it is killed
after the provider's write and before the state save. ``test_crash_recovery`` kills real runs.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pytest
import yaml
from pulumi import automation as auto

from llm_vault import automation, cli, engine
from llm_vault.local.server import Server, start_server
from llm_vault.local_job import container_name, describe
from vault_provider import args as a
from vault_provider.builtin import _client
from vault_provider.builtin._provider import RECOVERABLE_KEY
from vault_provider.builtin.backend import BuiltinBackend
from vault_provider.builtin.policy import PolicyProvider

POLICY = 'path "openai-llm/data/*" { capabilities = ["read"] }\n'
THEIRS = 'path "*" { capabilities = ["list"] }\n'


# -- unit ---------------------------------------------------------------------------------------


def test_a_backend_password_is_masked_in_urls_and_in_any_message(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgres://pulumi:s3cr%2Ft@127.0.0.1:5432/state?sslmode=disable"
    assert automation.mask_url(url) == "postgres://pulumi:****@127.0.0.1:5432/state?sslmode=disable"
    monkeypatch.setenv("PULUMI_BACKEND_URL", url)
    text = automation.mask_text(f"failed to open {url}: password s3cr/t rejected")
    assert "s3cr" not in text
    assert "postgres://pulumi:****@127.0.0.1" in text


def test_the_engines_lock_lines_are_read() -> None:
    message = (
        "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or "
        "delete the lock file with `pulumi cancel`.\n"
        "  postgres://****:****@127.0.0.1:5432/s/.pulumi/locks/organization/llm-vault/dev/1.json: created by "
        "root@ci-runner-7 (pid 430) at 2026-01-02T03:04:05.123456789Z\n"
    )
    (lock,) = automation.locks_in_message(message)
    assert (lock.user, lock.host, lock.pid) == ("root", "ci-runner-7", 430)
    assert lock.since == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def _lock(host: str, pid: int, age_minutes: float) -> automation.Lock:
    return automation.Lock("file:///x.json", "root", host, pid, datetime.now(UTC) - timedelta(minutes=age_minutes))


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_lock_is_stale_only_when_its_owner_is_provably_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    here = socket.gethostname()
    assert "no longer running" in (automation.stale_because(_lock(here, _dead_pid(), 1)) or "")
    # This process is alive but is not the engine: a recycled pid.
    assert "another program" in (automation.stale_because(_lock(here, os.getpid(), 1)) or "")
    monkeypatch.setattr(automation, "_is_pulumi", lambda pid: True)
    assert automation.stale_because(_lock(here, os.getpid(), 600)) is None  # a live engine here, however old
    assert automation.stale_because(_lock("elsewhere", 1, 5)) is None  # another host: cannot tell yet
    assert "minutes old" in (automation.stale_because(_lock("elsewhere", 1, 61)) or "")
    monkeypatch.setenv(automation.STALE_LOCK_MINUTES_ENV, "10")
    assert automation.stale_because(_lock("elsewhere", 1, 11)) is not None


def test_each_checkout_gets_its_own_container_name(tmp_path: Path) -> None:
    one, two = container_name(tmp_path / "a" / ".state" / "local"), container_name(tmp_path / "b" / ".state" / "local")
    assert one != two
    assert one == container_name(tmp_path / "a" / ".state" / "local")
    assert one.startswith("llm-vault-local-")


def test_the_file_backend_writes_no_metadata_sidecars() -> None:
    # Sidecars are written in place, non-atomically: a kill leaves an empty one that breaks the stack.
    assert engine.file_backend_url(Path("/s")) == "file:///s?metadata=skip"
    assert engine.with_file_metadata_skipped("file:///s?metadata=write") == "file:///s?metadata=write"
    assert engine.with_file_metadata_skipped("postgres://h/db") == "postgres://h/db"
    assert engine.file_backend_dir("file:///s/b?metadata=skip") == Path("/s/b")


def test_torn_metadata_and_temp_files_of_a_killed_write_are_removed(tmp_path: Path) -> None:
    stacks = tmp_path / ".pulumi" / "stacks" / "llm-vault"
    stacks.mkdir(parents=True)
    (stacks / "dev.json").write_text("{}")
    (stacks / "dev.json.attrs").write_text("")  # torn
    (stacks / "dev.json.bak.attrs").write_text('{"md5": "x"}')  # fine
    (stacks / "dev.json.18ed883ad3feb28b.tmp").write_text("{")
    notes = engine.repair_file_backend(tmp_path)
    assert notes == [
        "removed 1 torn metadata file(s) of the file backend",
        "removed 1 half-written temp file(s) of the file backend",
    ]
    assert sorted(p.name for p in stacks.iterdir()) == ["dev.json", "dev.json.bak.attrs"]


def test_the_passphrase_is_generated_once_private_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(automation.PASSPHRASE_ENV, raising=False)
    first = automation.passphrase(tmp_path / "state")
    assert automation.passphrase(tmp_path / "state") == first
    assert stat.S_IMODE((tmp_path / "state" / automation.PASSPHRASE_FILE).stat().st_mode) == 0o600
    monkeypatch.setenv(automation.PASSPHRASE_ENV, "from-the-environment")
    assert automation.passphrase(tmp_path / "state") == "from-the-environment"


def test_a_shared_backend_needs_the_teams_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(automation.PASSPHRASE_ENV, raising=False)
    shared = "postgres://pulumi:s3cret@127.0.0.1:5432/state"
    with pytest.raises(automation.BackendConfigError, match="set PULUMI_CONFIG_PASSPHRASE") as info:
        automation.passphrase(tmp_path / "state", shared)
    assert "s3cret" not in str(info.value)
    assert not (tmp_path / "state" / automation.PASSPHRASE_FILE).exists()  # none generated for it
    monkeypatch.setenv(automation.PASSPHRASE_ENV, "the-teams")
    assert automation.passphrase(tmp_path / "state", shared) == "the-teams"


def test_every_stack_has_one_layout_under_its_state_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    checked_in = automation.StackTarget("dev", tmp_path / "state")
    given = automation.StackTarget("bench", tmp_path / "state", config={"vault:address": "http://127.0.0.1:1"})
    for target in (checked_in, given):
        assert target.backend_url == f"file://{tmp_path}/state/backend?metadata=skip"
        assert target.workspace_dir == tmp_path / "state" / "workspaces" / target.stack
    assert automation.state_file(tmp_path / "state", "dev") == (
        tmp_path / "state" / "backend" / ".pulumi" / "stacks" / "llm-vault" / "dev.json"
    )


def _checkout(tmp_path: Path) -> Path:
    source = tmp_path / "checkout"
    source.mkdir()
    (source / "Pulumi.yaml").write_text(
        "name: llm-vault\nruntime:\n  name: python\n  options:\n    virtualenv: .venv\nmain: infra/\n"
    )
    (source / "Pulumi.dev.yaml").write_text("config:\n  llm-vault:environment: dev\n")
    (source / "Pulumi.prod.yaml").write_text("config: {}\n")
    return source


def test_the_workspace_gets_the_project_file_and_that_stack_generated_from_the_checked_in_one(
    tmp_path: Path,
) -> None:
    source = _checkout(tmp_path)
    before = {p.name: p.read_text() for p in source.iterdir()}
    target = automation.StackTarget(
        "dev", tmp_path / "state", overrides={"llm-vault:extra": "x"}, secrets={"vault:token": "t0k"},
        source_root=source,
    )
    automation._write_workspace(target)

    work = target.workspace_dir
    assert sorted(p.name for p in work.iterdir()) == ["Pulumi.dev.yaml", "Pulumi.yaml"]
    project = yaml.safe_load((work / "Pulumi.yaml").read_text())
    assert "main" not in project
    assert project["runtime"]["options"]["virtualenv"] == str(source / ".venv")
    stack_text = (work / "Pulumi.dev.yaml").read_text()
    assert yaml.safe_load(stack_text)["config"] == {"llm-vault:environment": "dev", "llm-vault:extra": "x"}
    assert "t0k" not in stack_text  # a secret is set through the engine, encrypted
    assert {p.name: p.read_text() for p in source.iterdir()} == before


def test_a_config_given_directly_needs_no_stack_file(tmp_path: Path) -> None:
    source = _checkout(tmp_path)
    target = automation.StackTarget(
        "bench", tmp_path / "state", config={"vault:address": "http://127.0.0.1:1", "llm-vault:adopt": ["a"]},
        overrides={"llm-vault:adopt": ["b"]}, secrets={"vault:token": "t0k"}, source_root=source,
    )
    assert target.config_values() == {
        "vault:address": "http://127.0.0.1:1", "llm-vault:adopt": ["b"], "vault:token": "t0k"
    }
    automation._write_workspace(target)
    stack_text = (target.workspace_dir / "Pulumi.bench.yaml").read_text()
    assert yaml.safe_load(stack_text)["config"] == {"vault:address": "http://127.0.0.1:1", "llm-vault:adopt": ["b"]}
    assert "t0k" not in stack_text
    assert "t0k" not in repr(target)


def test_a_run_validates_its_stack_config_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The preflight, the job and the inline program share one validation while the values hold.
    import infra.config

    calls: list[int] = []
    real = infra.config.load_settings
    monkeypatch.setattr(infra.config, "load_settings", lambda raw, **kw: calls.append(1) or real(raw, **kw))
    target = automation.StackTarget(stack="dev", state_dir=tmp_path)
    first = target.settings()
    assert target.settings() is first and len(calls) == 1
    # A changed override is new config: validated again, and its errors still name the key.
    target.overrides["llm-vault:kv"] = {"maxVersions": 3}
    assert target.settings().kv.max_versions == 3 and len(calls) == 2
    target.overrides["llm-vault:kv"] = {"maxVersions": 0}
    with pytest.raises(infra.config.ConfigError, match=r"^llm-vault:kv\.maxVersions: must be at least 1"):
        target.settings()


# -- against a server ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    try:
        srv = start_server("dev", workdir=tmp_path_factory.mktemp("openbao-automation"))
    except Exception as exc:
        pytest.fail(f"could not start an OpenBao server (dev): {exc}", pytrace=False)
    yield srv
    srv.stop()


def _target(server: Server, state_dir: Path) -> automation.StackTarget:
    return automation.StackTarget(
        stack="dev",
        state_dir=state_dir,
        overrides={"vault:address": server.address},
        env={"VAULT_ADDR": server.address, "VAULT_TOKEN": server.root_token},
    )


def _policies(*names: str) -> Callable[[], None]:
    def program() -> None:
        backend = BuiltinBackend()
        for name in names:
            backend.declare(f"policy-{name}", a.PolicyArgs(name=name, policy=POLICY))

    return program


class Said(list[str]):
    def __call__(self, line: str) -> None:
        self.append(line)


def _interrupt_create(state_dir: Path, resource_of: str, **inputs: Any) -> None:
    """Make the state what a run killed during the create of ``resource_of`` leaves: a pending create
    (with ``inputs`` changed), no resource. Written into the file backend's checkpoint directly:
    `pulumi stack import` drops pending operations."""
    path = automation.state_file(state_dir, "dev")
    document = json.loads(path.read_text())
    latest = document["checkpoint"]["latest"]
    resource = next(r for r in latest["resources"] if r["urn"].endswith(f"::policy-{resource_of}"))
    latest["resources"] = [r for r in latest["resources"] if r is not resource]
    pending = {k: v for k, v in resource.items() if k not in ("id", "outputs")}
    pending["inputs"] = {**pending["inputs"], **inputs}
    latest["pending_operations"] = [{"resource": pending, "type": "creating"}]
    path.write_text(json.dumps(document))


def _names(server: Server) -> list[str]:
    return list(server.client().sys.list_acl_policies()["data"]["keys"])


@pytest.mark.integration
@pytest.mark.engine
def test_an_interrupted_create_whose_object_is_on_the_server_is_imported(
    server: Server, tmp_path: Path
) -> None:
    target = _target(server, tmp_path / "state")
    program = _policies("imp-a", "imp-b")
    stack = automation.open_stack(target, program)
    automation.refresh_then_up(stack)
    _interrupt_create(tmp_path / "state", "imp-b")

    said = Said()
    stack = automation.open_stack(target, program, say=said)
    assert said == [
        "recovered stack dev after an interrupted run: imported 1 object(s) its interrupted create had made: "
        "vault Policy 'imp-b' in the root namespace"
    ]
    result = automation.refresh_then_up(stack)
    assert {k: v for k, v in (result.summary.resource_changes or {}).items() if k != "same"} == {}
    automation.refresh_then_destroy(stack)
    assert "imp-b" not in _names(server)


@pytest.mark.integration
@pytest.mark.engine
def test_an_interrupted_create_with_nothing_on_the_server_is_cleared(server: Server, tmp_path: Path) -> None:
    target = _target(server, tmp_path / "state")
    program = _policies("clr-a", "clr-b")
    stack = automation.open_stack(target, program)
    automation.refresh_then_up(stack)
    _interrupt_create(tmp_path / "state", "clr-b")
    server.client().sys.delete_acl_policy("clr-b")  # the kill came before the write

    said = Said()
    stack = automation.open_stack(target, program, say=said)
    assert "cleared 1 pending create(s) (nothing of ours on the server to import): vault Policy 'clr-b'" in said[0]
    result = automation.refresh_then_up(stack)
    changes: dict[str, int] = {str(k): v for k, v in (result.summary.resource_changes or {}).items()}
    assert changes.get("create") == 1
    assert "clr-b" in _names(server)
    automation.refresh_then_destroy(stack)


def _count_exports(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    exports: list[str] = []
    real = auto.Stack.export_stack
    monkeypatch.setattr(auto.Stack, "export_stack", lambda self: exports.append(self.name) or real(self))
    return exports


@pytest.mark.integration
@pytest.mark.engine
def test_a_stack_with_nothing_to_recover_is_opened_without_asking_the_engine_for_its_state(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `stack export` is a CLI process and the passphrase's key derivation: ~0.4 s of every command.
    target = _target(server, tmp_path / "state")
    program = _policies("quiet-a")
    automation.refresh_then_up(automation.open_stack(target, program))
    exports = _count_exports(monkeypatch)

    said = Said()
    stack = automation.open_stack(target, program, say=said)

    assert (exports, said) == ([], [])
    _interrupt_create(tmp_path / "state", "quiet-a")  # now there is something to do: the engine is asked
    stack = automation.open_stack(target, program, say=said)
    assert exports == ["dev"] and "imported 1 object(s)" in said[0]
    automation.refresh_then_destroy(stack)


def test_only_a_plain_file_checkpoint_with_nothing_to_do_skips_the_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    target = automation.StackTarget(stack="dev", state_dir=tmp_path, config={})
    path = automation.checkpoint_file(target)
    assert path == automation.state_file(tmp_path, "dev")
    assert path is not None
    path.parent.mkdir(parents=True)
    clean = {"checkpoint": {"latest": {"resources": [], "pending_operations": []}}}
    path.write_text(json.dumps(clean))
    assert automation._checkpoint_says_nothing_to_recover(target)

    path.with_name("dev.json.zst").write_text("(a compressed checkpoint the engine may read first)")
    assert not automation._checkpoint_says_nothing_to_recover(target)
    path.with_name("dev.json.zst").unlink()
    path.write_text('{"checkpoint": {"latest": {"resources": [')  # torn
    assert not automation._checkpoint_says_nothing_to_recover(target)
    path.write_text(json.dumps({"checkpoint": {"latest": {"pending_operations": [{"type": "creating"}]}}}))
    assert not automation._checkpoint_says_nothing_to_recover(target)
    monkeypatch.setenv("PULUMI_BACKEND_URL", "postgres://llm_vault@127.0.0.1:5432/state")
    assert automation.checkpoint_file(target) is None
    assert not automation._checkpoint_says_nothing_to_recover(target)


@pytest.mark.integration
@pytest.mark.engine
def test_an_object_that_was_there_before_our_create_is_never_taken_over(
    server: Server, tmp_path: Path
) -> None:
    server.client().sys.create_or_update_acl_policy("theirs", THEIRS)
    # What check records for it: the object is there before the create, so it is not ours.
    with _client.connected({"vault:address": server.address}, {"VAULT_TOKEN": server.root_token}):
        checked = PolicyProvider().check({}, {"name": "theirs", "policy": POLICY}).inputs
    assert checked[RECOVERABLE_KEY] is False

    target = _target(server, tmp_path / "state")
    program = _policies("own", "theirs-stand-in")
    stack = automation.open_stack(target, program)
    automation.refresh_then_up(stack)
    # A run killed during the create of "theirs" (a program that now declares it): the pending
    # create has the inputs check recorded.
    _interrupt_create(tmp_path / "state", "theirs-stand-in", name="theirs", **{RECOVERABLE_KEY: False})
    server.client().sys.delete_acl_policy("theirs-stand-in")

    said = Said()
    stack = automation.open_stack(target, _policies("own", "theirs"), say=said)
    assert "vault Policy 'theirs' in the root namespace (was there before this stack's create: not taken over)" in (
        said[0]
    )
    with pytest.raises(automation.EngineError, match="already exists and this stack did not create it"):
        automation.refresh_then_up(stack)
    assert server.client().sys.read_acl_policy("theirs")["data"]["policy"] == THEIRS
    automation.refresh_then_destroy(automation.open_stack(target, _policies("own")))
    assert server.client().sys.read_acl_policy("theirs")["data"]["policy"] == THEIRS
    server.client().sys.delete_acl_policy("theirs")


def _write_lock(state_dir: Path, host: str, pid: int, since: datetime) -> Path:
    folder = state_dir / "backend" / ".pulumi" / "locks" / "organization" / "llm-vault" / "dev"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4()}.json"
    stamp = since.isoformat().replace("+00:00", "Z")
    path.write_text(json.dumps({"pid": pid, "username": "root", "hostname": host, "timestamp": stamp}))
    return path


@pytest.mark.integration
@pytest.mark.engine
def test_a_lock_left_by_a_dead_process_is_removed_and_said(server: Server, tmp_path: Path) -> None:
    target = _target(server, tmp_path / "state")
    program = _policies("lock-a")
    automation.refresh_then_up(automation.open_stack(target, program))
    lock = _write_lock(tmp_path / "state", socket.gethostname(), _dead_pid(), datetime.now(UTC))

    said = Said()
    stack = automation.open_stack(target, program, say=said)
    assert not lock.exists()
    assert "removed the stale lock of root@" in said[0]
    assert "is no longer running on this host" in said[0]
    automation.refresh_then_destroy(stack)


@pytest.mark.integration
@pytest.mark.engine
def test_a_lock_of_a_run_that_may_be_live_stops_the_cli_with_one_line(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VAULT_ADDR", server.address)
    monkeypatch.setenv("VAULT_TOKEN", server.root_token)
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    automation.open_stack(_target(server, tmp_path / "state"), lambda: None)  # the stack exists, empty
    # Another host, 2 minutes ago: it may be running; not a race of this instant (no retries).
    lock = _write_lock(tmp_path / "state", "ci-runner-7", 4312, datetime.now(UTC) - timedelta(minutes=2))
    code = cli.main(["up", "--stack", "dev", "--state-dir", str(tmp_path / "state")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_ENGINE
    assert err.startswith("error: stack dev is locked by root@ci-runner-7 (pid 4312, since ")
    assert "which may still be running: wait for it to finish and run again" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert lock.exists()  # never taken from a run that may be live
    with pytest.raises(hvac.exceptions.InvalidPath):
        server.client().sys.list_namespaces()  # nothing was applied: no namespace at all


@pytest.mark.integration
@pytest.mark.engine
def test_an_engine_error_is_one_line_and_a_next_step(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = server.client()
    # Someone's auth method where the dev stack puts its pipeline trust: the stack must refuse it.
    client.sys.enable_auth_method("jwt", path="github-pipeline-dev")
    monkeypatch.setenv("VAULT_ADDR", server.address)
    monkeypatch.setenv("VAULT_TOKEN", server.root_token)
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    state = tmp_path / "state"
    try:
        code = cli.main(["up", "--stack", "dev", "--state-dir", str(state)])
        err = capsys.readouterr().err
        assert code == cli.EXIT_ENGINE
        assert "vault AuthBackend 'github-pipeline-dev' in the root namespace already exists and this stack did" in err
        assert "\nnext: that object is not this stack's" in err
        assert "Traceback" not in err and server.root_token not in err
        # A half-applied server: `local status` reads it back, a namespace with nothing in it yet too.
        client.sys.create_namespace("half")
        table = describe(client, ["dev", "half"])
        rows = [line.split() for line in table.splitlines()]
        assert ["half", "namespace", "half"] in rows and ["half", "policies", "0"] in rows
    finally:
        assert cli.main(["destroy", "--stack", "dev", "--yes", "--state-dir", str(state)]) == 0
        client.sys.disable_auth_method("github-pipeline-dev")
        client.sys.delete_namespace("half")

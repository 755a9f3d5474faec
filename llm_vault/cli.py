"""``llm-vault``: the project's entry point.

    llm-vault preview --stack dev [--report preview-dev.md]   refresh, then show the diff
    llm-vault up --stack dev                                    refresh, then apply
    llm-vault drift --stack dev [--report drift-dev.md]        exit 2 when the server differs
    llm-vault destroy --stack dev --yes
    llm-vault local up [--stacks dev,staging,prod]             the main job: a local OpenBao, applied
    llm-vault local preview [--stacks dev]                      the local server's drift, as a report
    llm-vault local status | local down
    llm-vault doctor [--namespace dev] [--mount openai-llm] [--path api-keys]
                                                               why a secret cannot be read; exit 3 on a failure

Against a real server the Vault address and token come from VAULT_ADDR/VAULT_TOKEN (or
BAO_ADDR/BAO_TOKEN); they are never written to a stack file or printed. Every command
validates the stack's config first: a bad value stops it before any call to the server.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infra.config import ConfigError, Settings
from llm_vault import automation
from llm_vault.connection_guard import check_connection_config
from llm_vault.stackfiles import STACKS, UnknownStack, check_stack

EXIT_CONFIG = 1
EXIT_DRIFT = 2
EXIT_DOCTOR = 3
EXIT_ENGINE = 4  # the engine or the server refused: the message says why and what to do


def vault_env() -> dict[str, str]:
    """Address, token and namespace for the provider, from VAULT_* or else BAO_*."""
    env: dict[str, str] = {}
    for name in ("ADDR", "TOKEN", "NAMESPACE"):
        value = os.environ.get(f"VAULT_{name}") or os.environ.get(f"BAO_{name}")
        if value:
            env[f"VAULT_{name}"] = value
    return env


def preflight(target: automation.StackTarget) -> Settings:
    """Everything that must hold before the engine or the server is touched."""
    settings = target.settings()
    check_connection_config(target.config_values(), target.env, settings)
    missing = [k for k in ("VAULT_ADDR", "VAULT_TOKEN") if k not in target.env]
    if missing:
        raise SystemExit(f"error: set {' and '.join(missing)} (or BAO_ADDR/BAO_TOKEN) to reach the server")
    if settings.audit.mode == "declared":
        _require_an_audit_device(target.env)
    return settings


def _require_an_audit_device(env: dict[str, str]) -> None:
    import hvac

    client = hvac.Client(url=env["VAULT_ADDR"], token=env["VAULT_TOKEN"])  # root namespace: audit lives there
    devices = client.sys.list_enabled_audit_devices().get("data", {})
    if not devices:
        raise SystemExit(
            "error: llm-vault:audit.mode is 'declared' but the server has no audit device enabled; "
            'declare one in the server\'s config file (audit "file" ...) before applying'
        )


def _target(stack: str, args: argparse.Namespace, **extra: Any) -> automation.StackTarget:
    state_dir = Path(args.state_dir) if getattr(args, "state_dir", None) else automation.default_state_dir()
    return automation.StackTarget(stack=stack, state_dir=state_dir, env=vault_env(), **extra)


def _print(line: str) -> None:
    sys.stdout.write(line if line.endswith("\n") else line + "\n")
    sys.stdout.flush()


def preview_with_undeclared(target: automation.StackTarget, on_output: Any = None) -> tuple[str, bool]:
    """The markdown report of a refresh + preview, plus what a refresh cannot see (objects in our
    backends and namespace that the stack does not declare); True when the server differs."""
    from llm_vault.preview_report import collect_preview, render_markdown
    from llm_vault.undeclared import find_undeclared, render_undeclared

    settings = preflight(target)
    stack = automation.open_stack(target, say=on_output or _print, read_only_ok=True)
    preview = collect_preview(stack, stack_name=target.stack, on_output=on_output, env=target.env)
    undeclared = find_undeclared(settings, target.env)
    return render_markdown(preview) + render_undeclared(undeclared), bool(preview.has_changes or undeclared)


def cmd_preview(args: argparse.Namespace, *, drift: bool = False) -> int:
    report, differs = preview_with_undeclared(_target(args.stack, args), None if args.quiet else _print)
    if args.report:
        Path(args.report).write_text(report)
        _print(f"report written to {args.report}")
    else:
        _print(report)
    if drift and differs:
        return EXIT_DRIFT
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    for name in _stacks(args):
        target = _target(name, args)
        preflight(target)
        stack = automation.open_stack(target, say=_print)
        result = automation.refresh_then_up(stack, on_output=_print)
        _print(f"{name}: {result.summary.result}, changes {result.summary.resource_changes}")
    return 0


def cmd_destroy(args: argparse.Namespace) -> int:
    if not args.yes:
        raise SystemExit("error: destroy deletes the stack's objects from the server; pass --yes to confirm")
    target = _target(args.stack, args)
    settings = preflight(target)
    if settings.protect:
        # The engine would delete every unprotected object before refusing the protected ones:
        # policies, roles and auth methods gone, a half-destroyed environment. Refuse up front.
        raise SystemExit(
            f"error: stack {args.stack} sets llm-vault:protect: true; set it to false and run "
            f"`llm-vault up --stack {args.stack}` first, on purpose, then destroy"
        )
    stack = automation.open_stack(target, say=_print)
    automation.refresh_then_destroy(stack, on_output=_print)
    return 0


def _stacks(args: argparse.Namespace) -> list[str]:
    if getattr(args, "all", False):
        return list(STACKS)
    return [args.stack]


def cmd_local(args: argparse.Namespace) -> int:
    from llm_vault import local_job

    if args.action == "up":
        stacks = [check_stack(s.strip()) for s in args.stacks.split(",") if s.strip()]
        return local_job.up(stacks, prefer=args.runtime, product=args.server)
    if args.action == "status":
        return local_job.status()
    if args.action == "preview":
        return local_job.preview(check_stack(args.stacks.split(",")[0].strip()))
    return local_job.down()


def cmd_doctor(args: argparse.Namespace) -> int:
    """The checks of vault_secrets.diagnose from the caller's environment, one line each."""
    from vault_secrets import settings
    from vault_secrets.diagnose import diagnose

    result = diagnose(
        settings.resolve_addr(args.address),
        settings.resolve_token(None),
        namespace=settings.resolve_namespace(args.namespace),
        mount=args.mount,
        path=args.path,
        verify=settings.resolve_verify(None),
        other_namespaces=_stack_namespaces(),
    )
    for line in result.lines():
        _print(line)
    return 0 if result.ok else EXIT_DOCTOR


def _stack_namespaces() -> list[str]:
    """The stacks' namespaces: where the doctor looks for a mount that is not where it was asked."""
    from llm_vault.stackfiles import stack_config

    found = []
    for name in STACKS:
        try:
            found.append(str(stack_config(name).get("llm-vault:namespace") or ""))
        except (OSError, ValueError):
            continue  # a hint source only: a broken stack file is reported by the stack commands
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-vault", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def stack_cmd(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        # Any Pulumi.<name>.yaml is a stack (checked in main(), with the list of stacks there are).
        p.add_argument("--stack", default=os.environ.get("STACK", "dev"), help=f"one of {', '.join(STACKS)}")
        p.add_argument("--state-dir", help="local state folder (default .state/; PULUMI_BACKEND_URL wins)")
        return p

    for name, help_ in (("preview", "refresh, then preview the changes"), ("drift", "exit 2 when the server differs")):
        p = stack_cmd(name, help_)
        p.add_argument("--report", help="write the markdown report here instead of printing it")
        p.add_argument("--quiet", action="store_true", help="do not stream the engine's output")
    up = stack_cmd("up", "refresh, then apply")
    up.add_argument("--all", action="store_true", help="every stack, in promotion order: " + ", ".join(STACKS))
    destroy = stack_cmd("destroy", "delete the stack's objects (protected ones refuse)")
    destroy.add_argument("--yes", action="store_true")

    local = sub.add_parser("local", help="the main job: a local OpenBao provisioned with the program")
    local.add_argument("action", choices=("up", "preview", "status", "down"))
    local.add_argument("--stacks", default="dev", help="comma-separated stacks to apply (default dev)")
    local.add_argument("--runtime", choices=("auto", "container", "process"), default="auto")
    local.add_argument("--server", choices=("openbao", "vault"), default=os.environ.get("SERVER", "openbao"),
                       help="OpenBao (default) or HashiCorp Vault OSS (no namespaces: per-environment mount paths)")

    doctor = sub.add_parser("doctor", help="check address, seal, token, namespace, mount, path and access")
    doctor.add_argument("--address", help="default: VAULT_ADDR (or BAO_ADDR)")
    doctor.add_argument("--namespace", help="default: VAULT_NAMESPACE (or BAO_NAMESPACE); '' for the root")
    doctor.add_argument("--mount", default="openai-llm", help="kv-v2 mount (default openai-llm)")
    doctor.add_argument("--path", default="api-keys", help="secret path in the mount, no data/ (default api-keys)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "stack", None) is not None:
            check_stack(args.stack)
        if args.command == "preview":
            return cmd_preview(args)
        if args.command == "drift":
            return cmd_preview(args, drift=True)
        if args.command == "up":
            return cmd_up(args)
        if args.command == "destroy":
            return cmd_destroy(args)
        if args.command == "doctor":
            return cmd_doctor(args)
        return cmd_local(args)
    except ConfigError as err:
        print(f"config error: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except UnknownStack as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except (automation.StackLockedError, automation.BackendConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ENGINE
    except automation.EngineError as err:
        print(f"error: {err}", file=sys.stderr)
        print(f"next: {next_step(err.detail, err.stack)}", file=sys.stderr)
        return EXIT_ENGINE
    except Exception as err:
        line = expected_failure(err)
        if line is None:
            raise  # a bug of ours: the traceback is what a bug report needs
        print(f"error: {line}", file=sys.stderr)
        return EXIT_ENGINE


def next_step(detail: str, stack: str) -> str:
    """What to do about an engine error, from its words."""
    lowered = detail.lower()
    if "already exists and this stack did not create it" in lowered:
        return "that object is not this stack's: remove it, or list it under llm-vault:adopt (see the message)"
    if "sealed" in lowered or "503" in lowered:
        return "unseal the server (or wait for a leader), then run the same command again"
    if "cannot connect" in lowered or "connection refused" in lowered:
        return "check VAULT_ADDR and that the server is up, then run the same command again"
    if "permission denied" in lowered or "403" in lowered:
        return "the token lacks a capability this stack needs: use the stack's apply token (docs/ci.md)"
    if "passphrase" in lowered or "decrypt" in lowered:
        return "set PULUMI_CONFIG_PASSPHRASE to the passphrase this state was written with"
    return f"fix what the message says and run the command again (`llm-vault preview --stack {stack}` shows the plan)"


def expected_failure(err: BaseException) -> str | None:
    """One line for a failure a user can expect (server unreachable, refused request), else None."""
    import hvac.exceptions
    import requests

    from llm_vault.local.server import ServerStartError
    from vault_provider.builtin._client import VaultObjectError, describe

    if isinstance(err, (hvac.exceptions.VaultError, requests.RequestException)):
        return f"the server refused or did not answer: {describe(err)}; check VAULT_ADDR, the token and the seal status"
    if isinstance(err, VaultObjectError):
        return automation.mask_text(str(err).splitlines()[0])
    if isinstance(err, ServerStartError):
        return str(err)  # with the server's log tail (tokens blanked): why it did not start
    return None


if __name__ == "__main__":
    raise SystemExit(main())

"""The main job: a local OpenBao, provisioned by the program, and a table of what it holds.

``llm-vault local up`` starts (or reuses) a detached OpenBao on 127.0.0.1 and a local
GitHub-shaped OIDC issuer, applies the chosen stacks through the real engine, then reads
the server back and prints what it holds. The JWT backends trust the local issuer: the
server must never be asked to fetch GitHub's discovery document from here.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import hvac

from infra.config import Settings
from llm_vault import automation, toolchain
from llm_vault.local import database_job
from llm_vault.local import server as local_server

WORKDIR = Path(os.environ.get("LLM_VAULT_LOCAL_DIR", toolchain.REPO_ROOT / ".state" / "local"))
ISSUER_FILE = "issuer.json"


def container_name(workdir: Path) -> str:
    """The detached server's container name, one per work folder (so per checkout): two clones on
    one machine, or CI beside a developer's server, each run their own. Ports are free ones."""
    digest = hashlib.sha256(str(workdir.resolve()).encode()).hexdigest()[:10]
    return f"{local_server.DETACHED_NAME}-{digest}"


def _say(line: str) -> None:
    print(f"[llm-vault] {line}", flush=True)


def _issuer_alive(state: dict[str, Any]) -> bool:
    try:
        cmdline = Path(f"/proc/{state['pid']}/cmdline").read_bytes()
    except OSError:
        return False
    return b"llm_vault.local.oidc_issuer" in cmdline


def start_issuer(workdir: Path) -> dict[str, Any]:
    """A long-lived local OIDC issuer (background process), reused while it runs."""
    path = workdir / ISSUER_FILE
    if path.exists():
        state = json.loads(path.read_text())
        if _issuer_alive(state):
            return state
    port = local_server.free_port_pair()
    log = open(workdir / "issuer.log", "ab")  # noqa: SIM115 (handed to the child)
    key_file = workdir / "issuer-key.pem"
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_vault.local.oidc_issuer", "serve",
         "--port", str(port), "--key-file", str(key_file)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # outlives this command, like the server
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    import requests

    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/.well-known/openid-configuration", timeout=1).ok:
                break
        except requests.RequestException:
            time.sleep(0.1)
    else:
        proc.kill()
        raise SystemExit(f"error: the local OIDC issuer did not start; see {workdir / 'issuer.log'}")
    state = {"pid": proc.pid, "url": url, "key_file": str(key_file)}
    path.write_text(json.dumps(state))
    return state


def overrides_for(stack: str, *, server_address: str, issuer_url: str, workdir: Path) -> dict[str, Any]:
    """Per-run config for a local server: local issuer, audit file under the work folder."""
    return {
        "vault:address": server_address,
        "llm-vault:github": {"oidcDiscoveryUrl": issuer_url, "boundIssuer": issuer_url},
        "llm-vault:audit": {"filePath": str(workdir / "audit" / f"{stack}.log"), "fileDir": str(workdir / "audit")},
    }


def database_mount(server: local_server.DetachedServer, stack: str) -> str:
    """The database engine's mount: per environment where the stacks share the root namespace."""
    return f"{database_job.ENGINE_MOUNT}-{stack}" if server.product == "vault" else database_job.ENGINE_MOUNT


def vault_oss_layout(stack: str) -> dict[str, Any]:
    """A stack on HashiCorp Vault OSS, which has no namespaces: the environment is kept apart by
    its mount and auth paths instead (``openai-llm-<stack>``, ``jwt-<stack>``, ``approle-<stack>``;
    the checked-in audit and pipeline paths end in ``-<stack>`` already) and its policy and token
    role names start with ``<stack>-`` (``llm-vault:rootLayout``), so all three stacks fit on one server."""
    return {
        "llm-vault:namespace": "",
        "llm-vault:rootLayout": {"tag": stack},
        "llm-vault:kv": {"path": f"openai-llm-{stack}"},
        "llm-vault:github": {"path": f"jwt-{stack}"},
        "llm-vault:modelRunner": {"path": f"approle-{stack}"},
        "llm-vault:pipeline": {
            "rootNamespaceReason": "the local Vault OSS server of `make run SERVER=vault`: no namespaces, one machine"
        },
    }


def up(stacks: list[str], *, prefer: str = "auto", product: str = "openbao") -> int:
    workdir = WORKDIR.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "audit").mkdir(exist_ok=True)

    server = local_server.detached_state(workdir)
    if server is not None and _healthy(server.address) and server.product != product:
        _say(f"stopping the local {server.product} at {server.address}: this run asks for {product}")
        local_server.stop_detached(workdir)
        server = None
    if server is not None and _healthy(server.address):
        _say(f"reusing the local {server.product} at {server.address} ({server.runtime})")
    else:
        if server is not None:
            local_server.stop_detached(workdir)
        _say(f"starting a local {'Vault' if product == 'vault' else 'OpenBao'} (dev mode, in memory) ...")
        started = time.monotonic()
        server = _start_server(workdir, prefer, product)
        version = toolchain.VAULT_VERSION if product == "vault" else toolchain.OPENBAO_VERSION
        _say(f"{'Vault' if product == 'vault' else 'OpenBao'} {version} at {server.address} ({server.runtime}) "
             f"in {time.monotonic() - started:.1f}s")
    issuer = start_issuer(workdir)
    _say(f"local GitHub-shaped OIDC issuer at {issuer['url']}")

    token = server.token_file.read_text().strip()
    database = _local_database(workdir, stacks)
    targets = [local_target(stack, server, issuer, workdir) for stack in stacks]
    # Every stack's config is checked before the first is applied: nothing is half-applied.
    settings = [target.settings() for target in targets]
    for stack, target in zip(stacks, targets, strict=True):
        _say(f"applying stack {stack} (refresh, then up) ...")
        started = time.monotonic()
        opened = automation.open_stack(target, say=_say)
        result = automation.refresh_then_up(opened, on_output=_engine_line)
        _say(f"{stack}: {result.summary.result} in {time.monotonic() - started:.1f}s, "
             f"changes {dict(result.summary.resource_changes or {})}")
    print()
    print(describe(hvac.Client(url=server.address, token=token), [s.namespace for s in settings]))
    extra = "" if database is None else database_job.next_steps(
        Path(sys.executable).parent / "bao", settings[0].namespace or "", database.cluster.port, stacks[0],
        database_mount(server, stacks[0]),
    )
    print(_next_steps(server, issuer, workdir, settings[0], extra))
    return 0


def _start_server(workdir: Path, prefer: str, product: str) -> local_server.DetachedServer:
    """Start this checkout's detached server; a container of ours left without its record (the
    work folder was deleted, or a killed `make run`) is removed first, and said so."""
    name = container_name(workdir)
    if local_server.choose_runtime(prefer, product).runtime == "container":
        found = subprocess.run(["docker", "ps", "-aq", "--filter", f"name=^/{name}$"],
                               capture_output=True, text=True, check=False).stdout.strip()
        if found:
            _say(f"removing container {name}: left by an earlier `make run` of this checkout, no server recorded")
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    return local_server.start_detached("dev", workdir=workdir, prefer=prefer, name=name, product=product)


def _local_database(workdir: Path, stacks: list[str]) -> database_job.LocalDatabase | None:
    """A local PostgreSQL with a database per stack, or None (said loudly) without the binaries."""
    missing = database_job.available()
    if missing is not None:
        _say(f"NOTE: no local database, so no dynamic database credentials: {missing}")
        return None
    database = database_job.ensure(workdir)
    for stack in stacks:
        database.prepare(stack)
    _say(f"local PostgreSQL at 127.0.0.1:{database.cluster.port} (databases: "
         f"{', '.join(database_job.database_name(s) for s in stacks)})")
    return database


def local_target(
    stack: str, server: local_server.DetachedServer, issuer: dict[str, Any], workdir: Path
) -> automation.StackTarget:
    """The stack as applied to the local server: local issuer, audit file under the work folder,
    and the local database when ``make run`` prepared one for this stack."""
    overrides = overrides_for(stack, server_address=server.address, issuer_url=issuer["url"], workdir=workdir)
    if server.product == "vault":
        overrides = automation.deep_merge(overrides, vault_oss_layout(stack))
    database = database_job.running(workdir)
    if database is not None and database.password_file(stack).exists():
        overrides.update(database.overrides(stack, database_mount(server, stack)))
    return automation.StackTarget(
        stack=stack,
        state_dir=workdir / "pulumi",
        overrides=overrides,
        env={"VAULT_ADDR": server.address, "VAULT_TOKEN": server.token_file.read_text().strip()},
    )


def preview(stack: str) -> int:
    """Refresh, then preview ``stack`` against the local server; print the markdown report.

    Not `llm-vault preview`: that one would point the JWT backend at GitHub's real issuer,
    which a local server must never be asked to fetch.
    """
    from llm_vault.cli import preview_with_undeclared

    workdir = WORKDIR.resolve()
    server = local_server.detached_state(workdir)
    if server is None or not _healthy(server.address):
        print("no local OpenBao is running (start one with: make run)")
        return 1
    target = local_target(stack, server, start_issuer(workdir), workdir)
    # The same report as `llm-vault preview`: what a refresh cannot see (objects in our backends
    # and namespace that the stack does not declare) is listed too.
    report, differs = preview_with_undeclared(target)
    print(report)
    return 2 if differs else 0


def _engine_line(line: str) -> None:
    line = line.rstrip()
    if line.strip():
        print(f"    {line}", flush=True)


def _healthy(address: str) -> bool:
    import requests

    try:
        return requests.get(f"{address}/v1/sys/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def describe(client: hvac.Client, namespaces: list[str | None]) -> str:
    """What the server holds, read back from it (not from our config). A None namespace: the
    stack lives in the root namespace (Vault OSS), apart by its mount paths."""
    rows: list[tuple[str, str, str, str]] = []
    for path, device in sorted(client.sys.list_enabled_audit_devices().get("data", {}).items()):
        target = device["options"].get("file_path", "")
        rows.append(("(root)", "audit", path.rstrip("/"), f"{device['type']} -> {target}"))
    rows += _auth_rows(client, "(root)")  # this project's pipeline roles live in the root namespace
    listed = _namespaces(client) if any(namespaces) else []
    for ns in dict.fromkeys(namespaces):
        if ns is None:
            c, ns = client, "(root)"
        elif f"{ns}/" not in listed:
            rows.append((ns, "namespace", ns, "MISSING"))
            continue
        else:
            c = hvac.Client(url=client.url, token=client.token, namespace=ns)
            rows.append((ns, "namespace", ns, ""))
        for path, mount in sorted(c.sys.list_mounted_secrets_engines().get("data", {}).items()):
            if mount["type"] == "kv" and (mount.get("options") or {}).get("version") == "2":
                cfg = c.secrets.kv.v2.read_configuration(mount_point=path.rstrip("/"))["data"]
                rows.append((ns, "kv-v2 mount", path.rstrip("/"),
                             f"max_versions={cfg['max_versions']} cas_required={cfg['cas_required']}"))
        if c is not client:  # (the root's auth methods are listed above)
            rows += _auth_rows(c, ns)
        rows += _database_rows(c, ns)
        # `list` answers None when there is nothing to list (a half-applied stack: no roles yet).
        for role in (c.list("auth/token/roles") or {}).get("data", {}).get("keys", []):
            r = c.read(f"auth/token/roles/{role}")["data"]
            rows.append((ns, "token role", role, f"allowed={','.join(r['allowed_policies'])}"))
        listed_policies = (c.sys.list_acl_policies() or {}).get("data", {}).get("keys", [])
        policies = [p for p in listed_policies if p not in ("default", "root")]
        rows.append((ns, "policies", str(len(policies)), ", ".join(sorted(policies))))
    head = ("namespace", "kind", "path", "details")
    widths = [max(len(r[i]) for r in [*rows, head]) for i in range(3)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head[:3], widths, strict=True)) + "  details"]
    lines.append("-" * (sum(widths) + 6 + 40))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r[:3], widths, strict=True)) + "  " + r[3] for r in rows]
    return "\n".join(lines)


def _namespaces(client: hvac.Client) -> list[str]:
    """Child namespaces as listed ("dev/"); a server with none answers 404."""
    import hvac.exceptions

    try:
        return list((client.sys.list_namespaces() or {}).get("data", {}).get("keys", []))
    except hvac.exceptions.InvalidPath:
        return []


def _database_rows(c: hvac.Client, ns: str) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    for path, mount in sorted(c.sys.list_mounted_secrets_engines().get("data", {}).items()):
        if mount["type"] != "database":
            continue
        for name in (c.list(f"{path}config") or {}).get("data", {}).get("keys", []):
            cfg = c.read(f"{path}config/{name}")["data"]
            url = cfg.get("connection_details", {}).get("connection_url", "")
            where = url.rsplit("@", 1)[-1]  # host:port/db (the URL is a template: no credentials)
            rows.append((ns, "database connection", f"{path}{name}",
                         f"{cfg.get('plugin_name', '')} {where} roles={','.join(cfg.get('allowed_roles', []))}"))
        for role in (c.list(f"{path}roles") or {}).get("data", {}).get("keys", []):
            r = c.read(f"{path}roles/{role}")["data"]
            rows.append((ns, "database role", f"{path}creds/{role}",
                         f"ttl={r.get('default_ttl')}s max_ttl={r.get('max_ttl')}s"))
        for role in (c.list(f"{path}static-roles") or {}).get("data", {}).get("keys", []):
            r = c.read(f"{path}static-roles/{role}")["data"]
            rows.append((ns, "database static role", f"{path}static-creds/{role}",
                         f"user={r.get('username')} rotation={r.get('rotation_period')}s"))
    return rows


def _auth_rows(c: hvac.Client, ns: str) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    for path, auth in sorted(c.sys.list_auth_methods().get("data", {}).items()):
        if auth["type"] not in ("jwt", "approle"):
            continue
        for role in (c.list(f"auth/{path}role") or {}).get("data", {}).get("keys", []):
            r = c.read(f"auth/{path}role/{role}")["data"]
            policies = ",".join(r["token_policies"])
            if auth["type"] == "jwt":
                details = f"sub={r['bound_subject']} policies={policies} ttl={r['token_ttl']}s"
            else:
                details = f"policies={policies} secret_id_ttl={r['secret_id_ttl']}s"
            rows.append((ns, f"{auth['type']} role", f"{path}{role}", details))
    return rows


def _next_steps(
    server: local_server.DetachedServer, issuer: dict[str, Any], workdir: Path, settings: Settings, extra: str = ""
) -> str:
    py = Path(sys.executable)
    bao = py.parent / "bao"
    ns, mount = settings.namespace or "", settings.kv.path
    ci = settings.github.bindings[0]
    ids = f"--repository-id {ci.repository_id} --owner-id {ci.owner_id}" if ci.repository_id and ci.owner_id else ""
    selector = {"ref": f"--ref {ci.value}", "tag": f"--ref refs/tags/{ci.value}",
                "environment": f"--environment {ci.value}", "pull_request": "--pull-request"}[ci.kind]
    return f"""
How to use it:
  export VAULT_ADDR={server.address} VAULT_NAMESPACE={ns}
  export VAULT_TOKEN="$(cat {server.token_file})"   # root token of this throwaway server (file is 0600)
  {bao} kv put -mount={mount} api-keys huggingface_token=... openai_key=... anthropic_key=...
  # log in as CI ({ci.role}), with an ID token from the local GitHub-shaped issuer:
  JWT=$({py} -m llm_vault.local.oidc_issuer mint --issuer {issuer['url']} --key-file {issuer['key_file']} \\
        --repository {ci.repository} {ids} {selector} --audience {ci.audience})
  VAULT_TOKEN= {bao} write auth/{settings.github.path}/login role={ci.role} jwt="$JWT"
  # the example model runner (token login here; AppRole with VAULT_ROLE_ID/VAULT_SECRET_ID):
  {py} examples/model_runner.py
{extra + chr(10) if extra else ""}Stop it: make down
Audit log: {workdir / 'audit'}/"""


def status() -> int:
    server = local_server.detached_state(WORKDIR.resolve())
    if server is None or not _healthy(server.address):
        print("no local OpenBao is running (start one with: make run)")
        return 1
    token = server.token_file.read_text().strip()
    listed = _namespaces(hvac.Client(url=server.address, token=token))
    print(describe(hvac.Client(url=server.address, token=token), [k.rstrip("/") for k in listed]))
    return 0


def down() -> int:
    workdir = WORKDIR.resolve()
    path = workdir / ISSUER_FILE
    if path.exists():
        state = json.loads(path.read_text())
        if _issuer_alive(state):
            os.kill(state["pid"], signal.SIGTERM)
        path.unlink()
    recorded = local_server.detached_state(workdir)
    product = "Vault" if recorded is not None and recorded.product == "vault" else "OpenBao"
    stopped = local_server.stop_detached(workdir)
    if database_job.stop(workdir):
        print("stopped the local PostgreSQL")
    # The server was in memory: its Pulumi state describes objects that no longer exist.
    import shutil

    shutil.rmtree(workdir / "pulumi", ignore_errors=True)
    print(f"stopped the local {product}" if stopped else "no local OpenBao or Vault was running")
    return 0

"""``llm-vault doctor``: why a secret cannot be read, one check at a time, each with a fix.

The checks run in the order a request meets the obstacles, and stop at the first failure (the
later ones would only repeat it):

1. address  GET /v1/sys/health: reachable, TLS verified, a Vault/OpenBao API
2. server   the same answer: initialised, unsealed, active or standby
3. token    GET /v1/auth/token/lookup-self: present, valid, TTL left, renewable, policies
4. namespace the server has namespaces (Vault OSS has none), the namespace exists and the token
            may be used in it (a token works in the namespace it was issued in and below); a hint
            when the mount exists elsewhere
5. mount    GET /v1/sys/internal/ui/mounts/:mount (the default policy allows it): exists, kv v2
6. path     GET /v1/:mount/metadata/:path, else LIST the parent, else GET the data: exists
7. access   POST /v1/sys/capabilities-self on the data and metadata paths: what the token's
            policies grant, and what one of them would have to grant

Plain ``requests`` rather than hvac: a diagnosis needs the status code and the server's text of
each failure, which hvac turns into exceptions. Nothing here prints a token or a secret value:
the data read of check 6 (only when metadata and list are refused) is discarded unread.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import quote

import requests

from .errors import clean_server_message
from .http import guarded_session

OK, WARN, FAIL = "ok", "warn", "FAIL"
CHECK_NAMES = ("address", "server", "token", "namespace", "mount", "path", "access")
# A token with less than this left will likely die during the job that is about to use it.
SHORT_TTL_SECONDS = 300


@dataclass(frozen=True)
class Check:
    """One line of the diagnosis: what was checked, what was found, and what to do about it."""

    name: str
    status: str  # OK | WARN | FAIL
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<4} {self.name:<9} {self.detail}"
        return f"{text}\n{'':14}fix: {self.fix}" if self.fix else text


@dataclass
class Diagnosis:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed is None

    @property
    def failed(self) -> Check | None:
        return next((c for c in self.checks if c.status == FAIL), None)

    def lines(self) -> list[str]:
        return [c.line() for c in self.checks]

    def __str__(self) -> str:
        return "\n".join(self.lines())


class _Stop(Exception):
    """Raised by a check that failed: the diagnosis ends there."""


def _duration(seconds: int) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _ns_label(namespace: str) -> str:
    return f"namespace {namespace}" if namespace else "the root namespace"


class _Doctor:
    def __init__(
        self,
        address: str,
        token: str | None,
        namespace: str,
        mount: str,
        path: str,
        verify: bool | str | None,
        timeout: float,
        other_namespaces: Iterable[str],
    ) -> None:
        self.address = address.rstrip("/")
        self.token = token
        self.namespace = namespace
        self.mount = mount.strip("/")
        self.path = path.strip("/")
        self.timeout = timeout
        self.other_namespaces = [n.strip("/") for n in other_namespaces]
        # The doctor sends the caller's token too: no redirect may carry it to another server.
        self.session = guarded_session(verify)
        self.result = Diagnosis()
        self.policies: list[str] = []
        self.token_namespace = ""
        self.namespaces = True  # learnt from sys/health in run()

    # -- plumbing ---------------------------------------------------------------------------

    def request(
        self, method: str, path: str, *, namespace: str | None = None, token: bool = True, **kw: Any
    ) -> requests.Response:
        headers = {}
        if token and self.token:
            headers["X-Vault-Token"] = self.token
        ns = self.namespace if namespace is None else namespace
        if ns:
            headers["X-Vault-Namespace"] = ns
        # No redirects: a redirect answer is itself worth reporting, and must not carry the token.
        return self.session.request(
            method, f"{self.address}/v1/{path}", headers=headers, timeout=self.timeout, allow_redirects=False, **kw
        )

    @staticmethod
    def message(response: requests.Response) -> str:
        try:
            errors = response.json().get("errors") or []
        except ValueError:
            return f"HTTP {response.status_code}"
        text = clean_server_message("; ".join(str(e) for e in errors))
        return f"HTTP {response.status_code}: {text}" if text else f"HTTP {response.status_code}"

    def add(self, name: str, status: str, detail: str, fix: str = "") -> None:
        self.result.checks.append(Check(name, status, detail, fix))

    def fail(self, name: str, detail: str, fix: str) -> NoReturn:
        self.result.checks.append(Check(name, FAIL, detail, fix))
        raise _Stop

    def mount_info(self, namespace: str) -> dict[str, Any] | None:
        response = self.request("GET", f"sys/internal/ui/mounts/{quote(self.mount)}", namespace=namespace)
        if response.status_code != 200:
            return None
        data = response.json().get("data") or {}
        return data if data.get("type") else None

    def mount_elsewhere(self) -> str:
        """A hint naming another namespace where the mount exists ('' when none found)."""
        candidates = [self.token_namespace, *self.other_namespaces]
        listed = self.request("LIST", "sys/namespaces", namespace="")
        if listed.status_code == 200:  # only privileged tokens may list namespaces
            candidates += [k.strip("/") for k in (listed.json().get("data") or {}).get("keys", [])]
        for candidate in dict.fromkeys(candidates):
            if candidate == self.namespace:
                continue
            if self.mount_info(candidate) is not None:
                return f"mount {self.mount} exists in {_ns_label(candidate)}: export VAULT_NAMESPACE={candidate}" + (
                    "" if candidate else "  (empty: the root namespace)"
                )
        return ""

    # -- the checks -------------------------------------------------------------------------

    def check_address(self) -> dict[str, Any]:
        https = self.address.startswith("https://")
        try:
            response = self.request(
                "GET",
                "sys/health?standbyok=true&perfstandbyok=true&sealedcode=200&uninitcode=200",
                namespace="",
                token=False,
            )
        except requests.exceptions.SSLError as exc:
            found = re.search(r"certificate verify failed: ([^()'\"]+)", str(exc))
            reason = found.group(1).strip() if found else "handshake failed"
            self.fail(
                "address",
                f"{self.address}: TLS verification failed ({reason})",
                "set VAULT_CACERT to the CA bundle that signed the server's certificate",
            )
        except requests.exceptions.ConnectionError:
            self.fail(
                "address",
                f"{self.address}: cannot connect (refused, or no route)",
                "start the server, or set VAULT_ADDR to where it listens (scheme, host and port)",
            )
        except requests.exceptions.Timeout:
            self.fail("address", f"{self.address}: no answer within {self.timeout:.0f}s", "check VAULT_ADDR")
        if response.is_redirect:
            self.fail(
                "address",
                f"{self.address}: answers with a redirect to {response.headers.get('Location', '?')}",
                "set VAULT_ADDR to the server's own address (the client does not follow redirects)",
            )
        if "HTTP request to an HTTPS server" in response.text:
            self.fail("address", f"{self.address}: the server speaks HTTPS", "use https:// in VAULT_ADDR")
        try:
            health = response.json()
            version = health["version"]
        except (ValueError, KeyError, TypeError):
            self.fail(
                "address",
                f"{self.address}: HTTP {response.status_code}, not a Vault/OpenBao API",
                "check VAULT_ADDR (no path after the port)",
            )
        self.add(
            "address",
            OK,
            f"{self.address} answers (version {version}, TLS {'verified' if https else 'not used'})",
        )
        return dict(health)

    def check_server(self, health: dict[str, Any]) -> None:
        if not health.get("initialized", True):
            self.fail("server", "not initialised", "initialise it: bao operator init")
        if health.get("sealed"):
            self.fail(
                "server",
                "sealed: every request but sys/health and unseal answers 503",
                "unseal it: bao operator unseal (the unseal key shares), or wait for auto-unseal",
            )
        if health.get("standby"):
            self.add("server", WARN, "standby node: requests are forwarded to the active node", "")
            return
        self.add("server", OK, "initialised, unsealed, active")

    def check_token(self) -> bool:
        """Returns whether the configured namespace exists (learnt on the way)."""
        if not self.token:
            self.fail(
                "token",
                "no token: VAULT_TOKEN (or BAO_TOKEN) is not set",
                "export VAULT_TOKEN, or log in (bao login; AppRole or GitHub OIDC through the client)",
            )
        response = self.request("GET", "auth/token/lookup-self")
        namespace_exists = True
        if response.status_code == 404 and "namespace not found" in response.text:
            namespace_exists = False
            response = self.request("GET", "auth/token/lookup-self", namespace="")
        if response.status_code in (401, 403):
            self.fail(
                "token",
                "invalid, expired or revoked (the server forgets expired tokens, so it cannot say which)",
                "log in again for a new token; `bao token lookup` shows a live token's TTL",
            )
        if response.status_code != 200:
            self.fail("token", f"lookup-self failed: {self.message(response)}", "see the server's log")
        data = response.json().get("data") or {}
        self.policies = sorted(set(data.get("policies") or []) | set(data.get("identity_policies") or []))
        self.token_namespace = str(data.get("namespace_path") or "").strip("/")
        ttl = int(data.get("ttl") or 0)
        renewable = bool(data.get("renewable"))
        life = "never expires" if ttl == 0 else f"TTL {_duration(ttl)} left"
        detail = (
            f"valid, {life}, {'renewable' if renewable else 'not renewable'}, "
            f"policies {', '.join(self.policies) or 'none'}, issued in {_ns_label(self.token_namespace)}"
        )
        if 0 < ttl < SHORT_TTL_SECONDS and not renewable:
            self.add("token", WARN, detail, "log in again before the job needs it for longer")
        else:
            self.add("token", OK, detail)
        return namespace_exists

    def check_namespace(self, exists: bool) -> None:
        wanted = self.namespace
        if wanted and not self.namespaces:
            self.fail(
                "namespace",
                f"VAULT_NAMESPACE={wanted}: this server has no namespaces (Vault OSS; they are Enterprise only): "
                "it ignores the setting and every request goes to the root namespace",
                "unset VAULT_NAMESPACE (on Vault OSS environments are kept apart by mount path)",
            )
        if not exists:
            hint = self.mount_elsewhere()
            self.fail(
                "namespace",
                f"VAULT_NAMESPACE={wanted}: no such namespace",
                hint or f"check the spelling; your token was issued in {_ns_label(self.token_namespace)}",
            )
        inside = (
            not self.token_namespace or wanted == self.token_namespace or wanted.startswith(self.token_namespace + "/")
        )
        if not inside:
            shown = f"VAULT_NAMESPACE={wanted}" if wanted else "VAULT_NAMESPACE unset (root namespace)"
            self.fail(
                "namespace",
                f"{shown}, but the token was issued in {_ns_label(self.token_namespace)}: "
                "a token works only in its own namespace and below",
                f"export VAULT_NAMESPACE={self.token_namespace}, or log in to {_ns_label(wanted)}",
            )
        self.add("namespace", OK, f"{_ns_label(wanted)}" + (" (exists)" if wanted else ""))

    def check_mount(self) -> None:
        info = self.mount_info(self.namespace)
        if info is None:
            hint = self.mount_elsewhere()
            self.fail(
                "mount",
                f"{self.mount}/ not found in {_ns_label(self.namespace)}, "
                "or none of the token's policies grants anything under it",
                hint or "list the mounts (bao secrets list) and set the client's mount_point",
            )
        version = str((info.get("options") or {}).get("version") or "1")
        if info.get("type") != "kv":
            self.fail("mount", f"{self.mount}/ is a {info.get('type')} mount, not kv", "use the kv-v2 mount")
        if version != "2":
            self.fail(
                "mount",
                f"{self.mount}/ is kv version {version}; the client reads kv v2 ({self.mount}/data/<path>)",
                f"bao kv enable-versioning {self.mount}  (keeps the data), or use a kv-v2 mount",
            )
        self.add("mount", OK, f"{self.mount}/ is kv v2")

    def check_path(self) -> None:
        where = f"{self.mount}/{self.path}"
        missing_fix = f"bao kv list -mount={self.mount} to see the names; the path has no data/ prefix in the client"
        meta = self.request("GET", f"{self.mount}/metadata/{quote(self.path)}")
        if meta.status_code == 200:
            data = meta.json().get("data") or {}
            current = str(data.get("current_version", "?"))
            version = (data.get("versions") or {}).get(current) or {}
            if version.get("destroyed") or version.get("deletion_time"):
                self.fail(
                    "path", f"{where}: latest version v{current} is deleted", "undelete it or write a new version"
                )
            self.add("path", OK, f"{where} exists (v{current})")
            return
        if meta.status_code == 404:
            self.fail("path", f"{where}: no secret there", missing_fix)
        parent, _, name = self.path.rpartition("/")
        listing = self.request("LIST", f"{self.mount}/metadata/{quote(parent)}")
        if listing.status_code == 200:
            if name in (listing.json().get("data") or {}).get("keys", []):
                self.add("path", OK, f"{where} exists (listed)")
                return
            self.fail("path", f"{where}: no secret there (not listed)", missing_fix)
        if listing.status_code == 404:
            self.fail("path", f"{where}: no secret there (nothing under {self.mount}/{parent})", missing_fix)
        read = self.request("GET", f"{self.mount}/data/{quote(self.path)}")
        status = read.status_code
        del read  # holds the secret's values: never looked at
        if status == 200:
            self.add("path", OK, f"{where} exists")
            return
        if status == 404:
            self.fail("path", f"{where}: no live version", missing_fix)
        self.add("path", WARN, f"{where}: cannot tell whether it exists (the token may neither read nor list it)")

    def check_access(self) -> None:
        data_path = f"{self.mount}/data/{self.path}"
        meta_path = f"{self.mount}/metadata/{self.path}"
        response = self.request("POST", "sys/capabilities-self", json={"paths": [data_path, meta_path]})
        if response.status_code != 200:
            self.fail("access", f"capabilities-self failed: {self.message(response)}", "see the server's log")
        body = response.json().get("data") or response.json()
        data_caps = list(body.get(data_path) or [])
        meta_caps = list(body.get(meta_path) or [])
        shown = f"{data_path}: {', '.join(data_caps) or 'none'}; {meta_path}: {', '.join(meta_caps) or 'none'}"
        if not ({"read", "root"} & set(data_caps)) or "deny" in data_caps:
            own = [p for p in self.policies if p != "default"] or ["a policy of the token"]
            self.fail(
                "access",
                f"policies {', '.join(self.policies) or 'none'} grant no read on {data_path} ({shown})",
                f'one of them ({", ".join(own)}) needs  path "{data_path}" {{ capabilities = ["read"] }}'
                f"  in {_ns_label(self.namespace)}; or use a token whose policy grants it",
            )
        self.add("access", OK, shown)

    def run(self) -> Diagnosis:
        try:
            health = self.check_address()
            # Vault OSS reports enterprise=false and has no namespaces (it ignores the header and
            # serves the root); OpenBao has them and omits the field; Vault Enterprise says true.
            self.namespaces = health.get("enterprise") is not False
            self.check_server(health)
            exists = self.check_token()
            self.check_namespace(exists)
            self.check_mount()
            self.check_path()
            self.check_access()
        except _Stop:
            pass
        except requests.RequestException as exc:
            # The address answered at first (check 1): this is a server going away mid-diagnosis.
            done = len(self.result.checks)
            self.result.checks.append(
                Check(
                    CHECK_NAMES[min(done, len(CHECK_NAMES) - 1)],
                    FAIL,
                    f"the server stopped answering ({type(exc).__name__})",
                    "run the doctor again; check the server's log",
                )
            )
        finally:
            self.session.close()
        return self.result


def diagnose(
    address: str,
    token: str | None,
    *,
    namespace: str | None = None,
    mount: str = "openai-llm",
    path: str = "api-keys",
    verify: bool | str | None = None,
    timeout: float = 10.0,
    other_namespaces: Iterable[str] = (),
) -> Diagnosis:
    """Check, in order, everything between the caller and the secret at ``mount``/``path``.

    ``other_namespaces``: where else to look for ``mount`` when it is missing (the CLI passes the
    stacks' namespaces); the token's own namespace and, for a privileged token, the listed child
    namespaces are always tried. Returns the checks run; it stops after the first failure.
    """
    return _Doctor(address, token, (namespace or "").strip("/"), mount, path, verify, timeout, other_namespaces).run()

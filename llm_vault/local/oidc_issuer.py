"""A local stand-in for GitHub Actions' OIDC provider (token.actions.githubusercontent.com).

It serves ``/.well-known/openid-configuration`` and ``/.well-known/jwks`` on 127.0.0.1 and mints
RS256 JWTs with the claim set GitHub sends (ids as strings, as GitHub sends them) and every
documented ``sub`` shape:

====================  ==============================================
branch / tag          ``repo:O/R:ref:refs/heads/B`` / ``refs/tags/T``
environment           ``repo:O/R:environment:E`` (wins over the others)
pull request          ``repo:O/R:pull_request``
immutable form        ``repo:O@OWNER_ID/R@REPO_ID:...`` (any of the above)
====================  ==============================================

OpenBao's JWT auth method fetches the discovery document from ``issuer.url`` (its
``oidc_discovery_url``), so the issuer must run before the backend is configured.

Command line (the main job's long-lived issuer)::

    python -m llm_vault.local.oidc_issuer --port 8300 [--key-file k.pem]        # serve
    python -m llm_vault.local.oidc_issuer mint --issuer URL --key-file k.pem [--repository O/R ...]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/.well-known/jwks"  # where GitHub publishes its keys
DEFAULT_REPOSITORY = "acme/llm-platform"
# GitHub's tokens are short-lived; 5 minutes matches what a job receives.
DEFAULT_EXPIRES_IN = 300
CLAIMS_SUPPORTED = (
    "sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha", "repository", "repository_id",
    "repository_owner", "repository_owner_id", "enterprise", "enterprise_id", "run_id", "run_number",
    "run_attempt", "actor", "actor_id", "workflow", "workflow_ref", "workflow_sha", "head_ref",
    "base_ref", "event_name", "ref_type", "ref_protected", "environment", "environment_node_id",
    "job_workflow_ref", "job_workflow_sha", "repository_visibility", "runner_environment",
    "check_run_id",
)  # fmt: skip


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _stable_id(name: str) -> str:
    """A stable numeric id (as a string, like GitHub's) for an owner or repository name."""
    return str(int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % 90_000_000 + 10_000_000)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls.from_private_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def from_private_key(cls, key: rsa.RSAPrivateKey) -> SigningKey:
        # kid = RFC 7638 thumbprint: the same key file gives the same kid in every process.
        numbers = key.public_key().public_numbers()
        canonical = json.dumps(
            {
                "e": _b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
                "kty": "RSA",
                "n": _b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            },
            separators=(",", ":"),
        )
        return cls(kid=_b64url(hashlib.sha256(canonical.encode()).digest()), private_key=key)

    def jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def load_or_create_key(path: Path) -> SigningKey:
    """The PEM private key at ``path``, created (mode 0600) when missing."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path}: not an RSA private key")
        return SigningKey.from_private_key(key)
    signing = SigningKey.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(signing.pem())
    return signing


def github_subject(
    repository: str,
    *,
    ref: str,
    environment: str | None = None,
    pull_request: bool = False,
    immutable: bool = False,
    owner_id: str | None = None,
    repository_id: str | None = None,
) -> str:
    """GitHub's default ``sub``: environment beats pull_request beats ref, as GitHub decides."""
    owner, _, name = repository.partition("/")
    if immutable:
        owner = f"{owner}@{owner_id or _stable_id(owner)}"
        name = f"{name}@{repository_id or _stable_id(repository)}"
    prefix = f"repo:{owner}/{name}"
    if environment:
        return f"{prefix}:environment:{environment}"
    if pull_request:
        return f"{prefix}:pull_request"
    return f"{prefix}:ref:{ref}"


class GitHubOidcIssuer:
    """An OIDC issuer on 127.0.0.1 (a thread) minting GitHub Actions-shaped ID tokens."""

    def __init__(self, *, port: int = 0, key: SigningKey | None = None) -> None:
        self._port = port
        self._published: list[SigningKey] = [key or SigningKey.generate()]
        # Never published: tokens signed with it must be refused by whoever trusts this issuer.
        self._unpublished = SigningKey.generate()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- serving -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("issuer not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The ``iss`` claim and the discovery base URL (``oidc_discovery_url``)."""
        return f"http://127.0.0.1:{self.port}"

    def discovery_document(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": self.url + JWKS_PATH,
            "subject_types_supported": ["public", "pairwise"],
            "response_types_supported": ["id_token"],
            "claims_supported": list(CLAIMS_SUPPORTED),
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid"],
        }

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            return {"keys": [key.jwk() for key in self._published]}

    def start(self) -> GitHubOidcIssuer:
        if self._httpd is not None:
            return self
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == DISCOVERY_PATH:
                    self._json(issuer.discovery_document())
                elif self.path == JWKS_PATH:
                    self._json(issuer.jwks())
                else:
                    self.send_error(404)

            def _json(self, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: test output is for failures

        # Loopback only: nothing outside this machine may reach the issuer.
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="oidc-issuer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> GitHubOidcIssuer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- keys --------------------------------------------------------------------------------

    @property
    def current_kid(self) -> str:
        with self._lock:
            return self._published[0].kid

    def rotate_keys(self, *, keep_previous: bool = True) -> str:
        """Sign with a new key from now on; keep publishing the previous one unless told not to
        (GitHub publishes old and new keys during a rotation). Returns the new kid."""
        new = SigningKey.generate()
        with self._lock:
            self._published = [new, self._published[0]] if keep_previous else [new]
        return new.kid

    # -- tokens ------------------------------------------------------------------------------

    def claims(
        self,
        *,
        repository: str = DEFAULT_REPOSITORY,
        ref: str | None = None,
        environment: str | None = None,
        event_name: str | None = None,
        pull_request: bool = False,
        audience: str | Sequence[str] | None = None,
        runner_environment: str = "github-hosted",
        immutable_subject: bool = False,
        expires_in: int = DEFAULT_EXPIRES_IN,
        not_before: int | None = None,
        issued_at: int | None = None,
        repository_owner_id: str | None = None,
        repository_id: str | None = None,
        actor: str = "octocat",
        workflow_file: str = "ci.yml",
        issuer: str | None = None,
        extra: dict[str, Any] | None = None,
        drop: Iterable[str] = (),
    ) -> dict[str, Any]:
        """The claim set of a GitHub Actions ID token (unsigned). ``extra`` overrides anything
        (``sub`` included) and ``drop`` removes claims last."""
        owner = repository.partition("/")[0]
        owner_id = repository_owner_id or _stable_id(owner)
        repo_id = repository_id or _stable_id(repository)
        if ref is None:
            ref = "refs/pull/1/merge" if pull_request else "refs/heads/main"
        ref_type = "tag" if ref.startswith("refs/tags/") else "branch"
        if event_name is None:
            event_name = "pull_request" if pull_request else "push"
        now = int(time.time()) if issued_at is None else issued_at
        sha = secrets.token_hex(20)
        workflow_ref = f"{repository}/.github/workflows/{workflow_file}@{ref}"
        claims: dict[str, Any] = {
            "jti": str(uuid.uuid4()),
            "sub": github_subject(
                repository, ref=ref, environment=environment, pull_request=pull_request,
                immutable=immutable_subject, owner_id=owner_id, repository_id=repo_id,
            ),
            # GitHub's default audience is the owner's URL; CI normally asks for an explicit one.
            "aud": audience if audience is not None else f"https://github.com/{owner}",
            "ref": ref,
            "sha": sha,
            "repository": repository,
            "repository_owner": owner,
            "repository_owner_id": owner_id,
            "repository_id": repo_id,
            "repository_visibility": "private",
            "actor": actor,
            "actor_id": _stable_id("actor:" + actor),
            "run_id": str(secrets.randbelow(9 * 10**10) + 10**10),
            "run_number": "1",
            "run_attempt": "1",
            "check_run_id": str(secrets.randbelow(9 * 10**10) + 10**10),
            "runner_environment": runner_environment,
            "workflow": "CI",
            "workflow_ref": workflow_ref,
            "workflow_sha": sha,
            "job_workflow_ref": workflow_ref,
            "job_workflow_sha": sha,
            "head_ref": "feature/change" if pull_request else "",
            "base_ref": "refs/heads/main" if pull_request else "",
            "event_name": event_name,
            "ref_type": ref_type,
            "ref_protected": "true" if ref == "refs/heads/main" else "false",
            "iss": issuer or self.url,
            "iat": now,
            "nbf": now if not_before is None else not_before,
            "exp": now + expires_in,
        }  # fmt: skip
        # GitHub sends `environment` only when the job names one.
        if environment:
            claims["environment"] = environment
        claims.update(extra or {})
        for name in drop:
            claims.pop(name, None)
        return claims

    def sign(self, claims: dict[str, Any], *, sign_with: str = "published") -> str:
        """RS256-sign ``claims``. "unpublished" signs with a key absent from the JWKS but under the
        current kid: an impostor claiming our key id."""
        if sign_with not in ("published", "unpublished"):
            raise ValueError(f"sign_with={sign_with!r}: expected 'published' or 'unpublished'")
        with self._lock:
            kid = self._published[0].kid
            key = self._published[0] if sign_with == "published" else self._unpublished
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": kid, "typ": "JWT"})

    def mint(self, *, sign_with: str = "published", **overrides: Any) -> str:
        """A signed ID token; ``overrides`` are :meth:`claims` keywords."""
        return self.sign(self.claims(**overrides), sign_with=sign_with)


# -- command line ---------------------------------------------------------------------------------


def _serve(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m llm_vault.local.oidc_issuer")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--key-file", type=Path, help="PEM signing key, created when missing (lets `mint` sign)")
    args = parser.parse_args(argv)
    key = load_or_create_key(args.key_file) if args.key_file else None
    issuer = GitHubOidcIssuer(port=args.port, key=key).start()
    print(f"serving {issuer.url} (discovery: {issuer.url}{DISCOVERY_PATH})", flush=True)
    try:
        threading.Event().wait()  # until interrupted
    except KeyboardInterrupt:
        pass
    finally:
        issuer.stop()
    return 0


def _mint(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m llm_vault.local.oidc_issuer mint")
    parser.add_argument("--issuer", required=True, help="URL of the serving issuer (the `iss` claim)")
    parser.add_argument("--key-file", type=Path, required=True, help="the key file the issuer serves")
    parser.add_argument("--repository", default=DEFAULT_REPOSITORY)
    parser.add_argument("--repository-id", help="GitHub's numeric id (default: derived from the name)")
    parser.add_argument("--owner-id", help="the owner's numeric id (default: derived from the name)")
    parser.add_argument("--ref")
    parser.add_argument("--environment")
    parser.add_argument("--event-name")
    parser.add_argument("--pull-request", action="store_true")
    parser.add_argument("--audience")
    parser.add_argument("--immutable-subject", action="store_true")
    parser.add_argument("--expires-in", type=int, default=DEFAULT_EXPIRES_IN)
    args = parser.parse_args(argv)
    if not args.key_file.exists():
        parser.error(f"{args.key_file} does not exist (start the issuer with --key-file first)")
    issuer = GitHubOidcIssuer(key=load_or_create_key(args.key_file))
    claims = issuer.claims(
        repository=args.repository, ref=args.ref, environment=args.environment, event_name=args.event_name,
        pull_request=args.pull_request, audience=args.audience, immutable_subject=args.immutable_subject,
        expires_in=args.expires_in, issuer=args.issuer.rstrip("/"),
        repository_id=args.repository_id, repository_owner_id=args.owner_id,
    )  # fmt: skip
    # The token goes to stdout only, for a pipe (like GitHub's ACTIONS_ID_TOKEN_REQUEST flow).
    print(issuer.sign(claims))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["mint"]:
        return _mint(argv[1:])
    if argv[:1] == ["serve"]:
        argv = argv[1:]
    return _serve(argv)


if __name__ == "__main__":
    raise SystemExit(main())

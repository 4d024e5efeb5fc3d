#!/usr/bin/env bash
# Shared helpers for cross/, qemu-tests/ and ci/: repo root, logging, installing Debian packages once.
# Source it; it defines functions only and changes nothing by itself.

# Repo root, from this file's location (cross/lib.sh -> ..).
YURT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export YURT_ROOT

log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages given that are not installed yet. `apt-get update` runs at most once
# per run of the outermost script (YURT_APT_UPDATED is exported to children).
ensure_apt() {
  local missing=() p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "${YURT_APT_UPDATED:-0}" != 1 ]; then
    log "apt-get update"
    as_root apt-get update -qq
    export YURT_APT_UPDATED=1
  fi
  log "installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# Adds a rustup target when it is not installed yet.
ensure_rust_target() {
  if ! rustup target list --installed | grep -qx "$1"; then
    log "rustup target add $1"
    rustup target add "$1" >&2
  fi
}

# Reads KEY=VALUE lines of a targets/*.env file into variables named TARGET_<KEY>.
# Only keys in the allow-list are accepted; anything else is an error (no silent typos).
# Values are literal (no expansion); optional surrounding double quotes are removed.
read_target_env() {
  local file="$1" line key value
  local allowed=" APT_PACKAGES RUST_TARGET CC AR LINKER RUSTFLAGS ELF_MACHINE ELF_CLASS QEMU_USER DESCRIPTION "
  [ -f "$file" ] || die "no target settings file $file"
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue ;; esac
    key="${line%%=*}"
    value="${line#*=}"
    [ "$key" != "$line" ] || die "$file: not KEY=VALUE: $line"
    case "$allowed" in *" $key "*) ;; *) die "$file: unknown key $key" ;; esac
    value="${value#\"}"; value="${value%\"}"
    printf -v "TARGET_$key" '%s' "$value"
  done < "$file"
}

# Picks a free TCP port on 127.0.0.1 (the kernel chooses; a tiny race is accepted).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

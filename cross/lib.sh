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

# Installs what target $1 needs and exports the per-target cargo/cc-rs environment: CC_<t>, AR_<t>,
# CARGO_TARGET_<T>_LINKER, CARGO_TARGET_<T>_RUSTFLAGS (+ `-C target-cpu=$2` when given) and
# CARGO_TARGET_DIR=target/cross/<triple>[-<cpu>] (YURT_CROSS_TARGET_DIR overrides). Sets TARGET_* from
# targets/<triple>.env. YURT_SKIP_INSTALL=1 installs nothing.
setup_target_env() {
  local triple="$1" cpu="${2:-}" envfile tu tl rustflags f supported=""
  envfile="$YURT_ROOT/targets/$triple.env"
  if [ ! -f "$envfile" ]; then
    for f in "$YURT_ROOT"/targets/*.env; do supported="$supported $(basename "$f" .env)"; done
    die "unsupported target $triple (no $envfile; supported:$supported)"
  fi
  read_target_env "$envfile"
  if [ "${YURT_SKIP_INSTALL:-0}" != 1 ]; then
    # shellcheck disable=SC2086 # APT_PACKAGES is a space-separated list on purpose
    ensure_apt $TARGET_APT_PACKAGES
    ensure_rust_target "$TARGET_RUST_TARGET"
  fi
  tu="$(printf '%s' "$triple" | tr '[:lower:]-' '[:upper:]_')"   # AARCH64_UNKNOWN_LINUX_MUSL
  tl="$(printf '%s' "$triple" | tr '-' '_')"                       # aarch64_unknown_linux_musl
  rustflags="$TARGET_RUSTFLAGS"
  [ -z "$cpu" ] || rustflags="${rustflags:+$rustflags }-C target-cpu=$cpu"
  export "CC_$tl=$TARGET_CC" "AR_$tl=$TARGET_AR" "CARGO_TARGET_${tu}_LINKER=$TARGET_LINKER" \
    "CARGO_TARGET_${tu}_RUSTFLAGS=$rustflags"
  export CARGO_TARGET_DIR="${YURT_CROSS_TARGET_DIR:-$YURT_ROOT/target/cross/$triple${cpu:+-$cpu}}"
  export TARGET_UPPER="$tu"
  log "$triple${cpu:+ (target-cpu=$cpu)}: CC_$tl=$TARGET_CC AR_$tl=$TARGET_AR CARGO_TARGET_${tu}_LINKER=$TARGET_LINKER RUSTFLAGS='$rustflags' CARGO_TARGET_DIR=$CARGO_TARGET_DIR"
}

# Picks a free TCP port on 127.0.0.1 (the kernel chooses; a tiny race is accepted).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

#!/usr/bin/env bash
# Shared by the qemu-tests scripts: cache location and how to run the privately extracted QEMU.
# Source it; it only defines things.

# shellcheck source=cross/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../cross/lib.sh"

# Everything fetched or built for the QEMU tests lives here (under target/, so git ignores it).
QCACHE="${YURT_QEMU_CACHE:-$YURT_ROOT/target/qemu-tests}"
export QCACHE
mkdir -p "$QCACHE"

# Prints the command prefix that runs qemu-system-<arch> from the private sysroot (qemu-tests/fetch):
# `env LD_LIBRARY_PATH=<sysroot libs> <sysroot>/usr/bin/qemu-system-<arch> -L <sysroot data>`, one word
# a line (read it with mapfile). The library path is set for QEMU alone, never for the caller.
qemu_sys_cmd() {
  local sr="$QCACHE/sysroot"
  printf '%s\n' env "LD_LIBRARY_PATH=$sr/usr/lib/x86_64-linux-gnu:$sr/lib/x86_64-linux-gnu" \
    "$sr/usr/bin/qemu-system-$1" -L "$sr/usr/share/qemu"
}

# Runs qemu-system-<arch> from the private sysroot with the given arguments.
qemu_sys() {
  local cmd
  mapfile -t cmd < <(qemu_sys_cmd "$1")
  shift
  "${cmd[@]}" "$@"
}

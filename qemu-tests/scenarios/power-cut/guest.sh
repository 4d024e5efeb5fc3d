# Power-cut scenario, guest side. /init has mounted the persistent disk on /var/lib/yurt.
# YURT_MODE=write: verify what the previous (killed) run left, then write until the host kills QEMU.
# YURT_MODE=verify: verify only, then power off cleanly.
# The writer and verifier are replaceable hooks: today stand-ins (writer.sh / verify.sh: atomic
# replace of "view" files through write + fsync + rename); when the hub's cache lands they become the
# hub fed by a host-side watch stream and the cache's own consistency check, with the same contract:
# verify.sh prints YURT-CHECK lines and exits non-zero on a torn state.
# shellcheck shell=sh source=qemu-tests/guest/lib.sh
. ./lib.sh

cycle="${YURT_CYCLE:-0}"
if ! grep -q " /var/lib/yurt " /proc/mounts; then
  check fail "mount-$cycle" "the persistent disk did not mount"
  exit 1
fi
check pass "mount-$cycle"
sh ./verify.sh "$cycle" || echo "power-cut: verify hook exited non-zero"
if [ "${YURT_MODE:-write}" = write ]; then
  ready writing
  exec sh ./writer.sh "$cycle"
fi
exit 0

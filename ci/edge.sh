#!/usr/bin/env bash
# Edge delivery checks (issue 5), in order:
#   1. shellcheck of every script we ship
#   2. cross builds: aarch64-unknown-linux-musl and armv7-unknown-linux-gnueabihf (static, edge profile)
#   3. size budget: edge yurt for aarch64 <= 3 MiB; the edge build links neither tokio nor kube
#   4. cargo test --test board_configs --test images_lint --test images_flags; systemd-analyze verify of the units
#   5. qemu-tests/run-all: unit tests under qemu-user, arm64 + armhf boots, the autonomy scenario
#      (yurt edge in the guest against the API double and tunnel server on the host, cloud cut) on
#      both, power cuts of the hub's cache (arm64 x20, armhf x3)
#
#   ci/edge.sh            # from anywhere; paths are relative to the repository
#
# Idempotent; installs its own Debian packages (apt-get update at most once, only when something is
# missing) and rustup targets. Made for a fresh Debian 12 x86_64 machine as root with rustup stable.
# Heavy steps run under `nice -n 10` (YURT_NICE). Exits non-zero when any step fails; ends with
# "N passed, N failed".
set -euo pipefail
# shellcheck source=cross/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../cross/lib.sh"
cd "$YURT_ROOT"

start=$(date +%s)
passed=0 failed=0 summary=()
run() { # run <name> <command...>
  local name="$1" t0 rc=0
  shift
  echo "=== ci/edge.sh: $name"
  t0=$(date +%s)
  "$@" || rc=$?
  if [ "$rc" = 0 ]; then passed=$((passed + 1)); summary+=("ok   $name ($(( $(date +%s) - t0 ))s)")
  else failed=$((failed + 1)); summary+=("FAIL $name (rc=$rc, $(( $(date +%s) - t0 ))s)"); fi
  return "$rc"
}

# Everything the steps install, in one apt transaction (the scripts would install the same lazily).
ensure_apt clang llvm gcc-arm-linux-gnueabihf libc6-dev-armhf-cross file binutils cpio kmod e2fsprogs \
  shellcheck debian-archive-keyring openssl curl
command -v python3 >/dev/null || ensure_apt python3

shell_scripts() {
  printf '%s\n' cross/build cross/size-budget cross/lib.sh ci/edge.sh images/board-env images/verify-units \
    qemu-tests/fetch qemu-tests/boot qemu-tests/power-cut qemu-tests/autonomy qemu-tests/run-all \
    qemu-tests/unit-user qemu-tests/lib.sh qemu-tests/host-lib.sh qemu-tests/scenarios/*/host.sh
}
lint_shell() {
  local files
  mapfile -t files < <(shell_scripts)
  shellcheck -x "${files[@]}"
  # Guest-side scripts run under busybox sh (host.sh files are bash, checked above).
  mapfile -t files < <(find qemu-tests/scenarios -name '*.sh' ! -name host.sh | sort)
  shellcheck -s sh -x --exclude=SC1091 qemu-tests/guest/init qemu-tests/guest/lib.sh "${files[@]}" \
    images/buildroot/package/yurt/S99yurt
  # The host-side Python helpers at least parse (no __pycache__ left behind).
  python3 -c 'import ast, sys; [ast.parse(open(f).read(), f) for f in sys.argv[1:]]' qemu-tests/kube.py qemu-tests/relay.py
}
run shellcheck lint_shell || true

y64="" y32=""
build() { # build <triple> <var>
  local out
  out="$(cross/build "$1")" || return 1
  printf -v "$2" '%s' "$(tail -n1 <<<"$out")"
}
run build-aarch64 build aarch64-unknown-linux-musl y64 || true
run build-armv7 build armv7-unknown-linux-gnueabihf y32 || true
if [ -n "$y64" ]; then run size-budget cross/size-budget aarch64-unknown-linux-musl "$y64" || true; fi
edge_deps() {
  # kube-rs must be absent. tokio comes in through hyper 1 (a required dependency of hyper) with only
  # its `sync` feature: channels and locks, no runtime. Any other tokio feature means a runtime or
  # tokio I/O crept into the edge build.
  local tree bad
  tree="$(cargo tree --locked -e normal --no-default-features --features edge --prefix none --format '{p} {f}' | sort -u)"
  bad="$(grep -E '^kube(-[a-z-]+)? ' <<<"$tree" || true)"
  bad="$bad$(grep -E '^tokio ' <<<"$tree" | awk '{ n = split($3, f, ","); for (i = 1; i <= n; i++) if (f[i] != "default" && f[i] != "sync") { print; break } }')"
  if [ -n "$bad" ]; then echo "the edge build links: $bad"; return 1; fi
  echo "edge build: $(wc -l <<<"$tree") crates; no kube; tokio only as $(grep -E '^tokio ' <<<"$tree" | head -n1 || echo absent)"
}
run edge-deps edge_deps || true
for b in "$y64" "$y32"; do [ -z "$b" ] || echo "  $(stat -c %s "$b") bytes  $b"; done

verify_units() {
  local b
  for b in board-configs/*/; do images/verify-units "$(basename "$b")" || return 1; done
}
run units-verify verify_units || true
run host-tests nice -n "${YURT_NICE:-10}" cargo test --locked --test board_configs --test images_lint --test images_flags || true

qargs=()
[ -z "$y64" ] || qargs+=(--yurt-arm64 "$y64")
[ -z "$y32" ] || qargs+=(--yurt-armhf "$y32")
run qemu-tests qemu-tests/run-all "${qargs[@]}" || true

echo "=== ci/edge.sh summary ($(( $(date +%s) - start ))s)"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

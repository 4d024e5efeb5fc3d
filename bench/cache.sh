#!/usr/bin/env bash
# Hub cache benchmark (issue 3): the real `yurt hub` in front of `yurt api-double`, the cache
# filled online by a kubelet-style LIST + WATCH, then the cloud cut (examples/cache_bench).
# Measures offline LISTs of 1,000 and 10,000 pods, cold start to the first cached answer, bytes
# written per watch event (/proc/<pid>/io of the hub) and the hub's RSS with 10,000 objects, for
# three hub binaries: the release build of the multicall `yurt` (`yurt hub`), the release build of
# `yurthub` (the hub alone, for x86 nodes) and the edge profile build (what the images ship).
# Prints the table and writes it into docs/BENCHMARKS.md (between the cache-bench markers).
#
#   bench/cache.sh                       # ROUNDS=3 EVENTS=10000 POD_BYTES=2048 (medians)
#   DIR=/mnt/disk/scratch bench/cache.sh # scratch directory; must not be tmpfs
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
EVENTS=${EVENTS:-10000}
POD_BYTES=${POD_BYTES:-2048}
DIR=${DIR:-$PWD/target/cache-bench}

mkdir -p "$DIR"
fstype=$(findmnt -n -o FSTYPE -T "$DIR")
if [ "$fstype" = tmpfs ]; then
  echo "cache.sh: $DIR is on tmpfs, where nothing is written to disk; set DIR" >&2
  exit 1
fi

cargo build --release -q --bin yurt --bin yurthub --example cache_bench
cargo build --profile edge -q --no-default-features --features edge --bin yurt

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
table=$(target/release/examples/cache_bench --yurt target/release/yurt \
  --hub "yurt hub, release=target/release/yurt" --hub "yurthub, release=target/release/yurthub" \
  --hub "edge build=target/edge/yurt" \
  --dir "$DIR/run" --rounds "$ROUNDS" --events "$EVENTS" --pod-bytes "$POD_BYTES")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

machine="$(nproc) cores ($(uname -m)), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), \
$(. /etc/os-release && echo "$PRETTY_NAME"), scratch directory on $fstype"
section="$(cat <<EOF
<!-- cache-bench: begin (written by bench/cache.sh) -->
Run of $(date -u '+%Y-%m-%d %H:%M') UTC on $machine; load average $load_before before,
$load_after after. Hub binaries: release builds of \`yurt\` ($(du -k target/release/yurt | cut -f1) KiB) and
\`yurthub\` ($(du -k target/release/yurthub | cut -f1) KiB), edge profile build of \`yurt\`
($(du -k target/edge/yurt | cut -f1) KiB, \`--no-default-features --features edge\`), all x86_64 glibc.

$table
<!-- cache-bench: end -->
EOF
)"
printf '%s\n' "$section"

doc=docs/BENCHMARKS.md
if grep -q '<!-- cache-bench: begin' "$doc"; then
  SECTION="$section" python3 - "$doc" <<'PY'
import os, re, sys
path = sys.argv[1]
text = open(path).read()
new = re.sub(r"<!-- cache-bench: begin.*?<!-- cache-bench: end -->", lambda _: os.environ["SECTION"],
             text, count=1, flags=re.S)
open(path, "w").write(new)
PY
  echo "wrote the table into $doc" >&2
else
  echo "no cache-bench markers in $doc; table not written" >&2
fi
rm -rf "$DIR/run"

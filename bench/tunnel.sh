#!/usr/bin/env bash
# Yurt's tunnel vs rathole, side by side on loopback, one command:
#
#   bench/tunnel.sh            (env: SCRATCH=/tmp/yurt-bench  BULK_MIB=1024  SECS=10  CONNS=32)
#
# Both carry the same upstream servers (bench/tunnel_load.rs): Yurt as tunnel-server + tunnel-agent
# with mutual TLS 1.3 and clients speaking HTTP CONNECT; rathole (server + client, Noise NK
# encryption, installed into $SCRATCH, never a dependency) forwarding a port per service.
# Measured: one-stream bulk download, HTTP/1.1 keep-alive requests/s at $CONNS clients with
# p50/p99 latency, and RSS of each server and agent/client at idle and peak under load.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRATCH=${SCRATCH:-/tmp/yurt-bench}
BULK_MIB=${BULK_MIB:-1024}
SECS=${SECS:-10}
CONNS=${CONNS:-32}
mkdir -p "$SCRATCH"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# --- tools -------------------------------------------------------------------------------------
(cd "$ROOT" && nice cargo build --release --bin yurt >&2)
YURT=$ROOT/target/release/yurt
LOAD=$SCRATCH/tunnel_load
rustc -O --edition 2021 "$ROOT/bench/tunnel_load.rs" -o "$LOAD"
RATHOLE=$SCRATCH/rathole/bin/rathole
if [ ! -x "$RATHOLE" ]; then
  nice cargo install rathole --no-default-features --features server,client,noise --root "$SCRATCH/rathole" >&2
fi
port() { "$LOAD" free-port; }

# --- certificates for Yurt (CA, server for 127.0.0.1, kubelet-style node client) ----------------
PKI=$SCRATCH/pki; mkdir -p "$PKI"; cd "$PKI"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=bench CA" \
  -keyout ca.key -out ca.crt 2>/dev/null
issue() { # name subject ext
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out "$1.crt" -extfile <(printf '%s' "$3") 2>/dev/null
}
issue server "/CN=tunnel" "subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth"
issue node "/O=system:nodes/CN=system:node:bench" "extendedKeyUsage=clientAuth"

# --- upstreams -----------------------------------------------------------------------------------
HTTP_PORT=$(port); SRC_PORT=$(port)
"$LOAD" serve-http 127.0.0.1:$HTTP_PORT & PIDS+=($!)
"$LOAD" serve-source 127.0.0.1:$SRC_PORT & PIDS+=($!)

# --- Yurt ------------------------------------------------------------------------------------------
AGENT_PORT=$(port); PLAIN=$(port); META=$(port)
RUST_LOG=warn "$YURT" tunnel-server --bind-address=127.0.0.1 --agent-port=$AGENT_PORT \
  --proxy-port=$(port) --proxy-plain-port=$PLAIN --meta-port=$META \
  --cert-file=server.crt --key-file=server.key --ca-file=ca.crt & YS=$!; PIDS+=($YS)
sleep 0.3
RUST_LOG=warn "$YURT" tunnel-agent --node-name=bench --node-ip=127.0.0.1 \
  --tunnel-server-addr=127.0.0.1:$AGENT_PORT --cert-file=node.crt --key-file=node.key --ca-file=ca.crt \
  --allow=127.0.0.1:$HTTP_PORT,127.0.0.1:$SRC_PORT --meta-port=$(port) & YA=$!; PIDS+=($YA)
for _ in $(seq 100); do curl -sf http://127.0.0.1:$META/v1/agents | grep -q '"bench"' && break; sleep 0.1; done

# --- rathole -------------------------------------------------------------------------------------
KEYS=$("$RATHOLE" --genkey)
PRIV=$(echo "$KEYS" | sed -n '/Private Key:/{n;p}'); PUB=$(echo "$KEYS" | sed -n '/Public Key:/{n;p}')
RH_PORT=$(port); RH_HTTP=$(port); RH_SRC=$(port)
cat > rs.toml <<EOF
[server]
bind_addr = "127.0.0.1:$RH_PORT"
[server.transport]
type = "noise"
[server.transport.noise]
local_private_key = "$PRIV"
[server.services.http]
token = "bench"
bind_addr = "127.0.0.1:$RH_HTTP"
[server.services.src]
token = "bench"
bind_addr = "127.0.0.1:$RH_SRC"
EOF
cat > rc.toml <<EOF
[client]
remote_addr = "127.0.0.1:$RH_PORT"
[client.transport]
type = "noise"
[client.transport.noise]
remote_public_key = "$PUB"
[client.services.http]
token = "bench"
local_addr = "127.0.0.1:$HTTP_PORT"
[client.services.src]
token = "bench"
local_addr = "127.0.0.1:$SRC_PORT"
EOF
RUST_LOG=warn "$RATHOLE" --server rs.toml & RS=$!; PIDS+=($RS)
sleep 0.3
RUST_LOG=warn "$RATHOLE" --client rc.toml & RC=$!; PIDS+=($RC)
sleep 1.5

# --- measurements --------------------------------------------------------------------------------
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$1/status; }
# Runs "$@" while sampling the peak RSS (MiB) of pids $P1 and $P2 into PEAK1/PEAK2; its output
# goes to OUT.
with_peaks() {
  local out=$SCRATCH/out.$$; "$@" > "$out" & local job=$!
  PEAK1=0; PEAK2=0
  while kill -0 $job 2>/dev/null; do
    PEAK1=$(awk -v a="$PEAK1" -v b="$(rss $P1)" 'BEGIN{print (b>a)?b:a}')
    PEAK2=$(awk -v a="$PEAK2" -v b="$(rss $P2)" 'BEGIN{print (b>a)?b:a}')
    sleep 0.1
  done
  wait $job; OUT=$(cat "$out"); rm -f "$out"
}
val() { echo "$1" | awk -v k="$2" '$1==k {print $2}'; }

declare -A R
run_one() { # name server_pid edge_pid http_addr src_addr connect_http connect_src
  local name=$1; P1=$2; P2=$3
  R[$name.idle]="$(rss $P1) / $(rss $P2)"
  with_peaks "$LOAD" bulk "$4" "$BULK_MIB" ${6:+"$6"}
  R[$name.bulk]=$(val "$OUT" bulk_mib_per_s); R[$name.bulkrss]="$PEAK1 / $PEAK2"
  with_peaks "$LOAD" http "$5" "$CONNS" "$SECS" ${7:+"$7"}
  R[$name.rps]=$(val "$OUT" http_req_per_s); R[$name.p50]=$(val "$OUT" http_p50_us); R[$name.p99]=$(val "$OUT" http_p99_us)
  R[$name.httprss]="$PEAK1 / $PEAK2"
}
run_one yurt $YS $YA 127.0.0.1:$PLAIN 127.0.0.1:$PLAIN 127.0.0.1:$SRC_PORT 127.0.0.1:$HTTP_PORT
run_one rathole $RS $RC 127.0.0.1:$RH_SRC 127.0.0.1:$RH_HTTP "" ""

echo "| loopback, $(nproc) cores | Yurt (TLS 1.3 + yamux, CONNECT) | rathole (Noise NK, port forward) |"
echo "|---|---|---|"
echo "| bulk, one stream (MiB/s, $BULK_MIB MiB) | ${R[yurt.bulk]} | ${R[rathole.bulk]} |"
echo "| HTTP req/s, $CONNS keep-alive clients, ${SECS}s | ${R[yurt.rps]} | ${R[rathole.rps]} |"
echo "| HTTP latency p50 / p99 (µs) | ${R[yurt.p50]} / ${R[yurt.p99]} | ${R[rathole.p50]} / ${R[rathole.p99]} |"
echo "| RSS idle, server / edge (MiB) | ${R[yurt.idle]} | ${R[rathole.idle]} |"
echo "| RSS peak in bulk, server / edge (MiB) | ${R[yurt.bulkrss]} | ${R[rathole.bulkrss]} |"
echo "| RSS peak in HTTP load, server / edge (MiB) | ${R[yurt.httprss]} | ${R[rathole.httprss]} |"

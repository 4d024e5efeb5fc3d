#!/usr/bin/env bash
# Hub proxy benchmark: the same request mix direct to the API double, through `yurt hub`, and
# through nginx (proxy_pass with keep-alive), in one run on this machine. Prints a markdown table
# (medians of ROUNDS rounds) for docs/BENCHMARKS.md.
#
#   bench/hub.sh            # ROUNDS=3 DURATION=5 by default
#
# Installs nginx and wrk from Debian if missing (needs root for that).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
PODS=${PODS:-500}

for tool in nginx wrk python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk python3 >/dev/null
    break
  fi
done

cargo build --release -q
YURT=target/release/yurt
WORK=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

# The cloud: the API double with one node and PODS pods in namespace default.
DOUBLE_PORT=$(free_port)
"$YURT" api-double --listen "127.0.0.1:$DOUBLE_PORT" --pki-dir "$WORK/pki" --seed empty --pods "$PODS" >"$WORK/double.out" 2>"$WORK/double.err" &
pids+=($!)
wait_port "$DOUBLE_PORT"

# The hub.
HUB_PORT=$(free_port); HUB_SERVER=$(free_port)
"$YURT" hub --node-name bench-node --kubeconfig "$WORK/pki/kubeconfig" --server-addr "https://127.0.0.1:$DOUBLE_PORT" \
  --proxy-port "$HUB_PORT" --port "$HUB_SERVER" --disk-cache-path "$WORK/cache" 2>"$WORK/hub.err" &
HUB_PID=$!; pids+=("$HUB_PID")
wait_port "$HUB_PORT"

# nginx, one worker (the hub runs one executor thread), keep-alive to the upstream, no buffering.
NGINX_PORT=$(free_port)
user_line=""; [ "$(id -u)" = 0 ] && user_line="user root;"
cat >"$WORK/nginx.conf" <<CONF
$user_line
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx-body;
  proxy_temp_path $WORK/nginx-proxy;
  upstream api { server 127.0.0.1:$DOUBLE_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass https://api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_certificate $WORK/pki/admin.crt;
      proxy_ssl_certificate_key $WORK/pki/admin.key;
      proxy_ssl_trusted_certificate $WORK/pki/ca.crt;
      proxy_ssl_verify on;
      proxy_ssl_name localhost;
      proxy_ssl_session_reuse on;
      proxy_buffering off;
    }
  }
}
CONF
nginx -p "$WORK" -c "$WORK/nginx.conf" -g 'daemon off;' &
pids+=($!)
wait_port "$NGINX_PORT"
NGINX_WORKER=$(pgrep -P "$(cat "$WORK/nginx.pid")" | head -1)

GET_PATH=/api/v1/namespaces/default/pods/pod-1
LIST_PATH=/api/v1/namespaces/default/pods
# The process whose CPU time is charged to each path (none for direct).
declare -A PROC=([direct]="" [hub]="$HUB_PID" [nginx]="$NGINX_WORKER")
declare -A BASE=(
  [direct]="https://127.0.0.1:$DOUBLE_PORT"
  [hub]="http://127.0.0.1:$HUB_PORT"
  [nginx]="http://127.0.0.1:$NGINX_PORT"
)

# wrk prints latencies as 123.45us / 1.23ms / 1.00s; convert to microseconds.
to_us() { awk -v v="$1" 'BEGIN{ n=v+0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n*1000; else if (v ~ /s$/) print n*1000000; else print n }'; }
# CPU time (user + system) of process $1 in clock ticks.
ticks() { [ -n "$1" ] && awk '{print $14 + $15}' "/proc/$1/stat" || echo 0; }
HZ=$(getconf CLK_TCK)
# run NAME URL CONNS → prints "p50_us p99_us rps cpu_us_per_request" (the proxy's CPU; 0 for direct)
run() {
  local t0 t1 out; t0=$(ticks "${PROC[$1]}")
  out=$(wrk -t1 -c"$3" -d"${DURATION}s" --latency -H 'Authorization: Bearer bench' -H 'Accept: application/json' "$2")
  t1=$(ticks "${PROC[$1]}")
  local p50 p99 rps n
  p50=$(printf '%s\n' "$out" | awk '$1=="50%"{print $2}')
  p99=$(printf '%s\n' "$out" | awk '$1=="99%"{print $2}')
  rps=$(printf '%s\n' "$out" | awk '/^Requests\/sec/{print $2}')
  n=$(printf '%s\n' "$out" | awk '/requests in/{print $1}')
  echo "$(to_us "$p50") $(to_us "$p99") $rps $(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$n" 'BEGIN{ printf "%.2f", d * 1e6 / hz / n }')"
}
median() { sort -g | awk '{a[NR]=$1} END{ if (NR==0) print "nan"; else print a[int((NR+1)/2)] }'; }

declare -A R
for round in $(seq "$ROUNDS"); do
  for t in direct hub nginx; do
    for kind in get list; do
      path=$GET_PATH; [ "$kind" = list ] && path=$LIST_PATH
      read -r p50 p99 _ < <(run "$t" "${BASE[$t]}$path" 1)
      read -r _ _ rps cpu < <(run "$t" "${BASE[$t]}$path" 32)
      R[$t,$kind,p50]+="$p50 "; R[$t,$kind,p99]+="$p99 "; R[$t,$kind,rps]+="$rps "; R[$t,$kind,cpu]+="$cpu "
    done
  done
  echo "round $round done (load average $(cut -d' ' -f1 /proc/loadavg); GET @32 req/s hub $(awk '{print $NF}' <<<"${R[hub,get,rps]}") nginx $(awk '{print $NF}' <<<"${R[nginx,get,rps]}"))" >&2
done
med() { tr ' ' '\n' <<<"${R[$1]}" | grep . | median; }
rss_kib=$(awk '/^VmRSS/{print $2}' "/proc/$HUB_PID/status")
hwm_kib=$(awk '/^VmHWM/{print $2}' "/proc/$HUB_PID/status")

echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m); ${ROUNDS} rounds x ${DURATION}s per cell, medians; wrk 1 thread; nginx 1 worker; $(date -u +%F)"
echo
echo "| path | GET p50 µs | GET p99 µs | LIST($PODS) p50 µs | LIST p99 µs | GET req/s @32 | LIST req/s @32 |"
echo "|---|---|---|---|---|---|---|"
for t in direct hub nginx; do
  printf '| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n' "$t" \
    "$(med "$t,get,p50")" "$(med "$t,get,p99")" "$(med "$t,list,p50")" "$(med "$t,list,p99")" "$(med "$t,get,rps")" "$(med "$t,list,rps")"
done
echo
awk -v hg="$(med hub,get,p50)" -v dg="$(med direct,get,p50)" -v hr="$(med hub,get,rps)" -v nr="$(med nginx,get,rps)" \
    -v hl="$(med hub,list,rps)" -v nl="$(med nginx,list,rps)" -v hlp="$(med hub,list,p50)" -v dlp="$(med direct,list,p50)" 'BEGIN{
  printf "- hub adds %.0f µs p50 to a GET over direct (goal < 100 µs), %.0f µs to a LIST\n", hg-dg, hlp-dlp;
  printf "- hub / nginx throughput at 32 clients: GET %.2fx, LIST %.2fx (goal >= 1.00x)\n", hr/nr, hl/nl }'
awk -v hc="$(med hub,get,cpu)" -v nc="$(med nginx,get,cpu)" -v hl="$(med hub,list,cpu)" -v nl="$(med nginx,list,cpu)" 'BEGIN{
  printf "- proxy CPU per request at 32 clients (user+system, the proxy process only): GET hub %.1f µs, nginx %.1f µs; LIST hub %.0f µs, nginx %.0f µs\n", hc, nc, hl, nl }'
echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- hub RSS after the run: $((rss_kib / 1024)) MiB (peak $((hwm_kib / 1024)) MiB)"

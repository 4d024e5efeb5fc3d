# Autonomy scenario, guest side (driven by qemu-tests/autonomy; host.sh is the other half).
# A kubelet stand-in (busybox httpd on 10250) and `yurt edge` with the node identity and the qemu
# board's cache tuning: hub against the API double at https://10.0.2.2:$YURT_API_PORT, tunnel agent
# to 10.0.2.2:$YURT_AGENT_PORT. The host reads through the forwarded ports, cuts the cloud and reads
# again; the guest reports YURT-METRIC RSS figures of yurt edge at each stage: idle (started, tunnel
# up, no client yet), cached (after the host's LISTs filled the cache), offline (after the host read
# everything again from the cache with the cloud cut).
# shellcheck shell=sh source=qemu-tests/guest/lib.sh
. ./lib.sh

node="$(hostname)"
cache=/var/lib/yurt/hub-cache

# http_status <port> <path>: status code of a plain GET on the guest's loopback ("" if none).
http_status() {
  printf 'GET %s HTTP/1.0\r\n\r\n' "$2" | timeout 5 nc 127.0.0.1 "$1" 2>/dev/null | head -n1 | cut -d' ' -f2
}

metric() { # metric <stage> <pid>: VmRSS / VmHWM of the yurt edge process itself (not a shell)
  if grep -q '^Name:[[:space:]]*yurt$' "/proc/$2/status" 2>/dev/null; then
    rss_of "$2" | { read -r rss hwm; echo "YURT-METRIC edge_${1}_rss_kb=$rss edge_${1}_hwm_kb=$hwm"; }
  else
    check fail "rss-$1" "pid $2 is not yurt: $(grep '^Name:' "/proc/$2/status" 2>&1)"
  fi
}

token="$(cat /proc/sys/kernel/random/uuid)"
mkdir -p /tmp/kubelet/containerLogs/default/web-0
printf 'log line from the kubelet stand-in on %s: %s\n' "$node" "$token" > /tmp/kubelet/containerLogs/default/web-0/web
echo ok > /tmp/kubelet/healthz
httpd -p 10250 -h /tmp/kubelet
echo "YURT-KUBELET-TOKEN $token"

mkdir -p "$cache"
yurt edge --server-addr "https://10.0.2.2:$YURT_API_PORT" --tunnel-server-addr "10.0.2.2:$YURT_AGENT_PORT" \
  --kubeconfig /etc/kubernetes/kubelet.conf --node-name "$node" --node-ip 10.0.2.15 \
  --bind-address 0.0.0.0 --bind-proxy-address 0.0.0.0 --heartbeat-interval-seconds 2 \
  --disk-cache-path "$cache" --cache-config /etc/yurt/cache.json > /tmp/edge.log 2>&1 &
pid=$!
# busybox nc may hang up before the answer (stdin ended first): keep asking until one 200.
i=0 st=""
while [ "$i" -lt 120 ] && kill -0 "$pid" 2>/dev/null; do
  st="$(http_status 10267 /v1/healthz)"
  [ "$st" != 200 ] || break
  sleep 0.5; i=$((i + 1))
done
if [ "$st" = 200 ]; then
  check pass edge-starts "healthz 200 after ~$((i / 2)) s"
else
  check fail edge-starts "no healthz: $(tail -n 3 /tmp/edge.log | tr '\n' ' ')"
  ready up
  exit 1
fi
# The board's tuning reached the hub: the sizes it opened the cache with are the JSON's.
want="$(sed -n 's/.*"block_cache_bytes": *\([0-9]*\).*/\1/p' /etc/yurt/cache.json)"
if grep -q "cache in $cache with .*block_cache_bytes: $want," /tmp/edge.log; then
  check pass board-tuning "block cache $want B from /etc/yurt/cache.json"
else
  check fail board-tuning "$(grep 'cache' /tmp/edge.log | head -n 2 | tr '\n' ' ')"
fi
sleep 3
metric idle "$pid"
ready up

line="$(wait_host 120)"
[ "$line" = cached ] || check fail host-signal "expected 'cached', got '$line'"
metric cached "$pid"
ready cached-measured

line="$(wait_host 120)"
[ "$line" = offline-done ] || check fail host-signal "expected 'offline-done', got '$line'"
metric offline "$pid"
kill -TERM "$pid"
wait "$pid"
rc=$?
if [ "$rc" = 0 ]; then check pass edge-stops "SIGTERM, exit 0"; else check fail edge-stops "exit $rc: $(tail -n 2 /tmp/edge.log | tr '\n' ' ')"; fi
# The cache, read from disk with the hub gone.
if out="$(yurt hub cache ls --disk-cache-path "$cache" 2>/tmp/ls.err)"; then
  n=$(($(echo "$out" | grep -c .) - 1))
  if [ "$n" -ge 4 ]; then check pass cache-ls "$n views"; else check fail cache-ls "only $n views"; fi
  echo "$out" | sed 's/^/cache-ls: /'
else
  check fail cache-ls "$(tail -n1 /tmp/ls.err)"
fi
echo "--- yurt edge log (tail)"
tail -n 15 /tmp/edge.log
exit 0

# Power-cut scenario, guest side (driven by qemu-tests/power-cut, which also does the host's half).
# /init has mounted the persistent disk on /var/lib/yurt; the hub's cache lives there.
#  1. the cache opens after the previous cut: `yurt hub cache ls` reads it from disk;
#  2. `yurt hub` starts on it with the cloud unreachable (10.0.2.2:1 refuses), so what the host then
#     reads through the forwarded proxy port is the cache's offline answer (YURT-READY offline);
#  3. YURT_MODE=write, on the host's "write": the hub restarts against the API double
#     (https://10.0.2.2:$YURT_API_PORT); the host's informers LIST + WATCH through it while the host
#     changes pods on the double, so the hub writes lists and watch events into its cache until the
#     host kills QEMU (YURT-READY writing). YURT_MODE=verify (the last boot): stop cleanly.
# The hub runs with the board's /etc/yurt/cache.json (sizes and sync policy).
# shellcheck shell=sh source=qemu-tests/guest/lib.sh
. ./lib.sh

cycle="${YURT_CYCLE:-0}"
cache=/var/lib/yurt/hub-cache
node="$(hostname)"
if ! grep -q " /var/lib/yurt " /proc/mounts; then
  check fail "mount-$cycle" "the persistent disk did not mount"
  exit 1
fi

if [ -d "$cache" ]; then
  if out="$(yurt hub cache ls --disk-cache-path "$cache" 2>/tmp/ls.err)"; then
    check pass "cache-opens-$cycle" "$(($(echo "$out" | grep -c .) - 1)) views"
    echo "$out" | sed 's/^/cache-ls: /'
  else
    check fail "cache-opens-$cycle" "yurt hub cache ls: $(tail -n1 /tmp/ls.err)"
  fi
else
  check pass "cache-opens-$cycle" "no cache yet (first boot)"
fi

# start_hub <server url> <name>: yurt hub on the cache, serving 0.0.0.0 for the forwarded ports.
start_hub() {
  yurt hub --server-addr "$1" --kubeconfig /etc/kubernetes/kubelet.conf --node-name "$node" \
    --bind-address 0.0.0.0 --bind-proxy-address 0.0.0.0 --heartbeat-interval-seconds 1 \
    --disk-cache-path "$cache" --cache-config /etc/yurt/cache.json > "/tmp/hub-$2.log" 2>&1 &
  hub=$!
  i=0
  until printf 'GET /v1/healthz HTTP/1.0\r\n\r\n' | timeout 5 nc 127.0.0.1 10267 2>/dev/null | head -n1 | grep -q ' 200'; do
    i=$((i + 1))
    if [ "$i" -ge 100 ] || ! kill -0 "$hub" 2>/dev/null; then
      check fail "hub-$2-$cycle" "no healthz: $(tail -n 2 "/tmp/hub-$2.log" | tr '\n' ' ')"
      return 1
    fi
    sleep 0.2
  done
  # A cache that cannot open makes the hub a plain proxy: that is a failure here.
  if grep -q 'cache in .* with ' "/tmp/hub-$2.log"; then
    check pass "hub-$2-$cycle" "cache open"
  else
    check fail "hub-$2-$cycle" "$(grep -i cache "/tmp/hub-$2.log" | tail -n 1)"
    return 1
  fi
}

start_hub https://10.0.2.2:1 offline || exit 1
ready offline
line="$(wait_host 120)"
kill -TERM "$hub"
wait "$hub"
if [ "${YURT_MODE:-write}" = write ] && [ "$line" = write ]; then
  start_hub "https://10.0.2.2:$YURT_API_PORT" online || exit 1
  ready writing
  wait "$hub"
  check fail "killed-$cycle" "the hub exited before QEMU was killed: $(tail -n 2 /tmp/hub-online.log | tr '\n' ' ')"
  exit 1
fi
exit 0

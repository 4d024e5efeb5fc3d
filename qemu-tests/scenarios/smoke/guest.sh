# Smoke test in the guest: the static binary runs, the multicall links dispatch, and, once the hub
# exists, `yurt hub` starts and serves /v1/healthz to the host through a forwarded port.
# Parameters (kernel command line): yurt.cloud_port (host port standing in for kube-apiserver).
# shellcheck shell=sh source=qemu-tests/guest/lib.sh
. ./lib.sh

v="$(yurt version 2>&1)"
case "$v" in "yurt "*) check pass version "$v" ;; *) check fail version "$v" ;; esac
check_cmd hub-help yurt hub --help
check_cmd yurthub-link yurthub --help
check_cmd usage yurt help
# Peak RSS of a short-lived run (busybox time -v reports wait4's ru_maxrss).
if busybox time -v true >/dev/null 2>&1; then
  kb="$(busybox time -v yurt version 2>&1 >/dev/null | sed -n 's/.*Maximum resident set size (kbytes): *//p')"
  echo "YURT-METRIC version_maxrss_kb=$kb"
fi
echo "YURT-METRIC binary_bytes=$(wc -c < /usr/bin/yurt)"
echo "YURT-METRIC guest_memtotal_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"

# The hub: required once `yurt hub --help` lists --bind-address (the flag set this test drives).
required=0
yurt hub --help 2>&1 | grep -q -- '--bind-address' && required=1
cat > /tmp/kubeconfig <<KC
apiVersion: v1
kind: Config
clusters:
- name: cloud
  cluster:
    server: https://10.0.2.2:${YURT_CLOUD_PORT:-6443}
    certificate-authority: /etc/yurt/test-ca.crt
contexts:
- name: edge
  context: {cluster: cloud, user: node}
current-context: edge
users:
- name: node
  user: {token: qemu-smoke}
KC
mkdir -p /var/lib/yurt/hub-cache
yurt hub --bind-address 0.0.0.0 --port 10267 --server-addr "https://10.0.2.2:${YURT_CLOUD_PORT:-6443}" \
  --kubeconfig /tmp/kubeconfig --node-name "$(hostname)" > /tmp/hub.log 2>&1 &
pid=$!
sleep 2
if kill -0 "$pid" 2>/dev/null; then
  check pass hub-starts
  ready hub
  rss_of "$pid" | { read -r rss hwm; echo "YURT-METRIC hub_idle_rss_kb=$rss hub_idle_hwm_kb=$hwm"; }
  wait_host 60 >/dev/null
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
else
  wait "$pid"
  rc=$?
  msg="yurt hub exited at start rc=$rc: $(tail -n1 /tmp/hub.log)"
  if [ "$required" = 1 ]; then check fail hub-starts "$msg"; else check skip hub-starts "$msg (hub not implemented in this build)"; fi
  ready hub-gone
fi
exit 0

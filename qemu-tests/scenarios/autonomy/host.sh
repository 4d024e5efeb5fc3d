#!/usr/bin/env bash
# Autonomy scenario, host side (started by qemu-tests/boot; qemu-tests/autonomy sets up the cloud and
# exports API_URL, DOUBLE_PID, PKI_DIR, TUNNEL_CONNECT_PORT, TUNNEL_META_PORT, NODE).
#  1. the guest's hub answers /v1/healthz through the forwarded port;
#  2. the tunnel: `curl --proxytunnel` through the tunnel server's plain CONNECT front end reaches the
#     kubelet stand-in inside the guest (its random token comes back); a port outside the agent's
#     allowlist is refused;
#  3. kubelet- and kube-proxy-style LISTs (protobuf and JSON) and a GET through the hub equal the
#     double's direct answers (same resourceVersion, same items, byte-identical in protobuf);
#  4. the cloud is cut (the double is stopped): the same requests through the hub give the same
#     answers from the guest's cache, the offline-answer counter moves, the tunnel still works.
set -euo pipefail
# shellcheck source=qemu-tests/host-lib.sh
. "$QT/host-lib.sh"
KUBE="$QT/kube.py"
out="$RUN_DIR/answers"
mkdir -p "$out"
PB="application/vnd.kubernetes.protobuf,application/json"
JSONA="application/json"
UA_KUBELET="kubelet/v1.35.0 (linux/$ARCH) kubernetes/qemu"
UA_PROXY="kube-proxy/v1.35.0 (linux/$ARCH) kubernetes/qemu"

# The requests: name|user agent|accept|path|kind (list or object).
requests=(
  "pods-kubelet|$UA_KUBELET|$PB|/api/v1/pods?fieldSelector=spec.nodeName%3D$NODE&limit=500&resourceVersion=0|list"
  "nodes-kubelet|$UA_KUBELET|$PB|/api/v1/nodes?fieldSelector=metadata.name%3D$NODE&limit=500&resourceVersion=0|list"
  "services-kube-proxy|$UA_PROXY|$JSONA|/api/v1/services?labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name&limit=500&resourceVersion=0|list"
  "node-get-kubelet|$UA_KUBELET|$JSONA|/api/v1/nodes/$NODE|object"
)

# get <hub|direct> <ua> <accept> <path> <file>: prints the HTTP status.
get() {
  local where="$1" ua="$2" accept="$3" path="$4" file="$5" url tls=()
  if [ "$where" = hub ]; then url="http://127.0.0.1:$FWD_PROXY$path"
  else url="$API_URL$path"; tls=(--cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/admin.crt" --key "$PKI_DIR/admin.key"); fi
  curl -sS --max-time 30 "${tls[@]}" -A "$ua" -H "Accept: $accept" -o "$file" -w '%{http_code}' "$url" 2>>"$RUN_DIR/curl.err" || true
}

# compare <name> <kind> <accept> <got file> <want file>
compare() {
  local name="$1" kind="$2" accept="$3" got="$4" want="$5" msg
  if [ "$kind" = object ]; then
    if python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' "$got" "$want" 2>/dev/null; then
      echo "equal objects"; return 0
    fi
    echo "objects differ"; return 1
  fi
  local pb=()
  [ "$accept" = "$JSONA" ] || pb=(--pb)
  msg="$(python3 "$KUBE" same-list "${pb[@]}" "$got" "$want")" && { echo "$msg"; return 0; }
  echo "$msg"; return 1
}

# read_all <phase>: every request through the hub, compared with the direct answer of the online phase.
read_all() {
  local phase="$1" r name ua accept path kind code msg
  for r in "${requests[@]}"; do
    IFS='|' read -r name ua accept path kind <<<"$r"
    code="$(get hub "$ua" "$accept" "$path" "$out/$name.$phase")"
    if [ "$code" != 200 ]; then
      check fail "$phase-$name" "hub answered $code: $(head -c 200 "$out/$name.$phase" 2>/dev/null | tr -d '\0')"
      continue
    fi
    if msg="$(compare "$name" "$kind" "$accept" "$out/$name.$phase" "$out/$name.direct")"; then
      check pass "$phase-$name" "$msg"
    else
      check fail "$phase-$name" "$msg"
    fi
  done
}

wait_console 'YURT-READY up' 100 || { check fail host-wait "the guest never reported yurt edge up"; exit 1; }

# 1. healthz through the forwarded port.
got="$(http_get "$FWD_HUB" /v1/healthz 2>&1 || true)"
case "$got" in "200 "*) check pass host-healthz "$got" ;; *) check fail host-healthz "$got" ;; esac

# 2. The tunnel: the agent registers, then a CONNECT to the node's kubelet port reaches the stand-in.
agents=""
for _ in $(seq 1 60); do
  agents="$(curl -sS --max-time 5 "http://127.0.0.1:$TUNNEL_META_PORT/v1/agents" 2>/dev/null || true)"
  case "$agents" in *"$NODE"*) break ;; esac
  sleep 0.5
done
case "$agents" in *"$NODE"*) check pass tunnel-agent-registered ;; *) check fail tunnel-agent-registered "$agents" ;; esac
token="$(sed -n 's/^YURT-KUBELET-TOKEN //p' "$CONSOLE" | tr -d '\r' | head -n1)"
tunnel_check() { # tunnel_check <name>
  local got
  got="$(curl -sS --max-time 30 --proxytunnel --proxy "http://127.0.0.1:$TUNNEL_CONNECT_PORT" \
    "http://10.0.2.15:10250/containerLogs/default/web-0/web" 2>&1 || true)"
  if [ -n "$token" ] && [[ "$got" == *"$token"* ]]; then check pass "$1" "$got"
  else check fail "$1" "want token '$token', got: $got"; fi
}
tunnel_check tunnel-to-kubelet
refused="$(curl -sS --max-time 30 --proxytunnel --proxy "http://127.0.0.1:$TUNNEL_CONNECT_PORT" \
  -o /dev/null -w '%{http_connect}' "http://10.0.2.15:22/" 2>&1 || true)"
# 403 is the agent's refusal (its allowlist); a 503 would only mean the tunnel is down.
case "$refused" in *403) check pass tunnel-allowlist "CONNECT 10.0.2.15:22 refused by the agent (403)" ;;
  *) check fail tunnel-allowlist "CONNECT to port 22: want 403 from the agent's allowlist, got: $refused" ;; esac

# 3. Online: direct answers first (the double does not change during the scenario), then the hub's.
for r in "${requests[@]}"; do
  IFS='|' read -r name ua accept path kind <<<"$r"
  code="$(get direct "$ua" "$accept" "$path" "$out/$name.direct")"
  [ "$code" = 200 ] || check fail "direct-$name" "the double answered $code"
done
read_all online
sleep 1 # the hub's cache writer commits what it teed
signal_guest cached || { check fail host-signal "'cached' not delivered"; exit 1; }
wait_console 'YURT-READY cached-measured' 60 || check fail host-wait "no cached-measured"

# 4. Cut the cloud: stop the double; its port refuses from now on.
kill "$DOUBLE_PID" 2>/dev/null || true
for _ in $(seq 1 50); do curl -s -o /dev/null --max-time 1 "$API_URL/" 2>/dev/null || break; sleep 0.1; done
if curl -sk -o /dev/null --max-time 2 "$API_URL/" 2>/dev/null; then check fail cloud-cut "the double still answers"
else check pass cloud-cut "API double stopped"; fi
read_all offline
counter="$(curl -sS --max-time 10 "http://127.0.0.1:$FWD_HUB/metrics" 2>/dev/null | grep '^node_yurthub_cache_offline_answers_total' || true)"
if grep -q 'code="200"' <<<"$counter"; then check pass offline-counter "$(head -n1 <<<"$counter")"
else check fail offline-counter "no 200 offline answers counted: $counter"; fi
views="$(curl -sS --max-time 10 "http://127.0.0.1:$FWD_HUB/v1/cache" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["views"]))' 2>/dev/null || echo 0)"
if [ "$views" -ge 3 ]; then check pass cache-views "$views views in /v1/cache"; else check fail cache-views "$views views"; fi
tunnel_check tunnel-with-cloud-cut
got="$(http_get "$FWD_HUB" /v1/healthz 2>&1 || true)"
case "$got" in "200 "*) check pass healthz-offline "$got" ;; *) check fail healthz-offline "$got" ;; esac

signal_guest offline-done || { check fail host-signal "'offline-done' not delivered"; exit 1; }
wait_guest_done 60

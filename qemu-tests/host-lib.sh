#!/usr/bin/env bash
# Sourced by scenario host scripts. The harness (qemu-tests/boot) exports CONSOLE (the guest's console
# log), RUN_DIR, ARCH, FWD_<NAME> (host ports forwarded to the guest) and FWD_CONTROL.

# check pass|fail|skip <name> [detail...]: same lines as the guest's.
check() { local r="$1" n="$2"; shift 2; echo "YURT-CHECK $r $n${*:+: $*}"; }

# Waits until the console has a line matching the ERE $1, at most $2 seconds (default 60).
wait_console() {
  local pat="$1" limit="${2:-60}" t=0
  while ! grep -Eq "$pat" "$CONSOLE" 2>/dev/null; do
    # Give up when time is out or the guest is gone (checking the pattern once more: it may have
    # arrived together with the guest's last lines).
    if [ "$t" -ge $((limit * 5)) ] || grep -q 'YURT-GUEST-DONE' "$CONSOLE" 2>/dev/null \
      || { [ -n "${QEMU_PID:-}" ] && ! kill -0 "$QEMU_PID" 2>/dev/null; }; then
      grep -Eq "$pat" "$CONSOLE" 2>/dev/null
      return
    fi
    sleep 0.2; t=$((t + 1))
  done
}

# Serves a stand-in cloud on 127.0.0.1:$1 until the calling script exits: GET /cloud answers
# "cloud-ok". The guest reaches it at 10.0.2.2:$1, or through the relay with --cloud.
start_standin_cloud() {
  local www="$RUN_DIR/www"
  mkdir -p "$www"
  echo cloud-ok > "$www/cloud"
  python3 -m http.server --bind 127.0.0.1 --directory "$www" "$1" > "$RUN_DIR/cloud.log" 2>&1 &
  STANDIN_CLOUD_PID=$!
  trap 'kill "$STANDIN_CLOUD_PID" 2>/dev/null || true' EXIT
}

# Waits for the guest to finish (YURT-GUEST-DONE or QEMU gone), at most $1 s: call it before a host
# script exits when the guest may still use a host service the script runs.
wait_guest_done() { wait_console 'YURT-GUEST-DONE' "${1:-60}" || true; }

# Sends one line to the guest's wait_host. A forwarded port accepts even while nothing listens in
# the guest, so delivery is confirmed by the guest's "YURT-GOT <line>" on the console; retried until then.
signal_guest() {
  local msg="${1:-go}" i
  for i in $(seq 1 30); do
    python3 - "$FWD_CONTROL" "$msg" <<'PY' 2>/dev/null || true
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall((sys.argv[2] + "\n").encode())
s.shutdown(socket.SHUT_WR)
s.settimeout(2)
try:
    s.recv(1)
except OSError:
    pass
s.close()
PY
    if wait_console "YURT-GOT $msg" 2; then return 0; fi
    [ "$i" -lt 30 ] || return 1
  done
}

# GET http://127.0.0.1:<port><path>; prints "<status> <body>" (body up to 200 bytes).
http_get() {
  python3 - "$1" "$2" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
c.request("GET", sys.argv[2])
r = c.getresponse()
print(r.status, r.read(200).decode(errors="replace").strip())
PY
}

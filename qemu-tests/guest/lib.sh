# Sourced by scenario guest scripts (busybox sh). Result lines are what the host reads off the console.

# check pass|fail|skip <name> [detail...]
check() { r="$1"; n="$2"; shift 2; echo "YURT-CHECK $r $n${*:+: $*}"; }

# Runs a command; a zero exit is a pass, anything else a fail with its output's last line.
check_cmd() {
  name="$1"; shift
  if out="$("$@" 2>&1)"; then check pass "$name"; else check fail "$name" "rc=$? $(echo "$out" | tail -n1)"; fi
}

# Tells the host we reached a point, so its script can go on: YURT-READY <what>.
ready() { echo "YURT-READY $1"; }

# Blocks until the host connects to the guest's control port (forwarded by the harness) and sends a
# line; prints that line. Gives up after $1 seconds.
wait_host() {
  line="$(timeout "${1:-60}" nc -l -p 10999 2>/dev/null | head -n1)"
  echo "YURT-GOT $line" > /dev/console
  echo "$line"
}

# Prints VmRSS / VmHWM (kB) of a pid, as "rss_kb hwm_kb".
rss_of() {
  awk '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} END {print r+0, h+0}' "/proc/$1/status" 2>/dev/null
}

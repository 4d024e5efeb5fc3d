# Proves the cloud-cut plumbing the autonomy scenario needs, with busybox stand-ins: booted with
# --restrict --cloud cloud_port, the guest reaches the host's stand-in cloud only through
# 10.0.2.100:9000; the host cuts and restores that path while the hostfwd control port keeps working.
# shellcheck shell=sh source=qemu-tests/guest/lib.sh
. ./lib.sh

# get <host> <port>: last line of a raw HTTP/1.0 GET /cloud (busybox-static's wget crashes here).
get() { printf 'GET /cloud HTTP/1.0\r\n\r\n' | timeout 5 nc "$1" "$2" 2>/dev/null | tail -n1; }

got="$(get 10.0.2.100 9000)"
case "$got" in cloud-ok*) check pass cloud-online "$got" ;; *) check fail cloud-online "got '$got'" ;; esac
got="$(get 10.0.2.2 "$YURT_CLOUD_PORT")"
case "$got" in cloud-ok*) check fail restrict "guest reached 10.0.2.2 directly" ;; *) check pass restrict ;; esac
ready online
line="$(wait_host 60)"
[ "$line" = cut ] || check fail host-signal "expected 'cut', got '$line'"
got="$(get 10.0.2.100 9000)"
case "$got" in cloud-ok*) check fail cloud-cut "still reached the cloud" ;; *) check pass cloud-cut ;; esac
ready cut-seen
line="$(wait_host 60)"
[ "$line" = restored ] || check fail host-signal "expected 'restored', got '$line'"
got="$(get 10.0.2.100 9000)"
case "$got" in cloud-ok*) check pass cloud-restored "$got" ;; *) check fail cloud-restored "got '$got'" ;; esac
exit 0

# Proves the harness's plumbing with busybox stand-ins, independent of what yurt implements yet:
# host -> guest through a forwarded port (busybox httpd as a stand-in hub on 10267), guest -> host
# through 10.0.2.2 (the host's stand-in cloud), and the host -> guest control signal.
# Parameters: yurt.cloud_port.
# shellcheck shell=sh source=qemu-tests/guest/lib.sh
. ./lib.sh

mkdir -p /tmp/www/v1
echo ok > /tmp/www/v1/healthz
httpd -p 10267 -h /tmp/www
# busybox-static's wget crashes in static glibc's resolver; a raw HTTP/1.0 request through nc does not.
got="$(printf 'GET /cloud HTTP/1.0\r\n\r\n' | timeout 10 nc 10.0.2.2 "$YURT_CLOUD_PORT" 2>&1 | tail -n1)"
case "$got" in cloud-ok*) check pass guest-to-host "$got" ;; *) check fail guest-to-host "$got" ;; esac
ready standin-hub
line="$(wait_host 60)"
case "$line" in finished) check pass host-signal ;; *) check fail host-signal "got '$line'" ;; esac
exit 0

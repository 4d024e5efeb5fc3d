#!/usr/bin/env bash
# Host half of the harness self-test: serves a stand-in cloud on PORT_CLOUD_PORT (boot's
# --param cloud_port=@port), reads the guest's stand-in healthz through FWD_HEALTH.
set -euo pipefail
# shellcheck source=qemu-tests/host-lib.sh
. "$QT/host-lib.sh"

www="$RUN_DIR/www"
mkdir -p "$www"
echo cloud-ok > "$www/cloud"
python3 -m http.server --bind 127.0.0.1 --directory "$www" "$PORT_CLOUD_PORT" > "$RUN_DIR/cloud.log" 2>&1 &
cloud=$!
trap 'kill "$cloud" 2>/dev/null || true' EXIT

wait_console 'YURT-READY standin-hub' 60 || { check fail host-wait "guest never got ready"; exit 1; }
got="$(http_get "$FWD_HEALTH" /v1/healthz 2>&1 || true)"
case "$got" in "200 ok") check pass host-to-guest "$got" ;; *) check fail host-to-guest "$got" ;; esac
signal_guest finished || check fail host-signal "guest never confirmed the signal"

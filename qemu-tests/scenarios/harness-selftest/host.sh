#!/usr/bin/env bash
# Host half of the harness self-test: serves a stand-in cloud on PORT_CLOUD_PORT (boot's
# --param cloud_port=@port), reads the guest's stand-in healthz through FWD_HEALTH.
set -euo pipefail
# shellcheck source=qemu-tests/host-lib.sh
. "$QT/host-lib.sh"

start_standin_cloud "$PORT_CLOUD_PORT"

wait_console 'YURT-READY standin-hub' 60 || { check fail host-wait "guest never got ready"; exit 1; }
got="$(http_get "$FWD_HEALTH" /v1/healthz 2>&1 || true)"
case "$got" in "200 ok") check pass host-to-guest "$got" ;; *) check fail host-to-guest "$got" ;; esac
signal_guest finished || check fail host-signal "guest never confirmed the signal"

#!/usr/bin/env bash
# Host half of the smoke test: when the guest's hub is up, GET /v1/healthz through the forwarded port
# (FWD_HEALTH -> guest 10267), then let the guest finish.
set -euo pipefail
# shellcheck source=qemu-tests/host-lib.sh
. "$QT/host-lib.sh"

if ! wait_console 'YURT-READY (hub|hub-gone)' 90; then
  check fail host-wait "guest never reported the hub's state"
  exit 1
fi
if grep -q 'YURT-READY hub-gone' "$CONSOLE"; then
  check skip host-healthz "the guest's hub did not start"
  exit 0
fi
got="$(http_get "$FWD_HEALTH" /v1/healthz 2>&1 || true)"
case "$got" in
  "200 "*) check pass host-healthz "$got" ;;
  *) check fail host-healthz "GET /v1/healthz: $got" ;;
esac
signal_guest finished

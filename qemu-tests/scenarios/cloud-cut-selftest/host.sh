#!/usr/bin/env bash
# Host half of the cloud-cut self-test: serves the stand-in cloud on PORT_CLOUD_PORT, cuts the guest's
# path to it (touch $CLOUD_CUT), then restores it.
set -euo pipefail
# shellcheck source=qemu-tests/host-lib.sh
. "$QT/host-lib.sh"

start_standin_cloud "$PORT_CLOUD_PORT"

wait_console 'YURT-READY online' 60 || { check fail host-wait "guest never got online"; exit 1; }
touch "$CLOUD_CUT"
signal_guest cut || { check fail host-signal "cut not delivered"; exit 1; }
wait_console 'YURT-READY cut-seen' 60 || { check fail host-wait "guest never saw the cut"; exit 1; }
rm -f "$CLOUD_CUT"
signal_guest restored || { check fail host-signal "restore not delivered"; exit 1; }
wait_guest_done 60

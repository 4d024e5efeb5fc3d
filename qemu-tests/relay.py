#!/usr/bin/env python3
"""One guest connection to one host service, for QEMU's guestfwd=...-cmd:: fds 0/1 are the guest's
connection, argv is <host> <port> <cut-flag-file>. While the flag file exists the relay refuses new
connections and drops open ones: the harness's switch for "the cloud is gone" (autonomy scenario),
which leaves hostfwd and everything else untouched."""
import os
import select
import socket
import sys


def write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def relay(host: str, port: int, flag: str) -> None:
    if os.path.exists(flag):
        return
    up = socket.create_connection((host, port), timeout=5)
    up.settimeout(None)
    guest_open = True
    while True:
        watch = [up] + ([0] if guest_open else [])
        ready, _, _ = select.select(watch, [], [], 0.2)
        if os.path.exists(flag):
            return
        if up in ready:
            data = up.recv(65536)
            if not data:
                return
            write_all(1, data)
        if guest_open and 0 in ready:
            data = os.read(0, 65536)
            if data:
                up.sendall(data)
            else:
                # The guest finished sending; keep passing the answer through.
                up.shutdown(socket.SHUT_WR)
                guest_open = False


def main() -> int:
    # stderr is the guest's connection too: never write diagnostics there.
    # YURT_RELAY_DEBUG=1 logs to <cut-flag-file>.log instead.
    debug = os.environ.get("YURT_RELAY_DEBUG")
    sys.stderr = open(sys.argv[3] + ".log", "a") if debug else open(os.devnull, "w")
    print("relay start", sys.argv[1:], os.path.exists(sys.argv[3]), file=sys.stderr, flush=True)
    try:
        relay(sys.argv[1], int(sys.argv[2]), sys.argv[3])
    except OSError as e:
        print("relay error", e, file=sys.stderr, flush=True)
    print("relay end", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

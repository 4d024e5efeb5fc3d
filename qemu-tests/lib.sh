#!/usr/bin/env bash
# Shared by the qemu-tests scripts: cache location and how to run the privately extracted QEMU.
# Source it; it only defines things.

# shellcheck source=cross/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../cross/lib.sh"

# Everything fetched or built for the QEMU tests lives here (under target/, so git ignores it).
QCACHE="${YURT_QEMU_CACHE:-$YURT_ROOT/target/qemu-tests}"
export QCACHE
mkdir -p "$QCACHE"

# Prints the command prefix that runs qemu-system-<arch> from the private sysroot (qemu-tests/fetch):
# `env LD_LIBRARY_PATH=<sysroot libs> <sysroot>/usr/bin/qemu-system-<arch> -L <sysroot data>`, one word
# a line (read it with mapfile). The library path is set for QEMU alone, never for the caller.
qemu_sys_cmd() {
  local sr="$QCACHE/sysroot"
  printf '%s\n' env "LD_LIBRARY_PATH=$sr/usr/lib/x86_64-linux-gnu:$sr/lib/x86_64-linux-gnu" \
    "$sr/usr/bin/qemu-system-$1" -L "$sr/usr/share/qemu"
}

# Runs qemu-system-<arch> from the private sysroot with the given arguments.
qemu_sys() {
  local cmd
  mapfile -t cmd < <(qemu_sys_cmd "$1")
  shift
  "${cmd[@]}" "$@"
}

# cloud_pki <dir> <node>: a throwaway cluster PKI (openssl, EC P-256, X.509 v3: webpki refuses v1):
#   ca.crt/.key           the cluster CA
#   server.crt/.key       serverAuth for 10.0.2.2 (the host as the guest sees it), 127.0.0.1 and
#                         localhost: the API double and the tunnel server use it
#   admin.crt/.key        CN=kubernetes-admin, O=system:masters: the host's direct requests to the double
#   node.crt/.key         CN=system:node:<node>, O=system:nodes, and kubelet-client-current.pem (both
#                         in one file) with kubelet.conf using it, as a joined node has: the hub's and
#                         the tunnel agent's identity
# Existing files are replaced.
cloud_pki() {
  local d="$1" node="$2" name subj ext
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/ca.key" \
    -out "$d/ca.crt" -days 2 -subj "/CN=yurt qemu test CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  for name in server admin node; do
    case "$name" in
      server) subj="/CN=yurt-qemu-cloud"
        ext="subjectAltName=IP:10.0.2.2,IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth" ;;
      admin) subj="/O=system:masters/CN=kubernetes-admin"; ext="extendedKeyUsage=clientAuth" ;;
      node) subj="/O=system:nodes/CN=system:node:$node"; ext="extendedKeyUsage=clientAuth" ;;
    esac
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/$name.key" \
      -out "$d/$name.csr" -subj "$subj" 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n%s\n' "$ext" > "$d/$name.ext"
    openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
      -extfile "$d/$name.ext" -out "$d/$name.crt" 2>/dev/null
    rm -f "$d/$name.csr" "$d/$name.ext"
  done
  cat "$d/node.crt" "$d/node.key" > "$d/kubelet-client-current.pem"
  # The server is a placeholder: the hub and the agent take --server-addr / --tunnel-server-addr.
  cat > "$d/kubelet.conf" <<'KC'
apiVersion: v1
kind: Config
clusters:
- name: cloud
  cluster: {server: "https://apiserver.invalid:6443", certificate-authority: /etc/kubernetes/pki/ca.crt}
contexts:
- name: node
  context: {cluster: cloud, user: node}
current-context: node
users:
- name: node
  user:
    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem
    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem
KC
}

# Where a node's identity goes in the guest, as boot --file arguments for a cloud_pki folder.
node_identity_files() {
  local d="$1"
  printf '%s\n' --file "$d/kubelet.conf=/etc/kubernetes/kubelet.conf" --file "$d/ca.crt=/etc/kubernetes/pki/ca.crt" \
    --file "$d/kubelet-client-current.pem=/var/lib/kubelet/pki/kubelet-client-current.pem"
}

# The host's `yurt` with the cloud side (api-double, tunnel-server): target/debug/yurt, built with the
# default features if missing or older than the sources. Prints its path.
host_yurt() {
  local bin="$YURT_ROOT/target/debug/yurt"
  if [ ! -x "$bin" ] || [ -n "$(find "$YURT_ROOT/src" "$YURT_ROOT/Cargo.toml" -newer "$bin" -print -quit)" ]; then
    (cd "$YURT_ROOT" && nice -n "${YURT_NICE:-10}" cargo build --locked --bin yurt >&2) || return 1
  fi
  echo "$bin"
}

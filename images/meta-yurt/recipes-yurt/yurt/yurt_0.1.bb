SUMMARY = "Yurt edge services: node-local Kubernetes API cache/proxy and tunnel agent"
DESCRIPTION = "One static multicall binary (yurt) with the links yurthub, yurt-tunnel-agent and \
yurt-edge, built with the edge features only; systemd units or a SysV init script; the board's \
tuning from board-configs/ as /etc/default/yurt and /etc/yurt/cache.json; kubelet pointed at the hub on 127.0.0.1:10261."
HOMEPAGE = "https://openyurt.io"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

# Builds the Yurt checkout that holds this layer (YURT_SRC_DIR, set in conf/layer.conf). For a
# release, replace externalsrc with SRC_URI = "git://...;protocol=https;branch=main" and SRCREV.
inherit externalsrc cargo cargo-update-recipe-crates systemd update-rc.d
EXTERNALSRC ?= "${YURT_SRC_DIR}"
EXTERNALSRC_BUILD ?= "${WORKDIR}/build"

require yurt-crates.inc

# The board config to install: a folder of board-configs/ (set it in local.conf or the machine conf).
YURT_BOARD ??= "rpi4"
YURT_BOARD_FILE = "${S}/board-configs/${YURT_BOARD}/board.toml"

# Only the edge features: never kube-rs or tokio on the board.
CARGO_BUILD_FLAGS:append = " --no-default-features --features edge --bin yurt"
# cargo.bbclass builds the release profile; give it the size settings of Cargo.toml's [profile.edge].
export CARGO_PROFILE_RELEASE_OPT_LEVEL = "z"
export CARGO_PROFILE_RELEASE_LTO = "true"
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS = "1"
export CARGO_PROFILE_RELEASE_PANIC = "abort"

SYSTEMD_SERVICE:${PN} = "yurt-edge.service yurthub.service yurt-tunnel-agent.service"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"
INITSCRIPT_NAME = "yurt"
INITSCRIPT_PARAMS = "defaults 99"

do_install:append() {
    ln -sf yurt ${D}${bindir}/yurthub
    ln -sf yurt ${D}${bindir}/yurt-tunnel-agent
    ln -sf yurt ${D}${bindir}/yurt-edge

    test -f ${YURT_BOARD_FILE} || bbfatal "no board config ${YURT_BOARD_FILE}"
    install -d ${D}${sysconfdir}/yurt ${D}${sysconfdir}/default ${D}${localstatedir}/lib/yurt
    install -m 0644 ${YURT_BOARD_FILE} ${D}${sysconfdir}/yurt/board.toml
    bash ${S}/images/board-env ${YURT_BOARD_FILE} > ${D}${sysconfdir}/default/yurt
    bash ${S}/images/board-env --cache-json ${YURT_BOARD_FILE} > ${D}${sysconfdir}/yurt/cache.json
    install -m 0644 ${S}/images/kubeconfig/kubelet-yurt.kubeconfig ${D}${sysconfdir}/yurt/kubelet.kubeconfig

    if ${@bb.utils.contains('DISTRO_FEATURES', 'systemd', 'true', 'false', d)}; then
        install -d ${D}${systemd_system_unitdir}/kubelet.service.d
        install -m 0644 ${S}/images/systemd/yurt-edge.service ${D}${systemd_system_unitdir}/
        install -m 0644 ${S}/images/systemd/yurthub.service ${D}${systemd_system_unitdir}/
        install -m 0644 ${S}/images/systemd/yurt-tunnel-agent.service ${D}${systemd_system_unitdir}/
        install -m 0644 ${S}/images/systemd/kubelet.service.d/10-yurt.conf ${D}${systemd_system_unitdir}/kubelet.service.d/
    fi
    if ${@bb.utils.contains('DISTRO_FEATURES', 'sysvinit', 'true', 'false', d)}; then
        install -d ${D}${sysconfdir}/init.d
        install -m 0755 ${S}/images/buildroot/package/yurt/S99yurt ${D}${sysconfdir}/init.d/yurt
    fi
}

FILES:${PN} += "${systemd_system_unitdir}/kubelet.service.d ${localstatedir}/lib/yurt"
CONFFILES:${PN} = "${sysconfdir}/default/yurt ${sysconfdir}/yurt/board.toml ${sysconfdir}/yurt/cache.json"

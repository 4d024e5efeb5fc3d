################################################################################
#
# yurt
#
################################################################################

YURT_VERSION = 0.1.0
# This external tree lives in the Yurt repository (images/buildroot): build that checkout. For a
# release tarball instead, set YURT_SITE to its URL and drop YURT_SITE_METHOD.
YURT_SITE = $(BR2_EXTERNAL_YURT_PATH)/../..
YURT_SITE_METHOD = local
YURT_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = --exclude target --exclude fuzz/target
YURT_LICENSE = Apache-2.0

YURT_BOARD = $(call qstrip,$(BR2_PACKAGE_YURT_BOARD))
YURT_BOARD_FILE = $(@D)/board-configs/$(YURT_BOARD)/board.toml

# Only the edge features: never kube-rs or tokio on the board.
YURT_CARGO_BUILD_OPTS = --no-default-features --features edge --bin yurt
YURT_CARGO_INSTALL_OPTS = --no-default-features --features edge
# Buildroot builds cargo's release profile; give it the size settings of Cargo.toml's [profile.edge].
YURT_CARGO_ENV = \
	CARGO_PROFILE_RELEASE_OPT_LEVEL=z \
	CARGO_PROFILE_RELEASE_LTO=true \
	CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
	CARGO_PROFILE_RELEASE_PANIC=abort \
	CARGO_PROFILE_RELEASE_STRIP=true

define YURT_INSTALL_LINKS_AND_CONFIG
	ln -sf yurt $(TARGET_DIR)/usr/bin/yurthub
	ln -sf yurt $(TARGET_DIR)/usr/bin/yurt-tunnel-agent
	ln -sf yurt $(TARGET_DIR)/usr/bin/yurt-edge
	test -f $(YURT_BOARD_FILE) || { echo "yurt: no board config $(YURT_BOARD_FILE)"; exit 1; }
	$(INSTALL) -D -m 0644 $(YURT_BOARD_FILE) $(TARGET_DIR)/etc/yurt/board.toml
	mkdir -p $(TARGET_DIR)/etc/default $(TARGET_DIR)/var/lib/yurt
	$(@D)/images/board-env $(YURT_BOARD_FILE) > $(TARGET_DIR)/etc/default/yurt
	$(@D)/images/board-env --cache-json $(YURT_BOARD_FILE) > $(TARGET_DIR)/etc/yurt/cache.json
	$(INSTALL) -D -m 0644 $(@D)/images/kubeconfig/kubelet-yurt.kubeconfig \
		$(TARGET_DIR)/etc/yurt/kubelet.kubeconfig
endef
YURT_POST_INSTALL_TARGET_HOOKS += YURT_INSTALL_LINKS_AND_CONFIG

define YURT_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(YURT_PKGDIR)/S99yurt $(TARGET_DIR)/etc/init.d/S99yurt
endef

ifeq ($(BR2_PACKAGE_YURT_KUBELET_DROPIN),y)
define YURT_INSTALL_KUBELET_DROPIN
	$(INSTALL) -D -m 0644 $(@D)/images/systemd/kubelet.service.d/10-yurt.conf \
		$(TARGET_DIR)/usr/lib/systemd/system/kubelet.service.d/10-yurt.conf
endef
endif

define YURT_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(@D)/images/systemd/yurt-edge.service \
		$(TARGET_DIR)/usr/lib/systemd/system/yurt-edge.service
	$(INSTALL) -D -m 0644 $(@D)/images/systemd/yurthub.service \
		$(TARGET_DIR)/usr/lib/systemd/system/yurthub.service
	$(INSTALL) -D -m 0644 $(@D)/images/systemd/yurt-tunnel-agent.service \
		$(TARGET_DIR)/usr/lib/systemd/system/yurt-tunnel-agent.service
	$(YURT_INSTALL_KUBELET_DROPIN)
endef

$(eval $(cargo-package))

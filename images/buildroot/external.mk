include $(sort $(wildcard $(BR2_EXTERNAL_YURT_PATH)/package/*/*.mk))

/*
 * The frozen layout of ABI 1.0. Every line here is a promise to plugins already built: if one
 * fails, the change needs a new major version (see sdk/README.md), not an edited line.
 * NR_CHECK(name, condition) is defined by the file that includes this one (C99 or C++).
 */
#define NR_FN_SIZE sizeof(void (*)(void))
#define NR_PTR_SIZE sizeof(void *)

NR_CHECK(abi_is_1_0, NR_ABI_VERSION == 0x00010000u && NR_ABI_MAJOR(NR_ABI_VERSION) == 1u && NR_ABI_MINOR(NR_ABI_VERSION) == 0u)

NR_CHECK(status_size, sizeof(nr_status) == 4)
NR_CHECK(status_ok, NR_OK == 0)
NR_CHECK(status_invalid_argument, NR_ERR_INVALID_ARGUMENT == 1)
NR_CHECK(status_unsupported, NR_ERR_UNSUPPORTED == 2)
NR_CHECK(status_unavailable, NR_ERR_UNAVAILABLE == 3)
NR_CHECK(status_internal, NR_ERR_INTERNAL == 4)
NR_CHECK(status_not_found, NR_ERR_NOT_FOUND == 5)

NR_CHECK(log_level_size, sizeof(nr_log_level) == 4)
NR_CHECK(log_debug, NR_LOG_DEBUG == 1)
NR_CHECK(log_info, NR_LOG_INFO == 2)
NR_CHECK(log_warn, NR_LOG_WARN == 3)
NR_CHECK(log_error, NR_LOG_ERROR == 4)

NR_CHECK(str_data, offsetof(nr_str, data) == 0)
NR_CHECK(str_size, offsetof(nr_str, size) == NR_PTR_SIZE)
NR_CHECK(str_sizeof, sizeof(nr_str) == NR_PTR_SIZE + sizeof(size_t))

NR_CHECK(host_struct_size, offsetof(nr_host_api, struct_size) == 0)
NR_CHECK(host_abi_version, offsetof(nr_host_api, abi_version) == 4)
NR_CHECK(host_log, offsetof(nr_host_api, log) == 8)
NR_CHECK(host_subscribe, offsetof(nr_host_api, subscribe) == 8 + 1 * NR_FN_SIZE)
NR_CHECK(host_publish, offsetof(nr_host_api, publish) == 8 + 2 * NR_FN_SIZE)
NR_CHECK(host_config_get, offsetof(nr_host_api, config_get) == 8 + 3 * NR_FN_SIZE)
NR_CHECK(host_counter_add, offsetof(nr_host_api, counter_add) == 8 + 4 * NR_FN_SIZE)
NR_CHECK(host_gauge_set, offsetof(nr_host_api, gauge_set) == 8 + 5 * NR_FN_SIZE)
NR_CHECK(host_set_error, offsetof(nr_host_api, set_error) == 8 + 6 * NR_FN_SIZE)
NR_CHECK(host_message_stream, offsetof(nr_host_api, message_stream) == 8 + 7 * NR_FN_SIZE)
NR_CHECK(host_message_id, offsetof(nr_host_api, message_id) == 8 + 8 * NR_FN_SIZE)
NR_CHECK(host_message_topic, offsetof(nr_host_api, message_topic) == 8 + 9 * NR_FN_SIZE)
NR_CHECK(host_message_type, offsetof(nr_host_api, message_type) == 8 + 10 * NR_FN_SIZE)
NR_CHECK(host_message_encoding, offsetof(nr_host_api, message_encoding) == 8 + 11 * NR_FN_SIZE)
NR_CHECK(host_message_payload, offsetof(nr_host_api, message_payload) == 8 + 12 * NR_FN_SIZE)
NR_CHECK(host_message_received_ns, offsetof(nr_host_api, message_received_ns) == 8 + 13 * NR_FN_SIZE)
NR_CHECK(host_sizeof_1_0, sizeof(nr_host_api) == 8 + 14 * NR_FN_SIZE)

NR_CHECK(info_struct_size, offsetof(nr_plugin_info, struct_size) == 0)
NR_CHECK(info_abi_version, offsetof(nr_plugin_info, abi_version) == 4)
NR_CHECK(info_name, offsetof(nr_plugin_info, name) == 8)
NR_CHECK(info_version, offsetof(nr_plugin_info, version) == 8 + NR_PTR_SIZE)
NR_CHECK(info_init, offsetof(nr_plugin_info, init) == 8 + 2 * NR_PTR_SIZE)
NR_CHECK(info_shutdown, offsetof(nr_plugin_info, shutdown) == 8 + 2 * NR_PTR_SIZE + NR_FN_SIZE)
NR_CHECK(info_sizeof_1_0, sizeof(nr_plugin_info) == 8 + 2 * NR_PTR_SIZE + 2 * NR_FN_SIZE)

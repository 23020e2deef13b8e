#pragma once
// Options of the plugin host and of each plugin, read from the relay's `plugins.*` properties:
// host-wide keys `plugins.<key>` give the defaults, `plugins.<name>.<key>` override them for one
// plugin. Every other `plugins.<name>.*` key belongs to the plugin (nr_host_api.config_get).
// Plain values, no threads.
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace nautilus::relay {

/// Full property keys ("plugins.order-audit.file") to values.
using PluginProperties = std::map<std::string, std::string, std::less<>>;

/// What happens to a message routed to a plugin whose queue is full.
enum class QueueFullPolicy {
    Block,  ///< route() waits for room: backpressure up to the bus reader, so Redis stays the buffer
    Drop,   ///< the message is dropped for this plugin and counted
};
std::string_view toString(QueueFullPolicy policy);

/// How the host runs one plugin. Keys (under `plugins.` or `plugins.<name>.`) in comments.
struct PluginOptions {
    bool enabled = true;                              ///< enabled
    bool required = false;                            ///< required: a refusal stops start-up
    std::size_t queueCapacity = 10'000;               ///< queue_capacity (messages, >= 1)
    QueueFullPolicy fullPolicy = QueueFullPolicy::Block;  ///< full_policy: block | drop
    unsigned failureThreshold = 10;                   ///< failure_threshold: consecutive handler failures before
                                                      ///< the plugin is failed (0 = never)
    std::chrono::milliseconds handlerWarn{1'000};     ///< handler_warn_ms: a longer handler call is reported
    std::chrono::milliseconds handlerFail{30'000};    ///< handler_fail_ms: past it, the plugin is failed (0 = never)
    bool autoRestart = true;                          ///< restart: restart a failed plugin automatically
    std::chrono::milliseconds restartBackoff{1'000};  ///< restart_backoff_ms: first delay, doubled per attempt
    std::chrono::milliseconds restartBackoffMax{60'000};  ///< restart_backoff_max_ms
    std::chrono::milliseconds callbackTimeout{10'000};    ///< callback_timeout_ms: bound for init/shutdown
    std::chrono::milliseconds errorLogInterval{10'000};   ///< error_log_interval_ms: handler errors are
                                                          ///< logged at most once per interval

    /// Applies the keys `<prefix><key>` found in props. Throws std::invalid_argument with one line
    /// naming the key, the value and what is allowed.
    void apply(const PluginProperties& props, std::string_view prefix);
};

/// The plugin host: where to find plugins, and the settings above for every plugin.
struct PluginHostOptions {
    std::vector<std::string> dirs;                    ///< plugins.dirs: scanned in order
    std::vector<std::string> files;                   ///< plugins.files: explicit list, loaded first
    std::chrono::milliseconds drainTimeout{1'000};    ///< plugins.drain_timeout_ms: at shutdown
    std::chrono::milliseconds stopTimeout{1'500};     ///< plugins.stop_timeout_ms: drain + shutdown callbacks
    std::size_t publishQueueCapacity = 10'000;        ///< plugins.publish_queue_capacity
    PluginOptions defaults;                          ///< plugins.<setting key>
    PluginProperties properties;                      ///< every plugins.* key

    /// Reads every `plugins.*` key of props (other keys are ignored). Throws std::invalid_argument
    /// for a bad value or an unknown host-wide key (`plugins.<key>` without a plugin name).
    static PluginHostOptions fromProperties(const PluginProperties& props);

    /// The defaults with `plugins.<name>.*` overrides applied. Throws std::invalid_argument.
    PluginOptions settingsFor(std::string_view name) const;

    /// The plugin's own keys, with "plugins.<name>." removed.
    PluginProperties configFor(std::string_view name) const;
};

/// True for a valid plugin name: 1-64 of [a-z0-9-], not starting with '-'.
bool isValidPluginName(std::string_view name);

}  // namespace nautilus::relay

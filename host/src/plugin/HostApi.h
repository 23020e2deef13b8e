#pragma once
// The nr_host_api table handed to every plugin's init(): one static table shared by all plugins,
// whose functions find the calling plugin through its nr_plugin record. Every function is
// noexcept and catches everything: no exception crosses into plugin code. Stateless; callable
// from any thread.
#include <cstdint>
#include <string>
#include <string_view>

#include "nautilus_relay/plugin.h"

namespace nautilus::relay {

class PluginRuntime;
struct Message;

class HostApi {
public:
    /// The table: struct_size = sizeof(nr_host_api), abi_version = NR_ABI_VERSION.
    static const nr_host_api& table() noexcept;

    /// "NR_OK", "NR_ERR_INVALID_ARGUMENT", ...; "status <n>" for an unknown code.
    static std::string statusName(nr_status status);

    static void log(nr_plugin* self, nr_log_level level, nr_str text) noexcept;
    static nr_status subscribe(nr_plugin* self, nr_str pattern, nr_str types, nr_handler_fn handler,
                               void* state) noexcept;
    static nr_status publish(nr_plugin* self, nr_str topic, nr_str type, nr_str payload) noexcept;
    static nr_status configGet(nr_plugin* self, nr_str key, nr_str* valueOut) noexcept;
    static nr_status counterAdd(nr_plugin* self, nr_str name, std::uint64_t delta) noexcept;
    static nr_status gaugeSet(nr_plugin* self, nr_str name, double value) noexcept;
    static void setError(nr_plugin* self, nr_str text) noexcept;
    static nr_str messageStream(const nr_message* msg) noexcept;
    static nr_str messageId(const nr_message* msg) noexcept;
    static nr_str messageTopic(const nr_message* msg) noexcept;
    static nr_str messageType(const nr_message* msg) noexcept;
    static nr_str messageEncoding(const nr_message* msg) noexcept;
    static nr_str messagePayload(const nr_message* msg) noexcept;
    static std::int64_t messageReceivedNs(const nr_message* msg) noexcept;
};

/// A plugin-supplied nr_str as a view (empty for NULL data).
inline std::string_view toView(nr_str s) noexcept
{
    return s.data != nullptr ? std::string_view(s.data, s.size) : std::string_view();
}

}  // namespace nautilus::relay

/// The host's record of one plugin, as plugins see it (opaque to them).
struct nr_plugin {
    nautilus::relay::PluginRuntime* runtime = nullptr;
};

/// One message handed to a handler (opaque to plugins); lives on the dispatch thread's stack.
struct nr_message {
    const nautilus::relay::Message* message = nullptr;
};

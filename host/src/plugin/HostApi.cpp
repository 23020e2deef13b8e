#include "plugin/HostApi.h"

#include <exception>

#include "common/Message.h"
#include "plugin/PluginRuntime.h"

namespace nautilus::relay {

namespace {

nr_str toNr(std::string_view s) noexcept
{
    return nr_str{s.data(), s.size()};
}

PluginRuntime* runtimeOf(nr_plugin* self) noexcept
{
    return self != nullptr ? self->runtime : nullptr;
}

const Message* messageOf(const nr_message* msg) noexcept
{
    return msg != nullptr ? msg->message : nullptr;
}

// The barrier every table function goes through: an exception becomes a status (and a log line,
// since it means a bug on our side, not the plugin's).
template <class Fn>
nr_status guarded(PluginRuntime* rt, const char* what, Fn&& fn) noexcept
{
    if (rt == nullptr) {
        return NR_ERR_INVALID_ARGUMENT;
    }
    try {
        return fn(*rt);
    } catch (const std::exception& e) {
        rt->internalError(what, e.what());
    } catch (...) {
        rt->internalError(what, "unknown exception");
    }
    return NR_ERR_INTERNAL;
}

}  // namespace

std::string HostApi::statusName(nr_status status)
{
    switch (status) {
    case NR_OK: return "NR_OK";
    case NR_ERR_INVALID_ARGUMENT: return "NR_ERR_INVALID_ARGUMENT";
    case NR_ERR_UNSUPPORTED: return "NR_ERR_UNSUPPORTED";
    case NR_ERR_UNAVAILABLE: return "NR_ERR_UNAVAILABLE";
    case NR_ERR_INTERNAL: return "NR_ERR_INTERNAL";
    case NR_ERR_NOT_FOUND: return "NR_ERR_NOT_FOUND";
    default: return "status " + std::to_string(status);
    }
}

const nr_host_api& HostApi::table() noexcept
{
    static const nr_host_api api = {
        sizeof(nr_host_api), NR_ABI_VERSION, &HostApi::log, &HostApi::subscribe, &HostApi::publish,
        &HostApi::configGet, &HostApi::counterAdd, &HostApi::gaugeSet, &HostApi::setError,
        &HostApi::messageStream, &HostApi::messageId, &HostApi::messageTopic, &HostApi::messageType,
        &HostApi::messageEncoding, &HostApi::messagePayload, &HostApi::messageReceivedNs,
    };
    return api;
}

void HostApi::log(nr_plugin* self, nr_log_level level, nr_str text) noexcept
{
    guarded(runtimeOf(self), "log", [&](PluginRuntime& rt) {
        rt.pluginLog(level, toView(text));
        return NR_OK;
    });
}

nr_status HostApi::subscribe(nr_plugin* self, nr_str pattern, nr_str types, nr_handler_fn handler, void* state) noexcept
{
    return guarded(runtimeOf(self), "subscribe",
                   [&](PluginRuntime& rt) { return rt.pluginSubscribe(toView(pattern), toView(types), handler, state); });
}

nr_status HostApi::publish(nr_plugin* self, nr_str topic, nr_str type, nr_str payload) noexcept
{
    return guarded(runtimeOf(self), "publish",
                   [&](PluginRuntime& rt) { return rt.pluginPublish(toView(topic), toView(type), toView(payload)); });
}

nr_status HostApi::configGet(nr_plugin* self, nr_str key, nr_str* valueOut) noexcept
{
    return guarded(runtimeOf(self), "config_get", [&](PluginRuntime& rt) -> nr_status {
        if (valueOut == nullptr || key.size == 0 || key.data == nullptr) {
            return NR_ERR_INVALID_ARGUMENT;
        }
        const std::string* value = rt.pluginConfig(toView(key));
        if (value == nullptr) {
            return NR_ERR_NOT_FOUND;
        }
        *valueOut = toNr(*value);
        return NR_OK;
    });
}

nr_status HostApi::counterAdd(nr_plugin* self, nr_str name, std::uint64_t delta) noexcept
{
    return guarded(runtimeOf(self), "counter_add",
                   [&](PluginRuntime& rt) { return rt.pluginCounterAdd(toView(name), delta); });
}

nr_status HostApi::gaugeSet(nr_plugin* self, nr_str name, double value) noexcept
{
    return guarded(runtimeOf(self), "gauge_set", [&](PluginRuntime& rt) { return rt.pluginGaugeSet(toView(name), value); });
}

void HostApi::setError(nr_plugin* self, nr_str text) noexcept
{
    guarded(runtimeOf(self), "set_error", [&](PluginRuntime& rt) {
        rt.pluginSetError(toView(text));
        return NR_OK;
    });
}

nr_str HostApi::messageStream(const nr_message* msg) noexcept
{
    const Message* m = messageOf(msg);
    return m != nullptr ? toNr(m->stream) : nr_str{nullptr, 0};
}

nr_str HostApi::messageId(const nr_message* msg) noexcept
{
    const Message* m = messageOf(msg);
    return m != nullptr ? toNr(m->id) : nr_str{nullptr, 0};
}

nr_str HostApi::messageTopic(const nr_message* msg) noexcept
{
    const Message* m = messageOf(msg);
    return m != nullptr ? toNr(m->topic) : nr_str{nullptr, 0};
}

nr_str HostApi::messageType(const nr_message* msg) noexcept
{
    const Message* m = messageOf(msg);
    return m != nullptr ? toNr(m->type) : nr_str{nullptr, 0};
}

nr_str HostApi::messageEncoding(const nr_message* msg) noexcept
{
    const Message* m = messageOf(msg);
    return m != nullptr ? toNr(toString(m->encoding)) : nr_str{nullptr, 0};
}

nr_str HostApi::messagePayload(const nr_message* msg) noexcept
{
    const Message* m = messageOf(msg);
    return m != nullptr ? toNr(m->json) : nr_str{nullptr, 0};
}

std::int64_t HostApi::messageReceivedNs(const nr_message* msg) noexcept
{
    const Message* m = messageOf(msg);
    return m != nullptr ? m->receivedNs : 0;
}

}  // namespace nautilus::relay

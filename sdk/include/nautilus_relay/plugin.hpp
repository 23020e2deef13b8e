// nautilus-relay plugin SDK: optional, header-only C++17 layer over plugin.h.
//
// It adds RAII, std::string_view and lambdas, and one export macro. It changes nothing in the
// ABI: a plugin written with it is a C-ABI plugin like any other. Every callback it hands to the
// host is wrapped in a barrier that catches every exception, records its text with set_error and
// returns a status code, so no exception ever reaches the host.
//
//     #include <nautilus_relay/plugin.hpp>
//     namespace nr = nautilus_relay;
//
//     class QuoteCounter final : public nr::Plugin {
//     public:
//         explicit QuoteCounter(nr::Host host) : Plugin(host)
//         {
//             subscribe("data.quotes.*", "", [this](const nr::Message& m) {
//                 this->host().counterAdd("quotes");
//                 if (m.payload().empty()) {
//                     throw nr::Error(NR_ERR_INVALID_ARGUMENT, "empty payload");  // counted by the host
//                 }
//             });
//         }
//     };
//
//     NR_PLUGIN(QuoteCounter, "quote-counter", "1.0.0")
//
// The constructor is init(), the destructor is shutdown(). An exception from the constructor
// refuses the plugin with its text. Destructors must not throw (they are noexcept).
#ifndef NAUTILUS_RELAY_PLUGIN_HPP
#define NAUTILUS_RELAY_PLUGIN_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "nautilus_relay/plugin.hpp needs C++17 or later; C plugins include nautilus_relay/plugin.h"
#endif

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "nautilus_relay/plugin.h"

namespace nautilus_relay {

/// A view as an nr_str (borrowed: the view's bytes must outlive the nr_str).
inline nr_str toNr(std::string_view s) noexcept
{
    return nr_str_n(s.data(), s.size());
}

/// An nr_str as a view (borrowed, like the nr_str).
inline std::string_view toView(nr_str s) noexcept
{
    return s.data != nullptr ? std::string_view(s.data, s.size) : std::string_view();
}

/// Throw it to fail with a chosen status; any other exception fails with NR_ERR_INTERNAL.
class Error : public std::runtime_error {
public:
    Error(nr_status status, const std::string& what) : std::runtime_error(what), _status(status) {}
    nr_status status() const noexcept { return _status; }

private:
    nr_status _status;
};

enum class LogLevel : nr_log_level {
    Debug = NR_LOG_DEBUG,
    Info = NR_LOG_INFO,
    Warn = NR_LOG_WARN,
    Error = NR_LOG_ERROR,
};

/// A routed message, valid (with every view it returns) until the handler returns.
class Message {
public:
    Message(const nr_host_api* api, const nr_message* msg) noexcept : _api(api), _msg(msg) {}

    std::string_view stream() const noexcept { return toView(_api->message_stream(_msg)); }
    std::string_view id() const noexcept { return toView(_api->message_id(_msg)); }
    std::string_view topic() const noexcept { return toView(_api->message_topic(_msg)); }
    /// Routing type ("" when none).
    std::string_view type() const noexcept { return toView(_api->message_type(_msg)); }
    /// "json", "msgpack", "capnp" or "sbe".
    std::string_view encoding() const noexcept { return toView(_api->message_encoding(_msg)); }
    /// One JSON value as text (empty for capnp/sbe).
    std::string_view payload() const noexcept { return toView(_api->message_payload(_msg)); }
    /// Wall clock, ns since the Unix epoch, when the relay read the message.
    std::int64_t receivedNs() const noexcept { return _api->message_received_ns(_msg); }
    const nr_message* raw() const noexcept { return _msg; }

private:
    const nr_host_api* _api;
    const nr_message* _msg;
};

/// The host services for one plugin: a copyable handle, valid until the plugin is destroyed.
class Host {
public:
    Host(nr_plugin* self, const nr_host_api* api) noexcept : _self(self), _api(api) {}

    void log(LogLevel level, std::string_view text) const noexcept
    {
        _api->log(_self, static_cast<nr_log_level>(level), toNr(text));
    }
    void debug(std::string_view text) const noexcept { log(LogLevel::Debug, text); }
    void info(std::string_view text) const noexcept { log(LogLevel::Info, text); }
    void warn(std::string_view text) const noexcept { log(LogLevel::Warn, text); }
    void error(std::string_view text) const noexcept { log(LogLevel::Error, text); }

    /// See nr_host_api.publish: the topic must start with "plugin.<name>.".
    nr_status publish(std::string_view topic, std::string_view type, std::string_view json) const noexcept
    {
        return _api->publish(_self, toNr(topic), toNr(type), toNr(json));
    }

    /// The value of "plugins.<name>.<key>", valid until the plugin is destroyed; nullopt when absent.
    std::optional<std::string_view> config(std::string_view key) const noexcept
    {
        nr_str value{nullptr, 0};
        if (_api->config_get(_self, toNr(key), &value) != NR_OK) {
            return std::nullopt;
        }
        return toView(value);
    }
    /// The value of "plugins.<name>.<key>", or fallback (which must outlive the result).
    std::string_view configOr(std::string_view key, std::string_view fallback) const noexcept
    {
        return config(key).value_or(fallback);
    }

    nr_status counterAdd(std::string_view name, std::uint64_t delta = 1) const noexcept
    {
        return _api->counter_add(_self, toNr(name), delta);
    }
    nr_status gaugeSet(std::string_view name, double value) const noexcept
    {
        return _api->gauge_set(_self, toNr(name), value);
    }
    void setError(std::string_view text) const noexcept { _api->set_error(_self, toNr(text)); }

    nr_plugin* self() const noexcept { return _self; }
    const nr_host_api* api() const noexcept { return _api; }

private:
    nr_plugin* _self;
    const nr_host_api* _api;
};

namespace detail {

/// Runs fn (returning nr_status) and turns any exception into a status plus set_error text.
template <class Fn>
nr_status guarded(const Host& host, Fn&& fn) noexcept
{
    try {
        return std::forward<Fn>(fn)();
    } catch (const Error& e) {
        host.setError(e.what());
        return e.status() == NR_OK ? NR_ERR_INTERNAL : e.status();
    } catch (const std::exception& e) {
        host.setError(e.what());
        return NR_ERR_INTERNAL;
    } catch (...) {
        host.setError("unknown exception");
        return NR_ERR_INTERNAL;
    }
}

}  // namespace detail

/// Base class of a C++ plugin: construct = init(), destroy = shutdown(). Not copyable.
class Plugin {
public:
    explicit Plugin(Host host) noexcept : _host(host) {}
    virtual ~Plugin() = default;
    Plugin(const Plugin&) = delete;
    Plugin& operator=(const Plugin&) = delete;

    const Host& host() const noexcept { return _host; }

protected:
    /// Registers handler for topic_pattern and types (comma-separated, "" = any); only from the
    /// constructor. handler(const Message&) returns void (success unless it throws) or a status.
    /// Throws Error when the host refuses the subscription.
    template <class F>
    void subscribe(std::string_view topic_pattern, std::string_view types, F&& handler)
    {
        auto box = std::make_unique<Handler<std::decay_t<F>>>(_host, std::forward<F>(handler));
        const nr_status status =
            _host.api()->subscribe(_host.self(), toNr(topic_pattern), toNr(types), &Plugin::dispatch, box.get());
        if (status != NR_OK) {
            throw Error(status, "cannot subscribe to '" + std::string(topic_pattern) + "'");
        }
        _handlers.push_back(std::move(box));
    }

private:
    struct HandlerBase {
        explicit HandlerBase(Host h) noexcept : host(h) {}
        virtual ~HandlerBase() = default;
        virtual nr_status call(const Message& msg) = 0;
        Host host;
    };

    template <class F>
    struct Handler final : HandlerBase {
        template <class G>
        Handler(Host h, G&& g) : HandlerBase(h), fn(std::forward<G>(g))
        {
        }
        nr_status call(const Message& msg) override
        {
            using R = std::invoke_result_t<F&, const Message&>;
            if constexpr (std::is_void_v<R>) {
                fn(msg);
                return NR_OK;
            } else {
                static_assert(std::is_convertible_v<R, nr_status>, "a handler returns void or nr_status");
                return static_cast<nr_status>(fn(msg));
            }
        }
        F fn;
    };

    static nr_status dispatch(void* state, const nr_message* msg) noexcept
    {
        auto* handler = static_cast<HandlerBase*>(state);
        return detail::guarded(handler->host, [&] { return handler->call(Message(handler->host.api(), msg)); });
    }

    Host _host;
    std::vector<std::unique_ptr<HandlerBase>> _handlers;
};

namespace detail {

template <class T>
nr_status init(nr_plugin* self, const nr_host_api* api, void** state_out) noexcept
{
    static_assert(std::is_base_of_v<Plugin, T>, "NR_PLUGIN needs a class derived from nautilus_relay::Plugin");
    static_assert(std::is_constructible_v<T, Host>, "the plugin class needs a constructor taking nautilus_relay::Host");
    if (api == nullptr || state_out == nullptr) {
        return NR_ERR_INVALID_ARGUMENT;
    }
    const Host host(self, api);
    return guarded(host, [&] {
        // Constructed fully before it is handed over: a throwing constructor leaves *state_out NULL,
        // so the host does not call shutdown() for a plugin that never existed.
        std::unique_ptr<Plugin> plugin(new T(host));
        *state_out = plugin.release();
        return static_cast<nr_status>(NR_OK);
    });
}

inline void shutdown(void* state) noexcept
{
    delete static_cast<Plugin*>(state);
}

}  // namespace detail

/// The descriptor of PluginClass: what NR_PLUGIN's nr_plugin_entry returns. Also handy in unit
/// tests (see nautilus_relay/testing/fake_host.hpp). The first call fixes name and version.
template <class PluginClass>
const nr_plugin_info* pluginInfo(const char* name, const char* version) noexcept
{
    static const nr_plugin_info info = {sizeof(nr_plugin_info), NR_ABI_VERSION, name, version,
                                        &detail::init<PluginClass>, &detail::shutdown};
    return &info;
}

}  // namespace nautilus_relay

/// Defines nr_plugin_entry for PluginClass (derived from nautilus_relay::Plugin, constructible
/// from nautilus_relay::Host). Use once per plugin, at namespace scope, outside any namespace.
#define NR_PLUGIN(PluginClass, plugin_name, plugin_version)                                          \
    extern "C" NR_EXPORT const nr_plugin_info* nr_plugin_entry(void)                                \
    {                                                                                               \
        return ::nautilus_relay::pluginInfo<PluginClass>(plugin_name, plugin_version);              \
    }

#endif  // NAUTILUS_RELAY_PLUGIN_HPP

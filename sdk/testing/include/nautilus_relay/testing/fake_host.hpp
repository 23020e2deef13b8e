// nautilus-relay plugin SDK: a fake host for plugin unit tests (header-only, C++17).
//
// A real nr_host_api table whose functions record what the plugin does (log lines,
// subscriptions, publications, counters, gauges, set_error text), and deliver(), which calls the
// plugin's handlers the way the relay would. No relay, no Redis, no dlopen: link the plugin's
// sources into the test and hand its descriptor to init().
//
//     #include <nautilus_relay/testing/fake_host.hpp>
//     extern "C" const nr_plugin_info* nr_plugin_entry(void);  // the plugin under test, linked in
//
//     nautilus_relay::testing::FakeHost host({{"file", "audit.jsonl"}});
//     ASSERT_EQ(host.init(nr_plugin_entry()), NR_OK);
//     EXPECT_EQ(host.deliver({"events.order.S-1", "OrderFilled", R"({"client_order_id":"O-1"})"}), NR_OK);
//     EXPECT_EQ(host.published().size(), 0u);
//     host.shutdown();
//
// init, handlers and shutdown run on the calling thread. What the plugin reports (log, publish,
// counters, gauges, set_error) may come from its own threads too, as the relay allows: those are
// recorded under a lock, and the accessors return copies. Unlike the relay, it checks less (no
// queue, no deadlines, no JSON validation of publish payloads) and records more.
#ifndef NAUTILUS_RELAY_TESTING_FAKE_HOST_HPP
#define NAUTILUS_RELAY_TESTING_FAKE_HOST_HPP

#include <cstdint>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nautilus_relay/plugin.h"

namespace nautilus_relay::testing {

/// A message to deliver. Fields in the order people usually write them.
struct FakeMessage {
    std::string topic;
    std::string type;
    std::string payload = "{}";
    std::string id = "1-0";
    std::string stream = "trader-TRADER-001:stream";
    std::string encoding = "json";
    std::int64_t receivedNs = 0;
};

struct Published {
    std::string topic;
    std::string type;
    std::string payload;
};

struct LogLine {
    nr_log_level level;
    std::string text;
};

struct FakeSubscription {
    std::string pattern;
    std::vector<std::string> types;  ///< empty: any
    nr_handler_fn handler;
    void* state;
};

/// NautilusTrader's wildcard match, as the relay does it: '*' any run of bytes, '?' one byte.
inline bool topicMatches(std::string_view pattern, std::string_view topic)
{
    std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
    while (t < topic.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == topic[t])) {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') {
        ++p;
    }
    return p == pattern.size();
}

class FakeHost {
public:
    using Config = std::map<std::string, std::string>;

    FakeHost() : FakeHost(Config{}) {}
    /// config: the plugin's own keys, without "plugins.<name>." ("file", not "plugins.x.file").
    FakeHost(std::initializer_list<Config::value_type> config) : FakeHost(Config(config)) {}
    explicit FakeHost(Config config) : _config(std::move(config))
    {
        _api.struct_size = sizeof(nr_host_api);
        _api.abi_version = NR_ABI_VERSION;
        _api.log = &FakeHost::log;
        _api.subscribe = &FakeHost::subscribe;
        _api.publish = &FakeHost::publish;
        _api.config_get = &FakeHost::configGet;
        _api.counter_add = &FakeHost::counterAdd;
        _api.gauge_set = &FakeHost::gaugeSet;
        _api.set_error = &FakeHost::setError;
        _api.message_stream = [](const nr_message* m) { return view(m, &FakeMessage::stream); };
        _api.message_id = [](const nr_message* m) { return view(m, &FakeMessage::id); };
        _api.message_topic = [](const nr_message* m) { return view(m, &FakeMessage::topic); };
        _api.message_type = [](const nr_message* m) { return view(m, &FakeMessage::type); };
        _api.message_encoding = [](const nr_message* m) { return view(m, &FakeMessage::encoding); };
        _api.message_payload = [](const nr_message* m) { return view(m, &FakeMessage::payload); };
        _api.message_received_ns = [](const nr_message* m) -> std::int64_t {
            return m != nullptr ? reinterpret_cast<const FakeMessage*>(m)->receivedNs : 0;
        };
    }
    ~FakeHost() { shutdown(); }
    FakeHost(const FakeHost&) = delete;
    FakeHost& operator=(const FakeHost&) = delete;

    /// Checks the descriptor like the relay (ABI major, init present) and calls init(). On a
    /// failure that left a state, calls shutdown() for it, as the relay does.
    nr_status init(const nr_plugin_info* info)
    {
        if (info == nullptr || NR_ABI_MAJOR(info->abi_version) != NR_ABI_VERSION_MAJOR || info->init == nullptr ||
            info->name == nullptr) {
            return NR_ERR_UNSUPPORTED;
        }
        shutdown();
        _info = info;
        _name = info->name;
        _inInit = true;
        void* state = nullptr;
        const nr_status status = info->init(self(), &_api, &state);
        _inInit = false;
        if (status == NR_OK) {
            _state = state;
            _running = true;
        } else {
            _subscriptions.clear();
            if (state != nullptr && info->shutdown != nullptr) {
                info->shutdown(state);
            }
        }
        return status;
    }

    /// Calls shutdown() once after a successful init(); later calls do nothing.
    void shutdown()
    {
        if (_running && _info != nullptr && _info->shutdown != nullptr) {
            _info->shutdown(_state);
        }
        _running = false;
        _state = nullptr;
        _subscriptions.clear();
    }

    /// Calls every handler whose subscription matches, in subscription order. Returns NR_OK, or
    /// the first failure (the set_error text is then in lastError()). Heartbeats reach only a
    /// subscription to exactly "health:heartbeat", as in the relay.
    nr_status deliver(const FakeMessage& message)
    {
        nr_status result = NR_OK;
        const bool heartbeat = message.topic == "health:heartbeat";
        const auto subs = _subscriptions;  // a handler cannot change them, but stay safe
        for (const auto& s : subs) {
            const bool topicOk = heartbeat ? s.pattern == message.topic : topicMatches(s.pattern, message.topic);
            bool typeOk = s.types.empty();
            for (const auto& t : s.types) {
                typeOk = typeOk || t == message.type;
            }
            if (!topicOk || !typeOk) {
                continue;
            }
            ++_handlerCalls;
            const nr_status st = s.handler(s.state, reinterpret_cast<const nr_message*>(&message));
            if (st != NR_OK && result == NR_OK) {
                result = st;
            }
        }
        return result;
    }

    const nr_host_api& api() const { return _api; }
    /// Pretend to be an older host: only members below this size count (NR_HOST_HAS).
    void setTableSize(std::uint32_t size) { _api.struct_size = size; }
    nr_plugin* self() { return reinterpret_cast<nr_plugin*>(this); }

    const std::vector<FakeSubscription>& subscriptions() const { return _subscriptions; }
    std::vector<Published> published() const { return locked(_published); }
    std::vector<LogLine> logs() const { return locked(_logs); }
    std::map<std::string, std::uint64_t> counters() const { return locked(_counters); }
    std::map<std::string, double> gauges() const { return locked(_gauges); }
    std::string lastError() const { return locked(_lastError); }
    std::size_t handlerCalls() const { return _handlerCalls; }
    bool running() const { return _running; }

private:
    template <typename T>
    T locked(const T& recorded) const
    {
        std::lock_guard<std::mutex> lock(_record);
        return recorded;
    }
    static FakeHost* of(nr_plugin* self) { return reinterpret_cast<FakeHost*>(self); }
    static std::string_view sv(nr_str s) { return s.data != nullptr ? std::string_view(s.data, s.size) : std::string_view(); }
    static nr_str view(const nr_message* m, std::string FakeMessage::*field)
    {
        if (m == nullptr) {
            return nr_str{nullptr, 0};
        }
        const std::string& s = reinterpret_cast<const FakeMessage*>(m)->*field;
        return nr_str{s.data(), s.size()};
    }

    static void log(nr_plugin* self, nr_log_level level, nr_str text)
    {
        if (self != nullptr) {
            std::lock_guard<std::mutex> lock(of(self)->_record);
            of(self)->_logs.push_back(LogLine{level, std::string(sv(text))});
        }
    }
    static nr_status subscribe(nr_plugin* self, nr_str pattern, nr_str types, nr_handler_fn handler, void* state)
    {
        if (self == nullptr) {
            return NR_ERR_INVALID_ARGUMENT;
        }
        FakeHost& h = *of(self);
        if (!h._inInit) {
            return NR_ERR_UNSUPPORTED;
        }
        if (handler == nullptr || pattern.size == 0) {
            return NR_ERR_INVALID_ARGUMENT;
        }
        FakeSubscription s{std::string(sv(pattern)), {}, handler, state};
        std::string_view rest = sv(types);
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            std::string_view item = rest.substr(0, comma);
            while (!item.empty() && item.front() == ' ') {
                item.remove_prefix(1);
            }
            while (!item.empty() && item.back() == ' ') {
                item.remove_suffix(1);
            }
            if (!item.empty()) {
                s.types.emplace_back(item);
            }
            if (comma == std::string_view::npos) {
                break;
            }
            rest.remove_prefix(comma + 1);
        }
        h._subscriptions.push_back(std::move(s));
        return NR_OK;
    }
    static nr_status publish(nr_plugin* self, nr_str topic, nr_str type, nr_str payload)
    {
        if (self == nullptr) {
            return NR_ERR_INVALID_ARGUMENT;
        }
        FakeHost& h = *of(self);
        const std::string prefix = "plugin." + h._name + ".";
        const std::string_view t = sv(topic);
        if (t.size() <= prefix.size() || t.compare(0, prefix.size(), prefix) != 0 ||
            t.find_first_of("*?") != std::string_view::npos) {
            return NR_ERR_INVALID_ARGUMENT;
        }
        std::lock_guard<std::mutex> lock(h._record);
        h._published.push_back(Published{std::string(t), std::string(sv(type)), std::string(sv(payload))});
        return NR_OK;
    }
    static nr_status configGet(nr_plugin* self, nr_str key, nr_str* out)
    {
        if (self == nullptr || out == nullptr || key.size == 0) {
            return NR_ERR_INVALID_ARGUMENT;
        }
        const auto& config = of(self)->_config;
        auto it = config.find(std::string(sv(key)));
        if (it == config.end()) {
            return NR_ERR_NOT_FOUND;
        }
        *out = nr_str{it->second.data(), it->second.size()};
        return NR_OK;
    }
    static nr_status counterAdd(nr_plugin* self, nr_str name, std::uint64_t delta)
    {
        if (self == nullptr || name.size == 0) {
            return NR_ERR_INVALID_ARGUMENT;
        }
        std::lock_guard<std::mutex> lock(of(self)->_record);
        of(self)->_counters[std::string(sv(name))] += delta;
        return NR_OK;
    }
    static nr_status gaugeSet(nr_plugin* self, nr_str name, double value)
    {
        if (self == nullptr || name.size == 0) {
            return NR_ERR_INVALID_ARGUMENT;
        }
        std::lock_guard<std::mutex> lock(of(self)->_record);
        of(self)->_gauges[std::string(sv(name))] = value;
        return NR_OK;
    }
    static void setError(nr_plugin* self, nr_str text)
    {
        if (self != nullptr) {
            std::lock_guard<std::mutex> lock(of(self)->_record);
            of(self)->_lastError.assign(sv(text));
        }
    }

    nr_host_api _api{};
    std::map<std::string, std::string> _config;
    const nr_plugin_info* _info = nullptr;
    std::string _name;
    void* _state = nullptr;
    bool _inInit = false;
    bool _running = false;
    std::vector<FakeSubscription> _subscriptions;
    mutable std::mutex _record;  // guards what the plugin reports, from any of its threads
    std::vector<Published> _published;
    std::vector<LogLine> _logs;
    std::map<std::string, std::uint64_t> _counters;
    std::map<std::string, double> _gauges;
    std::string _lastError;
    std::size_t _handlerCalls = 0;
};

}  // namespace nautilus_relay::testing

#endif  // NAUTILUS_RELAY_TESTING_FAKE_HOST_HPP

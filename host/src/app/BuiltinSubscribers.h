#pragma once
// The host's own router subscribers (the plugins and the WebSocket gateway come later):
// - RoutedCounter: nautilus_relay_routed_total{topic} and nautilus_relay_routed_by_type_total{type},
//   each bounded in distinct label values (a producer inventing topics must not grow memory or
//   the scrape without limit): past the cap, new values count under "_other".
// - MessageLogger: logs each message it receives at debug on logger relay.messages (subscribed
//   to the relay.log_messages patterns); costs one level check when that logger is above debug.
//
// Threads: onMessage runs on the routing thread only (Router::route is single-threaded), so the
// per-topic caches need no lock. Metric creation takes the registry mutex, once per new label.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <spdlog/logger.h>

#include "common/Metrics.h"
#include "router/Router.h"

namespace nautilus::relay {

class RoutedCounter final : public Subscriber {
public:
    static constexpr std::size_t kDefaultMaxTopics = 10000;
    static constexpr std::size_t kDefaultMaxTypes = 1000;
    static constexpr std::string_view kOther = "_other";

    explicit RoutedCounter(MetricsRegistry& registry = MetricsRegistry::global(),
                           std::size_t maxTopics = kDefaultMaxTopics, std::size_t maxTypes = kDefaultMaxTypes);

    void onMessage(const Message& msg) noexcept override;

    std::size_t distinctTopics() const { return _topics.size(); }

private:
    struct StringHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using CounterMap = std::unordered_map<std::string, Counter*, StringHash, std::equal_to<>>;

    Counter* lookup(CounterMap& map, std::size_t cap, Counter*& other, std::string_view family,
                    std::string_view help, std::string_view label, std::string_view value);

    MetricsRegistry& _registry;
    std::size_t _maxTopics;
    std::size_t _maxTypes;
    CounterMap _topics;
    CounterMap _types;
    Counter* _otherTopic = nullptr;
    Counter* _otherType = nullptr;
};

class MessageLogger final : public Subscriber {
public:
    static constexpr std::size_t kMaxPayloadLogged = 2048;

    explicit MessageLogger(std::shared_ptr<spdlog::logger> logger);

    /// Subscribe the same logger to several patterns: a message matching more than one is
    /// logged once.
    void onMessage(const Message& msg) noexcept override;

private:
    std::shared_ptr<spdlog::logger> _log;
    std::string _lastStream;
    std::string _lastId;
};

}  // namespace nautilus::relay

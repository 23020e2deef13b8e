#include "app/BuiltinSubscribers.h"

#include "http/StatusMetrics.h"

namespace nautilus::relay {

namespace {
constexpr std::string_view kTopicFamily = "nautilus_relay_routed_total";
constexpr std::string_view kTopicHelp = "Messages routed, by topic (distinct topics capped; the rest under _other).";
constexpr std::string_view kTypeFamily = "nautilus_relay_routed_by_type_total";
constexpr std::string_view kTypeHelp = "Messages routed, by routing type (distinct types capped; the rest under _other).";
}  // namespace

RoutedCounter::RoutedCounter(MetricsRegistry& registry, std::size_t maxTopics, std::size_t maxTypes)
    : _registry(registry), _maxTopics(maxTopics), _maxTypes(maxTypes)
{
}

Counter* RoutedCounter::lookup(CounterMap& map, std::size_t cap, Counter*& other, std::string_view family,
                               std::string_view help, std::string_view label, std::string_view value)
{
    auto it = map.find(value);
    if (it != map.end()) {
        return it->second;
    }
    if (map.size() >= cap) {
        if (other == nullptr) {
            other = &_registry.counter(family, help, std::string(label) + "=\"" + std::string(kOther) + "\"");
        }
        return other;
    }
    Counter* c = &_registry.counter(family, help, std::string(label) + "=\"" + promLabelValue(value, 256) + "\"");
    map.emplace(std::string(value), c);
    return c;
}

void RoutedCounter::onMessage(const Message& msg) noexcept
{
    try {
        lookup(_topics, _maxTopics, _otherTopic, kTopicFamily, kTopicHelp, "topic", msg.topic)->inc();
        lookup(_types, _maxTypes, _otherType, kTypeFamily, kTypeHelp, "type", msg.type)->inc();
    } catch (...) {
        // Out of memory or a metric name clash: counting is not worth stopping the router for.
    }
}

MessageLogger::MessageLogger(std::shared_ptr<spdlog::logger> logger) : _log(std::move(logger)) {}

void MessageLogger::onMessage(const Message& msg) noexcept
{
    if (!_log->should_log(spdlog::level::debug)) {
        return;
    }
    try {
        if (msg.id == _lastId && msg.stream == _lastStream) {
            return;  // the same message through a second matching pattern
        }
        _lastStream.assign(msg.stream);
        _lastId.assign(msg.id);
        std::string_view payload = msg.json;
        std::string note;
        if (msg.kind == PayloadKind::Opaque) {
            note = "<" + std::to_string(msg.raw.size()) + " opaque bytes>";
            payload = note;
        } else if (payload.size() > kMaxPayloadLogged) {
            note = " ...(" + std::to_string(payload.size()) + " bytes)";
            payload = payload.substr(0, kMaxPayloadLogged);
        }
        _log->debug("{} {} topic={} type={} encoding={} {}{}", msg.stream, msg.id, msg.topic, msg.type,
                    toString(msg.encoding), payload, msg.kind == PayloadKind::Opaque ? std::string() : note);
    } catch (...) {
        // Logging must never take the router down.
    }
}

}  // namespace nautilus::relay

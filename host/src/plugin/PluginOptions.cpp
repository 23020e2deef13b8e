#include "plugin/PluginOptions.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "common/Text.h"

namespace nautilus::relay {

namespace {

constexpr std::string_view kPrefix = "plugins.";

// Host-wide keys that are not per-plugin settings.
constexpr std::string_view kHostKeys[] = {"dirs", "files", "drain_timeout_ms", "stop_timeout_ms", "publish_queue_capacity"};
constexpr std::string_view kSettingKeys[] = {
    "enabled", "required", "queue_capacity", "full_policy", "failure_threshold", "handler_warn_ms",
    "handler_fail_ms", "restart", "restart_backoff_ms", "restart_backoff_max_ms", "callback_timeout_ms",
    "error_log_interval_ms"};

[[noreturn]] void bad(std::string_view key, std::string_view value, std::string_view allowed)
{
    throw std::invalid_argument(std::string(key) + " = '" + std::string(value) + "': expected " + std::string(allowed));
}

std::uint64_t parseUnsigned(std::string_view key, std::string_view value, std::uint64_t min, std::uint64_t max)
{
    const std::string_view v = trimBlanks(value);
    std::uint64_t out = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (v.empty() || ec != std::errc() || ptr != v.data() + v.size() || out < min || out > max) {
        bad(key, value, "an integer from " + std::to_string(min) + " to " + std::to_string(max));
    }
    return out;
}

bool parseBool(std::string_view key, std::string_view value)
{
    const std::string_view v = trimBlanks(value);
    if (v == "true" || v == "yes" || v == "on" || v == "1") {
        return true;
    }
    if (v == "false" || v == "no" || v == "off" || v == "0") {
        return false;
    }
    bad(key, value, "true or false");
}

std::chrono::milliseconds parseMs(std::string_view key, std::string_view value, std::uint64_t min)
{
    return std::chrono::milliseconds(parseUnsigned(key, value, min, 24ull * 3600 * 1000));
}

std::vector<std::string> parseList(std::string_view value)
{
    std::vector<std::string> out;
    while (!value.empty()) {
        const auto comma = value.find(',');
        const std::string_view item = trimBlanks(value.substr(0, comma));
        if (!item.empty()) {
            out.emplace_back(item);
        }
        if (comma == std::string_view::npos) {
            break;
        }
        value.remove_prefix(comma + 1);
    }
    return out;
}

}  // namespace

std::string_view toString(QueueFullPolicy policy)
{
    return policy == QueueFullPolicy::Block ? "block" : "drop";
}

bool isValidPluginName(std::string_view name)
{
    if (name.empty() || name.size() > 64 || name.front() == '-') {
        return false;
    }
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

void PluginOptions::apply(const PluginProperties& props, std::string_view prefix)
{
    const auto get = [&](std::string_view key, auto&& parse) {
        std::string full(prefix);
        full += key;
        auto it = props.find(full);
        if (it != props.end()) {
            parse(full, it->second);
        }
    };
    get("enabled", [&](const std::string& k, const std::string& v) { enabled = parseBool(k, v); });
    get("required", [&](const std::string& k, const std::string& v) { required = parseBool(k, v); });
    get("queue_capacity",
        [&](const std::string& k, const std::string& v) { queueCapacity = parseUnsigned(k, v, 1, 100'000'000); });
    get("full_policy", [&](const std::string& k, const std::string& v) {
        const std::string_view t = trimBlanks(v);
        if (t == "block") {
            fullPolicy = QueueFullPolicy::Block;
        } else if (t == "drop") {
            fullPolicy = QueueFullPolicy::Drop;
        } else {
            bad(k, v, "block or drop");
        }
    });
    get("failure_threshold", [&](const std::string& k, const std::string& v) {
        failureThreshold = static_cast<unsigned>(parseUnsigned(k, v, 0, 1'000'000'000));
    });
    get("handler_warn_ms", [&](const std::string& k, const std::string& v) { handlerWarn = parseMs(k, v, 1); });
    get("handler_fail_ms", [&](const std::string& k, const std::string& v) { handlerFail = parseMs(k, v, 0); });
    get("restart", [&](const std::string& k, const std::string& v) { autoRestart = parseBool(k, v); });
    get("restart_backoff_ms", [&](const std::string& k, const std::string& v) { restartBackoff = parseMs(k, v, 1); });
    get("restart_backoff_max_ms",
        [&](const std::string& k, const std::string& v) { restartBackoffMax = parseMs(k, v, 1); });
    get("callback_timeout_ms", [&](const std::string& k, const std::string& v) { callbackTimeout = parseMs(k, v, 1); });
    get("error_log_interval_ms",
        [&](const std::string& k, const std::string& v) { errorLogInterval = parseMs(k, v, 0); });
    if (handlerFail.count() != 0 && handlerFail < handlerWarn) {
        bad(std::string(prefix) + "handler_fail_ms", std::to_string(handlerFail.count()),
            "0 or at least handler_warn_ms (" + std::to_string(handlerWarn.count()) + ")");
    }
    restartBackoffMax = std::max(restartBackoffMax, restartBackoff);
}

PluginHostOptions PluginHostOptions::fromProperties(const PluginProperties& props)
{
    PluginHostOptions s;
    for (const auto& [key, value] : props) {
        if (key.compare(0, kPrefix.size(), kPrefix) != 0) {
            continue;
        }
        s.properties.emplace(key, value);
        const std::string_view rest = std::string_view(key).substr(kPrefix.size());
        if (rest.find('.') != std::string_view::npos) {
            continue;  // plugins.<name>.<key>: the plugin's, checked when it loads
        }
        const bool known = std::find(std::begin(kHostKeys), std::end(kHostKeys), rest) != std::end(kHostKeys) ||
                           std::find(std::begin(kSettingKeys), std::end(kSettingKeys), rest) != std::end(kSettingKeys);
        if (!known) {
            throw std::invalid_argument(key + ": unknown key (plugin keys are plugins.<name>.<key>)");
        }
    }
    auto get = [&](std::string_view k) -> const std::string* {
        auto it = s.properties.find(std::string(kPrefix) + std::string(k));
        return it == s.properties.end() ? nullptr : &it->second;
    };
    if (const auto* v = get("dirs")) {
        s.dirs = parseList(*v);
    }
    if (const auto* v = get("files")) {
        s.files = parseList(*v);
    }
    if (const auto* v = get("drain_timeout_ms")) {
        s.drainTimeout = parseMs("plugins.drain_timeout_ms", *v, 0);
    }
    if (const auto* v = get("stop_timeout_ms")) {
        s.stopTimeout = parseMs("plugins.stop_timeout_ms", *v, 0);
    }
    if (const auto* v = get("publish_queue_capacity")) {
        s.publishQueueCapacity = parseUnsigned("plugins.publish_queue_capacity", *v, 1, 100'000'000);
    }
    s.defaults.apply(s.properties, kPrefix);
    return s;
}

PluginOptions PluginHostOptions::settingsFor(std::string_view name) const
{
    PluginOptions out = defaults;
    out.apply(properties, std::string(kPrefix) + std::string(name) + ".");
    return out;
}

PluginProperties PluginHostOptions::configFor(std::string_view name) const
{
    const std::string prefix = std::string(kPrefix) + std::string(name) + ".";
    PluginProperties out;
    for (auto it = properties.lower_bound(prefix); it != properties.end() && it->first.compare(0, prefix.size(), prefix) == 0;
         ++it) {
        out.emplace(it->first.substr(prefix.size()), it->second);
    }
    return out;
}

}  // namespace nautilus::relay

#include "app/Config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>

#include <Poco/Environment.h>
#include <Poco/Exception.h>

#include "app/ConfigFiles.h"
#include "common/Text.h"
#include "plugin/PluginOptions.h"

#ifndef NR_DEFAULT_PLUGIN_DIRS
#define NR_DEFAULT_PLUGIN_DIRS "/usr/local/lib/nautilus-relay/plugins"
#endif

namespace nautilus::relay {

namespace {

using T = ConfigType;
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

// clang-format off
const ConfigKeySpec kSchema[] = {
    // --- bus: the Redis that the trading node publishes to
    {"bus.redis.host", T::String, "127.0.0.1", "Redis host the trading node publishes its message bus to", 0, 0, 0, 0, {}, true},
    {"bus.redis.port", T::Int, "6379", "Redis port", 1, 65535},
    {"bus.redis.username", T::String, "", "ACL user for AUTH (empty: AUTH with the password only)"},
    {"bus.redis.password", T::String, "", "password for AUTH (empty: no AUTH)", 0, 0, 0, 0, {}, false, true},
    {"bus.redis.db", T::Int, "0", "database index (SELECT)", 0, 65535},
    {"bus.redis.connect_timeout_ms", T::Int, "2000", "TCP connect timeout to Redis", 1, 60000},
    // --- bus: NautilusTrader's MessageBusConfig stream-key options (SPEC §2)
    {"bus.trader_id", T::String, "TRADER-001", "NautilusTrader trader id", 0, 0, 0, 0, {}, true},
    {"bus.use_trader_prefix", T::Bool, "true", "stream keys start with \"trader-\""},
    {"bus.use_trader_id", T::Bool, "true", "stream keys contain the trader id"},
    {"bus.instance_id", T::String, "", "the trading node's instance id (UUID), used when bus.use_instance_id = true"},
    {"bus.use_instance_id", T::Bool, "false", "stream keys contain the instance id"},
    {"bus.streams_prefix", T::String, "stream", "NautilusTrader's streams_prefix"},
    {"bus.stream_per_topic", T::Bool, "true", "one stream per topic (NautilusTrader's default), discovered while running"},
    {"bus.streams", T::List, "", "explicit comma-separated stream keys or glob patterns; replaces the key options above"},
    // --- bus: reading
    {"bus.start", T::Enum, "checkpoint", "where reading starts: latest, earliest, or after this instance's checkpoint", 0, 0, 0, 0, "latest|earliest|checkpoint"},
    {"bus.start_fallback", T::Enum, "latest", "start position for streams without a checkpoint (bus.start = checkpoint)", 0, 0, 0, 0, "latest|earliest"},
    {"bus.read_count", T::Int, "1000", "XREAD COUNT: entries per stream per read", 1, 100000},
    {"bus.block_ms", T::Int, "500", "XREAD BLOCK in milliseconds", 1, 30000},
    {"bus.read_timeout_ms", T::Int, "2000", "socket timeout beyond BLOCK after which the link is declared dead", 100, 600000},
    {"bus.discovery_interval_ms", T::Int, "1000", "period of the SCAN for new stream keys", 100, 3600000},
    {"bus.monitor_interval_ms", T::Int, "1000", "period of the per-stream lag, trim-gap and reset checks", 100, 3600000},
    {"bus.stale_after_ms", T::Int, "15000", "no entry (data or heartbeat) for this long: state stale (0 = never)", 0, 86400000},
    {"bus.tcp_keepalive", T::Bool, "true", "TCP keepalive on the Redis connections"},
    {"bus.backoff.initial_ms", T::Int, "100", "reconnect backoff: ceiling of the first delay (the first retry is immediate)", 1, 60000},
    {"bus.backoff.max_ms", T::Int, "2000", "reconnect backoff: cap of every delay", 1, 600000},
    {"bus.backoff.multiplier", T::Double, "2.0", "reconnect backoff: growth per attempt (full jitter)", 0, 0, 1.0, 10.0},
    // --- readiness (GET /health/ready)
    {"health.require_heartbeat", T::Bool, "false", "ready needs a NautilusTrader heartbeat within health.heartbeat_timeout_ms"},
    {"health.heartbeat_timeout_ms", T::Int, "15000", "maximum heartbeat age when health.require_heartbeat = true", 100, 86400000},
    {"health.max_lag", T::Int, "100000", "maximum entries any stream may lag behind and still be ready (0 = no lag check)", 0, kInt64Max},
    {"health.ready_when_stale", T::Bool, "false", "a stale bus (connected, nothing arriving) still counts as ready"},
    // --- REST listener
    {"http.host", T::String, "127.0.0.1", "REST and WebSocket listen address", 0, 0, 0, 0, {}, true},
    {"http.port", T::Int, "8080", "REST listen port", 1, 65535},
    {"http.threads", T::Int, "4", "HTTP worker threads (concurrent keep-alive connections served)", 1, 256},
    {"http.admin_token", T::String, "", "bearer token for /admin/* (empty: admin endpoints from loopback only)", 0, 0, 0, 0, {}, false, true},
    // --- WebSocket gateway (GET /ws on the http listener; docs/websocket.md)
    {"ws.enabled", T::Bool, "true", "serve WebSocket clients on /ws"},
    {"ws.threads", T::Int, "2", "event-loop threads shared by all WebSocket clients", 1, 64},
    {"ws.io_uring", T::Bool, "true", "event loops hand the kernel all their clients' sends in one io_uring call (sendmsg per client when false or unavailable)"},
    {"ws.max_clients", T::Int, "10000", "WebSocket clients at once; more upgrades get 503", 1, 1000000},
    {"ws.queue_bytes", T::Int, "8388608", "send queue bound per client in bytes: market data is conflated past it; other events wait in Redis and the client catches up", 65536, std::int64_t{1} << 34},
    {"ws.max_frame_bytes", T::Int, "65536", "largest message a client may send (larger: close 1009)", 128, 16777216},
    {"ws.max_subscriptions", T::Int, "256", "topic patterns per client", 1, 100000},
    {"ws.max_messages_per_second", T::Int, "50", "messages a client may send per second: more get an error frame, twice as many close it (1008); 0 = no limit", 0, 1000000},
    {"ws.ping_interval_ms", T::Int, "15000", "ping a quiet client after this long; close it after twice as long without a frame (0 = no keepalive)", 0, 3600000},
    {"ws.conflate_market_data", T::Bool, "true", "a slow client gets the latest data.* message per topic instead of a backlog"},
    {"ws.replay_threads", T::Int, "2", "threads reading Redis history for replays (subscribe with from) and catch-ups, each with its own Redis connection; a replay waiting for its client to read holds none", 1, 64},
    {"ws.replay_batch", T::Int, "1000", "XRANGE COUNT when replaying", 1, 100000},
    {"ws.stall_timeout_ms", T::Int, "10000", "a client that falls behind, or replays, is caught up from Redis at its pace; if not one frame can be written to it for this long it is closed (1013)", 100, 3600000},
    {"ws.auth.token", T::String, "", "static bearer token required at the upgrade (empty: none)", 0, 0, 0, 0, {}, false, true},
    {"ws.auth.token_topics", T::List, "", "topic patterns the static token may subscribe to (empty: all)"},
    {"ws.auth.jwt_secret", T::String, "", "HS256 secret of accepted JWTs (empty: no JWTs)", 0, 0, 0, 0, {}, false, true},
    {"ws.auth.jwt_topics_claim", T::String, "topics", "JWT claim holding the topic patterns a token may subscribe to (absent: all)"},
    {"ws.allowed_origins", T::List, "http://localhost:*,http://127.0.0.1:*", "Origin values let in (browsers); \"*\" = any, \":*\" = any port; requests without Origin always pass"},
    // --- the relay's own state in Redis
    {"state.enabled", T::Bool, "true", "keep the instance registry and checkpoints in Redis"},
    {"state.prefix", T::String, "nautilus-relay", "prefix of the relay's own keys in Redis", 0, 0, 0, 0, {}, true},
    {"state.refresh_ms", T::Int, "1000", "registry refresh period", 100, 3600000},
    {"state.registry_ttl_ms", T::Int, "5000", "registry entry TTL (must exceed state.refresh_ms)", 1000, 86400000},
    {"state.checkpoint_interval_ms", T::Int, "1000", "minimum time between checkpoint writes", 10, 3600000},
    // --- this instance
    {"relay.instance_id", T::String, "", "this instance's name in the registry and checkpoints (empty: <hostname>:<http.port>)"},
    {"relay.log_messages", T::List, "", "comma-separated topic patterns whose messages are logged at debug on logger relay.messages (empty: off)"},
    // --- plugins: host-wide keys (host/src/plugin/PluginOptions.h); each per-plugin setting
    //     below can be overridden for one plugin as plugins.<name>.<key>
    {"plugins.dirs", T::List, NR_DEFAULT_PLUGIN_DIRS, "plugin directories, comma-separated, scanned in order (a missing directory is skipped)"},
    {"plugins.files", T::List, "", "plugin shared objects to load, comma-separated, before the directories"},
    {"plugins.queue_capacity", T::Int, "10000", "messages queued per plugin", 1, 100000000},
    {"plugins.full_policy", T::Enum, "block", "a full plugin queue: block the bus reader (backpressure to Redis) or drop and count", 0, 0, 0, 0, "block|drop"},
    {"plugins.failure_threshold", T::Int, "10", "consecutive handler failures after which a plugin is failed (0 = never)", 0, 1000000000},
    {"plugins.handler_warn_ms", T::Int, "1000", "a handler call longer than this is logged and counted", 1, 86400000},
    {"plugins.handler_fail_ms", T::Int, "30000", "a handler call longer than this fails the plugin (0 = never; else >= handler_warn_ms)", 0, 86400000},
    {"plugins.restart", T::Bool, "true", "restart a failed plugin automatically, with backoff"},
    {"plugins.restart_backoff_ms", T::Int, "1000", "first automatic restart delay, doubled per attempt", 1, 86400000},
    {"plugins.restart_backoff_max_ms", T::Int, "60000", "cap of the automatic restart delay", 1, 86400000},
    {"plugins.callback_timeout_ms", T::Int, "10000", "bound for a plugin's init and shutdown callbacks", 1, 86400000},
    {"plugins.error_log_interval_ms", T::Int, "10000", "handler errors of one plugin are logged at most once per interval", 0, 86400000},
    {"plugins.drain_timeout_ms", T::Int, "1000", "at shutdown, time for all plugin queues to drain (keep within the 2 s stop budget)", 0, 86400000},
    {"plugins.stop_timeout_ms", T::Int, "1500", "at shutdown, the whole time plugins get: draining, then their shutdown callbacks; one still running after it is left behind so the process can exit", 0, 86400000},
    {"plugins.publish_queue_capacity", T::Int, "10000", "messages published by plugins waiting to be routed", 1, 100000000},
    // --- logging
    {"logging.level", T::Enum, "info", "level of every logger", 0, 0, 0, 0, "trace|debug|info|warn|error|critical|off"},
    {"logging.format", T::Enum, "text", "text lines or JSON lines", 0, 0, 0, 0, "text|json"},
    {"logging.file", T::String, "", "log file, rotated by size (empty: console only; with a file the console still gets every line)"},
    {"logging.max_file_bytes", T::Int, "52428800", "size at which the log file rotates", 1024, std::int64_t{1} << 40},
    {"logging.max_files", T::Int, "5", "rotated log files kept", 1, 1000},
};
// clang-format on

constexpr std::string_view kPluginsPrefix = "plugins.";

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool looksSecret(std::string_view key)
{
    const std::string k = lower(key);
    for (const char* word : {"pass", "pwd", "token", "secret", "credential"}) {
        if (k.find(word) != std::string::npos) {
            return true;
        }
    }
    return false;
}

std::string formatDouble(double v)
{
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

std::string allowedText(const ConfigKeySpec& spec)
{
    switch (spec.type) {
    case T::Int:
        return "expected an integer in " + std::to_string(spec.minInt) + ".." + std::to_string(spec.maxInt);
    case T::Double:
        return "expected a number in " + formatDouble(spec.minDouble) + ".." + formatDouble(spec.maxDouble);
    case T::Bool:
        return "expected true or false";
    case T::Enum: {
        std::string out = "expected one of ";
        for (char c : spec.choices) {
            out += c == '|' ? std::string(", ") : std::string(1, c);
        }
        return out;
    }
    case T::String:
        return spec.nonEmpty ? "expected a non-empty value" : "expected text";
    case T::List:
        return "expected a comma-separated list";
    }
    return {};
}

[[noreturn]] void fail(std::string_view key, std::string_view value, bool secret, const std::string& why)
{
    throw ConfigError("config error: " + describeSetting(key, value, secret) + ": " + why);
}

std::size_t editDistance(std::string_view a, std::string_view b)
{
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        prev[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::string suggestionFor(std::string_view key)
{
    const std::string k = lower(key);
    std::string_view best;
    std::size_t bestDistance = std::numeric_limits<std::size_t>::max();
    for (const auto& spec : kSchema) {
        // "redis.port" for "bus.redis.port": a known key that ends with the unknown one
        if (spec.key.size() > k.size() && spec.key.ends_with(k) && spec.key[spec.key.size() - k.size() - 1] == '.') {
            return std::string(spec.key);
        }
        const std::size_t d = editDistance(k, spec.key);
        if (d < bestDistance) {
            bestDistance = d;
            best = spec.key;
        }
    }
    const std::size_t tolerance = std::max<std::size_t>(2, k.size() / 5);
    return bestDistance <= tolerance ? std::string(best) : std::string();
}

std::optional<std::int64_t> parseInt(std::string_view text)
{
    text = trim(text);
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
        return std::nullopt;
    }
    return v;
}

std::optional<double> parseDouble(std::string_view text)
{
    text = trim(text);
    double v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v)) {
        return std::nullopt;
    }
    return v;
}

std::optional<bool> parseBool(std::string_view text)
{
    const std::string v = lower(trim(text));
    if (v == "true" || v == "yes" || v == "on" || v == "1") {
        return true;
    }
    if (v == "false" || v == "no" || v == "off" || v == "0") {
        return false;
    }
    return std::nullopt;
}

std::vector<std::string> parseList(std::string_view text)
{
    std::vector<std::string> out;
    while (!text.empty()) {
        const std::size_t comma = text.find(',');
        const std::string_view item = trim(text.substr(0, comma));
        if (!item.empty()) {
            out.emplace_back(item);
        }
        if (comma == std::string_view::npos) {
            break;
        }
        text.remove_prefix(comma + 1);
    }
    return out;
}

/// Checks one value against its spec; returns the normalised value (enums lowercased).
std::string validateValue(const ConfigKeySpec& spec, std::string_view raw)
{
    const std::string_view v = trim(raw);
    switch (spec.type) {
    case T::Int: {
        const auto n = parseInt(v);
        if (!n || *n < spec.minInt || *n > spec.maxInt) {
            fail(spec.key, raw, spec.secret, allowedText(spec));
        }
        return std::to_string(*n);
    }
    case T::Double: {
        const auto d = parseDouble(v);
        if (!d || *d < spec.minDouble || *d > spec.maxDouble) {
            fail(spec.key, raw, spec.secret, allowedText(spec));
        }
        return std::string(v);
    }
    case T::Bool: {
        const auto b = parseBool(v);
        if (!b) {
            fail(spec.key, raw, spec.secret, allowedText(spec));
        }
        return *b ? "true" : "false";
    }
    case T::Enum: {
        const std::string l = lower(v);
        std::string_view choices = spec.choices;
        while (!choices.empty()) {
            const std::size_t bar = choices.find('|');
            if (choices.substr(0, bar) == l) {
                return l;
            }
            if (bar == std::string_view::npos) {
                break;
            }
            choices.remove_prefix(bar + 1);
        }
        fail(spec.key, raw, spec.secret, allowedText(spec));
    }
    case T::String:
        if (spec.nonEmpty && v.empty()) {
            fail(spec.key, raw, spec.secret, allowedText(spec));
        }
        return std::string(raw);
    case T::List:
        return std::string(raw);
    }
    return std::string(raw);
}

/// Typed access to the effective values (schema defaults overlaid with the validated ones).
class Values {
public:
    explicit Values(std::map<std::string, std::string> values) : _values(std::move(values)) {}
    const std::string& str(std::string_view key) const { return _values.at(std::string(key)); }
    std::int64_t i64(std::string_view key) const { return *parseInt(str(key)); }
    int i32(std::string_view key) const { return static_cast<int>(i64(key)); }
    double dbl(std::string_view key) const { return *parseDouble(str(key)); }
    bool flag(std::string_view key) const { return *parseBool(str(key)); }
    std::vector<std::string> list(std::string_view key) const { return parseList(str(key)); }

private:
    std::map<std::string, std::string> _values;
};

StartPosition startPosition(const std::string& v)
{
    if (v == "latest") {
        return StartPosition::Latest;
    }
    if (v == "earliest") {
        return StartPosition::Earliest;
    }
    return StartPosition::Checkpoint;
}

std::string hostPort(const std::string& host, int port)
{
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

std::span<const ConfigKeySpec> configSchema()
{
    return kSchema;
}

const ConfigKeySpec* findConfigKey(std::string_view key)
{
    for (const auto& spec : kSchema) {
        if (spec.key == key) {
            return &spec;
        }
    }
    return nullptr;
}

namespace {

std::string quoted(std::string_view value, bool secret)
{
    std::string out = "\"";
    if (secret && !value.empty()) {
        out += "***";
    } else {
        constexpr std::size_t kMaxShown = 120;
        const std::string_view shown = value.substr(0, kMaxShown);
        for (char c : shown) {
            const auto u = static_cast<unsigned char>(c);
            switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (u < 0x20 || u == 0x7F) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\x%02x", u);
                    out += buf;
                } else {
                    out.push_back(c);
                }
            }
        }
        if (value.size() > kMaxShown) {
            out += "...";
        }
    }
    out += "\"";
    return out;
}

}  // namespace

std::string describeSetting(std::string_view key, std::string_view value, bool secret)
{
    return std::string(key) + " = " + quoted(value, secret);
}

RelayConfig buildConfig(const std::map<std::string, std::string>& values, const std::string& hostname)
{
    RelayConfig cfg;
    cfg.explicitValues = values;

    // 1. Every explicit key must be known (or belong to a plugin); unknown keys first, so a typo
    //    is reported as a typo rather than as some other key's problem.
    for (const auto& [key, value] : values) {
        if (findConfigKey(key) != nullptr) {
            continue;
        }
        if (key.starts_with(kPluginsPrefix)) {
            const std::string_view rest = std::string_view(key).substr(kPluginsPrefix.size());
            const std::size_t dot = rest.find('.');
            if (dot != std::string_view::npos && dot + 1 < rest.size()) {
                const std::string_view name = rest.substr(0, dot);
                // The SDK's rule (isValidPluginName); "dirs" and "files" are host-wide list keys.
                if (name == "dirs" || name == "files" || !isValidPluginName(name)) {
                    fail(key, value, looksSecret(key),
                         "plugin names are 1-64 of a-z, 0-9 and '-', not starting with '-' (and not \"dirs\" "
                         "or \"files\")");
                }
                continue;
            }
        }
        const std::string suggestion = suggestionFor(key);
        const ConfigKeySpec* meant = findConfigKey(suggestion);
        fail(key, value, looksSecret(key) || (meant != nullptr && meant->secret),
             suggestion.empty() ? std::string("unknown key (see docs/configuration.md)")
                                : "unknown key (did you mean " + suggestion + "?)");
    }

    // 2. Values, in schema order.
    std::map<std::string, std::string> effective;
    for (const auto& spec : kSchema) {
        auto it = values.find(std::string(spec.key));
        effective[std::string(spec.key)] =
            it == values.end() ? std::string(spec.defaultValue) : validateValue(spec, it->second);
    }
    const Values v(std::move(effective));

    // 3. Relations between keys.
    if (v.i64("bus.backoff.max_ms") < v.i64("bus.backoff.initial_ms")) {
        fail("bus.backoff.max_ms", v.str("bus.backoff.max_ms"), false,
             "expected at least bus.backoff.initial_ms (" + v.str("bus.backoff.initial_ms") + ")");
    }
    if (v.i64("state.registry_ttl_ms") <= v.i64("state.refresh_ms")) {
        fail("state.registry_ttl_ms", v.str("state.registry_ttl_ms"), false,
             "expected more than state.refresh_ms (" + v.str("state.refresh_ms") + ")");
    }

    // 4. Typed structs.
    BusConfig& bus = cfg.bus;
    bus.redis.host = std::string(trim(v.str("bus.redis.host")));
    bus.redis.port = v.i32("bus.redis.port");
    bus.redis.username = v.str("bus.redis.username");
    bus.redis.password = v.str("bus.redis.password");
    bus.redis.db = v.i32("bus.redis.db");
    bus.redis.connectTimeoutMs = v.i32("bus.redis.connect_timeout_ms");
    bus.traderId = std::string(trim(v.str("bus.trader_id")));
    bus.useTraderPrefix = v.flag("bus.use_trader_prefix");
    bus.useTraderId = v.flag("bus.use_trader_id");
    bus.instanceId = std::string(trim(v.str("bus.instance_id")));
    bus.useInstanceId = v.flag("bus.use_instance_id");
    bus.streamsPrefix = std::string(trim(v.str("bus.streams_prefix")));
    bus.streamPerTopic = v.flag("bus.stream_per_topic");
    bus.streams = v.list("bus.streams");
    bus.start = startPosition(v.str("bus.start"));
    bus.startFallback = startPosition(v.str("bus.start_fallback"));
    bus.readCount = v.i32("bus.read_count");
    bus.blockMs = v.i32("bus.block_ms");
    bus.readTimeoutMs = v.i32("bus.read_timeout_ms");
    bus.discoveryIntervalMs = v.i32("bus.discovery_interval_ms");
    bus.monitorIntervalMs = v.i32("bus.monitor_interval_ms");
    bus.staleAfterMs = v.i32("bus.stale_after_ms");
    bus.tcpKeepAlive = v.flag("bus.tcp_keepalive");
    bus.backoff.initialMs = v.i32("bus.backoff.initial_ms");
    bus.backoff.maxMs = v.i32("bus.backoff.max_ms");
    bus.backoff.multiplier = v.dbl("bus.backoff.multiplier");

    HealthOptions& health = cfg.health;
    health.requireHeartbeat = v.flag("health.require_heartbeat");
    health.heartbeatTimeoutMs = v.i32("health.heartbeat_timeout_ms");
    health.maxLag = v.i64("health.max_lag");
    health.readyWhenStale = v.flag("health.ready_when_stale");
    health.readerAliveMs = bus.blockMs + bus.readTimeoutMs + 1000;

    HttpOptions& http = cfg.http;
    http.host = std::string(trim(v.str("http.host")));
    http.port = v.i32("http.port");
    http.threads = v.i32("http.threads");
    http.adminToken = std::string(trim(v.str("http.admin_token")));
    WsOptions& ws = cfg.ws;
    ws.enabled = v.flag("ws.enabled");
    ws.threads = v.i32("ws.threads");
    ws.ioUring = v.flag("ws.io_uring");
    ws.maxClients = static_cast<std::size_t>(v.i64("ws.max_clients"));
    ws.queueBytes = static_cast<std::size_t>(v.i64("ws.queue_bytes"));
    ws.maxFrameBytes = static_cast<std::size_t>(v.i64("ws.max_frame_bytes"));
    ws.maxSubscriptions = static_cast<std::size_t>(v.i64("ws.max_subscriptions"));
    ws.maxMessagesPerSecond = v.i32("ws.max_messages_per_second");
    ws.pingIntervalMs = v.i32("ws.ping_interval_ms");
    ws.conflateMarketData = v.flag("ws.conflate_market_data");
    ws.replayThreads = v.i32("ws.replay_threads");
    ws.replayBatch = v.i32("ws.replay_batch");
    ws.stallTimeoutMs = v.i32("ws.stall_timeout_ms");
    ws.authToken = std::string(trim(v.str("ws.auth.token")));
    ws.authTokenTopics = v.list("ws.auth.token_topics");
    ws.jwtSecret = v.str("ws.auth.jwt_secret");
    ws.jwtTopicsClaim = std::string(trim(v.str("ws.auth.jwt_topics_claim")));
    ws.allowedOrigins = v.list("ws.allowed_origins");

    cfg.instanceId = std::string(trim(v.str("relay.instance_id")));
    if (cfg.instanceId.empty()) {
        cfg.instanceId = hostname + ":" + std::to_string(http.port);
    }
    cfg.logMessages = v.list("relay.log_messages");

    cfg.stateEnabled = v.flag("state.enabled");
    StateOptions& state = cfg.state;
    state.redis = bus.redis;
    state.prefix = std::string(trim(v.str("state.prefix")));
    state.instanceId = cfg.instanceId;
    const bool wildcardHost = http.host == "0.0.0.0" || http.host == "::" || http.host == "[::]";
    state.httpAddress = hostPort(wildcardHost ? hostname : http.host, http.port);
    state.refreshMs = v.i32("state.refresh_ms");
    state.registryTtlMs = v.i32("state.registry_ttl_ms");
    state.checkpointIntervalMs = v.i32("state.checkpoint_interval_ms");

    LoggingOptions& logging = cfg.logging;
    logging.level = v.str("logging.level");
    logging.format = v.str("logging.format");
    logging.file = std::string(trim(v.str("logging.file")));
    logging.maxFileBytes = static_cast<std::size_t>(v.i64("logging.max_file_bytes"));
    logging.maxFiles = static_cast<std::size_t>(v.i64("logging.max_files"));

    cfg.pluginDirs = v.list("plugins.dirs");
    // The plugin host reads plugins.* itself: every explicit plugins.<name>.* key, plus the
    // effective host-wide values (defaults from the schema).
    PluginProperties pluginProps;
    for (const auto& [key, value] : values) {
        if (key.starts_with(kPluginsPrefix)) {
            pluginProps.emplace(key, value);
        }
    }
    for (const auto& spec : kSchema) {
        if (spec.key.starts_with(kPluginsPrefix)) {
            pluginProps[std::string(spec.key)] = v.str(spec.key);
        }
    }
    try {
        cfg.pluginHost = PluginHostOptions::fromProperties(pluginProps);
    } catch (const std::invalid_argument& e) {
        throw ConfigError(std::string("config error: ") + e.what());
    }
    for (const auto& [key, value] : values) {
        if (!key.starts_with(kPluginsPrefix) || findConfigKey(key) != nullptr) {
            continue;
        }
        const std::string_view rest = std::string_view(key).substr(kPluginsPrefix.size());
        const std::size_t dot = rest.find('.');
        const std::string name(rest.substr(0, dot));
        const std::string sub(rest.substr(dot + 1));
        PluginSettings& plugin = cfg.plugins[name];
        plugin.values[sub] = value;
        if (sub == "enabled") {
            const auto b = parseBool(value);
            if (!b) {
                fail(key, value, false, "expected true or false");
            }
            plugin.enabled = *b;
        }
    }
    return cfg;
}

RelayConfig loadConfig(const std::string& file, const std::vector<std::string>& overrides)
{
    const std::vector<std::string> files = configFileChain(file);  // FILE, then its conf.d/*.properties
    std::map<std::string, std::string> values = readConfigFiles(files);
    for (const auto& o : overrides) {
        const std::size_t eq = o.find('=');
        const std::string key(trim(std::string_view(o).substr(0, eq)));
        if (eq == std::string::npos || key.empty()) {
            throw ConfigError("config error: -D " + quoted(o, looksSecret(o)) + ": expected key=value");
        }
        values[key] = std::string(trim(std::string_view(o).substr(eq + 1)));
    }
    std::string hostname = "localhost";
    try {
        hostname = Poco::Environment::nodeName();
    } catch (const Poco::Exception&) {
    }
    RelayConfig cfg = buildConfig(values, hostname);
    cfg.configFile = file;
    cfg.configFiles = files;
    return cfg;
}

}  // namespace nautilus::relay

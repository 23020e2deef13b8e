#include "http/StatusJson.h"

#include <algorithm>
#include <cmath>

#include "common/Version.h"
#include "http/JsonWriter.h"

namespace nautilus::relay {

std::string renderStatus(const ServiceInfo& service, const BusSnapshot& bus, const std::optional<StateHealth>& state,
                         std::int64_t nowWallNs)
{
    std::string out;
    out.reserve(1024 + bus.streams.size() * 160);
    JsonWriter w(out);
    w.beginObject();
    w.field("service", kServiceName);
    w.field("version", kVersion);
    w.field("instance", service.instance);
    w.key("started_at").timestamp(service.startedNs);
    const double uptime = service.startedNs > 0 ? static_cast<double>(nowWallNs - service.startedNs) / 1e9 : 0.0;
    w.field("uptime_s", std::round(std::max(uptime, 0.0) * 1000.0) / 1000.0);

    w.key("bus").beginObject();
    w.field("state", busStateName(bus.state));
    w.key("since").timestamp(bus.sinceNs);
    w.field("redis", bus.redis);
    w.field("reconnects", bus.reconnects);
    w.key("last_error").stringOrNull(bus.lastError);
    w.key("last_error_at").timestamp(bus.lastError.empty() ? 0 : bus.lastErrorNs);
    w.key("last_message_at").timestamp(bus.lastMessageNs);
    w.key("last_heartbeat_at").timestamp(bus.lastHeartbeatNs);
    w.field("received", bus.received);
    w.field("rejected", bus.rejected);
    w.field("trim_gaps", bus.trimGaps);
    w.field("trimmed_entries", bus.trimmedEntries);
    w.field("resets", bus.resets);
    w.field("heartbeats", bus.heartbeats);
    w.field("backpressured", bus.backpressured);
    w.key("streams").beginArray();
    char idBuf[48];
    for (const auto& s : bus.streams) {
        w.beginObject();
        w.field("key", s.key);
        if (s.lastId.isZero()) {
            w.key("last_id").null();
        } else {
            w.field("last_id", s.lastId.format(idBuf));
        }
        if (s.lag < 0) {
            w.key("lag").null();
        } else {
            w.field("lag", s.lag);
        }
        w.field("received", s.received);
        w.field("trim_gaps", s.trimGaps);
        w.field("trimmed_entries", s.trimmedEntries);
        w.field("resets", s.resets);
        w.endObject();
    }
    w.endArray();
    w.endObject();

    // Filled in by the plugin host and the WebSocket gateway (next issues); the shape is fixed now.
    w.key("plugins").beginArray().endArray();
    w.key("websocket").beginObject();
    w.field("clients", 0);
    w.field("sent", 0);
    w.field("dropped_clients", 0);
    w.endObject();

    w.key("state").beginObject();
    if (state) {
        w.field("enabled", true);
        w.field("ok", state->ok);
        w.key("last_error").stringOrNull(state->lastError);
        w.key("last_write_at").timestamp(state->lastWriteNs);
        w.field("failures", state->failures);
        w.field("checkpoint_writes", state->checkpointWrites);
    } else {
        w.field("enabled", false);
        w.key("ok").null();
        w.key("last_error").null();
        w.key("last_write_at").null();
    }
    w.endObject();
    w.endObject();
    return out;
}

std::string renderReadiness(const Readiness& readiness)
{
    std::string out;
    out.reserve(512);
    JsonWriter w(out);
    w.beginObject();
    w.field("status", readiness.ready ? "ready" : "not_ready");
    w.key("checks").beginObject();
    for (const auto& c : readiness.checks) {
        w.key(c.name).beginObject();
        w.field("ok", c.ok);
        w.field("detail", c.detail);
        w.endObject();
    }
    w.endObject();
    w.key("failed").beginArray();
    for (const auto& c : readiness.checks) {
        if (!c.ok) {
            w.value(c.name);
        }
    }
    w.endArray();
    w.endObject();
    return out;
}

std::string renderCluster(const std::vector<std::map<std::string, std::string>>& instances)
{
    std::string out;
    JsonWriter w(out);
    w.beginObject();
    w.key("instances").beginArray();
    for (const auto& fields : instances) {
        w.beginObject();
        for (const auto& [k, v] : fields) {
            w.field(k, v);
        }
        w.endObject();
    }
    w.endArray();
    w.endObject();
    return out;
}

std::string renderLoggers(std::vector<std::pair<std::string, std::string>> loggers)
{
    std::sort(loggers.begin(), loggers.end());
    std::string out;
    JsonWriter w(out);
    w.beginObject();
    w.key("loggers").beginArray();
    for (const auto& [name, level] : loggers) {
        w.beginObject();
        w.field("name", name);
        w.field("level", level);
        w.endObject();
    }
    w.endArray();
    w.endObject();
    return out;
}

std::string renderError(std::string_view code, std::string_view message,
                        const std::vector<std::pair<std::string, std::string>>& extra)
{
    std::string out;
    JsonWriter w(out);
    w.beginObject();
    w.field("error", code);
    w.field("message", message);
    for (const auto& [k, v] : extra) {
        w.field(k, v);
    }
    w.endObject();
    return out;
}

}  // namespace nautilus::relay

#include "http/StatusJson.h"

#include <algorithm>
#include <cmath>

#include "common/Version.h"
#include "http/JsonWriter.h"

namespace nautilus::relay {

namespace {

void writePluginSummary(JsonWriter& w, const PluginSnapshot& p)
{
    w.beginObject();
    w.field("name", p.name);
    w.field("version", p.version);
    w.field("state", p.state);
    w.field("handled", p.handled);
    w.field("errors", p.errors);
    w.field("dropped", p.dropped);
    w.field("queue", p.queueDepth);
    w.field("queue_capacity", p.queueCapacity);
    w.key("last_error").stringOrNull(p.lastError);
    w.key("last_error_at").timestamp(p.lastError.empty() ? 0 : p.lastErrorNs);
    w.endObject();
}

void writeRefusal(JsonWriter& w, const PluginRefusal& r)
{
    w.beginObject();
    w.field("name", r.name);
    w.key("version").null();
    w.field("state", std::string_view("refused"));
    w.field("path", r.path);
    w.field("reason", r.reason);
    w.key("refused_at").timestamp(r.atNs);
    w.endObject();
}

void writeStreams(JsonWriter& w, const std::vector<StreamStatus>& streams)
{
    w.key("streams").beginArray();
    char idBuf[48];
    for (const auto& s : streams) {
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
}

}  // namespace

std::string renderStatus(const ServiceInfo& service, const BusSnapshot& bus, const std::optional<StateHealth>& state,
                         std::int64_t nowWallNs, const std::vector<PluginSnapshot>& plugins,
                         const std::vector<PluginRefusal>& refused, const std::optional<WsSnapshot>& websocket,
                         bool withStreams)
{
    // One allocation for the whole body: a stream's entry is its key plus 100 to 200 bytes. A
    // body that outgrows its reservation is copied, and past 128 KiB (glibc's mmap threshold)
    // the copy goes to fresh pages that fault in one by one.
    std::size_t streamBytes = 0;
    if (withStreams) {
        for (const auto& s : bus.streams) {
            streamBytes += s.key.size() + 160;
        }
    }
    std::string out;
    out.reserve(2048 + streamBytes);
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
    w.field("stream_count", withStreams ? bus.streams.size() : bus.streamCount);
    if (withStreams) {
        writeStreams(w, bus.streams);
    }
    w.endObject();

    w.key("plugins").beginArray();
    for (const auto& p : plugins) {
        writePluginSummary(w, p);
    }
    for (const auto& r : refused) {
        writeRefusal(w, r);
    }
    w.endArray();
    const WsSnapshot ws = websocket.value_or(WsSnapshot{});
    w.key("websocket").beginObject();
    w.field("enabled", websocket.has_value());
    w.field("clients", ws.clients);
    w.field("subscriptions", ws.subscriptions);
    w.field("sent", ws.sent);
    w.field("sent_bytes", ws.sentBytes);
    w.field("dropped_clients", ws.droppedClients);
    w.field("conflated", ws.conflated);
    w.field("rejected_upgrades", ws.rejectedUpgrades);
    w.field("client_errors", ws.clientErrors);
    w.field("replays", ws.replays);
    w.field("replays_running", ws.replaying);
    w.field("replayed", ws.replayed);
    w.field("queue_bytes", ws.queueBytes);
    w.field("max_client_queue_bytes", ws.maxClientQueueBytes);
    w.field("queue_limit_bytes", ws.queueLimitBytes);
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

namespace nautilus::relay {

std::string renderPlugins(const std::vector<PluginSnapshot>& plugins, const std::vector<PluginRefusal>& refused)
{
    std::string out;
    JsonWriter w(out);
    w.beginObject().key("plugins").beginArray();
    for (const auto& p : plugins) {
        writePluginSummary(w, p);
    }
    for (const auto& r : refused) {
        writeRefusal(w, r);
    }
    w.endArray().endObject();
    return out;
}

std::string renderPlugin(const PluginSnapshot& p)
{
    std::string out;
    JsonWriter w(out);
    w.beginObject();
    w.field("name", p.name);
    w.field("version", p.version);
    w.field("abi", p.abi);
    w.field("path", p.path);
    w.field("state", p.state);
    w.key("state_since").timestamp(p.stateSinceNs);
    w.field("handled", p.handled);
    w.field("errors", p.errors);
    w.field("consecutive_errors", p.consecutiveErrors);
    w.field("dropped", p.dropped);
    w.field("blocked", p.blocked);
    w.field("slow_handlers", p.slowHandlers);
    w.field("restarts", p.restarts);
    w.field("published", p.published);
    w.field("publish_rejected", p.publishRejected);
    w.key("queue").beginObject();
    w.field("depth", p.queueDepth);
    w.field("capacity", p.queueCapacity);
    w.field("full_policy", p.fullPolicy);
    w.endObject();
    w.key("handler_latency").beginObject();
    w.field("count", p.latencyCount);
    w.field("sum_s", p.latencySumSeconds);
    w.field("p50_s", p.latencyP50Seconds);
    w.field("p99_s", p.latencyP99Seconds);
    w.endObject();
    w.key("last_error").stringOrNull(p.lastError);
    w.key("last_error_at").timestamp(p.lastError.empty() ? 0 : p.lastErrorNs);
    if (p.nextRestartInMs < 0) {
        w.key("next_restart_in_ms").null();
    } else {
        w.field("next_restart_in_ms", p.nextRestartInMs);
    }
    w.key("subscriptions").beginArray();
    for (const auto& s : p.subscriptions) {
        w.value(s);
    }
    w.endArray();
    w.endObject();
    return out;
}

std::string renderRefusedPlugin(const PluginRefusal& refusal)
{
    std::string out;
    JsonWriter w(out);
    writeRefusal(w, refusal);
    return out;
}

}  // namespace nautilus::relay

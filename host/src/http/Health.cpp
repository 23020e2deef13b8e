#include "http/Health.h"

#include <cstdio>

namespace nautilus::relay {

std::string_view busStateName(BusState state)
{
    switch (state) {
    case BusState::Connecting: return "connecting";
    case BusState::Connected: return "connected";
    case BusState::Stale: return "stale";
    case BusState::Reconnecting: return "reconnecting";
    case BusState::Disconnected: return "disconnected";
    }
    return "disconnected";
}

std::string formatAge(std::int64_t ns)
{
    if (ns < 0) {
        ns = 0;
    }
    char buf[48];
    const std::int64_t ms = ns / 1'000'000;
    if (ms < 1000) {
        std::snprintf(buf, sizeof buf, "%lld ms", static_cast<long long>(ms));
    } else if (ms < 60'000) {
        std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
    } else {
        std::snprintf(buf, sizeof buf, "%lld min %lld s", static_cast<long long>(ms / 60'000),
                      static_cast<long long>((ms / 1000) % 60));
    }
    return buf;
}

namespace {

constexpr std::int64_t kNsPerMs = 1'000'000;

HealthCheck connectedCheck(const BusSnapshot& bus, const HealthOptions& options, std::int64_t now)
{
    HealthCheck c{"connected", false, {}};
    const std::string state(busStateName(bus.state));
    const std::string since = bus.sinceNs > 0 ? " for " + formatAge(now - bus.sinceNs) : std::string();
    switch (bus.state) {
    case BusState::Connected:
        c.ok = true;
        c.detail = "connected to " + bus.redis + since;
        break;
    case BusState::Stale:
        c.ok = options.readyWhenStale;
        c.detail = "stale" + since + ": connected to " + bus.redis + " but no entry arrives" +
                   (options.readyWhenStale ? " (accepted: health.ready_when_stale = true)" : "");
        break;
    default:
        c.detail = state + since;
        if (!bus.lastError.empty()) {
            c.detail += ": " + bus.lastError;
        }
        break;
    }
    return c;
}

HealthCheck readerAliveCheck(const BusSnapshot& bus, const HealthOptions& options, std::int64_t now)
{
    HealthCheck c{"reader_alive", false, {}};
    if (bus.lastPollNs <= 0) {
        c.detail = "no XREAD has completed yet";
        return c;
    }
    const std::int64_t age = now - bus.lastPollNs;
    const std::int64_t limit = static_cast<std::int64_t>(options.readerAliveMs) * kNsPerMs;
    c.ok = age <= limit;
    c.detail = "last XREAD completed " + formatAge(age) + " ago";
    if (!c.ok) {
        c.detail += " (limit " + formatAge(limit) + ")";
        if (bus.backpressured) {
            c.detail += "; the reader is paused by full downstream queues";
        }
    }
    return c;
}

HealthCheck heartbeatCheck(const BusSnapshot& bus, const HealthOptions& options, std::int64_t now)
{
    HealthCheck c{"heartbeat", false, {}};
    if (!options.requireHeartbeat) {
        c.ok = true;
        c.detail = "not required (health.require_heartbeat = false)";
        return c;
    }
    if (bus.lastHeartbeatNs <= 0) {
        c.detail = "no heartbeat received";
        return c;
    }
    const std::int64_t age = now - bus.lastHeartbeatNs;
    const std::int64_t limit = static_cast<std::int64_t>(options.heartbeatTimeoutMs) * kNsPerMs;
    c.ok = age <= limit;
    c.detail = "last heartbeat " + formatAge(age) + " ago";
    if (!c.ok) {
        c.detail += " (limit " + formatAge(limit) + ")";
    }
    return c;
}

HealthCheck lagCheck(const BusSnapshot& bus, const HealthOptions& options)
{
    HealthCheck c{"lag", true, {}};
    if (options.maxLag <= 0) {
        c.detail = "not checked (health.max_lag = 0)";
        return c;
    }
    const StreamStatus* worst = nullptr;
    for (const auto& s : bus.streams) {
        if (s.lag >= 0 && (worst == nullptr || s.lag > worst->lag)) {
            worst = &s;
        }
    }
    const std::string limit = std::to_string(options.maxLag);
    if (worst == nullptr) {
        c.detail = "no stream lag known yet (limit " + limit + ")";
        return c;
    }
    c.ok = worst->lag <= options.maxLag;
    c.detail = "max lag " + std::to_string(worst->lag) + " entries on " + worst->key + " (limit " + limit + ")";
    return c;
}

}  // namespace

Readiness evaluateReadiness(const BusSnapshot& bus, const HealthOptions& options, std::int64_t nowWallNs)
{
    Readiness r;
    r.checks.reserve(4);
    r.checks.push_back(connectedCheck(bus, options, nowWallNs));
    r.checks.push_back(readerAliveCheck(bus, options, nowWallNs));
    r.checks.push_back(heartbeatCheck(bus, options, nowWallNs));
    r.checks.push_back(lagCheck(bus, options));
    r.ready = true;
    for (const auto& c : r.checks) {
        r.ready = r.ready && c.ok;
    }
    return r;
}

}  // namespace nautilus::relay

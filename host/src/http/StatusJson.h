#pragma once
// Renders the REST bodies (DESIGN.md "REST") from plain copies: a BusSnapshot, the state store's
// health, the registry hashes. Pure functions, so they are unit-tested without sockets and cost
// nothing but the copy the caller made.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bus/BusTypes.h"
#include "http/Health.h"
#include "state/StateStore.h"

#include "plugin/PluginLoader.h"
#include "plugin/PluginRuntime.h"
#include "ws/WsSnapshot.h"

namespace nautilus::relay {

/// What /status says about this process itself.
struct ServiceInfo {
    std::string instance;         ///< relay.instance_id
    std::int64_t startedNs = 0;   ///< wall clock at start
};

/// GET /status. state: nullopt when state.enabled = false. plugins: the plugin host's
/// snapshot, refused: its refusals (listed with state "refused"). withStreams = false leaves out
/// bus.streams (bus.stream_count is then bus.streamCount).
std::string renderStatus(const ServiceInfo& service, const BusSnapshot& bus, const std::optional<StateHealth>& state,
                         std::int64_t nowWallNs, const std::vector<PluginSnapshot>& plugins = {},
                         const std::vector<PluginRefusal>& refused = {},
                         const std::optional<WsSnapshot>& websocket = std::nullopt, bool withStreams = true);

/// GET /plugins body: {"plugins":[{"name","version","state",...}, ...]}, refused ones last
/// with state "refused", their path and reason.
std::string renderPlugins(const std::vector<PluginSnapshot>& plugins, const std::vector<PluginRefusal>& refused);

/// GET /plugins/<name> body: every figure of one plugin.
std::string renderPlugin(const PluginSnapshot& plugin);
/// GET /plugins/<name> body for a refused plugin.
std::string renderRefusedPlugin(const PluginRefusal& refusal);

/// GET /health/ready body.
std::string renderReadiness(const Readiness& readiness);

/// GET /status/cluster body: {"instances":[{field: value, ...}, ...]}.
std::string renderCluster(const std::vector<std::map<std::string, std::string>>& instances);

/// GET /admin/loggers body: {"loggers":[{"name":..., "level":...}, ...]} (sorted by name).
std::string renderLoggers(std::vector<std::pair<std::string, std::string>> loggers);

/// {"error": code, "message": message} plus extra string members (e.g. "path").
std::string renderError(std::string_view code, std::string_view message,
                        const std::vector<std::pair<std::string, std::string>>& extra = {});

}  // namespace nautilus::relay

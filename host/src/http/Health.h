#pragma once
// Readiness: does data flow? Evaluated from a BusSnapshot copy, so it never waits on the reader.
// Checks, in this order: connected, reader_alive, heartbeat, lag (see HealthOptions).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bus/BusTypes.h"
#include "http/HttpOptions.h"

namespace nautilus::relay {

struct HealthCheck {
    std::string name;
    bool ok = false;
    std::string detail;
};

struct Readiness {
    bool ready = false;
    std::vector<HealthCheck> checks;  ///< always all four, in a fixed order
};

Readiness evaluateReadiness(const BusSnapshot& bus, const HealthOptions& options, std::int64_t nowWallNs);

/// DESIGN.md's state names: connecting, connected, reconnecting, stale, disconnected.
std::string_view busStateName(BusState state);

/// "850 ms", "12.3 s", "4 min 2 s" — for check details.
std::string formatAge(std::int64_t ns);

}  // namespace nautilus::relay

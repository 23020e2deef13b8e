#pragma once
// Prometheus families computed at scrape time from the same copies /status uses: readiness,
// uptime, process RSS, timestamps of the bus's last state change / entry / heartbeat / poll, the
// largest lag, state-store enablement. (The reader exports the bus state one-hot, its totals and
// the per-stream families itself; the state store its write counters.)
//
// They are written after MetricsRegistry::renderPrometheus() rather than from a registry
// collector on purpose: collectors run under the registry mutex, and taking the reader's
// snapshot there would nest the reader's lock inside the registry's.
#include <cstdint>
#include <optional>
#include <string>

#include "bus/BusTypes.h"
#include "common/Metrics.h"
#include "http/Health.h"
#include "http/StatusJson.h"
#include "state/StateStore.h"

namespace nautilus::relay {

void writeStatusMetrics(PromWriter& w, const ServiceInfo& service, const BusSnapshot& bus,
                        const std::optional<StateHealth>& state, const Readiness& readiness, std::int64_t nowWallNs);

/// Resident set size of this process in bytes (from /proc/self/statm); 0 when unknown.
std::uint64_t processResidentBytes();

/// A label value: valid UTF-8, at most maxBytes (cut at a character boundary), escaped for the
/// Prometheus text format.
std::string promLabelValue(std::string_view value, std::size_t maxBytes = 512);

}  // namespace nautilus::relay

#include "http/StatusMetrics.h"

#include <algorithm>
#include <cstdio>

#include <unistd.h>

#include "common/Version.h"
#include "http/JsonWriter.h"

namespace nautilus::relay {

std::uint64_t processResidentBytes()
{
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (f == nullptr) {
        return 0;
    }
    unsigned long long size = 0;
    unsigned long long resident = 0;
    const int n = std::fscanf(f, "%llu %llu", &size, &resident);
    std::fclose(f);
    if (n != 2) {
        return 0;
    }
    const long page = sysconf(_SC_PAGESIZE);
    return resident * static_cast<std::uint64_t>(page > 0 ? page : 4096);
}

std::string promLabelValue(std::string_view value, std::size_t maxBytes)
{
    std::string valid = JsonWriter::validUtf8(value);
    if (valid.size() > maxBytes) {
        std::size_t cut = maxBytes;
        while (cut > 0 && (static_cast<unsigned char>(valid[cut]) & 0xC0) == 0x80) {
            --cut;  // do not split a UTF-8 sequence
        }
        valid.resize(cut);
    }
    return PromWriter::escapeLabel(valid);
}

namespace {

double seconds(std::int64_t wallNs)
{
    return static_cast<double>(wallNs) / 1e9;
}

}  // namespace

void writeStatusMetrics(PromWriter& w, const ServiceInfo& service, const BusSnapshot& bus,
                        const std::optional<StateHealth>& state, const Readiness& readiness, std::int64_t nowWallNs)
{
    w.family("nautilus_relay_info", "gauge", "Build and instance of this relay (always 1).");
    w.sample("nautilus_relay_info",
             std::string("version=\"") + kVersion + "\",instance=\"" + promLabelValue(service.instance) + "\"", 1);
    w.family("nautilus_relay_uptime_seconds", "gauge", "Seconds since the relay started.");
    w.sample("nautilus_relay_uptime_seconds", {}, seconds(nowWallNs - service.startedNs));
    w.family("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.");
    w.sample("process_start_time_seconds", {}, seconds(service.startedNs));
    w.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    w.sample("process_resident_memory_bytes", {}, static_cast<double>(processResidentBytes()));

    w.family("nautilus_relay_ready", "gauge", "1 when GET /health/ready answers 200.");
    w.sample("nautilus_relay_ready", {}, readiness.ready ? 1 : 0);

    // The bus state (one-hot), its totals and the per-stream families come from the reader's own
    // registry collector, the state-store counters from the store; these complete them.
    w.family("nautilus_relay_bus_state_since_timestamp_seconds", "gauge", "When the bus entered its current state.");
    w.sample("nautilus_relay_bus_state_since_timestamp_seconds", {}, seconds(bus.sinceNs));
    w.family("nautilus_relay_bus_last_message_timestamp_seconds", "gauge",
             "When the last entry (heartbeats included) was read; 0 = never.");
    w.sample("nautilus_relay_bus_last_message_timestamp_seconds", {}, seconds(bus.lastMessageNs));
    w.family("nautilus_relay_bus_last_heartbeat_timestamp_seconds", "gauge",
             "When the last NautilusTrader heartbeat was read; 0 = never.");
    w.sample("nautilus_relay_bus_last_heartbeat_timestamp_seconds", {}, seconds(bus.lastHeartbeatNs));
    w.family("nautilus_relay_bus_last_poll_timestamp_seconds", "gauge",
             "When the read loop last completed an XREAD; 0 = never.");
    w.sample("nautilus_relay_bus_last_poll_timestamp_seconds", {}, seconds(bus.lastPollNs));
    w.family("nautilus_relay_bus_streams", "gauge", "Streams the reader knows.");
    w.sample("nautilus_relay_bus_streams", {}, static_cast<double>(bus.streams.size()));
    std::int64_t maxLag = 0;
    for (const auto& st : bus.streams) {
        maxLag = std::max(maxLag, st.lag);
    }
    w.family("nautilus_relay_bus_max_lag", "gauge", "Largest known lag of any stream, in entries.");
    w.sample("nautilus_relay_bus_max_lag", {}, static_cast<double>(maxLag));

    w.family("nautilus_relay_state_enabled", "gauge", "1 when the relay keeps its registry and checkpoints in Redis.");
    w.sample("nautilus_relay_state_enabled", {}, state ? 1 : 0);
    if (state) {
        w.family("nautilus_relay_state_last_write_timestamp_seconds", "gauge",
                 "When the state store last wrote to Redis; 0 = never.");
        w.sample("nautilus_relay_state_last_write_timestamp_seconds", {}, seconds(state->lastWriteNs));
    }
}

}  // namespace nautilus::relay

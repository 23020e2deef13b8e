#pragma once
// The relay's own state in Redis, on its own connection (never the reader's):
// - registry hash  <prefix>:instance:<id>  (state, since, version, http, counters, last ids),
//   refreshed every second with a short TTL so a dead instance vanishes;
// - checkpoints    <prefix>:checkpoint:<id>  (stream key -> "<last id>" and its ordinal),
//   written at a bounded rate when they changed, and once more on stop().
// If Redis refuses the writes, delivery goes on; health() says so and /status shows it.
//
// Threads: start()/stop() from the application thread; one internal writer thread; health()
// and clusterInstances() from any thread.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bus/BusTypes.h"

namespace nautilus::relay {

struct StateOptions {
    RedisEndpoint redis;
    std::string prefix = "nautilus-relay";
    std::string instanceId;          ///< relay.instance_id
    std::string httpAddress;         ///< host:port of this instance's REST listener
    int refreshMs = 1000;            ///< registry refresh period
    int registryTtlMs = 5000;        ///< registry hash TTL
    int checkpointIntervalMs = 1000; ///< minimum time between checkpoint writes
};

struct StateHealth {
    bool ok = true;                  ///< last write succeeded (true before the first attempt)
    std::string lastError;
    std::int64_t lastErrorNs = 0;
    std::int64_t lastWriteNs = 0;    ///< wall clock of the last successful write
    std::uint64_t failures = 0;      ///< failed write rounds
    std::uint64_t checkpointWrites = 0;
};

class StateStore : public CheckpointSource {
public:
    using SnapshotFn = std::function<BusSnapshot()>;
    using PositionsFn = std::function<std::map<std::string, StreamPosition>()>;
    /// Extra registry fields (e.g. websocket client count), merged into the hash each refresh.
    using ExtraFieldsFn = std::function<std::map<std::string, std::string>()>;

    StateStore(StateOptions options, SnapshotFn snapshot, PositionsFn positions, ExtraFieldsFn extra = {});
    ~StateStore() override;

    void start();
    /// Writes the final checkpoints (bounded by the connect timeout), removes this instance's
    /// registry entry, stops the thread.
    void stop();

    /// Reads <prefix>:checkpoint:<instanceId>. Throws on a Redis error.
    std::map<std::string, StreamPosition> loadCheckpoints() override;

    StateHealth health() const;
    /// Every live instance's registry hash (SCAN <prefix>:instance:*), each as field -> value.
    /// Throws on a Redis error.
    std::vector<std::map<std::string, std::string>> clusterInstances();

private:
    struct Impl;
    std::unique_ptr<Impl> _impl;
};

}  // namespace nautilus::relay

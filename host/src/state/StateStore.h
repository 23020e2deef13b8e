#pragma once
// The relay's own state in Redis, on its own connection (never the reader's):
// - registry hash  <prefix>:instance:<id>  (state, since, version, http, counters, last ids),
//   refreshed every second with a short TTL so a dead instance vanishes;
// - checkpoints    <prefix>:checkpoint:<id>  (stream key -> "<last id> <ordinal>", e.g.
//   "1732700000000-0 42", or just "<last id>" when the ordinal is unknown; see StateCodec.h),
//   written at a bounded rate when they changed, and once more on stop().
// The registry is rewritten each round in one MULTI/EXEC (DEL + HSET + PEXPIRE), so a reader
// never sees a half-written hash and fields that went away do not linger.
// If Redis refuses the writes, delivery goes on; health() says so and /status shows it. A failed
// round drops the connection; the next round (refreshMs later) reconnects. The first failure of
// a streak is logged at warn, the recovery at info.
//
// Threads: start()/stop() from the application thread; one internal writer thread (the only
// one that calls the snapshot/positions/extra callbacks); health() from any thread (a copy under
// a small mutex); loadCheckpoints() and clusterInstances() from any thread, serialized on a
// second, lazily opened connection (reconnected once when it went stale), each reply bounded
// by ioTimeoutMs.
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
    int ioTimeoutMs = 2000;          ///< receive timeout of every Redis reply
    std::int64_t startedAtNs = 0;    ///< process start (wall ns) for "started_at"; 0 = when start() ran
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
    /// Stops the thread (after the round in progress), then writes the final checkpoints and
    /// removes this instance's registry entry in one pipeline, with connect and reply timeouts
    /// of at most 1 s each. If that fails, it is logged and the entry expires by its TTL.
    void stop();
    /// Stops the writer thread without the final checkpoint and without removing the registry
    /// entry, as if the process had died: the entry then expires after registryTtlMs. For tests
    /// and for abort paths; stop() afterwards does nothing.
    void halt();

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

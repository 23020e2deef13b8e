#pragma once
// Configuration and observable state of the bus (the Redis Streams reader). These structs are
// the contract between the bus, the state store (checkpoints, registry) and the REST layer.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/StreamId.h"

namespace nautilus::relay {

struct RedisEndpoint {
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string username;          ///< ACL user; empty = AUTH <password> only
    std::string password;          ///< empty = no AUTH
    int db = 0;
    int connectTimeoutMs = 2000;
    std::string address() const { return host + ":" + std::to_string(port); }
};

struct BackoffPolicy {
    int initialMs = 100;     ///< ceiling of the first delay (the first retry itself is immediate)
    int maxMs = 2000;        ///< cap of every later delay
    double multiplier = 2.0;
};

enum class StartPosition { Latest, Earliest, Checkpoint };

/// NautilusTrader's MessageBusConfig stream-key options (SPEC §2) plus the relay's read settings.
struct BusConfig {
    RedisEndpoint redis;
    std::string traderId = "TRADER-001";
    bool useTraderPrefix = true;
    bool useTraderId = true;
    std::string instanceId;
    bool useInstanceId = false;
    std::string streamsPrefix = "stream";
    bool streamPerTopic = true;
    /// Explicit keys or key patterns (glob: * ? [...]); when non-empty, replaces the options above.
    std::vector<std::string> streams;

    StartPosition start = StartPosition::Checkpoint;
    StartPosition startFallback = StartPosition::Latest;  ///< used when no checkpoint exists

    int readCount = 1000;            ///< XREAD COUNT (per stream)
    int blockMs = 500;               ///< XREAD BLOCK
    int readTimeoutMs = 2000;        ///< socket timeout beyond BLOCK before a link is declared dead
    int discoveryIntervalMs = 1000;  ///< SCAN for new stream keys
    int monitorIntervalMs = 1000;    ///< XINFO per stream: lag, trim gaps, resets
    int staleAfterMs = 15000;        ///< no entry (data or heartbeat) for this long => stale (0 = never)
    bool tcpKeepAlive = true;
    BackoffPolicy backoff;
};

enum class BusState { Connecting, Connected, Stale, Reconnecting, Disconnected };
std::string_view toString(BusState s);

/// Position of one stream, as checkpointed: the last delivered id and, when known, its ordinal
/// (how many entries the stream had ever received up to and including it; -1 unknown).
struct StreamPosition {
    StreamId lastId;
    std::int64_t ordinal = -1;
};

struct StreamStatus {
    std::string key;
    StreamId lastId;
    std::int64_t ordinal = -1;
    std::int64_t lag = -1;           ///< entries written but not yet delivered; -1 unknown
    std::uint64_t received = 0;
    std::uint64_t trimGaps = 0;      ///< gap events (entries removed before this reader read them)
    std::uint64_t trimmedEntries = 0;///< entries known lost in those gaps
    std::uint64_t resets = 0;        ///< stream deleted/recreated
    std::int64_t lastMessageNs = 0;  ///< wall clock of the last entry read
};

/// The reader's figures without the per-stream list (cheap to copy: GET /status?streams=false).
struct BusSummary {
    BusState state = BusState::Disconnected;
    std::int64_t sinceNs = 0;            ///< wall clock of the last state change
    std::string redis;                   ///< host:port
    std::uint64_t reconnects = 0;
    std::string lastError;               ///< empty = none
    std::int64_t lastErrorNs = 0;
    std::int64_t lastMessageNs = 0;      ///< any entry, heartbeats included
    std::int64_t lastHeartbeatNs = 0;
    std::int64_t lastPollNs = 0;         ///< wall clock when the read loop last completed an XREAD
    std::uint64_t received = 0;          ///< entries read, rejected ones included
    std::uint64_t rejected = 0;
    std::uint64_t heartbeats = 0;
    std::uint64_t trimGaps = 0;
    std::uint64_t trimmedEntries = 0;    ///< entries known lost in trim gaps (all streams)
    std::uint64_t resets = 0;
    bool backpressured = false;          ///< the reader is waiting for downstream queues
    std::size_t streamCount = 0;         ///< streams known (set by the reader, also when `streams` is left out)
};

struct BusSnapshot : BusSummary {
    std::vector<StreamStatus> streams;
};

/// Where the reader gets stored checkpoints at start (implemented by the state store).
class CheckpointSource {
public:
    virtual ~CheckpointSource() = default;
    /// Stream key -> position. Throws on a Redis error (the reader then falls back and logs it).
    virtual std::map<std::string, StreamPosition> loadCheckpoints() = 0;
};

}  // namespace nautilus::relay

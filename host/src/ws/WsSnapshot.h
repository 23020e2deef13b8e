#pragma once
// The WebSocket gateway's figures for /status and /metrics: plain values, copied out.
#include <cstdint>

namespace nautilus::relay {

struct WsSnapshot {
    std::uint64_t clients = 0;
    std::uint64_t subscriptions = 0;       ///< topic patterns over all clients
    std::uint64_t sent = 0;                ///< frames written to clients
    std::uint64_t sentBytes = 0;
    std::uint64_t droppedClients = 0;      ///< closed by the relay: too slow, abusive, keepalive
    std::uint64_t conflated = 0;           ///< market-data messages replaced by a newer one
    std::uint64_t rejectedUpgrades = 0;    ///< 401/403/503 at the upgrade
    std::uint64_t clientErrors = 0;        ///< error frames sent for bad client frames
    std::uint64_t replays = 0;             ///< subscribe requests with "from"
    std::uint64_t replaying = 0;           ///< replays in progress
    std::uint64_t replayed = 0;            ///< entries sent from Redis history
    std::uint64_t queueBytes = 0;          ///< bytes waiting in all send queues
    std::uint64_t maxClientQueueBytes = 0; ///< the fullest client's queue
    std::uint64_t queueLimitBytes = 0;     ///< ws.queue_bytes
};

}  // namespace nautilus::relay

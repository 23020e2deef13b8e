#pragma once
// Options of the WebSocket gateway (ws.* keys; the listener itself is http.host:http.port).
#include <cstddef>
#include <string>
#include <vector>

namespace nautilus::relay {

struct WsOptions {
    bool enabled = true;                       ///< ws.enabled: serve GET /ws
    int threads = 2;                           ///< ws.threads: event-loop threads for all clients
    bool ioUring = true;                       ///< ws.io_uring: loops submit their sends in one io_uring call
    std::size_t maxClients = 10'000;           ///< ws.max_clients: more upgrades get 503
    std::size_t queueBytes = 8u << 20;         ///< ws.queue_bytes: per-client send queue bound
    std::size_t maxFrameBytes = 64u << 10;     ///< ws.max_frame_bytes: incoming message size bound
    std::size_t maxSubscriptions = 256;        ///< ws.max_subscriptions: topic patterns per client
    int maxMessagesPerSecond = 50;             ///< ws.max_messages_per_second: incoming frames per client
    int pingIntervalMs = 15'000;               ///< ws.ping_interval_ms: 0 = no keepalive pings
    bool conflateMarketData = true;            ///< ws.conflate_market_data: data.* may be conflated
    int replayThreads = 2;                     ///< ws.replay_threads: concurrent replays (own Redis links)
    int replayBatch = 1000;                    ///< ws.replay_batch: XRANGE COUNT
    int stallTimeoutMs = 10'000;               ///< ws.stall_timeout_ms: a client writing nothing this long is closed
    std::string authToken;                     ///< ws.auth.token: static bearer token
    std::vector<std::string> authTokenTopics;  ///< ws.auth.token_topics: allow list for that token
    std::string jwtSecret;                     ///< ws.auth.jwt_secret: HS256 key
    std::string jwtTopicsClaim = "topics";     ///< ws.auth.jwt_topics_claim: allow-list claim
    std::vector<std::string> allowedOrigins;   ///< ws.allowed_origins: browser origins let in

    bool authRequired() const { return !authToken.empty() || !jwtSecret.empty(); }
};

}  // namespace nautilus::relay

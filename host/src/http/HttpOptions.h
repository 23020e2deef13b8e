#pragma once
// Options of the REST listener (http.*) and of the readiness checks (health.*).
#include <cstdint>
#include <string>

namespace nautilus::relay {

struct HttpOptions {
    std::string host = "127.0.0.1";
    int port = 8080;
    int threads = 4;            ///< worker threads = concurrent keep-alive connections served
    std::string adminToken;     ///< empty: /admin/* from loopback peers only
};

struct HealthOptions {
    bool requireHeartbeat = false;     ///< ready needs a NautilusTrader heartbeat within heartbeatTimeoutMs
    int heartbeatTimeoutMs = 15000;
    std::int64_t maxLag = 100000;      ///< entries; 0 = no lag check
    bool readyWhenStale = false;       ///< a stale (quiet but connected) bus still counts as ready
    /// The reader loop must have completed an XREAD within this long (bus.block_ms +
    /// bus.read_timeout_ms + 1 s): proves the loop runs, not only that a socket is open.
    int readerAliveMs = 3500;
};

}  // namespace nautilus::relay

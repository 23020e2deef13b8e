#pragma once
// The bus: one thread that owns the Redis connection for reading, resolves and discovers the
// stream keys, XREADs every stream in one call, decodes each entry and routes it, keeps per-stream
// positions, detects trim gaps and resets, runs the health state machine and reconnects with
// backoff. Nothing is lost across a reconnect: reading resumes after the last delivered id.
//
// Threads: start()/stop() from the application thread; snapshot()/positions() from any thread
// (they copy small state under a short mutex that the reader takes only between batches).
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "bus/BusTypes.h"

namespace nautilus::relay {

class Router;

class StreamReader {
public:
    using StateListener = std::function<void(BusState state, const std::string& reason)>;

    StreamReader(BusConfig config, Router& router, CheckpointSource* checkpoints = nullptr);
    ~StreamReader();
    StreamReader(const StreamReader&) = delete;
    StreamReader& operator=(const StreamReader&) = delete;

    void start();
    /// Stops reading and joins the thread; returns within about readTimeoutMs at worst.
    void stop();

    BusSnapshot snapshot() const;
    /// Last delivered position of every known stream (for checkpoints).
    std::map<std::string, StreamPosition> positions() const;
    /// Called on the reader thread on every state change (keep it short).
    void setStateListener(StateListener listener);

    const BusConfig& config() const { return _config; }

private:
    struct Impl;
    BusConfig _config;
    std::unique_ptr<Impl> _impl;
};

}  // namespace nautilus::relay

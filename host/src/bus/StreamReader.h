#pragma once
// The bus: one thread that owns the Redis connection for reading, resolves and discovers the
// stream keys, XREADs every stream in one call, decodes each entry and routes it, keeps per-stream
// positions, detects trim gaps and resets, runs the health state machine and reconnects with
// backoff. Nothing is lost across a reconnect: reading resumes after the last delivered id.
//
// Threads: start()/stop() from the application thread; snapshot()/positions() from any thread
// (they copy small state under a short mutex that the reader takes only between batches).
//
// Behaviour in short (details in StreamReader.cpp, StreamCursor.h):
//  - one XREAD COUNT/BLOCK for all streams; every entry is decoded (EntryDecoder) and routed
//    (Router::route) on the reader thread; a rejected entry is logged, counted and consumed;
//  - route() may block (full downstream queue): the reader then issues no further XREAD, Redis
//    is the buffer; snapshot().backpressured says so (a route call slower than 50 ms);
//  - between reads, on timers: SCAN discovery (discoveryIntervalMs) and a pipelined
//    XINFO STREAM per stream (monitorIntervalMs) for lag, trim gaps and resets;
//  - any socket error, timeout (blockMs + readTimeoutMs) or protocol error closes the link; it
//    reconnects with Backoff and resumes after each stream's last delivered id.
// Metrics (MetricsRegistry::global()): nautilus_relay_bus_received_total,
// nautilus_relay_messages_received_total{type}, nautilus_relay_messages_rejected_total{stage},
// nautilus_relay_decode_route_seconds, nautilus_relay_bus_{heartbeats,reconnects,trim_gaps,
// trimmed_entries,resets}_total, and from a collector nautilus_relay_bus_state{state},
// nautilus_relay_bus_backpressured, nautilus_relay_stream_{lag,last_id_ms}{stream},
// nautilus_relay_stream_{received,trim_gaps,trimmed_entries,resets}_total{stream}.
// Logs go to the "relay.bus" logger.
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "bus/BusTypes.h"

namespace nautilus::relay {

class Router;
struct Message;

class StreamReader {
public:
    using StateListener = std::function<void(BusState state, const std::string& reason)>;
    /// Routes one message instead of Router::route (e.g. PluginHost::route, which serialises
    /// with the plugins' publications). Called on the reader thread.
    using RouteFunction = std::function<std::size_t(const Message&)>;
    /// Ends a group of routed messages instead of Router::endBatch (e.g. PluginHost::endBatch).
    using BatchEndFunction = std::function<void()>;

    StreamReader(BusConfig config, Router& router, CheckpointSource* checkpoints = nullptr);
    ~StreamReader();
    StreamReader(const StreamReader&) = delete;
    StreamReader& operator=(const StreamReader&) = delete;

    void start();
    /// Stops reading and joins the thread; returns within about readTimeoutMs at worst.
    void stop();

    /// withStreams = false leaves `streams` empty (streamCount still says how many): the copy
    /// then takes no allocation under the publication mutex, however many streams there are.
    BusSnapshot snapshot(bool withStreams = true) const;
    /// Last delivered position of every known stream (for checkpoints).
    std::map<std::string, StreamPosition> positions() const;
    /// Call before start(): every message goes through route instead of the Router directly,
    /// and every XREAD reply's messages are followed by endBatch.
    void setRouteFunction(RouteFunction route, BatchEndFunction endBatch);
    /// Called on the reader thread on every state change (keep it short).
    void setStateListener(StateListener listener);

    const BusConfig& config() const { return _config; }

private:
    struct Impl;
    BusConfig _config;
    std::unique_ptr<Impl> _impl;
};

}  // namespace nautilus::relay

#pragma once
// The WebSocket gateway (GET /ws, docs/websocket.md). The upgrade runs on an HTTP worker thread
// (auth, origin, limits, Poco's handshake); the socket is then handed to one of ws.threads
// epoll loops, so a thousand clients cost no HTTP threads. Each bus message is serialized into
// one shared frame the first time a client needs it; every client has a send queue bounded in
// bytes where market data is conflated and other events close the client rather than grow it.
// Replays (subscribe with "from") read Redis history on their own threads and join the live
// flow with no gap and no duplicate.
//
// Threads: onMessage() on the routing thread (the bus reader, or a plugin publish; serialized
// by PluginHost::route); busStateChanged() on the bus reader's thread; loops and replay workers
// of its own; the handler on the HTTP threads; start()/stop() from the application thread.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bus/BusTypes.h"
#include "bus/RedisLink.h"
#include "router/Router.h"
#include "ws/WsOptions.h"
#include "ws/WsSnapshot.h"

namespace Poco::Net {
class HTTPRequestHandler;
class HTTPServerRequest;
}  // namespace Poco::Net

namespace nautilus::relay {

struct WsSources {
    std::function<BusSnapshot()> bus;           ///< stream keys for replay
    RedisLinkOptions redis;                     ///< replay connections
    std::string perTopicPrefix;                 ///< "<base key>:" with one stream per topic, else empty
};

class WsGateway final : public Subscriber {
public:
    WsGateway(WsOptions options, WsSources sources);
    ~WsGateway() override;
    WsGateway(const WsGateway&) = delete;
    WsGateway& operator=(const WsGateway&) = delete;

    /// Starts the loops and subscribes to busRouter (which must outlive this object).
    void start(Router& busRouter);
    /// Closes every client (1001), stops the threads. The bus subscription is removed without
    /// waiting; onMessage() and onBatchEnd() ignore messages from then on. Idempotent.
    void stop();

    /// For RestServer::addRoute("/ws", ...).
    Poco::Net::HTTPRequestHandler* createHandler(const Poco::Net::HTTPServerRequest& request);

    WsSnapshot snapshot() const;
    /// Sends a status frame to every client (the bus reader's state listener calls it).
    void busStateChanged(const BusSnapshot& bus) noexcept;
    const WsOptions& options() const;

    void onMessage(const Message& msg) noexcept override;
    /// Hands the clients that got messages in this batch to their loops (one wake-up each).
    bool wantsBatchEnd() const noexcept override { return true; }
    void onBatchEnd() noexcept override;

    struct Impl;

private:
    std::unique_ptr<Impl> _impl;
};

}  // namespace nautilus::relay

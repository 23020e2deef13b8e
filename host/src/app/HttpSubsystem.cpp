#include "app/HttpSubsystem.h"

#include "app/BusSubsystem.h"
#include "app/RelayServer.h"
#include "common/Logging.h"
#include "http/RestApi.h"
#include "http/RestServer.h"
#include "bus/StreamKeys.h"
#include "plugin/PluginHost.h"
#include "ws/WsGateway.h"

namespace nautilus::relay {

HttpSubsystem::HttpSubsystem() = default;

HttpSubsystem::~HttpSubsystem()
{
    stop();
    _gateway.reset();
}

void HttpSubsystem::initialize(Poco::Util::Application& app)
{
    auto& server = dynamic_cast<RelayServer&>(app);
    const RelayConfig& cfg = server.relayConfig();
    BusSubsystem* bus = &server.bus();

    RestSources sources;
    sources.bus = [bus] { return bus->snapshot(); };
    sources.busSummary = [bus] { return bus->snapshot(false); };
    if (bus->stateEnabled()) {
        sources.state = [bus] { return bus->stateHealth(); };
        sources.cluster = [bus] { return bus->clusterInstances(); };
    }
    sources.plugins = server.plugins();
    if (cfg.ws.enabled) {
        WsSources ws;
        ws.bus = [bus] { return bus->snapshot(); };
        ws.redis.endpoint = cfg.bus.redis;
        ws.redis.keepAlive = cfg.bus.tcpKeepAlive;
        if (cfg.bus.streams.empty() && cfg.bus.streamPerTopic) {
            ws.perTopicPrefix = StreamKeys::baseKey(cfg.bus) + ":";
        }
        _gateway = std::make_unique<WsGateway>(cfg.ws, std::move(ws));
        WsGateway* gateway = _gateway.get();
        sources.websocket = [gateway] { return gateway->snapshot(); };
    }
    auto api = std::make_shared<const RestApi>(ServiceInfo{cfg.instanceId, server.startedNs()}, std::move(sources),
                                               cfg.health, cfg.http.adminToken);
    _server = std::make_unique<RestServer>(cfg.http, std::move(api));
    if (_gateway) {
        WsGateway* gateway = _gateway.get();
        _server->addRoute("/ws", [gateway](const Poco::Net::HTTPServerRequest& r) { return gateway->createHandler(r); });
        _gateway->start(server.router());
        bus->setStateListener([gateway, bus](BusState, const std::string&) { gateway->busStateChanged(bus->snapshot()); });
    }
    _server->start();
    Logging::get("relay.http")->info("REST listening on http://{} ({} worker threads{})", _server->address(),
                                     cfg.http.threads,
                                     cfg.http.adminToken.empty() ? ", admin from loopback only" : ", admin by token");
}

void HttpSubsystem::uninitialize()
{
    stop();
}

void HttpSubsystem::stop()
{
    if (_server) {
        _server->stop();
        _server.reset();
    }
    if (_gateway) {
        _gateway->stop();
    }
}

std::string HttpSubsystem::address() const
{
    return _server ? _server->address() : std::string();
}

}  // namespace nautilus::relay

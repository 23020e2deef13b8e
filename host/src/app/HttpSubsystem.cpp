#include "app/HttpSubsystem.h"

#include "app/BusSubsystem.h"
#include "app/RelayServer.h"
#include "common/Logging.h"
#include "http/RestApi.h"
#include "http/RestServer.h"

namespace nautilus::relay {

HttpSubsystem::HttpSubsystem() = default;

HttpSubsystem::~HttpSubsystem()
{
    stop();
}

void HttpSubsystem::initialize(Poco::Util::Application& app)
{
    auto& server = dynamic_cast<RelayServer&>(app);
    const RelayConfig& cfg = server.relayConfig();
    BusSubsystem* bus = &server.bus();

    RestSources sources;
    sources.bus = [bus] { return bus->snapshot(); };
    if (bus->stateEnabled()) {
        sources.state = [bus] { return bus->stateHealth(); };
        sources.cluster = [bus] { return bus->clusterInstances(); };
    }
    sources.plugins = server.plugins();
    auto api = std::make_shared<const RestApi>(ServiceInfo{cfg.instanceId, server.startedNs()}, std::move(sources),
                                               cfg.health, cfg.http.adminToken);
    _server = std::make_unique<RestServer>(cfg.http, std::move(api));
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
}

std::string HttpSubsystem::address() const
{
    return _server ? _server->address() : std::string();
}

}  // namespace nautilus::relay

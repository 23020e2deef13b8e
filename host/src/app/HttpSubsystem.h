#pragma once
// The REST listener and the WebSocket gateway as a Poco subsystem. initialize() builds the
// RestApi over the bus subsystem's snapshots, starts the gateway on /ws and starts listening;
// uninitialize()/stop() stops accepting, closes open connections and WebSocket clients.
// Registered after the bus, so it starts last and stops first. The gateway object itself lives
// until this subsystem is destroyed (after the bus reader stopped): the reader may still be
// inside a route() that reaches it while stop() runs.
#include <memory>
#include <string>

#include <Poco/Util/Subsystem.h>

namespace nautilus::relay {

class RestServer;
class WsGateway;

class HttpSubsystem final : public Poco::Util::Subsystem {
public:
    HttpSubsystem();
    const char* name() const override { return "http"; }

    /// Idempotent.
    void stop();
    /// host:port actually listened on ("" before initialize).
    std::string address() const;

protected:
    ~HttpSubsystem() override;
    void initialize(Poco::Util::Application& app) override;
    void uninitialize() override;

private:
    std::unique_ptr<WsGateway> _gateway;
    std::unique_ptr<RestServer> _server;
};

}  // namespace nautilus::relay

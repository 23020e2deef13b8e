#pragma once
// The REST listener as a Poco subsystem. initialize() builds the RestApi over the bus
// subsystem's snapshots and starts listening; uninitialize()/stop() stops accepting and closes
// open connections. Registered after the bus, so it starts last and stops first.
#include <memory>
#include <string>

#include <Poco/Util/Subsystem.h>

namespace nautilus::relay {

class RestServer;

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
    std::unique_ptr<RestServer> _server;
};

}  // namespace nautilus::relay

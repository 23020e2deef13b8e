#pragma once
// The nautilus-relay process: a Poco::Util::ServerApplication.
//
// Options: --config/-c FILE, -D key=value (repeatable, later wins), --check-config, --help/-h,
// --version/-v, and ServerApplication's own --daemon, --pidfile FILE, --umask MASK.
//
// Lifecycle: the constructor registers the subsystems (bus, then http) and nothing else.
// initialize() loads and validates the configuration (no threads). main() reports help, version
// or a configuration error (exit 78), then configures logging, subscribes the built-in
// subscribers, loads the plugins (start-up stops only when a plugins.<name>.required one is
// missing or refused), starts the subsystems (state store -> reader -> HTTP), and waits for
// SIGTERM/SIGINT/SIGQUIT. SIGHUP reloads the configuration files (reload(), app/Reload.h).
// uninitialize() stops them in reverse order (HTTP accept, reader,
// state store with its final checkpoints), then the plugins (drain, shutdown, dlclose), and
// flushes the logs.
//
// Threads: everything here runs on the main thread; the subsystems own their threads.
#include <cstdint>
#include <iostream>  // POCO_SERVER_MAIN (main.cpp) writes to std::cerr
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <Poco/Util/ServerApplication.h>

#include "app/BuiltinSubscribers.h"
#include "app/Config.h"
#include "router/Router.h"

namespace nautilus::relay {

class BusSubsystem;
class HttpSubsystem;
class PluginHost;

class RelayServer final : public Poco::Util::ServerApplication {
public:
    RelayServer();
    ~RelayServer() override;

    const char* name() const override { return "nautilus-relay"; }

    const RelayConfig& relayConfig() const { return _config; }
    Router& router() { return _router; }
    BusSubsystem& bus() { return *_bus; }
    /// nullptr before main() created it (or with --help/--version/--check-config).
    PluginHost* plugins() { return _plugins.get(); }
    std::int64_t startedNs() const { return _startedNs; }

protected:
    void defineOptions(Poco::Util::OptionSet& options) override;
    void handleOption(const std::string& name, const std::string& value) override;
    void initialize(Poco::Util::Application& self) override;
    void uninitialize() override;
    int main(const std::vector<std::string>& args) override;

private:
    enum class Mode { Run, Help, Version, CheckConfig };

    void printHelp() const;
    /// SIGHUP: re-reads --config and its conf.d (with the same -D), applies logging.level and
    /// plugins.<name>.enabled, logs "restart required for ..." for other changes; a bad file
    /// keeps the running configuration.
    void reload();
    void subscribeBuiltins();
    void stopSubsystems();
    bool loadPlugins();

    Mode _mode = Mode::Run;
    std::string _configFile;
    std::vector<std::string> _overrides;
    std::optional<std::string> _configError;
    RelayConfig _config;
    std::int64_t _startedNs = 0;
    bool _started = false;

    Router _router;
    std::unique_ptr<RoutedCounter> _routedCounter;
    std::unique_ptr<MessageLogger> _messageLogger;
    std::vector<Router::SubscriptionId> _subscriptions;
    // After _router: destroyed before it. Shut down after the bus reader stopped.
    std::unique_ptr<PluginHost> _plugins;

    // Owned by Application's subsystem list (AutoPtr); these are borrowed pointers.
    BusSubsystem* _bus = nullptr;
    HttpSubsystem* _http = nullptr;
};

}  // namespace nautilus::relay

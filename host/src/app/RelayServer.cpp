#include "app/RelayServer.h"

#include <algorithm>
#include <csignal>
#include <iostream>

#include <pthread.h>

#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>

#include "app/BusSubsystem.h"
#include "app/ConfigFiles.h"
#include "app/HttpSubsystem.h"
#include "app/Reload.h"
#include "app/SystemdNotify.h"
#include "bus/StreamKeys.h"
#include "common/Logging.h"
#include "common/Time.h"
#include "common/Version.h"
#include "plugin/PluginHost.h"

namespace nautilus::relay {

namespace {

std::string_view startName(StartPosition p)
{
    switch (p) {
    case StartPosition::Latest: return "latest";
    case StartPosition::Earliest: return "earliest";
    case StartPosition::Checkpoint: return "checkpoint";
    }
    return "latest";
}

std::string describeStreams(const BusConfig& bus)
{
    const StreamSelection selection = StreamKeys::resolve(bus);
    std::string out;
    for (const auto& key : selection.exactKeys) {
        out += (out.empty() ? "" : ", ") + key;
    }
    for (const auto& pattern : selection.patterns) {
        out += (out.empty() ? "" : ", ") + pattern + " (discovered)";
    }
    return out.empty() ? "(none)" : out;
}

}  // namespace

RelayServer::RelayServer()
{
    // Start order is registration order; Application stops them in reverse (http first).
    _bus = new BusSubsystem;
    addSubsystem(_bus);
    _http = new HttpSubsystem;
    addSubsystem(_http);
}

RelayServer::~RelayServer()
{
    stopSubsystems();
    for (auto id : _subscriptions) {
        _router.unsubscribe(id);
    }
}

void RelayServer::defineOptions(Poco::Util::OptionSet& options)
{
    ServerApplication::defineOptions(options);
    using Poco::Util::Option;
    options.addOption(Option("help", "h", "Print this help and exit.").required(false).repeatable(false));
    options.addOption(Option("version", "v", "Print the version and exit.").required(false).repeatable(false));
    options.addOption(Option("config", "c", "Read the configuration from FILE (.properties).")
                          .required(false)
                          .repeatable(false)
                          .argument("FILE"));
    options.addOption(Option("define", "D", "Set a configuration key, overriding the file (repeatable; the "
                                            "last one wins).")
                          .required(false)
                          .repeatable(true)
                          .argument("key=value"));
    options.addOption(Option("check-config", "", "Validate the configuration, print \"configuration OK\" or the "
                                                 "error, and exit (0 or 78).")
                          .required(false)
                          .repeatable(false));
}

void RelayServer::handleOption(const std::string& name, const std::string& value)
{
    ServerApplication::handleOption(name, value);  // runs ServerApplication's callbacks (--daemon ...)
    if (name == "help") {
        _mode = Mode::Help;
        stopOptionsProcessing();
    } else if (name == "version") {
        _mode = Mode::Version;
        stopOptionsProcessing();
    } else if (name == "config") {
        _configFile = value;
    } else if (name == "define") {
        _overrides.push_back(value);
    } else if (name == "check-config") {
        _mode = Mode::CheckConfig;
    }
}

void RelayServer::initialize(Poco::Util::Application&)
{
    // Only the configuration here, no threads: main() decides whether to run at all (help,
    // version, a stray argument, a bad key) and then starts the subsystems itself.
    if (_mode == Mode::Help || _mode == Mode::Version) {
        return;
    }
    try {
        _config = loadConfig(_configFile, _overrides);
    } catch (const ConfigError& e) {
        _configError = e.what();
    }
}

void RelayServer::printHelp() const
{
    Poco::Util::HelpFormatter help(options());
    help.setCommand(commandName());
    help.setUsage("[--config FILE] [-D key=value]... [--check-config] [--daemon [--pidfile FILE]]");
    help.setHeader("Reads a NautilusTrader message bus from Redis Streams, routes every message, and reports its "
                   "state over REST (/status, /health/live, /health/ready, /metrics).");
    std::string footer = "Configuration keys (default):\n";
    for (const auto& spec : configSchema()) {
        footer += "  " + std::string(spec.key) + " (" +
                  (spec.defaultValue.empty() ? std::string("empty") : std::string(spec.defaultValue)) + ")  " +
                  std::string(spec.doc) + "\n";
    }
    footer += "  plugins.<name>.enabled (true), plugins.<name>.*  the plugin's own keys\n";
    footer += "See docs/configuration.md and etc/nautilus-relay.properties.";
    help.setFooter(footer);
    help.format(std::cout);
}

int RelayServer::main(const std::vector<std::string>& args)
{
    if (_mode == Mode::Help) {
        printHelp();
        return EXIT_OK;
    }
    if (_mode == Mode::Version) {
        std::cout << kServiceName << ' ' << kVersion << std::endl;
        return EXIT_OK;
    }
    if (!args.empty()) {
        std::cerr << "nautilus-relay: unexpected argument \"" << args.front() << "\" (see --help)" << std::endl;
        return EXIT_USAGE;
    }
    if (_configError) {
        std::cerr << *_configError << std::endl;
        return EXIT_CONFIG;
    }
    if (_mode == Mode::CheckConfig) {
        std::cout << "configuration OK" << std::endl;
        return EXIT_OK;
    }

    // Block the termination signals and SIGHUP before any thread exists, so every thread inherits
    // the mask and only the sigwait below receives them (otherwise a worker thread could take
    // SIGTERM's default action and kill the process without a shutdown).
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGQUIT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);  // a peer that vanished is an error return, not a death

    try {
        Logging::configure(_config.logging);
    } catch (const std::exception& e) {
        std::cerr << "config error: " << describeSetting("logging.file", _config.logging.file)
                  << ": cannot open the log file (" << e.what() << ")" << std::endl;
        return EXIT_CONFIG;
    }
    const auto log = Logging::get("relay");
    _startedNs = wallNowNs();
    const std::int64_t t0 = monoNowNs();
    log->info("{} {} starting: config {}, redis {} db {}, streams {}, start {}, http {}:{}, instance {}, state {}",
              kServiceName, kVersion, describeConfigFiles(_config.configFiles),
              _config.bus.redis.address(), _config.bus.redis.db, describeStreams(_config.bus),
              startName(_config.bus.start), _config.http.host, _config.http.port, _config.instanceId,
              _config.stateEnabled ? "in Redis under " + _config.state.prefix : std::string("disabled"));

    subscribeBuiltins();
    if (!loadPlugins()) {
        return EXIT_UNAVAILABLE;
    }
    try {
        ServerApplication::initialize(*this);  // the subsystems, in registration order
    } catch (const Poco::Exception& e) {
        log->critical("cannot start: {}", e.displayText());
        stopSubsystems();
        return EXIT_UNAVAILABLE;
    } catch (const std::exception& e) {
        log->critical("cannot start: {}", e.what());
        stopSubsystems();
        return EXIT_UNAVAILABLE;
    }
    _started = true;
    log->info("started in {} ms; REST on http://{}", (monoNowNs() - t0) / 1'000'000, _http->address());
    systemdNotify("READY=1");

    // ServerApplication::waitForTerminationRequest() does the same sigwait, without SIGHUP.
    for (;;) {
        int sig = 0;
        if (sigwait(&signals, &sig) != 0 || sig != SIGHUP) {
            break;
        }
        reload();
    }
    systemdNotify("STOPPING=1");
    log->info("termination requested, shutting down");
    return EXIT_OK;
}

void RelayServer::uninitialize()
{
    const std::int64_t t0 = monoNowNs();
    ServerApplication::uninitialize();  // the subsystems in reverse order: http, then bus
    stopSubsystems();                   // in case a start failed half-way
    if (_started) {
        Logging::get("relay")->info("stopped in {} ms", (monoNowNs() - t0) / 1'000'000);
    }
    Logging::flush();
}

void RelayServer::reload()
{
    const auto log = Logging::get("relay");
    systemdNotify("RELOADING=1");
    log->info("SIGHUP: reloading the configuration");
    RelayConfig next;
    try {
        next = loadConfig(_configFile, _overrides);
    } catch (const ConfigError& e) {
        log->error("reload failed, the running configuration stays: {}", e.what());
        systemdNotify("READY=1");
        return;
    }
    const ReloadPlan plan = planReload(_config, next);
    std::vector<std::string> restart = plan.restartRequired;
    if (plan.loggingLevel) {
        Logging::setDefaultLevel(*plan.loggingLevel);
        if (_messageLogger) {
            Logging::get("relay.messages")->set_level(spdlog::level::debug);  // as subscribeBuiltins() set it
        }
        adoptLiveKey(_config, next, "logging.level");
        log->info("logging.level is now {}", *plan.loggingLevel);
    }
    for (const auto& name : plan.pluginsToPause) {
        const PluginHost::CommandResult r = _plugins->pause(name);
        if (r.ok() || r.code == PluginHost::CommandResult::Code::NotFound) {  // not loaded: nothing to stop
            adoptLiveKey(_config, next, "plugins." + name + ".enabled");
            log->info("plugin {} disabled{}", name, r.ok() ? ": paused until it is enabled again" : "");
        } else {
            log->warn("plugin {} cannot be disabled now: {}", name, r.message);
            restart.push_back("plugins." + name + ".enabled");
        }
    }
    for (const auto& name : plan.pluginsToResume) {
        const PluginHost::CommandResult r = _plugins->resume(name);
        if (r.ok()) {
            adoptLiveKey(_config, next, "plugins." + name + ".enabled");
            log->info("plugin {} enabled: resumed", name);
        } else {
            // Not loaded at start-up (it was disabled then), or failed: loading needs a restart.
            restart.push_back("plugins." + name + ".enabled");
        }
    }
    if (!restart.empty()) {
        std::sort(restart.begin(), restart.end());
        std::string keys;
        for (const auto& k : restart) {
            keys += (keys.empty() ? "" : ", ") + k;
        }
        log->warn("restart required for {} (changed, but applied only at start-up)", keys);
    }
    log->info("configuration reloaded from {}{}", describeConfigFiles(next.configFiles),
              plan.empty() ? ": no change" : "");
    systemdNotify("READY=1");
}

void RelayServer::subscribeBuiltins()
{
    _routedCounter = std::make_unique<RoutedCounter>();
    _subscriptions.push_back(_router.subscribe("*", {}, _routedCounter.get()));
    if (!_config.logMessages.empty()) {
        // Asking for message logging means wanting to see it: relay.messages logs at debug
        // whatever logging.level says (PUT /admin/loggers/relay.messages changes it at run time).
        auto logger = Logging::get("relay.messages");
        logger->set_level(spdlog::level::debug);
        _messageLogger = std::make_unique<MessageLogger>(logger);
        for (const auto& pattern : _config.logMessages) {
            _subscriptions.push_back(_router.subscribe(pattern, {}, _messageLogger.get()));
        }
    }
}

bool RelayServer::loadPlugins()
{
    // Publications: the reader thread routes every bus message through PluginHost::route (see
    // BusSubsystem), and the host's publisher thread routes what plugins publish into the same
    // Router under the same lock, so Router::route stays single-threaded. That is the host's
    // default sink: no second queue or thread here.
    _plugins = std::make_unique<PluginHost>(_config.pluginHost, _router);
    const PluginHost::LoadReport report = _plugins->load();
    const auto log = Logging::get("relay");
    if (!report.requiredMissing.empty()) {
        std::string names;
        for (const auto& n : report.requiredMissing) {
            names += (names.empty() ? "" : ", ") + n;
        }
        log->critical("cannot start: required plugin(s) not running: {} (plugins.<name>.required = true; see the "
                      "refusal lines above)",
                      names);
        _plugins->shutdown();
        return false;
    }
    log->info("plugins: {} loaded, {} refused, {} disabled", report.loaded.size(), report.refused.size(),
              report.disabled.size());
    return true;
}

void RelayServer::stopSubsystems()
{
    if (_http != nullptr) {
        _http->stop();
    }
    if (_bus != nullptr) {
        _bus->stop();
    }
    // The bus reader has stopped: nothing feeds the plugins any more. Drain (bounded by
    // plugins.drain_timeout_ms), shutdown callbacks, dlclose.
    if (_plugins) {
        _plugins->shutdown();
    }
}

}  // namespace nautilus::relay

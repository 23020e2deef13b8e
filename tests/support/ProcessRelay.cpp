#include "support/ProcessRelay.h"

#include <Poco/JSON/Parser.h>

#include "support/RedisServer.h"

namespace nautilus::relay::test {

long reportedStopMs(const std::string& log)
{
    const std::string marker = "stopped in ";
    const auto at = log.rfind(marker);
    if (at == std::string::npos) {
        return -1;
    }
    try {
        return std::stol(log.substr(at + marker.size()));
    } catch (const std::exception&) {
        return -1;
    }
}

Poco::JSON::Object::Ptr parseJsonObject(const std::string& text)
{
    Poco::JSON::Parser parser;
    return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

RelayProcess::Settings RelayProcess::defaults(const RedisServer& redis, const Settings& overrides)
{
    const int httpPort = freeLoopbackPort();
    Settings s = {
        {"bus.redis.host", redis.host()},
        {"bus.redis.port", std::to_string(redis.port())},
        {"http.host", "127.0.0.1"},
        {"http.port", std::to_string(httpPort)},
        {"relay.instance_id", "it-" + std::to_string(httpPort)},
        {"bus.start", "checkpoint"},
        {"bus.start_fallback", "earliest"},
        {"bus.block_ms", "200"},
        {"bus.read_timeout_ms", "1000"},
        {"bus.discovery_interval_ms", "100"},
        {"bus.monitor_interval_ms", "200"},
        {"bus.backoff.initial_ms", "50"},
        {"bus.backoff.max_ms", "200"},
        {"state.refresh_ms", "200"},
        {"state.registry_ttl_ms", "2000"},
        {"state.checkpoint_interval_ms", "100"},
        {"plugins.dirs", ""},  // no plugins from this machine's install directories
    };
    for (const auto& [k, v] : overrides) {
        s[k] = v;
    }
    return s;
}

RelayProcess::RelayProcess(Settings settings, std::vector<std::string> extraArgs)
{
    _httpPort = std::stoi(settings.at("http.port"));
    _instanceId = settings.count("relay.instance_id") ? settings.at("relay.instance_id") : std::string();
    std::string text = "# written by the integration test\n";
    for (const auto& [k, v] : settings) {
        text += k + " = " + v + "\n";
    }
    _configFile = _dir.write("relay.properties", text);
    std::vector<std::string> args = {"--config", _configFile};
    args.insert(args.end(), extraArgs.begin(), extraArgs.end());
    _process = std::make_unique<Process>(relayBinary(), args);
}

RelayProcess::~RelayProcess() = default;

bool RelayProcess::waitUntilServing(std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (!_process->running()) {
            return false;
        }
        try {
            if (get("/health/live").status == 200) {
                return true;
            }
        } catch (const std::exception&) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
}

bool RelayProcess::waitUntilConnected(std::chrono::milliseconds timeout)
{
    const auto connected = [](const Poco::JSON::Object::Ptr& s) {
        const auto bus = s->getObject("bus");
        return bus && bus->getValue<std::string>("state") == "connected";
    };
    if (!waitUntilServing(timeout)) {
        return false;
    }
    return waitUntilStatus(connected, timeout);
}

Poco::JSON::Object::Ptr RelayProcess::status() const
{
    const HttpResult r = get("/status");
    if (r.status != 200) {
        return nullptr;
    }
    return parseJsonObject(r.body);
}

}  // namespace nautilus::relay::test

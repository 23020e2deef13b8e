#include "app/BusSubsystem.h"

#include <stdexcept>

#include "app/RelayServer.h"
#include "bus/StreamReader.h"
#include "common/Logging.h"
#include "common/Time.h"
#include "plugin/PluginHost.h"

namespace nautilus::relay {

BusSubsystem::BusSubsystem() = default;

BusSubsystem::~BusSubsystem()
{
    stop();
}

void BusSubsystem::initialize(Poco::Util::Application& app)
{
    auto& server = dynamic_cast<RelayServer&>(app);
    const RelayConfig& cfg = server.relayConfig();
    if (cfg.stateEnabled) {
        StateOptions options = cfg.state;
        options.startedAtNs = server.startedNs();
        // The reader exists before the store starts and is destroyed only after it stopped, so
        // these callbacks (run on the store's thread) always see a live reader.
        _state = std::make_unique<StateStore>(
            options, [this] { return _reader->snapshot(); }, [this] { return _reader->positions(); });
    }
    _reader = std::make_unique<StreamReader>(cfg.bus, server.router(), _state.get());
    if (PluginHost* plugins = server.plugins()) {
        // Router::route is single-threaded: the plugin host's publisher routes plugin
        // publications under a lock, so the reader must route through the host too.
        _reader->setRouteFunction([plugins](const Message& msg) { return plugins->route(msg); },
                                  [plugins] { plugins->endBatch(); });
    }
    if (_state) {
        _state->start();
    }
    _reader->start();
}

void BusSubsystem::uninitialize()
{
    stop();
}

void BusSubsystem::stop()
{
    const auto log = Logging::get("relay");
    if (_reader) {
        const std::int64_t t0 = monoNowNs();
        _reader->stop();
        log->debug("bus reader stopped in {} ms", (monoNowNs() - t0) / 1'000'000);
    }
    if (_state) {
        const std::int64_t t0 = monoNowNs();
        _state->stop();
        log->debug("state store stopped in {} ms (final checkpoints written)", (monoNowNs() - t0) / 1'000'000);
    }
    _state.reset();
    _reader.reset();
}

void BusSubsystem::setStateListener(std::function<void(BusState, const std::string&)> listener)
{
    if (_reader) {
        _reader->setStateListener(std::move(listener));
    }
}

BusSnapshot BusSubsystem::snapshot(bool withStreams) const
{
    return _reader ? _reader->snapshot(withStreams) : BusSnapshot{};
}

std::optional<StateHealth> BusSubsystem::stateHealth() const
{
    if (!_state) {
        return std::nullopt;
    }
    return _state->health();
}

std::vector<std::map<std::string, std::string>> BusSubsystem::clusterInstances()
{
    if (!_state) {
        throw std::runtime_error("state.enabled = false");
    }
    return _state->clusterInstances();
}

}  // namespace nautilus::relay

#pragma once
// The bus as a Poco subsystem: owns the StreamReader and, when state.enabled, the StateStore
// (the reader's CheckpointSource, which in turn checkpoints the reader's positions).
// initialize() starts the state store, then the reader; uninitialize()/stop() stops the reader,
// then the state store, so the final checkpoints hold every delivered position.
//
// Threads: initialize/uninitialize/stop on the application thread; snapshot(), stateHealth()
// and clusterInstances() from any thread while initialized (the HTTP subsystem stops first).
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <Poco/Util/Subsystem.h>

#include "bus/BusTypes.h"
#include "state/StateStore.h"

namespace nautilus::relay {

class StreamReader;

class BusSubsystem final : public Poco::Util::Subsystem {
public:
    BusSubsystem();
    const char* name() const override { return "bus"; }

    BusSnapshot snapshot(bool withStreams = true) const;
    bool stateEnabled() const { return _state != nullptr; }
    /// nullopt when state.enabled = false.
    std::optional<StateHealth> stateHealth() const;
    /// Throws when state is disabled or Redis fails.
    std::vector<std::map<std::string, std::string>> clusterInstances();

    /// Stops the reader, then the state store (final checkpoints). Idempotent.
    void stop();

    /// Called on the reader's thread after each bus state change (one listener; see StreamReader).
    void setStateListener(std::function<void(BusState, const std::string&)> listener);

protected:
    ~BusSubsystem() override;
    void initialize(Poco::Util::Application& app) override;
    void uninitialize() override;

private:
    std::unique_ptr<StateStore> _state;
    std::unique_ptr<StreamReader> _reader;
};

}  // namespace nautilus::relay

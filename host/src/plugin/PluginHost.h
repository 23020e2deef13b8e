#pragma once
// Every plugin of the relay: loads them (PluginLoader, per-plugin settings, init on each one's
// dispatch thread), refuses the bad ones with one log line each and goes on, supervises the
// rest (handler deadlines, automatic restarts), carries what they publish back onto the Router,
// and shuts them down (stop feeding, drain within a bound, shutdown(), dlclose).
//
// Owns: the PluginRuntimes (one per loaded plugin), the refusal list, a supervisor thread and a
// publisher thread (both started by load(), stopped by shutdown()).
// Threads: load() and shutdown() from the owner; snapshot/refusals/restart/pause/resume from any
// thread (REST). The Router must outlive the host, and no route() call may be running when the
// host is destroyed (stop the bus reader first).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/Message.h"
#include "plugin/PluginLoader.h"
#include "plugin/PluginRuntime.h"
#include "plugin/PluginOptions.h"
#include "router/Router.h"

namespace nautilus::relay {

class PluginHost final : private PublishTarget {
public:
    /// Receives each message a plugin publishes, on the publisher thread, one call at a time.
    using PublishSink = std::function<void(const Message&)>;

    struct LoadReport {
        std::vector<std::string> loaded;         ///< plugin names, in load order
        std::vector<std::string> disabled;       ///< plugins.<name>.enabled = false
        std::vector<PluginRefusal> refused;
        std::vector<std::string> requiredMissing;  ///< plugins.<name>.required = true but not running
    };

    struct CommandResult {
        enum class Code { Ok, NotFound, Rejected };
        Code code = Code::Ok;
        std::string message;  ///< why not, for NotFound and Rejected
        bool ok() const { return code == Code::Ok; }
    };

    /// sink: where published messages go. Empty: they are routed through router, under the
    /// lock that route() takes (see there).
    PluginHost(PluginHostOptions settings, Router& router, PublishSink sink = {});
    ~PluginHost();  ///< shutdown()
    PluginHost(const PluginHost&) = delete;
    PluginHost& operator=(const PluginHost&) = delete;

    /// Loads every candidate file (explicit files, then directories, in order), starts the
    /// supervisor and publisher threads. Call once. A refusal is logged and reported, never thrown.
    LoadReport load();

    /// Stops feeding every plugin, drains their queues (within drainTimeout in all), calls their
    /// shutdown() and closes their libraries. A plugin stuck in a callback is left running and its
    /// library loaded (logged). Idempotent; snapshots stay available (state "stopped").
    void shutdown();

    std::vector<PluginSnapshot> snapshot() const;
    std::optional<PluginSnapshot> snapshot(std::string_view name) const;
    std::vector<PluginRefusal> refusals() const;

    CommandResult restart(std::string_view name);
    CommandResult pause(std::string_view name);
    CommandResult resume(std::string_view name);

    /// Router::route() is single-threaded. With the default sink, the publisher thread routes
    /// published messages into the same Router, so any other thread that routes into it (the bus
    /// reader) must go through this function, which takes the same lock.
    std::size_t route(const Message& msg);
    /// Router::endBatch() under the same lock, after a group of route() calls.
    void endBatch();

    /// Published messages dropped because the publish queue was full or the host was stopping.
    std::uint64_t publishDropped() const { return _publishDropped.load(std::memory_order_relaxed); }

private:
    struct Published {
        std::string stream;
        std::string id;
        StreamId streamId;
        std::string topic;
        std::string type;
        std::string payload;
        std::int64_t receivedNs = 0;
    };

    nr_status publishFromPlugin(const std::string& plugin, std::string_view topic, std::string_view type,
                                std::string_view payload) noexcept override;
    void supervise();
    void publishLoop();
    void refuse(LoadReport& report, const std::string& path, const std::string& name, const std::string& reason);
    PluginRuntime* find(std::string_view name) const;
    std::vector<PluginRuntime*> runtimes() const;

    const PluginHostOptions _settings;
    Router& _router;
    PublishSink _sink;
    std::shared_ptr<spdlog::logger> _log;

    mutable std::mutex _mutex;  ///< _runtimes, _refusals
    std::vector<std::unique_ptr<PluginRuntime>> _runtimes;
    std::vector<PluginRefusal> _refusals;
    bool _loaded = false;
    bool _shutDown = false;
    int _collectorId = 0;

    std::mutex _routeMutex;  ///< serialises Router::route between route() and the publisher

    std::mutex _superviseMutex;
    std::condition_variable _superviseWake;
    bool _superviseStop = false;
    std::thread _supervisor;

    std::mutex _publishMutex;
    std::condition_variable _publishWake;
    std::deque<Published> _publishQueue;
    bool _publishStop = false;
    std::uint64_t _publishSeq = 0;
    std::thread _publisher;
    std::atomic<std::uint64_t> _publishDropped{0};
};

}  // namespace nautilus::relay

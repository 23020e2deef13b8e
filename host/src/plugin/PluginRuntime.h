#pragma once
// One loaded plugin and everything the host runs for it: its library, its subscriptions in the
// Router, a bounded queue and a dispatch thread of its own, the failure policy (error threshold,
// handler deadlines, restart with backoff), pause/resume, counters and metrics.
//
// Threads:
//  - the dispatch thread (one per plugin) runs every plugin callback: init(), handlers,
//    shutdown(), one at a time;
//  - the router's thread queues messages through the subscriptions (enqueue), and waits there
//    when the queue is full under the block policy;
//  - the PluginHost's supervisor thread calls supervise() (deadlines, automatic restarts);
//  - any thread may call pause/resume/restart/snapshot; start/stop come from the PluginHost.
// _mutex guards the queue and the state; _lifecycleMutex serialises changes to the Router
// subscriptions; counters are atomics, so the message path never waits on a status reader.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <spdlog/logger.h>

#include "common/Message.h"
#include "common/Metrics.h"
#include "common/SlotBatch.h"
#include "nautilus_relay/plugin.h"
#include "plugin/HostApi.h"
#include "plugin/PluginLoader.h"
#include "plugin/PluginOptions.h"
#include "router/Router.h"

namespace nautilus::relay {

/// Where the messages a plugin publishes go (the PluginHost). Must never block.
class PublishTarget {
public:
    virtual ~PublishTarget() = default;
    /// Arguments are already checked. Returns NR_OK (queued) or NR_ERR_UNAVAILABLE (dropped).
    virtual nr_status publishFromPlugin(const std::string& plugin, std::string_view topic, std::string_view type,
                                        std::string_view payload) noexcept = 0;
};

enum class PluginState : int {
    Starting,  ///< init() is running (first start or restart)
    Running,
    Paused,    ///< unsubscribed by an operator; what was queued is still handled
    Failed,    ///< unsubscribed after errors, a deadline or a failed init; may be restarted
    Stopped,   ///< shut down by the host
};
std::string_view toString(PluginState state);

/// A plugin as /status and GET /plugins/<name> show it.
struct PluginSnapshot {
    std::string name;
    std::string version;
    std::string abi;           ///< "1.0": the ABI the plugin was built for
    std::string path;
    std::string state;         ///< running | paused | failed (starting | stopped in passing)
    std::int64_t stateSinceNs = 0;
    std::uint64_t handled = 0;           ///< handler calls completed (errors included)
    std::uint64_t errors = 0;            ///< handler calls that returned an error or threw
    std::uint64_t consecutiveErrors = 0;
    std::uint64_t dropped = 0;           ///< not delivered: drop policy, or discarded on failure/stop
    std::uint64_t blocked = 0;           ///< times routing waited for queue room
    std::uint64_t slowHandlers = 0;      ///< calls past the warning deadline
    std::uint64_t restarts = 0;
    std::uint64_t published = 0;
    std::uint64_t publishRejected = 0;
    std::size_t queueDepth = 0;
    std::size_t queueCapacity = 0;
    std::string fullPolicy;              ///< block | drop
    std::uint64_t latencyCount = 0;
    double latencySumSeconds = 0;
    double latencyP50Seconds = 0;        ///< upper bucket bounds (Histogram::quantile)
    double latencyP99Seconds = 0;
    std::string lastError;               ///< empty when none
    std::int64_t lastErrorNs = 0;        ///< wall clock; 0 when none
    std::int64_t nextRestartInMs = -1;   ///< failed with a restart scheduled; -1 otherwise
    std::vector<std::string> subscriptions;  ///< "pattern" or "pattern [Type1,Type2]"
};

class PluginRuntime {
public:
    PluginRuntime(OpenedPlugin opened, PluginOptions settings, PluginProperties config, Router& router,
                  PublishTarget& publisher);
    /// Requires stop() to have returned true (or start() never called). A runtime whose stop()
    /// returned false must be leaked, never destroyed: its dispatch thread may still use it.
    ~PluginRuntime();
    PluginRuntime(const PluginRuntime&) = delete;
    PluginRuntime& operator=(const PluginRuntime&) = delete;

    /// Starts the dispatch thread and runs init() on it, waiting at most callbackTimeout.
    /// Returns an empty string when the plugin runs, else the reason (for the refusal line).
    std::string start();

    /// Unsubscribes and stops taking messages (releasing a router thread waiting for room).
    /// The first step of stop(); idempotent.
    void stopFeeding();
    /// Stops feeding the plugin, lets it handle what is queued for at most drainTimeout (the rest
    /// is dropped and counted), calls shutdown() and joins the dispatch thread; the whole call takes
    /// at most stopTimeout (shutdown() gets no more than callback_timeout_ms). Returns true when
    /// no plugin code can run any more (the library may be closed). Returns false when a callback
    /// is stuck: the thread is detached and the library leaked; the caller must leak this object.
    bool stop(std::chrono::milliseconds drainTimeout,
              std::chrono::milliseconds stopTimeout = std::chrono::milliseconds(86'400'000));

    /// Operator actions. Each returns an empty string on success, else why not.
    std::string pause();
    std::string resume();
    /// shutdown() + init() on the same loaded library, on the dispatch thread; waits at most
    /// callbackTimeout (plus the running handler, if any). Allowed in every state but stopped.
    std::string restart();

    /// Deadlines and automatic restarts; called by the supervisor every few milliseconds.
    void supervise(std::int64_t nowMonoNs);

    PluginSnapshot snapshot() const;
    const std::string& name() const noexcept { return _name; }
    const std::string& path() const noexcept { return _path; }
    PluginState state() const noexcept { return static_cast<PluginState>(_stateAtomic.load()); }
    const PluginOptions& settings() const noexcept { return _settings; }

    // --- called through HostApi, on behalf of the plugin; may throw (HostApi catches) ---
    void pluginLog(nr_log_level level, std::string_view text);
    nr_status pluginSubscribe(std::string_view pattern, std::string_view types, nr_handler_fn handler, void* state);
    nr_status pluginPublish(std::string_view topic, std::string_view type, std::string_view payload);
    const std::string* pluginConfig(std::string_view key) const;
    nr_status pluginCounterAdd(std::string_view name, std::uint64_t delta);
    nr_status pluginGaugeSet(std::string_view name, double value);
    void pluginSetError(std::string_view text);
    /// A host table function threw: a bug on the host side, logged.
    void internalError(const char* function, const char* text) noexcept;

private:
    struct Subscription;
    struct Item {
        OwnedMessage message;
        Subscription* sub = nullptr;
    };
    enum class Command { None, Init, Restart, Shutdown };

    void enqueue(Subscription& sub, const Message& msg) noexcept;
    void run();
    bool spinForWork(std::unique_lock<std::mutex>& lock);
    std::string execute(Command command);
    void deliver(SlotBatch<Item>& batch);
    static void releaseLargeSlots(SlotBatch<Item>& batch);
    void callHandler(Item& item);
    void handlerFailed(const Item& item, nr_status status, const std::string& thrown);
    std::string callInit(bool initial);
    void callShutdown();
    void markFailed(const std::string& reason);
    void syncSubscriptions();
    void setStateLocked(PluginState state);
    void scheduleRestartLocked(std::int64_t nowMono);
    std::string takeErrorText();
    std::uint64_t postLocked(Command command);
    std::string waitFor(std::uint64_t seq, std::chrono::milliseconds timeout, const char* what);
    void dropped(std::uint64_t n);
    void updateDepth();

    // Fixed after construction.
    std::unique_ptr<PluginLibrary> _library;
    const nr_plugin_info* _info;
    const std::string _name;
    const std::string _version;
    const std::string _path;
    const std::uint32_t _abiVersion;
    const PluginOptions _settings;
    const PluginProperties _config;
    const std::string _ownTopicPrefix;  ///< "plugin.<name>."
    Router& _router;
    PublishTarget& _publisher;
    nr_plugin _self;
    std::shared_ptr<spdlog::logger> _log;        ///< relay.plugin: the host's lines about plugins
    std::shared_ptr<spdlog::logger> _pluginLog;  ///< plugin.<name>: the plugin's own lines

    mutable std::mutex _mutex;
    std::condition_variable _wake;     ///< dispatch thread: messages or a command
    std::condition_variable _notFull;  ///< router thread: room in the queue (block policy)
    std::condition_variable _idle;     ///< callers: a command finished or the thread went idle
    SlotBatch<Item> _queue;
    PluginState _state = PluginState::Starting;
    std::int64_t _stateSinceNs = 0;
    Command _command = Command::None;
    std::uint64_t _commandSeq = 0;
    std::uint64_t _doneSeq = 0;
    std::string _commandResult;
    bool _workerWaiting = false;
    bool _workerBusy = false;
    bool _stopping = false;
    bool _restarting = false;
    bool _exit = false;
    bool _abandoned = false;  ///< start() gave up waiting for init()
    bool _initSucceeded = false;  ///< init() returned NR_OK; subscribing before the state shows running
    std::string _lastError;
    std::int64_t _lastErrorNs = 0;
    unsigned _restartAttempts = 0;
    std::int64_t _nextRestartMono = 0;  ///< 0: none scheduled
    std::int64_t _runningSinceMono = 0;
    // Every generation's subscriptions. Old ones are kept until destruction: the Router may still
    // call a subscriber briefly after unsubscribe() (its thread switches tables on its next
    // route()), so they must stay valid; a restart adds one object per subscription.
    std::vector<std::unique_ptr<Subscription>> _subs;

    std::mutex _lifecycleMutex;  ///< Router (un)subscribe, in syncSubscriptions only

    // Dispatch thread only.
    void* _pluginState = nullptr;
    bool _hasPluginState = false;
    std::int64_t _lastErrorLogMono = 0;
    std::uint64_t _suppressedErrorLogs = 0;
    std::thread _worker;

    std::mutex _errorTextMutex;
    std::string _errorText;  ///< set_error text of the current call

    // The message path reads these without the mutex.
    std::atomic<std::uint64_t> _generation{0};  ///< bumped by every init()
    std::atomic<bool> _accepting{false};         ///< enqueue takes messages
    std::atomic<bool> _discard{false};           ///< drain time is over: drop instead of handling
    std::atomic<bool> _inInit{false};
    std::atomic<bool> _errorTextSet{false};
    std::atomic<int> _stateAtomic{static_cast<int>(PluginState::Starting)};
    std::atomic<std::int64_t> _handlerStartNs{0};  ///< monotonic; 0 while no handler runs
    std::atomic<std::uint64_t> _callSeq{0};
    std::atomic<std::uint64_t> _warnedSeq{0};
    std::atomic<std::uint64_t> _failedSeq{0};
    std::atomic<std::size_t> _queued{0};
    std::atomic<std::size_t> _inBatch{0};
    std::atomic<std::uint64_t> _handled{0};
    std::atomic<std::uint64_t> _errors{0};
    std::atomic<std::uint64_t> _consecutiveErrors{0};
    std::atomic<std::uint64_t> _dropped{0};
    std::atomic<std::uint64_t> _blocked{0};
    std::atomic<std::uint64_t> _slowHandlers{0};
    std::atomic<std::uint64_t> _restarts{0};
    std::atomic<std::uint64_t> _published{0};
    std::atomic<std::uint64_t> _publishRejected{0};
    Histogram _latency;

    Counter& _mHandled;
    Counter& _mErrors;
    Counter& _mDropped;
    Counter& _mBlocked;
    Counter& _mSlow;
    Counter& _mRestarts;
    Counter& _mPublished;
    Gauge& _mDepth;
    Histogram& _mLatency;

    std::mutex _customMutex;
    std::map<std::string, Counter*, std::less<>> _customCounters;
    std::map<std::string, Gauge*, std::less<>> _customGauges;
};

}  // namespace nautilus::relay

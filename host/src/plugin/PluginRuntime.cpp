#include "plugin/PluginRuntime.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "common/Logging.h"
#include "common/Text.h"
#include "common/ThreadName.h"
#include "common/Time.h"
#include "decoder/JsonValidator.h"

namespace nautilus::relay {

namespace {

constexpr std::size_t kMaxSubscriptions = 256;
constexpr std::size_t kMaxPatternBytes = 1024;
constexpr std::size_t kMaxTopicBytes = 1024;
constexpr std::size_t kMaxTypeBytes = 256;
constexpr std::size_t kMaxErrorTextBytes = 1024;
constexpr std::size_t kMaxMetricNameBytes = 64;
constexpr std::int64_t kSpinBeforeSleepNs = 50'000;

std::int64_t toNs(std::chrono::milliseconds ms)
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(ms).count();
}

bool hasControl(std::string_view s)
{
    return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

bool isMetricName(std::string_view s)
{
    if (s.empty() || s.size() > kMaxMetricNameBytes || (s.front() >= '0' && s.front() <= '9')) {
        return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

std::string label(const std::string& name)
{
    return "plugin=\"" + PromWriter::escapeLabel(name) + "\"";
}

spdlog::level::level_enum toSpdlog(nr_log_level level)
{
    switch (level) {
    case NR_LOG_DEBUG: return spdlog::level::debug;
    case NR_LOG_WARN: return spdlog::level::warn;
    case NR_LOG_ERROR: return spdlog::level::err;
    default: return spdlog::level::info;
    }
}

}  // namespace

std::string_view toString(PluginState state)
{
    switch (state) {
    case PluginState::Starting: return "starting";
    case PluginState::Running: return "running";
    case PluginState::Paused: return "paused";
    case PluginState::Failed: return "failed";
    case PluginState::Stopped: return "stopped";
    }
    return "failed";
}

/// One subscription of one init() generation: what the Router calls.
struct PluginRuntime::Subscription final : Subscriber {
    Subscription(PluginRuntime& rt, std::string p, std::vector<std::string> t, std::string tt, nr_handler_fn h,
                 void* s, std::uint64_t g)
        : runtime(rt), pattern(std::move(p)), types(std::move(t)), typesText(std::move(tt)), handler(h), state(s),
          generation(g)
    {
    }
    void onMessage(const Message& msg) noexcept override { runtime.enqueue(*this, msg); }

    PluginRuntime& runtime;
    const std::string pattern;
    const std::vector<std::string> types;
    const std::string typesText;
    const nr_handler_fn handler;
    void* const state;
    const std::uint64_t generation;
    // Guarded by _lifecycleMutex.
    Router::SubscriptionId routerId = 0;
    bool registered = false;
};

PluginRuntime::PluginRuntime(OpenedPlugin opened, PluginOptions settings, PluginProperties config, Router& router,
                             PublishTarget& publisher)
    : _library(std::move(opened.library)),
      _info(opened.info),
      _name(std::move(opened.name)),
      _version(std::move(opened.version)),
      _path(_library ? _library->path() : std::string()),
      _abiVersion(opened.abiVersion),
      _settings(std::move(settings)),
      _config(std::move(config)),
      _ownTopicPrefix("plugin." + _name + "."),
      _router(router),
      _publisher(publisher),
      _self{this},
      _log(Logging::get("relay.plugin")),
      _pluginLog(Logging::get("plugin." + _name)),
      _stateSinceNs(wallNowNs()),
      _mHandled(MetricsRegistry::global().counter("nautilus_relay_plugin_handled_total",
                                                  "Messages handled by a plugin (errors included)", label(_name))),
      _mErrors(MetricsRegistry::global().counter("nautilus_relay_plugin_errors_total",
                                                 "Plugin handler calls that returned an error or threw", label(_name))),
      _mDropped(MetricsRegistry::global().counter(
          "nautilus_relay_plugin_dropped_total",
          "Messages not delivered to a plugin: queue full under the drop policy, or discarded when it failed or stopped",
          label(_name))),
      _mBlocked(MetricsRegistry::global().counter("nautilus_relay_plugin_blocked_total",
                                                  "Times routing waited for room in a plugin's queue (backpressure)",
                                                  label(_name))),
      _mSlow(MetricsRegistry::global().counter("nautilus_relay_plugin_slow_handlers_total",
                                               "Plugin handler calls that ran past the warning deadline", label(_name))),
      _mRestarts(MetricsRegistry::global().counter("nautilus_relay_plugin_restarts_total",
                                                   "Plugin restarts, automatic and manual", label(_name))),
      _mPublished(MetricsRegistry::global().counter("nautilus_relay_plugin_published_total",
                                                    "Messages a plugin published", label(_name))),
      _mDepth(MetricsRegistry::global().gauge("nautilus_relay_plugin_queue_depth",
                                              "Messages waiting in a plugin's queue", label(_name))),
      _mLatency(MetricsRegistry::global().histogram("nautilus_relay_plugin_handler_seconds",
                                                    "Time a plugin's handler took per message", label(_name)))
{
}

PluginRuntime::~PluginRuntime()
{
    if (_worker.joinable()) {
        // stop() was not called: do it now, with no drain time.
        if (!stop(std::chrono::milliseconds(0))) {
            std::terminate();  // a stuck plugin thread would use this object after it is freed
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Message path

void PluginRuntime::enqueue(Subscription& sub, const Message& msg) noexcept
{
    if (!_accepting.load(std::memory_order_acquire) || sub.generation != _generation.load(std::memory_order_acquire)) {
        return;  // a stale table in the Router still points here; the plugin is not taking messages
    }
    // A plugin never receives what it published itself: that would loop.
    if (msg.topic.size() > _ownTopicPrefix.size() && msg.topic.compare(0, _ownTopicPrefix.size(), _ownTopicPrefix) == 0) {
        return;
    }
    try {
        std::unique_lock lock(_mutex);
        if (_queue.size() >= _settings.queueCapacity) {
            if (_settings.fullPolicy == QueueFullPolicy::Drop) {
                lock.unlock();
                dropped(1);
                return;
            }
            // The reader is about to wait for this plugin: what other subscribers hold for this
            // batch (WebSocket clients) goes out first.
            lock.unlock();
            Router::aboutToWait();
            lock.lock();
            if (_queue.size() >= _settings.queueCapacity) {
                _blocked.fetch_add(1, std::memory_order_relaxed);
                _mBlocked.inc();
                _notFull.wait(lock, [this] {
                    return _queue.size() < _settings.queueCapacity || !_accepting.load(std::memory_order_relaxed);
                });
            }
        }
        // Checked again under the lock: a restart may have completed since the check above, and a
        // message for the previous generation's subscription must not reach the new one.
        if (!_accepting.load(std::memory_order_relaxed) || sub.generation != _generation.load()) {
            return;
        }
        // Copied into a recycled slot: its storage usually has the capacity already, so the steady
        // state allocates nothing per message (measured in bench/plugin_dispatch_bench).
        Item& slot = _queue.push();
        try {
            slot.message.assign(msg);
        } catch (...) {
            _queue.unpush();
            throw;
        }
        slot.sub = &sub;
        _queued.store(_queue.size(), std::memory_order_relaxed);
        const bool wake = _workerWaiting;
        lock.unlock();
        updateDepth();
        if (wake) {
            _wake.notify_one();
        }
    } catch (const std::exception& e) {
        dropped(1);
        _log->error("plugin {}: cannot queue message {} {}: {}", _name, msg.stream, msg.id, e.what());
    }
}

void PluginRuntime::dropped(std::uint64_t n)
{
    if (n != 0) {
        _dropped.fetch_add(n, std::memory_order_relaxed);
        _mDropped.inc(n);
    }
}

void PluginRuntime::updateDepth()
{
    _mDepth.set(static_cast<double>(_queued.load(std::memory_order_relaxed) + _inBatch.load(std::memory_order_relaxed)));
}

void PluginRuntime::run()
{
    SlotBatch<Item> batch;
    std::unique_lock lock(_mutex);
    for (;;) {
        if (_command == Command::None && _queue.empty()) {
            _workerBusy = false;
            _idle.notify_all();
            if (_exit) {
                return;
            }
            if (spinForWork(lock)) {
                continue;
            }
            _workerWaiting = true;
            _wake.wait(lock, [this] { return _command != Command::None || !_queue.empty() || _exit; });
            _workerWaiting = false;
            continue;
        }
        _workerBusy = true;
        if (_command != Command::None) {
            const Command command = std::exchange(_command, Command::None);
            const std::uint64_t seq = _commandSeq;
            lock.unlock();
            std::string result = execute(command);
            lock.lock();
            _commandResult = std::move(result);
            _doneSeq = seq;
            _idle.notify_all();
            continue;
        }
        // Take everything queued at once: one lock round trip per batch, not per message.
        batch.swap(_queue);
        _inBatch.store(batch.size(), std::memory_order_relaxed);
        _queued.store(0, std::memory_order_relaxed);
        lock.unlock();
        _notFull.notify_all();
        deliver(batch);
        releaseLargeSlots(batch);
        batch.clear();
        updateDepth();
        lock.lock();
    }
}

bool PluginRuntime::spinForWork(std::unique_lock<std::mutex>& lock)
{
    // Under a steady flow, the next message usually arrives within microseconds. Polling for it
    // briefly, without the lock, spares the router thread a futex wake-up per message (the bulk
    // of the dispatch cost when the plugin keeps up); a command still arrives through the
    // condition variable, which is re-checked under the lock before sleeping.
    lock.unlock();
    const std::int64_t until = monoNowNs() + kSpinBeforeSleepNs;
    bool work = false;
    while (!(work = _queued.load(std::memory_order_relaxed) != 0) && monoNowNs() < until) {
        std::this_thread::yield();
    }
    lock.lock();
    return work;
}

void PluginRuntime::releaseLargeSlots(SlotBatch<Item>& batch)
{
    // A slot keeps its storage for the next message; one huge message must not pin its size.
    constexpr std::size_t kKeepBytes = 64 * 1024;
    for (Item& item : batch) {
        if (item.message.capacity() > kKeepBytes) {
            item.message = OwnedMessage();
        }
    }
}

void PluginRuntime::deliver(SlotBatch<Item>& batch)
{
    for (auto& item : batch) {
        const auto state = static_cast<PluginState>(_stateAtomic.load(std::memory_order_acquire));
        const bool deliverable = (state == PluginState::Running || state == PluginState::Paused) &&
                                 !_discard.load(std::memory_order_relaxed) &&
                                 item.sub->generation == _generation.load(std::memory_order_acquire);
        if (deliverable) {
            callHandler(item);
        } else {
            dropped(1);
        }
        _inBatch.fetch_sub(1, std::memory_order_relaxed);
    }
}

void PluginRuntime::callHandler(Item& item)
{
    const Message& msg = item.message.view();
    nr_message handle{&msg};
    const std::uint64_t seq = _callSeq.fetch_add(1) + 1;
    const std::int64_t start = monoNowNs();
    _handlerStartNs.store(start);
    nr_status status = NR_ERR_INTERNAL;
    std::string thrown;
    try {
        status = item.sub->handler(item.sub->state, &handle);
    } catch (const std::exception& e) {
        thrown = e.what();  // a C++ plugin that does not use plugin.hpp: last line of defence
    } catch (...) {
        thrown = "unknown exception";
    }
    const std::int64_t end = monoNowNs();
    _handlerStartNs.store(0);
    const std::int64_t took = end - start;
    _latency.observeNs(took);
    _mLatency.observeNs(took);
    _handled.fetch_add(1, std::memory_order_relaxed);
    _mHandled.inc();

    if (took > toNs(_settings.handlerWarn) && _warnedSeq.exchange(seq) != seq) {
        _slowHandlers.fetch_add(1, std::memory_order_relaxed);
        _mSlow.inc();
        _log->warn("plugin {}: handler took {} ms on {} {} ({}), over the {} ms deadline", _name, took / 1'000'000,
                   msg.stream, msg.id, msg.topic, _settings.handlerWarn.count());
    }
    if (_failedSeq.load() == seq) {
        takeErrorText();
        return;  // the supervisor failed the plugin while this call ran; its result no longer matters
    }
    if (status == NR_OK && thrown.empty()) {
        if (_errorTextSet.load(std::memory_order_relaxed)) {
            takeErrorText();
        }
        _consecutiveErrors.store(0, std::memory_order_relaxed);
        return;
    }
    handlerFailed(item, status, thrown);
}

void PluginRuntime::handlerFailed(const Item& item, nr_status status, const std::string& thrown)
{
    const Message& msg = item.message.view();
    _errors.fetch_add(1, std::memory_order_relaxed);
    _mErrors.inc();
    const std::uint64_t consecutive = _consecutiveErrors.fetch_add(1, std::memory_order_relaxed) + 1;
    std::string detail = thrown.empty() ? HostApi::statusName(status) : "exception escaped the C ABI";
    const std::string text = thrown.empty() ? takeErrorText() : thrown;
    if (!text.empty()) {
        detail += ": " + text;
    }
    const std::int64_t now = wallNowNs();
    {
        std::lock_guard lock(_mutex);
        _lastError = "handler failed on " + std::string(msg.stream) + " " + std::string(msg.id) + ": " + detail;
        _lastErrorNs = now;
    }
    // Rate limited: a plugin failing on every message must not flood the log.
    const std::int64_t mono = monoNowNs();
    if (_lastErrorLogMono == 0 || mono - _lastErrorLogMono >= toNs(_settings.errorLogInterval)) {
        if (_suppressedErrorLogs != 0) {
            _log->warn("plugin {}: handler failed on {} {} ({}): {} ({} more failures since the last report)", _name,
                       msg.stream, msg.id, msg.topic, detail, _suppressedErrorLogs);
        } else {
            _log->warn("plugin {}: handler failed on {} {} ({}): {}", _name, msg.stream, msg.id, msg.topic, detail);
        }
        _lastErrorLogMono = mono;
        _suppressedErrorLogs = 0;
    } else {
        ++_suppressedErrorLogs;
    }
    if (_settings.failureThreshold != 0 && consecutive >= _settings.failureThreshold) {
        markFailed(std::to_string(consecutive) + " consecutive handler failures, last: " + detail);
    }
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

std::uint64_t PluginRuntime::postLocked(Command command)
{
    _command = command;
    ++_commandSeq;
    _wake.notify_one();
    return _commandSeq;
}

std::string PluginRuntime::waitFor(std::uint64_t seq, std::chrono::milliseconds timeout, const char* what)
{
    std::unique_lock lock(_mutex);
    if (!_idle.wait_for(lock, timeout, [&] { return _doneSeq >= seq; })) {
        return std::string(what) + " did not return within " + std::to_string(timeout.count()) + " ms";
    }
    if (_doneSeq == seq) {
        return _commandResult;
    }
    // A later command finished too (e.g. stop() replaced this one): report the state it left.
    return _state == PluginState::Running ? std::string() : "plugin is " + std::string(toString(_state));
}

std::string PluginRuntime::start()
{
    std::uint64_t seq = 0;
    {
        std::lock_guard lock(_mutex);
        seq = postLocked(Command::Init);
    }
    _worker = std::thread([this] {
        nameThisThread("plugin-" + _name);
        run();
    });
    std::string result = waitFor(seq, _settings.callbackTimeout, "init()");
    std::lock_guard lock(_mutex);
    if (_doneSeq < seq) {
        _abandoned = true;  // if init() ever returns, the plugin is shut down, not started
    }
    return result;
}

std::string PluginRuntime::execute(Command command)
{
    switch (command) {
    case Command::Init: return callInit(true);
    case Command::Restart: {
        _restarts.fetch_add(1, std::memory_order_relaxed);
        _mRestarts.inc();
        {
            std::lock_guard lock(_mutex);
            _restarting = true;
            _accepting.store(false);
        }
        syncSubscriptions();
        _notFull.notify_all();
        // Handle what was queued before the restart (discarded if the plugin had failed), so a
        // manual restart under the block policy loses nothing.
        for (;;) {
            SlotBatch<Item> rest;
            {
                std::lock_guard lock(_mutex);
                rest.swap(_queue);
                _inBatch.store(rest.size(), std::memory_order_relaxed);
                _queued.store(0, std::memory_order_relaxed);
            }
            if (rest.empty()) {
                break;
            }
            deliver(rest);
        }
        callShutdown();
        {
            std::lock_guard lock(_mutex);
            _restarting = false;
        }
        std::string result = callInit(false);
        if (result.empty()) {
            _log->info("plugin {} restarted", _name);
        }
        return result;
    }
    case Command::Shutdown:
        callShutdown();
        {
            std::lock_guard lock(_mutex);
            setStateLocked(PluginState::Stopped);
        }
        return {};
    case Command::None: break;
    }
    return {};
}

std::string PluginRuntime::callInit(bool initial)
{
    {
        std::lock_guard lock(_mutex);
        _generation.fetch_add(1);
        setStateLocked(PluginState::Starting);
    }
    takeErrorText();
    void* state = nullptr;
    nr_status status = NR_ERR_INTERNAL;
    std::string thrown;
    _inInit.store(true);
    try {
        status = _info->init(&_self, &HostApi::table(), &state);
    } catch (const std::exception& e) {
        thrown = e.what();
    } catch (...) {
        thrown = "unknown exception";
    }
    _inInit.store(false);
    std::string text = thrown.empty() ? takeErrorText() : thrown;

    std::string reason;
    if (status == NR_OK && thrown.empty()) {
        bool abandoned = false;
        {
            std::lock_guard lock(_mutex);
            abandoned = _abandoned || _stopping;
            if (!abandoned) {
                _pluginState = state;
                _hasPluginState = true;
                _consecutiveErrors.store(0);
                _runningSinceMono = monoNowNs();
                _nextRestartMono = 0;
                _initSucceeded = true;
                _accepting.store(true);
            }
        }
        if (!abandoned) {
            // Subscribe first, then show "running": whoever sees the state can rely on routing.
            syncSubscriptions();
            std::lock_guard lock(_mutex);
            _initSucceeded = false;
            setStateLocked(PluginState::Running);
            return {};
        }
        reason = "init() returned after the host stopped waiting for it";
    } else {
        reason = thrown.empty() ? "init failed with " + HostApi::statusName(status) : "init threw an exception";
        if (!text.empty()) {
            reason += ": " + text;
        }
    }
    // The plugin did not start: give back what init() allocated, then it is failed.
    if (state != nullptr && _info->shutdown != nullptr) {
        try {
            _info->shutdown(state);
        } catch (...) {
            _log->error("plugin {}: shutdown() threw after a failed init()", _name);
        }
    }
    {
        std::lock_guard lock(_mutex);
        setStateLocked(PluginState::Failed);
        _lastError = reason;
        _lastErrorNs = wallNowNs();
        if (!initial) {
            scheduleRestartLocked(monoNowNs());
        }
    }
    if (!initial) {
        _log->error("plugin {}: restart failed: {}", _name, reason);
    }
    return reason;
}

void PluginRuntime::callShutdown()
{
    if (!_hasPluginState) {
        return;
    }
    _hasPluginState = false;
    if (_info->shutdown == nullptr) {
        return;
    }
    try {
        _info->shutdown(std::exchange(_pluginState, nullptr));
    } catch (const std::exception& e) {
        _log->error("plugin {}: shutdown() threw: {}", _name, e.what());
    } catch (...) {
        _log->error("plugin {}: shutdown() threw", _name);
    }
}

void PluginRuntime::markFailed(const std::string& reason)
{
    std::size_t discarded = 0;
    std::int64_t delayMs = -1;
    {
        std::lock_guard lock(_mutex);
        if (_state != PluginState::Running && _state != PluginState::Paused) {
            return;
        }
        setStateLocked(PluginState::Failed);
        _lastError = reason;
        _lastErrorNs = wallNowNs();
        discarded = _queue.size();
        _queue.clear();
        _queued.store(0, std::memory_order_relaxed);
        const std::int64_t now = monoNowNs();
        if (now - _runningSinceMono > toNs(_settings.restartBackoffMax)) {
            _restartAttempts = 0;  // it ran well for a while: start the backoff again
        }
        scheduleRestartLocked(now);
        if (_nextRestartMono != 0) {
            delayMs = (_nextRestartMono - now) / 1'000'000;
        }
    }
    // Unsubscribe before releasing a router thread waiting for room: once it returns, its next
    // route() must already see the plugin gone.
    syncSubscriptions();
    _notFull.notify_all();
    dropped(discarded);
    updateDepth();
    if (delayMs >= 0) {
        _log->error("plugin {} failed: {}; restarting in {} ms", _name, reason, delayMs);
    } else {
        _log->error("plugin {} failed: {}; automatic restart is off", _name, reason);
    }
}

void PluginRuntime::scheduleRestartLocked(std::int64_t nowMono)
{
    if (!_settings.autoRestart || _stopping) {
        _nextRestartMono = 0;
        return;
    }
    std::int64_t delay = toNs(_settings.restartBackoff);
    const std::int64_t max = toNs(_settings.restartBackoffMax);
    for (unsigned i = 0; i < _restartAttempts && delay < max; ++i) {
        delay *= 2;
    }
    _restartAttempts = std::min(_restartAttempts + 1, 62u);
    _nextRestartMono = nowMono + std::min(delay, max);
}

void PluginRuntime::setStateLocked(PluginState state)
{
    _state = state;
    _stateAtomic.store(static_cast<int>(state), std::memory_order_release);
    _stateSinceNs = wallNowNs();
    const bool accepting = (state == PluginState::Running || state == PluginState::Paused) && !_stopping && !_restarting;
    _accepting.store(accepting, std::memory_order_release);
}

void PluginRuntime::syncSubscriptions()
{
    // Reads the latest state under _lifecycleMutex, so whichever transition comes last also has
    // the last word on what is registered in the Router.
    std::lock_guard life(_lifecycleMutex);
    bool want = false;
    std::uint64_t generation = 0;
    std::vector<Subscription*> subs;
    {
        std::lock_guard lock(_mutex);
        want = (_state == PluginState::Running || (_state == PluginState::Starting && _initSucceeded)) && !_stopping &&
               !_restarting;
        generation = _generation.load();
        subs.reserve(_subs.size());
        for (const auto& s : _subs) {
            subs.push_back(s.get());
        }
    }
    for (Subscription* s : subs) {
        const bool keep = want && s->generation == generation;
        if (s->registered && !keep) {
            _router.unsubscribe(s->routerId);
            s->registered = false;
        } else if (!s->registered && keep) {
            s->routerId = _router.subscribe(s->pattern, s->types, s);
            s->registered = true;
        }
    }
}

void PluginRuntime::stopFeeding()
{
    {
        std::lock_guard lock(_mutex);
        if (_stopping) {
            return;
        }
        _stopping = true;
        _accepting.store(false);
        _nextRestartMono = 0;
    }
    syncSubscriptions();
    _notFull.notify_all();
}

bool PluginRuntime::stop(std::chrono::milliseconds drainTimeout, std::chrono::milliseconds stopTimeout)
{
    if (!_worker.joinable()) {
        return true;
    }
    const auto started = std::chrono::steady_clock::now();
    drainTimeout = std::min(drainTimeout, stopTimeout);
    stopFeeding();

    std::uint64_t seq = 0;
    {
        std::unique_lock lock(_mutex);
        const bool drained = _idle.wait_for(lock, drainTimeout, [this] {
            return _queue.empty() && !_workerBusy && _command == Command::None;
        });
        if (!drained) {
            _discard.store(true);  // what is still queued is dropped once the current call returns
            const std::size_t running = _handlerStartNs.load() != 0 ? 1 : 0;  // counted in _inBatch
            const std::size_t waiting = _queue.size() + _inBatch.load();
            if (const std::size_t left = waiting > running ? waiting - running : 0; left != 0) {
                _log->warn("plugin {}: queue not drained within {} ms; dropping {} messages", _name,
                           drainTimeout.count(), left);
            }
        }
        seq = postLocked(Command::Shutdown);  // replaces a pending automatic restart
        _exit = true;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::max(std::chrono::steady_clock::duration::zero(), stopTimeout - (std::chrono::steady_clock::now() - started)));
    std::string result = waitFor(seq, std::min(left, _settings.callbackTimeout), "shutdown()");
    if (const std::int64_t since = _handlerStartNs.load(); !result.empty() && since != 0) {
        result = "a handler call has not returned for " + std::to_string((monoNowNs() - since) / 1'000'000) +
                 " ms, so shutdown() was not called";
    }
    bool done = false;
    {
        std::lock_guard lock(_mutex);
        done = _doneSeq >= seq;
    }
    if (done) {
        _worker.join();
        return true;
    }
    // Plugin code is still running on the dispatch thread: unmapping the library or freeing this
    // object would crash it. Leave both to the end of the process.
    _worker.detach();
    _library->leak();
    _log->error("plugin {}: {}; its thread keeps running and the library stays loaded", _name, result);
    return false;
}

std::string PluginRuntime::pause()
{
    {
        std::lock_guard lock(_mutex);
        if (_stopping) {
            return "plugin is stopping";
        }
        if (_state == PluginState::Paused) {
            return {};
        }
        if (_state != PluginState::Running) {
            return "cannot pause a plugin that is " + std::string(toString(_state));
        }
        setStateLocked(PluginState::Paused);
    }
    syncSubscriptions();
    _log->info("plugin {} paused", _name);
    return {};
}

std::string PluginRuntime::resume()
{
    {
        std::lock_guard lock(_mutex);
        if (_stopping) {
            return "plugin is stopping";
        }
        if (_state == PluginState::Running) {
            return {};
        }
        if (_state != PluginState::Paused) {
            return "cannot resume a plugin that is " + std::string(toString(_state)) + " (restart it)";
        }
        setStateLocked(PluginState::Running);
    }
    syncSubscriptions();
    _log->info("plugin {} resumed", _name);
    return {};
}

std::string PluginRuntime::restart()
{
    std::uint64_t seq = 0;
    std::int64_t busyMs = -1;
    {
        std::lock_guard lock(_mutex);
        if (_stopping || _state == PluginState::Stopped) {
            return "plugin is stopped";
        }
        if (_command == Command::Restart) {
            return "a restart is already pending";
        }
        if (_command != Command::None) {
            return "plugin is busy";
        }
        _restartAttempts = 0;
        seq = postLocked(Command::Restart);
        const std::int64_t start = _handlerStartNs.load();
        if (start != 0) {
            busyMs = (monoNowNs() - start) / 1'000'000;
        }
    }
    _log->info("plugin {}: restart requested", _name);
    std::string result = waitFor(seq, _settings.callbackTimeout, "restart");
    if (!result.empty() && busyMs >= 0) {
        result += " (a handler had been running for " + std::to_string(busyMs) + " ms when it was asked)";
    }
    return result;
}

void PluginRuntime::supervise(std::int64_t nowMonoNs)
{
    // Read the call number on both sides of the start time: if it changed, the handler seen is
    // not the one measured, so skip this round.
    const std::uint64_t seq = _callSeq.load();
    const std::int64_t start = _handlerStartNs.load();
    if (start != 0 && _callSeq.load() == seq) {
        const std::int64_t elapsed = nowMonoNs - start;
        if (elapsed > toNs(_settings.handlerWarn) && _warnedSeq.exchange(seq) != seq) {
            _slowHandlers.fetch_add(1, std::memory_order_relaxed);
            _mSlow.inc();
            _log->warn("plugin {}: handler running for {} ms, over the {} ms deadline", _name, elapsed / 1'000'000,
                       _settings.handlerWarn.count());
        }
        if (_settings.handlerFail.count() != 0 && elapsed > toNs(_settings.handlerFail) &&
            _failedSeq.exchange(seq) != seq) {
            markFailed("handler did not return within " + std::to_string(_settings.handlerFail.count()) + " ms");
        }
    }
    std::lock_guard lock(_mutex);
    if (_state == PluginState::Failed && !_stopping && _command == Command::None && _nextRestartMono != 0 &&
        nowMonoNs >= _nextRestartMono && _handlerStartNs.load() == 0) {
        _nextRestartMono = 0;
        postLocked(Command::Restart);
        _log->info("plugin {}: automatic restart (attempt {})", _name, _restartAttempts);
    }
}

PluginSnapshot PluginRuntime::snapshot() const
{
    PluginSnapshot s;
    s.name = _name;
    s.version = _version;
    s.abi = PluginLoader::abiText(_abiVersion);
    s.path = _path;
    s.handled = _handled.load(std::memory_order_relaxed);
    s.errors = _errors.load(std::memory_order_relaxed);
    s.consecutiveErrors = _consecutiveErrors.load(std::memory_order_relaxed);
    s.dropped = _dropped.load(std::memory_order_relaxed);
    s.blocked = _blocked.load(std::memory_order_relaxed);
    s.slowHandlers = _slowHandlers.load(std::memory_order_relaxed);
    s.restarts = _restarts.load(std::memory_order_relaxed);
    s.published = _published.load(std::memory_order_relaxed);
    s.publishRejected = _publishRejected.load(std::memory_order_relaxed);
    s.queueDepth = _queued.load(std::memory_order_relaxed) + _inBatch.load(std::memory_order_relaxed);
    s.queueCapacity = _settings.queueCapacity;
    s.fullPolicy = std::string(toString(_settings.fullPolicy));
    s.latencyCount = _latency.count();
    s.latencySumSeconds = _latency.sumSeconds();
    s.latencyP50Seconds = _latency.quantile(0.5);
    s.latencyP99Seconds = _latency.quantile(0.99);
    std::lock_guard lock(_mutex);
    s.state = std::string(toString(_state));
    s.stateSinceNs = _stateSinceNs;
    s.lastError = _lastError;
    s.lastErrorNs = _lastErrorNs;
    if (_state == PluginState::Failed && _nextRestartMono != 0) {
        s.nextRestartInMs = std::max<std::int64_t>(0, (_nextRestartMono - monoNowNs()) / 1'000'000);
    }
    const std::uint64_t generation = _generation.load();
    for (const auto& sub : _subs) {
        if (sub->generation == generation) {
            s.subscriptions.push_back(sub->typesText.empty() ? sub->pattern : sub->pattern + " [" + sub->typesText + "]");
        }
    }
    return s;
}

// ---------------------------------------------------------------------------------------------
// Host services, on behalf of the plugin

void PluginRuntime::pluginLog(nr_log_level level, std::string_view text)
{
    _pluginLog->log(toSpdlog(level), "{}", text);
}

nr_status PluginRuntime::pluginSubscribe(std::string_view pattern, std::string_view types, nr_handler_fn handler,
                                         void* state)
{
    if (!_inInit.load()) {
        return NR_ERR_UNSUPPORTED;
    }
    if (handler == nullptr || pattern.empty() || pattern.size() > kMaxPatternBytes || hasControl(pattern)) {
        return NR_ERR_INVALID_ARGUMENT;
    }
    std::vector<std::string> typeList;
    std::string typesText;
    for (std::string_view rest = types; !rest.empty();) {
        const auto comma = rest.find(',');
        const std::string_view item = trimBlanks(rest.substr(0, comma));
        if (item.size() > kMaxTypeBytes || hasControl(item)) {
            return NR_ERR_INVALID_ARGUMENT;
        }
        if (!item.empty()) {
            typeList.emplace_back(item);
            typesText += typesText.empty() ? "" : ",";
            typesText += item;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        rest.remove_prefix(comma + 1);
    }
    std::lock_guard lock(_mutex);
    const std::uint64_t generation = _generation.load();
    const auto current = std::count_if(_subs.begin(), _subs.end(),
                                       [&](const auto& s) { return s->generation == generation; });
    if (static_cast<std::size_t>(current) >= kMaxSubscriptions) {
        return NR_ERR_INVALID_ARGUMENT;
    }
    _subs.push_back(std::make_unique<Subscription>(*this, std::string(pattern), std::move(typeList),
                                                   std::move(typesText), handler, state, generation));
    return NR_OK;
}

nr_status PluginRuntime::pluginPublish(std::string_view topic, std::string_view type, std::string_view payload)
{
    // The same strict validator the bus uses, so a published payload can be embedded as-is in
    // the frames sent to WebSocket clients.
    thread_local JsonValidator json;
    const bool ownTopic = topic.size() > _ownTopicPrefix.size() &&
                          topic.compare(0, _ownTopicPrefix.size(), _ownTopicPrefix) == 0;
    if (!ownTopic || topic.size() > kMaxTopicBytes || hasControl(topic) ||
        topic.find_first_of("*?") != std::string_view::npos || type.size() > kMaxTypeBytes || hasControl(type) ||
        !json.validate(payload)) {
        _publishRejected.fetch_add(1, std::memory_order_relaxed);
        return NR_ERR_INVALID_ARGUMENT;
    }
    const nr_status status = _publisher.publishFromPlugin(_name, topic, type, payload);
    if (status == NR_OK) {
        _published.fetch_add(1, std::memory_order_relaxed);
        _mPublished.inc();
    } else {
        _publishRejected.fetch_add(1, std::memory_order_relaxed);
    }
    return status;
}

const std::string* PluginRuntime::pluginConfig(std::string_view key) const
{
    auto it = _config.find(key);
    return it == _config.end() ? nullptr : &it->second;
}

nr_status PluginRuntime::pluginCounterAdd(std::string_view name, std::uint64_t delta)
{
    if (!isMetricName(name)) {
        return NR_ERR_INVALID_ARGUMENT;
    }
    std::lock_guard lock(_customMutex);
    auto it = _customCounters.find(name);
    if (it == _customCounters.end()) {
        std::string base(name);
        if (base.size() > 6 && base.compare(base.size() - 6, 6, "_total") == 0) {
            base.resize(base.size() - 6);
        }
        try {
            Counter& c = MetricsRegistry::global().counter("nautilus_relay_plugin_custom_" + base + "_total",
                                                           "Counter '" + base + "' of a plugin", label(_name));
            it = _customCounters.emplace(std::string(name), &c).first;
        } catch (const std::logic_error&) {
            return NR_ERR_INVALID_ARGUMENT;  // the name is already a gauge
        }
    }
    it->second->inc(delta);
    return NR_OK;
}

nr_status PluginRuntime::pluginGaugeSet(std::string_view name, double value)
{
    if (!isMetricName(name)) {
        return NR_ERR_INVALID_ARGUMENT;
    }
    std::lock_guard lock(_customMutex);
    auto it = _customGauges.find(name);
    if (it == _customGauges.end()) {
        try {
            Gauge& g = MetricsRegistry::global().gauge("nautilus_relay_plugin_custom_" + std::string(name),
                                                       "Gauge '" + std::string(name) + "' of a plugin", label(_name));
            it = _customGauges.emplace(std::string(name), &g).first;
        } catch (const std::logic_error&) {
            return NR_ERR_INVALID_ARGUMENT;  // the name is already a counter
        }
    }
    it->second->set(value);
    return NR_OK;
}

void PluginRuntime::pluginSetError(std::string_view text)
{
    std::lock_guard lock(_errorTextMutex);
    _errorText.assign(text.substr(0, kMaxErrorTextBytes));
    _errorTextSet.store(true, std::memory_order_relaxed);
}

std::string PluginRuntime::takeErrorText()
{
    std::lock_guard lock(_errorTextMutex);
    _errorTextSet.store(false, std::memory_order_relaxed);
    return std::exchange(_errorText, std::string());
}

void PluginRuntime::internalError(const char* function, const char* text) noexcept
{
    try {
        _log->error("plugin {}: host function {} failed: {}", _name, function, text);
    } catch (...) {
    }
}

}  // namespace nautilus::relay

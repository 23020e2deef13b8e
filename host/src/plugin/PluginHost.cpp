#include "plugin/PluginHost.h"

#include <algorithm>
#include <set>

#include "common/Logging.h"
#include "common/Metrics.h"
#include "common/ThreadName.h"
#include "common/Time.h"

namespace nautilus::relay {

namespace {

// Deadlines are checked this often: the granularity of handler_warn_ms / handler_fail_ms.
constexpr auto kSuperviseInterval = std::chrono::milliseconds(10);

// A runtime that could not stop still has a thread inside plugin code that uses it: it is kept
// here, reachable, for the rest of the process (never freed, never destroyed at exit).
std::vector<PluginRuntime*>& abandonedRuntimes()
{
    static auto* list = new std::vector<PluginRuntime*>();
    return *list;
}
std::mutex& abandonedMutex()
{
    static auto* m = new std::mutex();
    return *m;
}

void abandon(std::unique_ptr<PluginRuntime> rt)
{
    std::lock_guard lock(abandonedMutex());
    abandonedRuntimes().push_back(rt.release());
}

bool isTrue(const std::string& v)
{
    return v == "true" || v == "yes" || v == "on" || v == "1";
}

}  // namespace

PluginHost::PluginHost(PluginHostOptions settings, Router& router, PublishSink sink)
    : _settings(std::move(settings)), _router(router), _sink(std::move(sink)), _log(Logging::get("relay.plugin"))
{
}

PluginHost::~PluginHost()
{
    shutdown();
    if (_collectorId != 0) {
        MetricsRegistry::global().removeCollector(_collectorId);
    }
}

void PluginHost::refuse(LoadReport& report, const std::string& path, const std::string& name, const std::string& reason)
{
    PluginRefusal r{path, name, reason, wallNowNs()};
    if (name.empty()) {
        _log->error("refused plugin {}: {}", path, reason);
    } else {
        _log->error("refused plugin {} from {}: {}", name, path, reason);
    }
    report.refused.push_back(r);
    std::lock_guard lock(_mutex);
    _refusals.push_back(std::move(r));
}

PluginHost::LoadReport PluginHost::load()
{
    LoadReport report;
    {
        std::lock_guard lock(_mutex);
        if (_loaded || _shutDown) {
            return report;
        }
        _loaded = true;
    }
    _publisher = std::thread([this] {
        nameThisThread("plugin-publish");
        publishLoop();
    });

    const auto files = PluginLoader::candidates(_settings.files, _settings.dirs);
    if (files.empty()) {
        _log->info("no plugins found");
    }
    for (const auto& path : files) {
        PluginLoader::Result opened = PluginLoader::open(path);
        if (!opened.plugin) {
            refuse(report, path, opened.name, opened.reason);
            continue;
        }
        const std::string name = opened.plugin->name;
        PluginOptions settings;
        try {
            settings = _settings.settingsFor(name);
        } catch (const std::exception& e) {
            refuse(report, path, name, std::string("bad configuration: ") + e.what());
            continue;
        }
        if (!settings.enabled) {
            _log->info("plugin {} from {} is disabled (plugins.{}.enabled = false)", name, path, name);
            report.disabled.push_back(name);
            continue;
        }
        if (const PluginRuntime* other = find(name)) {
            refuse(report, path, name, "duplicate name '" + name + "', already loaded from " + other->path());
            continue;
        }
        if (NR_ABI_MINOR(opened.plugin->abiVersion) > NR_ABI_VERSION_MINOR) {
            _log->info("plugin {} was built for ABI {}, host provides {}: it must check NR_HOST_HAS before using newer "
                       "services",
                       name, PluginLoader::abiText(opened.plugin->abiVersion), PluginLoader::abiText(NR_ABI_VERSION));
        }
        const std::string version = opened.plugin->version;
        const std::string abi = PluginLoader::abiText(opened.plugin->abiVersion);
        auto rt = std::make_unique<PluginRuntime>(std::move(*opened.plugin), settings, _settings.configFor(name),
                                                  _router, static_cast<PublishTarget&>(*this));
        const std::string failure = rt->start();
        if (!failure.empty()) {
            refuse(report, path, name, failure);
            if (!rt->stop(std::chrono::milliseconds(0))) {
                abandon(std::move(rt));
            }
            continue;
        }
        _log->info("loaded plugin {} {} (ABI {}) from {}", name, version, abi, path);
        report.loaded.push_back(name);
        std::lock_guard lock(_mutex);
        _runtimes.push_back(std::move(rt));
    }

    // A required plugin that is not running stops start-up; the caller decides (report).
    std::set<std::string> required;
    for (const auto& [key, value] : _settings.properties) {
        constexpr std::string_view kSuffix = ".required";
        if (key.size() > 8 + kSuffix.size() && key.compare(key.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0 &&
            isTrue(value)) {
            const std::string name = key.substr(8, key.size() - 8 - kSuffix.size());
            if (name.find('.') == std::string::npos) {
                required.insert(name);
            }
        }
    }
    for (const auto& name : required) {
        if (find(name) == nullptr) {
            report.requiredMissing.push_back(name);
        }
    }

    _collectorId = MetricsRegistry::global().addCollector([this](PromWriter& w) {
        w.family("nautilus_relay_plugin_state", "gauge", "1 for the state each plugin is in, 0 for the others");
        for (const auto& s : snapshot()) {
            for (std::string_view st : {"running", "paused", "failed", "starting", "stopped"}) {
                w.sample("nautilus_relay_plugin_state",
                         "plugin=\"" + PromWriter::escapeLabel(s.name) + "\",state=\"" + std::string(st) + "\"",
                         s.state == st ? 1.0 : 0.0);
            }
        }
        w.family("nautilus_relay_plugins_refused", "gauge", "Plugin files refused at load");
        w.sample("nautilus_relay_plugins_refused", "", static_cast<double>(refusals().size()));
    });
    _supervisor = std::thread([this] {
        nameThisThread("plugin-watch");
        supervise();
    });
    return report;
}

void PluginHost::shutdown()
{
    {
        std::lock_guard lock(_mutex);
        if (_shutDown) {
            return;
        }
        _shutDown = true;
    }
    {
        std::lock_guard lock(_superviseMutex);
        _superviseStop = true;
    }
    _superviseWake.notify_all();
    if (_supervisor.joinable()) {
        _supervisor.join();
    }

    // Stop feeding all of them first, so they drain in parallel within one shared bound.
    const auto all = runtimes();
    for (PluginRuntime* rt : all) {
        rt->stopFeeding();
    }
    // Two shared deadlines keep the whole stop bounded however many plugins hang: the process must
    // exit within its stop budget even when a handler or a shutdown callback never returns.
    const auto now = std::chrono::steady_clock::now();
    const auto drainDeadline = now + _settings.drainTimeout;
    const auto stopDeadline = now + _settings.stopTimeout;
    auto until = [](std::chrono::steady_clock::time_point t) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
            std::max(std::chrono::steady_clock::duration::zero(), t - std::chrono::steady_clock::now()));
    };
    std::vector<std::unique_ptr<PluginRuntime>> stuck;
    for (PluginRuntime* rt : all) {
        if (!rt->stop(until(drainDeadline), until(stopDeadline))) {
            std::lock_guard lock(_mutex);
            auto it = std::find_if(_runtimes.begin(), _runtimes.end(), [rt](const auto& p) { return p.get() == rt; });
            stuck.push_back(std::move(*it));
            _runtimes.erase(it);
        } else {
            _log->info("plugin {} stopped", rt->name());
        }
    }
    for (auto& rt : stuck) {
        abandon(std::move(rt));
    }

    {
        std::lock_guard lock(_publishMutex);
        _publishStop = true;
    }
    _publishWake.notify_all();
    if (_publisher.joinable()) {
        _publisher.join();
    }
}

// ---------------------------------------------------------------------------------------------
// Supervision and operator actions

void PluginHost::supervise()
{
    std::unique_lock lock(_superviseMutex);
    while (!_superviseStop) {
        _superviseWake.wait_for(lock, kSuperviseInterval, [this] { return _superviseStop; });
        if (_superviseStop) {
            break;
        }
        lock.unlock();
        const std::int64_t now = monoNowNs();
        for (PluginRuntime* rt : runtimes()) {
            rt->supervise(now);
        }
        lock.lock();
    }
}

std::vector<PluginRuntime*> PluginHost::runtimes() const
{
    std::lock_guard lock(_mutex);
    std::vector<PluginRuntime*> out;
    out.reserve(_runtimes.size());
    for (const auto& rt : _runtimes) {
        out.push_back(rt.get());
    }
    return out;
}

PluginRuntime* PluginHost::find(std::string_view name) const
{
    std::lock_guard lock(_mutex);
    for (const auto& rt : _runtimes) {
        if (rt->name() == name) {
            return rt.get();
        }
    }
    return nullptr;
}

std::vector<PluginSnapshot> PluginHost::snapshot() const
{
    std::vector<PluginSnapshot> out;
    for (PluginRuntime* rt : runtimes()) {
        out.push_back(rt->snapshot());
    }
    return out;
}

std::optional<PluginSnapshot> PluginHost::snapshot(std::string_view name) const
{
    if (PluginRuntime* rt = find(name)) {
        return rt->snapshot();
    }
    return std::nullopt;
}

std::vector<PluginRefusal> PluginHost::refusals() const
{
    std::lock_guard lock(_mutex);
    return _refusals;
}

PluginHost::CommandResult PluginHost::restart(std::string_view name)
{
    PluginRuntime* rt = find(name);
    if (rt == nullptr) {
        return {CommandResult::Code::NotFound, "no plugin named '" + std::string(name) + "'"};
    }
    std::string why = rt->restart();
    return why.empty() ? CommandResult{} : CommandResult{CommandResult::Code::Rejected, std::move(why)};
}

PluginHost::CommandResult PluginHost::pause(std::string_view name)
{
    PluginRuntime* rt = find(name);
    if (rt == nullptr) {
        return {CommandResult::Code::NotFound, "no plugin named '" + std::string(name) + "'"};
    }
    std::string why = rt->pause();
    return why.empty() ? CommandResult{} : CommandResult{CommandResult::Code::Rejected, std::move(why)};
}

PluginHost::CommandResult PluginHost::resume(std::string_view name)
{
    PluginRuntime* rt = find(name);
    if (rt == nullptr) {
        return {CommandResult::Code::NotFound, "no plugin named '" + std::string(name) + "'"};
    }
    std::string why = rt->resume();
    return why.empty() ? CommandResult{} : CommandResult{CommandResult::Code::Rejected, std::move(why)};
}

// ---------------------------------------------------------------------------------------------
// Publishing

std::size_t PluginHost::route(const Message& msg)
{
    std::lock_guard lock(_routeMutex);
    return _router.route(msg);
}

void PluginHost::endBatch()
{
    std::lock_guard lock(_routeMutex);
    _router.endBatch();
}

nr_status PluginHost::publishFromPlugin(const std::string& plugin, std::string_view topic, std::string_view type,
                                        std::string_view payload) noexcept
{
    try {
        Published p;
        p.stream = "plugin:" + plugin;
        p.topic.assign(topic);
        p.type.assign(type);
        p.payload.assign(payload);
        p.receivedNs = wallNowNs();
        std::lock_guard lock(_publishMutex);
        // Never block: the caller is a plugin's dispatch thread, and the router thread may be
        // waiting for that very thread to make room in its queue.
        if (_publishStop || _publishQueue.size() >= _settings.publishQueueCapacity) {
            _publishDropped.fetch_add(1, std::memory_order_relaxed);
            return NR_ERR_UNAVAILABLE;
        }
        p.streamId = StreamId{static_cast<std::uint64_t>(p.receivedNs / 1'000'000), ++_publishSeq};
        p.id = p.streamId.toString();
        _publishQueue.push_back(std::move(p));
        _publishWake.notify_one();
        return NR_OK;
    } catch (...) {
        _publishDropped.fetch_add(1, std::memory_order_relaxed);
        return NR_ERR_INTERNAL;
    }
}

void PluginHost::publishLoop()
{
    std::deque<Published> batch;
    std::unique_lock lock(_publishMutex);
    for (;;) {
        _publishWake.wait(lock, [this] { return _publishStop || !_publishQueue.empty(); });
        if (_publishQueue.empty()) {
            return;  // stopping, and everything published before has been routed
        }
        batch.swap(_publishQueue);
        lock.unlock();
        for (const auto& p : batch) {
            Message m;
            m.stream = p.stream;
            m.id = p.id;
            m.streamId = p.streamId;
            m.topic = p.topic;
            m.headerType = p.type;
            m.type = p.type;
            m.encoding = Encoding::Json;
            m.kind = PayloadKind::Json;
            m.json = p.payload;
            m.raw = p.payload;
            m.receivedNs = p.receivedNs;
            try {
                if (_sink) {
                    _sink(m);
                } else {
                    route(m);
                }
            } catch (const std::exception& e) {
                _log->error("cannot route message published on {}: {}", p.topic, e.what());
            }
        }
        if (!_sink) {
            try {
                endBatch();
            } catch (const std::exception& e) {
                _log->error("cannot end a batch of published messages: {}", e.what());
            }
        }
        batch.clear();
        lock.lock();
    }
}

}  // namespace nautilus::relay

#pragma once
// Helpers for the plugin tests: paths of the fixture plugins built by the test suite, a fixture
// that owns a Router and a PluginHost loading real .so files, messages to route, the lines a
// fixture plugin wrote to its output file, and a capture of the relay.plugin log.
#include <gtest/gtest.h>

#include <spdlog/sinks/ringbuffer_sink.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/Logging.h"
#include "common/Message.h"
#include "plugin/PluginHost.h"
#include "router/Router.h"
#include "support/Process.h"

namespace nautilus::relay::test {

/// A fixture plugin built by the test suite: tests/fixtures/plugins/<file>.c|.cpp → <file>.so.
inline std::string fixturePlugin(const std::string& file)
{
    return std::string(NR_FIXTURE_PLUGIN_DIR) + "/" + file + ".so";
}

/// Polls pred every 2 ms until it holds or timeout passes; returns its last value.
inline bool waitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(10))
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return pred();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

inline std::vector<std::string> readLines(const std::string& path)
{
    std::vector<std::string> lines;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

inline std::size_t countPrefix(const std::vector<std::string>& lines, const std::string& prefix)
{
    return static_cast<std::size_t>(
        std::count_if(lines.begin(), lines.end(), [&](const std::string& l) { return l.rfind(prefix, 0) == 0; }));
}

inline double msSince(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

/// Captures what the relay.plugin logger writes while it lives. Create it before any thread logs
/// and destroy it after they have stopped (it edits the logger's sink list).
class LogCapture {
public:
    LogCapture() : _sink(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)), _logger(Logging::get("relay.plugin"))
    {
        _sink->set_pattern("%l %v");
        _logger->sinks().push_back(_sink);
    }
    ~LogCapture()
    {
        auto& sinks = _logger->sinks();
        sinks.erase(std::remove(sinks.begin(), sinks.end(), _sink), sinks.end());
    }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    std::vector<std::string> lines() const { return _sink->last_formatted(); }
    /// Lines that contain every one of the given texts.
    std::size_t count(std::initializer_list<std::string> texts) const
    {
        std::size_t n = 0;
        for (const auto& line : lines()) {
            if (std::all_of(texts.begin(), texts.end(), [&](const std::string& t) { return line.find(t) != std::string::npos; })) {
                ++n;
            }
        }
        return n;
    }

private:
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> _sink;
    std::shared_ptr<spdlog::logger> _logger;
};

/// A Router and a PluginHost loading fixture plugins, each writing to <tmp>/<plugin name>.out.
class PluginHostFixture : public ::testing::Test {
protected:
    /// Adds a fixture plugin file and points its "output" key into the temp dir.
    void use(const std::string& file, const std::string& pluginName)
    {
        _files.push_back(fixturePlugin(file));
        props["plugins." + pluginName + ".output"] = output(pluginName);
    }
    void useFile(const std::string& path) { _files.push_back(path); }

    std::string output(const std::string& pluginName) const { return dir.path() + "/" + pluginName + ".out"; }
    std::vector<std::string> lines(const std::string& pluginName) const { return readLines(output(pluginName)); }

    PluginHost::LoadReport load()
    {
        std::string files;
        for (const auto& f : _files) {
            files += (files.empty() ? "" : ",") + f;
        }
        props["plugins.files"] = files;
        host = std::make_unique<PluginHost>(PluginHostOptions::fromProperties(props), router);
        return host->load();
    }

    /// Routes one message (through the host, as the bus reader would); returns deliveries.
    std::size_t route(const std::string& topic, const std::string& type = "", std::string id = "",
                      const std::string& payload = "{\"x\":1}")
    {
        if (id.empty()) {
            id = std::to_string(++_nextId) + "-0";
        }
        Message m;
        m.stream = "trader-TRADER-001:stream";
        m.id = id;
        m.topic = topic;
        m.type = type;
        m.headerType = type;
        m.json = payload;
        m.raw = payload;
        m.heartbeat = topic == kHeartbeatTopic;
        m.receivedNs = 1'732'700'000'000'000'000;
        return host->route(m);
    }

    PluginSnapshot snap(const std::string& name) const
    {
        auto s = host->snapshot(name);
        EXPECT_TRUE(s.has_value()) << "no plugin " << name;
        return s.value_or(PluginSnapshot{});
    }
    bool waitState(const std::string& name, const std::string& state,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10)) const
    {
        return waitUntil([&] { return snap(name).state == state; }, timeout);
    }
    /// A plugin shows "failed" a moment before it leaves the Router's table (markFailed sets the
    /// state, then unsubscribes): tests that count deliveries after a failure wait for this too.
    bool waitSubscriptionCount(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const
    {
        return waitUntil([&] { return router.subscriptionCount() == n; }, timeout);
    }
    bool waitHandled(const std::string& name, std::uint64_t n,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) const
    {
        return waitUntil([&] { return snap(name).handled >= n; }, timeout);
    }

    TempDir dir;
    LogCapture log;  // outlives the host, whose threads log
    PluginProperties props;
    Router router;
    std::unique_ptr<PluginHost> host;

private:
    std::vector<std::string> _files;
    int _nextId = 0;
};

}  // namespace nautilus::relay::test

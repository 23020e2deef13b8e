#pragma once
// The real nautilus-relay binary under test: a temp .properties file (the given keys over test
// defaults: loopback, a free HTTP port, fast intervals), the process, and REST helpers.
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <Poco/JSON/Object.h>

#include "support/HttpClient.h"
#include "support/Process.h"

namespace nautilus::relay::test {

class RedisServer;

class RelayProcess {
public:
    using Settings = std::map<std::string, std::string>;

    /// Settings every test relay gets unless overridden: redis at `redis`, http on a free
    /// loopback port, instance id "it-<http port>", short intervals.
    /// overrides replace or add keys.
    static Settings defaults(const RedisServer& redis, const Settings& overrides = {});

    /// Writes the properties file and starts the process (does not wait).
    explicit RelayProcess(Settings settings, std::vector<std::string> extraArgs = {});
    ~RelayProcess();

    /// Waits until GET /health/live answers 200; false (with stderr in the failure) on timeout
    /// or when the process exited.
    bool waitUntilServing(std::chrono::milliseconds timeout = std::chrono::seconds(15));
    /// waitUntilServing(), then until /status says the bus is connected: a WebSocket client
    /// connected after that gets no "connected" status frame between the replies it expects.
    bool waitUntilConnected(std::chrono::milliseconds timeout = std::chrono::seconds(15));
    /// Polls /status until pred(status) holds.
    template <typename Pred>
    Poco::JSON::Object::Ptr waitForStatus(Pred pred, std::chrono::milliseconds timeout);
    /// True once /status satisfies pred, false at the timeout (waitForStatus returns the last
    /// status either way, so it cannot be asserted on by itself).
    template <typename Pred>
    bool waitUntilStatus(Pred pred, std::chrono::milliseconds timeout)
    {
        bool held = false;
        waitForStatus([&](const Poco::JSON::Object::Ptr& s) { return held = pred(s); }, timeout);
        return held;
    }

    /// True once /status says the bus has received at least this many entries.
    bool waitUntilReceived(std::int64_t entries, std::chrono::milliseconds timeout)
    {
        return waitUntilStatus(
            [&](const Poco::JSON::Object::Ptr& s) {
                return s->getObject("bus")->getValue<std::int64_t>("received") >= entries;
            },
            timeout);
    }

    HttpResult get(const std::string& target) const { return httpGet("127.0.0.1", _httpPort, target); }
    HttpResult request(const std::string& method, const std::string& target, const std::string& body = {},
                       const std::map<std::string, std::string>& headers = {}) const
    {
        return httpRequest("127.0.0.1", _httpPort, method, target, body, headers);
    }
    /// GET /status parsed (nullptr when it does not answer 200).
    Poco::JSON::Object::Ptr status() const;

    int httpPort() const { return _httpPort; }
    const std::string& instanceId() const { return _instanceId; }
    const std::string& configFile() const { return _configFile; }
    Process& process() { return *_process; }

private:
    TempDir _dir;
    std::string _configFile;
    int _httpPort = 0;
    std::string _instanceId;
    std::unique_ptr<Process> _process;
};

Poco::JSON::Object::Ptr parseJsonObject(const std::string& text);

/// N of the relay's last "stopped in N ms" log line, -1 when there is none: its own stop time,
/// without the process exit (a sanitizer's leak check) that a wall-clock bound would include.
long reportedStopMs(const std::string& log);

template <typename Pred>
Poco::JSON::Object::Ptr RelayProcess::waitForStatus(Pred pred, std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    Poco::JSON::Object::Ptr last;
    for (;;) {
        try {
            last = status();
            if (last && pred(last)) {
                return last;
            }
        } catch (const std::exception&) {
        }
        if (std::chrono::steady_clock::now() >= deadline || !_process->running()) {
            return last;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

}  // namespace nautilus::relay::test

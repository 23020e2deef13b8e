// nautilus-relay-demo-feed: writes realistic NautilusTrader message-bus entries to Redis Streams
// (see FeedOptions.cpp for the options and Generator.h for what is written).
//
// Exit status: 0 done (count/duration reached or SIGINT/SIGTERM), 2 bad usage, 3 cannot connect
// at start, 4 Redis refused a command (e.g. NOAUTH, WRONGTYPE).
// A connection lost while running is retried with backoff (immediately, then 100 ms doubling to
// 2 s); entries whose XADD was not acknowledged are sent again (at-least-once: an entry whose
// reply was lost with the connection may appear twice).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <deque>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/Version.h"
#include "tools/demo_feed/FeedOptions.h"
#include "tools/demo_feed/Generator.h"
#include "tools/demo_feed/RedisPipe.h"

using namespace nautilus::relay;
using namespace nautilus::relay::demo;
using Clock = std::chrono::steady_clock;

namespace {

std::atomic<bool> g_stop{false};

extern "C" void onSignal(int)
{
    g_stop.store(true);
}

void installSignals()
{
    struct sigaction sa {};
    sa.sa_handler = onSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
}

std::int64_t wallNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

double seconds(Clock::duration d)
{
    return std::chrono::duration<double>(d).count();
}

/// XADDs sent together; `acked` replies already read.
struct Batch {
    RespBuffer resp;
    std::vector<std::size_t> offsets;
    std::vector<const std::string*> keys;
    std::vector<bool> heartbeats;
    std::size_t acked = 0;
};

class Feed {
public:
    explicit Feed(FeedOptions o) : _o(std::move(o)), _gen(_o), _pipe(pipeOptions(_o)) {}

    int run()
    {
        try {
            _pipe.connect();
        } catch (const RedisReplyError& e) {
            std::fprintf(stderr, "nautilus-relay-demo-feed: redis %s:%d refused the handshake: %s\n", _o.host.c_str(),
                         _o.port, e.what());
            return 3;
        } catch (const RedisPipeError& e) {
            std::fprintf(stderr, "nautilus-relay-demo-feed: %s\n", e.what());
            return 3;
        }
        if (!_o.quiet) {
            std::printf("nautilus-relay-demo-feed: redis %s:%d db %d, encoding %s, layout %s, streams %s%s, rate %s\n",
                        _o.host.c_str(), _o.port, _o.db, toString(_o.encoding), toString(_o.layout),
                        streamBase(_o).c_str(), _o.layout == Layout::PerTopic ? ":<topic>" : "",
                        _o.rate > 0 ? (formatRate(_o.rate) + "/s").c_str() : "unlimited");
            std::fflush(stdout);
        }
        _start = Clock::now();
        _lastReport = _start;
        _nextHeartbeat = _start;
        int rc = 0;
        try {
            loop();
            drain();
        } catch (const RedisReplyError& e) {
            std::fprintf(stderr, "nautilus-relay-demo-feed: %s\n", e.what());
            rc = 4;
        }
        report(true);
        return rc;
    }

private:
    static RedisPipeOptions pipeOptions(const FeedOptions& o)
    {
        RedisPipeOptions p;
        p.host = o.host;
        p.port = o.port;
        p.username = o.username;
        p.password = o.password;
        p.db = o.db;
        p.connectTimeoutMs = o.connectTimeoutMs;
        return p;
    }

    static std::string formatRate(double r)
    {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.0f", r);
        return buf;
    }

    bool done(Clock::time_point now) const
    {
        if (g_stop.load()) {
            return true;
        }
        if (_o.durationS > 0 && seconds(now - _start) >= _o.durationS) {
            return true;
        }
        return _o.count > 0 && _queued >= _o.count;
    }

    void loop()
    {
        const auto hbPeriod = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(_o.heartbeatIntervalS));
        const std::size_t maxBatch = static_cast<std::size_t>(_o.batch);
        while (true) {
            const auto now = Clock::now();
            if (done(now)) {
                return;
            }
            Batch batch;
            // Heartbeats first when due: the first one at start, as NautilusTrader does.
            if (_o.heartbeatIntervalS > 0 && now >= _nextHeartbeat) {
                add(batch, true);
                _nextHeartbeat += hbPeriod;
                if (_nextHeartbeat <= now) {
                    _nextHeartbeat = now + hbPeriod;
                }
            }
            std::size_t room = maxBatch - std::min(maxBatch, batch.offsets.size());
            if (_o.rate > 0) {
                const double due = std::floor(_o.rate * seconds(now - _start)) + 1.0 - static_cast<double>(_dataQueued);
                room = due <= 0 ? 0 : std::min(room, static_cast<std::size_t>(due));
            }
            if (_o.count > 0) {
                room = std::min<std::uint64_t>(room, _o.count - std::min(_o.count, _queued));
            }
            for (std::size_t i = 0; i < room; ++i) {
                add(batch, false);
            }
            if (batch.offsets.empty()) {
                drain();
                maybeReport(Clock::now());
                sleepUntilDue();
                continue;
            }
            submit(std::move(batch));
            maybeReport(Clock::now());
        }
    }

    void add(Batch& b, bool heartbeat)
    {
        if (heartbeat) {
            _gen.heartbeat(_entry, wallNs());
        } else {
            _gen.next(_entry);
            ++_dataQueued;
        }
        ++_queued;
        b.offsets.push_back(b.resp.size());
        b.keys.push_back(_entry.key);
        b.heartbeats.push_back(heartbeat);
        b.resp.begin(_entry.headers ? 11 : 7);
        b.resp.arg("XADD");
        b.resp.arg(*_entry.key);
        b.resp.arg("*");
        b.resp.arg("topic");
        b.resp.arg(*_entry.topic);
        if (_entry.headers) {
            b.resp.arg("type");
            b.resp.arg(_entry.type);
        }
        b.resp.arg("payload");
        b.resp.arg(_entry.payload);
        if (_entry.headers) {
            b.resp.arg("encoding");
            b.resp.arg(_entry.encoding);
        }
        _entry.heartbeat = false;
    }

    void sleepUntilDue()
    {
        auto wake = Clock::now() + std::chrono::milliseconds(100);
        if (_o.rate > 0) {
            wake = std::min(wake, _start + std::chrono::duration_cast<Clock::duration>(
                                               std::chrono::duration<double>(static_cast<double>(_dataQueued) / _o.rate)));
        }
        if (_o.heartbeatIntervalS > 0) {
            wake = std::min(wake, _nextHeartbeat);
        }
        if (_o.durationS > 0) {
            wake = std::min(wake, _start + std::chrono::duration_cast<Clock::duration>(
                                               std::chrono::duration<double>(_o.durationS)));
        }
        const auto now = Clock::now();
        if (wake > now) {
            std::this_thread::sleep_for(std::min<Clock::duration>(wake - now, std::chrono::milliseconds(100)));
        }
    }

    /// Sends a batch and keeps at most two in flight, so Redis works on one while we build the next.
    void submit(Batch&& b)
    {
        _inflight.push_back(std::move(b));
        sendFrom(_inflight.back());
        while (_inflight.size() > 1) {
            ackFront();
        }
    }

    void sendFrom(const Batch& b)
    {
        for (;;) {
            try {
                const std::string& data = b.resp.data();
                _pipe.send(std::string_view(data).substr(b.offsets[b.acked]));
                return;
            } catch (const RedisPipeError& e) {
                if (!recover(e.what())) {
                    return;
                }
                return;  // recover() re-sent every batch in flight, this one included
            }
        }
    }

    void ackFront()
    {
        Batch& b = _inflight.front();
        while (b.acked < b.offsets.size()) {
            try {
                const auto r = _pipe.read();
                if (r.isError) {
                    if (r.text.rfind("LOADING", 0) == 0 || r.text.rfind("BUSY", 0) == 0) {
                        _pipe.close();
                        throw RedisPipeError(r.text);
                    }
                    std::string hint;
                    if (r.text.find("NOAUTH") != std::string::npos || r.text.find("unauthenticated") != std::string::npos) {
                        hint = " (redis requires authentication: pass --password, and --username for an ACL user)";
                    }
                    throw RedisReplyError("redis refused XADD to '" + *b.keys[b.acked] + "': " + r.text + hint);
                }
                ++_written;
                if (b.heartbeats[b.acked]) {
                    ++_heartbeats;
                }
                _streams.insert(*b.keys[b.acked]);
                ++b.acked;
            } catch (const RedisPipeError& e) {
                if (!recover(e.what())) {
                    _lost += b.offsets.size() - b.acked;
                    _inflight.pop_front();
                    return;
                }
            }
        }
        _inflight.pop_front();
    }

    void drain()
    {
        while (!_inflight.empty()) {
            const std::size_t before = _inflight.size();
            ackFront();
            if (_inflight.size() >= before) {
                break;
            }
        }
        for (const auto& b : _inflight) {
            _lost += b.offsets.size() - b.acked;
        }
        _inflight.clear();
    }

    /// Reconnects with backoff and re-sends what was not acknowledged. False when stopped first.
    bool recover(const std::string& why)
    {
        std::fprintf(stderr, "nautilus-relay-demo-feed: connection to redis %s:%d lost (%s); reconnecting\n",
                     _o.host.c_str(), _o.port, why.c_str());
        int delayMs = 0;
        for (int attempt = 1;; ++attempt) {
            const auto until = Clock::now() + std::chrono::milliseconds(delayMs);
            while (Clock::now() < until) {
                if (g_stop.load() || (_o.durationS > 0 && seconds(Clock::now() - _start) >= _o.durationS)) {
                    return false;
                }
                std::this_thread::sleep_for(std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(50)));
            }
            if (g_stop.load()) {
                return false;
            }
            try {
                _pipe.connect();
                for (const auto& b : _inflight) {
                    _pipe.send(std::string_view(b.resp.data()).substr(b.offsets[b.acked]));
                }
                ++_reconnects;
                std::fprintf(stderr, "nautilus-relay-demo-feed: reconnected to redis %s:%d after %d attempt(s)\n",
                             _o.host.c_str(), _o.port, attempt);
                return true;
            } catch (const RedisPipeError& e) {
                delayMs = delayMs == 0 ? 100 : std::min(delayMs * 2, 2000);
                if (attempt == 1 || attempt % 10 == 0) {
                    std::fprintf(stderr, "nautilus-relay-demo-feed: %s; next attempt in %d ms\n", e.what(), delayMs);
                }
            }
        }
    }

    void maybeReport(Clock::time_point now)
    {
        if (_o.quiet || now - _lastReport < std::chrono::seconds(5)) {
            return;
        }
        _lastReport = now;
        report(false);
    }

    void report(bool final)
    {
        const double elapsed = seconds(Clock::now() - _start);
        const double rate = elapsed > 0 ? static_cast<double>(_written) / elapsed : 0.0;
        std::printf("nautilus-relay-demo-feed: %s%llu entries (%llu heartbeats) to %zu streams in %.2f s, %.0f entries/s",
                    final ? "wrote " : "", static_cast<unsigned long long>(_written),
                    static_cast<unsigned long long>(_heartbeats), _streams.size(), elapsed, rate);
        if (_reconnects > 0) {
            std::printf(", %llu reconnects", static_cast<unsigned long long>(_reconnects));
        }
        if (_lost > 0) {
            std::printf(", %llu not acknowledged", static_cast<unsigned long long>(_lost));
        }
        std::printf("\n");
        std::fflush(stdout);
    }

    FeedOptions _o;
    Generator _gen;
    RedisPipe _pipe;
    Entry _entry;
    std::deque<Batch> _inflight;
    Clock::time_point _start;
    Clock::time_point _lastReport;
    Clock::time_point _nextHeartbeat;
    std::uint64_t _queued = 0;
    std::uint64_t _dataQueued = 0;
    std::uint64_t _written = 0;
    std::uint64_t _heartbeats = 0;
    std::uint64_t _reconnects = 0;
    std::uint64_t _lost = 0;
    std::unordered_set<std::string_view> _streams;  ///< views of interned keys (live as long as _gen)
};

}  // namespace

int main(int argc, char** argv)
{
    FeedOptions options;
    try {
        options = parseFeedOptions(argc, argv);
    } catch (const FeedUsageError& e) {
        std::fprintf(stderr, "nautilus-relay-demo-feed: %s\n", e.what());
        return 2;
    }
    if (options.help) {
        std::fputs(feedUsage().c_str(), stdout);
        return 0;
    }
    if (options.version) {
        std::printf("nautilus-relay-demo-feed %s\n", kVersion);
        return 0;
    }
    installSignals();
    try {
        Feed feed(std::move(options));
        return feed.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nautilus-relay-demo-feed: %s\n", e.what());
        return 1;
    }
}

// Connection faults with real processes: CLIENT KILL while a producer writes, redis-server
// restart with AOF, a half-open link (SIGSTOP), a server that starts late. Each must end with
// every entry delivered exactly once and in order.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>

#include "BusTestSupport.h"

using namespace nautilus::relay;
using namespace nautilus::relay::bustest;

namespace {

/// Writes seq 1..n with explicit ids "<seq>-1", pacing itself, until done or told to stop.
class ProducerThread {
public:
    ProducerThread(const RedisServer& redis, long long n, std::chrono::microseconds pause)
        : _producer(redis), _n(n), _pause(pause)
    {
        _thread = std::thread([this] {
            try {
                for (long long i = 1; i <= _n; ++i) {
                    while (_paused.load()) {
                        std::this_thread::sleep_for(5ms);
                    }
                    _producer.xadd("bus:test", std::to_string(i) + "-1", quoteJson(static_cast<std::uint64_t>(i)));
                    _written.store(i);
                    if (_pause.count() > 0) {
                        std::this_thread::sleep_for(_pause);
                    }
                }
            } catch (const std::exception& e) {
                _error = e.what();
            }
        });
    }
    ~ProducerThread() { join(); }
    void join()
    {
        if (_thread.joinable()) {
            _thread.join();
        }
    }
    long long written() const { return _written.load(); }
    void pause(bool p) { _paused.store(p); }
    const std::string& error() const { return _error; }

private:
    Producer _producer;
    long long _n;
    std::chrono::microseconds _pause;
    std::atomic<long long> _written{0};
    std::atomic<bool> _paused{false};
    std::string _error;
    std::thread _thread;
};

}  // namespace

TEST(BusFaultTest, ClientKillWhileProducingLosesNothing)
{
    RedisServer redis;
    Router router;
    Collector all;
    router.subscribe("*", {}, &all);
    StreamReader reader(testConfig(redis), router);
    reader.start();
    ASSERT_TRUE(waitState(reader, BusState::Connected));

    constexpr long long kTotal = 3000;
    ProducerThread producer(redis, kTotal, 300us);
    for (int kill = 0; kill < 3; ++kill) {
        const long long target = (kill + 1) * kTotal / 4;
        ASSERT_TRUE(eventually([&] { return producer.written() >= target; }, 20s));
        redis.command({"CLIENT", "KILL", "TYPE", "normal"});
        ASSERT_TRUE(eventually([&] { return reader.snapshot().reconnects >= static_cast<std::uint64_t>(kill + 1); }, 5s));
        ASSERT_TRUE(waitState(reader, BusState::Connected, 5s));
    }
    producer.join();
    ASSERT_EQ(producer.error(), "");
    ASSERT_TRUE(all.waitFor(kTotal, 20s));
    std::this_thread::sleep_for(200ms);
    EXPECT_TRUE(exactlyInOrder(all.seqs(), kTotal));
    const BusSnapshot s = reader.snapshot();
    EXPECT_EQ(s.reconnects, 3u);
    EXPECT_EQ(s.received, static_cast<std::uint64_t>(kTotal));
    EXPECT_EQ(s.trimGaps, 0u);
    EXPECT_EQ(s.resets, 0u);
    EXPECT_FALSE(s.lastError.empty());
}

TEST(BusFaultTest, ServerRestartWithAofLosesNothing)
{
    RedisServer::Options options;
    options.appendOnly = true;
    RedisServer redis(options);
    Router router;
    Collector all;
    router.subscribe("*", {}, &all);
    std::vector<BusState> states;
    std::mutex m;
    StreamReader reader(testConfig(redis), router);
    reader.setStateListener([&](BusState s, const std::string&) {
        std::lock_guard lock(m);
        states.push_back(s);
    });
    reader.start();
    ASSERT_TRUE(waitState(reader, BusState::Connected));

    constexpr long long kTotal = 1500;
    ProducerThread producer(redis, kTotal, 200us);
    ASSERT_TRUE(eventually([&] { return producer.written() >= 500; }, 20s));
    producer.pause(true);
    std::this_thread::sleep_for(20ms);  // let the paused producer's last XADD finish
    redis.stop(true);
    ASSERT_TRUE(waitState(reader, BusState::Reconnecting, 5s));
    std::this_thread::sleep_for(300ms);  // several failed attempts with backoff
    redis.start();
    producer.pause(false);
    ASSERT_TRUE(waitState(reader, BusState::Connected, 5s));
    producer.join();
    ASSERT_EQ(producer.error(), "");
    ASSERT_TRUE(all.waitFor(kTotal, 20s));
    std::this_thread::sleep_for(200ms);
    EXPECT_TRUE(exactlyInOrder(all.seqs(), kTotal));
    EXPECT_EQ(reader.snapshot().reconnects, 1u);
    EXPECT_EQ(reader.snapshot().resets, 0u);
    EXPECT_EQ(reader.snapshot().trimGaps, 0u);
    std::lock_guard lock(m);
    ASSERT_GE(states.size(), 4u);
    EXPECT_EQ(states[0], BusState::Connecting);
    EXPECT_EQ(states[1], BusState::Connected);
    EXPECT_EQ(states[2], BusState::Reconnecting);
    EXPECT_EQ(states[3], BusState::Connected);
}

TEST(BusFaultTest, HalfOpenLinkIsDetectedByTheReadTimeout)
{
    RedisServer redis;
    const int pid = serverPid(redis);
    BusConfig cfg = testConfig(redis);
    cfg.blockMs = 200;
    cfg.readTimeoutMs = 600;
    Router router;
    Collector all;
    router.subscribe("*", {}, &all);
    StreamReader reader(cfg, router);
    reader.start();
    ASSERT_TRUE(waitState(reader, BusState::Connected));
    Producer producer(redis);
    for (int i = 1; i <= 100; ++i) {
        producer.xadd("bus:test", std::to_string(i) + "-1", quoteJson(static_cast<std::uint64_t>(i)));
    }
    ASSERT_TRUE(all.waitFor(100));

    ASSERT_EQ(::kill(pid, SIGSTOP), 0);
    const auto t0 = std::chrono::steady_clock::now();
    const bool detected = waitState(reader, BusState::Reconnecting, 5s);
    const auto took = std::chrono::steady_clock::now() - t0;
    std::this_thread::sleep_for(300ms);
    ASSERT_EQ(::kill(pid, SIGCONT), 0);
    ASSERT_TRUE(detected);
    // Block + read timeout, plus slack for a loaded, sanitized machine (the figure is logged).
    EXPECT_LE(took, std::chrono::milliseconds(cfg.blockMs + cfg.readTimeoutMs + 1400));
    EXPECT_NE(reader.snapshot().lastError.find("no reply"), std::string::npos) << reader.snapshot().lastError;

    for (int i = 101; i <= 200; ++i) {
        producer.xadd("bus:test", std::to_string(i) + "-1", quoteJson(static_cast<std::uint64_t>(i)));
    }
    ASSERT_TRUE(waitState(reader, BusState::Connected, 5s));
    ASSERT_TRUE(all.waitFor(200));
    std::this_thread::sleep_for(100ms);
    EXPECT_TRUE(exactlyInOrder(all.seqs(), 200));
}

TEST(BusFaultTest, ConnectsWhenTheServerStartsLate)
{
    RedisServer redis;
    redis.stop(true);
    Router router;
    Collector all;
    router.subscribe("*", {}, &all);
    BusConfig cfg = testConfig(redis);
    StreamReader reader(cfg, router);
    reader.start();
    ASSERT_TRUE(eventually([&] { return !reader.snapshot().lastError.empty(); }, 3s));
    std::this_thread::sleep_for(400ms);
    BusSnapshot s = reader.snapshot();
    EXPECT_EQ(s.state, BusState::Connecting);
    EXPECT_NE(s.lastError.find("refused"), std::string::npos) << s.lastError;
    EXPECT_EQ(s.reconnects, 0u);

    redis.start();
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(waitState(reader, BusState::Connected, 5s));
    EXPECT_LE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(cfg.backoff.maxMs + 1500));
    Producer producer(redis);
    producer.xadd("bus:test", "*", quoteJson(1));
    ASSERT_TRUE(all.waitFor(1));
}

TEST(BusFaultTest, StopIsPromptWhileReconnecting)
{
    RedisServer redis;
    BusConfig cfg = testConfig(redis);
    cfg.backoff = BackoffPolicy{5000, 5000, 2.0};
    Router router;
    StreamReader reader(cfg, router);
    reader.start();
    ASSERT_TRUE(waitState(reader, BusState::Connected));
    redis.stop(true);
    ASSERT_TRUE(waitState(reader, BusState::Reconnecting, 3s));
    std::this_thread::sleep_for(300ms);  // now inside a long backoff delay
    const auto t0 = std::chrono::steady_clock::now();
    reader.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
}

// Shutdown and restart of the real binary: SIGTERM/SIGINT stop it within 2 s with exit 0 and
// final checkpoints in Redis; a restart with bus.start=checkpoint delivers exactly what was
// written while it was down.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>

#include "support/ProcessRelay.h"
#include "support/RedisServer.h"

namespace nautilus::relay {
namespace {

using namespace std::chrono_literals;
using test::RedisServer;
using test::RelayProcess;
using JsonPtr = Poco::JSON::Object::Ptr;

constexpr const char* kOrderTopic = "events.order.S-001";
constexpr const char* kOrderKey = "trader-TRADER-001:stream:events.order.S-001";

std::string xaddOrderFilled(const RedisServer& redis, int n)
{
    return redis.command(
        {"XADD", kOrderKey, "*", "topic", kOrderTopic, "type", "OrderFilled", "payload",
         R"({"type":"OrderFilled","trader_id":"TRADER-001","strategy_id":"S-001","instrument_id":"BTCUSDT.BINANCE",)"
         R"("client_order_id":"O-20240701-000000-001-001-)" + std::to_string(n) +
             R"(","venue_order_id":"V-)" + std::to_string(n) +
             R"(","account_id":"BINANCE-001","trade_id":"T-)" + std::to_string(n) +
             R"(","order_side":"BUY","order_type":"MARKET","last_qty":"0.010","last_px":"67000.10",)"
             R"("currency":"USDT","commission":"0.67 USDT","liquidity_side":"TAKER",)"
             R"("event_id":"7e8a1b5c-58f1-4b39-9a55-0a1c8f6e9d2b","ts_event":1719792000000000000,)"
             R"("ts_init":1719792000000000001,"reconciliation":false})",
         "encoding", "Json"});
}

std::int64_t received(const JsonPtr& status)
{
    return status ? status->getObject("bus")->getValue<std::int64_t>("received") : -1;
}

std::string lastIdOf(const JsonPtr& status, const std::string& key)
{
    if (!status) {
        return {};
    }
    const auto streams = status->getObject("bus")->getArray("streams");
    for (std::size_t i = 0; i < streams->size(); ++i) {
        const auto st = streams->getObject(static_cast<unsigned>(i));
        if (st->getValue<std::string>("key") == key && !st->isNull("last_id")) {
            return st->getValue<std::string>("last_id");
        }
    }
    return {};
}

std::string routedCount(const RelayProcess& relay, const std::string& topic)
{
    const auto body = relay.get("/metrics").body;
    const std::string prefix = "nautilus_relay_routed_total{topic=\"" + topic + "\"} ";
    const auto pos = body.find(prefix);
    if (pos == std::string::npos) {
        return "0";
    }
    return body.substr(pos + prefix.size(), body.find('\n', pos) - pos - prefix.size());
}

/// SIGTERM (or sig) and the time until exit.
std::pair<std::optional<test::ExitStatus>, std::chrono::milliseconds> stop(RelayProcess& relay, int sig = SIGTERM)
{
    const auto t0 = std::chrono::steady_clock::now();
    relay.process().signal(sig);
    auto status = relay.process().wait(10s);
    return {status, std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)};
}

/// The names of a process's threads, as top -H and ps -L show them.
std::multiset<std::string> threadNames(int pid)
{
    std::multiset<std::string> names;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
        std::ifstream in(task.path() / "comm");
        std::string name;
        if (std::getline(in, name)) {
            names.insert(name);
        }
    }
    return names;
}

TEST(AppLifecycleTest, ThreadsCarryTheNamesTheConfigurationGuideLists)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis, {{"ws.threads", "3"}, {"ws.replay_threads", "2"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    ASSERT_TRUE(relay.status());  // an HTTP worker has served a request
    const auto names = threadNames(relay.process().pid());
    std::string all;
    for (const auto& n : names) {
        all += n + " ";
    }
    EXPECT_EQ(names.count("bus-reader"), 1u) << all;
    EXPECT_EQ(names.count("ws-loop-0") + names.count("ws-loop-1") + names.count("ws-loop-2"), 3u) << all;
    EXPECT_EQ(names.count("ws-replay"), 2u) << all;
    EXPECT_EQ(names.count("state"), 1u) << all;
    EXPECT_GE(names.count("http"), 1u) << all;
    EXPECT_EQ(names.count("plugin-watch"), 1u) << all;
}

TEST(AppLifecycleTest, SigtermStopsWithinTwoSecondsAndWritesTheCheckpoint)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis));
    ASSERT_TRUE(relay.waitUntilServing()) << relay.process().stderrText();
    std::string lastId;
    for (int i = 0; i < 10; ++i) {
        lastId = xaddOrderFilled(redis, i);
    }
    ASSERT_EQ(received(relay.waitForStatus([](const JsonPtr& s) { return received(s) >= 10; }, 10s)), 10);
    // An idle keep-alive client must not hold the shutdown up.
    test::HttpClient idle("127.0.0.1", relay.httpPort());
    EXPECT_EQ(idle.get("/health/live").status, 200);

    const auto [status, elapsed] = stop(relay);
    ASSERT_TRUE(status) << "still running 10 s after SIGTERM\n" << relay.process().stderrText();
    EXPECT_TRUE(status->exited) << status->describe();
    EXPECT_EQ(status->code, 0) << relay.process().stderrText();
    // The 2 s budget is the relay's own stop; the process exit (a sanitizer's leak check) comes on top.
    EXPECT_GE(test::reportedStopMs(relay.process().stderrText()), 0) << relay.process().stderrText();
    EXPECT_LT(test::reportedStopMs(relay.process().stderrText()), 2000) << relay.process().stderrText();
    EXPECT_LT(elapsed.count(), 5000) << relay.process().stderrText();
    const std::string err = relay.process().stderrText();
    EXPECT_NE(err.find("termination requested"), std::string::npos) << err;
    EXPECT_NE(err.find("stopped in"), std::string::npos) << err;

    const std::string checkpointKey = "nautilus-relay:checkpoint:" + relay.instanceId();
    EXPECT_EQ(redis.command({"EXISTS", checkpointKey}), "1");
    EXPECT_EQ(redis.command({"HGET", checkpointKey, kOrderKey}).rfind(lastId, 0), 0u)
        << redis.command({"HGETALL", checkpointKey});
    // The registry entry goes with the process.
    EXPECT_EQ(redis.command({"EXISTS", "nautilus-relay:instance:" + relay.instanceId()}), "0");
}

TEST(AppLifecycleTest, SigintStopsCleanlyToo)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis));
    ASSERT_TRUE(relay.waitUntilServing()) << relay.process().stderrText();
    const auto [status, elapsed] = stop(relay, SIGINT);
    ASSERT_TRUE(status);
    EXPECT_TRUE(status->exited) << status->describe();
    EXPECT_EQ(status->code, 0) << relay.process().stderrText();
    EXPECT_GE(test::reportedStopMs(relay.process().stderrText()), 0) << relay.process().stderrText();
    EXPECT_LT(test::reportedStopMs(relay.process().stderrText()), 2000) << relay.process().stderrText();
    EXPECT_LT(elapsed.count(), 5000);
}

TEST(AppLifecycleTest, RestartResumesAfterTheCheckpointWithoutLossOrDuplicates)
{
    RedisServer redis;
    auto settings = RelayProcess::defaults(redis);
    settings["bus.start"] = "checkpoint";
    settings["bus.start_fallback"] = "earliest";
    std::string lastId;
    {
        RelayProcess first(settings);
        ASSERT_TRUE(first.waitUntilServing()) << first.process().stderrText();
        for (int i = 0; i < 5; ++i) {
            lastId = xaddOrderFilled(redis, i);
        }
        ASSERT_EQ(received(first.waitForStatus([](const JsonPtr& s) { return received(s) >= 5; }, 10s)), 5);
        const auto [status, elapsed] = stop(first);
        ASSERT_TRUE(status && status->exited && status->code == 0) << first.process().stderrText();
    }
    // Written while no relay runs.
    std::vector<std::string> missed;
    for (int i = 5; i < 8; ++i) {
        missed.push_back(xaddOrderFilled(redis, i));
    }

    RelayProcess second(settings);  // same instance id, same checkpoints
    ASSERT_TRUE(second.waitUntilServing()) << second.process().stderrText();
    JsonPtr s = second.waitForStatus([&](const JsonPtr& st) { return lastIdOf(st, kOrderKey) == missed.back(); }, 10s);
    ASSERT_EQ(lastIdOf(s, kOrderKey), missed.back()) << second.process().stderrText();
    // Give a duplicate delivery time to show up, then count.
    std::this_thread::sleep_for(700ms);
    s = second.status();
    EXPECT_EQ(received(s), 3) << "entries before the checkpoint were read again, or some were lost";
    EXPECT_EQ(routedCount(second, kOrderTopic), "3");

    // And live delivery continues after the catch-up.
    const std::string live = xaddOrderFilled(redis, 8);
    s = second.waitForStatus([&](const JsonPtr& st) { return lastIdOf(st, kOrderKey) == live; }, 10s);
    EXPECT_EQ(received(s), 4);
    const auto [status, elapsed] = stop(second);
    EXPECT_TRUE(status && status->exited && status->code == 0) << second.process().stderrText();
}

TEST(AppLifecycleTest, LogMessagesLogsMatchingTopicsInJsonLines)
{
    RedisServer redis;
    auto settings = RelayProcess::defaults(redis);
    settings["relay.log_messages"] = "data.quotes.*";
    settings["logging.format"] = "json";
    RelayProcess relay(settings);
    ASSERT_TRUE(relay.waitUntilServing()) << relay.process().stderrText();
    const std::string quoteId = redis.command(
        {"XADD", "trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT", "*", "topic", "data.quotes.BINANCE.BTCUSDT",
         "type", "QuoteTick", "payload",
         R"({"type":"QuoteTick","instrument_id":"BTCUSDT.BINANCE","bid_price":"67000.10","ask_price":"67000.20",)"
         R"("bid_size":"1.5","ask_size":"2.0","ts_event":1719792000000000000,"ts_init":1719792000000000001})",
         "encoding", "Json"});
    ASSERT_FALSE(xaddOrderFilled(redis, 1).empty());
    ASSERT_TRUE(relay.process().waitForStderr(quoteId, 10s)) << relay.process().stderrText();
    ASSERT_TRUE(relay.waitUntilStatus([](const JsonPtr& s) { return received(s) >= 2; }, 10s));
    const auto [status, elapsed] = stop(relay);
    ASSERT_TRUE(status && status->exited && status->code == 0);

    const std::string err = relay.process().stderrText();
    std::istringstream lines(err);
    std::string line;
    int messageLines = 0;
    while (std::getline(lines, line)) {
        JsonPtr o;
        ASSERT_NO_THROW(o = test::parseJsonObject(line)) << line;
        if (o->getValue<std::string>("logger") == "relay.messages") {
            ++messageLines;
            EXPECT_EQ(o->getValue<std::string>("level"), "debug");
            // Entry ids are per stream (the quote and the order may share one), so look for the type.
            EXPECT_EQ(line.find("OrderFilled"), std::string::npos) << "events.order.* does not match data.quotes.*";
            EXPECT_NE(o->getValue<std::string>("msg").find("topic=data.quotes.BINANCE.BTCUSDT type=QuoteTick"),
                      std::string::npos);
        }
    }
    EXPECT_EQ(messageLines, 1);
}

}  // namespace
}  // namespace nautilus::relay

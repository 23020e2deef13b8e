// /ws interoperability with a client that shares no code with the relay: tests/interop/ws_client.mjs
// on Node.js with the npm `ws` package (installed into the build tree by `npm ci`, see
// tests/CMakeLists.txt). The real binary, a real redis-server; the script checks the protocol
// (upgrade refusals, replay, live messages, errors, keepalive, JWT, close codes) and this test
// checks its verdict, the ids it saw, and the relay's own figures.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/ProcessRelay.h"
#include "support/RedisServer.h"

namespace nautilus::relay {
namespace {

using namespace std::chrono_literals;
using test::Process;
using test::RedisServer;
using test::RelayProcess;
using JsonPtr = Poco::JSON::Object::Ptr;

const std::string kQuoteKey = "trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT";
const std::string kTradeKey = "trader-TRADER-001:stream:data.trades.BINANCE.BTCUSDT";
const std::string kOrderKey = "trader-TRADER-001:stream:events.order.S-001";
const std::string kBeatKey = "trader-TRADER-001:stream:health:heartbeat";
constexpr int kMaxFrameBytes = 4096;

std::string xadd(const RedisServer& redis, const std::string& key, const std::string& topic, const std::string& type,
                 const std::string& payload)
{
    return redis.command({"XADD", key, "*", "topic", topic, "type", type, "payload", payload, "encoding", "Json"});
}

std::string xaddOrder(const RedisServer& redis, int seq)
{
    return xadd(redis, kOrderKey, "events.order.S-001", "OrderFilled",
                R"({"type":"OrderFilled","client_order_id":"O-)" + std::to_string(seq) + R"(","seq":)" +
                    std::to_string(seq) + "}");
}

std::string xaddQuote(const RedisServer& redis, int seq)
{
    return xadd(redis, kQuoteKey, "data.quotes.BINANCE.BTCUSDT", "QuoteTick",
                R"({"type":"QuoteTick","instrument_id":"BTCUSDT.BINANCE","bid_price":"67000.5","seq":)" +
                    std::to_string(seq) + "}");
}

std::string xaddTrade(const RedisServer& redis, int seq)
{
    return xadd(redis, kTradeKey, "data.trades.BINANCE.BTCUSDT", "TradeTick",
                R"({"type":"TradeTick","price":"67000.1","seq":)" + std::to_string(seq) + "}");
}

bool waitForStdout(Process& p, const std::string& text, std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (p.stdoutText().find(text) != std::string::npos) {
            return true;
        }
        if (!p.running() || std::chrono::steady_clock::now() >= deadline) {
            return p.stdoutText().find(text) != std::string::npos;
        }
        std::this_thread::sleep_for(10ms);
    }
}

std::uint64_t wsFigure(const JsonPtr& status, const std::string& name)
{
    return status && status->getObject("websocket") ? status->getObject("websocket")->getValue<std::uint64_t>(name) : 0;
}

TEST(WsInteropTest, NodeWsClientSpeaksTheProtocol)
{
    const char* skip = std::getenv("NR_SKIP_INTEROP");
    if (skip != nullptr && std::string(skip) == "1") {
        GTEST_SKIP() << "NR_SKIP_INTEROP=1";
    }
    const std::string node = NR_NODE_EXECUTABLE;
    const std::string dir = NR_INTEROP_DIR;
    ASSERT_FALSE(node.empty()) << "the /ws interoperability test needs Node.js and npm: " << NR_INTEROP_PROBLEM
                               << " (NR_SKIP_INTEROP=1 skips this test)";
    ASSERT_TRUE(std::filesystem::exists(dir + "/npm-ci.stamp") && std::filesystem::exists(dir + "/node_modules/ws/package.json"))
        << "the npm ws package is not installed in " << dir
        << ": `npm ci` failed when integration_tests was built (see the build log's warning; it needs the npm "
           "registry). NR_SKIP_INTEROP=1 skips this test";

    RedisServer redis;
    // History for the replay: the script asks for everything from 0-0.
    const std::vector<std::string> replayIds = {xaddOrder(redis, 1), xaddQuote(redis, 2), xaddQuote(redis, 3)};
    const std::string oldTrade = xaddTrade(redis, 4);
    redis.command({"XADD", kBeatKey, "*", "topic", "health:heartbeat", "payload", "2024-07-01T00:00:10.123+00:00"});

    auto settings = RelayProcess::defaults(redis);
    settings["ws.auth.token"] = "interop-token";
    settings["ws.auth.jwt_secret"] = "interop-jwt-secret";
    settings["ws.ping_interval_ms"] = "400";  // the script waits for three pings
    settings["ws.max_frame_bytes"] = std::to_string(kMaxFrameBytes);
    RelayProcess relay(settings);
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    // Replays cover the streams the relay reads: wait until it reads all four and has read them.
    const auto caughtUp = [](const JsonPtr& s) {
        const auto bus = s->getObject("bus");
        return bus->getValue<int>("received") >= 4 && bus->getArray("streams")->size() >= 4;
    };
    const JsonPtr ready = relay.waitForStatus(caughtUp, 10s);
    ASSERT_TRUE(ready && caughtUp(ready)) << relay.process().stderrText();

    Process script(node, {dir + "/ws_client.mjs", "--port", std::to_string(relay.httpPort()), "--token", "interop-token",
                          "--jwt-secret", "interop-jwt-secret", "--max-frame-bytes", std::to_string(kMaxFrameBytes)});
    ASSERT_TRUE(waitForStdout(script, "READY", 10s)) << script.stdoutText() << script.stderrText();
    // Live: what the script must not get first, then what it must.
    const std::string liveTrade = xaddTrade(redis, 10);
    redis.command({"XADD", kBeatKey, "*", "topic", "health:heartbeat", "payload", "2024-07-01T00:00:11.123+00:00"});
    const std::string liveOrder = xaddOrder(redis, 11);
    const std::string liveQuote = xaddQuote(redis, 12);

    const auto exit = script.wait(20s);
    const std::string out = script.stdoutText();
    ASSERT_TRUE(exit.has_value()) << "node did not finish:\n" << out << script.stderrText();
    EXPECT_TRUE(exit->exited && exit->code == 0) << exit->describe() << "\n" << out << script.stderrText();
    EXPECT_NE(out.find("PASS:"), std::string::npos) << out;
    EXPECT_EQ(out.find("FAIL"), std::string::npos) << out;
    // The ids Redis gave the entries are the ids the client saw; the trades never reached it.
    // (Ids are per stream: the stream key is part of what identifies an entry.)
    const auto saw = [&out](const std::string& key, const std::string& id) {
        return out.find("stream=" + key + " id=" + id + " ") != std::string::npos;
    };
    EXPECT_TRUE(saw(kOrderKey, replayIds[0])) << out;
    EXPECT_TRUE(saw(kQuoteKey, replayIds[1])) << out;
    EXPECT_TRUE(saw(kQuoteKey, replayIds[2])) << out;
    EXPECT_TRUE(saw(kOrderKey, liveOrder)) << out;
    EXPECT_TRUE(saw(kQuoteKey, liveQuote)) << out;
    EXPECT_FALSE(saw(kTradeKey, oldTrade)) << out;
    EXPECT_FALSE(saw(kTradeKey, liveTrade)) << out;
    EXPECT_EQ(out.find("stream=" + kBeatKey), std::string::npos) << out;

    // The relay's side: four refused upgrades, one replay of three entries, one client closed
    // (1009), and no client left.
    const JsonPtr status = relay.waitForStatus([](const JsonPtr& s) { return wsFigure(s, "clients") == 0; }, 5s);
    ASSERT_TRUE(status);
    EXPECT_EQ(wsFigure(status, "clients"), 0u);
    EXPECT_EQ(wsFigure(status, "rejected_upgrades"), 4u);
    EXPECT_EQ(wsFigure(status, "replays"), 1u);
    EXPECT_EQ(wsFigure(status, "replayed"), 3u);
    EXPECT_EQ(wsFigure(status, "dropped_clients"), 1u);
    EXPECT_GE(wsFigure(status, "client_errors"), 4u);
}

}  // namespace
}  // namespace nautilus::relay

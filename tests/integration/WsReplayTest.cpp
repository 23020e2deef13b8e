// Replay through the real binary: "from" delivers Redis history and joins the live flow with no
// gap and no duplicate while a producer keeps writing; trimmed and reset streams say so; a bus
// reconnect gives status frames and loses nothing for a connected client.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>

#include "support/ProcessRelay.h"
#include "support/RedisServer.h"
#include "support/WsClient.h"

namespace nautilus::relay {
namespace {

using namespace std::chrono_literals;
using test::RedisServer;
using test::RelayProcess;
using test::WsClient;
using JsonPtr = Poco::JSON::Object::Ptr;

const std::string kPrefix = "trader-TRADER-001:stream:";

std::string jsonText(const JsonPtr& o)
{
    std::ostringstream s;
    o->stringify(s);
    return s.str();
}

std::string xaddSeq(const RedisServer& redis, const std::string& topic, int seq)
{
    return redis.command({"XADD", kPrefix + topic, "*", "topic", topic, "type", "QuoteTick", "payload",
                          R"({"type":"QuoteTick","seq":)" + std::to_string(seq) + "}", "encoding", "Json"});
}

/// Reads messages until `count` arrived or timeout; returns (topic, seq) in arrival order.
std::vector<std::pair<std::string, int>> readMessages(WsClient& c, std::size_t count, std::chrono::milliseconds timeout)
{
    std::vector<std::pair<std::string, int>> out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
        const JsonPtr m = c.receiveJson(1s);
        if (!m) {
            continue;
        }
        if (m->getValue<std::string>("op") == "message") {
            out.emplace_back(m->getValue<std::string>("topic"), m->getObject("payload")->getValue<int>("seq"));
        }
    }
    return out;
}

TEST(WsReplayTest, FromJoinsHistoryAndLiveWithNoGapAndNoDuplicateWhileAProducerWrites)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();

    constexpr int kTotal = 3000;
    std::vector<std::string> ids(kTotal + 1);
    std::atomic<int> written{0};
    std::thread producer([&] {
        for (int i = 1; i <= kTotal; ++i) {
            ids[static_cast<std::size_t>(i)] = xaddSeq(redis, "data.quotes.X", i);
            written.store(i);
            if (i % 20 == 0) {
                std::this_thread::sleep_for(1ms);
            }
        }
    });
    while (written.load() < 500) {
        std::this_thread::sleep_for(1ms);
    }
    // The relay has found the stream (the reader itself may still be far behind).
    ASSERT_TRUE(relay.waitUntilStatus(
        [](const JsonPtr& s) { return s->getObject("bus")->getArray("streams")->size() >= 1; }, 10s));
    const std::string from = ids[200];
    WsClient c(relay.httpPort());
    c.sendText(R"({"op":"subscribe","topics":["data.quotes.*"],"from":")" + from + R"("})");
    const JsonPtr reply = c.waitForOp("subscribed", 10s);
    ASSERT_TRUE(reply);
    EXPECT_TRUE(reply->getValue<bool>("recovered")) << reply->get("reason").toString();
    const auto msgs = readMessages(c, kTotal - 200, 30s);
    producer.join();
    ASSERT_EQ(msgs.size(), static_cast<std::size_t>(kTotal - 200));
    for (std::size_t i = 0; i < msgs.size(); ++i) {
        std::string around;
        for (std::size_t k = i >= 3 ? i - 3 : 0; k < std::min(msgs.size(), i + 4); ++k) {
            around += std::to_string(msgs[k].second) + " ";
        }
        ASSERT_EQ(msgs[i].second, static_cast<int>(201 + i)) << "at " << i << ": " << around;
    }
    EXPECT_FALSE(c.receive(300ms)) << "nothing more: no duplicate after the seam";
    const JsonPtr ws = relay.status()->getObject("websocket");
    EXPECT_EQ(ws->getValue<int>("replays"), 1);
    EXPECT_GT(ws->getValue<int>("replayed"), 0);
}

TEST(WsReplayTest, PerStreamFromAndStarDefaultKeepStreamOrderAndSendTheReplayMarker)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    std::vector<std::string> a, b;
    for (int i = 1; i <= 20; ++i) {
        a.push_back(xaddSeq(redis, "data.quotes.A", i));
        b.push_back(xaddSeq(redis, "data.quotes.B", 100 + i));
    }
    ASSERT_TRUE(relay.waitUntilStatus(
        [](const JsonPtr& s) { return s->getObject("bus")->getValue<int>("received") >= 40; }, 10s));

    WsClient c(relay.httpPort());
    // A: after its 15th entry; B: the "*" default, after its 5th.
    c.sendText(R"({"op":"subscribe","topics":["data.quotes.*"],"id":"r1","from":{")" + kPrefix + R"(data.quotes.A":")" +
               a[14] + R"(","*":")" + b[4] + R"("}})");
    const JsonPtr reply = c.waitForOp("subscribed");
    ASSERT_TRUE(reply);
    EXPECT_TRUE(reply->getValue<bool>("recovered"));
    EXPECT_EQ(reply->getValue<std::string>("id"), "r1");
    EXPECT_EQ(reply->getArray("streams")->size(), 2u);
    std::vector<int> seqA, seqB;
    bool marker = false;
    for (int n = 0; n < 40 && !marker; ++n) {
        const JsonPtr m = c.receiveJson();
        ASSERT_TRUE(m);
        if (m->getValue<std::string>("op") == "replayed") {
            marker = true;
            EXPECT_EQ(m->getValue<int>("count"), 5 + 15);
            break;
        }
        ASSERT_EQ(m->getValue<std::string>("op"), "message");
        (m->getValue<std::string>("topic") == "data.quotes.A" ? seqA : seqB)
            .push_back(m->getObject("payload")->getValue<int>("seq"));
    }
    EXPECT_TRUE(marker);
    EXPECT_EQ(seqA, (std::vector<int>{16, 17, 18, 19, 20}));
    ASSERT_EQ(seqB.size(), 15u);
    for (std::size_t i = 0; i < seqB.size(); ++i) {
        EXPECT_EQ(seqB[i], static_cast<int>(106 + i));
    }
    xaddSeq(redis, "data.quotes.A", 21);
    const auto live = readMessages(c, 1, 5s);
    ASSERT_EQ(live.size(), 1u);
    EXPECT_EQ(live[0].second, 21);
}

TEST(WsReplayTest, TrimmedResetAndUnknownStreamsAreNotRecovered)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    std::vector<std::string> ids;
    for (int i = 1; i <= 100; ++i) {
        ids.push_back(xaddSeq(redis, "data.quotes.T", i));
    }
    ASSERT_TRUE(relay.waitUntilStatus(
        [](const JsonPtr& s) { return s->getObject("bus")->getValue<int>("received") >= 100; }, 10s));
    redis.command({"XTRIM", kPrefix + "data.quotes.T", "MAXLEN", "50"});

    WsClient trimmed(relay.httpPort());
    const JsonPtr r1 = trimmed.subscribe(R"(["data.quotes.*"])", R"("from":")" + ids[9] + R"(")");
    ASSERT_TRUE(r1);
    EXPECT_FALSE(r1->getValue<bool>("recovered"));
    EXPECT_NE(r1->getValue<std::string>("reason").find("trimmed"), std::string::npos) << r1->getValue<std::string>("reason");
    const auto got = readMessages(trimmed, 50, 10s);
    ASSERT_EQ(got.size(), 50u);
    EXPECT_EQ(got.front().second, 51);
    EXPECT_EQ(got.back().second, 100);

    // An id given for this stream, after its last one: the stream was reset.
    WsClient reset(relay.httpPort());
    const JsonPtr r2 = reset.subscribe(R"(["data.quotes.*"])",
                                       R"("from":{")" + kPrefix + R"(data.quotes.T":"99999999999999-0"})");
    ASSERT_TRUE(r2);
    EXPECT_FALSE(r2->getValue<bool>("recovered")) << jsonText(r2);
    EXPECT_NE(r2->getValue<std::string>("reason").find("reset"), std::string::npos);

    // A "*" or single id is a point in time with one stream per topic (the browser example's
    // "since"): a stream quiet since then has nothing after it, completely.
    for (const std::string from : {R"("from":{"*":"99999999999999-0"})", R"("from":"99999999999999-0")"}) {
        WsClient quiet(relay.httpPort());
        const JsonPtr r4 = quiet.subscribe(R"(["data.quotes.*"])", from);
        ASSERT_TRUE(r4) << from;
        EXPECT_TRUE(r4->getValue<bool>("recovered")) << jsonText(r4);
        const JsonPtr done = quiet.waitForOp("replayed");
        ASSERT_TRUE(done) << from;
        EXPECT_EQ(done->getValue<int>("count"), 0) << from;
    }

    WsClient unknown(relay.httpPort());
    const JsonPtr r3 = unknown.subscribe(R"(["data.quotes.*"])", R"("from":{"some:other:key":"1-0"})");
    ASSERT_TRUE(r3);
    EXPECT_FALSE(r3->getValue<bool>("recovered"));
    EXPECT_NE(r3->getValue<std::string>("reason").find("not a stream this relay reads"), std::string::npos);
}

TEST(WsReplayTest, ABusReconnectSendsStatusFramesAndLosesNothing)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    WsClient c(relay.httpPort());
    ASSERT_TRUE(c.subscribe(R"(["data.*"])"));
    for (int i = 1; i <= 50; ++i) {
        xaddSeq(redis, "data.quotes.R", i);
    }
    // Kill the relay's connections; the producer goes on while it reconnects.
    redis.command({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"});
    for (int i = 51; i <= 100; ++i) {
        xaddSeq(redis, "data.quotes.R", i);
    }
    std::vector<int> seqs;
    std::vector<std::string> states;
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (seqs.size() < 100 && std::chrono::steady_clock::now() < deadline) {
        const JsonPtr m = c.receiveJson(1s);
        if (!m) {
            continue;
        }
        if (m->getValue<std::string>("op") == "status") {
            states.push_back(m->getObject("bus")->getValue<std::string>("state"));
        } else if (m->getValue<std::string>("op") == "message") {
            seqs.push_back(m->getObject("payload")->getValue<int>("seq"));
        }
    }
    ASSERT_EQ(seqs.size(), 100u);
    for (int i = 0; i < 100; ++i) {
        ASSERT_EQ(seqs[static_cast<std::size_t>(i)], i + 1);
    }
    // Any status frames still in flight.
    while (const JsonPtr m = c.receiveJson(500ms)) {
        if (m->getValue<std::string>("op") == "status") {
            states.push_back(m->getObject("bus")->getValue<std::string>("state"));
        }
    }
    ASSERT_FALSE(states.empty()) << "a reconnect must be reported";
    EXPECT_NE(std::find(states.begin(), states.end(), "reconnecting"), states.end());
    EXPECT_EQ(states.back(), "connected");
}

}  // namespace
}  // namespace nautilus::relay

// Replay through the real binary: "from" delivers Redis history and joins the live flow with no
// gap and no duplicate while a producer keeps writing; trimmed and reset streams say so; a bus
// reconnect gives status frames and loses nothing for a connected client.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>
#include <Poco/Net/WebSocket.h>

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

/// XADDs seq from..to of `type` on topic's stream in one EVAL, each padded by `padding` bytes.
void xaddMany(const RedisServer& redis, const std::string& topic, const std::string& type, int from, int to,
              std::size_t padding)
{
    redis.command({"EVAL",
                   "for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do redis.call('XADD', KEYS[1], '*', 'topic', ARGV[3], "
                   "'type', ARGV[4], 'payload', '{\"type\":\"' .. ARGV[4] .. '\",\"seq\":' .. i .. ',\"pad\":\"' .. "
                   "ARGV[5] .. '\"}', 'encoding', 'Json') end return 1",
                   "1", kPrefix + topic, std::to_string(from), std::to_string(to), topic, type, std::string(padding, 'x')});
}

/// XADDs seq from..to on topic's stream in one EVAL, odd seq OrderAccepted and even OrderFilled,
/// each padded by `padding` bytes.
void xaddOrderEvents(const RedisServer& redis, const std::string& topic, int from, int to, std::size_t padding)
{
    redis.command({"EVAL",
                   "for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do local t = (i % 2 == 0) and 'OrderFilled' or "
                   "'OrderAccepted' redis.call('XADD', KEYS[1], '*', 'topic', ARGV[3], 'type', t, 'payload', "
                   "'{\"type\":\"' .. t .. '\",\"seq\":' .. i .. ',\"pad\":\"' .. ARGV[4] .. '\"}', 'encoding', 'Json') end "
                   "return 1",
                   "1", kPrefix + topic, std::to_string(from), std::to_string(to), topic, std::string(padding, 'x')});
}

/// Order events received (xaddOrderEvents: odd seq accepted, even filled), checked: the
/// first out of stream order, if any, and each type's seqs.
struct ReceivedOrders {
    std::string firstDisorder;
    std::vector<int> fills;
    std::vector<int> accepted;
};

ReceivedOrders splitOrders(const std::vector<int>& seqs)
{
    ReceivedOrders r;
    for (std::size_t i = 0; i < seqs.size(); ++i) {
        if (i > 0 && seqs[i] <= seqs[i - 1] && r.firstDisorder.empty()) {
            r.firstDisorder = std::to_string(seqs[i - 1]) + " then " + std::to_string(seqs[i]) + " (message " +
                              std::to_string(i) + ")";
        }
        (seqs[i] % 2 == 0 ? r.fills : r.accepted).push_back(seqs[i]);
    }
    return r;
}

/// from, from + 1, ... up to last.
std::vector<int> inclusiveRange(int from, int last)
{
    std::vector<int> v(static_cast<std::size_t>(std::max(0, last - from + 1)));
    std::iota(v.begin(), v.end(), from);
    return v;
}

/// from, from + 2, ... up to last.
std::vector<int> everyOther(int from, int last)
{
    std::vector<int> v;
    for (int i = from; i <= last; i += 2) {
        v.push_back(i);
    }
    return v;
}

/// Milliseconds since the epoch: the time part of the stream ids Redis gives now.
long long wallClockMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
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
    ASSERT_TRUE(relay.waitUntilReceived(40, 10s));

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
    ASSERT_TRUE(relay.waitUntilReceived(100, 10s));
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

TEST(WsReplayTest, LiveMessagesDroppedDuringAReplayAreReadAgainForEverySubscriptionOfTheClient)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis, {{"ws.queue_bytes", "65536"}, {"ws.stall_timeout_ms", "60000"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    constexpr int kOrders = 10000;
    constexpr int kPositions = 300;
    // 20 MB of history: more than the sockets take (a 4 MB send buffer at most on Debian).
    xaddMany(redis, "events.order.S-001", "OrderFilled", 1, kOrders, 2000);
    ASSERT_TRUE(relay.waitUntilReceived(kOrders, 20s));

    WsClient c(relay.httpPort(), "/ws", {}, 256 * 1024);
    ASSERT_TRUE(c.subscribe(R"(["events.position.*"])"));  // live only
    c.sendText(R"({"op":"subscribe","topics":["events.order.*"],"from":"0-0","id":7})");
    // The replay now waits for this client to read (its sockets and 64 KB queue are full) ...
    ASSERT_TRUE(relay.waitUntilStatus(
        [](const JsonPtr& s) {
            const auto ws = s->getObject("websocket");
            return ws->getValue<int>("replays_running") == 1 && ws->getValue<std::int64_t>("max_client_queue_bytes") > 30000;
        },
        20s))
        << relay.get("/status").body;
    // ... while 300 KB of position events arrive: more than the 64 KB of live messages held
    // during a replay, so they are dropped there and must be read again from Redis.
    xaddMany(redis, "events.position.S-001", "PositionChanged", 1, kPositions, 1000);
    ASSERT_TRUE(relay.waitUntilReceived(kOrders + kPositions, 20s));

    std::vector<int> orders;
    std::vector<int> positions;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while ((orders.size() < kOrders || positions.size() < kPositions) && std::chrono::steady_clock::now() < deadline) {
        const JsonPtr m = c.receiveJson(2s);
        if (!m || m->getValue<std::string>("op") != "message") {
            continue;
        }
        const int seq = m->getObject("payload")->getValue<int>("seq");
        (m->getValue<std::string>("topic").starts_with("events.order.") ? orders : positions).push_back(seq);
    }
    std::vector<int> allOrders(kOrders);
    std::iota(allOrders.begin(), allOrders.end(), 1);
    std::vector<int> allPositions(kPositions);
    std::iota(allPositions.begin(), allPositions.end(), 1);
    EXPECT_EQ(orders, allOrders) << orders.size() << " orders";  // each once, in stream order
    EXPECT_EQ(positions, allPositions) << positions.size() << " positions";
}

/// Reads order events until a close frame (or nothing for 10 s): how many, whether each seq
/// followed the one before, and the close frame.
struct UntilClose {
    int orders = 0;
    bool noGap = true;
    std::string firstGap;  ///< "after <seq>: <seq>"
    std::optional<test::WsFrameIn> close;
};
UntilClose readUntilClose(WsClient& c, const std::string& topicPrefix)
{
    UntilClose out;
    int last = 0;
    while (auto f = c.receive(10s)) {
        if (f->opcode == Poco::Net::WebSocket::FRAME_OP_CLOSE) {
            out.close = f;
            break;
        }
        const JsonPtr m = test::parseJsonObject(f->data);
        if (m->getValue<std::string>("op") == "message" && m->getValue<std::string>("topic").starts_with(topicPrefix)) {
            const int seq = m->getObject("payload")->getValue<int>("seq");
            if (out.noGap && seq != last + 1) {
                out.noGap = false;
                out.firstGap = "after " + std::to_string(last) + ": " + std::to_string(seq);
            }
            last = seq;
            ++out.orders;
        }
    }
    return out;
}

TEST(WsReplayTest, AClientThatFellBehindPastWhatRedisKeepsIsClosedToResumeAndNotSkippedSilently)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis, {{"ws.queue_bytes", "65536"}, {"ws.stall_timeout_ms", "60000"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    // A live client of order events that does not read falls behind: its catch-up from Redis
    // starts and waits for it to read, and meanwhile the stream is trimmed past where the
    // catch-up is (20 MB: more than the sockets take).
    constexpr int kEach = 10000;
    WsClient slow(relay.httpPort(), "/ws", {}, 256 * 1024);
    ASSERT_TRUE(slow.subscribe(R"(["events.order.*"])"));
    xaddMany(redis, "events.order.S-001", "OrderFilled", 1, kEach, 2000);
    ASSERT_TRUE(relay.waitUntilReceived(kEach, 20s));
    redis.command({"XTRIM", kPrefix + "events.order.S-001", "MAXLEN", "10"});

    const UntilClose got = readUntilClose(slow, "events.order.");
    ASSERT_TRUE(got.close) << got.orders << " orders and no close; " << relay.process().stderrText();
    EXPECT_EQ(got.close->closeCode(), 1013);
    EXPECT_NE(got.close->data.find("fell behind, and Redis no longer has " + kPrefix + "events.order.S-001 "),
              std::string::npos)
        << got.close->data;
    EXPECT_TRUE(got.noGap) << "what it got before the close has no gap; " << got.firstGap;
    EXPECT_LT(got.orders, kEach - 10);
    EXPECT_NE(relay.get("/metrics").body.find(R"(nautilus_relay_ws_dropped_clients_total{reason="trimmed"} 1)"),
              std::string::npos);
}

TEST(WsReplayTest, EventsDroppedDuringAReplayAndTrimmedBeforeTheyAreReadAgainCloseTheClient)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis, {{"ws.queue_bytes", "65536"}, {"ws.stall_timeout_ms", "60000"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    constexpr int kQuotes = 10000;
    constexpr int kOrders = 300;
    xaddMany(redis, "data.quotes.X", "QuoteTick", 1, kQuotes, 2000);
    ASSERT_TRUE(relay.waitUntilReceived(kQuotes, 20s));
    // Live order events, and a replay of 20 MB of quotes the client does not read yet: the
    // orders arriving meanwhile are more than the 64 KB held during a replay, so they are
    // dropped to be read again from Redis after it, but Redis trims them first.
    WsClient c(relay.httpPort(), "/ws", {}, 256 * 1024);
    ASSERT_TRUE(c.subscribe(R"(["events.order.*"])"));
    c.sendText(R"({"op":"subscribe","topics":["data.quotes.*"],"from":"0-0"})");
    ASSERT_TRUE(relay.waitUntilStatus(
        [](const JsonPtr& s) { return s->getObject("websocket")->getValue<std::int64_t>("max_client_queue_bytes") > 30000; },
        20s));
    xaddMany(redis, "events.order.S-001", "OrderFilled", 1, kOrders, 1000);
    ASSERT_TRUE(relay.waitUntilReceived(kQuotes + kOrders, 20s));
    redis.command({"XTRIM", kPrefix + "events.order.S-001", "MAXLEN", "10"});

    const UntilClose got = readUntilClose(c, "events.order.");
    ASSERT_TRUE(got.close) << got.orders << " orders and no close; " << relay.process().stderrText();
    EXPECT_EQ(got.close->closeCode(), 1013);
    EXPECT_NE(got.close->data.find("no longer has " + kPrefix + "events.order.S-001 from "), std::string::npos)
        << got.close->data;
    EXPECT_EQ(got.orders, 0) << "the orders after the gap are not sent";
}

/// A replay of 10 000 orders the client does not read; `cut` runs while it waits; the client
/// must then be closed with 1013 and get nothing after the gap.
void expectAReplayCutShortIsClosed(const std::function<void(const RedisServer&)>& cut, const std::string& closeText)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis, {{"ws.queue_bytes", "65536"}, {"ws.stall_timeout_ms", "60000"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    constexpr int kOrders = 10000;
    xaddMany(redis, "events.order.S-001", "OrderFilled", 1, kOrders, 2000);
    ASSERT_TRUE(relay.waitUntilReceived(kOrders, 20s));
    // Complete when asked for (recovered), then trimmed while the client reads nothing.
    WsClient c(relay.httpPort(), "/ws", {}, 256 * 1024);
    c.sendText(R"({"op":"subscribe","topics":["events.order.*"],"from":"0-0"})");
    ASSERT_TRUE(relay.waitUntilStatus(
        [](const JsonPtr& s) { return s->getObject("websocket")->getValue<std::int64_t>("max_client_queue_bytes") > 30000; },
        20s));
    cut(redis);

    const JsonPtr subscribed = c.waitForOp("subscribed", 5s);
    ASSERT_TRUE(subscribed);
    EXPECT_TRUE(subscribed->getValue<bool>("recovered"));
    const UntilClose got = readUntilClose(c, "events.order.");
    ASSERT_TRUE(got.close) << got.orders << " orders and no close; " << relay.process().stderrText();
    EXPECT_EQ(got.close->closeCode(), 1013);
    EXPECT_NE(got.close->data.find(closeText), std::string::npos) << got.close->data;
    EXPECT_TRUE(got.noGap) << "nothing after the gap is sent; " << got.firstGap;
    EXPECT_LT(got.orders, kOrders - 10);
}

TEST(WsReplayTest, AReplayThatTrimmingOvertakesClosesTheClientInsteadOfSkipping)
{
    expectAReplayCutShortIsClosed(
        [](const RedisServer& redis) { redis.command({"XTRIM", kPrefix + "events.order.S-001", "MAXLEN", "10"}); },
        "Redis trimmed what the replay was sending: it no longer has " + kPrefix + "events.order.S-001 after ");
}

TEST(WsReplayTest, AReplayWhoseStreamIsDeletedMeanwhileClosesTheClient)
{
    expectAReplayCutShortIsClosed([](const RedisServer& redis) { redis.command({"DEL", kPrefix + "events.order.S-001"}); },
                                  "it no longer has " + kPrefix + "events.order.S-001 from ");
}

TEST(WsReplayTest, AClientThatDoesNotReadHoldsNoReplayThread)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(
        redis, {{"ws.queue_bytes", "65536"}, {"ws.stall_timeout_ms", "60000"}, {"ws.replay_threads", "1"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    constexpr int kOrders = 10000;
    constexpr int kPositions = 50;
    xaddMany(redis, "events.order.S-001", "OrderFilled", 1, kOrders, 2000);
    xaddMany(redis, "events.position.S-001", "PositionChanged", 1, kPositions, 100);
    ASSERT_TRUE(relay.waitUntilReceived(kOrders + kPositions, 20s));
    // Two clients that replay 20 MB each and read nothing for now ...
    WsClient stuck1(relay.httpPort(), "/ws", {}, 256 * 1024);
    WsClient stuck2(relay.httpPort(), "/ws", {}, 256 * 1024);
    for (WsClient* s : {&stuck1, &stuck2}) {
        s->sendText(R"({"op":"subscribe","topics":["events.order.*"],"from":"0-0"})");
    }
    ASSERT_TRUE(relay.waitUntilStatus(
        [](const JsonPtr& s) { return s->getObject("websocket")->getValue<std::int64_t>("queue_bytes") > 60000; }, 20s));
    // ... do not hold up a third client's replay on the one replay thread.
    WsClient other(relay.httpPort());
    other.sendText(R"({"op":"subscribe","topics":["events.position.*"],"from":"0-0"})");
    const JsonPtr replayed = other.waitForOp("replayed", 10s);
    ASSERT_TRUE(replayed) << relay.get("/status").body;
    EXPECT_EQ(replayed->getValue<int>("count"), kPositions);
    // The two get all of theirs, in order, once they read.
    for (WsClient* s : {&stuck1, &stuck2}) {
        const auto got = readMessages(*s, kOrders, 60s);
        ASSERT_EQ(got.size(), static_cast<std::size_t>(kOrders));
        bool inOrder = true;
        for (int i = 0; i < kOrders; ++i) {
            inOrder = inOrder && got[static_cast<std::size_t>(i)].second == i + 1;
        }
        EXPECT_TRUE(inOrder);
    }
}

TEST(WsReplayTest, StreamsTrimmedAfterTheyWereSentOrEmptyWhenCheckedDoNotCloseAReplay)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis, {{"ws.queue_bytes", "65536"}, {"ws.stall_timeout_ms", "60000"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    // Read in key order: accounts (replayed first, then trimmed by MAXLEN as it grows), orders
    // (20 MB: the replay waits for the client there), positions (empty when the replay checks).
    constexpr int kAccounts = 100;
    constexpr int kOrders = 10000;
    xaddMany(redis, "events.account.S-001", "AccountState", 1, kAccounts, 100);
    xaddMany(redis, "events.order.S-001", "OrderFilled", 1, kOrders, 2000);
    redis.command({"XGROUP", "CREATE", kPrefix + "events.position.S-001", "g", "$", "MKSTREAM"});
    ASSERT_TRUE(relay.waitUntilStatus(
        [&](const JsonPtr& s) {
            return s->getObject("bus")->getValue<std::int64_t>("received") >= kAccounts + kOrders &&
                   s->getObject("bus")->getArray("streams")->size() == 3;
        },
        20s))
        << relay.get("/status").body;
    WsClient c(relay.httpPort(), "/ws", {}, 256 * 1024);
    c.sendText(R"({"op":"subscribe","topics":["events.*"],"from":"0-0"})");
    ASSERT_TRUE(relay.waitUntilStatus(
        [](const JsonPtr& s) { return s->getObject("websocket")->getValue<std::int64_t>("max_client_queue_bytes") > 30000; },
        20s));
    // While the replay waits in the orders: 50 more accounts, keeping 20 (what was replayed is
    // trimmed, nothing the client needs), and 5 positions on the stream that was empty. Ten at
    // a time, each ten read by the relay before the next: on a loaded machine its reader could
    // otherwise fall 20 behind, and entries trimmed before the relay read them are lost to it.
    for (int i = kAccounts + 1; i <= kAccounts + 50; ++i) {
        redis.command({"XADD", kPrefix + "events.account.S-001", "MAXLEN", "20", "*", "topic", "events.account.S-001",
                       "type", "AccountState", "payload", R"({"type":"AccountState","seq":)" + std::to_string(i) + "}",
                       "encoding", "Json"});
        if (i % 10 == 0) {
            ASSERT_TRUE(relay.waitUntilReceived(kOrders + i, 20s)) << relay.get("/status").body;
        }
    }
    xaddMany(redis, "events.position.S-001", "PositionChanged", 1, 5, 100);
    ASSERT_TRUE(relay.waitUntilReceived(kAccounts + kOrders + 55, 20s));

    std::map<std::string, std::vector<int>> seqs;
    std::optional<test::WsFrameIn> close;
    while (seqs["events.order.S-001"].size() < kOrders || seqs["events.account.S-001"].size() < kAccounts + 50 ||
           seqs["events.position.S-001"].size() < 5) {
        auto f = c.receive(10s);
        if (!f || f->opcode == Poco::Net::WebSocket::FRAME_OP_CLOSE) {
            close = f;
            break;
        }
        const JsonPtr m = test::parseJsonObject(f->data);
        if (m->getValue<std::string>("op") == "message") {
            seqs[m->getValue<std::string>("topic")].push_back(m->getObject("payload")->getValue<int>("seq"));
        }
    }
    EXPECT_FALSE(close) << (close ? close->data : std::string());
    const auto oneToN = [](int n) {
        std::vector<int> v(static_cast<std::size_t>(n));
        std::iota(v.begin(), v.end(), 1);
        return v;
    };
    EXPECT_EQ(seqs["events.account.S-001"], oneToN(kAccounts + 50));
    EXPECT_EQ(seqs["events.order.S-001"].size(), static_cast<std::size_t>(kOrders));
    EXPECT_EQ(seqs["events.position.S-001"], oneToN(5));
}

/// One order stream under a replay: 5000 order events of 2 KB (10 MB: a replay takes a while;
/// odd seq OrderAccepted, even OrderFilled) in Redis before the client connects, a relay with a
/// 1 MiB send queue, and a producer that adds 5001..8000 (500 bytes, one a millisecond).
struct OrderEventsUnderReplay {
    static constexpr int kHistory = 5000;
    static constexpr int kLast = 8000;
    const std::string topic = "events.order.S-001";
    RedisServer redis;
    RelayProcess relay{RelayProcess::defaults(redis, {{"ws.queue_bytes", "1048576"}, {"ws.stall_timeout_ms", "60000"}})};
    std::atomic<bool> stop{false};
    std::atomic<int> lastWritten{kHistory};
    std::thread producer;

    ~OrderEventsUnderReplay() { stopProducer(); }
    bool ready()
    {
        if (!relay.waitUntilConnected()) {
            return false;
        }
        xaddOrderEvents(redis, topic, 1, kHistory, 2000);
        return relay.waitUntilReceived(kHistory, 20s);
    }
    /// Writes kHistory + 1 .. last, or until stopped.
    void startProducer(int last = kLast)
    {
        producer = std::thread([this, last] {
            for (int i = kHistory + 1; i <= last && !stop; ++i) {
                xaddOrderEvents(redis, topic, i, i, 500);
                lastWritten = i;
                std::this_thread::sleep_for(1ms);
            }
        });
    }
    void stopProducer()
    {
        stop = true;
        if (producer.joinable()) {
            producer.join();
        }
    }
};

/// A client with every order event live subscribes fills only on an overlapping pattern with
/// "from" while a producer writes: from "0-0", or (futureFrom) from a time just ahead, after
/// the last message it had live.
void overlappingReplay(bool futureFrom)
{
    OrderEventsUnderReplay o;
    ASSERT_TRUE(o.ready()) << o.relay.process().stderrText();
    constexpr int kLast = OrderEventsUnderReplay::kLast;
    WsClient c(o.relay.httpPort(), "/ws", {}, 256 * 1024);
    ASSERT_TRUE(c.subscribe(R"(["events.order.*"])"));  // every order event, live
    o.startProducer();
    // A few live ones, then fills only, from the start, on a pattern that overlaps.
    std::vector<int> before;
    std::vector<int> after;
    bool subscribed = false;
    bool asked = false;
    const auto deadline = std::chrono::steady_clock::now() + 90s;
    while ((after.empty() || after.back() < kLast) && std::chrono::steady_clock::now() < deadline) {
        const JsonPtr m = c.receiveJson(5s);
        if (!m) {
            continue;
        }
        const std::string op = m->getValue<std::string>("op");
        if (op == "subscribed") {
            subscribed = true;
        } else if (op == "message") {
            (subscribed ? after : before).push_back(m->getObject("payload")->getValue<int>("seq"));
        }
        if (!asked && before.size() >= 10) {
            const long long nowMs = wallClockMs();
            const std::string from = futureFrom ? std::to_string(nowMs + 300) : "0-0";
            c.sendText(R"({"op":"subscribe","topics":["events.*"],"types":["OrderFilled"],"from":")" + from + R"("})");
            asked = true;
        }
    }
    o.stopProducer();
    ASSERT_TRUE(subscribed);
    ASSERT_FALSE(before.empty());
    const int lastLive = before.back();
    // The stream's messages after the subscribe are in stream order: the replayed fills first,
    // then every order event after the last one it had live, each once.
    std::string firstDisorder;
    for (std::size_t i = 1; i < after.size() && firstDisorder.empty(); ++i) {
        if (after[i] <= after[i - 1]) {
            firstDisorder = std::to_string(after[i - 1]) + " then " + std::to_string(after[i]);
        }
    }
    EXPECT_TRUE(firstDisorder.empty()) << firstDisorder << " (had " << lastLive << " live)";
    std::vector<int> expected;
    for (int i = 2; i <= lastLive && !futureFrom; i += 2) {
        expected.push_back(i);  // fills replayed from the start
    }
    for (int i = lastLive + 1; i <= kLast; ++i) {
        expected.push_back(i);  // everything after the live point
    }
    std::vector<int> got = after;
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, expected) << after.size() << " after the subscribe, " << lastLive << " live before";
}

TEST(WsReplayTest, AReplayOverlappingALiveSubscriptionKeepsTheStreamInOrder)
{
    overlappingReplay(false);
}

TEST(WsReplayTest, AReplayFromAfterTheLivePointOfAnOverlappingSubscriptionLosesNothingInBetween)
{
    overlappingReplay(true);
}

/// "ms-seq" as a pair, ordered as Redis orders stream ids.
std::pair<long long, long long> streamIdOf(const std::string& id)
{
    const auto dash = id.find('-');
    return {std::stoll(id.substr(0, dash)), std::stoll(id.substr(dash + 1))};
}

TEST(WsReplayTest, AFromAheadOfTheLiveFlowHoldsBackNoneOfItsOwnMessagesUpToIt)
{
    // A client with accepted orders live asks for fills on an overlapping pattern from a point
    // the relay has not read yet (say, an id it had from another relay). The replay reads the
    // stream from the live point for the accepted orders, and sends fills only after from: the
    // fills held meanwhile up to from are the client's already, and must not follow newer entries.
    OrderEventsUnderReplay o;
    ASSERT_TRUE(o.ready()) << o.relay.process().stderrText();
    constexpr int kLast = OrderEventsUnderReplay::kLast;
    WsClient c(o.relay.httpPort(), "/ws", {}, 256 * 1024);
    ASSERT_TRUE(c.subscribe(R"(["events.order.*"])", R"("types":["OrderAccepted"])"));
    o.startProducer();
    std::vector<int> before;
    std::vector<std::pair<int, std::string>> after;  // seq, stream id
    std::optional<std::pair<long long, long long>> from;
    bool replayed = false;
    const auto deadline = std::chrono::steady_clock::now() + 90s;
    while ((after.empty() || after.back().first < kLast - 1) && std::chrono::steady_clock::now() < deadline) {
        const JsonPtr m = c.receiveJson(5s);
        if (!m) {
            continue;
        }
        const std::string op = m->getValue<std::string>("op");
        if (op == "message") {
            const int seq = m->getObject("payload")->getValue<int>("seq");
            if (from) {
                after.emplace_back(seq, m->getValue<std::string>("id"));
            } else {
                before.push_back(seq);
            }
        } else if (op == "replayed") {
            replayed = true;
        }
        if (!from && before.size() >= 10) {
            const long long nowMs = wallClockMs();
            from = std::pair<long long, long long>{nowMs + 300, 0};
            c.sendText(R"({"op":"subscribe","topics":["events.*"],"types":["OrderFilled"],"from":")" +
                       std::to_string(from->first) + R"(-0"})");
        }
    }
    o.stopProducer();
    ASSERT_TRUE(from);
    EXPECT_TRUE(replayed);
    std::string firstDisorder;
    std::string fillUpToFrom;
    std::vector<int> accepted;
    for (std::size_t i = 0; i < after.size(); ++i) {
        if (i > 0 && after[i].first <= after[i - 1].first && firstDisorder.empty()) {
            firstDisorder = std::to_string(after[i - 1].first) + " then " + std::to_string(after[i].first);
        }
        if (after[i].first % 2 == 0 && streamIdOf(after[i].second) <= *from && fillUpToFrom.empty()) {
            fillUpToFrom = std::to_string(after[i].first) + " (" + after[i].second + ")";
        }
        if (after[i].first % 2 == 1) {
            accepted.push_back(after[i].first);
        }
    }
    EXPECT_TRUE(firstDisorder.empty()) << firstDisorder;
    std::string head;
    for (std::size_t i = 0; i < std::min<std::size_t>(after.size(), 12); ++i) {
        head += std::to_string(after[i].first) + "@" + after[i].second + " ";
    }
    EXPECT_TRUE(fillUpToFrom.empty()) << "fill " << fillUpToFrom << " is not after from " << from->first << "; live up to "
                                      << before.back() << ", then " << head;
    // Every accepted order after the last one it had live, once; fills after from.
    std::vector<int> expected;
    for (int i = before.back() + 2; i <= kLast - 1; i += 2) {
        expected.push_back(i);
    }
    EXPECT_EQ(accepted, expected);
    EXPECT_GT(after.size(), accepted.size()) << "fills after from";
}

TEST(WsReplayTest, AFromAheadOfTheRelaysReaderHoldsBackNoneOfItsOwnMessagesUpToIt)
{
    // As above, but the relay's reader is behind Redis when the replay starts (a burst just
    // written): the replay and the live flow read the same entries, and the live copies of the
    // fills up to from, held meanwhile, are the client's already. The default 8 MiB queue
    // holds all of the 3 MB burst: none is dropped and read again.
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis, {{"ws.stall_timeout_ms", "60000"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    const std::string topic = "events.order.S-001";
    xaddOrderEvents(redis, topic, 1, 20, 200);
    ASSERT_TRUE(relay.waitUntilReceived(20, 10s));
    WsClient c(relay.httpPort(), "/ws", {}, 256 * 1024);
    ASSERT_TRUE(c.subscribe(R"(["events.order.*"])", R"("types":["OrderAccepted"])"));
    constexpr int kBurst = 8000;
    constexpr int kLast = kBurst + 100;
    xaddOrderEvents(redis, topic, 21, kBurst, 200);
    const long long nowMs = wallClockMs();
    const std::pair<long long, long long> from{nowMs + 300, 0};
    c.sendText(R"({"op":"subscribe","topics":["events.*"],"types":["OrderFilled"],"from":")" + std::to_string(from.first) +
               R"(-0"})");
    std::thread tail([&] {
        std::this_thread::sleep_for(600ms);  // after from
        xaddOrderEvents(redis, topic, kBurst + 1, kLast, 200);
    });
    std::vector<std::pair<int, std::string>> got;  // seq, stream id
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while ((got.empty() || got.back().first < kLast) && std::chrono::steady_clock::now() < deadline) {
        const JsonPtr m = c.receiveJson(5s);
        if (m && m->getValue<std::string>("op") == "message") {
            got.emplace_back(m->getObject("payload")->getValue<int>("seq"), m->getValue<std::string>("id"));
        }
    }
    tail.join();
    std::string firstDisorder;
    std::string fillUpToFrom;
    std::vector<int> accepted;
    std::vector<int> fills;
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (i > 0 && got[i].first <= got[i - 1].first && firstDisorder.empty()) {
            firstDisorder = std::to_string(got[i - 1].first) + " then " + std::to_string(got[i].first);
        }
        if (got[i].first % 2 == 0) {
            fills.push_back(got[i].first);
            if (streamIdOf(got[i].second) <= from && fillUpToFrom.empty()) {
                fillUpToFrom = std::to_string(got[i].first) + " (" + got[i].second + ")";
            }
        } else {
            accepted.push_back(got[i].first);
        }
    }
    EXPECT_TRUE(firstDisorder.empty()) << firstDisorder;
    EXPECT_TRUE(fillUpToFrom.empty()) << "fill " << fillUpToFrom << " is not after from " << from.first;
    std::vector<int> expected;
    for (int i = 21; i <= kLast; i += 2) {
        expected.push_back(i);
    }
    EXPECT_EQ(accepted, expected);
    std::vector<int> tailFills;
    for (int i = kBurst + 2; i <= kLast; i += 2) {
        tailFills.push_back(i);
    }
    EXPECT_EQ(fills, tailFills);
}

TEST(WsReplayTest, AStreamListedInFromIsNotHeldBackByTheStarIdAfterTheReplay)
{
    // {"<L>": id, "*": later}: the "*" id is for streams not listed. Entries written on L after
    // the replay, with ids before the "*" one, are L's new entries and go out.
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    const std::string topic = "data.quotes.L";
    std::vector<std::string> ids;
    for (int i = 1; i <= 10; ++i) {
        ids.push_back(xaddSeq(redis, topic, i));
    }
    ASSERT_TRUE(relay.waitUntilReceived(10, 10s));
    const long long nowMs = wallClockMs();
    WsClient c(relay.httpPort());
    c.sendText(R"({"op":"subscribe","topics":["data.quotes.*"],"from":{")" + kPrefix + topic + R"(":")" + ids[4] +
               R"(","*":")" + std::to_string(nowMs + 60000) + R"(-0"}})");
    std::vector<int> seqs;
    bool replayed = false;
    for (const auto until = std::chrono::steady_clock::now() + 10s; !replayed && std::chrono::steady_clock::now() < until;) {
        const JsonPtr m = c.receiveJson(1s);
        if (m && m->getValue<std::string>("op") == "message") {
            seqs.push_back(m->getObject("payload")->getValue<int>("seq"));
        }
        replayed = m && m->getValue<std::string>("op") == "replayed";
    }
    ASSERT_TRUE(replayed);
    for (int i = 11; i <= 20; ++i) {
        xaddSeq(redis, topic, i);  // ids now: before the "*" id
    }
    for (const auto& [t, seq] : readMessages(c, 10, 5s)) {
        seqs.push_back(seq);
    }
    EXPECT_EQ(seqs, inclusiveRange(6, 20));
}

TEST(WsReplayTest, ALaterReplayOfTheSameStreamKeepsWhatAnEarlierOneCovered)
{
    // Two replays of one stream while the relay's reader is behind Redis (XREAD taken from its
    // user meanwhile): accepted orders from the last entry (the client has all before it), then
    // fills from the start. The live copies of accepted orders up to that entry arrive after
    // the first replay; its watermark still says the client has them.
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis, {{"ws.stall_timeout_ms", "60000"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    const std::string topic = "events.order.S-001";
    xaddOrderEvents(redis, topic, 1, 20, 200);
    ASSERT_TRUE(relay.waitUntilReceived(20, 10s));
    WsClient c(relay.httpPort(), "/ws", {}, 256 * 1024);
    constexpr int kBurst = 4000;
    redis.command({"ACL", "SETUSER", "default", "-xread"});
    xaddOrderEvents(redis, topic, 21, kBurst - 1, 200);
    const std::string last = redis.command({"XADD", kPrefix + topic, "*", "topic", topic, "type", "OrderFilled", "payload",
                                            R"({"type":"OrderFilled","seq":)" + std::to_string(kBurst) + "}", "encoding",
                                            "Json"});
    c.sendText(R"({"op":"subscribe","topics":["events.order.*"],"types":["OrderAccepted"],"from":")" + last +
               R"(","id":1})");
    c.sendText(R"({"op":"subscribe","topics":["events.*"],"types":["OrderFilled"],"from":"0-0","id":2})");
    std::vector<int> seqs;
    std::vector<std::string> markers;
    bool tailWritten = false;
    constexpr int kLast = kBurst + 20;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while ((seqs.empty() || seqs.back() < kLast) && std::chrono::steady_clock::now() < deadline) {
        const JsonPtr m = c.receiveJson(1s);
        if (!m) {
            continue;
        }
        const std::string op = m->getValue<std::string>("op");
        if (op == "message") {
            seqs.push_back(m->getObject("payload")->getValue<int>("seq"));
        } else if (op != "status") {  // the bus reconnects
            markers.push_back(op + "#" + (m->has("id") ? m->get("id").toString() : std::string()));
        }
        if (!tailWritten && !markers.empty() && markers.back() == "replayed#2") {
            redis.command({"ACL", "SETUSER", "default", "+xread"});  // the reader catches up
            xaddOrderEvents(redis, topic, kBurst + 1, kLast, 200);
            tailWritten = true;
        }
    }
    EXPECT_EQ(markers, (std::vector<std::string>{"subscribed#1", "replayed#1", "subscribed#2", "replayed#2"}));
    const ReceivedOrders got = splitOrders(seqs);
    EXPECT_TRUE(got.firstDisorder.empty()) << got.firstDisorder;
    EXPECT_EQ(got.fills, everyOther(2, kLast)) << got.fills.size() << " fills";
    EXPECT_EQ(got.accepted, everyOther(kBurst + 1, kLast)) << got.accepted.size() << " accepted";
}

TEST(WsReplayTest, AStreamListedInFromBeforeItExistsIsNotHeldBackByTheStarId)
{
    // A listed stream the relay does not read yet (created later): its own id holds there, not
    // the "*" one, once the relay finds it.
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    xaddSeq(redis, "data.quotes.OLD", 1);
    ASSERT_TRUE(relay.waitUntilReceived(1, 10s));
    const long long nowMs = wallClockMs();
    WsClient c(relay.httpPort());
    c.sendText(R"({"op":"subscribe","topics":["data.quotes.*"],"from":{")" + kPrefix + R"(data.quotes.NEW":"1-0","*":")" +
               std::to_string(nowMs + 60000) + R"(-0"}})");
    ASSERT_TRUE(c.waitForOp("replayed", 10s));
    for (int i = 1; i <= 10; ++i) {
        xaddSeq(redis, "data.quotes.NEW", i);  // ids now: before the "*" id
    }
    std::vector<int> seqs;
    for (const auto& [t, seq] : readMessages(c, 10, 10s)) {
        EXPECT_EQ(t, "data.quotes.NEW");
        seqs.push_back(seq);
    }
    EXPECT_EQ(seqs, inclusiveRange(1, 10));
}

TEST(WsReplayTest, TwoOverlappingSubscriptionsWithOneFromEachHoldBackWhatBothHave)
{
    // data.quotes.* and data.* each from X: a stream found later gets nothing up to X, which
    // both said they have, and what comes after it once.
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    xaddSeq(redis, "data.quotes.OLD", 1);
    ASSERT_TRUE(relay.waitUntilReceived(1, 10s));
    const long long nowMs = wallClockMs();
    const std::string from = std::to_string(nowMs + 60000) + "-0";
    WsClient c(relay.httpPort());
    c.sendText(R"({"op":"subscribe","topics":["data.quotes.*"],"from":")" + from + R"(","id":1})");
    c.sendText(R"({"op":"subscribe","topics":["data.*"],"from":")" + from + R"(","id":2})");
    for (int replayed = 0; replayed < 2;) {
        const JsonPtr m = c.waitForOp("replayed", 10s);
        ASSERT_TRUE(m);
        ++replayed;
    }
    for (int i = 1; i <= 10; ++i) {
        xaddSeq(redis, "data.quotes.NEW", i);  // ids now: before from
    }
    redis.command({"XADD", kPrefix + "data.quotes.NEW", std::to_string(nowMs + 60001) + "-0", "topic", "data.quotes.NEW",
                   "type", "QuoteTick", "payload", R"({"type":"QuoteTick","seq":99})", "encoding", "Json"});
    const auto msgs = readMessages(c, 2, 2s);
    ASSERT_EQ(msgs.size(), 1u) << "second: " << msgs[1].first << " " << msgs[1].second;
    EXPECT_EQ(msgs[0], (std::pair<std::string, int>{"data.quotes.NEW", 99}));
}

TEST(WsReplayTest, APlainSubscribeSentDuringAReplayTakesEffectAtItsEndAndKeepsTheStreamInOrder)
{
    OrderEventsUnderReplay o;
    ASSERT_TRUE(o.ready()) << o.relay.process().stderrText();
    WsClient c(o.relay.httpPort(), "/ws", {}, 256 * 1024);
    c.sendText(R"({"op":"subscribe","topics":["events.order.*"],"types":["OrderFilled"],"from":"0-0","id":1})");
    // It writes until 100 accepted orders came after s2, however long the replay takes.
    o.startProducer(std::numeric_limits<int>::max());
    // Mid-replay, the other type of the same stream, without from, on an overlapping pattern.
    std::vector<int> seqs;
    std::vector<std::string> markers;
    std::size_t messagesBeforeS2 = 0;
    std::size_t acceptedAfterS2 = 0;
    std::optional<int> kLast;  // the last one written, once the producer stopped
    bool asked = false;
    const auto deadline = std::chrono::steady_clock::now() + 90s;
    while (!(kLast && !seqs.empty() && seqs.back() == *kLast) && std::chrono::steady_clock::now() < deadline) {
        const JsonPtr m = c.receiveJson(5s);
        if (!m) {
            continue;
        }
        const std::string op = m->getValue<std::string>("op");
        if (op == "message") {
            seqs.push_back(m->getObject("payload")->getValue<int>("seq"));
            acceptedAfterS2 += messagesBeforeS2 > 0 && seqs.back() % 2 == 1 ? 1 : 0;
        } else if (op == "subscribed" || op == "replayed") {
            markers.push_back(op.substr(0, 1) + std::to_string(m->getValue<int>("id")));
            if (markers.back() == "s2") {
                messagesBeforeS2 = seqs.size();
            }
        }
        if (!asked && seqs.size() >= 10) {
            c.sendText(R"({"op":"subscribe","topics":["events.*"],"types":["OrderAccepted"],"id":2})");
            asked = true;
        }
        if (!kLast && acceptedAfterS2 >= 100) {
            o.stopProducer();
            kLast = o.lastWritten.load();
        }
    }
    o.stopProducer();
    ASSERT_TRUE(kLast) << acceptedAfterS2 << " accepted orders after s2, markers " << markers.size();
    // Answered, and in effect, once the replay has ended.
    EXPECT_EQ(markers, (std::vector<std::string>{"s1", "r1", "s2"}));
    std::string firstDisorder;
    for (std::size_t i = 1; i < seqs.size() && firstDisorder.empty(); ++i) {
        if (seqs[i] <= seqs[i - 1]) {
            firstDisorder = std::to_string(seqs[i - 1]) + " then " + std::to_string(seqs[i]) + " (message " +
                            std::to_string(i) + ", " + std::to_string(messagesBeforeS2) + " before s2)";
        }
    }
    EXPECT_TRUE(firstDisorder.empty()) << firstDisorder;
    // Every fill once; before s2 fills only; after it, every accepted order from the first one
    // on (none missing in between).
    std::vector<int> fills;
    std::vector<int> accepted;
    for (std::size_t i = 0; i < seqs.size(); ++i) {
        if (seqs[i] % 2 == 0) {
            fills.push_back(seqs[i]);
        } else {
            EXPECT_GE(i, messagesBeforeS2) << "accepted order " << seqs[i] << " before its subscribe was answered";
            accepted.push_back(seqs[i]);
        }
    }
    std::vector<int> allFills;
    for (int i = 2; i <= *kLast; i += 2) {
        allFills.push_back(i);
    }
    EXPECT_EQ(fills, allFills) << fills.size() << " fills";
    ASSERT_FALSE(accepted.empty());
    EXPECT_EQ(accepted.back(), *kLast % 2 == 1 ? *kLast : *kLast - 1);
    for (std::size_t i = 1; i < accepted.size(); ++i) {
        ASSERT_EQ(accepted[i], accepted[i - 1] + 2) << "accepted orders missing after " << accepted[i - 1];
    }
}

TEST(WsReplayTest, RequestsWaitingForAReplayAreHandledInOrderAndBounded)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(
        redis, {{"ws.queue_bytes", "1048576"}, {"ws.stall_timeout_ms", "60000"}, {"ws.max_messages_per_second", "0"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    constexpr int kOrders = 5000;
    xaddMany(redis, "events.order.S-001", "OrderFilled", 1, kOrders, 2000);  // 10 MB
    ASSERT_TRUE(relay.waitUntilReceived(kOrders, 20s));

    WsClient c(relay.httpPort(), "/ws", {}, 256 * 1024);
    c.sendText(R"({"op":"subscribe","topics":["events.order.*"],"from":"0-0","id":1})");
    // The replay waits for this client, which reads nothing yet: 63 subscribes and an
    // unsubscribe wait for it (64, the bound), one more subscribe is refused at once.
    for (int i = 0; i < 63; ++i) {
        c.sendText(R"({"op":"subscribe","topics":["data.x.)" + std::to_string(i) + R"("],"id":)" +
                   std::to_string(100 + i) + "}");
    }
    c.sendText(R"({"op":"unsubscribe","topics":["data.x.0"],"id":200})");
    c.sendText(R"({"op":"subscribe","topics":["data.y"],"id":300})");
    std::vector<std::string> replies;
    int orders = 0;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (replies.size() < 67 && std::chrono::steady_clock::now() < deadline) {
        const JsonPtr m = c.receiveJson(5s);
        if (!m) {
            continue;
        }
        const std::string op = m->getValue<std::string>("op");
        if (op == "message") {
            ++orders;
        } else {
            const std::string code = op == "error" ? ":" + m->getValue<std::string>("code") : "";
            replies.push_back(op + code + "#" + std::to_string(m->getValue<int>("id")));
        }
    }
    // The refusal at once (before the replay's end; its "subscribed" comes from a replay
    // thread, so either may be first), the others in the order sent once it has ended.
    const auto refused = std::find(replies.begin(), replies.end(), "error:limit#300");
    ASSERT_NE(refused, replies.end());
    EXPECT_LT(refused - replies.begin(), std::find(replies.begin(), replies.end(), "replayed#1") - replies.begin());
    replies.erase(refused);
    std::vector<std::string> expected{"subscribed#1", "replayed#1"};
    for (int i = 0; i < 63; ++i) {
        expected.push_back("subscribed#" + std::to_string(100 + i));
    }
    expected.push_back("unsubscribed#200");
    EXPECT_EQ(replies, expected);
    EXPECT_EQ(orders, kOrders);
    // The unsubscribe came after its subscribe: 62 patterns left (and the replay's).
    EXPECT_TRUE(relay.waitUntilStatus(
        [](const JsonPtr& s) { return s->getObject("websocket")->getValue<int>("subscriptions") == 63; }, 5s))
        << relay.get("/status").body;
}

TEST(WsReplayTest, TwoReplaysOfOneClientRunOneAfterTheOtherInTheOrderAsked)
{
    RedisServer redis;
    // A 1 MiB queue: the live orders below are held during the replays, not dropped and re-read.
    RelayProcess relay(RelayProcess::defaults(redis, {{"ws.queue_bytes", "1048576"}, {"ws.stall_timeout_ms", "60000"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    // 20 MB each: each replay waits for the client to read (more than the sockets take).
    constexpr int kOrders = 10000;
    constexpr int kPositions = 10000;
    xaddMany(redis, "events.order.S-001", "OrderFilled", 1, kOrders, 2000);
    xaddMany(redis, "events.position.S-001", "PositionChanged", 1, kPositions, 2000);
    ASSERT_TRUE(relay.waitUntilReceived(kOrders + kPositions, 20s));

    WsClient c(relay.httpPort(), "/ws", {}, 256 * 1024);
    c.sendText(R"({"op":"subscribe","topics":["events.order.*"],"from":"0-0","id":1})");
    c.sendText(R"({"op":"subscribe","topics":["events.position.*"],"from":"0-0","id":2})");
    // Live orders while the first replay waits for the client: it sends them (they are in Redis
    // before it reads to the end), and their live copies wait for both replays.
    xaddMany(redis, "events.order.S-001", "OrderFilled", kOrders + 1, kOrders + 200, 200);
    ASSERT_TRUE(relay.waitUntilReceived(kOrders + 200 + kPositions, 20s));
    // Each replay's frames between its subscribed and replayed, the second after the first (two
    // threads replaying for one client at once would interleave them); every order once.
    std::vector<std::string> markers;
    std::vector<int> orders;
    std::vector<int> positions;
    std::size_t positionsBeforeS2 = 0;
    bool moreSent = false;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while ((orders.size() < kOrders + 300 || markers.size() < 4) && std::chrono::steady_clock::now() < deadline) {
        if (markers.size() == 3 && !moreSent) {
            // While the second replay runs (it waits for this client), orders newer than all the
            // first one sent: they must not lift what it sent from the held live flow.
            xaddMany(redis, "events.order.S-001", "OrderFilled", kOrders + 201, kOrders + 300, 200);
            ASSERT_TRUE(relay.waitUntilReceived(kOrders + 300 + kPositions, 20s));
            moreSent = true;
        }
        const JsonPtr m = c.receiveJson(2s);
        if (!m) {
            continue;
        }
        const std::string op = m->getValue<std::string>("op");
        if (op == "message") {
            const int seq = m->getObject("payload")->getValue<int>("seq");
            if (m->getValue<std::string>("topic").starts_with("events.order.")) {
                orders.push_back(seq);
            } else {
                positions.push_back(seq);
                positionsBeforeS2 += markers.size() < 3 ? 1 : 0;
            }
        } else if (op == "subscribed" || op == "replayed") {
            markers.push_back(op.substr(0, 1) + std::to_string(m->getValue<int>("id")));
        }
    }
    EXPECT_EQ(markers, (std::vector<std::string>{"s1", "r1", "s2", "r2"}));
    EXPECT_EQ(positionsBeforeS2, 0u);
    std::vector<int> allOrders(kOrders + 300);
    std::iota(allOrders.begin(), allOrders.end(), 1);
    std::vector<int> allPositions(kPositions);
    std::iota(allPositions.begin(), allPositions.end(), 1);
    EXPECT_EQ(orders, allOrders) << orders.size() << " orders";
    EXPECT_EQ(positions, allPositions) << positions.size() << " positions";
}

TEST(WsReplayTest, AReplayThatRedisFailsMidwaySendsNothingTwiceAndTheHeldMessagesAfterIt)
{
    // A replay waits for its client past the point where the live flow began to wait; Redis then
    // refuses its next read (XRANGE taken from the relay's user: the live reader goes on). The
    // client is told; the live messages held meanwhile go out less those the replay had sent.
    RedisServer redis;
    // A 24 MiB queue: the socket buffers (0 to 4 MB) are small beside it. Frames are about
    // 2.2 KB in the history and 0.7 KB after it.
    RelayProcess relay(RelayProcess::defaults(redis, {{"ws.queue_bytes", "25165824"}, {"ws.stall_timeout_ms", "60000"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    const std::string topic = "events.order.S-001";
    constexpr int kHistory = 11200;           // 24 MB, of which the fills (12.5 MB) are replayed
    constexpr int kBurst = kHistory + 30000;  // 22 MB more, all held (under 24 MiB); the replay
                                              // waits for the client 13 to 17 MB into it
    constexpr int kLast = kBurst + 20;
    xaddOrderEvents(redis, topic, 1, kHistory, 2000);
    ASSERT_TRUE(relay.waitUntilReceived(kHistory, 20s));
    WsClient c(relay.httpPort(), "/ws", {}, 64 * 1024);
    ASSERT_TRUE(c.subscribe(R"(["events.order.*"])", R"("types":["OrderAccepted"])"));
    c.sendText(R"({"op":"subscribe","topics":["events.*"],"types":["OrderFilled"],"from":"0-0","id":1})");
    ASSERT_TRUE(c.waitForOp("subscribed", 10s));
    // The client reads nothing: the replay sends the history, then some of the burst, and waits
    // (its count of sent entries passes the 5 600 history fills and stops moving).
    xaddOrderEvents(redis, topic, kHistory + 1, kBurst, 500);
    long long sent = -1;
    for (const auto until = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < until;) {
        std::this_thread::sleep_for(300ms);
        const long long now = relay.status()->getObject("websocket")->getValue<long long>("replayed");
        if (now == sent && now > kHistory / 2) {
            break;
        }
        sent = now;
    }
    ASSERT_GT(sent, kHistory / 2) << "the replay did not get past the history";
    redis.command({"ACL", "SETUSER", "default", "-xrange"});
    std::vector<int> seqs;
    std::string failure;
    bool tailWritten = false;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while ((seqs.empty() || seqs.back() < kLast) && std::chrono::steady_clock::now() < deadline) {
        const JsonPtr m = c.receiveJson(1s);
        if (!m) {
            continue;
        }
        const std::string op = m->getValue<std::string>("op");
        if (op == "message") {
            seqs.push_back(m->getObject("payload")->getValue<int>("seq"));
        } else if (op == "error") {
            failure = m->getValue<std::string>("code");
        } else if (op == "replayed") {
            failure = "none: replayed";
        }
        if (!tailWritten && !failure.empty()) {
            xaddOrderEvents(redis, topic, kBurst + 1, kLast, 500);  // live again
            tailWritten = true;
        }
    }
    EXPECT_EQ(failure, "replay_failed");
    const ReceivedOrders got = splitOrders(seqs);
    EXPECT_TRUE(got.firstDisorder.empty()) << got.firstDisorder;
    // Nothing lost either: every fill, and every accepted order since the live subscription.
    EXPECT_EQ(got.fills, everyOther(2, kLast)) << got.fills.size() << " fills";
    EXPECT_EQ(got.accepted, everyOther(kHistory + 1, kLast)) << got.accepted.size() << " accepted";
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

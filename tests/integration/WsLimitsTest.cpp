// Limits, backpressure and security of the WebSocket gateway through the real binary: a slow
// client is closed (events) or conflated (market data) while a fast one keeps up; every limit
// and every auth/origin failure gets its clear answer.
#include <algorithm>
#include <chrono>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <Poco/Net/WebSocket.h>
#include <Poco/Timestamp.h>

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

void xadd(const RedisServer& redis, const std::string& topic, const std::string& type, int seq, std::size_t padding = 0)
{
    redis.command({"XADD", kPrefix + topic, "*", "topic", topic, "type", type, "payload",
                   R"({"type":")" + type + R"(","seq":)" + std::to_string(seq) + R"(,"pad":")" + std::string(padding, 'x') +
                       R"("})",
                   "encoding", "Json"});
}

std::string jwt(const std::string& secret, const std::vector<std::string>& topics, std::int64_t expiresInS)
{
    Poco::JWT::Token token;
    token.setSubject("dashboard-1");
    if (!topics.empty()) {
        Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
        for (const auto& t : topics) {
            a->add(t);
        }
        token.payload().set("topics", a);
    }
    Poco::Timestamp exp;
    exp += expiresInS * Poco::Timestamp::resolution();
    token.setExpiration(exp);
    Poco::JWT::Signer signer(secret);
    return signer.sign(token, Poco::JWT::Signer::ALGO_HS256);
}

TEST(WsLimitsTest, AStalledClientWithEventsIsClosedWith1013WhileAFastOneGetsEverything)
{
    RedisServer redis;
    // Bursts larger than the queue are caught up from Redis; a client that takes nothing for
    // ws.stall_timeout_ms is closed.
    RelayProcess relay(RelayProcess::defaults(redis, {{"ws.queue_bytes", "65536"}, {"ws.stall_timeout_ms", "1000"}, {"ws.ping_interval_ms", "0"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    WsClient slow(relay.httpPort(), "/ws", {}, 4096);  // a tiny window, and it reads nothing until the end
    ASSERT_TRUE(slow.subscribe(R"(["events.*"])"));
    WsClient fast(relay.httpPort());
    ASSERT_TRUE(fast.subscribe(R"(["events.*"])"));

    constexpr int kEvents = 1500;  // ~15 MB: far more than the slow client's socket and queue hold
    std::thread producer([&] {
        for (int i = 1; i <= kEvents; ++i) {
            xadd(redis, "events.order.S-001", "OrderFilled", i, 10'000);
        }
    });
    int received = 0;
    int expected = 1;
    bool inOrder = true;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (received < kEvents && std::chrono::steady_clock::now() < deadline) {
        const JsonPtr m = fast.receiveJson(1s);
        if (m && m->getValue<std::string>("op") == "message") {
            inOrder = inOrder && m->getObject("payload")->getValue<int>("seq") == expected;
            ++expected;
            ++received;
        }
    }
    producer.join();
    const std::string err = relay.process().stderrText();
    EXPECT_EQ(received, kEvents) << err.substr(err.size() > 3000 ? err.size() - 3000 : 0);
    EXPECT_TRUE(inOrder);

    // The slow one is closed (its close frame waits behind a full socket a while, then the
    // socket is closed under it); the fast one stays.
    ASSERT_TRUE(relay.waitUntilStatus(
        [](const JsonPtr& s) { return s->getObject("websocket")->getValue<int>("clients") == 1; }, 20s));
    EXPECT_NE(relay.process().stderrText().find("closed: send queue over ws.queue_bytes (65536)"), std::string::npos);
    const JsonPtr ws = relay.status()->getObject("websocket");
    EXPECT_EQ(ws->getValue<int>("dropped_clients"), 1);
    EXPECT_EQ(ws->getValue<int>("clients"), 1);
    EXPECT_NE(relay.get("/metrics").body.find(R"(nautilus_relay_ws_dropped_clients_total{reason="slow"} 1)"),
              std::string::npos);
}

TEST(WsLimitsTest, StatusReportsTheBytesWaitingForAClientThatDoesNotReadUntilItLeaves)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(
        redis, {{"ws.queue_bytes", "16777216"}, {"ws.stall_timeout_ms", "60000"}, {"ws.ping_interval_ms", "0"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    WsClient slow(relay.httpPort(), "/ws", {}, 4096);  // reads nothing
    ASSERT_TRUE(slow.subscribe(R"(["events.*"])"));

    // 10 MB of events: more than the sockets hold (a 4 MB send buffer at most), under the queue.
    constexpr int kEvents = 100;
    for (int i = 1; i <= kEvents; ++i) {
        xadd(redis, "events.order.S-001", "OrderFilled", i, 100'000);
    }
    const auto queued = [](const JsonPtr& s) { return s->getObject("websocket")->getValue<std::int64_t>("queue_bytes"); };
    const auto fullest = [](const JsonPtr& s) {
        return s->getObject("websocket")->getValue<std::int64_t>("max_client_queue_bytes");
    };
    ASSERT_TRUE(relay.waitUntilStatus([&](const JsonPtr& s) { return fullest(s) > 1'000'000; }, 20s))
        << relay.get("/status").body;
    const JsonPtr during = relay.status();
    EXPECT_GE(queued(during), fullest(during));  // one client: the total is its queue
    EXPECT_LE(fullest(during), 16'777'216);

    // It leaves (unread data: its socket resets): its queue no longer counts.
    slow.close();
    EXPECT_TRUE(relay.waitUntilStatus(
        [&](const JsonPtr& s) {
            return s->getObject("websocket")->getValue<int>("clients") == 0 && queued(s) == 0 && fullest(s) == 0;
        },
        15s))
        << relay.get("/status").body;
}

TEST(WsLimitsTest, PongsAndRepliesAClientDoesNotReadCannotGrowItsQueue)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(
        redis, {{"ws.queue_bytes", "65536"}, {"ws.max_messages_per_second", "0"}, {"ws.ping_interval_ms", "0"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();

    // 20 000 pings, 2.2 MB of pongs, while it reads nothing: of the pongs not yet written only
    // the latest waits, and it answers the last ping.
    WsClient pinger(relay.httpPort(), "/ws", {}, 4096);
    ASSERT_TRUE(pinger.ok());
    constexpr int kPings = 20000;
    const auto pingPayload = [](int i) { return "p" + std::to_string(i) + std::string(100, 'x'); };
    for (int i = 0; i < kPings; ++i) {
        pinger.sendFrame(pingPayload(i), static_cast<int>(Poco::Net::WebSocket::FRAME_FLAG_FIN) | Poco::Net::WebSocket::FRAME_OP_PING);
    }
    int pongs = 0;
    std::string lastPong;
    while (auto f = pinger.receive(1s)) {
        if (f->opcode != Poco::Net::WebSocket::FRAME_OP_PONG) {
            continue;  // a status frame (the bus, with nothing written, turns stale after 15 s)
        }
        ++pongs;
        lastPong = f->data;
    }
    EXPECT_GT(pongs, 0);
    EXPECT_LT(pongs, kPings);
    EXPECT_EQ(lastPong, pingPayload(kPings - 1));

    // Requests whose 60 KB replies it does not read: closed (1008) once 1 MiB of them waits
    // (the sockets take some MB first), instead of queuing all 12 MB.
    WsClient asker(relay.httpPort(), "/ws", {}, 4096);
    ASSERT_TRUE(asker.ok());
    const std::string ping = R"({"op":"ping","id":")" + std::string(60000, 'i') + R"("})";
    for (int i = 0; i < 200; ++i) {
        asker.sendText(ping);
    }
    EXPECT_TRUE(relay.process().waitForStderr(
        "closed: more than 1048576 bytes of replies and pongs the client does not read", 10s))
        << relay.process().stderrText();
    EXPECT_NE(relay.get("/metrics").body.find(R"(nautilus_relay_ws_dropped_clients_total{reason="unread_replies"} 1)"),
              std::string::npos);
    // (Its close frame waits behind what its 4 KB receive buffer still has to take: not read here.)
    EXPECT_TRUE(relay.waitUntilStatus([](const JsonPtr& s) { return s->getObject("websocket")->getValue<int>("clients") == 1; }, 15s))
        << relay.get("/status").body;  // the pinger stays
}

TEST(WsLimitsTest, AMessageLargerThanTheQueueDoesNotCountAsUnreadReplies)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(
        redis, {{"ws.queue_bytes", "65536"}, {"ws.max_messages_per_second", "0"}, {"ws.ping_interval_ms", "0"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    WsClient c(relay.httpPort(), "/ws", {}, 256 * 1024);  // reads nothing for now
    ASSERT_TRUE(c.subscribe(R"(["events.*"])"));
    // One 12 MB event: sent alone although larger than ws.queue_bytes; most of it still waits
    // in the queue (the sockets take some MB) ...
    xadd(redis, "events.order.S-001", "OrderFilled", 1, 12'000'000);
    ASSERT_TRUE(relay.waitUntilStatus(
        [](const JsonPtr& s) { return s->getObject("websocket")->getValue<std::int64_t>("max_client_queue_bytes") > 2'000'000; },
        20s))
        << relay.get("/status").body;
    // ... while the client asks for a few small replies: answered, not closed for unread replies.
    for (int i = 0; i < 5; ++i) {
        c.sendText(R"({"op":"ping","id":)" + std::to_string(i) + "}");
    }
    int events = 0;
    int pongs = 0;
    while (auto m = c.receiveJson(10s)) {
        const std::string op = m->getValue<std::string>("op");
        events += op == "message" ? 1 : 0;
        pongs += op == "pong" ? 1 : 0;
        if (events == 1 && pongs == 5) {
            break;
        }
    }
    EXPECT_EQ(events, 1);
    EXPECT_EQ(pongs, 5);
    EXPECT_EQ(relay.status()->getObject("websocket")->getValue<int>("dropped_clients"), 0);
}

TEST(WsLimitsTest, CloseFramesAreCheckedAsRfc6455Says)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    const auto closeWith = [&](const std::string& payload) {
        WsClient c(relay.httpPort());
        EXPECT_TRUE(c.ok());
        c.sendFrame(payload, static_cast<int>(Poco::Net::WebSocket::FRAME_FLAG_FIN) | Poco::Net::WebSocket::FRAME_OP_CLOSE);
        while (auto f = c.receive(5s)) {
            if (f->opcode == Poco::Net::WebSocket::FRAME_OP_CLOSE) {
                return std::make_pair(f->closeCode(), f->data.size() > 2 ? f->data.substr(2) : std::string());
            }
        }
        return std::make_pair(-2, std::string("no close frame"));
    };
    const auto code = [](int c) { return std::string{static_cast<char>(c >> 8), static_cast<char>(c & 0xff)}; };
    EXPECT_EQ(closeWith(code(1000)).first, 1000);  // echoed
    EXPECT_EQ(closeWith(code(4000) + "bye").first, 4000);
    EXPECT_EQ(closeWith("").first, 1000);
    EXPECT_EQ(closeWith("x"), std::make_pair(1002, std::string("close frame with a 1-byte payload")));
    for (const int bad : {999, 1004, 1005, 1006, 1015, 2000, 5000}) {
        EXPECT_EQ(closeWith(code(bad)), std::make_pair(1002, "close code " + std::to_string(bad) + " may not be sent"));
    }
    EXPECT_EQ(closeWith(code(1000) + "\xff\xfe"), std::make_pair(1007, std::string("close reason is not valid UTF-8")));
}

TEST(WsLimitsTest, ASlowClientOfMarketDataGetsTheLatestValuePerTopicAndIsToldHowManyItMissed)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis, {{"ws.queue_bytes", "65536"}, {"ws.ping_interval_ms", "0"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    WsClient slow(relay.httpPort());  // reads nothing until everything was produced
    ASSERT_TRUE(slow.subscribe(R"(["data.quotes.*"])"));
    const std::vector<std::string> topics = {"data.quotes.A", "data.quotes.B", "data.quotes.C"};
    // 3 x 1000 x 5 KB = 15 MB: more than loopback socket buffers and the 64 KiB queue hold.
    constexpr int kPerTopic = 1000;
    for (int i = 1; i <= kPerTopic; ++i) {
        for (const auto& t : topics) {
            xadd(redis, t, "QuoteTick", i, 5'000);
        }
    }
    ASSERT_TRUE(relay.waitUntilReceived(3 * kPerTopic, 30s));
    std::map<std::string, int> last;
    std::uint64_t toldConflated = 0;
    int frames = 0;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    auto done = [&] {
        return std::all_of(topics.begin(), topics.end(), [&](const std::string& t) { return last[t] == kPerTopic; });
    };
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        const JsonPtr m = slow.receiveJson(2s);
        if (!m || m->getValue<std::string>("op") != "message") {
            continue;
        }
        ++frames;
        const std::string topic = m->getValue<std::string>("topic");
        const int seq = m->getObject("payload")->getValue<int>("seq");
        EXPECT_GT(seq, last[topic]) << "per topic, values only move forward";
        last[topic] = seq;
        toldConflated += m->optValue<std::uint64_t>("conflated", 0);
    }
    for (const auto& t : topics) {
        EXPECT_EQ(last[t], kPerTopic) << t << ": the latest value always arrives";
    }
    EXPECT_LT(frames, 3 * kPerTopic);
    EXPECT_GT(toldConflated, 0u);
    const JsonPtr ws = relay.status()->getObject("websocket");
    EXPECT_EQ(ws->getValue<int>("dropped_clients"), 0);
    // Every message was either delivered or conflated, and the client was told each skip.
    EXPECT_EQ(ws->getValue<std::uint64_t>("conflated") + static_cast<std::uint64_t>(frames),
              static_cast<std::uint64_t>(3 * kPerTopic));
    EXPECT_EQ(toldConflated, ws->getValue<std::uint64_t>("conflated"));
}

TEST(WsLimitsTest, ConflationKeepsStreamOrderWhenOneStreamCarriesSeveralTopics)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(
        redis, {{"bus.stream_per_topic", "false"}, {"ws.queue_bytes", "65536"}, {"ws.ping_interval_ms", "0"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    WsClient slow(relay.httpPort());  // reads nothing until everything was produced
    ASSERT_TRUE(slow.subscribe(R"(["data.quotes.*","events.order.*"])"));
    // One stream: 3 000 quotes of 5 KB (15 MB), an order event after every tenth.
    constexpr int kQuotes = 3000;
    redis.command({"EVAL",
                   "local pad = string.rep('x', 5000) "
                   "for i = 1, tonumber(ARGV[1]) do "
                   "redis.call('XADD', KEYS[1], '*', 'topic', 'data.quotes.A', 'type', 'QuoteTick', 'payload', "
                   "'{\"type\":\"QuoteTick\",\"seq\":' .. i .. ',\"pad\":\"' .. pad .. '\"}', 'encoding', 'Json') "
                   "if i % 10 == 0 then redis.call('XADD', KEYS[1], '*', 'topic', 'events.order.S', 'type', "
                   "'OrderFilled', 'payload', '{\"type\":\"OrderFilled\",\"seq\":' .. i / 10 .. '}', 'encoding', 'Json') end "
                   "end return 1",
                   "1", "trader-TRADER-001:stream", std::to_string(kQuotes)});
    ASSERT_TRUE(relay.waitUntilReceived(kQuotes + kQuotes / 10, 30s));

    std::string lastId;
    std::vector<int> events;
    int lastQuote = 0;
    bool ordered = true;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while ((lastQuote < kQuotes || events.size() < kQuotes / 10) && std::chrono::steady_clock::now() < deadline) {
        const JsonPtr m = slow.receiveJson(2s);
        if (!m || m->getValue<std::string>("op") != "message") {
            continue;
        }
        const std::string id = m->getValue<std::string>("id");
        const auto parts = [](const std::string& v) {
            return std::pair{std::stoull(v.substr(0, v.find('-'))), std::stoull(v.substr(v.find('-') + 1))};
        };
        ordered = ordered && (lastId.empty() || parts(id) > parts(lastId));
        lastId = id;
        const int seq = m->getObject("payload")->getValue<int>("seq");
        if (m->getValue<std::string>("topic") == "events.order.S") {
            events.push_back(seq);
        } else {
            lastQuote = seq;
        }
    }
    EXPECT_TRUE(ordered) << "ids of the one stream only increase";
    EXPECT_EQ(lastQuote, kQuotes);
    std::vector<int> all(kQuotes / 10);
    std::iota(all.begin(), all.end(), 1);
    EXPECT_EQ(events, all);
    EXPECT_GT(relay.status()->getObject("websocket")->getValue<std::uint64_t>("conflated"), 0u);
}

TEST(WsLimitsTest, ClientFrameAndSubscriptionLimitsAnswerClearly)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis, {{"ws.max_clients", "2"},
                                           {"ws.max_frame_bytes", "1024"},
                                           {"ws.max_subscriptions", "2"},
                                           {"ws.max_messages_per_second", "5"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();

    WsClient a(relay.httpPort());
    ASSERT_TRUE(a.ok());
    // Subscriptions: two patterns fit, a third does not.
    ASSERT_TRUE(a.subscribe(R"(["data.*","events.*"])"));
    a.sendText(R"({"op":"subscribe","topics":["health:heartbeat"]})");
    const JsonPtr limit = a.receiveJson();
    ASSERT_TRUE(limit);
    EXPECT_EQ(limit->getValue<std::string>("code"), "limit");
    EXPECT_NE(limit->getValue<std::string>("message").find("ws.max_subscriptions"), std::string::npos);

    WsClient b(relay.httpPort());
    ASSERT_TRUE(b.ok());
    WsClient c(relay.httpPort());
    EXPECT_FALSE(c.ok());
    EXPECT_EQ(c.status(), 503);
    EXPECT_NE(c.body().find("ws.max_clients"), std::string::npos) << c.body();

    // Oversized frame: closed with 1009.
    b.sendText(R"({"op":"ping","pad":")" + std::string(2000, 'x') + R"("})");
    const auto closed = b.receive();
    ASSERT_TRUE(closed);
    EXPECT_EQ(closed->closeCode(), 1009);

    // Rate: beyond 5/s an error frame per message, beyond 10/s a close with 1008.
    std::this_thread::sleep_for(1100ms);  // a fresh one-second window
    int pongs = 0;
    int rateErrors = 0;
    int close = -1;
    for (int i = 0; i < 12; ++i) {
        a.sendText(R"({"op":"ping"})");
    }
    while (const auto f = a.receive(2s)) {
        if (f->opcode == Poco::Net::WebSocket::FRAME_OP_CLOSE) {
            close = f->closeCode();
            break;
        }
        if (f->data.find("\"pong\"") != std::string::npos) {
            ++pongs;
        } else if (f->data.find("rate_limited") != std::string::npos) {
            ++rateErrors;
        }
    }
    EXPECT_EQ(pongs, 5);
    EXPECT_EQ(rateErrors, 5);
    EXPECT_EQ(close, 1008);
}

TEST(WsLimitsTest, StaticTokenAndJwtWithTopicAllowListsAreCheckedAtTheUpgrade)
{
    RedisServer redis;
    const std::string secret = "a-long-hs256-secret-for-tests-only";
    RelayProcess relay(RelayProcess::defaults(redis, {{"ws.auth.token", "s3cret"},
                                           {"ws.auth.token_topics", "data.*"},
                                           {"ws.auth.jwt_secret", secret}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    const int port = relay.httpPort();

    WsClient none(port);
    EXPECT_EQ(none.status(), 401);
    EXPECT_NE(none.body().find("token"), std::string::npos);
    WsClient wrong(port, "/ws", {{"Authorization", "Bearer nope"}});
    EXPECT_EQ(wrong.status(), 401);
    WsClient expired(port, "/ws", {{"Authorization", "Bearer " + jwt(secret, {}, -60)}});
    EXPECT_EQ(expired.status(), 401);
    EXPECT_NE(expired.body().find("expired"), std::string::npos) << expired.body();
    WsClient forged(port, "/ws", {{"Authorization", "Bearer " + jwt("another-secret", {}, 60)}});
    EXPECT_EQ(forged.status(), 401);

    WsClient byHeader(port, "/ws", {{"Authorization", "Bearer s3cret"}});
    ASSERT_TRUE(byHeader.ok());
    WsClient byQuery(port, "/ws?token=s3cret");
    ASSERT_TRUE(byQuery.ok());
    // The static token may see market data only.
    byQuery.sendText(R"({"op":"subscribe","topics":["events.order.*"]})");
    const JsonPtr denied = byQuery.receiveJson();
    ASSERT_TRUE(denied);
    EXPECT_EQ(denied->getValue<std::string>("code"), "forbidden");
    ASSERT_TRUE(byQuery.subscribe(R"(["data.quotes.*"])"));

    // A JWT whose claim allows order events of one strategy only.
    WsClient dashboard(port, "/ws?token=" + jwt(secret, {"events.order.S-001", "data.*"}, 60));
    ASSERT_TRUE(dashboard.ok()) << dashboard.status() << dashboard.body();
    dashboard.sendText(R"({"op":"subscribe","topics":["*"]})");
    const JsonPtr wide = dashboard.receiveJson();
    ASSERT_TRUE(wide);
    EXPECT_EQ(wide->getValue<std::string>("code"), "forbidden");
    ASSERT_TRUE(dashboard.subscribe(R"(["events.order.S-001"])"));
    xadd(redis, "events.order.S-001", "OrderFilled", 1);
    const JsonPtr m = dashboard.waitForOp("message");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->getValue<std::string>("topic"), "events.order.S-001");
    EXPECT_FALSE(byQuery.receive(300ms)) << "the market-data token never sees the order";
    EXPECT_GE(relay.status()->getObject("websocket")->getValue<int>("rejected_upgrades"), 4);
}

TEST(WsLimitsTest, BrowserOriginsMustBeAllowedAndPlainHttpGetsABadRequest)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis, {{"ws.allowed_origins", "https://dash.example.com, http://localhost:*"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    WsClient evil(relay.httpPort(), "/ws", {{"Origin", "https://evil.example.com"}});
    EXPECT_EQ(evil.status(), 403);
    EXPECT_NE(evil.body().find("ws.allowed_origins"), std::string::npos) << evil.body();
    WsClient listed(relay.httpPort(), "/ws", {{"Origin", "https://dash.example.com"}});
    EXPECT_TRUE(listed.ok());
    WsClient local(relay.httpPort(), "/ws", {{"Origin", "http://localhost:5173"}});
    EXPECT_TRUE(local.ok());
    WsClient noOrigin(relay.httpPort());
    EXPECT_TRUE(noOrigin.ok()) << "non-browser clients send no Origin";

    const auto plain = relay.get("/ws");
    EXPECT_EQ(plain.status, 400);
    EXPECT_NE(plain.body.find("upgrade"), std::string::npos) << plain.body;
}

TEST(WsLimitsTest, QuietClientsArePingedAndDeadOnesAreDropped)
{
    RedisServer redis;
    // Pinged after 1 s of silence, dropped after 2 s: the live client has a second to answer,
    // ample on a loaded machine.
    RelayProcess relay(RelayProcess::defaults(redis, {{"ws.ping_interval_ms", "1000"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    // Answers pings (WsClient does), so it stays.
    WsClient alive(relay.httpPort());
    ASSERT_TRUE(alive.subscribe(R"(["data.*"])"));
    // Never reads: its pings are never answered.
    WsClient dead(relay.httpPort());
    ASSERT_TRUE(dead.ok());
    // The live client answers pings while it waits; the dead one goes after about 2 s.
    const auto started = std::chrono::steady_clock::now();
    JsonPtr ws;
    for (const auto deadline = started + 15s; std::chrono::steady_clock::now() < deadline;) {
        alive.receive(100ms);
        ws = relay.status()->getObject("websocket");
        if (ws->getValue<int>("dropped_clients") >= 1 && std::chrono::steady_clock::now() - started > 3s) {
            break;  // and the live one survived at least one more ping round since
        }
    }
    ASSERT_TRUE(ws);
    EXPECT_EQ(ws->getValue<int>("clients"), 1);
    EXPECT_EQ(ws->getValue<int>("dropped_clients"), 1);
    xadd(redis, "data.quotes.A", "QuoteTick", 1);
    EXPECT_TRUE(alive.waitForOp("message"));
}

}  // namespace
}  // namespace nautilus::relay

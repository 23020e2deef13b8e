// The WebSocket gateway through the real binary: a real redis-server, Poco's WebSocket client
// over loopback. Subscriptions, the message frame, heartbeats, errors that keep the connection,
// status in /status and /metrics.
#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>
#include <Poco/Net/WebSocket.h>

#include "common/StreamId.h"
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

const std::string kQuoteKey = "trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT";
const std::string kTradeKey = "trader-TRADER-001:stream:data.trades.BINANCE.BTCUSDT";
const std::string kOrderKey = "trader-TRADER-001:stream:events.order.S-001";
const std::string kBeatKey = "trader-TRADER-001:stream:health:heartbeat";

std::string xaddQuote(const RedisServer& redis, int n)
{
    return redis.command({"XADD", kQuoteKey, "*", "topic", "data.quotes.BINANCE.BTCUSDT", "type", "QuoteTick", "payload",
                          R"({"type":"QuoteTick","instrument_id":"BTCUSDT.BINANCE","bid_price":"67000.)" +
                              std::to_string(n) + R"(","seq":)" + std::to_string(n) + "}",
                          "encoding", "Json"});
}

std::string xaddTrade(const RedisServer& redis, int n)
{
    return redis.command({"XADD", kTradeKey, "*", "topic", "data.trades.BINANCE.BTCUSDT", "type", "TradeTick", "payload",
                          R"({"type":"TradeTick","price":"67000.1","seq":)" + std::to_string(n) + "}", "encoding", "Json"});
}

std::string xaddOrder(const RedisServer& redis, int n)
{
    return redis.command({"XADD", kOrderKey, "*", "topic", "events.order.S-001", "type", "OrderFilled", "payload",
                          R"({"type":"OrderFilled","client_order_id":"O-)" + std::to_string(n) + R"(","seq":)" +
                              std::to_string(n) + "}",
                          "encoding", "Json"});
}

/// n quotes (seq 1..n) in one script: the reader's blocked XREAD returns them together.
void xaddQuotesAtOnce(const RedisServer& redis, int n)
{
    redis.command({"EVAL",
                   "for i = 1, " + std::to_string(n) +
                       " do redis.call('XADD', KEYS[1], '*', 'topic', 'data.quotes.BINANCE.BTCUSDT', "
                       "'type', 'QuoteTick', 'payload', '{\"type\":\"QuoteTick\",\"seq\":' .. i .. '}', "
                       "'encoding', 'Json') end",
                   "1", kQuoteKey});
}

/// XADDs quotes in scripts of 200 (one XREAD reply each, as a busy node produces) until stopped.
class QuoteFlood {
public:
    explicit QuoteFlood(const RedisServer& redis)
        : _thread([this, &redis] {
              while (!_stop.load()) {
                  xaddQuotesAtOnce(redis, 200);
                  ++_scripts;
              }
          })
    {
    }
    ~QuoteFlood() { stop(); }
    void stop()
    {
        _stop = true;
        if (_thread.joinable()) {
            _thread.join();
        }
    }
    int scripts() const { return _scripts.load(); }

private:
    std::atomic<bool> _stop{false};
    std::atomic<int> _scripts{0};
    std::thread _thread;
};

bool sanitizerReported(const std::string& err)
{
    return err.find("Sanitizer") != std::string::npos || err.find("runtime error") != std::string::npos;
}

TEST(WsGatewayTest, SubscriptionsFilterByTopicPatternAndTypeAndCarryThePayloadAsJson)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();

    WsClient quotes(relay.httpPort());
    ASSERT_TRUE(quotes.ok()) << quotes.status() << " " << quotes.body();
    const JsonPtr reply = quotes.subscribe(R"(["data.quotes.*"])", R"("types":["QuoteTick"],"id":7)");
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->getArray("topics")->getElement<std::string>(0), "data.quotes.*");
    EXPECT_EQ(reply->getValue<int>("id"), 7);

    WsClient orders(relay.httpPort());
    ASSERT_TRUE(orders.subscribe(R"(["events.order.*"])"));

    xaddTrade(redis, 1);
    const std::string orderId = xaddOrder(redis, 1);
    const std::string quoteId = xaddQuote(redis, 1);

    const JsonPtr m = quotes.waitForOp("message");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->getValue<std::string>("stream"), kQuoteKey);
    EXPECT_EQ(m->getValue<std::string>("id"), quoteId);
    EXPECT_EQ(m->getValue<std::string>("topic"), "data.quotes.BINANCE.BTCUSDT");
    EXPECT_EQ(m->getValue<std::string>("type"), "QuoteTick");
    ASSERT_TRUE(m->getObject("payload")) << "payload must be a JSON value, not a string";
    EXPECT_EQ(m->getObject("payload")->getValue<int>("seq"), 1);
    // The trade (other topic) and the order never reach the quotes client.
    EXPECT_FALSE(quotes.receive(300ms));

    const JsonPtr o = orders.waitForOp("message");
    ASSERT_TRUE(o);
    EXPECT_EQ(o->getValue<std::string>("id"), orderId);
    EXPECT_EQ(o->getValue<std::string>("type"), "OrderFilled");
    EXPECT_FALSE(orders.receive(300ms));
}

TEST(WsGatewayTest, PluginPublicationsReachClientsWithoutWaitingForTheNextBusMessage)
{
    // Bus messages reach a client's queue at the end of each XREAD batch; a plugin's
    // publications are routed later, on the plugin host's publisher thread, and must end their
    // own batch: here no bus message follows that could carry them along.
    RedisServer redis;
    test::TempDir dir;
    RelayProcess relay(RelayProcess::defaults(redis, {{"plugins.files", std::string(NR_FIXTURE_PLUGIN_DIR) + "/publisher.so"},
                                           {"plugins.publisher.output", dir.path() + "/publisher.txt"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    WsClient c(relay.httpPort());
    ASSERT_TRUE(c.subscribe(R"(["plugin.publisher.*"])"));

    const std::string quoteId = xaddQuote(redis, 1);
    const JsonPtr m = c.waitForOp("message", 3s);
    ASSERT_TRUE(m) << relay.process().stderrText();
    EXPECT_EQ(m->getValue<std::string>("stream"), "plugin:publisher");
    EXPECT_EQ(m->getValue<std::string>("topic"), "plugin.publisher.echo");
    EXPECT_EQ(m->getValue<std::string>("type"), "Echo");
    EXPECT_EQ(m->getObject("payload")->getValue<std::string>("id"), quoteId);
    EXPECT_FALSE(c.receive(300ms)) << "one publication per quote";
}

TEST(WsGatewayTest, APluginThatBlocksTheReaderDoesNotHoldBackWhatClientsWereAlreadyGiven)
{
    // One XREAD reply with three quotes; a plugin with room for one queued message and a handler
    // that sleeps 3 s blocks the reader at the third. The first two reach the client at once,
    // not when the plugin makes room.
    RedisServer redis;
    test::TempDir dir;
    RelayProcess relay(RelayProcess::defaults(redis, {{"plugins.files", std::string(NR_FIXTURE_PLUGIN_DIR) + "/slow_handler.so"},
                                           {"plugins.slow-handler.sleep_ms", "3000"},
                                           {"plugins.slow-handler.queue_capacity", "1"},
                                           {"plugins.slow-handler.output", dir.path() + "/slow.txt"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    WsClient c(relay.httpPort());
    ASSERT_TRUE(c.subscribe(R"(["data.quotes.*"])"));

    xaddQuotesAtOnce(redis, 3);
    const auto t0 = std::chrono::steady_clock::now();
    for (int seq = 1; seq <= 2; ++seq) {
        const JsonPtr m = c.waitForOp("message", 2s);
        ASSERT_TRUE(m) << "message " << seq << " held back by the blocked plugin";
        EXPECT_EQ(m->getObject("payload")->getValue<int>("seq"), seq);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2500ms);
    const JsonPtr third = c.waitForOp("message", 10s);
    ASSERT_TRUE(third) << relay.process().stderrText();
    EXPECT_EQ(third->getObject("payload")->getValue<int>("seq"), 3);
}

TEST(WsGatewayTest, OverlappingPatternsDeliverEachMessageOnceAndUnsubscribeStopsThem)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    WsClient c(relay.httpPort());
    ASSERT_TRUE(c.subscribe(R"(["data.*","data.quotes.*","*"])"));
    xaddQuote(redis, 1);
    ASSERT_TRUE(c.waitForOp("message"));
    EXPECT_FALSE(c.receive(300ms)) << "one message, three matching patterns: delivered once";

    c.sendText(R"({"op":"unsubscribe","topics":["data.*","*","not-subscribed"]})");
    const JsonPtr un = c.waitForOp("unsubscribed");
    ASSERT_TRUE(un);
    EXPECT_EQ(un->getArray("topics")->size(), 2u);
    xaddTrade(redis, 2);  // matched only by the removed patterns
    xaddQuote(redis, 3);  // still matched by data.quotes.*
    const JsonPtr m = c.waitForOp("message");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->getObject("payload")->getValue<int>("seq"), 3);
    EXPECT_FALSE(c.receive(300ms));
}

TEST(WsGatewayTest, MsgpackPayloadsArriveAsJsonAndHeartbeatsOnlyOnTheirExactTopic)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    WsClient all(relay.httpPort());
    ASSERT_TRUE(all.subscribe(R"(["*"])"));
    WsClient beats(relay.httpPort());
    ASSERT_TRUE(beats.subscribe(R"(["health:heartbeat"])"));

    redis.command({"XADD", kBeatKey, "*", "topic", "health:heartbeat", "payload", "2024-07-01T00:00:10.123+00:00"});
    // {"type":"TradeTick","seq":5} as MessagePack
    const std::string packed = std::string("\x82\xa4type\xa9TradeTick\xa3seq\x05", 21);
    redis.command({"XADD", kTradeKey, "*", "topic", "data.trades.BINANCE.BTCUSDT", "type", "TradeTick", "payload", packed,
                   "encoding", "msgpack"});

    const JsonPtr beat = beats.waitForOp("message");
    ASSERT_TRUE(beat);
    EXPECT_EQ(beat->getValue<std::string>("topic"), "health:heartbeat");
    EXPECT_EQ(beat->getValue<std::string>("payload"), "2024-07-01T00:00:10.123+00:00");
    EXPECT_FALSE(beats.receive(300ms)) << "the trade is not a heartbeat";

    const JsonPtr trade = all.waitForOp("message");
    ASSERT_TRUE(trade);
    EXPECT_EQ(trade->getValue<std::string>("topic"), "data.trades.BINANCE.BTCUSDT");
    ASSERT_TRUE(trade->getObject("payload"));
    EXPECT_EQ(trade->getObject("payload")->getValue<int>("seq"), 5);
    EXPECT_FALSE(all.receive(300ms)) << "\"*\" does not deliver heartbeats";
}

TEST(WsGatewayTest, BadClientFramesGetErrorFramesAndTheConnectionStaysOpen)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    WsClient c(relay.httpPort());
    ASSERT_TRUE(c.ok());

    const std::pair<std::string, std::string> cases[] = {
        {"{not json", "bad_request"},
        {R"({"op":"dance"})", "unknown_op"},
        {R"({"topics":["*"]})", "bad_request"},
        {R"({"op":"subscribe"})", "bad_request"},
        {R"({"op":"subscribe","topics":[]})", "bad_request"},
        {R"({"op":"subscribe","topics":[1]})", "bad_request"},
        {R"({"op":"subscribe","topics":["*"],"from":"yesterday"})", "bad_request"},
        {R"([1,2,3])", "bad_request"},
    };
    for (const auto& [frame, code] : cases) {
        c.sendText(frame);
        const JsonPtr e = c.receiveJson();
        ASSERT_TRUE(e) << frame;
        EXPECT_EQ(e->getValue<std::string>("op"), "error") << frame;
        EXPECT_EQ(e->getValue<std::string>("code"), code) << frame;
        EXPECT_FALSE(e->getValue<std::string>("message").empty());
    }
    c.sendFrame("\x01\x02", Poco::Net::WebSocket::FRAME_BINARY);
    const JsonPtr bin = c.receiveJson();
    ASSERT_TRUE(bin);
    EXPECT_EQ(bin->getValue<std::string>("code"), "bad_request");

    c.sendText(R"({"op":"ping","id":"abc"})");
    const JsonPtr pong = c.receiveJson();
    ASSERT_TRUE(pong);
    EXPECT_EQ(pong->getValue<std::string>("op"), "pong");
    EXPECT_EQ(pong->getValue<std::string>("id"), "abc");

    const JsonPtr status = relay.status();
    ASSERT_TRUE(status);
    const JsonPtr ws = status->getObject("websocket");
    ASSERT_TRUE(ws);
    EXPECT_EQ(ws->getValue<int>("clients"), 1);
    EXPECT_GE(ws->getValue<int>("client_errors"), 9);
    EXPECT_EQ(ws->getValue<int>("dropped_clients"), 0);
    const std::string metrics = relay.get("/metrics").body;
    EXPECT_NE(metrics.find("nautilus_relay_ws_clients 1"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("nautilus_relay_ws_client_errors_total"), std::string::npos);
}

// Few clients are written to from the routing thread itself; one that vanishes meanwhile is
// closed by its loop while a send may be in flight (the frames it points into must outlive it).
TEST(WsGatewayTest, ClientsVanishingDuringAFloodLeaveTheOthersServed)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    WsClient steady(relay.httpPort());
    ASSERT_TRUE(steady.subscribe(R"(["data.quotes.*","events.order.*"])"));

    QuoteFlood flood(redis);
    for (int round = 0; round < 20; ++round) {
        std::vector<std::unique_ptr<WsClient>> brief;
        for (int i = 0; i < 3; ++i) {
            brief.push_back(std::make_unique<WsClient>(relay.httpPort()));
            ASSERT_TRUE(brief.back()->subscribe(R"(["data.quotes.*"])")) << "round " << round;
        }
        for (auto& c : brief) {
            ASSERT_TRUE(c->waitForOp("message")) << "round " << round;
        }
        brief.clear();  // gone without a close frame, unread bytes and all
    }
    flood.stop();
    ASSERT_GT(flood.scripts(), 0);

    // The steady client (it read nothing meanwhile) still gets what comes next.
    const std::string orderId = xaddOrder(redis, 1);
    bool got = false;
    for (auto deadline = std::chrono::steady_clock::now() + 10s; !got && std::chrono::steady_clock::now() < deadline;) {
        const JsonPtr m = steady.receiveJson(5s);
        ASSERT_TRUE(m) << "the steady client stopped receiving";
        got = m->optValue<std::string>("op", "") == "message" && m->optValue<std::string>("id", "") == orderId;
    }
    EXPECT_TRUE(got);
    ASSERT_TRUE(relay.waitUntilStatus(
        [](const JsonPtr& o) { return o->getObject("websocket")->getValue<int>("clients") == 1; }, 10s))
        << "the vanished clients were not all removed: " << relay.get("/status").body;
    EXPECT_TRUE(relay.process().running());
    EXPECT_FALSE(sanitizerReported(relay.process().stderrText())) << relay.process().stderrText();
}

TEST(WsGatewayTest, SigtermDuringAFloodToClientsStopsCleanly)
{
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    // Two clients (written to from the routing thread) and then ten (through the loops).
    std::vector<std::unique_ptr<WsClient>> clients;
    for (int i = 0; i < 12; ++i) {
        clients.push_back(std::make_unique<WsClient>(relay.httpPort()));
        ASSERT_TRUE(clients.back()->subscribe(R"(["data.quotes.*"])"));
    }
    QuoteFlood flood(redis);
    ASSERT_TRUE(clients.front()->waitForOp("message"));
    std::this_thread::sleep_for(300ms);

    const auto t0 = std::chrono::steady_clock::now();
    relay.process().signal(SIGTERM);
    const auto status = relay.process().wait(10s);
    const auto elapsed = std::chrono::steady_clock::now() - t0;
    flood.stop();
    ASSERT_TRUE(status) << "still running 10 s after SIGTERM\n" << relay.process().stderrText();
    EXPECT_TRUE(status->exited) << status->describe();
    EXPECT_EQ(status->code, 0) << relay.process().stderrText();
    EXPECT_LT(elapsed, 5s);
    EXPECT_FALSE(sanitizerReported(relay.process().stderrText())) << relay.process().stderrText();
}

/// Whether this process may create an io_uring (a container's seccomp filter may say no).
bool ioUringAvailable()
{
    io_uring_params params{};
    const long fd = ::syscall(__NR_io_uring_setup, 4, &params);
    if (fd < 0) {
        return false;
    }
    ::close(static_cast<int>(fd));
    return true;
}

// The loops write to many clients in rounds of one send each, handed to the kernel together
// (io_uring) or one sendmsg after another: both must deliver everything, in stream order, also
// to clients whose sockets fill up (partial writes, EPOLLOUT) while the others are written.
class WsSendPathTest : public ::testing::TestWithParam<bool> {};

TEST_P(WsSendPathTest, ManyClientsGetEveryMessageInStreamOrderAlsoWhenTheirSocketsFill)
{
    const bool ioUring = GetParam();
    RedisServer redis;
    RelayProcess relay(RelayProcess::defaults(redis, {{"ws.io_uring", ioUring ? "true" : "false"}, {"ws.queue_bytes", "67108864"}}));
    ASSERT_TRUE(relay.waitUntilConnected()) << relay.process().stderrText();
    const std::string log = relay.process().stderrText();
    if (!ioUring) {
        EXPECT_NE(log.find("send with one sendmsg per client (ws.io_uring=false)"), std::string::npos) << log;
    } else if (ioUringAvailable()) {
        // Each loop says so (ws.threads = 2 by default): one that was refused would say that.
        EXPECT_NE(log.find("ws: event loop 0 sends with io_uring"), std::string::npos) << log;
        EXPECT_NE(log.find("ws: event loop 1 sends with io_uring"), std::string::npos) << log;
    } else {
        EXPECT_NE(log.find("io_uring unavailable"), std::string::npos) << log;
    }

    // More clients than the routing thread writes itself: the loops do. 5 MB each while nobody
    // reads: more than a socket takes (a 4 MB send buffer at most on Debian, plus what the
    // reader's kernel buffers), so writes end part way through a frame and go on at EPOLLOUT
    // while the others are written; the send queues (raised to 64 MiB) hold the rest.
    constexpr int kClients = 12;
    constexpr int kEntries = 25;
    constexpr int kPad = 200'000;
    std::vector<std::unique_ptr<WsClient>> clients;
    for (int i = 0; i < kClients; ++i) {
        clients.push_back(std::make_unique<WsClient>(relay.httpPort()));
        ASSERT_TRUE(clients.back()->subscribe(R"(["events.order.*"])")) << i;
    }
    redis.command({"EVAL",
                   "for i = 1, " + std::to_string(kEntries) +
                       " do redis.call('XADD', KEYS[1], '*', 'topic', 'events.order.S-001', 'type', 'OrderFilled', "
                       "'payload', '{\"type\":\"OrderFilled\",\"seq\":' .. i .. ',\"pad\":\"' .. string.rep('x', " +
                       std::to_string(kPad) + ") .. '\"}', 'encoding', 'Json') end",
                   "1", kOrderKey});
    for (int i = 0; i < kClients; ++i) {
        int received = 0;
        while (received < kEntries) {
            const JsonPtr m = clients[static_cast<std::size_t>(i)]->receiveJson(10s);
            ASSERT_TRUE(m) << "client " << i << " stopped after " << received;
            if (m->optValue<std::string>("op", "") != "message") {
                continue;
            }
            ++received;
            const auto payload = m->getObject("payload");
            ASSERT_TRUE(payload);
            ASSERT_EQ(payload->getValue<int>("seq"), received) << "client " << i;
            ASSERT_EQ(payload->getValue<std::string>("pad").size(), static_cast<std::size_t>(kPad)) << "client " << i;
        }
        const auto more = clients[static_cast<std::size_t>(i)]->receive(50ms);
        EXPECT_FALSE(more && more->data.find(R"("op":"message")") != std::string::npos) << "client " << i << " got more";
    }
    EXPECT_FALSE(sanitizerReported(relay.process().stderrText())) << relay.process().stderrText();
}

INSTANTIATE_TEST_SUITE_P(WsSendPaths, WsSendPathTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "IoUring" : "Sendmsg"; });

}  // namespace
}  // namespace nautilus::relay

// The real nautilus-relay binary against a real redis-server, observed only through REST.
#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>

#include "support/HttpExposition.h"
#include "support/ProcessRelay.h"
#include "support/RedisServer.h"

namespace nautilus::relay {
namespace {

using namespace std::chrono_literals;
using test::RedisServer;
using test::RelayProcess;
using JsonPtr = Poco::JSON::Object::Ptr;

constexpr const char* kQuoteTopic = "data.quotes.BINANCE.BTCUSDT";
constexpr const char* kQuoteKey = "trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT";

/// XADD of a NautilusTrader (G3) QuoteTick in JSON to its per-topic stream; returns the id.
std::string xaddQuote(const RedisServer& redis, int seq)
{
    return redis.command({"XADD", kQuoteKey, "*", "topic", kQuoteTopic, "type", "QuoteTick", "payload",
                          R"({"type":"QuoteTick","instrument_id":"BTCUSDT.BINANCE","bid_price":"67000.10",)"
                          R"("ask_price":"67000.20","bid_size":"1.50000","ask_size":"2.00000",)"
                          R"("ts_event":1719792000000000000,"ts_init":1719792000000000001,"seq":)" +
                              std::to_string(seq) + "}",
                          "encoding", "Json"});
}

std::int64_t received(const JsonPtr& status)
{
    return status ? status->getObject("bus")->getValue<std::int64_t>("received") : -1;
}

std::string busState(const JsonPtr& status)
{
    return status ? status->getObject("bus")->getValue<std::string>("state") : std::string("(no answer)");
}

class RestEndToEndTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        redis = std::make_unique<RedisServer>(RedisServer::Options{true, {}, {}});  // AOF: data survives restarts
        relay = std::make_unique<RelayProcess>(RelayProcess::defaults(*redis));
        ASSERT_TRUE(relay->waitUntilServing()) << relay->process().stderrText();
    }
    void TearDown() override
    {
        if (HasFailure() && relay) {
            std::fprintf(stderr, "--- relay stderr ---\n%s\n", relay->process().stderrText().c_str());
        }
    }

    std::unique_ptr<RedisServer> redis;
    std::unique_ptr<RelayProcess> relay;
};

TEST_F(RestEndToEndTest, StatusShowsConnectedAndCountsEntries)
{
    JsonPtr s = relay->waitForStatus([](const JsonPtr& o) { return busState(o) == "connected"; }, 10s);
    ASSERT_EQ(busState(s), "connected");
    EXPECT_EQ(s->getValue<std::string>("service"), "nautilus-relay");
    EXPECT_EQ(s->getValue<std::string>("instance"), relay->instanceId());
    EXPECT_EQ(s->getObject("bus")->getValue<std::string>("redis"), "127.0.0.1:" + std::to_string(redis->port()));
    EXPECT_TRUE(s->getObject("bus")->isNull("last_error"));
    EXPECT_TRUE(s->getObject("state")->getValue<bool>("enabled"));

    std::string lastId;
    for (int i = 0; i < 25; ++i) {
        lastId = xaddQuote(*redis, i);
    }
    s = relay->waitForStatus([](const JsonPtr& o) { return received(o) >= 25; }, 10s);
    EXPECT_EQ(received(s), 25);
    EXPECT_EQ(s->getObject("bus")->getValue<int>("rejected"), 0);
    bool found = false;
    const auto streams = s->getObject("bus")->getArray("streams");
    for (std::size_t i = 0; i < streams->size(); ++i) {
        const auto st = streams->getObject(static_cast<unsigned>(i));
        if (st->getValue<std::string>("key") == kQuoteKey) {
            found = true;
            EXPECT_EQ(st->getValue<std::string>("last_id"), lastId);
            EXPECT_EQ(st->getValue<int>("received"), 25);
        }
    }
    EXPECT_TRUE(found) << "stream not discovered";
    EXPECT_FALSE(s->getObject("bus")->isNull("last_message_at"));

    for (int i = 25; i < 40; ++i) {
        xaddQuote(*redis, i);
    }
    s = relay->waitForStatus([](const JsonPtr& o) { return received(o) >= 40; }, 10s);
    EXPECT_EQ(received(s), 40);
}

TEST_F(RestEndToEndTest, ReadyBeforeAnyTopicWasPublished)
{
    // No stream exists yet: the read loop idles (PING) and must still count as alive.
    const auto ready = test::waitForHttp("127.0.0.1", relay->httpPort(), "/health/ready",
                                         [](const test::HttpResult& r) { return r.status == 200; }, 10s);
    EXPECT_EQ(ready.status, 200) << ready.body;
}

TEST_F(RestEndToEndTest, ReadinessFollowsRedisDownAndBackUp)
{
    xaddQuote(*redis, 0);
    auto ready = test::waitForHttp("127.0.0.1", relay->httpPort(), "/health/ready",
                                   [](const test::HttpResult& r) { return r.status == 200; }, 10s);
    ASSERT_EQ(ready.status, 200) << ready.body;
    EXPECT_EQ(test::parseJsonObject(ready.body)->getValue<std::string>("status"), "ready");

    redis->stop();
    auto notReady = test::waitForHttp("127.0.0.1", relay->httpPort(), "/health/ready",
                                      [](const test::HttpResult& r) { return r.status == 503; }, 10s);
    ASSERT_EQ(notReady.status, 503) << notReady.body;
    const auto body = test::parseJsonObject(notReady.body);
    EXPECT_EQ(body->getValue<std::string>("status"), "not_ready");
    EXPECT_FALSE(body->getObject("checks")->getObject("connected")->getValue<bool>("ok"));
    const auto failed = body->getArray("failed");
    ASSERT_GE(failed->size(), 1u);
    EXPECT_EQ(failed->getElement<std::string>(0), "connected");
    // Live stays green: the process serves.
    EXPECT_EQ(relay->get("/health/live").status, 200);
    EXPECT_NE(busState(relay->status()), "connected");

    redis->start();
    ready = test::waitForHttp("127.0.0.1", relay->httpPort(), "/health/ready",
                              [](const test::HttpResult& r) { return r.status == 200; }, 15s);
    EXPECT_EQ(ready.status, 200) << ready.body;
    const auto s = relay->status();
    EXPECT_GE(s->getObject("bus")->getValue<int>("reconnects"), 1);

    // Delivery really resumed.
    const std::int64_t before = received(s);
    xaddQuote(*redis, 1);
    EXPECT_EQ(received(relay->waitForStatus([&](const JsonPtr& o) { return received(o) > before; }, 10s)), before + 1);
}

TEST_F(RestEndToEndTest, StatusWithoutStreamsCountsThemAndListsNone)
{
    relay->waitForStatus([](const JsonPtr& o) { return busState(o) == "connected"; }, 10s);
    xaddQuote(*redis, 1);
    const auto full = relay->waitForStatus([](const JsonPtr& o) { return received(o) >= 1; }, 10s);
    ASSERT_TRUE(full && received(full) >= 1) << relay->get("/status").body;
    const auto streams = full->getObject("bus")->getArray("streams");
    ASSERT_GE(streams->size(), 1u);

    const auto r = relay->get("/status?streams=false");
    ASSERT_EQ(r.status, 200) << r.body;
    const auto bus = test::parseJsonObject(r.body)->getObject("bus");
    EXPECT_FALSE(bus->has("streams")) << r.body;
    EXPECT_EQ(bus->getValue<std::size_t>("stream_count"), streams->size());
    EXPECT_EQ(bus->getValue<std::int64_t>("received"), received(full));
    EXPECT_EQ(bus->getValue<std::string>("state"), "connected");
    EXPECT_EQ(relay->get("/status?streams=maybe").status, 400);
}

TEST_F(RestEndToEndTest, MetricsAreWellFormedAndCount)
{
    relay->waitForStatus([](const JsonPtr& o) { return busState(o) == "connected"; }, 10s);
    for (int i = 0; i < 7; ++i) {
        xaddQuote(*redis, i);
    }
    // A stream key with quotes and a backslash: label escaping must keep the exposition valid.
    redis->command({"XADD", "trader-TRADER-001:stream:data.\"odd\"\\topic", "*", "topic", "data.\"odd\"\\topic",
                    "type", "QuoteTick", "payload",
                    R"({"type":"QuoteTick","instrument_id":"ODD.SIM","bid_price":"1.0","ask_price":"1.1",)"
                    R"("bid_size":"1","ask_size":"1","ts_event":1,"ts_init":2})",
                    "encoding", "Json"});
    relay->waitForStatus([](const JsonPtr& o) { return received(o) >= 8; }, 10s);

    const auto r = relay->get("/metrics");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.contentType, "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_EQ(test::validateExposition(r.body), "") << r.body;
    for (const std::string text : {"nautilus_relay_bus_received_total 8\n",
                                   "nautilus_relay_bus_state{state=\"connected\"} 1\n",
                                   "nautilus_relay_routed_total{topic=\"data.quotes.BINANCE.BTCUSDT\"} 7\n",
                                   "nautilus_relay_routed_by_type_total{type=\"QuoteTick\"} 8\n",
                                   "nautilus_relay_ready 1\n", "nautilus_relay_bus_reconnects_total 0\n",
                                   "process_resident_memory_bytes ", "nautilus_relay_uptime_seconds "}) {
        EXPECT_NE(r.body.find(text), std::string::npos) << text << "\n" << r.body;
    }
    // waitForStatus polled /status: its handling time is counted under route="status", and the
    // request for an unknown path under "other" (a fixed set of labels, whatever the target).
    relay->get("/no/such/path?x=1");
    const std::string after = relay->get("/metrics").body;
    for (const std::string route : {"status", "other", "metrics"}) {
        const std::string key = "nautilus_relay_http_request_seconds_count{route=\"" + route + "\"} ";
        const auto at = after.find(key);
        ASSERT_NE(at, std::string::npos) << key << "\n" << after;
        EXPECT_GE(std::stod(after.substr(at + key.size())), 1.0) << key;
    }
    EXPECT_EQ(after.find("route=\"/no"), std::string::npos);
}

TEST_F(RestEndToEndTest, MetricsStayValidWithNonUtf8StreamKeys)
{
    relay->waitForStatus([](const JsonPtr& o) { return busState(o) == "connected"; }, 10s);
    // Redis keys are binary; a Prometheus label value must be UTF-8 or the whole scrape fails.
    redis->command({"XADD", "trader-TRADER-001:stream:data.bad\xff", "*", "topic", "data.bad", "type", "QuoteTick",
                    "payload", "{}", "encoding", "Json"});
    ASSERT_TRUE(relay->waitUntilStatus([](const JsonPtr& o) { return received(o) >= 1; }, 10s));
    const auto r = relay->get("/metrics");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(test::validateExposition(r.body), "");
    // /status stays valid JSON too.
    EXPECT_NO_THROW(test::parseJsonObject(relay->get("/status").body));
}

TEST_F(RestEndToEndTest, UnknownPathsAndWrongMethodsAnswerJson)
{
    auto r = relay->get("/does/not/exist");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.contentType, "application/json");
    EXPECT_EQ(r.body, R"({"error":"not_found","message":"no such endpoint","path":"/does/not/exist"})");

    r = relay->request("POST", "/status", "{}");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.header("allow"), "GET");
    EXPECT_EQ(test::parseJsonObject(r.body)->getValue<std::string>("error"), "method_not_allowed");

    r = relay->request("DELETE", "/health/ready");
    EXPECT_EQ(r.status, 405);
}

TEST_F(RestEndToEndTest, LoggerLevelsChangeAtRunTime)
{
    auto r = relay->request("PUT", "/admin/loggers/relay.bus", R"({"level":"debug"})");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"({"name":"relay.bus","level":"debug"})");
    r = relay->get("/admin/loggers");
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find(R"({"name":"relay.bus","level":"debug"})"), std::string::npos) << r.body;
    r = relay->request("PUT", "/admin/loggers/relay.bus", "loud");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(relay->request("PUT", "/admin/loggers/relay.bus", "info").status, 200);
}

TEST_F(RestEndToEndTest, ClusterListsThisInstanceFromTheRegistry)
{
    auto r = test::waitForHttp("127.0.0.1", relay->httpPort(), "/status/cluster",
                               [&](const test::HttpResult& res) {
                                   return res.status == 200 && res.body.find(relay->instanceId()) != std::string::npos;
                               },
                               10s);
    ASSERT_EQ(r.status, 200) << r.body;
    const auto instances = test::parseJsonObject(r.body)->getArray("instances");
    ASSERT_EQ(instances->size(), 1u);

    redis->stop();
    r = relay->get("/status/cluster");
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(test::parseJsonObject(r.body)->getValue<std::string>("error"), "redis_unavailable");
}

TEST(RestAdminTokenTest, TokenGuardsAdminEvenFromLoopback)
{
    RedisServer redis;
    auto settings = RelayProcess::defaults(redis);
    settings["http.admin_token"] = "s3cret-token";
    RelayProcess relay(settings);
    ASSERT_TRUE(relay.waitUntilServing()) << relay.process().stderrText();
    EXPECT_EQ(relay.request("PUT", "/admin/loggers/relay", "debug").status, 401);
    EXPECT_EQ(relay.request("PUT", "/admin/loggers/relay", "debug", {{"Authorization", "Bearer nope"}}).status, 403);
    EXPECT_EQ(relay.request("PUT", "/admin/loggers/relay", "debug", {{"Authorization", "Bearer s3cret-token"}}).status,
              200);
    EXPECT_EQ(relay.get("/status").status, 200);
}

}  // namespace
}  // namespace nautilus::relay

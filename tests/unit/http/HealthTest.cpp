#include "http/Health.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include "http/StatusJson.h"

namespace nautilus::relay {
namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kNow = 1'732'700'000'000 * kMs;

BusSnapshot healthyBus()
{
    BusSnapshot b;
    b.state = BusState::Connected;
    b.sinceNs = kNow - 60'000 * kMs;
    b.redis = "127.0.0.1:6379";
    b.lastPollNs = kNow - 100 * kMs;
    b.lastMessageNs = kNow - 100 * kMs;
    b.lastHeartbeatNs = kNow - 1000 * kMs;
    StreamStatus s;
    s.key = "trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT";
    s.lag = 5;
    b.streams.push_back(s);
    return b;
}

HealthOptions options()
{
    HealthOptions o;
    o.readerAliveMs = 3500;
    return o;
}

std::vector<std::string> failed(const Readiness& r)
{
    std::vector<std::string> out;
    for (const auto& c : r.checks) {
        if (!c.ok) {
            out.push_back(c.name);
        }
    }
    return out;
}

using Names = std::vector<std::string>;

TEST(HealthTest, ReadyWhenEveryCheckPasses)
{
    const Readiness r = evaluateReadiness(healthyBus(), options(), kNow);
    EXPECT_TRUE(r.ready);
    ASSERT_EQ(r.checks.size(), 4u);
    EXPECT_EQ(r.checks[0].name, "connected");
    EXPECT_EQ(r.checks[1].name, "reader_alive");
    EXPECT_EQ(r.checks[2].name, "heartbeat");
    EXPECT_EQ(r.checks[3].name, "lag");
    EXPECT_EQ(r.checks[0].detail, "connected to 127.0.0.1:6379 for 1 min 0 s");
    EXPECT_EQ(r.checks[1].detail, "last XREAD completed 100 ms ago");
    EXPECT_EQ(r.checks[2].detail, "not required (health.require_heartbeat = false)");
    EXPECT_EQ(r.checks[3].detail,
              "max lag 5 entries on trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT (limit 100000)");

    Poco::JSON::Parser parser;
    const auto o = parser.parse(renderReadiness(r)).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(o->getValue<std::string>("status"), "ready");
    EXPECT_TRUE(o->getObject("checks")->getObject("connected")->getValue<bool>("ok"));
    EXPECT_EQ(o->getArray("failed")->size(), 0u);
}

TEST(HealthTest, NotConnectedFailsConnectedWithTheLastError)
{
    for (BusState s : {BusState::Connecting, BusState::Reconnecting, BusState::Disconnected}) {
        BusSnapshot b = healthyBus();
        b.state = s;
        b.sinceNs = kNow - 2500 * kMs;
        b.lastError = "Connection refused";
        const Readiness r = evaluateReadiness(b, options(), kNow);
        EXPECT_FALSE(r.ready);
        EXPECT_EQ(failed(r), Names{"connected"});
        EXPECT_EQ(r.checks[0].detail, std::string(busStateName(s)) + " for 2.5 s: Connection refused");
    }
}

TEST(HealthTest, StaleIsReadyOnlyWhenConfigured)
{
    BusSnapshot b = healthyBus();
    b.state = BusState::Stale;
    HealthOptions o = options();
    EXPECT_EQ(failed(evaluateReadiness(b, o, kNow)), Names{"connected"});
    o.readyWhenStale = true;
    const Readiness r = evaluateReadiness(b, o, kNow);
    EXPECT_TRUE(r.ready);
    EXPECT_NE(r.checks[0].detail.find("health.ready_when_stale"), std::string::npos);
}

TEST(HealthTest, AnOpenSocketWithADeadReadLoopIsNotReady)
{
    BusSnapshot b = healthyBus();
    b.lastPollNs = kNow - 3501 * kMs;
    Readiness r = evaluateReadiness(b, options(), kNow);
    EXPECT_EQ(failed(r), Names{"reader_alive"});
    EXPECT_EQ(r.checks[1].detail, "last XREAD completed 3.5 s ago (limit 3.5 s)");

    b.lastPollNs = 0;
    r = evaluateReadiness(b, options(), kNow);
    EXPECT_EQ(failed(r), Names{"reader_alive"});
    EXPECT_EQ(r.checks[1].detail, "no XREAD has completed yet");

    b.lastPollNs = kNow - 10'000 * kMs;
    b.backpressured = true;
    r = evaluateReadiness(b, options(), kNow);
    EXPECT_NE(r.checks[1].detail.find("paused by full downstream queues"), std::string::npos);
}

TEST(HealthTest, HeartbeatIsCheckedOnlyWhenRequired)
{
    BusSnapshot b = healthyBus();
    b.lastHeartbeatNs = kNow - 20'000 * kMs;
    EXPECT_TRUE(evaluateReadiness(b, options(), kNow).ready);

    HealthOptions o = options();
    o.requireHeartbeat = true;
    o.heartbeatTimeoutMs = 15000;
    Readiness r = evaluateReadiness(b, o, kNow);
    EXPECT_EQ(failed(r), Names{"heartbeat"});
    EXPECT_EQ(r.checks[2].detail, "last heartbeat 20.0 s ago (limit 15.0 s)");

    b.lastHeartbeatNs = 0;
    r = evaluateReadiness(b, o, kNow);
    EXPECT_EQ(failed(r), Names{"heartbeat"});
    EXPECT_EQ(r.checks[2].detail, "no heartbeat received");

    b.lastHeartbeatNs = kNow - 14'000 * kMs;
    EXPECT_TRUE(evaluateReadiness(b, o, kNow).ready);
}

TEST(HealthTest, LagAboveTheLimitIsNotReadyUnlessDisabled)
{
    BusSnapshot b = healthyBus();
    StreamStatus behind;
    behind.key = "trader-TRADER-001:stream:events.order.S-001";
    behind.lag = 100001;
    b.streams.push_back(behind);
    StreamStatus unknown;
    unknown.key = "k";
    unknown.lag = -1;
    b.streams.push_back(unknown);
    HealthOptions o = options();
    Readiness r = evaluateReadiness(b, o, kNow);
    EXPECT_EQ(failed(r), Names{"lag"});
    EXPECT_EQ(r.checks[3].detail,
              "max lag 100001 entries on trader-TRADER-001:stream:events.order.S-001 (limit 100000)");

    o.maxLag = 0;
    r = evaluateReadiness(b, o, kNow);
    EXPECT_TRUE(r.ready);
    EXPECT_EQ(r.checks[3].detail, "not checked (health.max_lag = 0)");
}

TEST(HealthTest, SeveralFailuresAreAllListed)
{
    BusSnapshot b;
    b.state = BusState::Reconnecting;
    HealthOptions o = options();
    o.requireHeartbeat = true;
    const Readiness r = evaluateReadiness(b, o, kNow);
    EXPECT_EQ(failed(r), (Names{"connected", "reader_alive", "heartbeat"}));
    Poco::JSON::Parser parser;
    const auto obj = parser.parse(renderReadiness(r)).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(obj->getValue<std::string>("status"), "not_ready");
    const auto list = obj->getArray("failed");
    ASSERT_EQ(list->size(), 3u);
    EXPECT_EQ(list->getElement<std::string>(0), "connected");
    EXPECT_FALSE(obj->getObject("checks")->getObject("heartbeat")->getValue<bool>("ok"));
    EXPECT_EQ(obj->getObject("checks")->getObject("heartbeat")->getValue<std::string>("detail"),
              "no heartbeat received");
}

}  // namespace
}  // namespace nautilus::relay

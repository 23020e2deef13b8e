#include "http/StatusJson.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include "common/Version.h"

namespace nautilus::relay {
namespace {

constexpr std::int64_t kS = 1'000'000'000;
constexpr std::int64_t kT0 = 1'732'700'000 * kS;  // 2024-11-27T09:33:20Z

Poco::JSON::Object::Ptr parse(const std::string& text)
{
    Poco::JSON::Parser parser;
    return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

BusSnapshot connectedBus()
{
    BusSnapshot b;
    b.state = BusState::Connected;
    b.sinceNs = kT0 + 1 * kS;
    b.redis = "127.0.0.1:6379";
    b.reconnects = 2;
    b.lastMessageNs = kT0 + 99 * kS;
    b.lastPollNs = kT0 + 99 * kS;
    b.received = 123;
    b.rejected = 1;
    b.heartbeats = 4;
    b.trimGaps = 1;
    b.resets = 0;
    StreamStatus s;
    s.key = "trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT";
    s.lastId = StreamId{1732700000000, 3};
    s.lag = 0;
    s.received = 120;
    s.trimGaps = 1;
    b.streams.push_back(s);
    StreamStatus fresh;
    fresh.key = "trader-TRADER-001:stream:health:heartbeat";
    b.streams.push_back(fresh);
    return b;
}

TEST(StatusJsonTest, HasExactlyTheDesignShape)
{
    StateHealth state;
    state.ok = true;
    state.lastWriteNs = kT0 + 99 * kS;
    const std::string text = renderStatus(ServiceInfo{"host-a:8080", kT0}, connectedBus(), state, kT0 + 100 * kS + 500'000'000);
    const auto o = parse(text);
    EXPECT_EQ(o->getValue<std::string>("service"), "nautilus-relay");
    EXPECT_EQ(o->getValue<std::string>("version"), kVersion);
    EXPECT_EQ(o->getValue<std::string>("instance"), "host-a:8080");
    EXPECT_EQ(o->getValue<std::string>("started_at"), "2024-11-27T09:33:20.000Z");
    EXPECT_DOUBLE_EQ(o->getValue<double>("uptime_s"), 100.5);

    const auto bus = o->getObject("bus");
    ASSERT_TRUE(bus);
    EXPECT_EQ(bus->getValue<std::string>("state"), "connected");
    EXPECT_EQ(bus->getValue<std::string>("since"), "2024-11-27T09:33:21.000Z");
    EXPECT_EQ(bus->getValue<std::string>("redis"), "127.0.0.1:6379");
    EXPECT_EQ(bus->getValue<int>("reconnects"), 2);
    EXPECT_TRUE(bus->isNull("last_error"));
    EXPECT_EQ(bus->getValue<std::string>("last_message_at"), "2024-11-27T09:34:59.000Z");
    EXPECT_TRUE(bus->isNull("last_heartbeat_at"));
    EXPECT_EQ(bus->getValue<int>("received"), 123);
    EXPECT_EQ(bus->getValue<int>("rejected"), 1);
    EXPECT_EQ(bus->getValue<int>("trim_gaps"), 1);
    EXPECT_EQ(bus->getValue<int>("resets"), 0);
    EXPECT_EQ(bus->getValue<int>("heartbeats"), 4);
    EXPECT_FALSE(bus->getValue<bool>("backpressured"));
    const auto streams = bus->getArray("streams");
    ASSERT_EQ(streams->size(), 2u);
    const auto s0 = streams->getObject(0);
    EXPECT_EQ(s0->getValue<std::string>("key"), "trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT");
    EXPECT_EQ(s0->getValue<std::string>("last_id"), "1732700000000-3");
    EXPECT_EQ(s0->getValue<int>("lag"), 0);
    EXPECT_EQ(s0->getValue<int>("received"), 120);
    EXPECT_EQ(s0->getValue<int>("trim_gaps"), 1);
    EXPECT_EQ(s0->getValue<int>("resets"), 0);
    const auto s1 = streams->getObject(1);
    EXPECT_TRUE(s1->isNull("last_id"));  // nothing delivered yet
    EXPECT_TRUE(s1->isNull("lag"));      // unknown

    EXPECT_EQ(o->getArray("plugins")->size(), 0u);
    const auto ws = o->getObject("websocket");
    EXPECT_EQ(ws->getValue<int>("clients"), 0);
    EXPECT_EQ(ws->getValue<int>("sent"), 0);
    EXPECT_EQ(ws->getValue<int>("dropped_clients"), 0);

    const auto st = o->getObject("state");
    EXPECT_TRUE(st->getValue<bool>("enabled"));
    EXPECT_TRUE(st->getValue<bool>("ok"));
    EXPECT_TRUE(st->isNull("last_error"));
    EXPECT_EQ(st->getValue<std::string>("last_write_at"), "2024-11-27T09:34:59.000Z");
}

TEST(StatusJsonTest, ErrorsAndDisabledStateAreExplicit)
{
    BusSnapshot b;
    b.state = BusState::Reconnecting;
    b.redis = "10.0.0.5:6379";
    b.lastError = "connect: Connection refused \"x\"";
    b.lastErrorNs = kT0;
    const auto o = parse(renderStatus(ServiceInfo{"i", kT0}, b, std::nullopt, kT0));
    const auto bus = o->getObject("bus");
    EXPECT_EQ(bus->getValue<std::string>("state"), "reconnecting");
    EXPECT_EQ(bus->getValue<std::string>("last_error"), "connect: Connection refused \"x\"");
    EXPECT_TRUE(bus->isNull("since"));
    EXPECT_TRUE(bus->isNull("last_message_at"));
    EXPECT_EQ(bus->getArray("streams")->size(), 0u);
    const auto st = o->getObject("state");
    EXPECT_FALSE(st->getValue<bool>("enabled"));
    EXPECT_TRUE(st->isNull("ok"));

    StateHealth failing;
    failing.ok = false;
    failing.lastError = "READONLY You can't write against a read only replica.";
    const auto o2 = parse(renderStatus(ServiceInfo{"i", kT0}, b, failing, kT0));
    EXPECT_FALSE(o2->getObject("state")->getValue<bool>("ok"));
    EXPECT_EQ(o2->getObject("state")->getValue<std::string>("last_error"), failing.lastError);
    EXPECT_TRUE(o2->getObject("state")->isNull("last_write_at"));
}

TEST(StatusJsonTest, EveryStateHasItsDesignName)
{
    EXPECT_EQ(busStateName(BusState::Connecting), "connecting");
    EXPECT_EQ(busStateName(BusState::Connected), "connected");
    EXPECT_EQ(busStateName(BusState::Stale), "stale");
    EXPECT_EQ(busStateName(BusState::Reconnecting), "reconnecting");
    EXPECT_EQ(busStateName(BusState::Disconnected), "disconnected");
}

TEST(StatusJsonTest, ClusterLoggersAndErrors)
{
    const auto c = parse(renderCluster({{{"id", "a:8080"}, {"state", "connected"}}, {{"id", "b:8080"}}}));
    ASSERT_EQ(c->getArray("instances")->size(), 2u);
    EXPECT_EQ(c->getArray("instances")->getObject(0)->getValue<std::string>("state"), "connected");

    const auto l = parse(renderLoggers({{"relay.bus", "info"}, {"relay", "debug"}}));
    EXPECT_EQ(l->getArray("loggers")->getObject(0)->getValue<std::string>("name"), "relay");
    EXPECT_EQ(l->getArray("loggers")->getObject(1)->getValue<std::string>("level"), "info");

    EXPECT_EQ(renderError("not_found", "no such endpoint", {{"path", "/x\"y"}}),
              R"({"error":"not_found","message":"no such endpoint","path":"/x\"y"})");
}

}  // namespace
}  // namespace nautilus::relay

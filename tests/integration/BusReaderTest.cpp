// The bus reader against a real redis-server: XADD -> decode -> router for JSON, MessagePack,
// heartbeats and legacy entries; rejected entries; start positions (latest, earliest,
// checkpoint); stream-per-topic discovery; AUTH, ACL users and db selection; stale state;
// backpressure; metrics; prompt stop.
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>

#include "BusTestSupport.h"
#include "common/Metrics.h"

using namespace nautilus::relay;
using namespace nautilus::relay::bustest;

namespace {

class FixedCheckpoints : public CheckpointSource {
public:
    explicit FixedCheckpoints(std::map<std::string, StreamPosition> m, bool fail = false) : _m(std::move(m)), _fail(fail) {}
    std::map<std::string, StreamPosition> loadCheckpoints() override
    {
        ++calls;
        if (_fail) {
            throw std::runtime_error("checkpoint store unavailable");
        }
        return _m;
    }
    int calls = 0;

private:
    std::map<std::string, StreamPosition> _m;
    bool _fail;
};

}  // namespace

TEST(BusReaderTest, DeliversJsonMsgpackHeartbeatAndLegacyEntriesToTheRouter)
{
    RedisServer redis;
    Producer producer(redis);
    const std::string id1 = producer.xadd("bus:test", "*", quoteJson(1));
    const std::string id2 = producer.xadd("bus:test", "*", tradeMsgpack(2));
    producer.xadd("bus:test", "*", heartbeat());
    // G1 legacy entry: topic and payload only, JSON payload.
    producer.xadd("bus:test", "*", {{"topic", "events.order.S-1"}, {"payload", R"({"type":"OrderFilled","seq":3})"}});

    Router router;
    Collector all;
    Collector beats;
    router.subscribe("*", {}, &all);
    router.subscribe("health:heartbeat", {}, &beats);
    StreamReader reader(testConfig(redis), router);
    reader.start();
    ASSERT_TRUE(all.waitFor(3));
    ASSERT_TRUE(beats.waitFor(1));

    const auto msgs = all.messages();
    ASSERT_EQ(msgs.size(), 3u);
    const Message& q = msgs[0].view();
    EXPECT_EQ(q.stream, "bus:test");
    EXPECT_EQ(q.id, id1);
    EXPECT_EQ(q.streamId, *StreamId::parse(id1));
    EXPECT_EQ(q.topic, kQuoteTopic);
    EXPECT_EQ(q.type, "QuoteTick");
    EXPECT_EQ(q.json, quoteJson(1)[2].second);  // JSON passes through byte for byte
    EXPECT_GT(q.receivedNs, 0);
    const Message& t = msgs[1].view();
    EXPECT_EQ(t.id, id2);
    EXPECT_EQ(t.type, "TradeTick");
    EXPECT_EQ(t.encoding, Encoding::MsgPack);
    EXPECT_EQ(seqOf(t), 2);  // transcoded to JSON
    EXPECT_EQ(msgs[2].view().type, "OrderFilled");
    EXPECT_EQ(beats.messages()[0].view().json, "2024-07-01T00:00:10.123+00:00");

    ASSERT_TRUE(eventually([&] { return reader.snapshot().received == 4; }));
    const BusSnapshot s = reader.snapshot();
    EXPECT_EQ(s.state, BusState::Connected);
    EXPECT_EQ(s.redis, redis.host() + ":" + std::to_string(redis.port()));
    EXPECT_EQ(s.rejected, 0u);
    EXPECT_EQ(s.heartbeats, 1u);
    EXPECT_GT(s.lastHeartbeatNs, 0);
    EXPECT_GT(s.lastMessageNs, 0);
    ASSERT_EQ(s.streams.size(), 1u);
    EXPECT_EQ(s.streams[0].key, "bus:test");
    EXPECT_EQ(s.streams[0].received, 4u);
    EXPECT_EQ(s.streams[0].ordinal, 4);
    reader.stop();
    EXPECT_EQ(reader.snapshot().state, BusState::Disconnected);
    const auto pos = reader.positions();
    ASSERT_EQ(pos.count("bus:test"), 1u);
    EXPECT_EQ(pos.at("bus:test").ordinal, 4);
}

TEST(BusReaderTest, RejectedEntriesAreCountedAndReadingContinues)
{
    RedisServer redis;
    Producer producer(redis);
    producer.xadd("bus:test", "*", quoteJson(1));
    producer.xadd("bus:test", "*", {{"payload", "{}"}});                                   // G0: payload only
    producer.xadd("bus:test", "*", quoteJson(2));
    producer.xadd("bus:test", "*", {{"topic", "x"}, {"payload", "{}"}, {"encoding", "MessagePack"}});  // bad encoding
    producer.xadd("bus:test", "*", {{"topic", "x"}, {"type", "QuoteTick"}, {"payload", "{\"a\":"}});   // bad JSON
    producer.xadd("bus:test", "*", quoteJson(3));

    Router router;
    Collector all;
    router.subscribe("*", {}, &all);
    StreamReader reader(testConfig(redis), router);
    reader.start();
    ASSERT_TRUE(all.waitFor(3));
    EXPECT_TRUE(exactlyInOrder(all.seqs(), 3));
    ASSERT_TRUE(eventually([&] { return reader.snapshot().received == 6; }));
    EXPECT_EQ(reader.snapshot().rejected, 3u);
    // Rejected entries are consumed: the position is past the last entry.
    producer.xadd("bus:test", "*", quoteJson(4));
    ASSERT_TRUE(all.waitFor(4));
    EXPECT_TRUE(exactlyInOrder(all.seqs(), 4));
    // The cursor advances after the batch is routed, so the collector may see entry 4 first.
    EXPECT_TRUE(eventually([&] { return reader.snapshot().streams[0].ordinal == 7; }))
        << "ordinal " << reader.snapshot().streams[0].ordinal;
}

TEST(BusReaderTest, LatestSkipsWhatIsThereEarliestReadsIt)
{
    RedisServer redis;
    Producer producer(redis);
    for (int i = 1; i <= 5; ++i) {
        producer.xadd("bus:test", "*", quoteJson(i));
    }
    Router router;
    Collector latest;
    Collector earliest;
    router.subscribe("*", {}, &latest);
    BusConfig cfgLatest = testConfig(redis);
    cfgLatest.start = StartPosition::Latest;
    StreamReader r1(cfgLatest, router);
    r1.start();
    ASSERT_TRUE(waitState(r1, BusState::Connected));

    Router router2;
    router2.subscribe("*", {}, &earliest);
    StreamReader r2(testConfig(redis), router2);
    r2.start();
    ASSERT_TRUE(earliest.waitFor(5));

    producer.xadd("bus:test", "*", quoteJson(6));
    ASSERT_TRUE(latest.waitFor(1));
    ASSERT_TRUE(earliest.waitFor(6));
    EXPECT_EQ(latest.seqs(), std::vector<long long>{6});
    EXPECT_TRUE(exactlyInOrder(earliest.seqs(), 6));
    ASSERT_TRUE(eventually([&] { return r1.snapshot().streams[0].ordinal == 6 && r1.snapshot().streams[0].lag == 0; }));
}

TEST(BusReaderTest, CheckpointStartResumesAfterTheStoredPositionAndFallsBack)
{
    RedisServer redis;
    Producer producer(redis);
    std::vector<std::string> ids;
    for (int i = 1; i <= 10; ++i) {
        ids.push_back(producer.xadd("bus:test", "*", quoteJson(i)));
        producer.xadd("bus:other", "*", quoteJson(i));
    }
    BusConfig cfg = testConfig(redis, {"bus:test", "bus:other"});
    cfg.start = StartPosition::Checkpoint;
    cfg.startFallback = StartPosition::Earliest;
    {
        Router router;
        Collector test;
        Collector other;
        router.subscribe("*", {}, &test);
        FixedCheckpoints cp({{"bus:test", StreamPosition{*StreamId::parse(ids[4]), 5}}});
        StreamReader reader(cfg, router, &cp);
        reader.start();
        ASSERT_TRUE(test.waitFor(15));  // 6..10 of bus:test, 1..10 of bus:other (no checkpoint)
        std::this_thread::sleep_for(100ms);
        EXPECT_EQ(test.size(), 15u);
        EXPECT_EQ(cp.calls, 1);
        std::vector<long long> fromTest;
        for (const auto& m : test.messages()) {
            if (m.view().stream == "bus:test") {
                fromTest.push_back(seqOf(m.view()));
            }
        }
        EXPECT_EQ(fromTest, (std::vector<long long>{6, 7, 8, 9, 10}));
        EXPECT_EQ(reader.snapshot().trimGaps, 0u);
    }
    {
        // The store fails: every stream starts at the fallback (latest here).
        cfg.startFallback = StartPosition::Latest;
        Router router;
        Collector all;
        router.subscribe("*", {}, &all);
        FixedCheckpoints broken({}, true);
        StreamReader reader(cfg, router, &broken);
        reader.start();
        ASSERT_TRUE(waitState(reader, BusState::Connected));
        producer.xadd("bus:test", "*", quoteJson(11));
        ASSERT_TRUE(all.waitFor(1));
        std::this_thread::sleep_for(100ms);
        EXPECT_EQ(all.seqs(), std::vector<long long>{11});
    }
}

TEST(BusReaderTest, DiscoversPerTopicStreamsCreatedAfterStartFromTheirFirstEntry)
{
    RedisServer redis;
    Producer producer(redis);
    BusConfig cfg = testConfig(redis, {});
    cfg.start = StartPosition::Latest;  // NautilusTrader defaults otherwise: per-topic streams
    const std::string base = "trader-TRADER-001:stream";
    producer.xadd(base + ":data.quotes.OLD.X", "*", quoteJson(100));  // existed before: skipped (latest)
    producer.xadd("trader-TRADER-002:stream:data.quotes.A.B", "*", quoteJson(200));  // another trader: never read

    Router router;
    Collector all;
    Collector beats;
    router.subscribe("*", {}, &all);
    router.subscribe("health:heartbeat", {}, &beats);
    StreamReader reader(cfg, router);
    reader.start();
    ASSERT_TRUE(waitState(reader, BusState::Connected));
    EXPECT_EQ(reader.snapshot().streams.size(), 1u);

    for (int i = 1; i <= 3; ++i) {
        producer.xadd(base + ":" + kQuoteTopic, "*", quoteJson(i));
    }
    producer.xadd(base + ":health:heartbeat", "*", heartbeat());
    ASSERT_TRUE(all.waitFor(3));
    ASSERT_TRUE(beats.waitFor(1));
    EXPECT_TRUE(exactlyInOrder(all.seqs(), 3));
    producer.xadd(base + ":data.quotes.OLD.X", "*", quoteJson(4));
    ASSERT_TRUE(all.waitFor(4));
    EXPECT_EQ(all.seqs().back(), 4);
    const auto snap = reader.snapshot();
    EXPECT_EQ(snap.streams.size(), 3u);
    EXPECT_EQ(snap.heartbeats, 1u);
    for (const auto& st : snap.streams) {
        EXPECT_EQ(st.key.rfind(base + ":", 0), 0u) << st.key;
    }
}

TEST(BusReaderTest, AuthenticatesWithPasswordAndAclUserAndSelectsTheDatabase)
{
    RedisServer::Options options;
    options.password = "s3cret";
    options.extraArgs = {"--user", "relay", "on", ">relaypw", "~*", "&*", "+@all"};
    RedisServer redis(options);
    Producer producer(redis, 3);
    producer.xadd("bus:test", "*", quoteJson(1));

    {
        BusConfig cfg = testConfig(redis);
        cfg.redis.password = "s3cret";
        cfg.redis.db = 3;
        Router router;
        Collector all;
        router.subscribe("*", {}, &all);
        StreamReader reader(cfg, router);
        reader.start();
        ASSERT_TRUE(all.waitFor(1));
    }
    {
        BusConfig cfg = testConfig(redis);
        cfg.redis.username = "relay";
        cfg.redis.password = "relaypw";
        cfg.redis.db = 3;
        Router router;
        Collector all;
        router.subscribe("*", {}, &all);
        StreamReader reader(cfg, router);
        reader.start();
        ASSERT_TRUE(all.waitFor(1));
        const std::string clients = redis.command({"CLIENT", "LIST"});
        EXPECT_NE(clients.find("user=relay"), std::string::npos) << clients;
        EXPECT_NE(clients.find("name=nautilus-relay:bus:"), std::string::npos) << clients;
        EXPECT_NE(clients.find("db=3"), std::string::npos) << clients;
    }
    {
        BusConfig cfg = testConfig(redis);
        cfg.redis.username = "relay";
        cfg.redis.password = "wrong";
        Router router;
        StreamReader reader(cfg, router);
        reader.start();
        ASSERT_TRUE(eventually([&] { return !reader.snapshot().lastError.empty(); }));
        const BusSnapshot s = reader.snapshot();
        EXPECT_EQ(s.state, BusState::Connecting);
        EXPECT_NE(s.lastError.find("WRONGPASS"), std::string::npos) << s.lastError;
    }
}

TEST(BusReaderTest, GoesStaleAfterSilenceAndBackOnTheNextEntry)
{
    RedisServer redis;
    BusConfig cfg = testConfig(redis);
    cfg.staleAfterMs = 1000;  // long enough that a late poll below cannot see it twice
    Router router;
    Collector all;
    router.subscribe("*", {}, &all);
    std::vector<BusState> states;
    std::mutex m;
    StreamReader reader(cfg, router);
    reader.setStateListener([&](BusState s, const std::string&) {
        std::lock_guard lock(m);
        states.push_back(s);
    });
    reader.start();
    ASSERT_TRUE(waitState(reader, BusState::Connected));
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(waitState(reader, BusState::Stale, 5s));
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 500ms);  // 1 s after connecting, seen late or not
    Producer producer(redis);
    producer.xadd("bus:test", "*", quoteJson(1));
    ASSERT_TRUE(waitState(reader, BusState::Connected, 5s));
    reader.stop();
    std::lock_guard lock(m);
    EXPECT_EQ(states, (std::vector<BusState>{BusState::Connecting, BusState::Connected, BusState::Stale,
                                             BusState::Connected, BusState::Disconnected}));
}

TEST(BusReaderTest, ReportsBackpressureWhileASubscriberHoldsTheReader)
{
    RedisServer redis;
    Producer producer(redis);
    producer.xadd("bus:test", "*", quoteJson(1));
    Router router;
    Collector slow;
    Gate gate;
    slow.hook = [&](const Message&) { gate.wait(); };
    router.subscribe("*", {}, &slow);
    StreamReader reader(testConfig(redis), router);
    reader.start();
    ASSERT_TRUE(gate.waitUntilSomeoneWaits());
    ASSERT_TRUE(eventually([&] { return reader.snapshot().backpressured; }, 2s));
    // Status answers while the reader is stuck in route().
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 100; ++i) {
        (void)reader.snapshot();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 100ms);
    gate.open();
    ASSERT_TRUE(slow.waitFor(1));
    ASSERT_TRUE(eventually([&] { return !reader.snapshot().backpressured; }, 3s));
}

TEST(BusReaderTest, ExportsPrometheusMetrics)
{
    RedisServer redis;
    Producer producer(redis);
    producer.xadd("bus:metrics", "*", quoteJson(1));
    producer.xadd("bus:metrics", "*", {{"payload", "x"}});
    Router router;
    Collector all;
    router.subscribe("*", {}, &all);
    StreamReader reader(testConfig(redis, {"bus:metrics"}), router);
    reader.start();
    ASSERT_TRUE(eventually([&] { return reader.snapshot().received == 2; }));
    const std::string text = MetricsRegistry::global().renderPrometheus();
    EXPECT_NE(text.find("nautilus_relay_messages_received_total{type=\"QuoteTick\"}"), std::string::npos);
    EXPECT_NE(text.find("nautilus_relay_messages_rejected_total{stage=\"envelope\"}"), std::string::npos);
    EXPECT_NE(text.find("nautilus_relay_decode_route_seconds_bucket"), std::string::npos);
    EXPECT_NE(text.find("nautilus_relay_bus_state{state=\"connected\"} 1"), std::string::npos);
    EXPECT_NE(text.find("nautilus_relay_stream_lag{stream=\"bus:metrics\"} 0"), std::string::npos) << text;
    EXPECT_NE(text.find("nautilus_relay_stream_received_total{stream=\"bus:metrics\"} 2"), std::string::npos);
    EXPECT_NE(text.find("nautilus_relay_bus_reconnects_total"), std::string::npos);
}

TEST(BusReaderTest, StopIsPromptWhileBlockedInXread)
{
    RedisServer redis;
    BusConfig cfg = testConfig(redis);
    cfg.blockMs = 10000;
    cfg.readTimeoutMs = 2000;
    Router router;
    StreamReader reader(cfg, router);
    reader.start();
    ASSERT_TRUE(waitState(reader, BusState::Connected));
    std::this_thread::sleep_for(200ms);  // inside XREAD BLOCK 10000
    const auto t0 = std::chrono::steady_clock::now();
    reader.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
    EXPECT_EQ(reader.snapshot().state, BusState::Disconnected);
}

TEST(BusReaderTest, ReadsManyStreamsWithOneXread)
{
    RedisServer redis;
    Producer producer(redis);
    std::vector<std::string> keys;
    for (int i = 0; i < 200; ++i) {
        keys.push_back("bus:many:" + std::to_string(i));
        producer.xadd(keys.back(), "*", quoteJson(static_cast<std::uint64_t>(i)));
    }
    BusConfig cfg = testConfig(redis, {"bus:many:*"});
    Router router;
    Collector all;
    router.subscribe("*", {}, &all);
    StreamReader reader(cfg, router);
    reader.start();
    ASSERT_TRUE(all.waitFor(200));
    // One XREAD per poll, whatever the number of streams.
    const std::string before = redis.command({"INFO", "commandstats"});
    auto calls = [](const std::string& stats) {
        const auto p = stats.find("cmdstat_xread:calls=");
        return p == std::string::npos ? 0LL : std::stoll(stats.substr(p + 20));
    };
    std::this_thread::sleep_for(500ms);
    const long long n = calls(redis.command({"INFO", "commandstats"})) - calls(before);
    EXPECT_LE(n, 8);  // blockMs = 100: about 5 polls in 500 ms, never 200 per poll
    EXPECT_EQ(reader.snapshot().streams.size(), 200u);
}

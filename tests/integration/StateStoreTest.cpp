// StateStore against a real redis-server: registry hash and TTL, refresh, removal on stop,
// expiry of a dead instance, checkpoints (round trip, bounded rate, final write), failure and
// recovery, cluster listing, AUTH and SELECT.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <Poco/Redis/Array.h>
#include <Poco/Redis/Client.h>

#include "state/StateStore.h"
#include "support/RedisServer.h"

using namespace nautilus::relay;
using nautilus::relay::test::RedisServer;
using namespace std::chrono_literals;

namespace {

std::map<std::string, std::string> hgetall(const RedisServer& redis, const std::string& key)
{
    auto c = redis.client();
    Poco::Redis::Array cmd;
    cmd << "HGETALL" << key;
    const auto reply = c->execute<Poco::Redis::Array>(cmd);
    std::map<std::string, std::string> out;
    for (std::size_t i = 0; i + 1 < reply.size(); i += 2) {
        out[reply.get<Poco::Redis::BulkString>(i).value()] = reply.get<Poco::Redis::BulkString>(i + 1).value();
    }
    return out;
}

long long integer(const RedisServer& redis, const std::vector<std::string>& args)
{
    return std::stoll(redis.command(args));
}

template <class Pred>
bool waitFor(Pred pred, std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) {
            return true;
        }
        std::this_thread::sleep_for(10ms);
    }
    return pred();
}

/// Calls of INFO commandstats for one command (0 when never called).
long long commandCalls(const RedisServer& redis, const std::string& command)
{
    const std::string info = redis.command({"INFO", "commandstats"});
    const std::string tag = "cmdstat_" + command + ":calls=";
    const auto pos = info.find(tag);
    if (pos == std::string::npos) {
        return 0;
    }
    return std::stoll(info.substr(pos + tag.size()));
}

/// A fake bus: counters the test moves, positions that can change on every call.
struct FakeBus {
    std::atomic<std::uint64_t> received{0};
    std::atomic<bool> advanceOnRead{false};
    std::atomic<std::uint64_t> seq{0};
    std::mutex mutex;
    std::map<std::string, StreamPosition> positions;

    BusSnapshot snapshot()
    {
        BusSnapshot s;
        s.state = BusState::Connected;
        s.sinceNs = 1'732'723'200'000'000'000;
        s.redis = "127.0.0.1:1";
        s.received = received.load();
        s.rejected = 1;
        s.reconnects = 2;
        s.trimGaps = 3;
        std::lock_guard lock(mutex);
        for (const auto& [k, p] : positions) {
            StreamStatus st;
            st.key = k;
            st.lastId = p.lastId;
            s.streams.push_back(st);
        }
        return s;
    }

    std::map<std::string, StreamPosition> read()
    {
        std::lock_guard lock(mutex);
        if (advanceOnRead) {
            const auto n = ++seq;
            positions["trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT"] = {StreamId{1732700000000 + n, 0},
                                                                                 static_cast<std::int64_t>(n)};
        }
        return positions;
    }

    void set(const std::string& key, StreamPosition p)
    {
        std::lock_guard lock(mutex);
        positions[key] = p;
    }
};

StateOptions optionsFor(const RedisServer& redis, const std::string& id)
{
    StateOptions o;
    o.redis.host = redis.host();
    o.redis.port = redis.port();
    o.prefix = "nr-test";
    o.instanceId = id;
    o.httpAddress = "127.0.0.1:18080";
    o.refreshMs = 100;
    o.registryTtlMs = 1000;
    o.checkpointIntervalMs = 100;
    return o;
}

std::unique_ptr<StateStore> makeStore(FakeBus& bus, StateOptions o, StateStore::ExtraFieldsFn extra = {})
{
    return std::make_unique<StateStore>(
        std::move(o), [&bus] { return bus.snapshot(); }, [&bus] { return bus.read(); }, std::move(extra));
}

}  // namespace

TEST(StateStoreTest, RegistryHashHasEveryFieldAndATtlWithinTheConfiguredOne)
{
    RedisServer redis;
    FakeBus bus;
    bus.received = 77;
    bus.set("s:a", {StreamId{5, 1}, 3});
    auto store = makeStore(bus, optionsFor(redis, "host-a:18080"), [] {
        return std::map<std::string, std::string>{{"ws_clients", "4"}};
    });
    store->start();
    const std::string key = "nr-test:instance:host-a:18080";
    ASSERT_TRUE(waitFor([&] { return integer(redis, {"EXISTS", key}) == 1; }, 3s));

    const auto h = hgetall(redis, key);
    for (const char* f : {"instance", "state", "since", "version", "http", "pid", "host", "started_at", "received",
                          "rejected", "reconnects", "trim_gaps", "streams", "last_ids", "updated_at", "ws_clients"}) {
        EXPECT_TRUE(h.count(f)) << "missing field " << f;
    }
    EXPECT_EQ(h.at("instance"), "host-a:18080");
    EXPECT_EQ(h.at("state"), "connected");
    EXPECT_EQ(h.at("since"), "2024-11-27T16:00:00.000Z");
    EXPECT_EQ(h.at("http"), "127.0.0.1:18080");
    EXPECT_EQ(h.at("received"), "77");
    EXPECT_EQ(h.at("rejected"), "1");
    EXPECT_EQ(h.at("reconnects"), "2");
    EXPECT_EQ(h.at("trim_gaps"), "3");
    EXPECT_EQ(h.at("streams"), "1");
    EXPECT_EQ(h.at("last_ids"), "{\"s:a\":\"5-1\"}");
    EXPECT_EQ(h.at("pid"), std::to_string(::getpid()));
    EXPECT_EQ(h.at("ws_clients"), "4");

    const long long ttl = integer(redis, {"PTTL", key});
    EXPECT_GT(ttl, 0);
    EXPECT_LE(ttl, 1000);
    // Redis has the key a moment before the writer has read the EXEC reply and recorded it.
    EXPECT_TRUE(waitFor([&] { return store->health().lastWriteNs > 0; }, 5s));
    EXPECT_TRUE(store->health().ok);
    store->stop();
}

TEST(StateStoreTest, RegistryIsRefreshedAndOutlivesItsTtlWhileRunning)
{
    RedisServer redis;
    FakeBus bus;
    auto o = optionsFor(redis, "refresh");
    o.registryTtlMs = 500;
    auto store = makeStore(bus, o);
    store->start();
    const std::string key = "nr-test:instance:refresh";
    ASSERT_TRUE(waitFor([&] { return integer(redis, {"EXISTS", key}) == 1; }, 3s));
    EXPECT_EQ(hgetall(redis, key).at("received"), "0");
    bus.received = 500;
    EXPECT_TRUE(waitFor([&] { return hgetall(redis, key)["received"] == "500"; }, 2s));
    // Three TTLs later the entry is still there: each refresh pushes the expiry forward.
    std::this_thread::sleep_for(1500ms);
    EXPECT_EQ(integer(redis, {"EXISTS", key}), 1);
    const long long ttl = integer(redis, {"PTTL", key});
    EXPECT_GT(ttl, 0);
    EXPECT_LE(ttl, 500);
    store->stop();
}

TEST(StateStoreTest, StopRemovesTheRegistryEntryAtOnce)
{
    RedisServer redis;
    FakeBus bus;
    auto o = optionsFor(redis, "stopper");
    o.registryTtlMs = 60000;  // expiry could not explain the removal
    auto store = makeStore(bus, o);
    store->start();
    const std::string key = "nr-test:instance:stopper";
    ASSERT_TRUE(waitFor([&] { return integer(redis, {"EXISTS", key}) == 1; }, 3s));
    store->stop();
    EXPECT_EQ(integer(redis, {"EXISTS", key}), 0);
}

TEST(StateStoreTest, ADeadInstanceVanishesAfterTheTtl)
{
    RedisServer redis;
    FakeBus bus;
    auto o = optionsFor(redis, "dead");
    o.registryTtlMs = 700;
    auto store = makeStore(bus, o);
    store->start();
    const std::string key = "nr-test:instance:dead";
    ASSERT_TRUE(waitFor([&] { return integer(redis, {"EXISTS", key}) == 1; }, 3s));
    store->halt();  // the writer is gone, nothing deletes the hash
    EXPECT_EQ(integer(redis, {"EXISTS", key}), 1);
    const auto halted = std::chrono::steady_clock::now();
    ASSERT_TRUE(waitFor([&] { return integer(redis, {"EXISTS", key}) == 0; }, 3s));
    EXPECT_LE(std::chrono::steady_clock::now() - halted, 1500ms);
    store->stop();  // no-op after halt(): must not resurrect or throw
    EXPECT_EQ(integer(redis, {"EXISTS", key}), 0);
}

TEST(StateStoreTest, CheckpointsRoundTripThroughLoadCheckpoints)
{
    RedisServer redis;
    FakeBus bus;
    bus.set("trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT", {StreamId{1732700000000, 0}, 42});
    bus.set("trader-TRADER-001:stream:health:heartbeat", {StreamId{1732700000123, 4}, -1});
    bus.set("not-yet-read", {StreamId{}, -1});  // nothing delivered: no checkpoint
    auto store = makeStore(bus, optionsFor(redis, "cp"));
    store->start();
    const std::string key = "nr-test:checkpoint:cp";
    ASSERT_TRUE(waitFor([&] { return integer(redis, {"HLEN", key}) == 2; }, 3s));

    // Readable by a human: HGETALL shows the id first.
    const auto raw = hgetall(redis, key);
    EXPECT_EQ(raw.at("trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT"), "1732700000000-0 42");
    EXPECT_EQ(raw.at("trader-TRADER-001:stream:health:heartbeat"), "1732700000123-4");
    store->stop();

    // A restarted instance with the same id reads them back.
    FakeBus other;
    auto again = makeStore(other, optionsFor(redis, "cp"));
    const auto cps = again->loadCheckpoints();
    ASSERT_EQ(cps.size(), 2u);
    EXPECT_EQ(cps.at("trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT").lastId, (StreamId{1732700000000, 0}));
    EXPECT_EQ(cps.at("trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT").ordinal, 42);
    EXPECT_EQ(cps.at("trader-TRADER-001:stream:health:heartbeat").lastId, (StreamId{1732700000123, 4}));
    EXPECT_EQ(cps.at("trader-TRADER-001:stream:health:heartbeat").ordinal, -1);

    // Another instance id has none.
    auto stranger = makeStore(other, optionsFor(redis, "someone-else"));
    EXPECT_TRUE(stranger->loadCheckpoints().empty());
}

TEST(StateStoreTest, MalformedCheckpointsAreSkipped)
{
    RedisServer redis;
    redis.command({"HSET", "nr-test:checkpoint:m", "good", "10-2 7", "bad1", "garbage", "bad2", "10-2 x", "bad3", ""});
    FakeBus bus;
    auto store = makeStore(bus, optionsFor(redis, "m"));
    const auto cps = store->loadCheckpoints();
    ASSERT_EQ(cps.size(), 1u);
    EXPECT_EQ(cps.at("good").lastId, (StreamId{10, 2}));
    EXPECT_EQ(cps.at("good").ordinal, 7);
}

TEST(StateStoreTest, CheckpointsAreWrittenAtABoundedRate)
{
    RedisServer redis;
    FakeBus bus;
    bus.advanceOnRead = true;  // positions change on every look
    auto o = optionsFor(redis, "rate");
    o.refreshMs = 100000;      // registry: one HSET at start only
    o.checkpointIntervalMs = 200;
    auto store = makeStore(bus, o);
    const auto before = commandCalls(redis, "hset");
    const auto t0 = std::chrono::steady_clock::now();
    store->start();
    std::this_thread::sleep_for(2100ms);
    // Stopped (the writer joined) before both figures are read: a round between the two reads
    // would be in Redis's count and not yet in the store's.
    store->halt();
    const auto elapsedMs = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    const auto writes = store->health().checkpointWrites;
    const auto hsets = commandCalls(redis, "hset") - before;
    // About one write per 200 ms, never more: each round waits its interval after the last
    // (late wake-ups on a loaded machine only make fewer).
    EXPECT_GE(writes, 5u);
    EXPECT_LE(writes, static_cast<std::uint64_t>(elapsedMs / 200 + 1));
    EXPECT_LE(hsets, static_cast<long long>(writes) + 1);  // + the single registry write
    EXPECT_GE(hsets, static_cast<long long>(writes));
}

TEST(StateStoreTest, UnchangedPositionsAreNotRewritten)
{
    RedisServer redis;
    FakeBus bus;
    bus.set("s", {StreamId{1, 0}, 1});
    auto o = optionsFor(redis, "quiet");
    o.refreshMs = 100000;
    o.checkpointIntervalMs = 50;
    auto store = makeStore(bus, o);
    store->start();
    ASSERT_TRUE(waitFor([&] { return store->health().checkpointWrites == 1; }, 3s));
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(store->health().checkpointWrites, 1u);
    bus.set("s", {StreamId{2, 0}, 2});
    EXPECT_TRUE(waitFor([&] { return store->health().checkpointWrites == 2; }, 3s));
    EXPECT_EQ(hgetall(redis, "nr-test:checkpoint:quiet").at("s"), "2-0 2");
    store->stop();
}

TEST(StateStoreTest, StopWritesTheLatestPositions)
{
    RedisServer redis;
    FakeBus bus;
    auto o = optionsFor(redis, "final");
    o.checkpointIntervalMs = 600000;  // only stop() can write them
    auto store = makeStore(bus, o);
    store->start();
    ASSERT_TRUE(waitFor([&] { return integer(redis, {"EXISTS", "nr-test:instance:final"}) == 1; }, 3s));
    bus.set("s1", {StreamId{1732700000000, 9}, 1000});
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(integer(redis, {"EXISTS", "nr-test:checkpoint:final"}), 0);
    store->stop();
    EXPECT_EQ(hgetall(redis, "nr-test:checkpoint:final").at("s1"), "1732700000000-9 1000");
}

TEST(StateStoreTest, RedisDownIsReportedWithoutBlockingAndRecovers)
{
    RedisServer redis;
    FakeBus bus;
    bus.set("s", {StreamId{3, 0}, 3});
    auto o = optionsFor(redis, "flaky");
    o.registryTtlMs = 800;
    auto store = makeStore(bus, o);
    store->start();
    const std::string key = "nr-test:instance:flaky";
    ASSERT_TRUE(waitFor([&] { return integer(redis, {"EXISTS", key}) == 1; }, 3s));
    ASSERT_TRUE(store->health().ok);

    redis.stop(true);
    ASSERT_TRUE(waitFor([&] { return !store->health().ok; }, 5s));
    const auto h = store->health();
    EXPECT_FALSE(h.lastError.empty());
    EXPECT_GT(h.lastErrorNs, 0);
    EXPECT_GE(h.failures, 1u);
    // Callers are never blocked by the writer: health() stays instant while Redis is down.
    for (int i = 0; i < 20; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        (void)store->health();
        EXPECT_LT(std::chrono::steady_clock::now() - t0, 50ms);
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_THROW(store->loadCheckpoints(), std::exception);
    EXPECT_THROW(store->clusterInstances(), std::exception);

    redis.start();  // same port, empty (no persistence)
    ASSERT_TRUE(waitFor([&] { return store->health().ok; }, 5s));
    EXPECT_TRUE(waitFor([&] { return integer(redis, {"EXISTS", key}) == 1; }, 3s));
    // The new server lost everything: the store rewrites the checkpoints it had written before.
    EXPECT_TRUE(waitFor([&] { return integer(redis, {"HLEN", "nr-test:checkpoint:flaky"}) == 1; }, 3s));
    EXPECT_EQ(store->loadCheckpoints().at("s").lastId, (StreamId{3, 0}));
    EXPECT_GE(store->health().failures, h.failures);
    const auto t0 = std::chrono::steady_clock::now();
    store->stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

TEST(StateStoreTest, StopIsBoundedWhenRedisIsDown)
{
    RedisServer redis;
    FakeBus bus;
    auto store = makeStore(bus, optionsFor(redis, "gone"));
    store->start();
    ASSERT_TRUE(waitFor([&] { return integer(redis, {"EXISTS", "nr-test:instance:gone"}) == 1; }, 3s));
    redis.stop(true);
    const auto t0 = std::chrono::steady_clock::now();
    store->stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2500ms);
    EXPECT_FALSE(store->health().ok);
}

TEST(StateStoreTest, ClusterListsEveryLiveInstance)
{
    RedisServer redis;
    FakeBus busA;
    FakeBus busB;
    busB.received = 9;
    auto a = makeStore(busA, optionsFor(redis, "node-a"));
    auto b = makeStore(busB, optionsFor(redis, "node-b"));
    // A key of another prefix that merely looks alike must not be listed.
    redis.command({"HSET", "nr-testX:instance:intruder", "instance", "intruder"});
    redis.command({"SET", "nr-test:instance:not-a-hash", "x"});
    a->start();
    b->start();
    ASSERT_TRUE(waitFor([&] { return a->clusterInstances().size() == 2; }, 3s));
    const auto all = b->clusterInstances();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].at("instance"), "node-a");
    EXPECT_EQ(all[1].at("instance"), "node-b");
    EXPECT_EQ(all[1].at("received"), "9");
    EXPECT_EQ(all[0].at("http"), "127.0.0.1:18080");
    b->stop();
    const auto left = a->clusterInstances();
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].at("instance"), "node-a");
    a->stop();
    EXPECT_TRUE(a->clusterInstances().empty());
}

TEST(StateStoreTest, PrefixWithGlobCharactersIsMatchedLiterally)
{
    RedisServer redis;
    FakeBus bus;
    auto o = optionsFor(redis, "g");
    o.prefix = "relay[1]";
    redis.command({"HSET", "relay1:instance:other", "instance", "other"});  // what an unescaped [1] would match
    auto store = makeStore(bus, o);
    store->start();
    ASSERT_TRUE(waitFor([&] { return integer(redis, {"EXISTS", "relay[1]:instance:g"}) == 1; }, 3s));
    const auto all = store->clusterInstances();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].at("instance"), "g");
    store->stop();
}

TEST(StateStoreTest, AuthenticatesWithAPassword)
{
    RedisServer::Options ro;
    ro.password = "s3cret";
    RedisServer redis(ro);
    FakeBus bus;
    bus.set("s", {StreamId{7, 0}, 1});
    auto o = optionsFor(redis, "authed");
    o.redis.password = "s3cret";
    auto store = makeStore(bus, o);
    store->start();
    ASSERT_TRUE(waitFor([&] { return integer(redis, {"EXISTS", "nr-test:instance:authed"}) == 1; }, 3s));
    ASSERT_TRUE(waitFor([&] { return integer(redis, {"HLEN", "nr-test:checkpoint:authed"}) == 1; }, 3s));
    EXPECT_TRUE(store->health().ok);
    EXPECT_EQ(store->loadCheckpoints().size(), 1u);
    store->stop();

    auto wrong = optionsFor(redis, "intruder");
    wrong.redis.password = "nope";
    auto bad = makeStore(bus, wrong);
    bad->start();
    ASSERT_TRUE(waitFor([&] { return !bad->health().ok; }, 3s));
    EXPECT_NE(bad->health().lastError.find("AUTH"), std::string::npos) << bad->health().lastError;
    EXPECT_THROW(bad->loadCheckpoints(), std::exception);
    bad->stop();
    EXPECT_EQ(integer(redis, {"EXISTS", "nr-test:instance:intruder"}), 0);
}

TEST(StateStoreTest, AuthenticatesAsAnAclUserAndSelectsTheDatabase)
{
    RedisServer::Options ro;
    // One argument per ACL rule: redis-server joins them into the `user` directive.
    ro.extraArgs = {"--user", "alice", "on", ">pw", "~nr-test:*", "+@all"};
    RedisServer redis(ro);
    FakeBus bus;
    auto o = optionsFor(redis, "alice");
    o.redis.username = "alice";
    o.redis.password = "pw";
    o.redis.db = 3;
    auto store = makeStore(bus, o);
    store->start();
    auto c = redis.client();
    Poco::Redis::Array select;
    select << "SELECT" << "3";
    c->execute<std::string>(select);
    ASSERT_TRUE(waitFor(
        [&] {
            Poco::Redis::Array exists;
            exists << "EXISTS" << "nr-test:instance:alice";
            return c->execute<Poco::Int64>(exists) == 1;
        },
        3s));
    EXPECT_EQ(integer(redis, {"EXISTS", "nr-test:instance:alice"}), 0);  // not in db 0
    EXPECT_EQ(store->clusterInstances().size(), 1u);
    store->stop();

    auto wrong = o;
    wrong.instanceId = "mallory";
    wrong.redis.password = "bad";
    auto bad = makeStore(bus, wrong);
    bad->start();
    ASSERT_TRUE(waitFor([&] { return !bad->health().ok; }, 3s));
    bad->stop();
}

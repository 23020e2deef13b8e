// Trim gaps and resets with a real redis-server: entries trimmed before the reader got to them
// are detected and counted exactly; trimming what was already read is not a gap; a stream that
// is deleted and recreated is a reset and its new entries are delivered.
#include <gtest/gtest.h>

#include "BusTestSupport.h"

using namespace nautilus::relay;
using namespace nautilus::relay::bustest;

namespace {

void addRange(Producer& p, long long from, long long to)
{
    for (long long i = from; i <= to; ++i) {
        p.xadd("bus:test", std::to_string(i) + "-1", quoteJson(static_cast<std::uint64_t>(i)));
    }
}

}  // namespace

TEST(BusTrimTest, GapIsDetectedAndCountedWhenUnreadEntriesAreTrimmed)
{
    RedisServer redis;
    Producer producer(redis);
    addRange(producer, 1, 100);
    BusConfig cfg = testConfig(redis);
    cfg.readCount = 10;
    Router router;
    Collector all;
    Gate gate;
    all.hook = [&](const Message& m) {
        if (seqOf(m) == 1) {
            gate.wait();  // hold the reader inside its first batch (1..10)
        }
    };
    router.subscribe("*", {}, &all);
    StreamReader reader(cfg, router);
    reader.start();
    ASSERT_TRUE(gate.waitUntilSomeoneWaits());
    redis.command({"XTRIM", "bus:test", "MINID", "51-0"});  // 11..50 were never read
    gate.open();
    ASSERT_TRUE(all.waitFor(60));
    ASSERT_TRUE(eventually([&] { return reader.snapshot().trimGaps == 1; }, 3s));
    std::this_thread::sleep_for(300ms);  // further monitor rounds must not count it again
    BusSnapshot s = reader.snapshot();
    EXPECT_EQ(s.trimGaps, 1u);
    EXPECT_EQ(s.trimmedEntries, 40u);
    ASSERT_EQ(s.streams.size(), 1u);
    EXPECT_EQ(s.streams[0].trimGaps, 1u);
    EXPECT_EQ(s.streams[0].trimmedEntries, 40u);
    EXPECT_EQ(s.streams[0].ordinal, 100);
    EXPECT_EQ(s.streams[0].lag, 0);
    std::vector<long long> expected;
    for (long long i = 1; i <= 10; ++i) {
        expected.push_back(i);
    }
    for (long long i = 51; i <= 100; ++i) {
        expected.push_back(i);
    }
    EXPECT_EQ(all.seqs(), expected);

    // Trimming entries that were read already is not a gap.
    redis.command({"XTRIM", "bus:test", "MINID", "90-0"});
    addRange(producer, 101, 110);
    ASSERT_TRUE(all.waitFor(70));
    redis.command({"XTRIM", "bus:test", "MAXLEN", "0"});
    std::this_thread::sleep_for(400ms);
    s = reader.snapshot();
    EXPECT_EQ(s.trimGaps, 1u);
    EXPECT_EQ(s.trimmedEntries, 40u);
    EXPECT_EQ(s.streams[0].ordinal, 110);
}

TEST(BusTrimTest, GapWhileDisconnectedIsFoundWhenTheCheckpointIsChecked)
{
    RedisServer redis;
    Producer producer(redis);
    addRange(producer, 1, 30);
    class Checkpoint : public CheckpointSource {
    public:
        std::map<std::string, StreamPosition> loadCheckpoints() override
        {
            return {{"bus:test", StreamPosition{StreamId{5, 1}, 5}}};
        }
    } cp;
    redis.command({"XTRIM", "bus:test", "MINID", "21-0"});  // 6..20 lost while the relay was down
    BusConfig cfg = testConfig(redis);
    cfg.start = StartPosition::Checkpoint;
    Router router;
    Collector all;
    router.subscribe("*", {}, &all);
    StreamReader reader(cfg, router, &cp);
    reader.start();
    ASSERT_TRUE(all.waitFor(10));
    const BusSnapshot s = reader.snapshot();
    EXPECT_EQ(s.trimGaps, 1u);
    EXPECT_EQ(s.trimmedEntries, 15u);
    EXPECT_EQ(all.seqs().front(), 21);
}

TEST(BusTrimTest, DeletedAndRecreatedStreamIsAResetAndItsNewEntriesAreDelivered)
{
    RedisServer redis;
    Producer producer(redis);
    for (int i = 1; i <= 10; ++i) {
        producer.xadd("bus:test", "*", quoteJson(static_cast<std::uint64_t>(i)));
    }
    Router router;
    Collector all;
    router.subscribe("*", {}, &all);
    StreamReader reader(testConfig(redis), router);
    reader.start();
    ASSERT_TRUE(all.waitFor(10));

    // Recreated with ids far below the last delivered one: without reset detection the reader
    // would wait for ids after the old position forever.
    redis.command({"DEL", "bus:test"});
    producer.xadd("bus:test", "1-1", quoteJson(11));
    producer.xadd("bus:test", "1-2", quoteJson(12));
    producer.xadd("bus:test", "1-3", quoteJson(13));
    ASSERT_TRUE(all.waitFor(13, 5s));
    std::this_thread::sleep_for(300ms);
    EXPECT_TRUE(exactlyInOrder(all.seqs(), 13));
    BusSnapshot s = reader.snapshot();
    EXPECT_EQ(s.resets, 1u);
    EXPECT_EQ(s.streams[0].resets, 1u);
    EXPECT_EQ(s.streams[0].lastId, (StreamId{1, 3}));
    EXPECT_EQ(s.streams[0].ordinal, 3);
    EXPECT_EQ(s.trimGaps, 0u);

    // Deleted and left alone for a while, then recreated: still one reset per deletion.
    redis.command({"DEL", "bus:test"});
    std::this_thread::sleep_for(300ms);
    producer.xadd("bus:test", "2-1", quoteJson(14));
    ASSERT_TRUE(all.waitFor(14, 5s));
    std::this_thread::sleep_for(300ms);
    s = reader.snapshot();
    EXPECT_EQ(s.resets, 2u);
    EXPECT_TRUE(exactlyInOrder(all.seqs(), 14));
}

TEST(BusTrimTest, KeyOfAnotherTypeIsSkippedWithoutStoppingTheOthers)
{
    RedisServer redis;
    Producer producer(redis);
    redis.command({"SET", "bus:string", "not a stream"});
    producer.xadd("bus:test", "*", quoteJson(1));
    Router router;
    Collector all;
    router.subscribe("*", {}, &all);
    StreamReader reader(testConfig(redis, {"bus:string", "bus:test"}), router);
    reader.start();
    ASSERT_TRUE(all.waitFor(1));
    // A stream key turning into another type while being read.
    redis.command({"DEL", "bus:test"});
    redis.command({"SET", "bus:test", "oops"});
    std::this_thread::sleep_for(300ms);
    redis.command({"DEL", "bus:test"});
    producer.xadd("bus:test", "*", quoteJson(2));
    ASSERT_TRUE(all.waitFor(2, 5s));
    EXPECT_EQ(reader.snapshot().state, BusState::Connected);
    EXPECT_EQ(reader.snapshot().reconnects, 0u);
}

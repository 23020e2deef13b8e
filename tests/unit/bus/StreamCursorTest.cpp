#include "bus/StreamCursor.h"

#include <gtest/gtest.h>

namespace nautilus::relay {
namespace {

StreamId id(std::uint64_t ms, std::uint64_t seq = 0)
{
    return StreamId{ms, seq};
}

// A stream whose entries are 1-0, 2-0, ... : `added` ever added, the first `removed` trimmed.
StreamInfo info(std::int64_t added, std::int64_t removed)
{
    StreamInfo i;
    i.exists = true;
    i.entriesAdded = added;
    i.length = added - removed;
    i.lastGenerated = id(static_cast<std::uint64_t>(added));
    if (i.length > 0) {
        i.firstId = id(static_cast<std::uint64_t>(removed + 1));
    }
    return i;
}

void read(StreamCursor& c, std::uint64_t from, std::uint64_t to)
{
    c.beginBatch(id(from));
    for (std::uint64_t m = from; m <= to; ++m) {
        c.consumed(id(m));
    }
}

TEST(StreamCursorTest, LatestStartsAfterTheLastGeneratedIdWithItsOrdinal)
{
    StreamCursor c;
    c.startLatest(info(10, 3));
    EXPECT_EQ(c.lastId(), id(10));
    EXPECT_EQ(c.ordinal(), 10);
    EXPECT_EQ(c.lag(), 0);
}

TEST(StreamCursorTest, EarliestDoesNotCountWhatWasRemovedBeforeAsAGap)
{
    StreamCursor c;
    c.startEarliest(info(10, 4));
    EXPECT_EQ(c.lastId(), StreamId{});
    EXPECT_EQ(c.ordinal(), 4);
    EXPECT_EQ(c.lag(), 6);
    read(c, 5, 10);
    const auto chk = c.check(info(10, 4));
    EXPECT_FALSE(chk.gap);
    EXPECT_FALSE(chk.reset);
    EXPECT_EQ(c.ordinal(), 10);
    EXPECT_EQ(c.lag(), 0);
}

TEST(StreamCursorTest, MissingStreamStartsAtZero)
{
    StreamCursor c;
    c.startLatest(StreamInfo{});
    EXPECT_EQ(c.lastId(), StreamId{});
    EXPECT_EQ(c.ordinal(), 0);
    // Created later: everything in it is new, nothing is a gap or a reset.
    const auto chk = c.check(info(3, 0));
    EXPECT_FALSE(chk.gap);
    EXPECT_FALSE(chk.reset);
    EXPECT_EQ(c.lag(), 3);
}

TEST(StreamCursorTest, DetectsAndCountsEntriesTrimmedBeforeBeingRead)
{
    StreamCursor c;
    c.startEarliest(info(10, 0));
    read(c, 1, 5);
    EXPECT_EQ(c.ordinal(), 5);
    const auto chk = c.check(info(10, 7));  // 6 and 7 were never read
    EXPECT_TRUE(chk.gap);
    EXPECT_EQ(chk.lost, 2);
    EXPECT_EQ(chk.lastIdBefore, id(5));
    EXPECT_EQ(chk.gapAfter, id(5));
    EXPECT_EQ(c.ordinal(), 7);
    EXPECT_EQ(c.lag(), 3);
    read(c, 8, 10);
    const auto again = c.check(info(10, 7));
    EXPECT_FALSE(again.gap);
    EXPECT_EQ(c.ordinal(), 10);
}

TEST(StreamCursorTest, NoGapWhenOnlyReadEntriesWereTrimmed)
{
    StreamCursor c;
    c.startEarliest(info(10, 0));
    read(c, 1, 5);
    EXPECT_FALSE(c.check(info(10, 5)).gap);  // trimmed exactly up to what was read
    EXPECT_FALSE(c.check(info(10, 3)).gap);
    EXPECT_EQ(c.ordinal(), 5);
}

TEST(StreamCursorTest, CountsAGapThatAReadCrossedBeforeTheSample)
{
    StreamCursor c;
    c.startEarliest(info(20, 0));
    read(c, 1, 5);
    c.check(info(20, 0));
    // Trimmed up to 12 while the reader was busy; the next XREAD returned 13..16 at once.
    read(c, 13, 16);
    EXPECT_EQ(c.ordinal(), 9);  // what the cursor believes before the sample
    const auto chk = c.check(info(20, 12));
    EXPECT_TRUE(chk.gap);
    EXPECT_EQ(chk.lost, 7);  // 6..12
    EXPECT_EQ(chk.gapAfter, id(5));
    EXPECT_EQ(c.ordinal(), 16);
    EXPECT_EQ(c.lag(), 4);
}

TEST(StreamCursorTest, TrimOfEntriesReadInTheSameIntervalIsNotAGap)
{
    StreamCursor c;
    c.startEarliest(info(100, 0));
    read(c, 1, 10);
    read(c, 11, 20);
    read(c, 21, 30);
    // Trimmed up to 25 after it was read; F = 26 lies inside a batch.
    const auto chk = c.check(info(100, 25));
    EXPECT_FALSE(chk.gap);
    // The cursor cannot tell a crossed gap from none here: the ordinal is unknown until caught up.
    EXPECT_TRUE(chk.uncertain);
    read(c, 31, 100);
    c.check(info(100, 25));
    EXPECT_EQ(c.ordinal(), 100);
    EXPECT_EQ(c.lag(), 0);
}

TEST(StreamCursorTest, TrimEndingBeforeTheBatchesOfTheIntervalIsNotUncertain)
{
    StreamCursor c;
    c.startEarliest(info(100, 0));
    read(c, 1, 50);
    c.check(info(100, 0));
    read(c, 51, 60);
    const auto chk = c.check(info(100, 40));  // F = 41 was read in an earlier interval
    EXPECT_FALSE(chk.gap);
    EXPECT_FALSE(chk.uncertain);
    EXPECT_EQ(c.ordinal(), 60);
}

TEST(StreamCursorTest, EmptiedStreamIsAGapForWhatWasUnread)
{
    StreamCursor c;
    c.startEarliest(info(10, 0));
    read(c, 1, 4);
    const auto chk = c.check(info(10, 10));
    EXPECT_TRUE(chk.gap);
    EXPECT_EQ(chk.lost, 6);
    EXPECT_EQ(c.lag(), 0);
}

TEST(StreamCursorTest, IdsStartingOverAreAReset)
{
    StreamCursor c;
    c.startLatest(info(1000, 0));
    StreamInfo fresh;
    fresh.exists = true;
    fresh.entriesAdded = 2;
    fresh.length = 2;
    fresh.lastGenerated = id(1, 2);
    fresh.firstId = id(1, 1);
    const auto chk = c.check(fresh);
    EXPECT_TRUE(chk.reset);
    EXPECT_FALSE(chk.deleted);
    EXPECT_EQ(chk.lastIdBefore, id(1000));
    EXPECT_EQ(c.lastId(), StreamId{});
    EXPECT_EQ(c.ordinal(), 0);
    EXPECT_FALSE(chk.gap);
}

TEST(StreamCursorTest, DeletionIsOneResetEvenWhenTheStreamComesBack)
{
    StreamCursor c;
    c.startLatest(info(50, 0));
    const auto gone = c.check(StreamInfo{});
    EXPECT_TRUE(gone.reset);
    EXPECT_TRUE(gone.deleted);
    EXPECT_EQ(c.lastId(), StreamId{});
    EXPECT_EQ(c.lag(), 0);
    EXPECT_FALSE(c.check(StreamInfo{}).reset);  // still gone: counted once
    StreamInfo back;
    back.exists = true;
    back.entriesAdded = 1;
    back.length = 1;
    back.lastGenerated = id(1, 1);
    back.firstId = id(1, 1);
    const auto chk = c.check(back);
    EXPECT_FALSE(chk.reset);
    EXPECT_FALSE(chk.gap);
    EXPECT_EQ(c.lag(), 1);
}

TEST(StreamCursorTest, FewerEntriesEverAddedThanDeliveredIsAReset)
{
    StreamCursor c;
    c.startLatest(info(50, 0));
    StreamInfo recreated = info(3, 0);  // ids 1..3 < 50: caught by the id rule
    recreated.lastGenerated = id(60);
    recreated.firstId = id(58);
    const auto chk = c.check(recreated);
    EXPECT_TRUE(chk.reset);
    EXPECT_EQ(c.lastId(), id(50));  // entries after it are still read
    EXPECT_EQ(c.ordinal(), -1);
    c.consumed(id(58));
    c.consumed(id(59));
    c.consumed(id(60));
    c.check(recreated);
    EXPECT_EQ(c.ordinal(), 3);  // caught up: known again
}

TEST(StreamCursorTest, CheckpointPositionIsCheckedAgainstTheStream)
{
    StreamCursor c;
    c.startAt(StreamPosition{id(5), 5});
    const auto chk = c.check(info(30, 20));
    EXPECT_TRUE(chk.gap);
    EXPECT_EQ(chk.lost, 15);
    EXPECT_EQ(c.lag(), 10);
    StreamCursor gone;
    gone.startAt(StreamPosition{id(5), 5});
    EXPECT_TRUE(gone.check(StreamInfo{}).reset);
}

TEST(StreamCursorTest, WithoutEntriesAddedFallsBackToTheIdRuleOncePerGap)
{
    auto old = [](std::int64_t added, std::int64_t removed) {
        StreamInfo i = info(added, removed);
        i.entriesAdded = -1;  // Redis 6.2
        return i;
    };
    StreamCursor c;
    c.startEarliest(old(10, 0));
    EXPECT_EQ(c.ordinal(), -1);
    read(c, 1, 4);
    EXPECT_EQ(c.lag(), -1);
    EXPECT_FALSE(c.check(old(10, 3)).gap);  // F = 4 = L
    const auto chk = c.check(old(10, 7));
    EXPECT_TRUE(chk.gap);
    EXPECT_TRUE(chk.uncertain);
    EXPECT_EQ(chk.lost, -1);
    EXPECT_FALSE(c.check(old(10, 7)).gap);  // the same gap is reported once
    read(c, 8, 10);
    EXPECT_EQ(c.lag(), 0);
}

TEST(StreamCursorTest, ParsesXinfoStreamReplies)
{
    auto bulk = [](std::string_view s) { return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n"; };
    // Redis 7.0 layout.
    std::string r7 = "*20\r\n" + bulk("length") + ":3\r\n" + bulk("radix-tree-keys") + ":1\r\n" + bulk("radix-tree-nodes") +
                     ":2\r\n" + bulk("last-generated-id") + bulk("1700000000005-2") + bulk("max-deleted-entry-id") + bulk("0-0") +
                     bulk("entries-added") + ":9\r\n" + bulk("recorded-first-entry-id") + bulk("1700000000003-0") +
                     bulk("groups") + ":0\r\n" + bulk("first-entry") + "*2\r\n" + bulk("1700000000003-0") + "*2\r\n" +
                     bulk("topic") + bulk("x") + bulk("last-entry") + "*2\r\n" + bulk("1700000000005-2") + "*2\r\n" +
                     bulk("topic") + bulk("y");
    RespReader reader(r7);
    StreamInfo i = parseStreamInfo(reader);
    EXPECT_TRUE(reader.atEnd());
    EXPECT_TRUE(i.exists);
    EXPECT_EQ(i.length, 3);
    EXPECT_EQ(i.entriesAdded, 9);
    EXPECT_EQ(i.lastGenerated, id(1700000000005, 2));
    ASSERT_TRUE(i.firstId.has_value());
    EXPECT_EQ(*i.firstId, id(1700000000003, 0));

    // Redis 6.2 layout, empty stream.
    std::string r6 = "*14\r\n" + bulk("length") + ":0\r\n" + bulk("radix-tree-keys") + ":1\r\n" + bulk("radix-tree-nodes") +
                     ":2\r\n" + bulk("last-generated-id") + bulk("17-1") + bulk("groups") + ":0\r\n" + bulk("first-entry") +
                     "$-1\r\n" + bulk("last-entry") + "$-1\r\n";
    RespReader reader6(r6);
    i = parseStreamInfo(reader6);
    EXPECT_TRUE(reader6.atEnd());
    EXPECT_TRUE(i.exists);
    EXPECT_EQ(i.entriesAdded, -1);
    EXPECT_FALSE(i.firstId.has_value());
    EXPECT_EQ(i.lastGenerated, id(17, 1));

    RespReader missing("-ERR no such key\r\n");
    i = parseStreamInfo(missing);
    EXPECT_FALSE(i.exists);
    EXPECT_TRUE(i.error.empty());
    RespReader wrong("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    EXPECT_TRUE(parseStreamInfo(wrong).wrongType);
    RespReader loading("-LOADING Redis is loading the dataset in memory\r\n");
    EXPECT_FALSE(parseStreamInfo(loading).error.empty());
}

}  // namespace
}  // namespace nautilus::relay

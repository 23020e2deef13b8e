#include <gtest/gtest.h>

#include <map>
#include <string>

#include "state/StateCodec.h"

using namespace nautilus::relay;
using namespace nautilus::relay::state;

namespace {

std::map<std::string, std::string> asMap(const std::vector<std::pair<std::string, std::string>>& v)
{
    return {v.begin(), v.end()};
}

}  // namespace

TEST(StateCodecTest, KeysFollowThePrefixAndInstance)
{
    EXPECT_EQ(registryKey("nautilus-relay", "host-a:8080"), "nautilus-relay:instance:host-a:8080");
    EXPECT_EQ(checkpointKey("nautilus-relay", "host-a:8080"), "nautilus-relay:checkpoint:host-a:8080");
    EXPECT_EQ(registryPattern("nautilus-relay"), "nautilus-relay:instance:*");
}

TEST(StateCodecTest, RegistryPatternEscapesGlobCharactersOfThePrefix)
{
    EXPECT_EQ(registryPattern("relay[1]*"), "relay\\[1\\]\\*:instance:*");
}

TEST(StateCodecTest, CheckpointValueShowsTheIdThenTheOrdinal)
{
    EXPECT_EQ(formatCheckpointValue({StreamId{1732700000000, 0}, 42}), "1732700000000-0 42");
    EXPECT_EQ(formatCheckpointValue({StreamId{1732700000000, 7}, -1}), "1732700000000-7");
}

TEST(StateCodecTest, CheckpointValueRoundTrips)
{
    for (const StreamPosition& p : {StreamPosition{StreamId{1, 2}, 0}, StreamPosition{StreamId{1732700000000, 5}, -1},
                                    StreamPosition{StreamId{18446744073709551615ULL, 18446744073709551615ULL},
                                                   9223372036854775807LL}}) {
        const auto parsed = parseCheckpointValue(formatCheckpointValue(p));
        ASSERT_TRUE(parsed.has_value()) << formatCheckpointValue(p);
        EXPECT_EQ(parsed->lastId, p.lastId);
        EXPECT_EQ(parsed->ordinal, p.ordinal);
    }
}

TEST(StateCodecTest, CheckpointValueAcceptsAMillisecondOnlyId)
{
    const auto p = parseCheckpointValue("1732700000000");
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->lastId, (StreamId{1732700000000, 0}));
    EXPECT_EQ(p->ordinal, -1);
}

TEST(StateCodecTest, MalformedCheckpointValuesAreRefused)
{
    for (const char* bad : {"", " ", "abc", "1-", "-1", "1-0 ", "1-0 x", "1-0 12x", "1-0 -2", "1-0 1 2", "1-0  1",
                            "1-0x 1", " 1-0"}) {
        EXPECT_FALSE(parseCheckpointValue(bad).has_value()) << "'" << bad << "'";
    }
}

TEST(StateCodecTest, JsonStringEscapesQuotesControlsAndBadUtf8)
{
    std::string out;
    appendJsonString(out, std::string_view("a\"b\\c\n\x01\x7f", 8));
    EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\\u007f\"");
    out.clear();
    appendJsonString(out, std::string_view("nul\0x", 5));
    EXPECT_EQ(out, "\"nul\\u0000x\"");
    out.clear();
    appendJsonString(out, "\xe5\xb8\x81 ok");  // valid UTF-8 passes as is
    EXPECT_EQ(out, "\"\xe5\xb8\x81 ok\"");
    out.clear();
    appendJsonString(out, "bad\xff\xc0\x80 \xed\xa0\x80!");  // invalid byte, overlong, surrogate
    EXPECT_EQ(out, "\"bad\\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\\ufffd!\"");
    out.clear();
    appendJsonString(out, "cut\xe5\xb8");  // truncated sequence at the end
    EXPECT_EQ(out, "\"cut\\ufffd\\ufffd\"");
}

TEST(StateCodecTest, LastIdsIsACompactJsonObjectWithoutDuplicateKeys)
{
    std::vector<StreamStatus> streams(3);
    streams[0].key = "trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT";
    streams[0].lastId = {1732700000000, 1};
    streams[1].key = "k\"q";
    streams[1].lastId = {5, 0};
    streams[2].key = streams[0].key;
    streams[2].lastId = {9, 9};
    EXPECT_EQ(lastIdsJson(streams),
              "{\"trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT\":\"1732700000000-1\",\"k\\\"q\":\"5-0\"}");
    EXPECT_EQ(lastIdsJson({}), "{}");
}

TEST(StateCodecTest, RegistryFieldsCarryTheBusSnapshotAndExtras)
{
    RegistryInput in;
    in.instanceId = "host-a:8080";
    in.version = "0.1.0";
    in.httpAddress = "127.0.0.1:8080";
    in.pid = 1234;
    in.hostname = "host-a";
    in.startedAtNs = 1'732'723'200'000'000'000;  // 2024-11-27T16:00:00Z
    in.nowNs = 1'732'723'212'500'000'000;
    in.bus.state = BusState::Connected;
    in.bus.sinceNs = 1'732'723'201'000'000'000;
    in.bus.received = 123;
    in.bus.rejected = 2;
    in.bus.reconnects = 3;
    in.bus.trimGaps = 4;
    in.bus.streams.resize(2);
    in.bus.streams[0].key = "s1";
    in.bus.streams[0].lastId = {10, 0};
    in.bus.streams[1].key = "s2";
    in.extra = {{"ws_clients", "2"}, {"state", "hijacked"}};

    const auto fields = registryFields(in);
    EXPECT_EQ(fields.front().first, "instance");
    const auto m = asMap(fields);
    EXPECT_EQ(m.at("instance"), "host-a:8080");
    EXPECT_EQ(m.at("state"), "connected");
    EXPECT_EQ(m.at("since"), "2024-11-27T16:00:01.000Z");
    EXPECT_EQ(m.at("version"), "0.1.0");
    EXPECT_EQ(m.at("http"), "127.0.0.1:8080");
    EXPECT_EQ(m.at("pid"), "1234");
    EXPECT_EQ(m.at("host"), "host-a");
    EXPECT_EQ(m.at("started_at"), "2024-11-27T16:00:00.000Z");
    EXPECT_EQ(m.at("received"), "123");
    EXPECT_EQ(m.at("rejected"), "2");
    EXPECT_EQ(m.at("reconnects"), "3");
    EXPECT_EQ(m.at("trim_gaps"), "4");
    EXPECT_EQ(m.at("streams"), "2");
    EXPECT_EQ(m.at("last_ids"), "{\"s1\":\"10-0\",\"s2\":\"0-0\"}");
    EXPECT_EQ(m.at("updated_at"), "2024-11-27T16:00:12.500Z");
    EXPECT_EQ(m.at("ws_clients"), "2");
    // An extra field never overrides a core one, and appears once.
    EXPECT_EQ(fields.size(), m.size());
    EXPECT_EQ(fields.size(), 16u);
}

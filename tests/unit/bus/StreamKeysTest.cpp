#include "bus/StreamKeys.h"

#include <gtest/gtest.h>

namespace nautilus::relay {
namespace {

constexpr std::string_view kTopic = "data.quotes.BINANCE.BTCUSDT";
constexpr std::string_view kInstance = "45b9d765-8189-4d46-8ef3-1279d4bcb3d5";

struct KeyCase {
    const char* name;
    bool useTraderPrefix;
    bool useTraderId;
    bool useInstanceId;
    const char* streamsPrefix;
    bool streamPerTopic;
    const char* expectedKey;  // for kTopic
};

// SPEC §2.1's table, one row each.
const KeyCase kCases[] = {
    {"defaults", true, true, false, "stream", true, "trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT"},
    {"single stream", true, true, false, "stream", false, "trader-TRADER-001:stream"},
    {"instance id", true, true, true, "stream", true,
     "trader-TRADER-001:45b9d765-8189-4d46-8ef3-1279d4bcb3d5:stream:data.quotes.BINANCE.BTCUSDT"},
    {"no trader prefix", false, true, false, "stream", true, "TRADER-001:stream:data.quotes.BINANCE.BTCUSDT"},
    {"prefix without id", true, false, false, "stream", false, "trader-stream"},
    {"docs example", false, false, false, "binance", false, "binance"},
};

BusConfig configFor(const KeyCase& c)
{
    BusConfig cfg;
    cfg.traderId = "TRADER-001";
    cfg.instanceId = std::string(kInstance);
    cfg.useTraderPrefix = c.useTraderPrefix;
    cfg.useTraderId = c.useTraderId;
    cfg.useInstanceId = c.useInstanceId;
    cfg.streamsPrefix = c.streamsPrefix;
    cfg.streamPerTopic = c.streamPerTopic;
    return cfg;
}

TEST(StreamKeysTest, BuildsNautilusTraderKeysForEverySpecConfiguration)
{
    for (const auto& c : kCases) {
        const BusConfig cfg = configFor(c);
        EXPECT_EQ(StreamKeys::keyForTopic(cfg, kTopic), c.expectedKey) << c.name;
    }
}

TEST(StreamKeysTest, SingleStreamModeReadsTheBaseKeyItself)
{
    for (const auto& c : kCases) {
        if (c.streamPerTopic) {
            continue;
        }
        const auto sel = StreamKeys::resolve(configFor(c));
        ASSERT_EQ(sel.exactKeys.size(), 1u) << c.name;
        EXPECT_EQ(sel.exactKeys[0], c.expectedKey) << c.name;
        EXPECT_TRUE(sel.patterns.empty()) << c.name;
    }
}

TEST(StreamKeysTest, StreamPerTopicDiscoversEveryTopicKeyIncludingTheHeartbeat)
{
    for (const auto& c : kCases) {
        if (!c.streamPerTopic) {
            continue;
        }
        const BusConfig cfg = configFor(c);
        const auto sel = StreamKeys::resolve(cfg);
        EXPECT_TRUE(sel.exactKeys.empty()) << c.name;
        ASSERT_EQ(sel.patterns.size(), 1u) << c.name;
        EXPECT_EQ(sel.patterns[0], StreamKeys::baseKey(cfg) + ":*") << c.name;
        EXPECT_TRUE(StreamKeys::globMatch(sel.patterns[0], c.expectedKey)) << c.name;
        EXPECT_TRUE(StreamKeys::globMatch(sel.patterns[0], StreamKeys::keyForTopic(cfg, "health:heartbeat"))) << c.name;
        EXPECT_EQ(StreamKeys::keyForTopic(cfg, "health:heartbeat"), StreamKeys::baseKey(cfg) + ":health:heartbeat");
        // The base key itself and a sibling prefix are not matched.
        EXPECT_FALSE(StreamKeys::globMatch(sel.patterns[0], StreamKeys::baseKey(cfg))) << c.name;
        EXPECT_FALSE(StreamKeys::globMatch(sel.patterns[0], StreamKeys::baseKey(cfg) + "2:x")) << c.name;
    }
}

TEST(StreamKeysTest, DefaultConfigurationMatchesNautilusTraderDefaults)
{
    const BusConfig cfg;
    EXPECT_EQ(StreamKeys::baseKey(cfg), "trader-TRADER-001:stream");
    const auto sel = StreamKeys::resolve(cfg);
    ASSERT_EQ(sel.patterns.size(), 1u);
    EXPECT_EQ(sel.patterns[0], "trader-TRADER-001:stream:*");
}

TEST(StreamKeysTest, EscapesGlobCharactersOfTheBaseKey)
{
    BusConfig cfg;
    cfg.traderId = "T*R?[1]\\";
    const std::string base = StreamKeys::baseKey(cfg);
    EXPECT_EQ(base, "trader-T*R?[1]\\:stream");
    const auto sel = StreamKeys::resolve(cfg);
    ASSERT_EQ(sel.patterns.size(), 1u);
    EXPECT_EQ(sel.patterns[0], "trader-T\\*R\\?\\[1\\]\\\\:stream:*");
    EXPECT_TRUE(StreamKeys::globMatch(sel.patterns[0], base + ":data.quotes.X"));
    EXPECT_FALSE(StreamKeys::globMatch(sel.patterns[0], "trader-TxxRy1\\:stream:data.quotes.X"));
    EXPECT_FALSE(StreamKeys::globMatch(sel.patterns[0], "trader-TR1:stream:x"));
}

TEST(StreamKeysTest, ExplicitStreamsOverrideTheOptionsAndSplitIntoKeysAndPatterns)
{
    BusConfig cfg;
    cfg.streams = {"orders:stream", "trader-*:stream", "quotes?", "book[12]", "orders:stream", ""};
    const auto sel = StreamKeys::resolve(cfg);
    EXPECT_EQ(sel.exactKeys, (std::vector<std::string>{"orders:stream"}));
    EXPECT_EQ(sel.patterns, (std::vector<std::string>{"trader-*:stream", "quotes?", "book[12]"}));
}

TEST(StreamKeysTest, GlobMatchFollowsRedisSemantics)
{
    EXPECT_TRUE(StreamKeys::globMatch("*", ""));
    EXPECT_TRUE(StreamKeys::globMatch("a*", "a"));
    EXPECT_TRUE(StreamKeys::globMatch("a*c", "abbbc"));
    EXPECT_FALSE(StreamKeys::globMatch("a*c", "abbb"));
    EXPECT_TRUE(StreamKeys::globMatch("a?c", "abc"));
    EXPECT_FALSE(StreamKeys::globMatch("a?c", "ac"));
    EXPECT_TRUE(StreamKeys::globMatch("b[12]", "b2"));
    EXPECT_FALSE(StreamKeys::globMatch("b[12]", "b3"));
    EXPECT_TRUE(StreamKeys::globMatch("b[^12]", "b3"));
    EXPECT_TRUE(StreamKeys::globMatch("b[a-c]", "bb"));
    EXPECT_TRUE(StreamKeys::globMatch("a\\*", "a*"));
    EXPECT_FALSE(StreamKeys::globMatch("a\\*", "ab"));
    EXPECT_TRUE(StreamKeys::globMatch("*:*:*", "x:y:z"));
    EXPECT_TRUE(StreamKeys::hasGlob("a*"));
    EXPECT_TRUE(StreamKeys::hasGlob("a[b"));
    EXPECT_FALSE(StreamKeys::hasGlob("trader-TRADER-001:stream"));
}

}  // namespace
}  // namespace nautilus::relay

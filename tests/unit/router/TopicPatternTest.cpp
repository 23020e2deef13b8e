#include <gtest/gtest.h>

#include "router/TopicPattern.h"

using nautilus::relay::topicMatches;

namespace {

struct Case {
    const char* pattern;
    const char* topic;
    bool match;
};

// NautilusTrader's own examples (crates/common/src/msgbus/matching.rs tests, SPEC §7.4) and
// the edge cases the SPEC calls out.
const Case kCases[] = {
    {"data.*.BINANCE.ETH???", "data.trades.BINANCE.ETHUSD", true},
    {"data.*.BINANCE.ETH???", "data.trades.BINANCE.ETHUSDT", false},
    {"*?*", "a", true},
    {"*?*", "", false},
    {"", "", true},
    {"", "a", false},
    {"*", "", true},
    {"*", "data.quotes.BINANCE.BTCUSDT", true},
    {"data.*", "data.quotes.BINANCE.BTCUSDT", true},   // '*' crosses '.'
    {"data.quotes.*", "data.quotes.BINANCE.BTCUSDT", true},
    {"data.quotes.*", "data.trades.BINANCE.BTCUSDT", false},
    {"data.quotes.BINANCE.BTCUSDT", "data.quotes.BINANCE.BTCUSDT", true},
    {"data.quotes.BINANCE.BTCUSDT", "data.quotes.BINANCE.BTCUSD", false},
    {"data.quotes.BINANCE.BTCUSD", "data.quotes.BINANCE.BTCUSDT", false},
    {"data.SignalMomentum*", "data.SignalMomentum*", true},  // literal '*' in a legacy topic
    {"data.SignalMomentum*", "data.SignalMomentum", true},
    {"data.quotes.BINANCE.*", "data.quotes.*", false},
    {"events.order.*", "events.order.EMACross-000", true},
    {"events.order.*", "events.order_filled.BTCUSDT.BINANCE", false},
    {"events.order*", "events.order_filled.BTCUSDT.BINANCE", true},
    {"*.BTCUSDT", "data.quotes.BINANCE.BTCUSDT", true},
    {"*.BTCUSDT", "data.quotes.BINANCE.BTCUSDT-PERP", false},
    {"a*b*c", "aXXbYYc", true},
    {"a*b*c", "aXXbYY", false},
    {"a*b", "abab", true},
    {"?", "", false},
    {"??", "\xc3\xa9", true},   // '?' is one byte: a two-byte character needs two
    {"?", "\xc3\xa9", false},
    {"[ab]", "a", false},        // no character classes: '[' is literal
    {"[ab]", "[ab]", true},
    {"health:heartbeat", "health:heartbeat", true},
    {"***", "x", true},
};

}  // namespace

TEST(TopicPatternTest, MatchesNautilusTraderSemantics)
{
    for (const auto& c : kCases) {
        EXPECT_EQ(topicMatches(c.pattern, c.topic), c.match) << "pattern '" << c.pattern << "' topic '" << c.topic << "'";
    }
}

TEST(TopicPatternTest, NulBytesAreOrdinaryBytes)
{
    const std::string topic("data.x\0y", 8);
    EXPECT_TRUE(topicMatches(std::string_view("data.x\0y", 8), topic));
    EXPECT_TRUE(topicMatches("data.x?y", topic));
    EXPECT_FALSE(topicMatches("data.xy", topic));
}

TEST(TopicPatternTest, LongAdversarialInputStaysFast)
{
    // Many stars against a long non-matching topic: the single-backtrack algorithm stays
    // polynomial (a naive recursive matcher would explode here).
    const std::string pattern = "*a*a*a*a*a*a*a*a*a*a*b";
    const std::string topic(5000, 'a');
    EXPECT_FALSE(topicMatches(pattern, topic));
}

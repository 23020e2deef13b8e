#include "app/BuiltinSubscribers.h"

#include <sstream>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

namespace nautilus::relay {
namespace {

Message message(std::string_view topic, std::string_view type, std::string_view id = "1-0",
                std::string_view stream = "trader-TRADER-001:stream")
{
    Message m;
    m.stream = stream;
    m.id = id;
    m.topic = topic;
    m.type = type;
    m.json = R"({"bid_price":"1.0"})";
    m.raw = m.json;
    return m;
}

std::size_t count(const std::string& text, const std::string& needle)
{
    std::size_t n = 0;
    for (std::size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
        ++n;
    }
    return n;
}

TEST(RoutedCounterTest, CountsPerTopicAndPerType)
{
    MetricsRegistry registry;
    RoutedCounter counter(registry);
    counter.onMessage(message("data.quotes.BINANCE.BTCUSDT", "QuoteTick"));
    counter.onMessage(message("data.quotes.BINANCE.BTCUSDT", "QuoteTick"));
    counter.onMessage(message("events.order.S-001", "OrderFilled"));
    const std::string text = registry.renderPrometheus();
    EXPECT_NE(text.find("nautilus_relay_routed_total{topic=\"data.quotes.BINANCE.BTCUSDT\"} 2\n"), std::string::npos)
        << text;
    EXPECT_NE(text.find("nautilus_relay_routed_total{topic=\"events.order.S-001\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("nautilus_relay_routed_by_type_total{type=\"QuoteTick\"} 2\n"), std::string::npos);
    EXPECT_NE(text.find("nautilus_relay_routed_by_type_total{type=\"OrderFilled\"} 1\n"), std::string::npos);
}

TEST(RoutedCounterTest, DistinctTopicsAreCappedAndTheRestCountUnderOther)
{
    MetricsRegistry registry;
    RoutedCounter counter(registry, 3, 2);
    for (int i = 0; i < 10; ++i) {
        const std::string topic = "data.t" + std::to_string(i);
        const std::string type = "T" + std::to_string(i);
        counter.onMessage(message(topic, type));
    }
    counter.onMessage(message("data.t0", "T0"));  // known topics still count under their own label
    EXPECT_EQ(counter.distinctTopics(), 3u);
    const std::string text = registry.renderPrometheus();
    EXPECT_EQ(count(text, "nautilus_relay_routed_total{"), 4u) << text;
    EXPECT_NE(text.find("nautilus_relay_routed_total{topic=\"data.t0\"} 2\n"), std::string::npos);
    EXPECT_NE(text.find("nautilus_relay_routed_total{topic=\"_other\"} 7\n"), std::string::npos) << text;
    EXPECT_NE(text.find("nautilus_relay_routed_by_type_total{type=\"_other\"} 8\n"), std::string::npos) << text;
}

TEST(RoutedCounterTest, HostileTopicsBecomeValidLabels)
{
    MetricsRegistry registry;
    RoutedCounter counter(registry);
    counter.onMessage(message("data.\"quoted\"\\x\n\xff", ""));
    const std::string text = registry.renderPrometheus();
    EXPECT_NE(text.find(R"(nautilus_relay_routed_total{topic="data.\"quoted\"\\x\n)"
                        "\xEF\xBF\xBD"
                        R"("} 1)"),
              std::string::npos)
        << text;
}

TEST(MessageLoggerTest, LogsAtDebugOnceEvenWhenSeveralPatternsMatch)
{
    std::ostringstream out;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    auto logger = std::make_shared<spdlog::logger>("relay.messages.test", sink);
    logger->set_pattern("%l %v");
    logger->set_level(spdlog::level::debug);
    MessageLogger ml(logger);
    const Message m = message("data.quotes.BINANCE.BTCUSDT", "QuoteTick", "1700000000000-0");
    ml.onMessage(m);
    ml.onMessage(m);  // the same entry through a second pattern
    ml.onMessage(message("data.quotes.BINANCE.BTCUSDT", "QuoteTick", "1700000000000-1"));
    logger->flush();
    const std::string text = out.str();
    EXPECT_EQ(count(text, "\n"), 2u) << text;
    EXPECT_NE(text.find("debug trader-TRADER-001:stream 1700000000000-0 topic=data.quotes.BINANCE.BTCUSDT "
                        "type=QuoteTick encoding=json {\"bid_price\":\"1.0\"}"),
              std::string::npos)
        << text;
}

TEST(MessageLoggerTest, CostsNothingAboveDebug)
{
    std::ostringstream out;
    auto logger = std::make_shared<spdlog::logger>("relay.messages.quiet",
                                                   std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
    logger->set_level(spdlog::level::info);
    MessageLogger ml(logger);
    ml.onMessage(message("data.quotes.X", "QuoteTick"));
    logger->flush();
    EXPECT_TRUE(out.str().empty());
}

TEST(MessageLoggerTest, LongPayloadsAreShortened)
{
    std::ostringstream out;
    auto logger = std::make_shared<spdlog::logger>("relay.messages.long",
                                                   std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
    logger->set_pattern("%v");
    logger->set_level(spdlog::level::debug);
    MessageLogger ml(logger);
    const std::string big(10000, 'x');
    Message m = message("data.custom", "Custom");
    m.json = big;
    ml.onMessage(m);
    logger->flush();
    EXPECT_LT(out.str().size(), 2300u);
    EXPECT_NE(out.str().find("...(10000 bytes)"), std::string::npos);
}

}  // namespace
}  // namespace nautilus::relay

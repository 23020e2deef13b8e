// plugins/c-example, the bundled plain-C plugin: loaded for real, its summaries reach another
// plugin through publish, and a bad setting refuses it with its own text.
#include <gtest/gtest.h>

#include "common/Metrics.h"
#include "PluginTestSupport.h"

#ifdef NR_C_EXAMPLE_PLUGIN

using namespace nautilus::relay;
using namespace nautilus::relay::test;

class CExamplePluginTest : public PluginHostFixture {};

TEST_F(CExamplePluginTest, CountsItsTopicsAndPublishesSummaries)
{
    useFile(NR_C_EXAMPLE_PLUGIN);
    use("good_collector", "good-collector");
    props["plugins.c-example.topics"] = "data.quotes.*, data.trades.*";
    props["plugins.c-example.summary_every"] = "2";
    props["plugins.good-collector.topic"] = "plugin.c-example.*";
    ASSERT_EQ(load().loaded.size(), 2u);

    EXPECT_EQ(route("data.quotes.BINANCE.BTCUSDT", "QuoteTick", "1-0", "{\"a\":1}"), 1u);
    EXPECT_EQ(route("events.order.S", "OrderFilled", "2-0"), 0u);
    EXPECT_EQ(route("data.trades.BINANCE.\"X\"", "TradeTick", "3-0", "[1,2]"), 1u);
    ASSERT_TRUE(waitHandled("good-collector", 1));
    const auto got = lines("good-collector");
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[2].rfind("msg plugin:c-example|", 0), 0u) << got[2];
    EXPECT_NE(got[2].find("|plugin.c-example.summary|CExampleSummary|json|"), std::string::npos) << got[2];
    EXPECT_NE(got[2].find("{\"messages\":2,\"payload_bytes\":12,\"last_topic\":\"data.trades.BINANCE.\\\"X\\\"\","
                          "\"last_received_ns\":1732700000000000000}"),
              std::string::npos)
        << got[2];
    EXPECT_EQ(snap("c-example").subscriptions, (std::vector<std::string>{"data.quotes.*", "data.trades.*"}));
    const std::string metrics = MetricsRegistry::global().renderPrometheus();
    EXPECT_NE(metrics.find("nautilus_relay_plugin_custom_subscriptions{plugin=\"c-example\"} 2"), std::string::npos);
}

TEST_F(CExamplePluginTest, BadSettingRefusesItWithItsOwnText)
{
    useFile(NR_C_EXAMPLE_PLUGIN);
    props["plugins.c-example.summary_every"] = "often";
    const auto report = load();
    ASSERT_EQ(report.refused.size(), 1u);
    EXPECT_EQ(report.refused[0].reason,
              "init failed with NR_ERR_INVALID_ARGUMENT: summary_every must be a whole number (0 = never)");
}

#endif  // NR_C_EXAMPLE_PLUGIN

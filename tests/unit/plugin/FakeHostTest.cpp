// The SDK's fake host (sdk/testing) driving a C++ plugin written with plugin.hpp, linked into
// the test: how plugin authors unit-test without the relay. Also exercises plugin.hpp's
// wrappers and exception barrier directly, without dlopen.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "nautilus_relay/plugin.hpp"
#include "nautilus_relay/testing/fake_host.hpp"

namespace nr = nautilus_relay;
using nautilus_relay::testing::FakeHost;

namespace {

class Echo final : public nr::Plugin {
public:
    explicit Echo(nr::Host host) : Plugin(host)
    {
        if (this->host().configOr("mode", "ok") == "refuse") {
            throw nr::Error(NR_ERR_UNAVAILABLE, "refused by configuration");
        }
        subscribe("data.quotes.*", "QuoteTick", [this](const nr::Message& m) {
            this->host().counterAdd("quotes");
            if (m.payload() == "throw") {
                throw std::runtime_error("cannot handle " + std::string(m.id()));
            }
            const nr_status st = this->host().publish("plugin.echo." + std::string(m.topic()), m.type(), m.payload());
            this->host().info("echoed " + std::string(m.id()) + " from " + std::string(m.stream()));
            return st;
        });
        subscribe("events.order.*", "", [this](const nr::Message& m) {
            this->host().gaugeSet("last_order_ns", static_cast<double>(m.receivedNs()));
            if (m.encoding() != "json") {
                throw nr::Error(NR_ERR_INVALID_ARGUMENT, "only json");
            }
        });
    }
};

}  // namespace

TEST(FakeHostTest, DrivesACppPluginThroughTheCAbi)
{
    FakeHost host({{"mode", "ok"}});
    ASSERT_EQ(host.init(nr::pluginInfo<Echo>("echo", "1.0.0")), NR_OK);
    ASSERT_EQ(host.subscriptions().size(), 2u);
    EXPECT_EQ(host.subscriptions()[0].types, std::vector<std::string>{"QuoteTick"});

    EXPECT_EQ(host.deliver({"data.quotes.BINANCE.BTCUSDT", "QuoteTick", "{\"bid\":1}", "5-0"}), NR_OK);
    EXPECT_EQ(host.deliver({"data.quotes.BINANCE.BTCUSDT", "TradeTick"}), NR_OK);  // no handler
    EXPECT_EQ(host.handlerCalls(), 1u);
    ASSERT_EQ(host.published().size(), 1u);
    EXPECT_EQ(host.published()[0].topic, "plugin.echo.data.quotes.BINANCE.BTCUSDT");
    EXPECT_EQ(host.published()[0].payload, "{\"bid\":1}");
    ASSERT_EQ(host.logs().size(), 1u);
    EXPECT_EQ(host.logs()[0].text, "echoed 5-0 from trader-TRADER-001:stream");
    EXPECT_EQ(host.logs()[0].level, NR_LOG_INFO);
    EXPECT_EQ(host.counters().at("quotes"), 1u);

    nautilus_relay::testing::FakeMessage order{"events.order.S-1", "OrderFilled"};
    order.receivedNs = 42;
    EXPECT_EQ(host.deliver(order), NR_OK);
    EXPECT_EQ(host.gauges().at("last_order_ns"), 42.0);
    host.shutdown();
    EXPECT_FALSE(host.running());
}

TEST(FakeHostTest, ExceptionsBecomeStatusesWithTheirText)
{
    FakeHost host;
    ASSERT_EQ(host.init(nr::pluginInfo<Echo>("echo", "1.0.0")), NR_OK);
    EXPECT_EQ(host.deliver({"data.quotes.X", "QuoteTick", "throw", "7-0"}), NR_ERR_INTERNAL);
    EXPECT_EQ(host.lastError(), "cannot handle 7-0");
    nautilus_relay::testing::FakeMessage order{"events.order.S-1", "OrderFilled"};
    order.encoding = "msgpack";
    EXPECT_EQ(host.deliver(order), NR_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(host.lastError(), "only json");
}

TEST(FakeHostTest, ConstructorExceptionFailsInitWithItsStatusAndText)
{
    FakeHost host({{"mode", "refuse"}});
    EXPECT_EQ(host.init(nr::pluginInfo<Echo>("echo", "1.0.0")), NR_ERR_UNAVAILABLE);
    EXPECT_EQ(host.lastError(), "refused by configuration");
    EXPECT_FALSE(host.running());
    EXPECT_TRUE(host.subscriptions().empty());
}

TEST(FakeHostTest, WildcardsFollowNautilusTrader)
{
    using nautilus_relay::testing::topicMatches;
    EXPECT_TRUE(topicMatches("data.*", "data."));
    EXPECT_TRUE(topicMatches("*", ""));
    EXPECT_TRUE(topicMatches("data.quotes.*.BTC?SDT", "data.quotes.BINANCE.BTCUSDT"));
    EXPECT_TRUE(topicMatches("*.order.*", "events.order.S-1"));
    EXPECT_FALSE(topicMatches("data.?", "data."));
    EXPECT_FALSE(topicMatches("data.quotes", "data.quotes.X"));
}

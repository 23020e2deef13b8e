// plugins/latest-quotes: the real .so, dlopened, driven by the SDK's FakeHost. Many quotes for one
// instrument conflate into one entry holding the latest, snapshots come at most at rate_hz, and
// nothing is published while nothing changes. The plugin publishes from its own timer thread, so
// the FakeHost's records are read only after shutdown() has joined it.
#include <gtest/gtest.h>

#ifdef NR_LATEST_QUOTES_PLUGIN

#include <dlfcn.h>

#include <nautilus_relay/testing/fake_host.hpp>

#include "PluginTestSupport.h"

#include <chrono>
#include <string>
#include <thread>

namespace {

using nautilus_relay::testing::FakeHost;
using nautilus_relay::testing::FakeMessage;
using namespace std::chrono_literals;

const nr_plugin_info* latestQuotes()
{
    static void* lib = dlopen(NR_LATEST_QUOTES_PLUGIN, RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
        return nullptr;
    }
    auto entry = reinterpret_cast<nr_plugin_entry_fn>(dlsym(lib, NR_PLUGIN_ENTRY_SYMBOL));
    return entry != nullptr ? entry() : nullptr;
}

FakeMessage quote(const std::string& instrument, int bid)
{
    const auto dot = instrument.find('.');
    const std::string topic = "data.quotes." + instrument.substr(dot + 1) + "." + instrument.substr(0, dot);
    return FakeMessage{topic, "QuoteTick",
                       R"({"instrument_id":")" + instrument + R"(","bid_price":")" + std::to_string(bid) + R"("})"};
}

TEST(LatestQuotesPluginTest, ConflatesManyQuotesIntoTheLatestPerInstrument)
{
    ASSERT_NE(latestQuotes(), nullptr) << dlerror();
    FakeHost host({{"rate_hz", "20"}});
    ASSERT_EQ(host.init(latestQuotes()), NR_OK) << host.lastError();
    ASSERT_EQ(host.subscriptions().size(), 2u);
    EXPECT_EQ(host.subscriptions()[0].pattern, "data.quotes.*");
    EXPECT_EQ(host.subscriptions()[0].types, std::vector<std::string>{"QuoteTick"});
    EXPECT_EQ(host.subscriptions()[1].pattern, "data.trades.*");

    for (int i = 1; i <= 1000; ++i) {
        ASSERT_EQ(host.deliver(quote("BTCUSDT.BINANCE", i)), NR_OK);
    }
    ASSERT_EQ(host.deliver(FakeMessage{"data.trades.BINANCE.ETHUSDT", "TradeTick",
                                       R"({"instrument_id":"ETHUSDT.BINANCE","price":"3000.5"})"}),
              NR_OK);
    // Wrong type on a matching topic: not a tick, not kept.
    ASSERT_EQ(host.deliver(FakeMessage{"data.quotes.BINANCE.XRPUSDT", "OrderBookDelta", R"({"x":1})"}), NR_OK);
    // Snapshots go out on the plugin's timer only: wait for the one that carries the last update.
    EXPECT_TRUE(nautilus::relay::test::waitUntil([&] {
        const auto published = host.published();
        return !published.empty() && published.back().payload.find(R"("bid_price":"1000")") != std::string::npos &&
               published.back().payload.find("3000.5") != std::string::npos;
    }));
    host.shutdown();

    ASSERT_GE(host.published().size(), 1u);
    std::uint64_t updates = 0;
    for (const auto& p : host.published()) {
        EXPECT_EQ(p.topic, "plugin.latest-quotes.snapshot");
        EXPECT_EQ(p.type, "LatestQuotesSnapshot");
        const auto at = p.payload.find("\"updates\":");
        ASSERT_NE(at, std::string::npos) << p.payload;
        updates += std::stoull(p.payload.substr(at + 10));
    }
    EXPECT_EQ(updates, 1001u);
    const std::string last = host.published().back().payload;
    EXPECT_EQ(last.rfind(R"({"quotes":{"BTCUSDT.BINANCE":{"instrument_id":"BTCUSDT.BINANCE","bid_price":"1000"}},)"
                         R"("trades":{"ETHUSDT.BINANCE":{"instrument_id":"ETHUSDT.BINANCE","price":"3000.5"}},"updates":)",
                         0),
              0u)
        << last;
    EXPECT_EQ(host.counters().at("updates"), 1001u);
}

TEST(LatestQuotesPluginTest, PublishesAtMostAtTheRate)
{
    ASSERT_NE(latestQuotes(), nullptr) << dlerror();
    FakeHost host({{"rate_hz", "20"}});
    ASSERT_EQ(host.init(latestQuotes()), NR_OK) << host.lastError();
    const auto start = std::chrono::steady_clock::now();
    int bid = 0;
    while (std::chrono::steady_clock::now() - start < 500ms) {
        ASSERT_EQ(host.deliver(quote("BTCUSDT.BINANCE", ++bid)), NR_OK);
        std::this_thread::sleep_for(1ms);
    }
    host.shutdown();
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto n = host.published().size();
    EXPECT_LE(static_cast<double>(n), elapsed * 20 + 1) << n << " snapshots in " << elapsed << " s";
    EXPECT_GE(n, 3u) << "a steady feed gives a steady snapshot rate";
    EXPECT_GT(bid, static_cast<int>(n) * 5) << "conflation: far fewer snapshots than quotes";
}

TEST(LatestQuotesPluginTest, PublishesNothingWhenNothingChanged)
{
    ASSERT_NE(latestQuotes(), nullptr) << dlerror();
    {
        FakeHost host({{"rate_hz", "50"}});
        ASSERT_EQ(host.init(latestQuotes()), NR_OK) << host.lastError();
        std::this_thread::sleep_for(150ms);
        host.shutdown();
        EXPECT_TRUE(host.published().empty());
    }
    FakeHost host({{"rate_hz", "50"}});
    ASSERT_EQ(host.init(latestQuotes()), NR_OK) << host.lastError();
    ASSERT_EQ(host.deliver(quote("BTCUSDT.BINANCE", 1)), NR_OK);
    EXPECT_TRUE(nautilus::relay::test::waitUntil([&] { return !host.published().empty(); }));
    std::this_thread::sleep_for(300ms);  // ~15 more periods, no further change
    host.shutdown();
    ASSERT_EQ(host.published().size(), 1u);
    EXPECT_NE(host.published()[0].payload.find(R"("updates":1})"), std::string::npos);
}

TEST(LatestQuotesPluginTest, BadRateRefusesIt)
{
    ASSERT_NE(latestQuotes(), nullptr) << dlerror();
    for (const char* bad : {"0", "-5", "fast", "100000"}) {
        FakeHost host({{"rate_hz", bad}});
        EXPECT_EQ(host.init(latestQuotes()), NR_ERR_INVALID_ARGUMENT) << bad;
        EXPECT_NE(host.lastError().find("rate_hz must be a number"), std::string::npos) << host.lastError();
    }
}

// With the relay's own PluginHost: the snapshot, published from the plugin's timer thread, reaches
// another plugin subscribed to plugin.latest-quotes.*.
class LatestQuotesRealHostTest : public nautilus::relay::test::PluginHostFixture {};

TEST_F(LatestQuotesRealHostTest, SnapshotFromTheTimerThreadReachesSubscribers)
{
    useFile(NR_LATEST_QUOTES_PLUGIN);
    use("good_collector", "good-collector");
    props["plugins.latest-quotes.rate_hz"] = "50";
    props["plugins.good-collector.topic"] = "plugin.latest-quotes.*";
    ASSERT_EQ(load().loaded.size(), 2u);
    for (int i = 1; i <= 100; ++i) {
        route("data.quotes.BINANCE.BTCUSDT", "QuoteTick", "",
              R"({"instrument_id":"BTCUSDT.BINANCE","bid_price":")" + std::to_string(i) + R"("})");
    }
    ASSERT_TRUE(nautilus::relay::test::waitUntil([&] {
        const auto got = lines("good-collector");
        return !got.empty() && got.back().find(R"("bid_price":"100")") != std::string::npos;
    })) << (lines("good-collector").empty() ? std::string("nothing") : lines("good-collector").back());
    const auto got = lines("good-collector");
    EXPECT_NE(got.back().find("msg plugin:latest-quotes|"), std::string::npos) << got.back();
    EXPECT_NE(got.back().find("|plugin.latest-quotes.snapshot|LatestQuotesSnapshot|"), std::string::npos)
        << got.back();
}

}  // namespace

#endif  // NR_LATEST_QUOTES_PLUGIN

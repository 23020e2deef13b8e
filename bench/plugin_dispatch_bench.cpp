// Plugin dispatch overhead per message per plugin (issue target ≤ 1 µs): the bundled c-example
// plugin loaded with dlopen into a real PluginHost, fed QuoteTick messages through route().
// Compares, in one run: route() with no plugin, with the plugin (cost on the reader thread), and
// the end-to-end rate until the plugin's worker has handled every message.
// Run: build/release/bench/plugin_dispatch_bench   (Release build; see docs/BENCHMARKS.md)
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>
#include <thread>

#include "plugin/PluginHost.h"
#include "router/Router.h"

using namespace nautilus::relay;

namespace {

const std::string kQuote =
    R"({"type":"QuoteTick","instrument_id":"BTCUSDT.BINANCE","bid_price":"67012.10","ask_price":"67012.20","bid_size":"1.25000","ask_size":"0.83000","ts_event":1719792000123456789,"ts_init":1719792000123501003})";

Message quote()
{
    Message m;
    m.stream = "trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT";
    m.id = "1719792000124-0";
    m.topic = "data.quotes.BINANCE.BTCUSDT";
    m.headerType = "QuoteTick";
    m.type = "QuoteTick";
    m.json = kQuote;
    m.raw = kQuote;
    return m;
}

PluginHostOptions options(bool withPlugin)
{
    auto o = PluginHostOptions::fromProperties(
        {{"plugins.c-example.topics", "data.quotes.*"}, {"plugins.c-example.summary_every", "0"}});
    if (withPlugin) {
        o.files = {NR_C_EXAMPLE_PLUGIN};
    }
    return o;
}

void runDispatch(benchmark::State& state, bool withPlugin, bool waitForHandler)
{
    Router router;
    PluginHost host(options(withPlugin), router);
    host.load();
    if (withPlugin && host.snapshot().empty()) {
        state.SkipWithError("c-example plugin did not load");
        return;
    }
    const Message msg = quote();
    constexpr int kBatch = 10'000;
    std::uint64_t sent = 0;
    for (auto _ : state) {
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < kBatch; ++i) {
            host.route(msg);
        }
        sent += kBatch;
        if (waitForHandler && withPlugin) {
            while (host.snapshot().front().handled < sent) {
                std::this_thread::yield();
            }
        }
        state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(sent));
    host.shutdown();
}

void BM_Route_NoPlugin(benchmark::State& s) { runDispatch(s, false, false); }
void BM_Route_OnePlugin_ReaderSide(benchmark::State& s) { runDispatch(s, true, false); }
void BM_Route_OnePlugin_Handled(benchmark::State& s) { runDispatch(s, true, true); }

}  // namespace

BENCHMARK(BM_Route_NoPlugin)->UseManualTime()->Iterations(100);
BENCHMARK(BM_Route_OnePlugin_ReaderSide)->UseManualTime()->Iterations(100);
BENCHMARK(BM_Route_OnePlugin_Handled)->UseManualTime()->Iterations(100);
BENCHMARK_MAIN();

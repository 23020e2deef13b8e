// GET /status with many streams (one per topic, NautilusTrader's default): the cost of copying
// the reader's snapshot and of rendering the body, per request. With 500 streams the body is
// about 78 KB, nearly all of it the per-stream list.
// Run: build/release/bench/status_render_bench   (Release build; see docs/BENCHMARKS.md)
#include <benchmark/benchmark.h>

#include <string>

#include "http/StatusJson.h"

using namespace nautilus::relay;

namespace {

BusSnapshot snapshot(std::size_t streams)
{
    BusSnapshot bus;
    bus.state = BusState::Connected;
    bus.sinceNs = 1'795'897'219'000'000'000;
    bus.redis = "127.0.0.1:6379";
    bus.lastMessageNs = bus.sinceNs + 5'000'000'000;
    for (std::size_t i = 0; i < streams; ++i) {
        StreamStatus s;
        s.key = "trader-TRADER-001:stream:data.quotes.BINANCE.SYM" + std::to_string(i) + "USDT";
        s.lastId = StreamId{1'795'897'219'152 + i, i % 3};
        s.lag = static_cast<std::int64_t>(i % 7);
        s.received = 1'000'000 + i * 37;
        s.lastMessageNs = bus.lastMessageNs;
        bus.received += s.received;
        bus.streams.push_back(std::move(s));
    }
    return bus;
}

void BM_SnapshotCopy(benchmark::State& state)
{
    const BusSnapshot bus = snapshot(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) {
        BusSnapshot copy = bus;
        benchmark::DoNotOptimize(copy);
    }
}
BENCHMARK(BM_SnapshotCopy)->Arg(1)->Arg(100)->Arg(500);

void BM_RenderStatus(benchmark::State& state)
{
    const BusSnapshot bus = snapshot(static_cast<std::size_t>(state.range(0)));
    const ServiceInfo service{"host:1234", bus.sinceNs};
    std::size_t bytes = 0;
    for (auto _ : state) {
        std::string body = renderStatus(service, bus, std::nullopt, bus.lastMessageNs);
        bytes = body.size();
        benchmark::DoNotOptimize(body);
    }
    state.counters["body_bytes"] = static_cast<double>(bytes);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_RenderStatus)->Arg(1)->Arg(100)->Arg(500);

}  // namespace

BENCHMARK_MAIN();

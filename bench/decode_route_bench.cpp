// decode + route per message: one entry's fields → EntryDecoder → Router with a realistic set
// of subscriptions (dashboards and plugins: ~20 patterns, a few with type filters).
// Run: build/release/bench/decode_route_bench  (Release build; see docs/BENCHMARKS.md)
#include <benchmark/benchmark.h>

#include <msgpack.hpp>
#include <string>
#include <vector>

#include "decoder/EntryDecoder.h"
#include "router/Router.h"

using namespace nautilus::relay;

namespace {

const std::string kQuoteJson =
    R"({"type":"QuoteTick","instrument_id":"BTCUSDT.BINANCE","bid_price":"67012.10","ask_price":"67012.20","bid_size":"1.25000","ask_size":"0.83000","ts_event":1719792000123456789,"ts_init":1719792000123501003})";
const std::string kFilledJson =
    R"({"Filled":{"type":"OrderFilled","trader_id":"TRADER-001","strategy_id":"EMACross-000","instrument_id":"BTCUSDT.BINANCE","client_order_id":"O-20240701-000000-001-000-1","venue_order_id":"28457123456","account_id":"BINANCE-001","trade_id":"3658271934","order_side":"BUY","order_type":"LIMIT","last_qty":"0.01500","last_px":"67010.00","currency":"USDT","liquidity_side":"MAKER","event_id":"7d893671-1c3b-4bd2-9f7e-0f2a4c1d9e21","ts_event":1719792009870000000,"ts_init":1719792009870733912,"reconciliation":false,"position_id":"BTCUSDT.BINANCE-EMACross-000","commission":"0.10051500 USDT"}})";

std::string packQuote()
{
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(buf);
    pk.pack_map(8);
    pk.pack(std::string("type")); pk.pack(std::string("QuoteTick"));
    pk.pack(std::string("instrument_id")); pk.pack(std::string("BTCUSDT.BINANCE"));
    pk.pack(std::string("bid_price")); pk.pack(std::string("67012.10"));
    pk.pack(std::string("ask_price")); pk.pack(std::string("67012.20"));
    pk.pack(std::string("bid_size")); pk.pack(std::string("1.25000"));
    pk.pack(std::string("ask_size")); pk.pack(std::string("0.83000"));
    pk.pack(std::string("ts_event")); pk.pack(std::uint64_t{1719792000123456789ull});
    pk.pack(std::string("ts_init")); pk.pack(std::uint64_t{1719792000123501003ull});
    return {buf.data(), buf.size()};
}

std::string packFilled()
{
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(buf);
    const std::pair<const char*, const char*> strings[] = {
        {"type", "OrderFilled"}, {"trader_id", "TRADER-001"}, {"strategy_id", "EMACross-000"},
        {"instrument_id", "BTCUSDT.BINANCE"}, {"client_order_id", "O-20240701-000000-001-000-1"},
        {"venue_order_id", "28457123456"}, {"account_id", "BINANCE-001"}, {"trade_id", "3658271934"},
        {"order_side", "BUY"}, {"order_type", "LIMIT"}, {"last_qty", "0.01500"}, {"last_px", "67010.00"},
        {"currency", "USDT"}, {"liquidity_side", "MAKER"}, {"event_id", "7d893671-1c3b-4bd2-9f7e-0f2a4c1d9e21"},
        {"position_id", "BTCUSDT.BINANCE-EMACross-000"}, {"commission", "0.10051500 USDT"}};
    pk.pack_map(1);
    pk.pack(std::string("Filled"));
    pk.pack_map(static_cast<std::uint32_t>(std::size(strings)) + 3);
    for (auto [k, v] : strings) {
        pk.pack(std::string(k));
        pk.pack(std::string(v));
    }
    pk.pack(std::string("ts_event")); pk.pack(std::uint64_t{1719792009870000000ull});
    pk.pack(std::string("ts_init")); pk.pack(std::uint64_t{1719792009870733912ull});
    pk.pack(std::string("reconciliation")); pk.pack(false);
    return {buf.data(), buf.size()};
}

class CountingSubscriber : public Subscriber {
public:
    void onMessage(const Message& msg) noexcept override { bytes += msg.json.size(); }
    std::size_t bytes = 0;
};

struct Setup {
    Router router;
    std::vector<CountingSubscriber> subs = std::vector<CountingSubscriber>(20);
    Setup()
    {
        const char* patterns[] = {"data.quotes.*", "data.trades.*", "data.bars.*", "events.order.*",
                                  "events.position.*", "events.account.*", "data.quotes.BINANCE.*",
                                  "data.*.XCME.*", "data.book.*", "events.*", "*", "data.quotes.BINANCE.ETH*",
                                  "data.mark_prices.*", "data.funding_rates.*", "events.portfolio.*",
                                  "data.Signal*", "data.quotes.*.BTC???", "events.order_filled.*",
                                  "data.option_greeks.*", "health:heartbeat"};
        for (std::size_t i = 0; i < subs.size(); ++i) {
            std::vector<std::string> types;
            if (i == 3) {
                types = {"OrderFilled", "OrderCanceled"};
            }
            router.subscribe(patterns[i], types, &subs[i]);
        }
    }
};

void runDecodeRoute(benchmark::State& state, const std::string& topic, const std::string& type,
                    const std::string& encoding, const std::string& payload)
{
    Setup setup;
    EntryDecoder decoder;
    const FieldView fields[] = {{"topic", topic}, {"type", type}, {"payload", payload}, {"encoding", encoding}};
    Message msg;
    msg.stream = "trader-TRADER-001:stream";
    msg.id = "1719792000124-0";
    std::size_t routed = 0;
    for (auto _ : state) {
        if (!decoder.decode(fields, msg)) {
            state.SkipWithError("decode failed");
            break;
        }
        routed += setup.router.route(msg);
    }
    benchmark::DoNotOptimize(routed);
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * payload.size()));
}

void BM_DecodeRoute_QuoteTick_Json(benchmark::State& s)
{
    runDecodeRoute(s, "data.quotes.BINANCE.BTCUSDT", "QuoteTick", "Json", kQuoteJson);
}
void BM_DecodeRoute_QuoteTick_MsgPack(benchmark::State& s)
{
    runDecodeRoute(s, "data.quotes.BINANCE.BTCUSDT", "QuoteTick", "MsgPack", packQuote());
}
void BM_DecodeRoute_OrderFilled_Json(benchmark::State& s)
{
    runDecodeRoute(s, "events.order.EMACross-000", "OrderEventAny", "Json", kFilledJson);
}
void BM_DecodeRoute_OrderFilled_MsgPack(benchmark::State& s)
{
    runDecodeRoute(s, "events.order.EMACross-000", "OrderEventAny", "MsgPack", packFilled());
}

// Routing alone, for a topic already in the per-topic cache (the steady state).
void BM_RouteOnly_CachedTopic(benchmark::State& state)
{
    Setup setup;
    Message msg;
    msg.topic = "data.quotes.BINANCE.BTCUSDT";
    msg.type = "QuoteTick";
    std::size_t routed = 0;
    for (auto _ : state) {
        routed += setup.router.route(msg);
    }
    benchmark::DoNotOptimize(routed);
    state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(BM_DecodeRoute_QuoteTick_Json);
BENCHMARK(BM_DecodeRoute_QuoteTick_MsgPack);
BENCHMARK(BM_DecodeRoute_OrderFilled_Json);
BENCHMARK(BM_DecodeRoute_OrderFilled_MsgPack);
BENCHMARK(BM_RouteOnly_CachedTopic);
BENCHMARK_MAIN();

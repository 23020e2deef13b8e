// EntryDecoder cost per entry for the common payloads (SPEC §8.4.1 QuoteTick, §8.4.12 OrderFilled),
// JSON passthrough and MessagePack transcoding, typed (G3) and untyped (G1, sniffed).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <msgpack.hpp>

#include "decoder/EntryDecoder.h"

namespace {

using nautilus::relay::EntryDecoder;
using nautilus::relay::FieldView;
using nautilus::relay::Message;
using Packer = msgpack::packer<msgpack::sbuffer>;

const std::string kQuoteJson =
    R"({"type":"QuoteTick","instrument_id":"BTCUSDT.BINANCE","bid_price":"67012.10","ask_price":"67012.20",)"
    R"("bid_size":"1.25000","ask_size":"0.83000","ts_event":1719792000123456789,"ts_init":1719792000123501003})";

const std::string kFilledJson =
    R"({"Filled":{"type":"OrderFilled","trader_id":"TRADER-001","strategy_id":"EMACross-000",)"
    R"("instrument_id":"BTCUSDT.BINANCE","client_order_id":"O-20240701-000000-001-000-1",)"
    R"("venue_order_id":"28457123456","account_id":"BINANCE-001","trade_id":"3658271934","order_side":"BUY",)"
    R"("order_type":"LIMIT","last_qty":"0.01500","last_px":"67010.00","currency":"USDT","liquidity_side":"MAKER",)"
    R"("event_id":"7d893671-2c4e-4b8a-9a49-0f1f0e7f3c11","ts_event":1719792009870000000,)"
    R"("ts_init":1719792009870733912,"reconciliation":false,"position_id":"BTCUSDT.BINANCE-EMACross-000",)"
    R"("commission":"0.10051500 USDT"}})";

void str(Packer& pk, std::string_view s)
{
    pk.pack_str(static_cast<std::uint32_t>(s.size()));
    pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

std::string quoteMsgpack()
{
    msgpack::sbuffer b;
    Packer pk(&b);
    pk.pack_map(8);
    str(pk, "type");
    str(pk, "QuoteTick");
    str(pk, "instrument_id");
    str(pk, "BTCUSDT.BINANCE");
    str(pk, "bid_price");
    str(pk, "67012.10");
    str(pk, "ask_price");
    str(pk, "67012.20");
    str(pk, "bid_size");
    str(pk, "1.25000");
    str(pk, "ask_size");
    str(pk, "0.83000");
    str(pk, "ts_event");
    pk.pack_uint64(1719792000123456789ULL);
    str(pk, "ts_init");
    pk.pack_uint64(1719792000123501003ULL);
    return {b.data(), b.size()};
}

std::string filledMsgpack()
{
    const std::pair<const char*, const char*> strs[] = {
        {"type", "OrderFilled"},
        {"trader_id", "TRADER-001"},
        {"strategy_id", "EMACross-000"},
        {"instrument_id", "BTCUSDT.BINANCE"},
        {"client_order_id", "O-20240701-000000-001-000-1"},
        {"venue_order_id", "28457123456"},
        {"account_id", "BINANCE-001"},
        {"trade_id", "3658271934"},
        {"order_side", "BUY"},
        {"order_type", "LIMIT"},
        {"last_qty", "0.01500"},
        {"last_px", "67010.00"},
        {"currency", "USDT"},
        {"liquidity_side", "MAKER"},
        {"event_id", "7d893671-2c4e-4b8a-9a49-0f1f0e7f3c11"},
    };
    msgpack::sbuffer b;
    Packer pk(&b);
    pk.pack_map(1);
    str(pk, "Filled");
    pk.pack_map(static_cast<std::uint32_t>(std::size(strs)) + 5);
    for (const auto& [k, v] : strs) {
        str(pk, k);
        str(pk, v);
    }
    str(pk, "ts_event");
    pk.pack_uint64(1719792009870000000ULL);
    str(pk, "ts_init");
    pk.pack_uint64(1719792009870733912ULL);
    str(pk, "reconciliation");
    pk.pack_false();
    str(pk, "position_id");
    str(pk, "BTCUSDT.BINANCE-EMACross-000");
    str(pk, "commission");
    str(pk, "0.10051500 USDT");
    return {b.data(), b.size()};
}

void run(benchmark::State& state, std::vector<FieldView> fields, std::size_t payloadBytes)
{
    EntryDecoder dec;
    Message msg;
    for (auto _ : state) {
        const bool ok = dec.decode(fields, msg);
        benchmark::DoNotOptimize(ok);
        benchmark::DoNotOptimize(msg.json.data());
        if (!ok) {
            state.SkipWithError("decode rejected the entry");
            break;
        }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * payloadBytes));
}

std::vector<FieldView> typedFields(std::string_view topic, std::string_view type, const std::string& payload,
                                   std::string_view encoding)
{
    return {{"topic", topic}, {"type", type}, {"payload", payload}, {"encoding", encoding}};
}

void BM_Decode_QuoteTick_Json(benchmark::State& state)
{
    run(state, typedFields("data.quotes.BINANCE.BTCUSDT", "QuoteTick", kQuoteJson, "Json"), kQuoteJson.size());
}
BENCHMARK(BM_Decode_QuoteTick_Json);

void BM_Decode_QuoteTick_MsgPack(benchmark::State& state)
{
    static const std::string payload = quoteMsgpack();
    run(state, typedFields("data.quotes.BINANCE.BTCUSDT", "QuoteTick", payload, "MsgPack"), payload.size());
}
BENCHMARK(BM_Decode_QuoteTick_MsgPack);

void BM_Decode_OrderFilled_Json(benchmark::State& state)
{
    run(state, typedFields("events.order.EMACross-000", "OrderEventAny", kFilledJson, "Json"), kFilledJson.size());
}
BENCHMARK(BM_Decode_OrderFilled_Json);

void BM_Decode_OrderFilled_MsgPack(benchmark::State& state)
{
    static const std::string payload = filledMsgpack();
    run(state, typedFields("events.order.EMACross-000", "OrderEventAny", payload, "MsgPack"), payload.size());
}
BENCHMARK(BM_Decode_OrderFilled_MsgPack);

// G1 legacy MessagePack: no headers, so JSON is tried (and fails at once) before MessagePack.
void BM_Decode_QuoteTick_UntypedMsgPack(benchmark::State& state)
{
    static const std::string payload = quoteMsgpack();
    run(state, {{"topic", "data.quotes.BINANCE.BTCUSDT"}, {"payload", payload}}, payload.size());
}
BENCHMARK(BM_Decode_QuoteTick_UntypedMsgPack);

void BM_Decode_Heartbeat(benchmark::State& state)
{
    static const std::string payload = "2024-07-01T00:00:10.123+00:00";
    run(state, typedFields("health:heartbeat", "", payload, "Json"), payload.size());
}
BENCHMARK(BM_Decode_Heartbeat);

}  // namespace

BENCHMARK_MAIN();

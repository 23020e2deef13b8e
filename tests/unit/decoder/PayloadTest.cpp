// SPEC §9.2 payload rules P1–P8 and §9.4 routing type, on realistic G1/G2/G3 entries (SPEC §8).
#include <string>

#include "DecoderTestUtil.h"

using namespace std::string_literals;

namespace nautilus::relay::test {
namespace {

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

const std::string kPositionOpenedJson =
    R"({"PositionOpened":{"trader_id":"TRADER-001","strategy_id":"EMACross-000","instrument_id":"BTCUSDT.BINANCE",)"
    R"("position_id":"BTCUSDT.BINANCE-EMACross-000","account_id":"BINANCE-001",)"
    R"("opening_order_id":"O-20240701-000000-001-000-1","entry":"BUY","side":"LONG","signed_qty":0.015,)"
    R"("quantity":"0.01500","last_qty":"0.01500","last_px":"67010.00","currency":"USDT","avg_px_open":67010.0,)"
    R"("event_id":"2b1c7c55-6f55-4a53-a8a1-8f8e0c9a7e21","ts_event":1719792009870000000,"ts_init":1719792009870801002}})";

const std::string kAccountStateJson =
    R"({"account_id":"BINANCE-001","account_type":"CASH","base_currency":null,)"
    R"("balances":[{"currency":"USDT","total":"10000.00000000 USDT","locked":"1005.18000000 USDT",)"
    R"("free":"8994.82000000 USDT"}],"margins":[],"is_reported":true,)"
    R"("event_id":"be290478-2fd3-4b8c-a3a5-0c2a8b1f6d10","ts_event":1719792001032000000,"ts_init":1719792001032009001})";

const std::string kSignalJson =
    R"({"data_type":{"metadata":{},"type_name":"SignalMomentum"},"payload":{"name":"momentum",)"
    R"("ts_event":1719792070000000000,"ts_init":1719792070000012000,"value":"0.75"},"type":"Signal"})";

// The Rust QuoteTick as rmp_serde::to_vec_named writes it.
std::string quoteMsgpack()
{
    return mp([](Packer& pk) {
        pk.pack_map(8);
        packStr(pk, "type");
        packStr(pk, "QuoteTick");
        packStr(pk, "instrument_id");
        packStr(pk, "BTCUSDT.BINANCE");
        packStr(pk, "bid_price");
        packStr(pk, "67012.10");
        packStr(pk, "ask_price");
        packStr(pk, "67012.20");
        packStr(pk, "bid_size");
        packStr(pk, "1.25000");
        packStr(pk, "ask_size");
        packStr(pk, "0.83000");
        packStr(pk, "ts_event");
        pk.pack_uint64(1719792000123456789ULL);
        packStr(pk, "ts_init");
        pk.pack_uint64(1719792000123501003ULL);
    });
}
const char* const kQuoteMsgpackAsJson =
    R"({"type":"QuoteTick","instrument_id":"BTCUSDT.BINANCE","bid_price":"67012.10","ask_price":"67012.20",)"
    R"("bid_size":"1.25000","ask_size":"0.83000","ts_event":1719792000123456789,"ts_init":1719792000123501003})";

// {"Filled": {"type": "OrderFilled", ... , "reconciliation": false, "position_id": nil-able, ...}}
std::string filledMsgpack()
{
    return mp([](Packer& pk) {
        pk.pack_map(1);
        packStr(pk, "Filled");
        pk.pack_map(6);
        packStr(pk, "type");
        packStr(pk, "OrderFilled");
        packStr(pk, "last_px");
        packStr(pk, "67010.00");
        packStr(pk, "ts_event");
        pk.pack_uint64(1719792009870000000ULL);
        packStr(pk, "reconciliation");
        pk.pack_false();
        packStr(pk, "position_id");
        pk.pack_nil();
        packStr(pk, "commission");
        packStr(pk, "0.10051500 USDT");
    });
}

// Legacy (G1/G2) MessagePack order event: flat, "type" first, timestamps as strings.
std::string legacyFilledMsgpack()
{
    return mp([](Packer& pk) {
        pk.pack_map(4);
        packStr(pk, "type");
        packStr(pk, "OrderFilled");
        packStr(pk, "last_px");
        packStr(pk, "67010.00");
        packStr(pk, "info");
        pk.pack_map(0);
        packStr(pk, "ts_event");
        packStr(pk, "1719792009870000000");
    });
}

class Payload : public DecoderTest {};

// ---------------------------------------------------------------------------- G3 typed

TEST_F(Payload, G3TypedJsonQuoteTick)
{
    ASSERT_TRUE(typed("QuoteTick", kQuoteJson, "Json", "data.quotes.BINANCE.BTCUSDT")) << dec.error();
    EXPECT_EQ(msg.topic, "data.quotes.BINANCE.BTCUSDT");
    EXPECT_EQ(msg.headerType, "QuoteTick");
    EXPECT_EQ(msg.type, "QuoteTick");
    EXPECT_EQ(msg.encoding, Encoding::Json);
    EXPECT_EQ(msg.kind, PayloadKind::Json);
    EXPECT_FALSE(msg.heartbeat);
    EXPECT_EQ(msg.json, kQuoteJson);
    EXPECT_EQ(msg.raw, kQuoteJson);
    EXPECT_EQ(msg.json.data(), payloadField().data()) << "JSON payloads are passed through, not copied";
}

TEST_F(Payload, G3WrappedOrderEventRoutesByInnerType)
{
    ASSERT_TRUE(typed("OrderEventAny", kFilledJson, "Json", "events.order.EMACross-000")) << dec.error();
    EXPECT_EQ(msg.headerType, "OrderEventAny");
    EXPECT_EQ(msg.type, "OrderFilled");
}

TEST_F(Payload, G3PositionEventWithoutInnerTypeRoutesByKey)
{
    ASSERT_TRUE(typed("PositionEvent", kPositionOpenedJson, "Json", "events.position.EMACross-000")) << dec.error();
    EXPECT_EQ(msg.type, "PositionOpened");
}

TEST_F(Payload, G3UntaggedAccountStateRoutesByHeader)
{
    ASSERT_TRUE(typed("AccountState", kAccountStateJson, "Json", "events.account.BINANCE-001")) << dec.error();
    EXPECT_EQ(msg.type, "AccountState");
}

TEST_F(Payload, G3CustomDataSignal)
{
    ASSERT_TRUE(typed("Signal", kSignalJson, "Json", "data.SignalMomentum")) << dec.error();
    EXPECT_EQ(msg.type, "Signal");
    EXPECT_EQ(msg.headerType, "Signal");
}

TEST_F(Payload, G3TypedMsgpackQuoteTick)
{
    const std::string payload = quoteMsgpack();
    ASSERT_TRUE(typed("QuoteTick", payload, "MsgPack")) << dec.error();
    EXPECT_EQ(msg.encoding, Encoding::MsgPack);
    EXPECT_EQ(msg.kind, PayloadKind::MsgPack);
    EXPECT_EQ(msg.type, "QuoteTick");
    EXPECT_EQ(msg.json, kQuoteMsgpackAsJson);
    EXPECT_EQ(msg.raw, payload);
}

TEST_F(Payload, G3TypedMsgpackOrderFilled)
{
    ASSERT_TRUE(typed("OrderEventAny", filledMsgpack(), "MsgPack")) << dec.error();
    EXPECT_EQ(msg.type, "OrderFilled");
    EXPECT_EQ(msg.json, R"({"Filled":{"type":"OrderFilled","last_px":"67010.00","ts_event":1719792009870000000,)"
                        R"("reconciliation":false,"position_id":null,"commission":"0.10051500 USDT"}})");
}

TEST_F(Payload, TypedPayloadThatDoesNotDecodeWithItsEncodingIsRejected)
{
    // MessagePack bytes declared as Json: no fallback for typed headers (P3)
    EXPECT_FALSE(typed("QuoteTick", quoteMsgpack(), "Json"));
    EXPECT_EQ(dec.stage(), RejectStage::Payload);
    EXPECT_NE(dec.error().find("json payload does not decode"), std::string_view::npos) << dec.error();
    // JSON text declared as MsgPack: '{' is fixint 123 followed by trailing bytes
    EXPECT_FALSE(typed("QuoteTick", kQuoteJson, "MsgPack"));
    EXPECT_EQ(dec.stage(), RejectStage::Payload);
    EXPECT_NE(dec.error().find("msgpack payload does not decode"), std::string_view::npos) << dec.error();
    // a lone JSON scalar that is also a MessagePack fixint still decodes only as declared
    ASSERT_TRUE(typed("X", "7", "MsgPack"));
    EXPECT_EQ(msg.kind, PayloadKind::MsgPack);
    EXPECT_EQ(msg.json, "55");
}

// ---------------------------------------------------------------------------- G1 / G2 untyped

TEST_F(Payload, G1TwoFieldJson)
{
    const std::string legacy =
        R"({"type":"QuoteTick","instrument_id":"BTCUSDT.BINANCE","bid_price":"67012.10","ask_price":"67012.20",)"
        R"("bid_size":"1.25000","ask_size":"0.83000","ts_event":"1719792000123456789","ts_init":"1719792000123501003"})";
    ASSERT_TRUE(untyped(legacy, "data.quotes.BINANCE.BTCUSDT")) << dec.error();
    EXPECT_EQ(msg.headerType, "");
    EXPECT_EQ(msg.encoding, Encoding::Json);
    EXPECT_EQ(msg.kind, PayloadKind::Json);
    EXPECT_EQ(msg.type, "QuoteTick");
    EXPECT_EQ(msg.json, legacy);
}

TEST_F(Payload, G1TwoFieldMsgpackIsSniffed)
{
    ASSERT_TRUE(untyped(legacyFilledMsgpack(), "events.order.EMACross-000")) << dec.error();
    EXPECT_EQ(msg.encoding, Encoding::Json) << "resolved header, not the sniffed kind";
    EXPECT_EQ(msg.kind, PayloadKind::MsgPack);
    EXPECT_EQ(msg.type, "OrderFilled");
    EXPECT_EQ(msg.json, R"({"type":"OrderFilled","last_px":"67010.00","info":{},"ts_event":"1719792009870000000"})");
}

TEST_F(Payload, G2MislabelledMsgpackWithJsonHeader)
{
    ASSERT_TRUE(typed("", legacyFilledMsgpack(), "Json", "events.order.EMACross-000")) << dec.error();
    EXPECT_EQ(msg.headerType, "");
    EXPECT_EQ(msg.encoding, Encoding::Json);
    EXPECT_EQ(msg.kind, PayloadKind::MsgPack);
    EXPECT_EQ(msg.type, "OrderFilled");
}

TEST_F(Payload, G2JsonWithEmptyType)
{
    const std::string legacySignal = R"({"type":"SignalMomentum","value":0.75,"ts_event":"1719792070000000000",)"
                                     R"("ts_init":"1719792070000012000"})";
    ASSERT_TRUE(typed("", legacySignal, "Json", "data.SignalMomentum*")) << dec.error();
    EXPECT_EQ(msg.topic, "data.SignalMomentum*");
    EXPECT_EQ(msg.kind, PayloadKind::Json);
    EXPECT_EQ(msg.type, "SignalMomentum");
}

TEST_F(Payload, UntypedPayloadTriesJsonFirst)
{
    // "1" is valid JSON and also MessagePack fixint 49: JSON wins
    ASSERT_TRUE(untyped("1"));
    EXPECT_EQ(msg.kind, PayloadKind::Json);
    EXPECT_EQ(msg.json, "1");
    // a JSON string is JSON, not a msgpack fixstr
    ASSERT_TRUE(untyped(R"("x")"));
    EXPECT_EQ(msg.kind, PayloadKind::Json);
}

TEST_F(Payload, UntypedPayloadThatIsNeitherIsRejected)
{
    EXPECT_FALSE(untyped("{\"a\":"));
    EXPECT_EQ(dec.stage(), RejectStage::Payload);
    EXPECT_NE(dec.error().find("neither JSON"), std::string_view::npos) << dec.error();
}

TEST_F(Payload, UntypedEncodingHeaderIsIgnoredForSniffing)
{
    // an untyped entry with encoding=MsgPack whose payload is JSON still decodes as JSON
    ASSERT_TRUE(typed("", R"({"type":"QuoteTick"})", "MsgPack"));
    EXPECT_EQ(msg.encoding, Encoding::MsgPack);
    EXPECT_EQ(msg.kind, PayloadKind::Json);
}

// ---------------------------------------------------------------------------- heartbeat, opaque

TEST_F(Payload, HeartbeatIsTextAndNeverParsed)
{
    ASSERT_TRUE(typed("", "2024-07-01T00:00:10.123+00:00", "Json", "health:heartbeat")) << dec.error();
    EXPECT_TRUE(msg.heartbeat);
    EXPECT_EQ(msg.kind, PayloadKind::Text);
    EXPECT_EQ(msg.json, "2024-07-01T00:00:10.123+00:00");
    EXPECT_EQ(msg.type, "");
    // G1 heartbeat
    ASSERT_TRUE(untyped("2024-07-01T00:00:10+00:00", "health:heartbeat"));
    EXPECT_EQ(msg.kind, PayloadKind::Text);
    // not JSON, not MessagePack: still delivered as text; JSON-looking text is not parsed
    ASSERT_TRUE(untyped("{not json", "health:heartbeat"));
    EXPECT_EQ(msg.json, "{not json");
    ASSERT_TRUE(untyped(" {\"type\":\"X\"} ", "health:heartbeat"));
    EXPECT_EQ(msg.json, " {\"type\":\"X\"} ");
    EXPECT_EQ(msg.type, "");
    // heartbeat wins over a schema encoding header
    ASSERT_TRUE(typed("", "2024-07-01T00:00:10+00:00", "Capnp", "health:heartbeat"));
    EXPECT_EQ(msg.kind, PayloadKind::Text);
    EXPECT_EQ(msg.encoding, Encoding::Capnp);
    // empty heartbeat text is valid UTF-8
    ASSERT_TRUE(untyped("", "health:heartbeat"));
    EXPECT_EQ(msg.kind, PayloadKind::Text);
}

TEST_F(Payload, HeartbeatMustBeUtf8)
{
    EXPECT_FALSE(untyped("2024-07-01T00:00:10\xff"s, "health:heartbeat"));
    EXPECT_EQ(dec.stage(), RejectStage::Payload);
    EXPECT_NE(dec.error().find("heartbeat"), std::string_view::npos);
    // only the exact topic is a heartbeat
    EXPECT_FALSE(untyped("2024-07-01T00:00:10+00:00", "health:heartbeat2"));
}

TEST_F(Payload, CapnpAndSbeAreOpaque)
{
    const std::string bytes = "\x00\x00\x00\x00\x02\x00\x00\x00\xff\x7b"s;
    ASSERT_TRUE(typed("QuoteTick", bytes, "Capnp", "data.quotes.BINANCE.BTCUSDT")) << dec.error();
    EXPECT_EQ(msg.kind, PayloadKind::Opaque);
    EXPECT_EQ(msg.encoding, Encoding::Capnp);
    EXPECT_TRUE(msg.json.empty());
    EXPECT_EQ(msg.raw, bytes);
    EXPECT_EQ(msg.type, "") << "no routing type for opaque payloads";
    EXPECT_EQ(msg.headerType, "QuoteTick");
    ASSERT_TRUE(typed("TradeTick", "", "sbe"));
    EXPECT_EQ(msg.kind, PayloadKind::Opaque);
    EXPECT_EQ(msg.encoding, Encoding::Sbe);
    // even a valid JSON payload is not parsed under capnp
    ASSERT_TRUE(typed("", R"({"type":"QuoteTick"})", "CAPNP"));
    EXPECT_EQ(msg.kind, PayloadKind::Opaque);
    EXPECT_TRUE(msg.json.empty());
}

TEST_F(Payload, EmptyPayloadIsRejected)
{
    EXPECT_FALSE(untyped(""));
    EXPECT_EQ(dec.stage(), RejectStage::Payload);
    EXPECT_FALSE(typed("QuoteTick", "", "Json"));
    EXPECT_FALSE(typed("QuoteTick", "", "MsgPack"));
    EXPECT_FALSE(typed("QuoteTick", " \n", "Json"));
}

// ---------------------------------------------------------------------------- routing (§9.4)

TEST_F(Payload, RoutingTypeRules)
{
    struct Case {
        std::string_view payload;
        std::string_view header;
        std::string_view expected;
    };
    const Case cases[] = {
        {R"({"type":"QuoteTick","x":1})", "H", "QuoteTick"},
        {R"({"type":"A","type":"B"})", "H", "B"},                      // last duplicate wins
        {R"({"type":"A","type":1})", "H", "H"},                        // last one is not a string
        {R"({"type":1,"type":"B"})", "H", "B"},
        {R"({"ty\u0070e":"Q\u00e9"})", "H", "Q\xc3\xa9"},              // escapes compared unescaped
        {R"({"type":"a\"b"})", "H", "a\"b"},
        {R"({"type":"\u0000x"})", "H", std::string_view("\0x", 2)},
        {R"({"Filled":{"type":"OrderFilled"}})", "H", "OrderFilled"},
        {R"({"PositionOpened":{"side":"LONG"}})", "H", "PositionOpened"},
        {R"({"PositionOpened":{"type":5}})", "H", "PositionOpened"},  // inner type not a string
        {R"({"P\u006fs":{"a":1}})", "H", "Pos"},                       // key returned unescaped
        {R"({"A":{"a":1},"A":{"type":"Z"}})", "H", "Z"},              // one distinct key, last value
        {R"({"A":{"type":"Z"},"A":1})", "H", "H"},                    // ...whose last value is no object
        {R"({"A":{"type":"Z"},"\u0041":{"b":2}})", "H", "A"},
        {R"({"\u0041":{"b":2},"A":{"type":"Z"}})", "H", "Z"},
        {R"({"\u0041":{"b":2},"\u0042":{"type":"Z"}})", "H", "H"},
        {R"({"\u0041":{"b":2},"B":{"type":"Z"}})", "H", "H"},
        {R"({"A":{"a":1},"B":{"b":2}})", "H", "H"},                   // two keys
        {R"({"A":1})", "H", "H"},                                     // one key, not an object
        {R"({"A":{"x":{"type":"deep"}}})", "H", "A"},                 // only the inner object's own type
        {R"({"type":{"type":"Inner"}})", "H", "Inner"},               // top type not a string: one key
        {R"({})", "H", "H"},
        {R"([{"type":"A"}])", "H", "H"},                              // not an object
        {R"("QuoteTick")", "H", "H"},
        {R"({"type":null,"X":{"type":"Y"}})", "", ""},                // untyped entry: none
    };
    for (const auto& c : cases) {
        ASSERT_TRUE(typed(c.header, std::string(c.payload), "Json")) << c.payload << ": " << dec.error();
        EXPECT_EQ(msg.type, c.expected) << c.payload;
    }
}

TEST_F(Payload, JsonViewIsTrimmed)
{
    ASSERT_TRUE(untyped(" \t\r\n{\"type\":\"Q\"} \n"));
    EXPECT_EQ(msg.json, R"({"type":"Q"})");
    EXPECT_EQ(msg.raw, " \t\r\n{\"type\":\"Q\"} \n");
}

TEST_F(Payload, SchemaAndValueProblemsAreNotRejected)
{
    // P7: negative prices, "NaN" strings, unknown types, unexpected fields pass through
    ASSERT_TRUE(typed("MadeUpType", R"({"type":"MadeUpType","price":"-1.50","x":"NaN","unexpected":[1,2]})"));
    EXPECT_EQ(msg.type, "MadeUpType");
}

TEST_F(Payload, ViewsStayValidUntilNextDecode)
{
    ASSERT_TRUE(typed("OrderEventAny", filledMsgpack(), "MsgPack"));
    const std::string json(msg.json);
    const std::string type(msg.type);
    EXPECT_EQ(type, "OrderFilled");
    EXPECT_EQ(json.front(), '{');
    // a second decode reuses the buffers
    ASSERT_TRUE(typed("QuoteTick", quoteMsgpack(), "MsgPack"));
    EXPECT_EQ(msg.json, kQuoteMsgpackAsJson);
}

}  // namespace
}  // namespace nautilus::relay::test

// SPEC §9.2 P5/P8 for MessagePack: transcoding to JSON and the hostile table. Inputs are built
// with msgpack-cxx's packer; expectations are written by hand from the reference's rules.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "DecoderTestUtil.h"
#include "decoder/MsgpackJson.h"

using namespace std::string_literals;

namespace nautilus::relay::test {
namespace {

class Msgpack : public DecoderTest {
protected:
    /// Typed MsgPack entry: strict MessagePack, no JSON fallback.
    bool mpack(const std::string& payload) { return typed("X", payload, "MsgPack"); }
    /// Decodes and returns the JSON text, or "<reject>".
    std::string json(const std::string& payload) { return mpack(payload) ? std::string(msg.json) : "<reject>"; }
};

std::string nestedArrays(std::size_t depth, const std::string& inner)
{
    return std::string(depth, '\x91') + inner;
}

TEST_F(Msgpack, ScalarsTranscode)
{
    EXPECT_EQ(json(mp([](Packer& pk) { pk.pack_nil(); })), "null");
    EXPECT_EQ(json(mp([](Packer& pk) { pk.pack_true(); })), "true");
    EXPECT_EQ(json(mp([](Packer& pk) { pk.pack_false(); })), "false");
    EXPECT_EQ(json(mp([](Packer& pk) { pk.pack_uint8(7); })), "7");
    EXPECT_EQ(json(mp([](Packer& pk) { pk.pack_int8(-33); })), "-33");
    EXPECT_EQ(json("\xd0\x05"s), "5");  // int8 format with a positive value
    EXPECT_EQ(json(mp([](Packer& pk) { packStr(pk, "hello"); })), "\"hello\"");
    EXPECT_EQ(json(mp([](Packer& pk) { pk.pack_array(0); })), "[]");
    EXPECT_EQ(json(mp([](Packer& pk) { pk.pack_map(0); })), "{}");
}

TEST_F(Msgpack, IntegersAreExact)
{
    EXPECT_EQ(json(mp([](Packer& pk) { pk.pack_uint64(std::numeric_limits<std::uint64_t>::max()); })),
              "18446744073709551615");
    EXPECT_EQ(json(mp([](Packer& pk) { pk.pack_int64(std::numeric_limits<std::int64_t>::min()); })),
              "-9223372036854775808");
    EXPECT_EQ(json(mp([](Packer& pk) { pk.pack_uint64(1719792000123456789ULL); })), "1719792000123456789");
    EXPECT_EQ(json("\xcf\x80\x00\x00\x00\x00\x00\x00\x00"s), "9223372036854775808");
}

TEST_F(Msgpack, FloatsUseShortestRoundTripText)
{
    EXPECT_EQ(json(mp([](Packer& pk) { packF64(pk, 1.0); })), "1.0");
    EXPECT_EQ(json(mp([](Packer& pk) { packF64(pk, 67010.0); })), "67010.0");
    EXPECT_EQ(json(mp([](Packer& pk) { packF64(pk, 0.015); })), "0.015");
    EXPECT_EQ(json(mp([](Packer& pk) { packF64(pk, -0.0); })), "-0.0");
    EXPECT_EQ(json(mp([](Packer& pk) { packF64(pk, 1e-7); })), "1e-07");
    EXPECT_EQ(json(mp([](Packer& pk) { packF64(pk, 1e16); })), "1e+16");
    // float32 is widened to double, as the reference (Python float) does
    EXPECT_EQ(json(mp([](Packer& pk) { packF32(pk, 0.1f); })), "0.10000000149011612");
    EXPECT_EQ(json(mp([](Packer& pk) { packF32(pk, 2.0f); })), "2.0");
}

TEST_F(Msgpack, NonFiniteFloatsBecomeNull)
{
    EXPECT_EQ(json(mp([](Packer& pk) { packF64(pk, std::numeric_limits<double>::quiet_NaN()); })), "null");
    EXPECT_EQ(json(mp([](Packer& pk) { packF64(pk, std::numeric_limits<double>::infinity()); })), "null");
    EXPECT_EQ(json(mp([](Packer& pk) { packF64(pk, -std::numeric_limits<double>::infinity()); })), "null");
    EXPECT_EQ(json(mp([](Packer& pk) { packF32(pk, std::numeric_limits<float>::quiet_NaN()); })), "null");
    EXPECT_EQ(json(mp([](Packer& pk) {
                  pk.pack_array(2);
                  packF64(pk, std::numeric_limits<double>::quiet_NaN());
                  packF64(pk, 1.5);
              })),
              "[null,1.5]");
}

TEST_F(Msgpack, StringsAreEscapedAndMustBeUtf8)
{
    EXPECT_EQ(json(mp([](Packer& pk) { packStr(pk, "a\"b\\c\n\x01\x7f\xc3\xa9"); })),
              "\"a\\\"b\\\\c\\n\\u0001\x7f\xc3\xa9\"");
    EXPECT_EQ(json(mp([](Packer& pk) { packStr(pk, "\0"s); })), "\"\\u0000\"");
    EXPECT_EQ(json(mp([](Packer& pk) { packStr(pk, "\xff"); })), "<reject>");
    EXPECT_NE(dec.error().find("UTF-8"), std::string_view::npos) << dec.error();
    EXPECT_EQ(json(mp([](Packer& pk) { packStr(pk, "\xed\xa0\x80"); })), "<reject>");  // surrogate
    EXPECT_EQ(json(mp([](Packer& pk) { packStr(pk, "\xc0\x80"); })), "<reject>");      // overlong
    // invalid UTF-8 in a key is rejected too
    EXPECT_EQ(json(mp([](Packer& pk) {
                  pk.pack_map(1);
                  packStr(pk, "k\xfe");
                  pk.pack_uint8(1);
              })),
              "<reject>");
}

TEST_F(Msgpack, BinAndExt)
{
    EXPECT_EQ(json(mp([](Packer& pk) {
                  pk.pack_bin(3);
                  pk.pack_bin_body("\x00\xff\x10", 3);
              })),
              R"({"b64":"AP8Q"})");
    EXPECT_EQ(json(mp([](Packer& pk) { pk.pack_bin(0); })), R"({"b64":""})");
    // msgpack-python returns ExtType(code, data), a tuple: [code, {"b64": data}]
    EXPECT_EQ(json(mp([](Packer& pk) {
                  pk.pack_ext(1, 5);
                  pk.pack_ext_body("\x01", 1);
              })),
              R"([5,{"b64":"AQ=="}])");
    // ext -1 is a Timestamp, which has no JSON form; other negative codes are invalid there
    EXPECT_EQ(json(mp([](Packer& pk) {
                  pk.pack_ext(4, -1);
                  pk.pack_ext_body("\x00\x00\x00\x01", 4);
              })),
              "<reject>");
    EXPECT_EQ(json(mp([](Packer& pk) {
                  pk.pack_ext(1, -5);
                  pk.pack_ext_body("\x01", 1);
              })),
              "<reject>");
}

TEST_F(Msgpack, ExactlyOneValueConsumingTheBuffer)
{
    EXPECT_EQ(json(mp([](Packer& pk) { pk.pack_uint8(1); }) + "\x00"s), "<reject>");
    EXPECT_NE(dec.error().find("trailing"), std::string_view::npos) << dec.error();
    EXPECT_EQ(json(mp([](Packer& pk) {
                  pk.pack_map(1);
                  packStr(pk, "a");
                  pk.pack_uint8(1);
              }) + mp([](Packer& pk) { pk.pack_map(0); })),
              "<reject>");
    // truncated
    const std::string full = mp([](Packer& pk) {
        pk.pack_map(1);
        packStr(pk, "key");
        packStr(pk, "value");
    });
    for (std::size_t n = 1; n < full.size(); ++n) {
        EXPECT_EQ(json(full.substr(0, n)), "<reject>") << n;
    }
    EXPECT_EQ(json("\xc1"s), "<reject>");                  // never-used byte
    EXPECT_EQ(json("\xdd\xff\xff\xff\xff"s), "<reject>");  // array32 with 4G elements, no data
    EXPECT_EQ(json("\xc6\xff\xff\xff\xff"s), "<reject>");  // bin32 longer than the buffer
    EXPECT_EQ(json("\xc9\xff\xff\xff\xff\x05"s), "<reject>");  // ext32 size overflow (msgpack-cxx throws)
    EXPECT_EQ(json(""), "<reject>");
}

TEST_F(Msgpack, MapKeysBecomePythonStrings)
{
    EXPECT_EQ(json(mp([](Packer& pk) {
                  pk.pack_map(7);
                  pk.pack_uint8(1);
                  pk.pack_uint8(10);
                  pk.pack_int8(-2);
                  pk.pack_uint8(11);
                  pk.pack_false();  // (True would merge with the key 1)
                  pk.pack_uint8(12);
                  pk.pack_nil();
                  pk.pack_uint8(13);
                  packF64(pk, 1.5);
                  pk.pack_uint8(14);
                  packF64(pk, 1e16);
                  pk.pack_uint8(15);
                  packF64(pk, 1e-5);
                  pk.pack_uint8(16);
              })),
              R"({"1":10,"-2":11,"False":12,"None":13,"1.5":14,"1e+16":15,"1e-05":16})");
    EXPECT_EQ(json(mp([](Packer& pk) {
                  pk.pack_map(2);
                  packF64(pk, 0.0001);
                  pk.pack_uint8(1);
                  packF64(pk, 123456789.0);
                  pk.pack_uint8(2);
              })),
              R"({"0.0001":1,"123456789.0":2})");
    // bin keys print as Python bytes
    EXPECT_EQ(json(mp([](Packer& pk) {
                  pk.pack_map(1);
                  pk.pack_bin(3);
                  pk.pack_bin_body("a'\x01", 3);
                  pk.pack_uint8(1);
              })),
              R"({"b\"a'\\x01\"":1})");
}

TEST_F(Msgpack, UnhashableKeysAreRejected)
{
    EXPECT_EQ(json(mp([](Packer& pk) {
                  pk.pack_map(1);
                  pk.pack_array(1);
                  pk.pack_uint8(1);
                  pk.pack_uint8(2);
              })),
              "<reject>");
    EXPECT_EQ(json(mp([](Packer& pk) {
                  pk.pack_map(1);
                  pk.pack_map(0);
                  pk.pack_uint8(2);
              })),
              "<reject>");
}

TEST_F(Msgpack, KeysMergeLikeAPythonDict)
{
    // 1 == True == 1.0: one key, printed as the first, holding the last value
    EXPECT_EQ(json(mp([](Packer& pk) {
                  pk.pack_map(3);
                  pk.pack_uint8(1);
                  packStr(pk, "a");
                  pk.pack_true();
                  packStr(pk, "b");
                  packF64(pk, 1.0);
                  packStr(pk, "c");
              })),
              R"({"1":"c"})");
    // {"1": A, 1: B, "1": C}: the dict is {"1": C, 1: B}, which prints as {"1": B}
    EXPECT_EQ(json(mp([](Packer& pk) {
                  pk.pack_map(3);
                  packStr(pk, "1");
                  packStr(pk, "A");
                  pk.pack_uint8(1);
                  packStr(pk, "B");
                  packStr(pk, "1");
                  packStr(pk, "C");
              })),
              R"({"1":"C","1":"B"})");
    // plain string duplicates stay as they are: JSON readers keep the last one too
    EXPECT_EQ(json(mp([](Packer& pk) {
                  pk.pack_map(2);
                  packStr(pk, "a");
                  pk.pack_uint8(1);
                  packStr(pk, "a");
                  pk.pack_uint8(2);
              })),
              R"({"a":1,"a":2})");
}

TEST_F(Msgpack, RoutingType)
{
    // untagged struct -> header
    ASSERT_TRUE(typed("OrderBookDeltas", mp([](Packer& pk) {
                          pk.pack_map(1);
                          packStr(pk, "instrument_id");
                          packStr(pk, "ESZ24.XCME");
                      }),
                      "MsgPack"));
    EXPECT_EQ(msg.type, "OrderBookDeltas");
    // wrapped without inner type -> key
    ASSERT_TRUE(typed("PositionEvent", mp([](Packer& pk) {
                          pk.pack_map(1);
                          packStr(pk, "PositionOpened");
                          pk.pack_map(1);
                          packStr(pk, "side");
                          packStr(pk, "LONG");
                      }),
                      "MsgPack"));
    EXPECT_EQ(msg.type, "PositionOpened");
    // the last "type" wins; a non-str one falls through
    ASSERT_TRUE(typed("H", mp([](Packer& pk) {
                          pk.pack_map(2);
                          packStr(pk, "type");
                          packStr(pk, "A");
                          packStr(pk, "type");
                          pk.pack_uint8(1);
                      }),
                      "MsgPack"));
    EXPECT_EQ(msg.type, "H");
    // an int key prints as "1"; 1 and True merge into one key whose (last) value has a type
    ASSERT_TRUE(typed("H", mp([](Packer& pk) {
                          pk.pack_map(2);
                          pk.pack_uint8(1);
                          pk.pack_map(0);
                          pk.pack_true();
                          pk.pack_map(1);
                          packStr(pk, "type");
                          packStr(pk, "Z");
                      }),
                      "MsgPack"));
    EXPECT_EQ(msg.type, "Z");
    ASSERT_TRUE(typed("H", mp([](Packer& pk) {
                          pk.pack_map(1);
                          pk.pack_uint8(1);
                          pk.pack_map(0);
                      }),
                      "MsgPack"));
    EXPECT_EQ(msg.type, "1");
    // bin is {"b64": ...} in the canonical value: an object without "type"
    ASSERT_TRUE(typed("H", mp([](Packer& pk) {
                          pk.pack_map(1);
                          packStr(pk, "blob");
                          pk.pack_bin(0);
                      }),
                      "MsgPack"));
    EXPECT_EQ(msg.type, "blob");
}

// The reference stops at Python 3.11's recursion limit inside to_canonical_json_value:
// a scalar may sit inside 497 containers, an empty container may open at level 498.
TEST_F(Msgpack, NestingBoundaryMatchesTheReference)
{
    EXPECT_EQ(MsgpackJson::kMaxScalarLevel, 497u);
    EXPECT_TRUE(mpack(nestedArrays(497, "\x01"))) << dec.error();
    EXPECT_FALSE(mpack(nestedArrays(498, "\x01")));
    EXPECT_NE(dec.error().find("too deep"), std::string_view::npos) << dec.error();
    EXPECT_TRUE(mpack(nestedArrays(497, "\x90"))) << dec.error();  // empty array at level 498
    EXPECT_FALSE(mpack(nestedArrays(498, "\x90")));
    EXPECT_TRUE(mpack(nestedArrays(497, "\x80"))) << dec.error();  // empty map at level 498
    EXPECT_FALSE(mpack(nestedArrays(498, "\x80")));
    std::string maps;
    for (int i = 0; i < 497; ++i) {
        maps += "\x81\xa1k";
    }
    EXPECT_TRUE(mpack(maps + "\x01")) << dec.error();
    EXPECT_FALSE(mpack(maps + "\x81\xa1k\x01"));
    // an ext value counts two more levels
    EXPECT_TRUE(mpack(nestedArrays(496, "\xd4\x05\x01"))) << dec.error();
    EXPECT_FALSE(mpack(nestedArrays(497, "\xd4\x05\x01")));
    // msgpack-python's own 1024 limit and beyond: rejected, never recursion
    EXPECT_FALSE(mpack(nestedArrays(1024, "\x01")));
    EXPECT_FALSE(mpack(nestedArrays(1025, "\x01")));
    EXPECT_FALSE(mpack(nestedArrays(200000, "\x01")));
}

TEST_F(Msgpack, DeepOutputIsWellFormed)
{
    ASSERT_TRUE(mpack(nestedArrays(3, "\x01")));
    EXPECT_EQ(msg.json, "[[[1]]]");
    ASSERT_TRUE(mpack("\x92\x81\xa1" "a\x90\x80"s));
    EXPECT_EQ(msg.json, R"([{"a":[]},{}])");
}

}  // namespace
}  // namespace nautilus::relay::test

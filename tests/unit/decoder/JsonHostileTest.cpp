// SPEC §9.2 P5/P6/P8 for JSON: the hostile table. Every row goes through a typed Json entry so
// that nothing can fall back to MessagePack.
#include <string>

#include "DecoderTestUtil.h"
#include "decoder/JsonValidator.h"

using namespace std::string_literals;

namespace nautilus::relay::test {
namespace {

class JsonHostile : public DecoderTest {
protected:
    bool json(const std::string& payload) { return typed("X", payload, "Json"); }
};

std::string nested(int depth, const std::string& open, const std::string& inner, const std::string& close)
{
    std::string s;
    for (int i = 0; i < depth; ++i) {
        s += open;
    }
    s += inner;
    for (int i = 0; i < depth; ++i) {
        s += close;
    }
    return s;
}

TEST_F(JsonHostile, Depth127IsAcceptedAnd128Rejected)
{
    EXPECT_TRUE(json(nested(127, "[", "", "]"))) << dec.error();
    EXPECT_FALSE(json(nested(128, "[", "", "]")));
    EXPECT_NE(dec.error().find("nesting"), std::string_view::npos) << dec.error();
    EXPECT_TRUE(json(nested(127, R"({"a":)", "1", "}"))) << dec.error();
    EXPECT_FALSE(json(nested(128, R"({"a":)", "1", "}")));
    EXPECT_TRUE(json(nested(126, "[", "{}", "]")));
    EXPECT_FALSE(json(nested(127, "[", "{}", "]")));
    // brackets inside strings do not count
    EXPECT_TRUE(json(nested(127, "[", R"("[[[[{{{{")", "]")));
    // never recursion: a very deep input is just rejected
    EXPECT_FALSE(json(std::string(100000, '[')));
}

TEST_F(JsonHostile, SurrogateEscapes)
{
    EXPECT_TRUE(json(R"("\ud83d\ude00")"));  // valid pair
    EXPECT_TRUE(json(R"("\uD83D\uDE00")"));
    EXPECT_FALSE(json(R"("\ud800")"));        // lone high
    EXPECT_FALSE(json(R"("\udc00")"));        // lone low
    EXPECT_FALSE(json(R"("\ude00\ud83d")"));  // reversed pair
    EXPECT_FALSE(json(R"("\ud800\u0041")"));  // high followed by a non-low escape
    EXPECT_FALSE(json(R"("\ud800x")"));       // high followed by text
    EXPECT_FALSE(json(R"("\ud800\ud800\udc00")"));
    EXPECT_FALSE(json(R"({"\ud800":1})"));    // keys too
    EXPECT_FALSE(json(R"("\ud800\\udc00")")); // the second escape is an escaped backslash
    EXPECT_TRUE(json(R"("\ufffd\u0000\uffff")"));
}

TEST_F(JsonHostile, NonStandardTokensAreRejected)
{
    for (const char* p : {"NaN", "Infinity", "-Infinity", "[NaN]", R"({"a":Infinity})", "[-Infinity]", "nan", "inf",
                          "True", "None", "undefined", "'a'", "{a:1}"}) {
        EXPECT_FALSE(json(p)) << p;
        EXPECT_EQ(dec.stage(), RejectStage::Payload);
    }
    // inside strings they are just text (P7)
    EXPECT_TRUE(json(R"({"x":"NaN","y":"Infinity"})"));
}

TEST_F(JsonHostile, ExactlyOneValue)
{
    EXPECT_FALSE(json(R"({"a":1}x)"));
    EXPECT_FALSE(json(R"({"a":1}{})"));
    EXPECT_FALSE(json("1 2"));
    EXPECT_FALSE(json("[1]]"));
    EXPECT_FALSE(json(R"({"a":1)"));
    EXPECT_FALSE(json("[1,]"));
    EXPECT_FALSE(json(R"({"a":1,})"));
    EXPECT_FALSE(json(R"({"a" 1})"));
    EXPECT_FALSE(json("{\"a\":1}\0"s));
    EXPECT_FALSE(json("\x0c{}"));  // form feed is not JSON whitespace
    EXPECT_FALSE(json("{}\x0c"));
    EXPECT_TRUE(json(" \t\r\n{} \t\r\n"));
    EXPECT_FALSE(json(""));
    EXPECT_FALSE(json("   "));
}

TEST_F(JsonHostile, ByteOrderMarkIsRejected)
{
    EXPECT_FALSE(json("\xef\xbb\xbf{}"));
    EXPECT_FALSE(json(" \xef\xbb\xbf{}"));
    EXPECT_TRUE(json("\"\xef\xbb\xbf\""));  // U+FEFF inside a string is fine
}

TEST_F(JsonHostile, InvalidUtf8IsRejected)
{
    const std::string bad[] = {
        "\x80",             // stray continuation
        "\xbf",             //
        "\xc0\x80",         // overlong 2-byte (NUL)
        "\xc1\xbf",         // overlong 2-byte
        "\xe0\x80\x80",     // overlong 3-byte
        "\xe0\x9f\xbf",     // overlong 3-byte (U+07FF)
        "\xf0\x80\x80\x80", // overlong 4-byte
        "\xf0\x8f\xbf\xbf", // overlong 4-byte (U+FFFF)
        "\xed\xa0\x80",     // UTF-8-encoded surrogate U+D800
        "\xed\xbf\xbf",     // U+DFFF
        "\xf4\x90\x80\x80", // U+110000
        "\xf5\x80\x80\x80", // lead byte beyond U+10FFFF
        "\xff",
        "\xfe",
        "\xc2",             // truncated 2-byte
        "\xe2\x82",         // truncated 3-byte
        "\xf0\x9f\x98",     // truncated 4-byte
        "\xc2\x41",         // bad continuation
    };
    for (const auto& b : bad) {
        EXPECT_FALSE(json("\"" + b + "\"")) << testing::PrintToString(b);
        EXPECT_FALSE(json("{\"k" + b + "\":1}")) << testing::PrintToString(b);
        EXPECT_FALSE(json("[1]" + b)) << testing::PrintToString(b);
    }
    const std::string good[] = {"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
                                "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "\xe2\x82\xac"};
    for (const auto& g : good) {
        EXPECT_TRUE(json("\"" + g + "\"")) << testing::PrintToString(g);
        EXPECT_TRUE(json("{\"k" + g + "\":1}")) << testing::PrintToString(g);
    }
}

TEST_F(JsonHostile, StringContents)
{
    EXPECT_FALSE(json("\"a\x01" "b\""));
    EXPECT_FALSE(json("\"a\x1f" "b\""));
    EXPECT_FALSE(json("\"\t\""));        // raw tab
    EXPECT_FALSE(json("\"\n\""));
    EXPECT_TRUE(json("\"a\x7f" "b\""));  // DEL is allowed
    EXPECT_TRUE(json(R"("\/\b\f\n\r\t\"\\")"));
    EXPECT_FALSE(json(R"("\x41")"));
    EXPECT_FALSE(json(R"("\a")"));
    EXPECT_FALSE(json(R"("\u00")"));
    EXPECT_FALSE(json(R"("\u00zz")"));
    EXPECT_FALSE(json(R"("\)"));
    EXPECT_FALSE(json(R"("abc)"));
    EXPECT_TRUE(json(R"("\u0000")"));
}

TEST_F(JsonHostile, NumbersOfAnyMagnitudeAreAccepted)
{
    for (const char* p : {"18446744073709551615", "18446744073709551616", "-9223372036854775809",
                          "340282366920938463463374607431768211456", "[1e400]", "-1e400", "1e-400", "0", "-0",
                          "0.5e-3", "1E+2", "1e-7", "123456789012345678901234567890.5"}) {
        EXPECT_TRUE(json(p)) << p;
    }
    ASSERT_TRUE(json(R"({"ts":18446744073709551615,"big":123456789012345678901234567890})"));
    EXPECT_EQ(msg.json, R"({"ts":18446744073709551615,"big":123456789012345678901234567890})");
}

TEST_F(JsonHostile, IntegerLiteralsFollowThePythonDigitLimit)
{
    // The reference (Python 3.11 json.loads) refuses integer literals longer than 4300 digits.
    EXPECT_TRUE(json(std::string(4300, '7')));
    EXPECT_FALSE(json(std::string(4301, '7')));
    EXPECT_TRUE(json(std::string("-").append(4300, '7')));
    EXPECT_FALSE(json(std::string("-").append(4301, '7')));
    // fractions and exponents are floats there: no limit
    EXPECT_TRUE(json(std::string(5000, '7') + ".5"));
    EXPECT_TRUE(json(std::string(5000, '7') + "e1"));
}

TEST_F(JsonHostile, NumberGrammar)
{
    for (const char* p : {"01", "1.", ".5", "+1", "-", "1e", "1e+", "0x10", "1.e5", "--1", "1_000", "[01]", "-.5"}) {
        EXPECT_FALSE(json(p)) << p;
    }
}

TEST_F(JsonHostile, ValidatorUnescapesForRouting)
{
    std::string out;
    JsonValidator::unescape(R"(a\u00e9\ud83d\ude00\n\"\\\/)", out);
    EXPECT_EQ(out, "a\xc3\xa9\xf0\x9f\x98\x80\n\"\\/");
}

}  // namespace
}  // namespace nautilus::relay::test

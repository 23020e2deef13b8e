#include "http/JsonWriter.h"

#include <limits>

#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

namespace nautilus::relay {
namespace {

std::string quoted(std::string_view s)
{
    std::string out;
    JsonWriter::appendQuoted(out, s);
    return out;
}

TEST(JsonWriterTest, EscapesWhatJsonRequires)
{
    EXPECT_EQ(quoted("plain"), R"("plain")");
    EXPECT_EQ(quoted("a\"b\\c"), R"("a\"b\\c")");
    EXPECT_EQ(quoted("\n\r\t\b\f"), R"("\n\r\t\b\f")");
    EXPECT_EQ(quoted(std::string_view("\x00\x01\x1f", 3)), R"("\u0000\u0001\u001f")");
    EXPECT_EQ(quoted("/<>\x7f"), "\"/<>\x7f\"");
}

TEST(JsonWriterTest, KeepsValidUtf8AndReplacesInvalidBytes)
{
    EXPECT_EQ(quoted("币安人生USDT €"), "\"币安人生USDT €\"");
    EXPECT_EQ(quoted("\xF0\x9F\x9A\x80"), "\"\xF0\x9F\x9A\x80\"");             // 4-byte sequence
    EXPECT_EQ(quoted("a\xFF" "b"), "\"a\xEF\xBF\xBD" "b\"");                   // stray byte
    EXPECT_EQ(quoted("\xC3"), "\"\xEF\xBF\xBD\"");                             // truncated sequence
    EXPECT_EQ(quoted("\xC0\xAF"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");             // overlong
    EXPECT_EQ(quoted("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // surrogate
    EXPECT_EQ(JsonWriter::validUtf8("ok\xFE"), "ok\xEF\xBF\xBD");
}

TEST(JsonWriterTest, WritesNestedContainersWithCommas)
{
    std::string out;
    JsonWriter w(out);
    w.beginObject();
    w.field("a", 1);
    w.key("b").beginArray().value(true).value(false).null().value("x").endArray();
    w.key("c").beginObject().endObject();
    w.key("d").beginArray().beginObject().field("e", std::uint64_t{18446744073709551615u}).endObject().beginObject().endObject().endArray();
    w.field("f", std::int64_t{-5});
    w.endObject();
    EXPECT_EQ(out, R"({"a":1,"b":[true,false,null,"x"],"c":{},"d":[{"e":18446744073709551615},{}],"f":-5})");
}

TEST(JsonWriterTest, NumbersTimestampsAndNulls)
{
    std::string out;
    JsonWriter w(out);
    w.beginArray();
    w.value(12.5).value(std::numeric_limits<double>::quiet_NaN()).value(std::numeric_limits<double>::infinity());
    w.timestamp(0).timestamp(1'732'700'000'123'000'000).stringOrNull("").stringOrNull("x");
    w.endArray();
    EXPECT_EQ(out, R"([12.5,null,null,null,"2024-11-27T09:33:20.123Z",null,"x"])");
}

TEST(JsonWriterTest, OutputOfHostileInputStillParses)
{
    std::string hostile;
    for (int c = 0; c < 256; ++c) {
        hostile.push_back(static_cast<char>(c));
    }
    std::string out;
    JsonWriter w(out);
    w.beginObject().field(hostile, hostile).endObject();
    Poco::JSON::Parser parser;
    EXPECT_NO_THROW(parser.parse(out)) << out;
}

}  // namespace
}  // namespace nautilus::relay

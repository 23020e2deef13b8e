#include <gtest/gtest.h>

#include <string>

#include "plugin/JsonText.h"

using nautilus::relay::isJsonText;

TEST(JsonTextTest, AcceptsExactlyOneJsonValue)
{
    for (const char* ok : {"{}", "[]", " {\"a\": [1, -2.5e+3, true, false, null, \"x\\u00e9\\n\"]} ", "0", "\"\"",
                           "-0.1", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", "{\"a\":{\"b\":{}}}"}) {
        EXPECT_TRUE(isJsonText(ok)) << ok;
    }
}

TEST(JsonTextTest, RejectsEverythingElse)
{
    for (const char* bad : {"", " ", "{", "}", "{} {}", "[1,]", "{\"a\"}", "{\"a\":1,}", "01", "1.", ".5", "+1",
                            "NaN", "tru", "\"unterminated", "\"\\x\"", "\"\\u12g4\"", "'single'", "{a:1}",
                            "\"tab\there\"", "\"\xc3\"", "\"\xed\xa0\x80\"", "\"\xc0\xaf\"", "[1]x"}) {
        EXPECT_FALSE(isJsonText(bad)) << bad;
    }
}

TEST(JsonTextTest, LimitsNestingDepth)
{
    EXPECT_TRUE(isJsonText(std::string(128, '[') + std::string(128, ']')));
    EXPECT_FALSE(isJsonText(std::string(129, '[') + std::string(129, ']')));
    EXPECT_FALSE(isJsonText(std::string(100000, '[')));
}

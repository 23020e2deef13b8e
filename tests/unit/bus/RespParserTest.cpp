#include "bus/RespParser.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace nautilus::relay {
namespace {

std::string bulk(std::string_view s)
{
    return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

// An XREAD-shaped reply with the awkward parts: binary payload with CR/LF and NUL, a null
// bulk, a nested error, an integer, an empty array and a null array.
std::string sampleReply()
{
    std::string binary("\x00\r\n\xff\x93\xa5\r\r\n\n$*-+:", 15);
    std::string r = "*2\r\n";
    r += "*2\r\n" + bulk("trader-TRADER-001:stream") + "*2\r\n";
    r += "*2\r\n" + bulk("1719792000000-0") + "*8\r\n" + bulk("topic") + bulk("data.quotes.BINANCE.BTCUSDT") +
         bulk("type") + bulk("QuoteTick") + bulk("payload") + bulk(binary) + bulk("encoding") + bulk("MsgPack");
    r += "*2\r\n" + bulk("1719792000000-1") + "*4\r\n" + bulk("topic") + "$-1\r\n" + bulk("payload") + bulk("");
    r += "*5\r\n-ERR something bad\r\n:-42\r\n*0\r\n*-1\r\n+OK\r\n";
    return r;
}

TEST(RespParserTest, ScansSimpleValues)
{
    for (const std::string s : {"+OK\r\n", "-ERR no such key\r\n", ":0\r\n", ":-9223372036854775807\r\n", "$0\r\n\r\n",
                                "$-1\r\n", "*-1\r\n", "*0\r\n", "$5\r\nhello\r\n"}) {
        RespScanner scanner;
        EXPECT_EQ(scanner.scan(s), s.size()) << s;
    }
}

TEST(RespParserTest, ReadsSimpleValues)
{
    const std::string s = "*7\r\n+OK\r\n-ERR x y\r\n:123\r\n$3\r\na\r\n\r\n$-1\r\n*-1\r\n*1\r\n:-7\r\n";
    RespScanner scanner;
    ASSERT_EQ(scanner.scan(s), s.size());
    RespReader r(s);
    const RespValue top = r.next();
    ASSERT_TRUE(top.isArray());
    EXPECT_EQ(top.size(), 7u);
    RespValue v = r.next();
    EXPECT_EQ(v.type, RespType::SimpleString);
    EXPECT_EQ(v.str, "OK");
    v = r.next();
    EXPECT_TRUE(v.isError());
    EXPECT_EQ(v.str, "ERR x y");
    v = r.next();
    EXPECT_EQ(v.type, RespType::Integer);
    EXPECT_EQ(v.integer, 123);
    v = r.next();
    EXPECT_EQ(v.type, RespType::BulkString);
    EXPECT_EQ(v.str, std::string_view("a\r\n"));
    EXPECT_TRUE(r.next().isNull());
    EXPECT_TRUE(r.next().isNull());
    v = r.next();
    ASSERT_TRUE(v.isArray());
    EXPECT_EQ(r.next().integer, -7);
    EXPECT_TRUE(r.atEnd());
}

TEST(RespParserTest, CompleteOnlyAtTheLastByteForEveryPrefix)
{
    const std::string s = sampleReply();
    for (std::size_t k = 0; k < s.size(); ++k) {
        RespScanner fresh;
        EXPECT_EQ(fresh.scan(std::string_view(s.data(), k)), 0u) << "prefix " << k;
    }
    RespScanner fresh;
    EXPECT_EQ(fresh.scan(s), s.size());
}

TEST(RespParserTest, ResumesAcrossEveryByteBoundary)
{
    const std::string s = sampleReply();
    // One scanner fed one more byte at a time: it must resume, never misread.
    RespScanner scanner;
    for (std::size_t k = 1; k < s.size(); ++k) {
        ASSERT_EQ(scanner.scan(std::string_view(s.data(), k)), 0u) << "prefix " << k;
    }
    EXPECT_EQ(scanner.scan(s), s.size());
    // And split in two at every position.
    for (std::size_t cut = 0; cut <= s.size(); ++cut) {
        RespScanner sc;
        const std::size_t first = sc.scan(std::string_view(s.data(), cut));
        if (cut < s.size()) {
            ASSERT_EQ(first, 0u) << cut;
            ASSERT_EQ(sc.scan(s), s.size()) << cut;
        } else {
            ASSERT_EQ(first, s.size());
        }
    }
}

TEST(RespParserTest, ResumesAcrossRandomChunks)
{
    const std::string one = sampleReply();
    std::string s;
    for (int i = 0; i < 20; ++i) {
        s += one;
    }
    std::mt19937 rng(7);
    for (int round = 0; round < 50; ++round) {
        RespScanner scanner;
        std::size_t start = 0;  // start of the current reply
        std::size_t have = 0;
        int replies = 0;
        while (start < s.size()) {
            have = std::min(s.size(), have + 1 + rng() % 97);
            std::size_t n = 0;
            // Several replies may be complete in what was received.
            while ((n = scanner.scan(std::string_view(s.data() + start, have - start))) > 0) {
                EXPECT_EQ(n, one.size());
                start += n;
                ++replies;
                scanner.reset();
                if (start >= have) {
                    break;
                }
            }
        }
        EXPECT_EQ(replies, 20);
    }
}

TEST(RespParserTest, WalksTheReplyWithViewsIntoTheBuffer)
{
    const std::string s = sampleReply();
    RespReader r(s);
    auto inside = [&](std::string_view v) { return v.empty() || (v.data() >= s.data() && v.data() + v.size() <= s.data() + s.size()); };
    ASSERT_EQ(r.next().size(), 2u);
    ASSERT_EQ(r.next().size(), 2u);
    RespValue key = r.next();
    EXPECT_EQ(key.str, "trader-TRADER-001:stream");
    EXPECT_TRUE(inside(key.str));
    ASSERT_EQ(r.next().size(), 2u);
    ASSERT_EQ(r.next().size(), 2u);
    EXPECT_EQ(r.next().str, "1719792000000-0");
    const RespValue fields = r.next();
    ASSERT_EQ(fields.size(), 8u);
    std::vector<std::string_view> f;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        const RespValue v = r.next();
        EXPECT_TRUE(inside(v.str));
        f.push_back(v.str);
    }
    EXPECT_EQ(f[5], std::string_view("\x00\r\n\xff\x93\xa5\r\r\n\n$*-+:", 15));
    EXPECT_EQ(f[7], "MsgPack");
    ASSERT_EQ(r.next().size(), 2u);
    EXPECT_EQ(r.next().str, "1719792000000-1");
    ASSERT_EQ(r.next().size(), 4u);
    EXPECT_EQ(r.next().str, "topic");
    EXPECT_TRUE(r.next().isNull());
    EXPECT_EQ(r.next().str, "payload");
    const RespValue empty = r.next();
    EXPECT_EQ(empty.type, RespType::BulkString);
    EXPECT_TRUE(empty.str.empty());
    const RespValue tail = r.next();
    ASSERT_EQ(tail.size(), 5u);
    EXPECT_TRUE(r.next().isError());
    EXPECT_EQ(r.next().integer, -42);
    EXPECT_EQ(r.next().size(), 0u);
    EXPECT_TRUE(r.next().isNull());
    EXPECT_EQ(r.next().str, "OK");
    EXPECT_TRUE(r.atEnd());
}

TEST(RespParserTest, SkipsNestedArrays)
{
    const std::string s = "*3\r\n*2\r\n*2\r\n:1\r\n:2\r\n$1\r\nx\r\n*0\r\n+after\r\n";
    RespReader r(s);
    const RespValue top = r.next();
    const RespValue first = r.next();
    r.skipChildren(first);
    EXPECT_EQ(r.next().size(), 0u);
    EXPECT_EQ(r.next().str, "after");
    EXPECT_TRUE(r.atEnd());
    RespReader again(s);
    again.skipValue();
    EXPECT_TRUE(again.atEnd());
    (void)top;
}

TEST(RespParserTest, DeeplyNestedArraysNeedNoRecursion)
{
    std::string s;
    for (int i = 0; i < 100000; ++i) {
        s += "*1\r\n";
    }
    s += ":1\r\n";
    RespScanner scanner;
    EXPECT_EQ(scanner.scan(s), s.size());
    RespReader r(s);
    r.skipValue();
    EXPECT_TRUE(r.atEnd());
}

TEST(RespParserTest, StopsAtTheEndOfTheFirstPipelinedReply)
{
    const std::string s = "+OK\r\n:5\r\n*1\r\n$2\r\nab\r\n";
    RespScanner scanner;
    EXPECT_EQ(scanner.scan(s), 5u);
    scanner.reset();
    EXPECT_EQ(scanner.scan(std::string_view(s).substr(5)), 4u);
    scanner.reset();
    EXPECT_EQ(scanner.scan(std::string_view(s).substr(9)), 12u);
}

TEST(RespParserTest, RejectsGarbage)
{
    const std::vector<std::string> bad = {
        "hello\r\n",                     // no type byte
        "$abc\r\n",                      // bad length
        "$-2\r\n",                       // negative length other than -1
        "*-3\r\n",                       //
        "$3\r\nabcXY",                   // bulk not followed by CRLF
        ":12a\r\n",                      // bad integer
        ":\r\n",                         // empty integer
        ":99999999999999999999\r\n",     // overflow
        "+OK\rX",                        // CR without LF
        "*1\r\n%1\r\n",                  // RESP3 map inside an array
        "_\r\n",                         // RESP3 null
        ",1.5\r\n",                      // RESP3 double
        "#t\r\n",                        // RESP3 boolean
        "$123456789012345678\r\n",       // absurd length
    };
    for (const auto& s : bad) {
        RespScanner scanner;
        EXPECT_THROW(scanner.scan(s), RespError) << s;
    }
    RespScanner scanner;
    try {
        scanner.scan("%2\r\n");
        FAIL();
    } catch (const RespError& e) {
        EXPECT_NE(std::string(e.what()).find("0x25"), std::string::npos) << e.what();
    }
}

TEST(RespParserTest, RejectsOverlongHeaderLinesWithoutWaitingForever)
{
    RespScanner scanner;
    std::string s = ":" + std::string(40, '1');  // no CR in sight, longer than any number
    EXPECT_THROW(scanner.scan(s), RespError);
    RespScanner scanner2;
    std::string line = "-" + std::string(RespScanner::kMaxLine + 10, 'e');
    EXPECT_THROW(scanner2.scan(line), RespError);
}

TEST(RespParserTest, BoundsTheReplySize)
{
    RespScanner scanner(100);
    EXPECT_THROW(scanner.scan("$200\r\n"), RespError);
    RespScanner arrays(100);
    std::string s = "*10\r\n";
    for (int i = 0; i < 10; ++i) {
        s += bulk(std::string(20, 'x'));
    }
    EXPECT_THROW(arrays.scan(s), RespError);
    RespScanner count(100);
    EXPECT_THROW(count.scan("*1000\r\n"), RespError);
}

TEST(RespParserTest, ReportsTheMinimumSizeOfAPartialBulk)
{
    RespScanner scanner;
    const std::string s = "*1\r\n$1000\r\nabc";
    EXPECT_EQ(scanner.scan(s), 0u);
    EXPECT_EQ(scanner.minimumSize(), 4u + 7u + 1000u + 2u);  // "*1\r\n" "$1000\r\n" data CRLF
}

TEST(RespParserTest, DescribesRepliesForDiagnostics)
{
    EXPECT_EQ(RespReader::describe("*3\r\n+OK\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n"), "[OK, 1, [a, (nil)]]");
    EXPECT_EQ(RespReader::describe("-ERR x\r\n"), "(error) ERR x");
}

}  // namespace
}  // namespace nautilus::relay

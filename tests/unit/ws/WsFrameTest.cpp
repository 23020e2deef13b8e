// The RFC 6455 frame code on its own: client frames parsed (and refused) byte by byte, server
// frames written, UTF-8 checked. The gateway's integration tests cover the same over sockets.
#include <string>

#include <gtest/gtest.h>

#include "ws/WsFrame.h"

namespace nautilus::relay::ws {
namespace {

/// A client frame: FIN and opcode, masked with key 1 2 3 4 unless unmasked; length encoded in
/// the shortest form unless lengthBytes forces 2 or 8.
std::string clientFrame(unsigned firstByte, const std::string& payload, bool masked = true, int lengthBytes = 0)
{
    std::string f(1, static_cast<char>(firstByte));
    const unsigned char maskBit = masked ? 0x80 : 0x00;
    const std::size_t n = payload.size();
    if (lengthBytes == 0) {
        lengthBytes = n < 126 ? 0 : n < 65536 ? 2 : 8;
    }
    if (lengthBytes == 0) {
        f.push_back(static_cast<char>(maskBit | n));
    } else if (lengthBytes == 2) {
        f.push_back(static_cast<char>(maskBit | 126));
        f.push_back(static_cast<char>(n >> 8));
        f.push_back(static_cast<char>(n & 0xff));
    } else {
        f.push_back(static_cast<char>(maskBit | 127));
        for (int i = 7; i >= 0; --i) {
            f.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xff));
        }
    }
    const char key[4] = {1, 2, 3, 4};
    if (masked) {
        f.append(key, 4);
    }
    for (std::size_t i = 0; i < n; ++i) {
        f.push_back(masked ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i]);
    }
    return f;
}

ParseResult parse(std::string& bytes, ClientFrame& frame, std::size_t maxPayload = 1 << 20)
{
    return parseFrame(bytes.data(), bytes.size(), maxPayload, frame);
}

TEST(WsFrameTest, AMaskedTextFrameIsUnmaskedInPlaceAndConsumedWhole)
{
    std::string bytes = clientFrame(0x81, R"({"op":"ping"})") + "next";
    ClientFrame f;
    const ParseResult r = parse(bytes, f);
    ASSERT_EQ(r.status, ParseResult::Frame) << r.error;
    EXPECT_EQ(f.op, Opcode::Text);
    EXPECT_TRUE(f.fin);
    EXPECT_EQ(f.payload, R"({"op":"ping"})");
    EXPECT_EQ(r.consumed, bytes.size() - 4);
}

TEST(WsFrameTest, SixteenAndSixtyFourBitLengthsAreRead)
{
    const std::string big(70000, 'a');
    for (const auto& [payload, lengthBytes] : {std::pair{std::string(300, 'b'), 2}, std::pair{big, 8}}) {
        std::string bytes = clientFrame(0x82, payload, true, lengthBytes);
        ClientFrame f;
        const ParseResult r = parse(bytes, f);
        ASSERT_EQ(r.status, ParseResult::Frame) << r.error;
        EXPECT_EQ(f.payload, payload);
        EXPECT_EQ(r.consumed, bytes.size());
    }
}

TEST(WsFrameTest, APartialFrameAsksForMore)
{
    const std::string whole = clientFrame(0x81, std::string(300, 'c'));
    for (const std::size_t cut : {std::size_t{1}, std::size_t{3}, std::size_t{7}, whole.size() - 1}) {
        std::string bytes = whole.substr(0, cut);
        ClientFrame f;
        EXPECT_EQ(parse(bytes, f).status, ParseResult::Incomplete) << cut;
    }
}

TEST(WsFrameTest, FramesAClientMayNotSendAreRefusedWithTheirCloseCode)
{
    struct Case {
        std::string bytes;
        std::uint16_t code;
    };
    std::string topBitLength = clientFrame(0x82, "x", true, 8);
    topBitLength[2] = static_cast<char>(0x80);  // most significant bit of the 64-bit length
    const Case cases[] = {
        {clientFrame(0x81, "hi", false), close_code::kProtocolError},           // unmasked
        {clientFrame(0xC1, "hi"), close_code::kProtocolError},                  // RSV1 without an extension
        {clientFrame(0x83, "hi"), close_code::kProtocolError},                  // reserved opcode
        {clientFrame(0x09, "ping"), close_code::kProtocolError},                // fragmented control frame
        {clientFrame(0x89, std::string(126, 'p')), close_code::kProtocolError}, // control frame over 125 bytes
        {topBitLength, close_code::kProtocolError},
        {clientFrame(0x81, std::string(2000, 'd')), close_code::kTooBig},       // over maxPayload (1000)
    };
    for (const Case& c : cases) {
        std::string bytes = c.bytes;
        ClientFrame f;
        const ParseResult r = parse(bytes, f, 1000);
        EXPECT_EQ(r.status, ParseResult::Error) << testing::PrintToString(c.bytes.substr(0, 2));
        EXPECT_EQ(r.closeCode, c.code) << r.error;
        EXPECT_STRNE(r.error, "");
    }
}

TEST(WsFrameTest, ServerFramesUseTheShortestLengthAndAreNotMasked)
{
    EXPECT_EQ(makeFrame(Opcode::Text, "hey"), std::string("\x81\x03hey", 5));
    const std::string mid = makeFrame(Opcode::Text, std::string(200, 'm'));
    EXPECT_EQ(mid.substr(0, 4), std::string("\x81\x7e\x00\xc8", 4));
    const std::string big = makeFrame(Opcode::Binary, std::string(70000, 'b'));
    EXPECT_EQ(big.substr(0, 10), std::string("\x82\x7f\x00\x00\x00\x00\x00\x01\x11\x70", 10));
    EXPECT_EQ(big.size(), 70010u);
}

TEST(WsFrameTest, ACloseReasonIsCutTo123BytesWithoutSplittingACharacter)
{
    const std::string reason = std::string(122, 'r') + "\xc3\xa9" + "tail";  // é across byte 123
    const std::string f = makeCloseFrame(1013, reason);
    ASSERT_GE(f.size(), 4u);
    EXPECT_EQ(static_cast<unsigned char>(f[0]), 0x88u);
    const std::string payload = f.substr(2);
    EXPECT_EQ(payload.substr(0, 2), std::string("\x03\xf5", 2));
    EXPECT_EQ(payload.substr(2), std::string(122, 'r'));
    EXPECT_TRUE(isValidUtf8(payload.substr(2)));
}

TEST(WsFrameTest, Utf8IsCheckedAsTheRfcRequires)
{
    EXPECT_TRUE(isValidUtf8(""));
    EXPECT_TRUE(isValidUtf8("plain ascii"));
    EXPECT_TRUE(isValidUtf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));  // é € 😀
    EXPECT_FALSE(isValidUtf8("\xff"));
    EXPECT_FALSE(isValidUtf8("\xc3"));                 // cut short
    EXPECT_FALSE(isValidUtf8("\xc0\xaf"));             // overlong
    EXPECT_FALSE(isValidUtf8("\xed\xa0\x80"));         // a UTF-16 surrogate
    EXPECT_FALSE(isValidUtf8("\xf4\x90\x80\x80"));     // above U+10FFFF
}

}  // namespace
}  // namespace nautilus::relay::ws

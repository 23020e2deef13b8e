// SPEC §9.1 envelope rules E1–E6 (NT decode_bus_message).
#include <string>

#include "DecoderTestUtil.h"

using namespace std::string_literals;

namespace nautilus::relay::test {
namespace {

class Envelope : public DecoderTest {
protected:
    void expectEnvelopeReject(const char* fragment)
    {
        EXPECT_EQ(dec.stage(), RejectStage::Envelope);
        EXPECT_NE(dec.error().find(fragment), std::string_view::npos) << dec.error();
    }
};

TEST_F(Envelope, FewerThanTwoPairsIsRejected)
{
    EXPECT_FALSE(decode({}));
    expectEnvelopeReject("fewer than 2 field/value pairs");
    // G0 (<= v1.196): payload only, the topic lives in the key
    EXPECT_FALSE(decode({{"payload", R"({"type":"QuoteTick"})"}}));
    expectEnvelopeReject("fewer than 2 field/value pairs");
    EXPECT_FALSE(decode({{"topic", "data.quotes.BINANCE.BTCUSDT"}}));
    expectEnvelopeReject("fewer than 2 field/value pairs");
}

TEST_F(Envelope, MissingTopicOrPayloadIsRejected)
{
    EXPECT_FALSE(decode({{"type", "QuoteTick"}, {"payload", "{}"}}));
    expectEnvelopeReject("missing topic");
    EXPECT_FALSE(decode({{"topic", "a"}, {"type", "QuoteTick"}}));
    expectEnvelopeReject("missing payload");
    // both missing: topic is reported first, as NT does
    EXPECT_FALSE(decode({{"type", "a"}, {"encoding", "json"}}));
    expectEnvelopeReject("missing topic");
}

TEST_F(Envelope, EmptyTopicIsRejected)
{
    EXPECT_FALSE(decode({{"topic", ""}, {"payload", "{}"}}));
    expectEnvelopeReject("empty topic");
}

TEST_F(Envelope, FieldNamesAreMatchedByExactBytes)
{
    EXPECT_FALSE(decode({{"Topic", "a"}, {"payload", "{}"}}));
    expectEnvelopeReject("missing topic");
    EXPECT_FALSE(decode({{"topic ", "a"}, {"payload", "{}"}}));
    expectEnvelopeReject("missing topic");
    // "Type"/"ENCODING" are unknown fields: ignored, so the defaults apply
    ASSERT_TRUE(decode({{"topic", "a"}, {"Type", "QuoteTick"}, {"ENCODING", "capnp"}, {"payload", "{}"}}));
    EXPECT_EQ(msg.headerType, "");
    EXPECT_EQ(msg.encoding, Encoding::Json);
    EXPECT_EQ(msg.kind, PayloadKind::Json);
}

TEST_F(Envelope, UnknownFieldsAreIgnored)
{
    ASSERT_TRUE(decode({{"x-extra", "1"},
                        {"\xff\xfe"s, "\x00\xff"s},
                        {"topic", "data.a"},
                        {"payload", R"({"type":"QuoteTick"})"},
                        {"", ""}}));
    EXPECT_EQ(msg.topic, "data.a");
    EXPECT_EQ(msg.type, "QuoteTick");
}

TEST_F(Envelope, FieldOrderIsIrrelevant)
{
    ASSERT_TRUE(decode({{"encoding", "MsgPack"}, {"payload", "\x81\xa4type\xa1Q"s}, {"type", "T"}, {"topic", "t"}}));
    EXPECT_EQ(msg.topic, "t");
    EXPECT_EQ(msg.headerType, "T");
    EXPECT_EQ(msg.encoding, Encoding::MsgPack);
    EXPECT_EQ(msg.kind, PayloadKind::MsgPack);
    EXPECT_EQ(msg.type, "Q");
}

TEST_F(Envelope, DuplicateFieldLastWins)
{
    ASSERT_TRUE(decode({{"topic", "first"},
                        {"type", "A"},
                        {"payload", "1"},
                        {"encoding", "msgpack"},
                        {"topic", "second"},
                        {"type", "B"},
                        {"payload", "2"},
                        {"encoding", "json"}}));
    EXPECT_EQ(msg.topic, "second");
    EXPECT_EQ(msg.headerType, "B");
    EXPECT_EQ(msg.encoding, Encoding::Json);
    EXPECT_EQ(msg.raw, "2");
    EXPECT_EQ(msg.json, "2");
}

TEST_F(Envelope, AnInvalidValueFailsWhereverItSits)
{
    // a bad first occurrence fails even though a later one is valid (NT's `?` inside the loop)
    EXPECT_FALSE(decode({{"topic", "\xff"s}, {"topic", "ok"}, {"payload", "1"}}));
    expectEnvelopeReject("Error parsing topic");
    EXPECT_FALSE(decode({{"topic", "ok"}, {"encoding", "bogus"}, {"encoding", "json"}, {"payload", "1"}}));
    expectEnvelopeReject("Error parsing encoding");
    // and a bad last occurrence fails too
    EXPECT_FALSE(decode({{"topic", "ok"}, {"type", "A"}, {"type", "\xc0\x80"s}, {"payload", "1"}}));
    expectEnvelopeReject("Error parsing type");
}

TEST_F(Envelope, TopicTypeAndEncodingMustBeUtf8)
{
    EXPECT_FALSE(decode({{"topic", "data.\xff"s}, {"payload", "1"}}));
    expectEnvelopeReject("Error parsing topic: invalid UTF-8");
    EXPECT_FALSE(decode({{"topic", "a"}, {"type", "\xed\xa0\x80"s}, {"payload", "1"}}));  // encoded surrogate
    expectEnvelopeReject("Error parsing type: invalid UTF-8");
    EXPECT_FALSE(decode({{"topic", "a"}, {"encoding", "js\xc3"s}, {"payload", "1"}}));
    expectEnvelopeReject("Error parsing encoding: invalid UTF-8");
    // non-ASCII UTF-8 topics are fine
    ASSERT_TRUE(decode({{"topic", "data.quotes.BINANCE.\xe5\xb8\x81\xe5\xae\x89USDT"}, {"payload", "1"}}));
    EXPECT_EQ(msg.topic, "data.quotes.BINANCE.\xe5\xb8\x81\xe5\xae\x89USDT");
}

TEST_F(Envelope, AbsentTypeAndEncodingDefault)
{
    ASSERT_TRUE(decode({{"topic", "a"}, {"payload", "{}"}}));
    EXPECT_EQ(msg.headerType, "");
    EXPECT_EQ(msg.encoding, Encoding::Json);
}

TEST_F(Envelope, EncodingIsAsciiCaseInsensitive)
{
    const std::pair<const char*, Encoding> valid[] = {
        {"json", Encoding::Json},       {"Json", Encoding::Json},       {"JSON", Encoding::Json},
        {"jSoN", Encoding::Json},       {"msgpack", Encoding::MsgPack}, {"MsgPack", Encoding::MsgPack},
        {"MSGPACK", Encoding::MsgPack}, {"capnp", Encoding::Capnp},     {"Capnp", Encoding::Capnp},
        {"sbe", Encoding::Sbe},         {"SBE", Encoding::Sbe},
    };
    for (const auto& [text, enc] : valid) {
        ASSERT_TRUE(decode({{"topic", "a"}, {"payload", "1"}, {"encoding", text}})) << text << ": " << dec.error();
        EXPECT_EQ(msg.encoding, enc) << text;
    }
}

TEST_F(Envelope, EncodingWithoutExactVariantNameIsRejected)
{
    for (const char* text : {"MessagePack", " json", "json ", "", "application/json", "jso", "msgpack\n", "capn",
                             "\xc5\xbf" "be" /* U+017F folds to 's' in Unicode, not in ASCII */}) {
        EXPECT_FALSE(decode({{"topic", "a"}, {"payload", "1"}, {"encoding", text}})) << text;
        expectEnvelopeReject("Error parsing encoding");
    }
    EXPECT_FALSE(decode({{"topic", "a"}, {"payload", "1"}, {"encoding", "MessagePack"}}));
    EXPECT_NE(dec.error().find("'MessagePack'"), std::string_view::npos) << dec.error();
}

TEST_F(Envelope, NulBytesInTopicArePreserved)
{
    const std::string topic = "data.\0quotes\0"s;
    ASSERT_TRUE(decode({{"topic", topic}, {"payload", "1"}}));
    EXPECT_EQ(msg.topic, topic);
    EXPECT_EQ(msg.topic.size(), 13u);
}

TEST_F(Envelope, PayloadIsAnyBytesAtThisStage)
{
    // the envelope accepts binary payloads; only the payload stage judges them
    EXPECT_FALSE(decode({{"topic", "a"}, {"type", "T"}, {"payload", "\xff\xfe"s}, {"encoding", "json"}}));
    EXPECT_EQ(dec.stage(), RejectStage::Payload);
    ASSERT_TRUE(decode({{"topic", "a"}, {"payload", "\xff\xfe"s}, {"encoding", "sbe"}}));
    EXPECT_EQ(msg.kind, PayloadKind::Opaque);
}

TEST_F(Envelope, DecoderIsReusableAfterRejection)
{
    EXPECT_FALSE(decode({{"topic", ""}, {"payload", "1"}}));
    EXPECT_EQ(dec.stage(), RejectStage::Envelope);
    ASSERT_TRUE(decode({{"topic", "a"}, {"payload", "1"}}));
    EXPECT_EQ(dec.stage(), RejectStage::None);
    EXPECT_TRUE(dec.error().empty());
}

}  // namespace
}  // namespace nautilus::relay::test

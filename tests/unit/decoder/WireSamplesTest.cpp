// Replays tests/fixtures/wire/samples.jsonl (realistic G1/G2/G3 entries from SPEC §8, in the
// nautilus-wire line format) through the decoder and checks each line's "expect" object.
#include <fstream>
#include <string>
#include <vector>

#include "DecoderTestUtil.h"

namespace nautilus::relay::test {
namespace {

struct Sample {
    int line = 0;
    std::string note;
    Fields fields;
    JValue expect;
};

std::vector<Sample> loadSamples()
{
    std::vector<Sample> out;
    std::ifstream in(std::string(NR_TEST_FIXTURES_DIR) + "/wire/samples.jsonl");
    std::string text;
    int line = 0;
    while (std::getline(in, text)) {
        ++line;
        if (text.empty()) {
            continue;
        }
        JValue v;
        if (!JReader::parse(text, v)) {
            ADD_FAILURE() << "samples.jsonl:" << line << " is not JSON";
            continue;
        }
        Sample s;
        s.line = line;
        if (const JValue* note = v.get("note")) {
            s.note = note->s;
        }
        if (const JValue* fields = v.get("fields")) {
            for (const JValue& pair : fields->a) {
                if (pair.a.size() == 2) {
                    s.fields.emplace_back(fixtureBytes(pair.a[0]), fixtureBytes(pair.a[1]));
                }
            }
        }
        if (const JValue* e = v.get("expect")) {
            s.expect = *e;
        }
        out.push_back(std::move(s));
    }
    return out;
}

std::string str(const JValue& obj, std::string_view key)
{
    const JValue* v = obj.get(key);
    return v ? v->s : std::string();
}

class WireSamples : public DecoderTest {};

TEST_F(WireSamples, EveryLineDecodesAsExpected)
{
    const std::vector<Sample> samples = loadSamples();
    ASSERT_GE(samples.size(), 25u) << "fixture file missing or truncated";
    int delivered = 0;
    int rejected = 0;
    for (const Sample& s : samples) {
        SCOPED_TRACE("samples.jsonl:" + std::to_string(s.line) + " " + s.note);
        const bool ok = decode(s.fields);
        const std::string result = str(s.expect, "result");
        if (result == "reject") {
            ++rejected;
            EXPECT_FALSE(ok);
            EXPECT_EQ(dec.stage() == RejectStage::Envelope ? "envelope" : "payload", str(s.expect, "stage"))
                << dec.error();
            continue;
        }
        ++delivered;
        ASSERT_EQ(result, "deliver");
        ASSERT_TRUE(ok) << dec.error();
        EXPECT_EQ(msg.topic, str(s.expect, "topic"));
        EXPECT_EQ(msg.headerType, str(s.expect, "header_type"));
        EXPECT_EQ(msg.type, str(s.expect, "type"));
        EXPECT_EQ(toString(msg.encoding), str(s.expect, "encoding"));
        EXPECT_EQ(toString(msg.kind), str(s.expect, "kind"));
        const JValue* hb = s.expect.get("heartbeat");
        EXPECT_EQ(msg.heartbeat, hb != nullptr && hb->b);
        if (const JValue* json = s.expect.get("json")) {
            EXPECT_EQ(msg.json, json->s);
        }
        if (msg.kind == PayloadKind::Opaque) {
            EXPECT_TRUE(msg.json.empty());
        }
        EXPECT_EQ(msg.raw, payloadField());
    }
    EXPECT_GT(delivered, 20);
    EXPECT_GT(rejected, 3);
}

}  // namespace
}  // namespace nautilus::relay::test

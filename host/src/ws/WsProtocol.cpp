#include "ws/WsProtocol.h"

#include <sstream>

#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include "http/JsonWriter.h"
#include "ws/WsFrame.h"

namespace nautilus::relay::ws {

namespace {

constexpr std::size_t kMaxTopicBytes = 512;
constexpr std::size_t kMaxListItems = 1024;

// Builds frames in place: the JSON goes after kMaxHeaderBytes of room, and the header is
// written right in front of it once the length is known.
FramePtr finish(std::shared_ptr<OutFrame> f, Opcode op, std::size_t jsonEnd)
{
    const std::size_t jsonLength = jsonEnd - kMaxHeaderBytes;
    char header[kMaxHeaderBytes];
    const std::size_t h = writeHeader(header, op, jsonLength);
    f->wireOffset = static_cast<std::uint32_t>(kMaxHeaderBytes - h);
    f->buf.replace(f->wireOffset, h, header, h);
    f->wireLength = static_cast<std::uint32_t>(h + jsonLength);
    f->jsonOffset = static_cast<std::uint32_t>(kMaxHeaderBytes);
    return f;
}

void appendBase64(std::string& out, std::string_view bytes)
{
    std::ostringstream s;
    Poco::Base64Encoder enc(s);
    enc.rdbuf()->setLineLength(0);
    enc.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    enc.close();
    out.push_back('"');
    out.append(s.str());
    out.push_back('"');
}

}  // namespace

bool isMarketDataTopic(std::string_view topic)
{
    return topic.starts_with("data.");
}

FramePtr messageFrame(const Message& msg, bool conflatable)
{
    auto f = std::make_shared<OutFrame>();
    std::string& b = f->buf;
    b.reserve(kMaxHeaderBytes + 96 + msg.stream.size() * 2 + msg.id.size() + msg.topic.size() * 2 + msg.type.size() * 2 +
              msg.json.size());
    b.assign(kMaxHeaderBytes, '\0');
    b.append(R"({"op":"message","stream":)");
    JsonWriter::appendQuoted(b, msg.stream);
    b.append(R"(,"id":)");
    JsonWriter::appendQuoted(b, msg.id);
    b.append(R"(,"topic":)");
    JsonWriter::appendQuoted(b, msg.topic);
    b.append(R"(,"type":)");
    JsonWriter::appendQuoted(b, msg.type);
    if (!msg.headerType.empty() && msg.headerType != msg.type) {
        b.append(R"(,"header_type":)");
        JsonWriter::appendQuoted(b, msg.headerType);
    }
    switch (msg.kind) {
    case PayloadKind::Json:
    case PayloadKind::MsgPack:
        b.append(R"(,"payload":)");
        b.append(msg.json);  // one JSON value, validated (or produced) by the decoder
        break;
    case PayloadKind::Text:
        b.append(R"(,"payload":)");
        JsonWriter::appendQuoted(b, msg.json);
        break;
    case PayloadKind::Opaque:
        b.append(R"(,"payload":null,"payload_b64":)");
        appendBase64(b, msg.raw);
        break;
    }
    b.push_back('}');
    const std::size_t jsonEnd = b.size();
    f->streamOffset = static_cast<std::uint32_t>(b.size());
    f->streamLength = static_cast<std::uint32_t>(msg.stream.size());
    b.append(msg.stream);
    f->topicOffset = static_cast<std::uint32_t>(b.size());
    f->topicLength = static_cast<std::uint32_t>(msg.topic.size());
    b.append(msg.topic);
    f->typeOffset = static_cast<std::uint32_t>(b.size());
    f->typeLength = static_cast<std::uint32_t>(msg.type.size());
    b.append(msg.type);
    f->id = msg.streamId;
    f->isMessage = true;
    f->conflatable = conflatable;
    return finish(std::move(f), Opcode::Text, jsonEnd);
}

FramePtr withConflated(const OutFrame& frame, std::uint64_t n)
{
    auto f = std::make_shared<OutFrame>();
    std::string_view json = frame.json();  // starts with {"op":"message", or {"conflated":k,
    if (frame.conflatedTold > 0) {
        // Already told k (its write did not start): tell k + n instead of a second member.
        n += frame.conflatedTold;
        json.remove_prefix(std::string_view(R"({"conflated":)").size() + std::to_string(frame.conflatedTold).size());
    }
    std::string& b = f->buf;
    b.reserve(kMaxHeaderBytes + json.size() + 32 + frame.streamLength + frame.topicLength + frame.typeLength);
    b.assign(kMaxHeaderBytes, '\0');
    b.append(R"({"conflated":)");
    b.append(std::to_string(n));
    b.push_back(',');
    b.append(json.substr(1));  // after "{" (or after the old count: its ",")
    const std::size_t jsonEnd = b.size();
    f->streamOffset = static_cast<std::uint32_t>(b.size());
    f->streamLength = frame.streamLength;
    b.append(frame.stream());
    f->topicOffset = static_cast<std::uint32_t>(b.size());
    f->topicLength = frame.topicLength;
    b.append(frame.topic());
    f->typeOffset = static_cast<std::uint32_t>(b.size());
    f->typeLength = frame.typeLength;
    b.append(frame.type());
    f->id = frame.id;
    f->isMessage = true;
    f->conflatable = frame.conflatable;
    f->conflatedTold = n;
    return finish(std::move(f), Opcode::Text, jsonEnd);
}

FramePtr textFrame(std::string_view json)
{
    auto f = std::make_shared<OutFrame>();
    f->buf.reserve(kMaxHeaderBytes + json.size());
    f->buf.assign(kMaxHeaderBytes, '\0');
    f->buf.append(json);
    const std::size_t jsonEnd = f->buf.size();  // not in the call: f is moved into it
    return finish(std::move(f), Opcode::Text, jsonEnd);
}

namespace {
FramePtr rawFrame(std::string wire, bool isClose = false)
{
    auto f = std::make_shared<OutFrame>();
    f->buf = std::move(wire);
    f->wireOffset = 0;
    f->wireLength = static_cast<std::uint32_t>(f->buf.size());
    f->jsonOffset = static_cast<std::uint32_t>(f->buf.size());
    f->isClose = isClose;
    return f;
}
}  // namespace

FramePtr pingFrame()
{
    return rawFrame(makeFrame(Opcode::Ping, {}));
}

FramePtr pongFrame(std::string_view payload)
{
    return rawFrame(makeFrame(Opcode::Pong, payload));
}

FramePtr closeFrame(std::uint16_t code, std::string_view reason)
{
    return rawFrame(makeCloseFrame(code, reason), true);
}

std::string errorJson(std::string_view code, std::string_view message)
{
    std::string out;
    JsonWriter w(out);
    w.beginObject().field("op", "error").field("code", code).field("message", message).endObject();
    return out;
}

std::string withId(std::string json, std::string_view idJson)
{
    if (!idJson.empty() && !json.empty() && json.back() == '}') {
        json.insert(json.size() - 1, std::string(R"(,"id":)").append(idJson));
    }
    return json;
}

namespace {

bool stringList(const Poco::JSON::Object& o, const std::string& name, bool required, std::vector<std::string>& out,
                std::string& message)
{
    if (!o.has(name) || o.isNull(name)) {
        if (required) {
            message = "\"" + name + "\" is required: an array of strings";
        }
        return !required;
    }
    const Poco::JSON::Array::Ptr a = o.getArray(name);
    if (!a) {
        message = "\"" + name + "\" must be an array of strings";
        return false;
    }
    if (a->size() > kMaxListItems) {
        message = "\"" + name + "\" has more than " + std::to_string(kMaxListItems) + " items";
        return false;
    }
    for (std::size_t i = 0; i < a->size(); ++i) {
        const Poco::Dynamic::Var v = a->get(static_cast<unsigned>(i));
        if (!v.isString()) {
            message = "\"" + name + "\" must be an array of strings";
            return false;
        }
        std::string s = v.extract<std::string>();
        if (s.empty() || s.size() > kMaxTopicBytes) {
            message = "\"" + name + "\" items must be 1 to " + std::to_string(kMaxTopicBytes) + " bytes";
            return false;
        }
        out.push_back(std::move(s));
    }
    if (required && out.empty()) {
        message = "\"" + name + "\" must not be empty";
        return false;
    }
    return true;
}

bool parseId(const Poco::Dynamic::Var& v, StreamId& out)
{
    if (!v.isString()) {
        return false;
    }
    const auto id = StreamId::parse(v.extract<std::string>());
    if (!id) {
        return false;
    }
    out = *id;
    return true;
}

}  // namespace

bool parseRequest(std::string_view text, ClientRequest& out, std::string& code, std::string& message)
{
    code = "bad_request";
    Poco::JSON::Object::Ptr o;
    try {
        Poco::JSON::Parser parser;
        const Poco::Dynamic::Var v = parser.parse(std::string(text));
        o = v.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception& e) {
        message = "not a JSON object: " + e.displayText();
        return false;
    } catch (const std::exception&) {
        message = "not a JSON object";
        return false;
    }
    if (!o) {
        message = "not a JSON object";
        return false;
    }
    if (o->has("id") && !o->isNull("id")) {
        const Poco::Dynamic::Var id = o->get("id");
        if (id.isString()) {
            JsonWriter::appendQuoted(out.idJson, id.extract<std::string>());
        } else if (id.isInteger()) {
            out.idJson = id.convert<std::string>();
        }
    }
    if (!o->has("op") || !o->get("op").isString()) {
        message = "\"op\" is required: subscribe, unsubscribe or ping";
        return false;
    }
    const std::string op = o->getValue<std::string>("op");
    if (op == "ping") {
        out.op = ClientRequest::Op::Ping;
        return true;
    }
    if (op == "unsubscribe") {
        out.op = ClientRequest::Op::Unsubscribe;
        return stringList(*o, "topics", true, out.topics, message);
    }
    if (op != "subscribe") {
        code = "unknown_op";
        message = "unknown op \"" + op + "\" (expected subscribe, unsubscribe or ping)";
        return false;
    }
    out.op = ClientRequest::Op::Subscribe;
    if (!stringList(*o, "topics", true, out.topics, message) || !stringList(*o, "types", false, out.types, message)) {
        return false;
    }
    if (o->has("from") && !o->isNull("from")) {
        out.hasFrom = true;
        const Poco::Dynamic::Var from = o->get("from");
        StreamId id;
        if (from.isString()) {
            if (!parseId(from, id)) {
                message = "\"from\" must be a stream id like \"1732700000000-0\"";
                return false;
            }
            out.fromAll = id;
        } else if (from.type() == typeid(Poco::JSON::Object::Ptr)) {
            const auto m = from.extract<Poco::JSON::Object::Ptr>();
            if (m->size() > kMaxListItems) {
                message = "\"from\" has too many streams";
                return false;
            }
            for (const auto& [key, value] : *m) {
                if (!parseId(value, id)) {
                    message = "\"from\"[\"" + key + "\"] must be a stream id like \"1732700000000-0\"";
                    return false;
                }
                if (key == "*") {
                    out.fromAll = id;
                } else {
                    out.fromByStream[key] = id;
                }
            }
        } else {
            message = "\"from\" must be a stream id or an object of stream key -> id";
            return false;
        }
    }
    return true;
}

}  // namespace nautilus::relay::ws

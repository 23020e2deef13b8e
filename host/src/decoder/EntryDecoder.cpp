#include "decoder/EntryDecoder.h"

#include "decoder/Utf8.h"

namespace nautilus::relay {

namespace {

/// ASCII-case-insensitive equality with a lowercase ASCII literal (bytes.lower() semantics:
/// only A-Z fold; any other byte must match exactly).
bool equalsFolded(std::string_view text, std::string_view lower)
{
    if (text.size() != lower.size()) {
        return false;
    }
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
        if (c != lower[i]) {
            return false;
        }
    }
    return true;
}

bool parseEncoding(std::string_view text, Encoding& enc)
{
    if (equalsFolded(text, "json")) {
        enc = Encoding::Json;
    } else if (equalsFolded(text, "msgpack")) {
        enc = Encoding::MsgPack;
    } else if (equalsFolded(text, "capnp")) {
        enc = Encoding::Capnp;
    } else if (equalsFolded(text, "sbe")) {
        enc = Encoding::Sbe;
    } else {
        return false;
    }
    return true;
}

}  // namespace

bool EntryDecoder::reject(RejectStage stage, std::string_view reason)
{
    _stage = stage;
    _error.assign(reason);
    return false;
}

bool EntryDecoder::rejectEncoding(std::string_view text)
{
    static constexpr char hex[] = "0123456789abcdef";
    static constexpr std::size_t kShown = 64;
    _stage = RejectStage::Envelope;
    _error.assign("Error parsing encoding: '");
    for (std::size_t i = 0; i < text.size() && i < kShown; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x20 || c == 0x7F || c == '\'' || c == '\\') {
            _error += "\\x";
            _error += hex[c >> 4];
            _error += hex[c & 0xF];
        } else {
            _error += static_cast<char>(c);
        }
    }
    if (text.size() > kShown) {
        _error += "...";
    }
    _error += '\'';
    return false;
}

bool EntryDecoder::decodeJson(std::string_view payload, std::string_view headerType, Message& out)
{
    if (!_jsonValidator.validate(payload)) {
        return false;
    }
    out.kind = PayloadKind::Json;
    out.json = _jsonValidator.value();
    std::string_view type;
    out.type = _jsonValidator.routingType(_typeBuf, type) ? type : headerType;
    return true;
}

bool EntryDecoder::decodeMsgpack(std::string_view payload, std::string_view headerType, Message& out)
{
    if (!_msgpack.transcode(payload, _json)) {
        return false;
    }
    out.kind = PayloadKind::MsgPack;
    out.json = _json;
    std::string_view type;
    out.type = _msgpack.routingType(type) ? type : headerType;
    return true;
}

bool EntryDecoder::decode(std::span<const FieldView> fields, Message& out)
{
    _stage = RejectStage::None;
    _error.clear();

    // E1
    if (fields.size() < 2) {
        return reject(RejectStage::Envelope, "Invalid stream message format: fewer than 2 field/value pairs");
    }
    // E2-E6: exact names, unknown fields ignored, last duplicate wins, and every occurrence is
    // validated where it stands (NT's decode_bus_message fails at the first bad value).
    std::string_view topic;
    std::string_view type;
    std::string_view payload;
    bool hasTopic = false;
    bool hasPayload = false;
    Encoding encoding = Encoding::Json;
    for (const FieldView& f : fields) {
        if (f.name == "topic") {
            if (!utf8::isValid(f.value)) {
                return reject(RejectStage::Envelope, "Error parsing topic: invalid UTF-8");
            }
            topic = f.value;
            hasTopic = true;
        } else if (f.name == "type") {
            if (!utf8::isValid(f.value)) {
                return reject(RejectStage::Envelope, "Error parsing type: invalid UTF-8");
            }
            type = f.value;
        } else if (f.name == "encoding") {
            if (!utf8::isValid(f.value)) {
                return reject(RejectStage::Envelope, "Error parsing encoding: invalid UTF-8");
            }
            if (!parseEncoding(f.value, encoding)) {
                return rejectEncoding(f.value);
            }
        } else if (f.name == "payload") {
            payload = f.value;
            hasPayload = true;
        }
    }
    if (!hasTopic) {
        return reject(RejectStage::Envelope, "Stream message missing topic");
    }
    if (!hasPayload) {
        return reject(RejectStage::Envelope, "Stream message missing payload");
    }
    if (topic.empty()) {
        return reject(RejectStage::Envelope, "empty topic (NT debug-asserts non-empty topics)");
    }

    out.topic = topic;
    out.headerType = type;
    out.type = {};
    out.encoding = encoding;
    out.heartbeat = (topic == kHeartbeatTopic);
    out.raw = payload;
    out.json = {};

    // P1 heartbeat: RFC 3339 text, never JSON-parsed
    if (out.heartbeat) {
        if (!utf8::isValid(payload)) {
            return reject(RejectStage::Payload, "heartbeat payload is not UTF-8");
        }
        out.kind = PayloadKind::Text;
        out.json = payload;
        return true;
    }
    // P2 schema encodings are opaque
    if (encoding == Encoding::Capnp || encoding == Encoding::Sbe) {
        out.kind = PayloadKind::Opaque;
        return true;
    }
    // P3 typed header: the declared encoding, strictly
    if (!type.empty()) {
        if (encoding == Encoding::Json) {
            if (!decodeJson(payload, type, out)) {
                _stage = RejectStage::Payload;
                _error.assign("json payload does not decode: ");
                _error += _jsonValidator.error();
                return false;
            }
            return true;
        }
        if (!decodeMsgpack(payload, type, out)) {
            _stage = RejectStage::Payload;
            _error.assign("msgpack payload does not decode: ");
            _error += _msgpack.error();
            return false;
        }
        return true;
    }
    // P4 untyped (G1/G2): the header is unreliable; JSON first, then MessagePack
    if (decodeJson(payload, type, out) || decodeMsgpack(payload, type, out)) {
        return true;
    }
    _stage = RejectStage::Payload;
    _error.assign("untyped payload is neither JSON (");
    _error += _jsonValidator.error();
    _error += ") nor MessagePack (";
    _error += _msgpack.error();
    _error += ')';
    return false;
}

}  // namespace nautilus::relay

#pragma once
// Turns one stream entry's field/value pairs into a Message, exactly per SPEC §9
// (envelope E1–E6, payload P1–P8, routing type §9.4). Never throws on input.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/Message.h"
#include "decoder/JsonValidator.h"
#include "decoder/MsgpackJson.h"

namespace nautilus::relay {

struct FieldView {
    std::string_view name;
    std::string_view value;
};

enum class RejectStage : std::uint8_t { None, Envelope, Payload };

/// One decoder per reader thread: it reuses its scratch buffers, so the views it writes into a
/// Message stay valid until the next decode() call on the same decoder.
class EntryDecoder {
public:
    /// Fills out.topic/headerType/type/encoding/kind/heartbeat/json/raw. out.stream, out.id,
    /// out.streamId and out.receivedNs are the caller's. Returns false on rejection; then
    /// error() and stage() say why.
    bool decode(std::span<const FieldView> fields, Message& out);

    std::string_view error() const { return _error; }
    RejectStage stage() const { return _stage; }

private:
    bool reject(RejectStage stage, std::string_view reason);
    bool rejectEncoding(std::string_view text);
    bool decodeJson(std::string_view payload, std::string_view headerType, Message& out);
    bool decodeMsgpack(std::string_view payload, std::string_view headerType, Message& out);

    std::string _error;
    RejectStage _stage = RejectStage::None;
    std::string _json;      // MessagePack transcoded to JSON
    std::string _typeBuf;   // routing type when it had to be unescaped
    JsonValidator _jsonValidator;
    MsgpackJson _msgpack;
};

}  // namespace nautilus::relay

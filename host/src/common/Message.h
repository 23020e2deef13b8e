#pragma once
// One decoded NautilusTrader bus entry (SPEC §9), as the decoder hands it to the router.
// Every view points into buffers owned by the reader/decoder and is valid only while the
// message is being dispatched; a subscriber that keeps anything must copy it (see OwnedMessage).
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "common/StreamId.h"

namespace nautilus::relay {

enum class Encoding : std::uint8_t { Json, MsgPack, Capnp, Sbe };
/// What the payload actually is: JSON text, MessagePack (transcoded to JSON), heartbeat text, opaque bytes.
enum class PayloadKind : std::uint8_t { Json, MsgPack, Text, Opaque };

std::string_view toString(Encoding e);      // "json", "msgpack", "capnp", "sbe"
std::string_view toString(PayloadKind k);   // "json", "msgpack", "text", "opaque"

inline constexpr std::string_view kHeartbeatTopic = "health:heartbeat";

struct Message {
    std::string_view stream;       ///< Redis key the entry was read from
    std::string_view id;           ///< entry id text as Redis sent it
    StreamId streamId;             ///< the same id, parsed
    std::string_view topic;        ///< `topic` field, byte for byte
    std::string_view headerType;   ///< raw `type` header ("" when absent)
    std::string_view type;         ///< routing type, SPEC §9.4 ("" when none)
    Encoding encoding = Encoding::Json;  ///< resolved `encoding` header (json when absent)
    PayloadKind kind = PayloadKind::Json;
    bool heartbeat = false;        ///< topic == health:heartbeat
    /// Json/MsgPack: the payload as one JSON value (passthrough text, or transcoded once).
    /// Text: the heartbeat's RFC 3339 text. Opaque: empty.
    std::string_view json;
    std::string_view raw;          ///< the payload bytes exactly as stored in Redis
    std::int64_t receivedNs = 0;   ///< wall clock (ns since epoch) when the reply was read
};

/// A Message that owns its bytes, for subscribers that queue messages.
class OwnedMessage {
public:
    OwnedMessage() = default;
    explicit OwnedMessage(const Message& m) { assign(m); }
    OwnedMessage(const OwnedMessage& o) { assign(o.view()); }
    OwnedMessage& operator=(const OwnedMessage& o)
    {
        if (this != &o) {
            assign(o.view());
        }
        return *this;
    }
    // Moves must re-point the views: a short string's bytes live inside the std::string object.
    OwnedMessage(OwnedMessage&& o) noexcept { *this = std::move(o); }
    OwnedMessage& operator=(OwnedMessage&& o) noexcept
    {
        _storage = std::move(o._storage);
        _msg = o._msg;
        for (int i = 0; i < 7; ++i) {
            _len[i] = o._len[i];
        }
        rebind();
        return *this;
    }

    void assign(const Message& m);
    const Message& view() const { return _msg; }
    std::size_t bytes() const { return _storage.size(); }
    std::size_t capacity() const { return _storage.capacity(); }

private:
    void rebind();
    std::string _storage;
    Message _msg;
    // offsets into _storage, in the order stream, id, topic, headerType, type, json, raw
    std::uint32_t _len[7] = {};
};

}  // namespace nautilus::relay

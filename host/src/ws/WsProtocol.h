#pragma once
// The /ws protocol (docs/websocket.md): parsing client requests, and the server frames. A bus
// message becomes one OutFrame (WebSocket header + JSON) built once and shared by every client
// that receives it; per-client frames (replies, replayed entries) use the same type.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/Message.h"
#include "common/StreamId.h"

namespace nautilus::relay::ws {

/// A complete server frame. buf holds [spare][header][json][stream][topic][type]; the views below
/// point into it. Immutable once built, so it is shared between threads without a lock.
struct OutFrame {
    std::string buf;
    std::uint32_t wireOffset = 0;    ///< start of the frame (header) in buf
    std::uint32_t wireLength = 0;    ///< header + payload
    std::uint32_t jsonOffset = 0;    ///< start of the JSON payload
    std::uint32_t streamOffset = 0, streamLength = 0;
    std::uint32_t topicOffset = 0, topicLength = 0;
    std::uint32_t typeOffset = 0, typeLength = 0;
    StreamId id{};                   ///< the entry's id (message frames)
    bool isMessage = false;          ///< a bus message (op "message")
    bool conflatable = false;        ///< market data (data.*): a later frame of the topic may replace it
    bool isClose = false;            ///< a close frame: the connection ends once it is written
    std::uint64_t conflatedTold = 0; ///< the "conflated" count this frame carries (withConflated)

    std::string_view wire() const { return {buf.data() + wireOffset, wireLength}; }
    std::string_view json() const { return {buf.data() + jsonOffset, wireOffset + wireLength - jsonOffset}; }
    std::string_view stream() const { return {buf.data() + streamOffset, streamLength}; }
    std::string_view topic() const { return {buf.data() + topicOffset, topicLength}; }
    std::string_view type() const { return {buf.data() + typeOffset, typeLength}; }
};
using FramePtr = std::shared_ptr<const OutFrame>;

/// {"op":"message","stream","id","topic","type"[,"header_type"],"payload"} for a routed message.
FramePtr messageFrame(const Message& msg, bool conflatable);
/// The same message frame with "conflated": n (market-data messages this client did not get);
/// on a frame that already carries a count, the two are added.
FramePtr withConflated(const OutFrame& frame, std::uint64_t n);
/// A text frame carrying json (replies, errors, status).
FramePtr textFrame(std::string_view json);
FramePtr pingFrame();
FramePtr pongFrame(std::string_view payload);
FramePtr closeFrame(std::uint16_t code, std::string_view reason);

/// {"op":"error","code":...,"message":...}
std::string errorJson(std::string_view code, std::string_view message);

/// A reply object with the request's "id" member added (unchanged when idJson is empty).
std::string withId(std::string json, std::string_view idJson);

/// True for topics whose messages may be conflated: market data (data.*), never order,
/// position or account events.
bool isMarketDataTopic(std::string_view topic);

struct ClientRequest {
    enum class Op { Subscribe, Unsubscribe, Ping };
    Op op = Op::Ping;
    std::vector<std::string> topics;
    std::vector<std::string> types;
    bool hasFrom = false;
    std::optional<StreamId> fromAll;                   ///< "from": "<id>" (or "*" in an object)
    std::map<std::string, StreamId> fromByStream;      ///< "from": {"<stream key>": "<id>"}
    std::string idJson;                                ///< the request's "id" member, echoed back
};

/// Parses one client text frame. On failure returns false with code ("bad_request",
/// "unknown_op") and a message naming what is wrong.
bool parseRequest(std::string_view text, ClientRequest& out, std::string& code, std::string& message);

}  // namespace nautilus::relay::ws

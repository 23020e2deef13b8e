#pragma once
// RFC 6455 framing. Server frames are written whole, once, into one buffer (header in front of
// the payload) so a message frame can be shared by every client that receives it. Client frames
// are parsed from a receive buffer: masked, size-bounded, fragmented messages reassembled by
// the caller.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace nautilus::relay::ws {

enum class Opcode : std::uint8_t { Continuation = 0x0, Text = 0x1, Binary = 0x2, Close = 0x8, Ping = 0x9, Pong = 0xA };

/// Close codes used here (RFC 6455 §7.4.1; 1013 from the IANA registry).
namespace close_code {
inline constexpr std::uint16_t kNormal = 1000;
inline constexpr std::uint16_t kGoingAway = 1001;
inline constexpr std::uint16_t kProtocolError = 1002;
inline constexpr std::uint16_t kUnsupportedData = 1003;
inline constexpr std::uint16_t kInvalidData = 1007;
inline constexpr std::uint16_t kPolicyViolation = 1008;
inline constexpr std::uint16_t kTooBig = 1009;
inline constexpr std::uint16_t kInternalError = 1011;
inline constexpr std::uint16_t kTryAgainLater = 1013;
}  // namespace close_code

inline constexpr std::size_t kMaxHeaderBytes = 10;  ///< unmasked server frame header

/// Writes the header of an unmasked, final frame with this payload length into out (at least
/// kMaxHeaderBytes); returns its length.
std::size_t writeHeader(char* out, Opcode op, std::size_t payloadLength) noexcept;

/// A complete frame (header + payload).
std::string makeFrame(Opcode op, std::string_view payload);
/// A close frame; the reason is cut to the 123 bytes a control frame allows (at a UTF-8 boundary).
std::string makeCloseFrame(std::uint16_t code, std::string_view reason);

/// One parsed client frame. payload points into the buffer given to parseFrame (unmasked in place).
struct ClientFrame {
    Opcode op = Opcode::Text;
    bool fin = true;
    std::string_view payload;
};

struct ParseResult {
    enum Status { Incomplete, Frame, Error } status = Incomplete;
    std::size_t consumed = 0;   ///< bytes of the buffer used by this frame (Frame only)
    std::uint16_t closeCode = 0;  ///< Error: the close code to answer with
    const char* error = "";     ///< Error: why
};

/// Parses the frame at the start of data[0, size). maxPayload bounds one frame's payload
/// (larger: Error 1009). Unmasks the payload in place.
ParseResult parseFrame(char* data, std::size_t size, std::size_t maxPayload, ClientFrame& frame) noexcept;

/// True when s is well-formed UTF-8 (text frames must be).
bool isValidUtf8(std::string_view s) noexcept;

}  // namespace nautilus::relay::ws

#pragma once
// Zero-copy RESP2 parsing for the bus's own Redis link.
//
// Two steps, so a large reply is never parsed twice and never copied:
//  - RespScanner finds where one complete reply ends in a receive buffer that grows by recv()
//    calls. It is resumable: after a partial read it continues where it stopped instead of
//    re-scanning from the start of the reply, and it keeps no per-element state (one counter of
//    values still expected), so nesting depth costs nothing.
//  - RespReader then walks the complete reply in pre-order and hands out RespValue views that
//    point into the buffer (no allocation, no copy per element).
//
// Bulk strings may hold any bytes (CR/LF, NUL, binary). Null bulk strings and null arrays ($-1,
// *-1), errors (-ERR ...), integers, simple strings and nested arrays are supported; any other
// type byte (RESP3 types included: we never send HELLO 3) is a protocol error, as are malformed
// lengths and replies larger than the configured bound.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace nautilus::relay {

/// A protocol violation (garbage, unknown type byte, bad length, oversized reply).
class RespError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class RespType : std::uint8_t { SimpleString, Error, Integer, BulkString, Array, Null };

/// One value of a reply. For strings and errors `str` views the bytes inside the receive buffer;
/// for integers `integer` is the value; for arrays `integer` is the element count and the
/// elements follow in the RespReader. Null covers both $-1 and *-1.
struct RespValue {
    RespType type = RespType::Null;
    std::string_view str;
    std::int64_t integer = 0;

    bool isNull() const { return type == RespType::Null; }
    bool isError() const { return type == RespType::Error; }
    bool isArray() const { return type == RespType::Array; }
    bool isString() const { return type == RespType::BulkString || type == RespType::SimpleString; }
    std::size_t size() const { return type == RespType::Array ? static_cast<std::size_t>(integer) : 0; }
};

std::string_view toString(RespType t);

/// Finds the end of one complete reply. Feed it the bytes received so far for this reply
/// (always starting at the reply's first byte, growing between calls); it remembers how far it
/// got. Throws RespError on a protocol violation.
class RespScanner {
public:
    static constexpr std::size_t kDefaultMaxReply = 512u * 1024 * 1024;
    /// Longest simple string / error line accepted (Redis error texts are short).
    static constexpr std::size_t kMaxLine = 64u * 1024;

    explicit RespScanner(std::size_t maxReplyBytes = kDefaultMaxReply) : _maxReply(maxReplyBytes) {}

    /// Returns the size of the complete reply at the start of `data`, or 0 when more bytes are
    /// needed. `data` must begin with the same bytes as in the previous call since reset().
    std::size_t scan(std::string_view data);
    /// Forget the current reply (call after a reply was consumed or the link was reset).
    void reset()
    {
        _pos = 0;
        _remaining = 1;
    }
    /// Bytes of the current reply known to be needed at least (for buffer growth).
    std::size_t minimumSize() const { return _pos + _want; }

private:
    std::size_t _maxReply;
    std::size_t _pos = 0;         // offset of the first value not yet scanned
    std::int64_t _remaining = 1;  // values still expected to complete the reply
    std::size_t _want = 0;        // bytes needed beyond _pos to finish the value at _pos (hint)
};

/// Walks one complete reply (as delimited by RespScanner) in pre-order.
class RespReader {
public:
    RespReader() = default;
    explicit RespReader(std::string_view reply) : _p(reply.data()), _end(reply.data() + reply.size()) {}

    bool atEnd() const { return _p >= _end; }
    /// The next value; for an array, its elements are the next size() values.
    RespValue next();
    /// Skips the elements of `array` (a value just returned by next()); no-op for other types.
    void skipChildren(const RespValue& array);
    /// Reads one value and skips its elements if it is an array.
    void skipValue();
    /// The reply as a string, for diagnostics (arrays rendered as [a, b, ...]), bounded length.
    static std::string describe(std::string_view reply, std::size_t maxLen = 200);

private:
    const char* _p = nullptr;
    const char* _end = nullptr;
};

}  // namespace nautilus::relay

#include "bus/RespParser.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace nautilus::relay {

namespace {

// Longest numeric header: a sign and 19 digits.
constexpr std::size_t kMaxNumberLine = 20;

bool parseInt(const char* p, const char* end, std::int64_t& out)
{
    if (p == end) {
        return false;
    }
    bool negative = false;
    if (*p == '-') {
        negative = true;
        if (++p == end) {
            return false;
        }
    }
    std::uint64_t v = 0;
    for (; p != end; ++p) {
        const auto d = static_cast<unsigned>(*p - '0');
        if (d > 9) {
            return false;
        }
        if (v > (static_cast<std::uint64_t>(INT64_MAX) - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    out = negative ? -static_cast<std::int64_t>(v) : static_cast<std::int64_t>(v);
    return true;
}

std::string hexByte(unsigned char c)
{
    static constexpr char kHex[] = "0123456789abcdef";
    return std::string("0x") + kHex[c >> 4] + kHex[c & 15];
}

}  // namespace

std::string_view toString(RespType t)
{
    switch (t) {
    case RespType::SimpleString: return "simple string";
    case RespType::Error: return "error";
    case RespType::Integer: return "integer";
    case RespType::BulkString: return "bulk string";
    case RespType::Array: return "array";
    case RespType::Null: return "null";
    }
    return "?";
}

std::size_t RespScanner::scan(std::string_view data)
{
    const char* base = data.data();
    const std::size_t size = data.size();
    while (_remaining > 0) {
        if (_pos >= size) {
            _want = 1;
            return 0;
        }
        const char type = base[_pos];
        std::size_t limit = 0;
        switch (type) {
        case '+':
        case '-': limit = kMaxLine; break;
        case ':':
        case '$':
        case '*': limit = kMaxNumberLine; break;
        default:
            throw RespError("unexpected RESP type byte " + hexByte(static_cast<unsigned char>(type)) + " at offset " +
                            std::to_string(_pos));
        }
        const std::size_t lineStart = _pos + 1;
        const std::size_t searchEnd = std::min(size, lineStart + limit + 1);
        const void* crp = searchEnd > lineStart ? std::memchr(base + lineStart, '\r', searchEnd - lineStart) : nullptr;
        if (crp == nullptr) {
            if (size >= lineStart + limit + 1) {
                throw RespError("RESP header line too long at offset " + std::to_string(_pos));
            }
            _want = 2;
            return 0;
        }
        const std::size_t cr = static_cast<std::size_t>(static_cast<const char*>(crp) - base);
        if (cr + 1 >= size) {
            _want = cr + 2 - _pos;
            return 0;
        }
        if (base[cr + 1] != '\n') {
            throw RespError("RESP line not terminated by CRLF at offset " + std::to_string(cr));
        }
        const std::size_t next = cr + 2;
        if (type == '+' || type == '-') {
            _pos = next;
            --_remaining;
        } else {
            std::int64_t n = 0;
            if (!parseInt(base + lineStart, base + cr, n)) {
                throw RespError("bad RESP number '" + std::string(base + lineStart, cr - lineStart) + "' at offset " +
                                std::to_string(_pos));
            }
            if (type == ':') {
                _pos = next;
                --_remaining;
            } else if (type == '$') {
                if (n == -1) {
                    _pos = next;
                    --_remaining;
                } else {
                    if (n < 0 || static_cast<std::uint64_t>(n) > _maxReply) {
                        throw RespError("bad RESP bulk length " + std::to_string(n));
                    }
                    const std::size_t end = next + static_cast<std::size_t>(n) + 2;
                    if (end > _maxReply) {
                        throw RespError("RESP reply exceeds " + std::to_string(_maxReply) + " bytes");
                    }
                    if (size < end) {
                        _want = end - _pos;
                        return 0;
                    }
                    if (base[end - 2] != '\r' || base[end - 1] != '\n') {
                        throw RespError("RESP bulk string not terminated by CRLF at offset " + std::to_string(end - 2));
                    }
                    _pos = end;
                    --_remaining;
                }
            } else {  // '*'
                if (n == -1) {
                    _pos = next;
                    --_remaining;
                } else {
                    // Every element takes at least 3 bytes ("+\r\n"), which bounds the count.
                    if (n < 0 || static_cast<std::uint64_t>(n) > _maxReply / 3) {
                        throw RespError("bad RESP array length " + std::to_string(n));
                    }
                    _pos = next;
                    _remaining += n - 1;
                }
            }
        }
        if (_pos > _maxReply) {
            throw RespError("RESP reply exceeds " + std::to_string(_maxReply) + " bytes");
        }
    }
    _want = 0;
    return _pos;
}

RespValue RespReader::next()
{
    if (_p >= _end) {
        throw RespError("RESP reader: read past the end of the reply");
    }
    const char type = *_p;
    const char* line = _p + 1;
    const auto* cr = static_cast<const char*>(std::memchr(line, '\r', static_cast<std::size_t>(_end - line)));
    if (cr == nullptr || cr + 1 >= _end) {
        throw RespError("RESP reader: truncated reply");
    }
    const char* next = cr + 2;
    RespValue v;
    switch (type) {
    case '+':
        v.type = RespType::SimpleString;
        v.str = std::string_view(line, static_cast<std::size_t>(cr - line));
        _p = next;
        return v;
    case '-':
        v.type = RespType::Error;
        v.str = std::string_view(line, static_cast<std::size_t>(cr - line));
        _p = next;
        return v;
    case ':':
    case '$':
    case '*': {
        std::int64_t n = 0;
        if (!parseInt(line, cr, n)) {
            throw RespError("RESP reader: bad number");
        }
        if (type == ':') {
            v.type = RespType::Integer;
            v.integer = n;
            _p = next;
        } else if (n < 0) {
            v.type = RespType::Null;
            _p = next;
        } else if (type == '$') {
            if (n > _end - next - 2) {
                throw RespError("RESP reader: truncated bulk string");
            }
            v.type = RespType::BulkString;
            v.str = std::string_view(next, static_cast<std::size_t>(n));
            _p = next + n + 2;
        } else {
            v.type = RespType::Array;
            v.integer = n;
            _p = next;
        }
        return v;
    }
    default: throw RespError("RESP reader: unexpected type byte " + hexByte(static_cast<unsigned char>(type)));
    }
}

void RespReader::skipChildren(const RespValue& array)
{
    if (!array.isArray()) {
        return;
    }
    // One counter instead of recursion: arrays add their elements to what is still to skip.
    std::int64_t remaining = array.integer;
    while (remaining > 0) {
        const RespValue v = next();
        --remaining;
        if (v.isArray()) {
            remaining += v.integer;
        }
    }
}

void RespReader::skipValue()
{
    const RespValue v = next();
    skipChildren(v);
}

std::string RespReader::describe(std::string_view reply, std::size_t maxLen)
{
    std::string out;
    try {
        RespReader r(reply);
        std::vector<std::int64_t> left;  // elements still to render per open array
        while (!r.atEnd() && out.size() < maxLen) {
            if (!left.empty()) {
                if (left.back() == 0) {
                    out += ']';
                    left.pop_back();
                    continue;
                }
                if (out.back() != '[') {
                    out += ", ";
                }
                --left.back();
            }
            const RespValue v = r.next();
            switch (v.type) {
            case RespType::SimpleString:
            case RespType::BulkString: out.append(v.str.substr(0, maxLen)); break;
            case RespType::Error: out.append("(error) ").append(v.str); break;
            case RespType::Integer: out += std::to_string(v.integer); break;
            case RespType::Null: out += "(nil)"; break;
            case RespType::Array:
                out += '[';
                left.push_back(v.integer);
                break;
            }
        }
        while (!left.empty() && out.size() < maxLen) {
            out += ']';
            left.pop_back();
        }
    } catch (const RespError&) {
        out += "<malformed>";
    }
    if (out.size() > maxLen) {
        out.resize(maxLen);
        out += "...";
    }
    return out;
}

}  // namespace nautilus::relay

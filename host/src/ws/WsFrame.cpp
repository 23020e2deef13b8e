#include "ws/WsFrame.h"

#include <cstring>

namespace nautilus::relay::ws {

std::size_t writeHeader(char* out, Opcode op, std::size_t n) noexcept
{
    auto* p = reinterpret_cast<unsigned char*>(out);
    p[0] = static_cast<unsigned char>(0x80 | static_cast<unsigned>(op));
    if (n < 126) {
        p[1] = static_cast<unsigned char>(n);
        return 2;
    }
    if (n <= 0xFFFF) {
        p[1] = 126;
        p[2] = static_cast<unsigned char>(n >> 8);
        p[3] = static_cast<unsigned char>(n);
        return 4;
    }
    p[1] = 127;
    for (int i = 0; i < 8; ++i) {
        p[2 + i] = static_cast<unsigned char>(static_cast<std::uint64_t>(n) >> (56 - 8 * i));
    }
    return 10;
}

std::string makeFrame(Opcode op, std::string_view payload)
{
    char header[kMaxHeaderBytes];
    const std::size_t h = writeHeader(header, op, payload.size());
    std::string out;
    out.reserve(h + payload.size());
    out.append(header, h);
    out.append(payload);
    return out;
}

std::string makeCloseFrame(std::uint16_t code, std::string_view reason)
{
    constexpr std::size_t kMaxReason = 123;
    if (reason.size() > kMaxReason) {
        std::size_t cut = kMaxReason;
        while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80) {
            --cut;  // do not split a UTF-8 sequence
        }
        reason = reason.substr(0, cut);
    }
    std::string payload;
    payload.push_back(static_cast<char>(code >> 8));
    payload.push_back(static_cast<char>(code & 0xFF));
    payload.append(reason);
    return makeFrame(Opcode::Close, payload);
}

ParseResult parseFrame(char* data, std::size_t size, std::size_t maxPayload, ClientFrame& frame) noexcept
{
    ParseResult r;
    auto fail = [&](std::uint16_t code, const char* why) {
        r.status = ParseResult::Error;
        r.closeCode = code;
        r.error = why;
        return r;
    };
    if (size < 2) {
        return r;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(data);
    const bool fin = (p[0] & 0x80) != 0;
    if ((p[0] & 0x70) != 0) {
        return fail(close_code::kProtocolError, "reserved bits set (no extension was negotiated)");
    }
    const unsigned opBits = p[0] & 0x0F;
    const bool control = (opBits & 0x8) != 0;
    if (opBits != 0x0 && opBits != 0x1 && opBits != 0x2 && opBits != 0x8 && opBits != 0x9 && opBits != 0xA) {
        return fail(close_code::kProtocolError, "unknown opcode");
    }
    if ((p[1] & 0x80) == 0) {
        return fail(close_code::kProtocolError, "client frames must be masked");
    }
    std::uint64_t length = p[1] & 0x7F;
    std::size_t pos = 2;
    if (length == 126) {
        if (size < 4) {
            return r;
        }
        length = (std::uint64_t{p[2]} << 8) | p[3];
        pos = 4;
    } else if (length == 127) {
        if (size < 10) {
            return r;
        }
        length = 0;
        if ((p[2] & 0x80) != 0) {
            return fail(close_code::kProtocolError, "64-bit payload length with the most significant bit set");
        }
        for (int i = 0; i < 8; ++i) {
            length = (length << 8) | p[2 + i];
        }
        pos = 10;
    }
    if (control && (length > 125 || !fin)) {
        return fail(close_code::kProtocolError, "control frames must be final and at most 125 bytes");
    }
    if (length > maxPayload) {
        return fail(close_code::kTooBig, "frame larger than ws.max_frame_bytes");
    }
    if (size < pos + 4 + length) {
        return r;
    }
    unsigned char mask[4];
    std::memcpy(mask, data + pos, 4);
    pos += 4;
    char* payload = data + pos;
    for (std::uint64_t i = 0; i < length; ++i) {
        payload[i] = static_cast<char>(static_cast<unsigned char>(payload[i]) ^ mask[i & 3]);
    }
    frame.op = static_cast<Opcode>(opBits);
    frame.fin = fin;
    frame.payload = std::string_view(payload, static_cast<std::size_t>(length));
    r.status = ParseResult::Frame;
    r.consumed = pos + static_cast<std::size_t>(length);
    return r;
}

bool isValidUtf8(std::string_view s) noexcept
{
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        unsigned cp = 0;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n) {
            return false;
        }
        for (std::size_t k = 1; k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
            return false;
        }
        i += len;
    }
    return true;
}

}  // namespace nautilus::relay::ws

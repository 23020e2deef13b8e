#pragma once
// Strict UTF-8 validation (Unicode Table 3-7, the same set Python's strict "utf-8" codec accepts):
// no overlong forms, no UTF-8-encoded surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no
// truncated sequences, no stray continuation bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace nautilus::relay::utf8 {

/// Length of the valid multi-byte sequence that starts at p (*p >= 0x80, p < e), or 0 if the bytes
/// there are not a valid UTF-8 sequence.
inline std::size_t sequenceLength(const unsigned char* p, const unsigned char* e) noexcept
{
    const unsigned char c = p[0];
    const std::size_t avail = static_cast<std::size_t>(e - p);
    auto cont = [](unsigned char b) { return (b & 0xC0u) == 0x80u; };
    if (c >= 0xC2 && c <= 0xDF) {
        return (avail >= 2 && cont(p[1])) ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (avail < 3) {
            return 0;
        }
        const unsigned char lo = (c == 0xE0) ? 0xA0 : 0x80;
        const unsigned char hi = (c == 0xED) ? 0x9F : 0xBF;
        return (p[1] >= lo && p[1] <= hi && cont(p[2])) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (avail < 4) {
            return 0;
        }
        const unsigned char lo = (c == 0xF0) ? 0x90 : 0x80;
        const unsigned char hi = (c == 0xF4) ? 0x8F : 0xBF;
        return (p[1] >= lo && p[1] <= hi && cont(p[2]) && cont(p[3])) ? 4 : 0;
    }
    return 0;  // 0x80..0xC1 (continuation or overlong lead), 0xF5..0xFF
}

/// True when all eight bytes of the word are ASCII.
inline bool allAscii8(const unsigned char* p) noexcept
{
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    return (w & 0x8080808080808080ULL) == 0;
}

/// True when none of the eight bytes needs a closer look inside a JSON string: no '"', no '\\', no
/// control character (< 0x20) and no non-ASCII byte. (Exact "exists" tests from the classic
/// bit-twiddling hacks; valid because every threshold is <= 0x80.)
inline bool jsonPlain8(const unsigned char* p) noexcept
{
    constexpr std::uint64_t ones = 0x0101010101010101ULL;
    constexpr std::uint64_t high = 0x8080808080808080ULL;
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    const std::uint64_t lt20 = (w - ones * 0x20) & ~w & high;
    const std::uint64_t q = w ^ (ones * 0x22);
    const std::uint64_t bs = w ^ (ones * 0x5C);
    const std::uint64_t hasQ = (q - ones) & ~q & high;
    const std::uint64_t hasBs = (bs - ones) & ~bs & high;
    return (lt20 | hasQ | hasBs | (w & high)) == 0;
}

inline bool isValid(std::string_view s) noexcept
{
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* const e = p + s.size();
    while (p < e) {
        if (e - p >= 8 && allAscii8(p)) {
            p += 8;
            continue;
        }
        if (*p < 0x80) {
            ++p;
            continue;
        }
        const std::size_t n = sequenceLength(p, e);
        if (n == 0) {
            return false;
        }
        p += n;
    }
    return true;
}

}  // namespace nautilus::relay::utf8

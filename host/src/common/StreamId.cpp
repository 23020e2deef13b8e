#include "common/StreamId.h"

#include <charconv>
#include <limits>

namespace nautilus::relay {

StreamId StreamId::next() const
{
    if (seq == std::numeric_limits<std::uint64_t>::max()) {
        return {ms + 1, 0};
    }
    return {ms, seq + 1};
}

std::string_view StreamId::format(char* buf) const
{
    char* p = std::to_chars(buf, buf + 20, ms).ptr;
    *p++ = '-';
    p = std::to_chars(p, p + 20, seq).ptr;
    return {buf, static_cast<std::size_t>(p - buf)};
}

std::string StreamId::toString() const
{
    char buf[48];
    return std::string(format(buf));
}

std::optional<StreamId> StreamId::parse(std::string_view text)
{
    StreamId id;
    const char* begin = text.data();
    const char* end = begin + text.size();
    if (begin == end) {
        return std::nullopt;
    }
    auto [p, ec] = std::from_chars(begin, end, id.ms);
    if (ec != std::errc() || p == begin) {
        return std::nullopt;
    }
    if (p == end) {
        return id;
    }
    if (*p != '-' || p + 1 == end) {
        return std::nullopt;
    }
    const char* seqBegin = p + 1;
    auto [q, ec2] = std::from_chars(seqBegin, end, id.seq);
    if (ec2 != std::errc() || q != end) {
        return std::nullopt;
    }
    return id;
}

}  // namespace nautilus::relay

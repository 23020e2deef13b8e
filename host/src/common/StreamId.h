#pragma once
// A Redis stream entry id, "<ms>-<seq>", kept as two integers so it compares and advances cheaply.
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nautilus::relay {

struct StreamId {
    std::uint64_t ms = 0;
    std::uint64_t seq = 0;

    auto operator<=>(const StreamId&) const = default;

    bool isZero() const { return ms == 0 && seq == 0; }
    /// The smallest id greater than this one (what XREAD will return first after it).
    StreamId next() const;
    std::string toString() const;
    /// Writes "<ms>-<seq>" into buf (at least 41 bytes) and returns the used part.
    std::string_view format(char* buf) const;
    /// Parses "<ms>-<seq>" or "<ms>" (seq 0); rejects anything else.
    static std::optional<StreamId> parse(std::string_view text);
};

}  // namespace nautilus::relay

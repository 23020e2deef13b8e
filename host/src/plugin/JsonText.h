#pragma once
// A strict check that a plugin's publish payload is exactly one JSON value (RFC 8259: valid
// UTF-8, no trailing bytes, depth at most 128), so a message a plugin publishes can be embedded
// as-is in the JSON frames sent to WebSocket clients. Pure function, no allocation.
#include <string_view>

namespace nautilus::relay {

bool isJsonText(std::string_view text) noexcept;

}  // namespace nautilus::relay

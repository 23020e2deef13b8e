#pragma once
#include <string_view>

namespace nautilus::relay {

/// NautilusTrader's is_matching (SPEC §7.4): over bytes, '*' = any run (incl. empty and '.'),
/// '?' = exactly one byte, everything else literal; the topic never has wildcards.
bool topicMatches(std::string_view pattern, std::string_view topic) noexcept;

}  // namespace nautilus::relay

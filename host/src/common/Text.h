#pragma once
// Small text helpers shared by the configuration, REST and plugin code.
#include <cctype>
#include <string_view>

namespace nautilus::relay {

/// s without leading and trailing whitespace (std::isspace: blanks, tabs, CR, LF, ...).
inline std::string_view trim(std::string_view s)
{
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
        s.remove_prefix(1);
    }
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
        s.remove_suffix(1);
    }
    return s;
}

/// s without leading and trailing blanks and tabs only: other control characters stay, so a
/// later check can refuse them.
inline std::string_view trimBlanks(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

}  // namespace nautilus::relay

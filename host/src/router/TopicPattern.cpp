#include "router/TopicPattern.h"

namespace nautilus::relay {

// Greedy two-pointer match with single backtrack point, as NautilusTrader's is_matching does:
// remember the last '*' and the topic position it started at; on a mismatch, let that '*'
// swallow one more byte. Linear in practice, never recursive.
bool topicMatches(std::string_view pattern, std::string_view topic) noexcept
{
    std::size_t p = 0;
    std::size_t t = 0;
    std::size_t star = std::string_view::npos;
    std::size_t starTopic = 0;
    while (t < topic.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == topic[t])) {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            starTopic = t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++starTopic;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') {
        ++p;
    }
    return p == pattern.size();
}

}  // namespace nautilus::relay

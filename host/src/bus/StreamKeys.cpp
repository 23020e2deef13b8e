#include "bus/StreamKeys.h"

#include <algorithm>

namespace nautilus::relay {

std::string StreamKeys::baseKey(const BusConfig& config)
{
    std::string key;
    if (config.useTraderPrefix) {
        key += "trader-";
    }
    if (config.useTraderId) {
        key += config.traderId;
        key += ':';
    }
    if (config.useInstanceId) {
        key += config.instanceId;
        key += ':';
    }
    key += config.streamsPrefix;
    return key;
}

std::string StreamKeys::keyForTopic(const BusConfig& config, std::string_view topic)
{
    std::string key = baseKey(config);
    if (config.streamPerTopic) {
        key += ':';
        key += topic;
    }
    return key;
}

StreamSelection StreamKeys::resolve(const BusConfig& config)
{
    StreamSelection sel;
    if (!config.streams.empty()) {
        for (const auto& s : config.streams) {
            if (s.empty()) {
                continue;
            }
            auto& target = hasGlob(s) ? sel.patterns : sel.exactKeys;
            if (std::find(target.begin(), target.end(), s) == target.end()) {
                target.push_back(s);
            }
        }
        return sel;
    }
    const std::string base = baseKey(config);
    if (config.streamPerTopic) {
        sel.patterns.push_back(escapeGlob(base) + ":*");
    } else {
        sel.exactKeys.push_back(base);
    }
    return sel;
}

bool StreamKeys::hasGlob(std::string_view s)
{
    return s.find_first_of("*?[") != std::string_view::npos;
}

std::string StreamKeys::escapeGlob(std::string_view s)
{
    std::string out;
    out.reserve(s.size() + 4);
    for (char c : s) {
        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
            out.push_back('\\');
        }
        out.push_back(c);
    }
    return out;
}

namespace {

// Matches one character class starting after '['; returns the position after ']' (or the end
// when unterminated, where Redis treats the rest as the class) and whether `c` matched.
std::size_t matchClass(std::string_view p, std::size_t i, char c, bool& matched)
{
    bool negate = false;
    if (i < p.size() && p[i] == '^') {
        negate = true;
        ++i;
    }
    matched = false;
    while (i < p.size() && p[i] != ']') {
        if (p[i] == '\\' && i + 1 < p.size()) {
            ++i;
            if (p[i] == c) {
                matched = true;
            }
            ++i;
        } else if (i + 2 < p.size() && p[i + 1] == '-') {
            char lo = p[i];
            char hi = p[i + 2];
            if (lo > hi) {
                std::swap(lo, hi);
            }
            if (c >= lo && c <= hi) {
                matched = true;
            }
            i += 3;
        } else {
            if (p[i] == c) {
                matched = true;
            }
            ++i;
        }
    }
    if (negate) {
        matched = !matched;
    }
    return i < p.size() ? i + 1 : i;
}

}  // namespace

bool StreamKeys::globMatch(std::string_view p, std::string_view t)
{
    // Iterative matching with one backtrack point for the last '*' (linear in practice).
    std::size_t pi = 0;
    std::size_t ti = 0;
    std::size_t starP = std::string_view::npos;
    std::size_t starT = 0;
    while (ti < t.size()) {
        if (pi < p.size()) {
            const char pc = p[pi];
            if (pc == '*') {
                starP = ++pi;
                starT = ti;
                continue;
            }
            if (pc == '?') {
                ++pi;
                ++ti;
                continue;
            }
            if (pc == '[') {
                bool matched = false;
                const std::size_t after = matchClass(p, pi + 1, t[ti], matched);
                if (matched) {
                    pi = after;
                    ++ti;
                    continue;
                }
            } else if (pc == '\\' && pi + 1 < p.size()) {
                if (p[pi + 1] == t[ti]) {
                    pi += 2;
                    ++ti;
                    continue;
                }
            } else if (pc == t[ti]) {
                ++pi;
                ++ti;
                continue;
            }
        }
        if (starP == std::string_view::npos) {
            return false;
        }
        pi = starP;
        ti = ++starT;
    }
    while (pi < p.size() && p[pi] == '*') {
        ++pi;
    }
    return pi == p.size();
}

}  // namespace nautilus::relay

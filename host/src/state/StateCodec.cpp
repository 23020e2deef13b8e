#include "state/StateCodec.h"

#include <charconv>
#include <set>

#include "bus/StreamKeys.h"
#include "common/Time.h"

namespace nautilus::relay::state {

std::string registryKey(std::string_view prefix, std::string_view instanceId)
{
    std::string key;
    key.reserve(prefix.size() + instanceId.size() + 10);
    key.append(prefix).append(":instance:").append(instanceId);
    return key;
}

std::string checkpointKey(std::string_view prefix, std::string_view instanceId)
{
    std::string key;
    key.reserve(prefix.size() + instanceId.size() + 12);
    key.append(prefix).append(":checkpoint:").append(instanceId);
    return key;
}

std::string registryPattern(std::string_view prefix)
{
    return StreamKeys::escapeGlob(prefix) + ":instance:*";
}

std::string formatCheckpointValue(const StreamPosition& position)
{
    std::string out = position.lastId.toString();
    if (position.ordinal >= 0) {
        out += ' ';
        out += std::to_string(position.ordinal);
    }
    return out;
}

std::optional<StreamPosition> parseCheckpointValue(std::string_view value)
{
    const auto space = value.find(' ');
    const auto idText = value.substr(0, space);
    auto id = StreamId::parse(idText);
    if (!id) {
        return std::nullopt;
    }
    StreamPosition pos;
    pos.lastId = *id;
    if (space == std::string_view::npos) {
        return pos;
    }
    const auto ordText = value.substr(space + 1);
    if (ordText.empty()) {
        return std::nullopt;
    }
    std::int64_t ordinal = 0;
    const auto [p, ec] = std::from_chars(ordText.data(), ordText.data() + ordText.size(), ordinal);
    if (ec != std::errc() || p != ordText.data() + ordText.size() || ordinal < -1) {
        return std::nullopt;
    }
    pos.ordinal = ordinal;
    return pos;
}

namespace {

/// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not valid.
std::size_t utf8SequenceLength(std::string_view s, std::size_t i)
{
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (b0 < 0x80) {
        return 1;
    }
    if ((b0 & 0xE0) == 0xC0) {
        len = 2;
        cp = b0 & 0x1F;
    } else if ((b0 & 0xF0) == 0xE0) {
        len = 3;
        cp = b0 & 0x0F;
    } else if ((b0 & 0xF8) == 0xF0) {
        len = 4;
        cp = b0 & 0x07;
    } else {
        return 0;
    }
    if (i + len > s.size()) {
        return 0;
    }
    for (std::size_t k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    // Overlong forms, surrogates and values beyond U+10FFFF are not valid UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

}  // namespace

void appendJsonString(std::string& out, std::string_view text)
{
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            const std::size_t len = utf8SequenceLength(text, i);
            if (len == 0) {
                out += "\\ufffd";
                ++i;
            } else {
                out.append(text.substr(i, len));
                i += len;
            }
            continue;
        }
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (c < 0x20 || c == 0x7F) {
                out += "\\u00";
                out += kHex[c >> 4];
                out += kHex[c & 0xF];
            } else {
                out += static_cast<char>(c);
            }
        }
        ++i;
    }
    out += '"';
}

std::string lastIdsJson(const std::vector<StreamStatus>& streams)
{
    std::string out = "{";
    std::set<std::string_view> seen;
    char buf[48];
    for (const auto& s : streams) {
        if (!seen.insert(s.key).second) {
            continue;  // a JSON object must not repeat a key
        }
        if (out.size() > 1) {
            out += ',';
        }
        appendJsonString(out, s.key);
        out += ':';
        out += '"';
        out += s.lastId.format(buf);
        out += '"';
    }
    out += '}';
    return out;
}

std::vector<std::pair<std::string, std::string>> registryFields(const RegistryInput& in)
{
    std::vector<std::pair<std::string, std::string>> f;
    f.reserve(16 + in.extra.size());
    f.emplace_back("instance", in.instanceId);
    f.emplace_back("state", std::string(toString(in.bus.state)));
    f.emplace_back("since", formatIso8601(in.bus.sinceNs));
    f.emplace_back("version", in.version);
    f.emplace_back("http", in.httpAddress);
    f.emplace_back("pid", std::to_string(in.pid));
    f.emplace_back("host", in.hostname);
    f.emplace_back("started_at", formatIso8601(in.startedAtNs));
    f.emplace_back("received", std::to_string(in.bus.received));
    f.emplace_back("rejected", std::to_string(in.bus.rejected));
    f.emplace_back("reconnects", std::to_string(in.bus.reconnects));
    f.emplace_back("trim_gaps", std::to_string(in.bus.trimGaps));
    f.emplace_back("streams", std::to_string(in.bus.streams.size()));
    f.emplace_back("last_ids", lastIdsJson(in.bus.streams));
    f.emplace_back("updated_at", formatIso8601(in.nowNs));
    const std::size_t core = f.size();
    for (const auto& [k, v] : in.extra) {
        bool clash = false;
        for (std::size_t i = 0; i < core; ++i) {
            if (f[i].first == k) {
                clash = true;
                break;
            }
        }
        if (!clash && !k.empty()) {
            f.emplace_back(k, v);
        }
    }
    return f;
}

}  // namespace nautilus::relay::state

#include "http/JsonWriter.h"

#include <charconv>
#include <cmath>

#include "common/Time.h"
#include "decoder/Utf8.h"

namespace nautilus::relay {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

/// Length of the well-formed UTF-8 sequence starting at s[i] (2..4), or 0 when it is not one.
std::size_t utf8SequenceLength(std::string_view s, std::size_t i)
{
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const auto cont = [&](std::size_t k) { return k < s.size() && (byte(k) & 0xC0) == 0x80; };
    const unsigned char b0 = byte(i);
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        return cont(i + 1) ? 2 : 0;
    }
    if (b0 >= 0xE0 && b0 <= 0xEF) {
        if (i + 1 >= s.size()) {
            return 0;
        }
        const unsigned char b1 = byte(i + 1);
        const bool ok1 = b0 == 0xE0 ? (b1 >= 0xA0 && b1 <= 0xBF)
                         : b0 == 0xED ? (b1 >= 0x80 && b1 <= 0x9F)  // no UTF-16 surrogates
                                      : (b1 & 0xC0) == 0x80;
        return ok1 && cont(i + 2) ? 3 : 0;
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
        if (i + 1 >= s.size()) {
            return 0;
        }
        const unsigned char b1 = byte(i + 1);
        const bool ok1 = b0 == 0xF0 ? (b1 >= 0x90 && b1 <= 0xBF)
                         : b0 == 0xF4 ? (b1 >= 0x80 && b1 <= 0x8F)
                                      : (b1 & 0xC0) == 0x80;
        return ok1 && cont(i + 2) && cont(i + 3) ? 4 : 0;
    }
    return 0;
}

}  // namespace

void JsonWriter::appendQuoted(std::string& out, std::string_view s)
{
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    std::size_t i = 0;
    while (i < s.size()) {
        // Plain ASCII (nearly everything: ids, topics, numbers) is copied a run at a time.
        std::size_t plain = i;
        const auto* bytes = reinterpret_cast<const unsigned char*>(s.data());
        while (s.size() - plain >= 8 && utf8::jsonPlain8(bytes + plain)) {
            plain += 8;
        }
        while (plain < s.size()) {
            const auto p = static_cast<unsigned char>(s[plain]);
            if (p < 0x20 || p >= 0x80 || p == '"' || p == '\\') {
                break;
            }
            ++plain;
        }
        out.append(s.data() + i, plain - i);
        i = plain;
        if (i == s.size()) {
            break;
        }
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {
            const std::size_t n = utf8SequenceLength(s, i);
            if (n == 0) {
                out.append(kReplacement);
                ++i;
            } else {
                out.append(s.substr(i, n));
                i += n;
            }
            continue;
        }
        switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        case '\b': out.append("\\b"); break;
        case '\f': out.append("\\f"); break;
        default:
            if (c < 0x20) {
                const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
                out.append(esc, sizeof esc);
            } else {
                out.push_back(static_cast<char>(c));
            }
        }
        ++i;
    }
    out.push_back('"');
}

std::string JsonWriter::validUtf8(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        if (static_cast<unsigned char>(s[i]) < 0x80) {
            out.push_back(s[i++]);
            continue;
        }
        const std::size_t n = utf8SequenceLength(s, i);
        if (n == 0) {
            out.append(kReplacement);
            ++i;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

void JsonWriter::separate()
{
    if (_afterKey) {
        _afterKey = false;
        return;
    }
    if (!_hasItems.empty()) {
        if (_hasItems.back()) {
            _out.push_back(',');
        }
        _hasItems.back() = true;
    }
}

JsonWriter& JsonWriter::beginObject()
{
    separate();
    _out.push_back('{');
    _hasItems.push_back(false);
    return *this;
}

JsonWriter& JsonWriter::endObject()
{
    _out.push_back('}');
    _hasItems.pop_back();
    return *this;
}

JsonWriter& JsonWriter::beginArray()
{
    separate();
    _out.push_back('[');
    _hasItems.push_back(false);
    return *this;
}

JsonWriter& JsonWriter::endArray()
{
    _out.push_back(']');
    _hasItems.pop_back();
    return *this;
}

JsonWriter& JsonWriter::key(std::string_view name)
{
    separate();
    appendQuoted(_out, name);
    _out.push_back(':');
    _afterKey = true;
    return *this;
}

JsonWriter& JsonWriter::value(std::string_view s)
{
    separate();
    appendQuoted(_out, s);
    return *this;
}

JsonWriter& JsonWriter::value(double d)
{
    if (!std::isfinite(d)) {
        return null();
    }
    separate();
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, d);
    _out.append(buf, r.ptr);
    return *this;
}

JsonWriter& JsonWriter::boolean(bool b)
{
    separate();
    _out.append(b ? "true" : "false");
    return *this;
}

JsonWriter& JsonWriter::integer(std::int64_t v)
{
    separate();
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    _out.append(buf, r.ptr);
    return *this;
}

JsonWriter& JsonWriter::unsignedInteger(std::uint64_t v)
{
    separate();
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    _out.append(buf, r.ptr);
    return *this;
}

JsonWriter& JsonWriter::null()
{
    separate();
    _out.append("null");
    return *this;
}

JsonWriter& JsonWriter::timestamp(std::int64_t wallNs)
{
    if (wallNs <= 0) {
        return null();
    }
    return value(formatIso8601(wallNs));
}

JsonWriter& JsonWriter::stringOrNull(std::string_view s)
{
    return s.empty() ? null() : value(s);
}

}  // namespace nautilus::relay

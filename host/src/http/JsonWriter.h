#pragma once
// A small streaming JSON writer for the REST responses: appends to a caller-owned string, inserts
// the commas itself, escapes strings per RFC 8259 and replaces invalid UTF-8 with U+FFFD so the
// output is always valid JSON whatever bytes Redis handed us (stream keys, topics, registry values).
// Not thread-safe; one writer per response.
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace nautilus::relay {

class JsonWriter {
public:
    explicit JsonWriter(std::string& out) : _out(out) {}

    JsonWriter& beginObject();
    JsonWriter& endObject();
    JsonWriter& beginArray();
    JsonWriter& endArray();
    /// The next value belongs to this member name (inside an object).
    JsonWriter& key(std::string_view name);

    JsonWriter& value(std::string_view s);
    JsonWriter& value(const char* s) { return value(std::string_view(s)); }
    JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
    JsonWriter& value(double d);  ///< NaN and infinities are written as null
    template <typename T>
        requires std::integral<T>
    JsonWriter& value(T v)
    {
        if constexpr (std::is_same_v<T, bool>) {
            return boolean(v);
        } else if constexpr (std::is_signed_v<T>) {
            return integer(static_cast<std::int64_t>(v));
        } else {
            return unsignedInteger(static_cast<std::uint64_t>(v));
        }
    }
    JsonWriter& null();
    /// A timestamp (wall-clock ns since the epoch) as ISO 8601 UTC text, or null when 0 (never).
    JsonWriter& timestamp(std::int64_t wallNs);
    /// A string, or null when empty.
    JsonWriter& stringOrNull(std::string_view s);

    template <typename T>
    JsonWriter& field(std::string_view name, const T& v)
    {
        key(name);
        return value(v);
    }

    /// Appends s as a quoted JSON string (escaped, invalid UTF-8 replaced by U+FFFD).
    static void appendQuoted(std::string& out, std::string_view s);
    /// s with every byte that is not part of well-formed UTF-8 replaced by U+FFFD.
    static std::string validUtf8(std::string_view s);

private:
    JsonWriter& boolean(bool b);
    JsonWriter& integer(std::int64_t v);
    JsonWriter& unsignedInteger(std::uint64_t v);
    void separate();

    std::string& _out;
    std::vector<bool> _hasItems;  // one entry per open container: something written already
    bool _afterKey = false;
};

}  // namespace nautilus::relay

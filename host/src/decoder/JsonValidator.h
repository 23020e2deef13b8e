#pragma once
// Single-pass strict JSON validator (SPEC §9.2 P5) that also extracts the §9.4 routing type.
//
// Accepts exactly what the reference decoder (make_fixtures.py parse_json: Python's json.loads
// with NaN/Infinity rejected, a serde_json-like depth cap and a lone-surrogate check) accepts:
//  - valid UTF-8 (strict), exactly one value, surrounding JSON whitespace (space, \t, \n, \r);
//  - no BOM, no NaN/Infinity, no control characters below 0x20 inside strings, only the JSON
//    escapes, no \u escape that leaves a lone surrogate;
//  - at most 127 nested arrays/objects (the 128th level fails, as _json_depth counts);
//  - numbers per the JSON grammar, any magnitude, except that a plain integer literal (no
//    fraction, no exponent) may have at most 4300 digits: Python 3.11's int conversion limit,
//    which makes the reference reject longer ones.
// No allocation on the hot path: keys and strings are referenced in place; only keys or type
// values written with escapes are unescaped into scratch buffers.
#include <cstdint>
#include <string>
#include <string_view>

namespace nautilus::relay {

class JsonValidator {
public:
    static constexpr int kMaxDepth = 127;
    static constexpr std::size_t kMaxIntegerDigits = 4300;

    /// Validates `text`. On success value() is the value without surrounding whitespace.
    bool validate(std::string_view text);

    std::string_view value() const { return _value; }
    const char* error() const { return _error; }

    /// SPEC §9.4 steps 1 and 2 for the last validated text. Returns false when neither applies
    /// (the caller then uses the header type). The view points into the validated text, or into
    /// `buf` when the name had to be unescaped.
    bool routingType(std::string& buf, std::string_view& type);

    /// Decodes the body of a validated JSON string (without the quotes) into UTF-8.
    static void unescape(std::string_view body, std::string& out);

private:
    struct StrRef {
        const char* data = nullptr;
        std::uint32_t size = 0;
        bool escaped = false;
        std::string_view view() const { return {data, size}; }
    };

    bool fail(const char* why)
    {
        _error = why;
        return false;
    }
    bool isTypeKey(const StrRef& key);
    bool sameAsFirstKey(const StrRef& key);
    std::string_view resolved(const StrRef& s, std::string& buf) const;

    std::string_view _value;
    const char* _error = "";

    // Routing state (top-level object only; see routingType()).
    bool _topObject = false;
    std::uint32_t _keyCount = 0;
    bool _singleKey = true;
    StrRef _firstKey;
    bool _firstKeyDecoded = false;  // _scratchA holds the decoded first key
    bool _key1IsType = false;     // the current top-level member's key is "type"
    bool _topTypeIsStr = false;   // the last top-level "type" member holds a string
    StrRef _topType;
    bool _curValIsObj = false;    // the current top-level member's value is an object
    bool _key2IsType = false;     // the current key of that inner object is "type"
    bool _innerTypeIsStr = false;
    StrRef _innerType;
    bool _lastValIsObj = false;   // ...and the same facts for the last complete member
    bool _lastInnerIsStr = false;
    StrRef _lastInner;

    std::string _scratchA;  // the decoded first key, only when a key has escapes
    std::string _scratchB;  // a decoded key, only when it has escapes
};

}  // namespace nautilus::relay

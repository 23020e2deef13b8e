#include "decoder/JsonValidator.h"

#include <cstring>

#include "decoder/Utf8.h"

namespace nautilus::relay {

namespace {

inline bool isWs(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

inline bool isDigit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

inline int hexValue(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

inline bool readHex4(const unsigned char* p, unsigned& cp)
{
    cp = 0;
    for (int i = 0; i < 4; ++i) {
        const int v = hexValue(p[i]);
        if (v < 0) {
            return false;
        }
        cp = (cp << 4) | static_cast<unsigned>(v);
    }
    return true;
}

/// p: first byte after the opening quote. Returns the byte after the closing quote, or nullptr.
const unsigned char* scanString(const unsigned char* p, const unsigned char* e, bool& escaped,
                                const char*& err)
{
    for (;;) {
        while (e - p >= 8 && utf8::jsonPlain8(p)) {
            p += 8;
        }
        if (p >= e) {
            err = "unterminated string";
            return nullptr;
        }
        const unsigned char c = *p;
        if (c == '"') {
            return p + 1;
        }
        if (c == '\\') {
            escaped = true;
            if (e - p < 2) {
                err = "unterminated string";
                return nullptr;
            }
            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                p += 2;
                continue;
            case 'u': {
                unsigned cp = 0;
                if (e - p < 6 || !readHex4(p + 2, cp)) {
                    err = "invalid \\u escape";
                    return nullptr;
                }
                p += 6;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo = 0;
                    if (e - p < 6 || p[0] != '\\' || p[1] != 'u' || !readHex4(p + 2, lo) || lo < 0xDC00 ||
                        lo > 0xDFFF) {
                        err = "lone surrogate in \\u escape";
                        return nullptr;
                    }
                    p += 6;
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    err = "lone surrogate in \\u escape";
                    return nullptr;
                }
                continue;
            }
            default:
                err = "invalid escape";
                return nullptr;
            }
        }
        if (c < 0x20) {
            err = "control character in string";
            return nullptr;
        }
        if (c < 0x80) {
            ++p;
            continue;
        }
        const std::size_t n = utf8::sequenceLength(p, e);
        if (n == 0) {
            err = "invalid UTF-8";
            return nullptr;
        }
        p += n;
    }
}

/// p: '-' or a digit. Returns the byte after the number, or nullptr.
const unsigned char* scanNumber(const unsigned char* p, const unsigned char* e, const char*& err)
{
    if (*p == '-') {
        ++p;
    }
    if (p >= e || !isDigit(*p)) {
        err = "invalid number";
        return nullptr;
    }
    const unsigned char* digits = p;
    if (*p == '0') {
        ++p;
    } else {
        while (p < e && isDigit(*p)) {
            ++p;
        }
    }
    const auto intDigits = static_cast<std::size_t>(p - digits);
    bool plainInteger = true;
    if (p < e && *p == '.') {
        ++p;
        if (p >= e || !isDigit(*p)) {
            err = "invalid number";
            return nullptr;
        }
        while (p < e && isDigit(*p)) {
            ++p;
        }
        plainInteger = false;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        ++p;
        if (p < e && (*p == '+' || *p == '-')) {
            ++p;
        }
        if (p >= e || !isDigit(*p)) {
            err = "invalid number";
            return nullptr;
        }
        while (p < e && isDigit(*p)) {
            ++p;
        }
        plainInteger = false;
    }
    if (plainInteger && intDigits > JsonValidator::kMaxIntegerDigits) {
        err = "integer literal longer than 4300 digits";
        return nullptr;
    }
    return p;
}

void appendUtf8(std::string& out, unsigned cp)
{
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

}  // namespace

void JsonValidator::unescape(std::string_view body, std::string& out)
{
    out.clear();
    const auto* p = reinterpret_cast<const unsigned char*>(body.data());
    const auto* const e = p + body.size();
    while (p < e) {
        const unsigned char* run = p;
        while (p < e && *p != '\\') {
            ++p;
        }
        out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
        if (p >= e) {
            break;
        }
        // Validated input: a complete escape follows.
        const unsigned char c = p[1];
        p += 2;
        switch (c) {
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
            unsigned cp = 0;
            readHex4(p, cp);
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && e - p >= 6) {
                unsigned lo = 0;
                readHex4(p + 2, lo);
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            appendUtf8(out, cp);
            break;
        }
        default: out.push_back(static_cast<char>(c)); break;  // " \ /
        }
    }
}

bool JsonValidator::isTypeKey(const StrRef& key)
{
    if (!key.escaped) {
        return key.view() == "type";
    }
    if (key.size > 24) {  // "type" written with four \uXXXX escapes is the longest form
        return false;
    }
    unescape(key.view(), _scratchB);
    return _scratchB == "type";
}

bool JsonValidator::sameAsFirstKey(const StrRef& key)
{
    if (!key.escaped && !_firstKey.escaped) {
        return key.view() == _firstKey.view();
    }
    if (!_firstKey.escaped) {
        unescape(key.view(), _scratchB);
        return _scratchB == _firstKey.view();
    }
    // Rare: compare the decoded texts (the first key is decoded once per payload).
    if (!_firstKeyDecoded) {
        unescape(_firstKey.view(), _scratchA);
        _firstKeyDecoded = true;
    }
    if (!key.escaped) {
        return key.view() == _scratchA;
    }
    unescape(key.view(), _scratchB);
    return _scratchA == _scratchB;
}

std::string_view JsonValidator::resolved(const StrRef& s, std::string& buf) const
{
    if (!s.escaped) {
        return s.view();
    }
    unescape(s.view(), buf);
    return buf;
}

bool JsonValidator::routingType(std::string& buf, std::string_view& type)
{
    if (!_topObject) {
        return false;
    }
    if (_topTypeIsStr) {
        type = resolved(_topType, buf);
        return true;
    }
    if (_keyCount >= 1 && _singleKey && _lastValIsObj) {
        type = resolved(_lastInnerIsStr ? _lastInner : _firstKey, buf);
        return true;
    }
    return false;
}

bool JsonValidator::validate(std::string_view text)
{
    _value = {};
    _error = "";
    _topObject = false;
    _keyCount = 0;
    _singleKey = true;
    _firstKey = {};
    _firstKeyDecoded = false;
    _key1IsType = false;
    _topTypeIsStr = false;
    _topType = {};
    _curValIsObj = false;
    _key2IsType = false;
    _innerTypeIsStr = false;
    _innerType = {};
    _lastValIsObj = false;
    _lastInnerIsStr = false;
    _lastInner = {};

    const auto* const b = reinterpret_cast<const unsigned char*>(text.data());
    const auto* const e = b + text.size();
    const unsigned char* p = b;
    const char* err = "";
    bool isObject[kMaxDepth + 1];  // written on every open before it is read
    int depth = 0;
    const unsigned char* valueBegin = nullptr;
    const unsigned char* s = nullptr;
    bool escaped = false;
    unsigned char c = 0;

    while (p < e && isWs(*p)) {
        ++p;
    }
    valueBegin = p;

value:  // p is at the first byte of a value (whitespace already skipped)
    if (p >= e) {
        return fail(depth == 0 ? "empty payload" : "unexpected end of input");
    }
    c = *p;
    switch (c) {
    case '{':
    case '[':
        if (depth >= kMaxDepth) {
            return fail("nesting deeper than 127 levels");
        }
        if (depth == 0) {
            _topObject = (c == '{');
        } else if (_topObject) {
            if (depth == 1) {
                if (_key1IsType) {
                    _topTypeIsStr = false;
                }
                _curValIsObj = (c == '{');
                _innerTypeIsStr = false;
                _key2IsType = false;
            } else if (depth == 2 && _curValIsObj && _key2IsType) {
                _innerTypeIsStr = false;
            }
        }
        ++depth;
        isObject[depth] = (c == '{');
        ++p;
        while (p < e && isWs(*p)) {
            ++p;
        }
        if (c == '{') {
            if (p < e && *p == '}') {
                ++p;
                --depth;
                goto after;
            }
            goto key;
        }
        if (p < e && *p == ']') {
            ++p;
            --depth;
            goto after;
        }
        goto value;
    case '"':
        s = p + 1;
        escaped = false;
        p = scanString(s, e, escaped, err);
        if (p == nullptr) {
            return fail(err);
        }
        if (_topObject) {
            const StrRef ref{reinterpret_cast<const char*>(s), static_cast<std::uint32_t>(p - 1 - s), escaped};
            if (depth == 1) {
                if (_key1IsType) {
                    _topTypeIsStr = true;
                    _topType = ref;
                }
            } else if (depth == 2 && _curValIsObj && _key2IsType) {
                _innerTypeIsStr = true;
                _innerType = ref;
            }
        }
        goto after;
    case 't':
        if (e - p < 4 || std::memcmp(p, "true", 4) != 0) {
            return fail("invalid literal");
        }
        p += 4;
        goto scalar;
    case 'f':
        if (e - p < 5 || std::memcmp(p, "false", 5) != 0) {
            return fail("invalid literal");
        }
        p += 5;
        goto scalar;
    case 'n':
        if (e - p < 4 || std::memcmp(p, "null", 4) != 0) {
            return fail("invalid literal");
        }
        p += 4;
        goto scalar;
    default:
        if (c == '-' || isDigit(c)) {
            p = scanNumber(p, e, err);
            if (p == nullptr) {
                return fail(err);
            }
            goto scalar;
        }
        if (c == 0xEF && depth == 0 && p == b) {
            return fail("byte order mark");
        }
        return fail(depth == 0 && c == 'N' ? "NaN is not JSON" : "invalid value");
    }

scalar:  // a non-string scalar value just ended
    if (_topObject) {
        if (depth == 1) {
            if (_key1IsType) {
                _topTypeIsStr = false;
            }
        } else if (depth == 2 && _curValIsObj && _key2IsType) {
            _innerTypeIsStr = false;
        }
    }
    goto after;

key:  // p is at the first non-whitespace byte where an object key must start
    if (p >= e || *p != '"') {
        return fail("expected object key");
    }
    s = p + 1;
    escaped = false;
    p = scanString(s, e, escaped, err);
    if (p == nullptr) {
        return fail(err);
    }
    if (_topObject) {
        const StrRef ref{reinterpret_cast<const char*>(s), static_cast<std::uint32_t>(p - 1 - s), escaped};
        if (depth == 1) {
            ++_keyCount;
            if (_keyCount == 1) {
                _firstKey = ref;
            } else if (_singleKey && !sameAsFirstKey(ref)) {
                _singleKey = false;
            }
            _key1IsType = isTypeKey(ref);
            _curValIsObj = false;
        } else if (depth == 2 && _curValIsObj) {
            _key2IsType = isTypeKey(ref);
        }
    }
    while (p < e && isWs(*p)) {
        ++p;
    }
    if (p >= e || *p != ':') {
        return fail("expected ':'");
    }
    ++p;
    while (p < e && isWs(*p)) {
        ++p;
    }
    goto value;

after:  // a value just ended at p
    if (depth == 0) {
        const unsigned char* valueEnd = p;
        while (p < e && isWs(*p)) {
            ++p;
        }
        if (p != e) {
            return fail("trailing characters after the JSON value");
        }
        _value = std::string_view(reinterpret_cast<const char*>(valueBegin),
                                  static_cast<std::size_t>(valueEnd - valueBegin));
        return true;
    }
    if (depth == 1 && _topObject) {  // a top-level member is complete
        _lastValIsObj = _curValIsObj;
        _lastInnerIsStr = _innerTypeIsStr;
        _lastInner = _innerType;
    }
    while (p < e && isWs(*p)) {
        ++p;
    }
    if (p >= e) {
        return fail("unexpected end of input");
    }
    if (*p == ',') {
        ++p;
        while (p < e && isWs(*p)) {
            ++p;
        }
        if (isObject[depth]) {
            goto key;
        }
        goto value;
    }
    if (*p == (isObject[depth] ? '}' : ']')) {
        ++p;
        --depth;
        goto after;
    }
    return fail(isObject[depth] ? "expected ',' or '}'" : "expected ',' or ']'");
}

}  // namespace nautilus::relay

#include "plugin/JsonText.h"

namespace nautilus::relay {

namespace {

constexpr int kMaxDepth = 128;

class Checker {
public:
    explicit Checker(std::string_view t) : _p(t.data()), _end(t.data() + t.size()) {}

    bool document()
    {
        ws();
        if (!value(0)) {
            return false;
        }
        ws();
        return _p == _end;
    }

private:
    bool at(char c) const { return _p < _end && *_p == c; }
    void ws()
    {
        while (_p < _end && (*_p == ' ' || *_p == '\t' || *_p == '\n' || *_p == '\r')) {
            ++_p;
        }
    }
    bool literal(std::string_view word)
    {
        if (static_cast<std::size_t>(_end - _p) < word.size() || std::string_view(_p, word.size()) != word) {
            return false;
        }
        _p += word.size();
        return true;
    }
    bool digits()
    {
        const char* start = _p;
        while (_p < _end && *_p >= '0' && *_p <= '9') {
            ++_p;
        }
        return _p != start;
    }
    bool number()
    {
        if (at('-')) {
            ++_p;
        }
        if (at('0')) {
            ++_p;
        } else if (!digits()) {
            return false;
        }
        if (at('.')) {
            ++_p;
            if (!digits()) {
                return false;
            }
        }
        if (at('e') || at('E')) {
            ++_p;
            if (at('+') || at('-')) {
                ++_p;
            }
            if (!digits()) {
                return false;
            }
        }
        return true;
    }
    static bool hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
    static bool cont(unsigned char c) { return (c & 0xC0u) == 0x80u; }
    // One UTF-8 sequence starting at _p (already known to be >= 0x80), per RFC 3629.
    bool utf8()
    {
        const auto b0 = static_cast<unsigned char>(*_p);
        const auto left = _end - _p;
        auto b = [&](int i) { return static_cast<unsigned char>(_p[i]); };
        if (b0 >= 0xC2 && b0 <= 0xDF && left >= 2 && cont(b(1))) {
            _p += 2;
            return true;
        }
        if (b0 >= 0xE0 && b0 <= 0xEF && left >= 3 && cont(b(1)) && cont(b(2))) {
            if ((b0 == 0xE0 && b(1) < 0xA0) || (b0 == 0xED && b(1) > 0x9F)) {
                return false;  // overlong, or a UTF-16 surrogate
            }
            _p += 3;
            return true;
        }
        if (b0 >= 0xF0 && b0 <= 0xF4 && left >= 4 && cont(b(1)) && cont(b(2)) && cont(b(3))) {
            if ((b0 == 0xF0 && b(1) < 0x90) || (b0 == 0xF4 && b(1) > 0x8F)) {
                return false;  // overlong, or beyond U+10FFFF
            }
            _p += 4;
            return true;
        }
        return false;
    }
    bool string()
    {
        ++_p;  // opening quote
        while (_p < _end) {
            const auto c = static_cast<unsigned char>(*_p);
            if (c == '"') {
                ++_p;
                return true;
            }
            if (c < 0x20) {
                return false;
            }
            if (c == '\\') {
                ++_p;
                if (_p == _end) {
                    return false;
                }
                const char e = *_p++;
                if (e == 'u') {
                    for (int i = 0; i < 4; ++i, ++_p) {
                        if (_p == _end || !hex(*_p)) {
                            return false;
                        }
                    }
                } else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' &&
                           e != 't') {
                    return false;
                }
            } else if (c >= 0x80) {
                if (!utf8()) {
                    return false;
                }
            } else {
                ++_p;
            }
        }
        return false;
    }
    bool value(int depth)
    {
        if (_p == _end) {
            return false;
        }
        switch (*_p) {
        case '{': return object(depth + 1);
        case '[': return array(depth + 1);
        case '"': return string();
        case 't': return literal("true");
        case 'f': return literal("false");
        case 'n': return literal("null");
        default: return number();
        }
    }
    bool array(int depth)
    {
        if (depth > kMaxDepth) {
            return false;
        }
        ++_p;
        ws();
        if (at(']')) {
            ++_p;
            return true;
        }
        for (;;) {
            ws();
            if (!value(depth)) {
                return false;
            }
            ws();
            if (at(',')) {
                ++_p;
                continue;
            }
            if (at(']')) {
                ++_p;
                return true;
            }
            return false;
        }
    }
    bool object(int depth)
    {
        if (depth > kMaxDepth) {
            return false;
        }
        ++_p;
        ws();
        if (at('}')) {
            ++_p;
            return true;
        }
        for (;;) {
            ws();
            if (!at('"') || !string()) {
                return false;
            }
            ws();
            if (!at(':')) {
                return false;
            }
            ++_p;
            ws();
            if (!value(depth)) {
                return false;
            }
            ws();
            if (at(',')) {
                ++_p;
                continue;
            }
            if (at('}')) {
                ++_p;
                return true;
            }
            return false;
        }
    }

    const char* _p;
    const char* _end;
};

}  // namespace

bool isJsonText(std::string_view text) noexcept
{
    return Checker(text).document();
}

}  // namespace nautilus::relay

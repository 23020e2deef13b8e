#pragma once
// Helpers for the decoder tests: owned field lists, MessagePack building with msgpack-cxx's
// packer, and a tiny JSON reader for tests/fixtures/wire/*.jsonl.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <msgpack.hpp>

#include "decoder/EntryDecoder.h"

namespace nautilus::relay::test {

using Fields = std::vector<std::pair<std::string, std::string>>;
using Packer = msgpack::packer<msgpack::sbuffer>;

/// Builds MessagePack bytes with a packer callback.
template <typename Fn>
std::string mp(Fn&& fn)
{
    msgpack::sbuffer buf;
    Packer pk(&buf);
    fn(pk);
    return std::string(buf.data(), buf.size());
}

inline void packStr(Packer& pk, std::string_view s)
{
    pk.pack_str(static_cast<std::uint32_t>(s.size()));
    pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

/// Writes a float64 (0xcb) as is. msgpack-cxx's pack_double()/pack_float() store integral
/// values (1.0, -0.0, 1e16) as integers, which rmp-serde and msgspec never do, so tests that need
/// a real float append the bytes themselves (pack_bin_body() appends raw bytes, no header).
inline void packF64(Packer& pk, double d)
{
    std::uint64_t bits = 0;
    std::memcpy(&bits, &d, sizeof bits);
    char b[9];
    b[0] = static_cast<char>(0xcb);
    for (int i = 0; i < 8; ++i) {
        b[1 + i] = static_cast<char>((bits >> (56 - 8 * i)) & 0xFF);
    }
    pk.pack_bin_body(b, 9);
}

/// Same for float32 (0xca).
inline void packF32(Packer& pk, float f)
{
    std::uint32_t bits = 0;
    std::memcpy(&bits, &f, sizeof bits);
    char b[5];
    b[0] = static_cast<char>(0xca);
    for (int i = 0; i < 4; ++i) {
        b[1 + i] = static_cast<char>((bits >> (24 - 8 * i)) & 0xFF);
    }
    pk.pack_bin_body(b, 5);
}

/// Owns the field bytes so the FieldViews (and the Message views into them) stay valid.
class DecoderTest : public ::testing::Test {
protected:
    bool decode(Fields fields)
    {
        _storage = std::make_unique<Fields>(std::move(fields));
        _views.clear();
        for (const auto& [n, v] : *_storage) {
            _views.push_back(FieldView{n, v});
        }
        msg = Message{};
        return dec.decode(_views, msg);
    }
    /// G3 entry: topic, type, payload, encoding (XADD order).
    bool typed(std::string_view type, std::string payload, std::string_view encoding = "Json",
               std::string_view topic = "data.test")
    {
        return decode({{"topic", std::string(topic)},
                       {"type", std::string(type)},
                       {"payload", std::move(payload)},
                       {"encoding", std::string(encoding)}});
    }
    /// G1 entry: topic, payload.
    bool untyped(std::string payload, std::string_view topic = "data.test")
    {
        return decode({{"topic", std::string(topic)}, {"payload", std::move(payload)}});
    }
    std::string_view payloadField() const
    {
        for (const auto& [n, v] : *_storage) {
            if (n == "payload") {
                return v;
            }
        }
        return {};
    }

    EntryDecoder dec;
    Message msg;

private:
    std::unique_ptr<Fields> _storage;
    std::vector<FieldView> _views;
};

/// Minimal JSON value for reading fixture lines (numbers are kept as text).
struct JValue {
    enum class T { Null, Bool, Num, Str, Arr, Obj } t = T::Null;
    bool b = false;
    std::string s;  // Str, or the text of a Num
    std::vector<JValue> a;
    std::vector<std::pair<std::string, JValue>> o;

    const JValue* get(std::string_view k) const
    {
        for (const auto& [key, v] : o) {
            if (key == k) {
                return &v;
            }
        }
        return nullptr;
    }
};

/// Parses one JSON text (trusted test data; returns false on malformed input).
class JReader {
public:
    static bool parse(std::string_view text, JValue& out)
    {
        JReader r(text);
        r.ws();
        if (!r.value(out, 0)) {
            return false;
        }
        r.ws();
        return r._p == r._t.size();
    }

private:
    explicit JReader(std::string_view t) : _t(t) {}
    void ws()
    {
        while (_p < _t.size() && (_t[_p] == ' ' || _t[_p] == '\t' || _t[_p] == '\n' || _t[_p] == '\r')) {
            ++_p;
        }
    }
    bool lit(std::string_view l)
    {
        if (_t.substr(_p, l.size()) != l) {
            return false;
        }
        _p += l.size();
        return true;
    }
    static void utf8(std::string& o, unsigned cp)
    {
        if (cp < 0x80) {
            o += static_cast<char>(cp);
        } else if (cp < 0x800) {
            o += static_cast<char>(0xC0 | (cp >> 6));
            o += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            o += static_cast<char>(0xE0 | (cp >> 12));
            o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            o += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            o += static_cast<char>(0xF0 | (cp >> 18));
            o += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            o += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    bool hex4(unsigned& cp)
    {
        if (_p + 4 > _t.size()) {
            return false;
        }
        cp = static_cast<unsigned>(std::stoul(std::string(_t.substr(_p, 4)), nullptr, 16));
        _p += 4;
        return true;
    }
    bool str(std::string& o)
    {
        if (_p >= _t.size() || _t[_p] != '"') {
            return false;
        }
        ++_p;
        while (_p < _t.size() && _t[_p] != '"') {
            char c = _t[_p++];
            if (c != '\\') {
                o += c;
                continue;
            }
            if (_p >= _t.size()) {
                return false;
            }
            c = _t[_p++];
            switch (c) {
            case 'n': o += '\n'; break;
            case 't': o += '\t'; break;
            case 'r': o += '\r'; break;
            case 'b': o += '\b'; break;
            case 'f': o += '\f'; break;
            case 'u': {
                unsigned cp = 0;
                if (!hex4(cp)) {
                    return false;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF && lit("\\u")) {
                    unsigned lo = 0;
                    if (!hex4(lo)) {
                        return false;
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                utf8(o, cp);
                break;
            }
            default: o += c; break;
            }
        }
        if (_p >= _t.size()) {
            return false;
        }
        ++_p;
        return true;
    }
    bool value(JValue& v, int depth)
    {
        if (depth > 64 || _p >= _t.size()) {
            return false;
        }
        const char c = _t[_p];
        if (c == '{') {
            v.t = JValue::T::Obj;
            ++_p;
            ws();
            if (lit("}")) {
                return true;
            }
            for (;;) {
                std::string k;
                ws();
                if (!str(k)) {
                    return false;
                }
                ws();
                if (!lit(":")) {
                    return false;
                }
                ws();
                JValue x;
                if (!value(x, depth + 1)) {
                    return false;
                }
                v.o.emplace_back(std::move(k), std::move(x));
                ws();
                if (lit("}")) {
                    return true;
                }
                if (!lit(",")) {
                    return false;
                }
            }
        }
        if (c == '[') {
            v.t = JValue::T::Arr;
            ++_p;
            ws();
            if (lit("]")) {
                return true;
            }
            for (;;) {
                ws();
                JValue x;
                if (!value(x, depth + 1)) {
                    return false;
                }
                v.a.push_back(std::move(x));
                ws();
                if (lit("]")) {
                    return true;
                }
                if (!lit(",")) {
                    return false;
                }
            }
        }
        if (c == '"') {
            v.t = JValue::T::Str;
            return str(v.s);
        }
        if (lit("true")) {
            v.t = JValue::T::Bool;
            v.b = true;
            return true;
        }
        if (lit("false")) {
            v.t = JValue::T::Bool;
            return true;
        }
        if (lit("null")) {
            return true;
        }
        const std::size_t start = _p;
        while (_p < _t.size() && std::string_view("+-0123456789.eE").find(_t[_p]) != std::string_view::npos) {
            ++_p;
        }
        if (_p == start) {
            return false;
        }
        v.t = JValue::T::Num;
        v.s = std::string(_t.substr(start, _p - start));
        return true;
    }

    std::string_view _t;
    std::size_t _p = 0;
};

inline std::string base64Decode(std::string_view in)
{
    auto val = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    std::string out;
    unsigned buf = 0;
    int bits = 0;
    for (const char c : in) {
        const int v = val(c);
        if (v < 0) {
            continue;  // '=' padding
        }
        buf = (buf << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buf >> bits) & 0xFF);
        }
    }
    return out;
}

/// A fixture string: plain JSON string (its UTF-8 bytes) or {"b64": "..."} (those bytes).
inline std::string fixtureBytes(const JValue& v)
{
    if (v.t == JValue::T::Obj) {
        const JValue* b = v.get("b64");
        return b ? base64Decode(b->s) : std::string();
    }
    return v.s;
}

}  // namespace nautilus::relay::test

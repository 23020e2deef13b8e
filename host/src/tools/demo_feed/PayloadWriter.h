#pragma once
// Two writers with one interface, so each payload shape is written once (as a template) and
// comes out as compact JSON (serde_json / msgspec.json style) or as MessagePack with named
// maps (rmp_serde::to_vec_named / msgspec.msgpack style). Map and array sizes are declared up
// front (MessagePack needs them); JsonWriter checks them, so a wrong count fails loudly.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>

namespace nautilus::relay::demo {

class JsonWriter {
public:
    explicit JsonWriter(std::string& out) : _out(out) { _out.clear(); }

    void beginMap(std::size_t n) { open('{', n, true); }
    void endMap() { close('}'); }
    void beginArray(std::size_t n) { open('[', n, false); }
    void endArray() { close(']'); }

    void key(std::string_view k)
    {
        element();
        string(k);
        _out += ':';
        _afterKey = true;
    }
    void str(std::string_view v)
    {
        element();
        string(v);
    }
    void u64(std::uint64_t v)
    {
        element();
        char buf[24];
        _out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
    }
    void i64(std::int64_t v)
    {
        element();
        char buf[24];
        _out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
    }
    /// Shortest round-trip text, with ".0" on integral values and null for NaN/Inf (serde_json).
    void f64(double v)
    {
        element();
        if (!std::isfinite(v)) {
            _out += "null";
            return;
        }
        char buf[40];
        const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
        const std::string_view text(buf, static_cast<std::size_t>(end - buf));
        _out += text;
        if (text.find_first_of(".eE") == std::string_view::npos) {
            _out += ".0";
        }
    }
    void boolean(bool v)
    {
        element();
        _out += v ? "true" : "false";
    }
    void null()
    {
        element();
        _out += "null";
    }

private:
    struct Frame {
        std::size_t declared;
        std::size_t seen;
        bool map;
    };

    void element()
    {
        if (_afterKey) {
            _afterKey = false;
            return;
        }
        if (_stack.empty()) {
            return;
        }
        Frame& f = _stack.back();
        if (f.seen > 0) {
            _out += ',';
        }
        ++f.seen;
    }
    void open(char c, std::size_t n, bool map)
    {
        element();
        _out += c;
        _stack.push_back({n, 0, map});
    }
    void close(char c)
    {
        if (_stack.empty()) {
            throw std::logic_error("JsonWriter: close without open");
        }
        const Frame f = _stack.back();
        // In a map, element() counts keys and values are counted through _afterKey.
        if (f.seen != f.declared) {
            throw std::logic_error(std::string("JsonWriter: ") + (f.map ? "map" : "array") + " declared " +
                                   std::to_string(f.declared) + " entries, wrote " + std::to_string(f.seen));
        }
        _stack.pop_back();
        _out += c;
    }
    void string(std::string_view s)
    {
        static constexpr char kHex[] = "0123456789abcdef";
        _out += '"';
        for (const char ch : s) {
            const auto c = static_cast<unsigned char>(ch);
            if (c == '"' || c == '\\') {
                _out += '\\';
                _out += ch;
            } else if (c < 0x20) {
                _out += "\\u00";
                _out += kHex[c >> 4];
                _out += kHex[c & 0xF];
            } else {
                _out += ch;
            }
        }
        _out += '"';
    }

    std::string& _out;
    std::vector<Frame> _stack;
    bool _afterKey = false;
};

class MsgpackWriter {
public:
    explicit MsgpackWriter(msgpack::sbuffer& buf) : _buf(buf), _pk(buf) { _buf.clear(); }

    void beginMap(std::size_t n) { _pk.pack_map(static_cast<std::uint32_t>(n)); }
    void endMap() {}
    void beginArray(std::size_t n) { _pk.pack_array(static_cast<std::uint32_t>(n)); }
    void endArray() {}
    void key(std::string_view k) { str(k); }
    void str(std::string_view v)
    {
        _pk.pack_str(static_cast<std::uint32_t>(v.size()));
        _pk.pack_str_body(v.data(), static_cast<std::uint32_t>(v.size()));
    }
    void u64(std::uint64_t v) { _pk.pack_uint64(v); }
    void i64(std::int64_t v) { _pk.pack_int64(v); }
    void f64(double v) { _pk.pack_double(v); }
    void boolean(bool v) { v ? _pk.pack_true() : _pk.pack_false(); }
    void null() { _pk.pack_nil(); }

private:
    msgpack::sbuffer& _buf;
    msgpack::packer<msgpack::sbuffer> _pk;
};

}  // namespace nautilus::relay::demo

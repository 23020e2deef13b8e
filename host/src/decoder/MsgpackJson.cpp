#include "decoder/MsgpackJson.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <exception>
#include <new>

#include <msgpack.hpp>

#include "decoder/Utf8.h"

namespace nautilus::relay {

namespace {

constexpr const char* kTooDeep = "MessagePack nesting too deep";

void appendU64(std::string& out, std::uint64_t v)
{
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

void appendI64(std::string& out, std::int64_t v)
{
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

/// JSON number for a finite double (shortest round trip), "null" for NaN/Inf.
void appendJsonDouble(std::string& out, double d)
{
    if (!std::isfinite(d)) {
        out += "null";
        return;
    }
    char buf[40];
    const auto r = std::to_chars(buf, buf + sizeof buf, d);
    const std::string_view s(buf, static_cast<std::size_t>(r.ptr - buf));
    out += s;
    if (s.find_first_of(".e") == std::string_view::npos) {
        out += ".0";
    }
}

/// Python repr(float) ('r' format: shortest digits, fixed for 1e-4 <= |x| < 1e16).
void appendPyFloatRepr(std::string& out, double d)
{
    if (std::isnan(d)) {
        out += "nan";
        return;
    }
    if (std::isinf(d)) {
        out += d < 0 ? "-inf" : "inf";
        return;
    }
    if (d == 0) {
        out += std::signbit(d) ? "-0.0" : "0.0";
        return;
    }
    char buf[40];
    const auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string_view s(buf, static_cast<std::size_t>(r.ptr - buf));
    if (s.front() == '-') {
        out += '-';
        s.remove_prefix(1);
    }
    const std::size_t epos = s.find('e');
    char digits[24];
    std::size_t nd = 0;
    for (const char c : s.substr(0, epos)) {
        if (c != '.') {
            digits[nd++] = c;
        }
    }
    std::string_view expText = s.substr(epos + 1);
    const bool expNeg = expText.front() == '-';
    if (expText.front() == '-' || expText.front() == '+') {
        expText.remove_prefix(1);
    }
    int exp = 0;
    std::from_chars(expText.data(), expText.data() + expText.size(), exp);
    if (expNeg) {
        exp = -exp;
    }
    const int decpt = exp + 1;
    const std::string_view dg(digits, nd);
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            out += "0.";
            out.append(static_cast<std::size_t>(-decpt), '0');
            out += dg;
        } else if (static_cast<std::size_t>(decpt) >= nd) {
            out += dg;
            out.append(static_cast<std::size_t>(decpt) - nd, '0');
            out += ".0";
        } else {
            out += dg.substr(0, static_cast<std::size_t>(decpt));
            out += '.';
            out += dg.substr(static_cast<std::size_t>(decpt));
        }
    } else {
        out += dg[0];
        if (nd > 1) {
            out += '.';
            out += dg.substr(1);
        }
        out += 'e';
        out += exp < 0 ? '-' : '+';
        const int a = exp < 0 ? -exp : exp;
        if (a < 10) {
            out += '0';
        }
        appendI64(out, a);
    }
}

/// Python repr(bytes).
void appendPyBytesRepr(std::string& out, const char* d, std::size_t n)
{
    const bool sq = std::memchr(d, '\'', n) != nullptr;
    const bool dq = std::memchr(d, '"', n) != nullptr;
    const char quote = (sq && !dq) ? '"' : '\'';
    static constexpr char hex[] = "0123456789abcdef";
    out += 'b';
    out += quote;
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(d[i]);
        if (c == static_cast<unsigned char>(quote) || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c < 0x20 || c >= 0x7F) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xF];
        } else {
            out += static_cast<char>(c);
        }
    }
    out += quote;
}

void appendBase64(std::string& out, const char* d, std::size_t n)
{
    static constexpr char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const auto* p = reinterpret_cast<const unsigned char*>(d);
    std::size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) | p[i + 2];
        out += tbl[v >> 18];
        out += tbl[(v >> 12) & 63];
        out += tbl[(v >> 6) & 63];
        out += tbl[v & 63];
    }
    if (n - i == 1) {
        const std::uint32_t v = std::uint32_t{p[i]} << 16;
        out += tbl[v >> 18];
        out += tbl[(v >> 12) & 63];
        out += "==";
    } else if (n - i == 2) {
        const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8);
        out += tbl[v >> 18];
        out += tbl[(v >> 12) & 63];
        out += tbl[(v >> 6) & 63];
        out += '=';
    }
}

/// Appends s as a JSON string. When validate is set, s must be strict UTF-8 (returns false
/// otherwise; out is then left partially written, which the caller discards).
bool appendJsonString(std::string& out, const char* s, std::size_t n, bool validate)
{
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    const auto* p = reinterpret_cast<const unsigned char*>(s);
    const auto* const e = p + n;
    const unsigned char* run = p;
    while (p < e) {
        if (e - p >= 8 && utf8::jsonPlain8(p)) {
            p += 8;
            continue;
        }
        const unsigned char c = *p;
        if (c >= 0x80) {
            if (validate) {
                const std::size_t len = utf8::sequenceLength(p, e);
                if (len == 0) {
                    return false;
                }
                p += len;
            } else {
                ++p;
            }
            continue;
        }
        if (c != '"' && c != '\\' && c >= 0x20) {
            ++p;
            continue;
        }
        out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 0xF];
            break;
        }
        ++p;
        run = p;
    }
    out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
    out += '"';
    return true;
}

int compareBytes(const char* a, std::size_t an, const char* b, std::size_t bn)
{
    const std::size_t n = std::min(an, bn);
    const int c = n ? std::memcmp(a, b, n) : 0;
    if (c != 0) {
        return c < 0 ? -1 : 1;
    }
    return an == bn ? 0 : (an < bn ? -1 : 1);
}

}  // namespace

/// The msgpack-cxx visitor: writes JSON as the parser walks the buffer.
struct MsgpackJsonVisitor {
    using KeyClass = MsgpackJson::KeyClass;
    using ValKind = MsgpackJson::ValKind;
    using Entry = MsgpackJson::Entry;
    using Frame = MsgpackJson::Frame;

    MsgpackJson& m;
    std::string& out;

    bool fail(const char* why)
    {
        m._error = why;
        return false;
    }
    std::size_t level() const { return m._frames.size(); }
    bool inKey() const { return !m._frames.empty() && m._frames.back().inKey; }
    bool scalarOk() { return level() <= MsgpackJson::kMaxScalarLevel || fail(kTooDeep); }

    // Bookkeeping for a value (not a key) that starts at the current position.
    void noteValue(ValKind kind, const char* d = nullptr, std::uint32_t n = 0)
    {
        if (m._frames.empty()) {
            return;
        }
        Frame& f = m._frames.back();
        if (!f.isMap) {
            return;
        }
        if (level() == 1) {
            Entry& en = m._entries.back();
            en.val = kind;
            en.vdata = d;
            en.vlen = n;
        } else if (level() == 2 && f.keyIsType) {
            f.typeIsStr = (kind == ValKind::Str);
            f.tdata = d;
            f.tlen = n;
        }
    }

    // A key that is not a str: its Python str() is written to _keyText and, JSON-escaped, to out.
    Entry& beginCanonKey(KeyClass cls)
    {
        Frame& f = m._frames.back();
        f.hasNonStrKey = true;
        f.keyIsType = false;
        Entry& en = m._entries.back();
        en.cls = cls;
        en.canonOff = m._keyText.size();
        return en;
    }
    void endCanonKey(Entry& en)
    {
        en.canonLen = static_cast<std::uint32_t>(m._keyText.size() - en.canonOff);
        appendJsonString(out, m._keyText.data() + en.canonOff, en.canonLen, false);
    }
    void intKey(bool neg, std::uint64_t mag)
    {
        Entry& en = beginCanonKey(KeyClass::Num);
        en.numIsInt = true;
        en.numNeg = neg;
        en.numMag = mag;
        if (neg) {
            m._keyText += '-';
        }
        appendU64(m._keyText, mag);
        endCanonKey(en);
    }

    bool visit_nil()
    {
        if (!scalarOk()) {
            return false;
        }
        if (inKey()) {
            Entry& en = beginCanonKey(KeyClass::None);
            m._keyText += "None";
            endCanonKey(en);
            return true;
        }
        out += "null";
        noteValue(ValKind::Other);
        return true;
    }
    bool visit_boolean(bool v)
    {
        if (!scalarOk()) {
            return false;
        }
        if (inKey()) {
            Entry& en = beginCanonKey(KeyClass::Num);  // True == 1, False == 0 in a dict
            en.numIsInt = true;
            en.numMag = v ? 1 : 0;
            m._keyText += v ? "True" : "False";
            endCanonKey(en);
            return true;
        }
        out += v ? "true" : "false";
        noteValue(ValKind::Other);
        return true;
    }
    bool visit_positive_integer(std::uint64_t v)
    {
        if (!scalarOk()) {
            return false;
        }
        if (inKey()) {
            intKey(false, v);
            return true;
        }
        appendU64(out, v);
        noteValue(ValKind::Other);
        return true;
    }
    // msgpack-cxx calls this for every signed format (int8..int64), whatever the sign.
    bool visit_negative_integer(std::int64_t v)
    {
        if (!scalarOk()) {
            return false;
        }
        if (inKey()) {
            const bool neg = v < 0;
            const std::uint64_t mag = neg ? (~static_cast<std::uint64_t>(v) + 1) : static_cast<std::uint64_t>(v);
            intKey(neg, mag);
            return true;
        }
        appendI64(out, v);
        noteValue(ValKind::Other);
        return true;
    }
    bool visit_float32(float v) { return visit_float64(static_cast<double>(v)); }
    bool visit_float64(double v)
    {
        if (!scalarOk()) {
            return false;
        }
        if (inKey()) {
            if (std::isnan(v)) {
                Entry& en = beginCanonKey(KeyClass::NaN);  // NaN != NaN: never merged
                appendPyFloatRepr(m._keyText, v);
                endCanonKey(en);
                return true;
            }
            Entry& en = beginCanonKey(KeyClass::Num);
            // An integral double equals the int of the same value (1.0 == 1 == True).
            if (std::trunc(v) == v && v >= -9223372036854775808.0 && v < 18446744073709551616.0) {
                en.numIsInt = true;
                en.numNeg = v < 0;
                en.numMag = v < 0 ? static_cast<std::uint64_t>(-v) : static_cast<std::uint64_t>(v);
                if (en.numMag == 0) {
                    en.numNeg = false;
                }
            } else {
                en.numDbl = v;
            }
            appendPyFloatRepr(m._keyText, v);
            endCanonKey(en);
            return true;
        }
        appendJsonDouble(out, v);
        noteValue(ValKind::Other);
        return true;
    }
    bool visit_str(const char* v, std::uint32_t size)
    {
        if (!scalarOk()) {
            return false;
        }
        if (!appendJsonString(out, v, size, true)) {
            return fail("MessagePack str is not valid UTF-8");
        }
        if (inKey()) {
            Entry& en = m._entries.back();
            en.cls = KeyClass::Str;
            en.kdata = v;
            en.klen = size;
            m._frames.back().keyIsType = (size == 4 && std::memcmp(v, "type", 4) == 0);
            return true;
        }
        noteValue(ValKind::Str, v, size);
        return true;
    }
    bool visit_bin(const char* v, std::uint32_t size)
    {
        if (!scalarOk()) {
            return false;
        }
        if (inKey()) {
            Entry& en = beginCanonKey(KeyClass::Bytes);
            en.kdata = v;
            en.klen = size;
            appendPyBytesRepr(m._keyText, v, size);
            endCanonKey(en);
            return true;
        }
        out += "{\"b64\":\"";
        appendBase64(out, v, size);
        out += "\"}";
        // The reference routes on the canonical value, where bin already is {"b64": ...}: an
        // object without "type".
        noteValue(ValKind::Map);
        return true;
    }
    // v points at the type byte; size counts it.
    bool visit_ext(const char* v, std::uint32_t size)
    {
        const auto code = static_cast<std::int8_t>(v[0]);
        const char* data = v + 1;
        const std::uint32_t n = size - 1;
        // An ext inside more than 496 containers exceeds the reference's recursion limit, as a
        // value ([code, {"b64"}] costs two more levels) and as a key (its Python __repr__ does).
        if (level() > MsgpackJson::kMaxExtLevel) {
            return fail(kTooDeep);
        }
        if (inKey()) {
            if (code >= 0) {
                Entry& en = beginCanonKey(KeyClass::Ext);
                en.extCode = code;
                en.kdata = data;
                en.klen = n;
                m._keyText += "ExtType(code=";
                appendI64(m._keyText, code);
                m._keyText += ", data=";
                appendPyBytesRepr(m._keyText, data, n);
                m._keyText += ')';
                endCanonKey(en);
                return true;
            }
            if (code != -1) {
                return fail("MessagePack ext code must be 0..127");
            }
            std::int64_t sec = 0;
            std::uint64_t nsec = 0;
            const auto* d = reinterpret_cast<const unsigned char*>(data);
            auto be = [d](int from, int len) {
                std::uint64_t x = 0;
                for (int i = 0; i < len; ++i) {
                    x = (x << 8) | d[from + i];
                }
                return x;
            };
            if (n == 4) {
                sec = static_cast<std::int64_t>(be(0, 4));
            } else if (n == 8) {
                const std::uint64_t x = be(0, 8);
                nsec = x >> 34;
                sec = static_cast<std::int64_t>(x & 0x3FFFFFFFFULL);
            } else if (n == 12) {
                nsec = be(0, 4);
                sec = static_cast<std::int64_t>(be(4, 8));
            } else {
                return fail("MessagePack timestamp must be 4, 8 or 12 bytes");
            }
            if (nsec >= 1000000000ULL) {
                return fail("MessagePack timestamp nanoseconds out of range");
            }
            Entry& en = beginCanonKey(KeyClass::Timestamp);
            en.tsSec = sec;
            en.tsNsec = static_cast<std::uint32_t>(nsec);
            m._keyText += "Timestamp(seconds=";
            appendI64(m._keyText, sec);
            m._keyText += ", nanoseconds=";
            appendU64(m._keyText, nsec);
            m._keyText += ')';
            endCanonKey(en);
            return true;
        }
        if (code < 0) {
            return fail(code == -1 ? "MessagePack timestamp ext has no JSON form"
                                   : "MessagePack ext code must be 0..127");
        }
        out += '[';
        appendI64(out, code);
        out += ",{\"b64\":\"";
        appendBase64(out, data, n);
        out += "\"}]";
        noteValue(ValKind::Other);
        return true;
    }

    bool start_array(std::uint32_t /*num*/)
    {
        if (inKey()) {
            return fail("MessagePack array used as a map key");
        }
        if (level() + 1 > MsgpackJson::kMaxContainerLevel) {
            return fail(kTooDeep);
        }
        noteValue(ValKind::Other);
        out += '[';
        Frame& f = m._frames.emplace_back();
        f.entryBase = m._entries.size();
        return true;
    }
    bool start_array_item()
    {
        Frame& f = m._frames.back();
        if (!f.first) {
            out += ',';
        }
        f.first = false;
        return true;
    }
    bool end_array_item() { return true; }
    bool end_array()
    {
        m._frames.pop_back();
        out += ']';
        return true;
    }

    bool start_map(std::uint32_t /*num*/)
    {
        if (inKey()) {
            return fail("MessagePack map used as a map key");
        }
        if (level() + 1 > MsgpackJson::kMaxContainerLevel) {
            return fail(kTooDeep);
        }
        noteValue(ValKind::Map);
        out += '{';
        Frame& f = m._frames.emplace_back();
        f.isMap = true;
        f.entryBase = m._entries.size();
        return true;
    }
    bool start_map_key()
    {
        Frame& f = m._frames.back();
        if (!f.first) {
            out += ',';
        }
        f.first = false;
        f.inKey = true;
        f.keyIsType = false;
        Entry& en = m._entries.emplace_back();
        en.start = out.size();
        en.valueFrom = m._entries.size() - 1;
        return true;
    }
    bool end_map_key()
    {
        out += ':';
        m._entries.back().keyEnd = out.size();
        m._frames.back().inKey = false;
        return true;
    }
    bool start_map_value() { return true; }
    bool end_map_value()
    {
        m._entries.back().valEnd = out.size();
        return true;
    }
    bool end_map()
    {
        Frame& f = m._frames.back();
        if (f.hasNonStrKey) {
            m.mergeEntries(f.entryBase, out);
        }
        if (level() == 1) {
            m.computeRouting();
        }
        const bool typeIsStr = f.typeIsStr;
        const char* tdata = f.tdata;
        const std::uint32_t tlen = f.tlen;
        m._entries.resize(f.entryBase);
        m._frames.pop_back();
        out += '}';
        if (level() == 1 && m._frames.back().isMap) {  // this map was a top-level member's value
            Entry& en = m._entries.back();
            en.innerTypeIsStr = typeIsStr;
            en.idata = tdata;
            en.ilen = tlen;
        }
        return true;
    }

    void parse_error(std::size_t /*parsed*/, std::size_t /*error*/)
    {
        if (*m._error == '\0') {
            m._error = "malformed MessagePack";
        }
    }
    void insufficient_bytes(std::size_t /*parsed*/, std::size_t /*error*/)
    {
        if (*m._error == '\0') {
            m._error = "truncated MessagePack";
        }
    }
    bool referenced() const { return false; }
    void set_referenced(bool /*referenced*/) {}
};

int MsgpackJson::compareKeys(const Entry& a, const Entry& b)
{
    if (a.cls != b.cls) {
        return a.cls < b.cls ? -1 : 1;
    }
    switch (a.cls) {
    case KeyClass::Str:
    case KeyClass::Bytes:
        return compareBytes(a.kdata, a.klen, b.kdata, b.klen);
    case KeyClass::None:
        return 0;
    case KeyClass::Num:
        if (a.numIsInt != b.numIsInt) {
            return a.numIsInt ? -1 : 1;
        }
        if (a.numIsInt) {
            if (a.numNeg != b.numNeg) {
                return a.numNeg ? -1 : 1;
            }
            if (a.numMag == b.numMag) {
                return 0;
            }
            return ((a.numMag < b.numMag) != a.numNeg) ? -1 : 1;
        }
        return a.numDbl == b.numDbl ? 0 : (a.numDbl < b.numDbl ? -1 : 1);
    case KeyClass::Ext:
        if (a.extCode != b.extCode) {
            return a.extCode < b.extCode ? -1 : 1;
        }
        return compareBytes(a.kdata, a.klen, b.kdata, b.klen);
    case KeyClass::Timestamp:
        if (a.tsSec != b.tsSec) {
            return a.tsSec < b.tsSec ? -1 : 1;
        }
        return a.tsNsec == b.tsNsec ? 0 : (a.tsNsec < b.tsNsec ? -1 : 1);
    case KeyClass::NaN:
        return 0;  // never compared: NaN keys are kept apart
    }
    return 0;
}

// Python dict semantics for a map with non-str keys: keys that compare equal in Python (str by
// text; 1 == 1.0 == True; ...) collapse to one entry at the first key's position, holding the
// last value. Rewrites the map's output only when such duplicates exist.
void MsgpackJson::mergeEntries(std::size_t base, std::string& out)
{
    const std::size_t end = _entries.size();
    if (end - base < 2) {
        return;
    }
    _order.clear();
    for (std::size_t i = base; i < end; ++i) {
        if (_entries[i].cls != KeyClass::NaN) {
            _order.push_back(i);
        }
    }
    if (_order.size() < 2) {
        return;
    }
    std::sort(_order.begin(), _order.end(), [this](std::size_t a, std::size_t b) {
        const int c = compareKeys(_entries[a], _entries[b]);
        return c != 0 ? c < 0 : a < b;
    });
    bool anyDup = false;
    for (std::size_t i = 0; i < _order.size();) {
        std::size_t j = i + 1;
        while (j < _order.size() && compareKeys(_entries[_order[i]], _entries[_order[j]]) == 0) {
            ++j;
        }
        if (j - i > 1) {
            anyDup = true;
            _entries[_order[i]].valueFrom = _order[j - 1];
            for (std::size_t k = i + 1; k < j; ++k) {
                _entries[_order[k]].dropped = true;
            }
        }
        i = j;
    }
    if (!anyDup) {
        return;
    }
    const std::size_t seg = _entries[base].start;
    _tmp.assign(out, seg, std::string::npos);
    out.resize(seg);
    bool first = true;
    for (std::size_t i = base; i < end; ++i) {
        const Entry& e = _entries[i];
        if (e.dropped) {
            continue;
        }
        if (!first) {
            out += ',';
        }
        first = false;
        const Entry& v = _entries[e.valueFrom];
        out.append(_tmp, e.start - seg, e.keyEnd - e.start);
        out.append(_tmp, v.keyEnd - seg, v.valEnd - v.keyEnd);
    }
}

std::string_view MsgpackJson::canonicalKey(const Entry& e) const
{
    if (e.cls == KeyClass::Str) {
        return {e.kdata, e.klen};
    }
    return std::string_view(_keyText).substr(e.canonOff, e.canonLen);
}

// SPEC §9.4 on the top-level map, as make_fixtures.py payload_type() sees the canonical dict.
void MsgpackJson::computeRouting()
{
    _hasRoute = false;
    const std::size_t n = _entries.size();
    // 1. the last str "type" member, if its value is a str
    for (std::size_t i = n; i-- > 0;) {
        const Entry& e = _entries[i];
        if (e.cls == KeyClass::Str && e.klen == 4 && std::memcmp(e.kdata, "type", 4) == 0) {
            if (e.val == ValKind::Str) {
                _route = std::string_view(e.vdata, e.vlen);
                _hasRoute = true;
                return;
            }
            break;
        }
    }
    // 2. exactly one (canonical) key whose value is a map. The surviving entries are the Python
    // dict's keys in order (mergeEntries() dropped Python-equal duplicates of non-str keys; str
    // duplicates all print the same, so they cannot make two keys out of one); the dict's value
    // for the one printed key is the last survivor's (merged) value.
    const Entry* firstKept = nullptr;
    const Entry* lastKept = nullptr;
    for (std::size_t i = 0; i < n; ++i) {
        const Entry& e = _entries[i];
        if (e.dropped) {
            continue;
        }
        if (firstKept == nullptr) {
            firstKept = &e;
        } else if (canonicalKey(e) != canonicalKey(*firstKept)) {
            return;
        }
        lastKept = &e;
    }
    if (lastKept == nullptr) {
        return;
    }
    const std::string_view s = canonicalKey(*firstKept);
    const Entry& v = _entries[lastKept->valueFrom];
    if (v.val != ValKind::Map) {
        return;
    }
    if (v.innerTypeIsStr) {
        _route = std::string_view(v.idata, v.ilen);
    } else {
        _routeBuf.assign(s);
        _route = _routeBuf;
    }
    _hasRoute = true;
}

bool MsgpackJson::routingType(std::string_view& type) const
{
    if (!_hasRoute) {
        return false;
    }
    type = _route;
    return true;
}

bool MsgpackJson::transcode(std::string_view payload, std::string& out)
{
    out.clear();
    _frames.clear();
    _entries.clear();
    _keyText.clear();
    _hasRoute = false;
    _route = {};
    _error = "";
    if (payload.empty()) {
        _error = "empty payload";
        return false;
    }
    MsgpackJsonVisitor v{*this, out};
    std::size_t off = 0;
    bool ok = false;
    try {
        ok = msgpack::parse(payload.data(), payload.size(), off, v);
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::exception&) {
        _error = "malformed MessagePack";
        return false;
    }
    if (!ok) {
        if (*_error == '\0') {
            _error = "malformed MessagePack";
        }
        return false;
    }
    if (off != payload.size()) {
        _error = "trailing bytes after the MessagePack value";
        return false;
    }
    return true;
}

}  // namespace nautilus::relay

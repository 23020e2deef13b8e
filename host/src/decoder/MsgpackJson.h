#pragma once
// MessagePack -> JSON transcoder (SPEC §9.2 P5/P8) that also extracts the §9.4 routing type.
//
// One pass over msgpack-cxx's visitor parser, no msgpack::object zone; output goes into a
// caller-owned std::string that the decoder reuses. The result is the JSON form of what the
// reference decoder (make_fixtures.py: msgpack.unpackb(raw=False, strict_map_key=False) followed
// by to_canonical_json_value) produces:
//  - exactly one value consuming the whole buffer; str must be strict UTF-8;
//  - float32/float64: non-finite -> null, otherwise the shortest round-trip text of the value as
//    a double (float32 is widened first, as Python does), ".0" appended if it would look like an
//    integer; integers exact (uint64 max, int64 min);
//  - bin -> {"b64":"<base64>"}; ext with code 0..127 -> [code, {"b64":"<data>"}] (msgpack's
//    ExtType is a tuple); ext -1 (Timestamp: no JSON form) and other negative codes -> reject;
//  - map keys become Python str(key): str as is, int "1", bool "True", nil "None", float repr
//    "1.5"/"1e+16"/"nan", bin "b'..'", ext "ExtType(code=.., data=b'..')", timestamp
//    "Timestamp(seconds=.., nanoseconds=..)"; array/map keys -> reject (unhashable). When a map
//    has non-str keys, entries are merged the way a Python dict merges them (1 == 1.0 == True)
//    so that a JSON reader (last duplicate wins) sees the same object as the reference;
//  - nesting: the reference stops at Python 3.11's recursion limit inside
//    to_canonical_json_value, long before msgpack-python's own 1024-level stack: a container may
//    open at nesting level <= 498, a scalar may sit inside <= 497 containers and an ext (value
//    or key) inside <= 496. Deeper input is rejected; nothing here recurses.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nautilus::relay {

struct MsgpackJsonVisitor;

class MsgpackJson {
public:
    static constexpr std::size_t kMaxContainerLevel = 498;
    static constexpr std::size_t kMaxScalarLevel = 497;
    static constexpr std::size_t kMaxExtLevel = 496;

    /// Transcodes `payload` into `out` (cleared first). False on any error; error() says why.
    bool transcode(std::string_view payload, std::string& out);
    const char* error() const { return _error; }

    /// SPEC §9.4 steps 1 and 2 for the last transcoded payload; false when neither applies.
    /// The view points into the payload or into this object (valid until the next transcode).
    bool routingType(std::string_view& type) const;

private:
    friend struct MsgpackJsonVisitor;

    enum class KeyClass : std::uint8_t { Str, None, Num, NaN, Bytes, Ext, Timestamp };
    enum class ValKind : std::uint8_t { Other, Str, Map };

    struct Entry {
        std::size_t start = 0;   // output offset of the key text
        std::size_t keyEnd = 0;  // output offset just after the ':'
        std::size_t valEnd = 0;  // output offset just after the value
        KeyClass cls = KeyClass::Str;
        ValKind val = ValKind::Other;
        bool numIsInt = false;
        bool numNeg = false;
        bool innerTypeIsStr = false;
        bool dropped = false;
        std::int8_t extCode = 0;
        std::uint32_t tsNsec = 0;
        std::uint64_t numMag = 0;
        double numDbl = 0;
        std::int64_t tsSec = 0;
        const char* kdata = nullptr;  // str / bin / ext key bytes (in the payload)
        std::uint32_t klen = 0;
        std::uint32_t vlen = 0;
        std::uint32_t ilen = 0;
        std::uint32_t canonLen = 0;
        std::size_t canonOff = 0;     // Python str(key) in _keyText (non-str keys)
        const char* vdata = nullptr;  // str value (top-level map entries)
        const char* idata = nullptr;  // inner object's string "type" (top-level map entries)
        std::size_t valueFrom = 0;    // merge: entry whose value this entry takes
    };

    struct Frame {
        bool isMap = false;
        bool first = true;
        bool inKey = false;
        bool hasNonStrKey = false;
        bool keyIsType = false;   // the current key is the str "type"
        bool typeIsStr = false;   // the last "type" member holds a str
        std::uint32_t tlen = 0;
        const char* tdata = nullptr;
        std::size_t entryBase = 0;
    };

    static int compareKeys(const Entry& a, const Entry& b);
    void mergeEntries(std::size_t base, std::string& out);
    void computeRouting();
    std::string_view canonicalKey(const Entry& e) const;

    const char* _error = "";
    std::vector<Frame> _frames;
    std::vector<Entry> _entries;
    std::vector<std::size_t> _order;
    std::string _keyText;  // Python str() of non-str keys
    std::string _tmp;
    bool _hasRoute = false;
    std::string_view _route;
    std::string _routeBuf;
};

}  // namespace nautilus::relay

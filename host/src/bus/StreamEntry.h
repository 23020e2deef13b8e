#pragma once
// Reading one stream entry out of an XREAD or XRANGE reply in place, shared by the bus reader and
// the WebSocket replay so both see exactly the same fields.
#include <vector>

#include "bus/RespParser.h"
#include "decoder/EntryDecoder.h"

namespace nautilus::relay {

/// `entry` is the array [id, [field, value, ...], ...] just returned by r.next(), and its id
/// has been read too. Puts the field/value pairs into `fields` (views into the reply; a dangling
/// field without a value is skipped) and skips anything else, leaving r at the next entry.
inline void readEntryFields(RespReader& r, const RespValue& entry, std::vector<FieldView>& fields)
{
    fields.clear();
    if (entry.size() < 2) {
        return;
    }
    const RespValue fv = r.next();
    if (fv.isArray()) {
        const std::size_t n = fv.size();
        for (std::size_t k = 0; k + 1 < n; k += 2) {
            const RespValue name = r.next();
            r.skipChildren(name);
            const RespValue value = r.next();
            r.skipChildren(value);
            fields.push_back(FieldView{name.str, value.str});
        }
        if (n % 2 == 1) {
            r.skipValue();
        }
    }
    for (std::size_t k = 2; k < entry.size(); ++k) {
        r.skipValue();
    }
}

}  // namespace nautilus::relay

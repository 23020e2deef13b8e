#include "bus/StreamCursor.h"

#include <algorithm>

namespace nautilus::relay {

StreamInfo parseStreamInfo(RespReader& reply)
{
    StreamInfo info;
    const RespValue top = reply.next();
    if (top.isError()) {
        if (top.str.starts_with("WRONGTYPE")) {
            info.wrongType = true;
        } else if (top.str.find("no such key") == std::string_view::npos) {
            info.error = std::string(top.str);
        }
        return info;  // "ERR no such key": the stream does not exist (now)
    }
    if (!top.isArray()) {
        reply.skipChildren(top);
        info.error = "unexpected XINFO STREAM reply (" + std::string(toString(top.type)) + ")";
        return info;
    }
    info.exists = true;
    for (std::size_t i = 0; i + 1 < top.size(); i += 2) {
        const RespValue name = reply.next();
        reply.skipChildren(name);
        const RespValue value = reply.next();
        const std::string_view n = name.str;
        if (n == "length" && value.type == RespType::Integer) {
            info.length = value.integer;
        } else if (n == "entries-added" && value.type == RespType::Integer) {
            info.entriesAdded = value.integer;
        } else if (n == "last-generated-id" && value.isString()) {
            if (auto id = StreamId::parse(value.str)) {
                info.lastGenerated = *id;
            }
        } else if (n == "first-entry" && value.isArray() && value.size() >= 1) {
            const RespValue id = reply.next();
            reply.skipChildren(id);
            if (id.isString()) {
                info.firstId = StreamId::parse(id.str);
            }
            for (std::size_t k = 1; k < value.size(); ++k) {
                reply.skipValue();
            }
            continue;
        }
        reply.skipChildren(value);
    }
    if (top.size() % 2 == 1) {
        reply.skipValue();
    }
    return info;
}

void StreamCursor::startLatest(const StreamInfo& info)
{
    _batchFirsts.clear();
    _batchOverflow = false;
    if (!info.exists) {
        // Everything this stream will ever hold is new.
        _lastId = {};
        _ordinal = 0;
        _exists = false;
        _sampleAdded = 0;
        _sampleLast = {};
        return;
    }
    _lastId = info.lastGenerated;
    _ordinal = info.entriesAdded;
    _exists = true;
    _seenExisting = true;
    _sampleAdded = info.entriesAdded;
    _sampleLast = info.lastGenerated;
}

void StreamCursor::startEarliest(const StreamInfo& info)
{
    _batchFirsts.clear();
    _batchOverflow = false;
    _lastId = {};
    if (!info.exists) {
        _ordinal = 0;
        _exists = false;
        _sampleAdded = 0;
        _sampleLast = {};
        return;
    }
    _ordinal = info.entriesAdded >= 0 ? info.entriesAdded - info.length : -1;
    _exists = true;
    _seenExisting = true;
    _sampleAdded = info.entriesAdded;
    _sampleLast = info.lastGenerated;
}

void StreamCursor::startAt(const StreamPosition& pos)
{
    _batchFirsts.clear();
    _batchOverflow = false;
    _lastId = pos.lastId;
    _ordinal = pos.ordinal;
    // A stored position means the stream existed when it was written: if it is gone now, that
    // is a reset.
    _seenExisting = true;
    _exists = true;
    _sampleAdded = -1;
    _sampleLast = {};
}

void StreamCursor::beginBatch(StreamId firstId)
{
    if (_ordinal < 0) {
        return;
    }
    if (_batchFirsts.size() >= kMaxBatchRecords) {
        _batchOverflow = true;
        return;
    }
    _batchFirsts.push_back(BatchRecord{firstId, _ordinal + 1, _lastId});
}

std::int64_t StreamCursor::lag() const
{
    if (!_exists) {
        return 0;
    }
    if (_ordinal >= 0 && _sampleAdded >= 0) {
        return std::max<std::int64_t>(0, _sampleAdded - _ordinal);
    }
    if (_lastId == _sampleLast && !_sampleLast.isZero()) {
        return 0;
    }
    return -1;
}

StreamCursor::Check StreamCursor::check(const StreamInfo& info)
{
    Check c;
    c.lastIdBefore = _lastId;
    struct ClearRecords {
        StreamCursor& self;
        ~ClearRecords()
        {
            self._batchFirsts.clear();
            self._batchOverflow = false;
        }
    } clearRecords{*this};

    if (!info.exists) {
        if (_seenExisting) {
            // Whatever comes back under this key starts over: read it from its beginning.
            c.reset = true;
            c.deleted = true;
            c.reason = "stream deleted";
            _lastId = {};
            _ordinal = 0;
            _seenExisting = false;
            _reportedFirst.reset();
        }
        _exists = false;
        _sampleAdded = 0;
        _sampleLast = {};
        return c;
    }
    _exists = true;
    _seenExisting = true;

    const std::int64_t added = info.entriesAdded;
    const std::int64_t removed = added >= 0 ? added - info.length : -1;

    if (info.lastGenerated < _lastId) {
        c.reset = true;
        c.reason = "ids started over: the stream's last id " + info.lastGenerated.toString() +
                   " is behind the last delivered id " + _lastId.toString();
        _lastId = {};
        _ordinal = removed;  // as for an earliest start
        _reportedFirst.reset();
    } else if (added >= 0 && _ordinal >= 0 && added < _ordinal) {
        c.reset = true;
        c.reason = "the stream has had " + std::to_string(added) + " entries but " + std::to_string(_ordinal) +
                   " were delivered up to " + _lastId.toString() + " (deleted and recreated)";
        // Entries after L are still read; the ordinal is re-established once caught up.
        _ordinal = -1;
        _reportedFirst.reset();
    } else if (added >= 0 && _ordinal >= 0) {
        if (!info.firstId || *info.firstId > _lastId) {
            // Nothing at or before L is left: every removed entry is before the next one we read.
            if (removed > _ordinal) {
                c.gap = true;
                c.lost = removed - _ordinal;
                c.gapAfter = _lastId;
                _ordinal = removed;
            }
        } else {
            // F <= L: we read F. If a batch started at F, compare the ordinal we gave it with its
            // true ordinal (removed + 1).
            const StreamId f = *info.firstId;
            auto rec = std::find_if(_batchFirsts.begin(), _batchFirsts.end(), [&](const BatchRecord& r) { return r.first == f; });
            if (rec != _batchFirsts.end()) {
                const std::int64_t trueOrdinal = removed + 1;
                if (trueOrdinal > rec->ordinal) {
                    c.gap = true;
                    c.lost = trueOrdinal - rec->ordinal;
                    c.gapAfter = rec->before;
                }
                _ordinal += trueOrdinal - rec->ordinal;
            } else {
                // F was read inside a batch. A batch that began at an entry trimmed since (X < F)
                // may have crossed a gap, but only if the ordinal it was given is below the
                // true ordinal of X, which is at most `removed`. Then the loss cannot be counted.
                const bool crossingPossible =
                    _batchOverflow || std::any_of(_batchFirsts.begin(), _batchFirsts.end(), [&](const BatchRecord& r) {
                        return r.first < f && r.ordinal < removed;
                    });
                if (crossingPossible) {
                    c.uncertain = true;
                    _ordinal = -1;
                }
            }
        }
    } else {
        // No ordinal (Redis < 7, or not established yet): SPEC §6's id rule. It cannot count
        // the loss, and it also fires when a trim ended exactly at L; hence "uncertain".
        const bool moved = info.lastGenerated > _lastId;
        if (moved && (!info.firstId || *info.firstId > _lastId.next())) {
            if (!info.firstId) {
                c.gap = true;
                c.uncertain = true;
                c.gapAfter = _lastId;
                _lastId = info.lastGenerated;  // nothing at or before it is left to read
            } else if (_reportedFirst != info.firstId) {
                c.gap = true;
                c.uncertain = true;
                c.gapAfter = _lastId;
                _reportedFirst = info.firstId;
            }
        }
    }

    if (added >= 0 && _lastId == info.lastGenerated) {
        _ordinal = added;  // caught up: the ordinal is known exactly
    }
    _sampleAdded = added;
    _sampleLast = info.lastGenerated;
    return c;
}

}  // namespace nautilus::relay

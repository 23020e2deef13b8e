#pragma once
// The reader's position in one stream and the bookkeeping that makes trim gaps and resets
// exact (SPEC §6): the last delivered id L and its ordinal, i.e. how many entries the stream had
// ever received up to and including L (-1 when unknown).
//
// Redis 7's XINFO STREAM gives entries-added A (entries ever added), length N and the first entry
// F, so A - N entries were removed. Trimming removes from the head, so the true ordinal of F is
// A - N + 1, and when removed > ordinal the reader lost removed - ordinal entries it never read.
// An XREAD may cross a gap before the next sample; then F is the first entry of one of the batches
// read since the last sample, and the ordinal this cursor gave that entry shows the loss exactly.
// Without entries-added (Redis 6.2) the cursor falls back to SPEC §6's id rule (F > L.next()
// while the stream moved past L), which is approximate and cannot count the loss.
//
// Pure bookkeeping, no I/O; owned by the reader thread.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bus/BusTypes.h"
#include "bus/RespParser.h"
#include "common/StreamId.h"

namespace nautilus::relay {

/// One XINFO STREAM sample.
struct StreamInfo {
    bool exists = false;
    bool wrongType = false;            ///< the key holds another type
    std::string error;                 ///< any other error reply
    std::int64_t length = 0;           ///< N
    StreamId lastGenerated;            ///< G (last-generated-id)
    std::int64_t entriesAdded = -1;    ///< A; -1 when the server does not report it (< 7.0)
    std::optional<StreamId> firstId;   ///< F; none when the stream is empty
};

/// Parses the reply to `XINFO STREAM <key>` (an error reply included). Throws RespError.
StreamInfo parseStreamInfo(RespReader& reply);

class StreamCursor {
public:
    struct Check {
        bool reset = false;
        bool deleted = false;          ///< the reset is the key's disappearance
        std::string reason;            ///< reset reason
        bool gap = false;
        bool uncertain = false;        ///< a possible gap that cannot be counted (see class comment)
        std::int64_t lost = -1;        ///< entries lost in the gap, -1 unknown
        StreamId gapAfter;             ///< the last id delivered before the gap
        StreamId lastIdBefore;         ///< L when the check ran
    };

    // --- establishing a position ---
    /// Start after everything the stream holds now (its last-generated id; never "$").
    void startLatest(const StreamInfo& info);
    /// Start at the stream's beginning; what was removed before is not this reader's gap.
    void startEarliest(const StreamInfo& info);
    /// Start after a stored position.
    void startAt(const StreamPosition& pos);

    // --- reading ---
    /// An XREAD returned entries for this stream, the first of them `firstId`.
    void beginBatch(StreamId firstId);
    /// One entry was consumed (delivered or rejected).
    void consumed(StreamId id)
    {
        _lastId = id;
        if (_ordinal >= 0) {
            ++_ordinal;
        }
    }

    // --- monitoring ---
    /// Compares a fresh sample with the position: resets, trim gaps, ordinal re-establishment.
    Check check(const StreamInfo& info);

    StreamId lastId() const { return _lastId; }
    std::int64_t ordinal() const { return _ordinal; }
    /// Entries written but not delivered yet (as of the last sample); -1 unknown.
    std::int64_t lag() const;
    StreamPosition position() const { return {_lastId, _ordinal}; }
    bool exists() const { return _exists; }

private:
    static constexpr std::size_t kMaxBatchRecords = 4096;
    StreamId _lastId;
    std::int64_t _ordinal = -1;
    bool _exists = false;         // as of the last sample
    bool _seenExisting = false;   // existed at some sample (for deletion = reset)
    std::int64_t _sampleAdded = -1;
    StreamId _sampleLast;
    std::optional<StreamId> _reportedFirst;  // Redis < 7: the F of the last reported gap
    // First entry of each batch since the last sample, the ordinal it was given and the id
    // delivered before it.
    struct BatchRecord {
        StreamId first;
        std::int64_t ordinal;
        StreamId before;
    };
    std::vector<BatchRecord> _batchFirsts;
    bool _batchOverflow = false;
};

}  // namespace nautilus::relay

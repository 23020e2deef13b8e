#pragma once
// Pure helpers of the state store: key names, the checkpoint value format, the registry hash
// fields and the small JSON/glob escaping they need. No I/O, so they are unit-tested alone.
//
// Keys (prefix = state.prefix, id = relay.instance_id):
//   <prefix>:instance:<id>    registry hash, PEXPIRE'd (see StateStore.h)
//   <prefix>:checkpoint:<id>  checkpoints hash: field = stream key, value = "<last id> <ordinal>",
//                             e.g. "1732700000000-0 42"; the ordinal (entries the stream had ever
//                             received up to and including that id) is left out when unknown, so
//                             the value is then just "1732700000000-0". HGETALL shows the ids first.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bus/BusTypes.h"

namespace nautilus::relay::state {

std::string registryKey(std::string_view prefix, std::string_view instanceId);
std::string checkpointKey(std::string_view prefix, std::string_view instanceId);
/// SCAN MATCH pattern for every instance's registry hash: the prefix glob-escaped + ":instance:*".
std::string registryPattern(std::string_view prefix);

/// "<id>" or "<id> <ordinal>" (ordinal >= 0).
std::string formatCheckpointValue(const StreamPosition& position);
/// Accepts what formatCheckpointValue writes; nullopt for anything else (bad id, junk, extra
/// tokens, ordinal < -1).
std::optional<StreamPosition> parseCheckpointValue(std::string_view value);

/// Appends text as a JSON string literal (quotes included). Control characters are escaped;
/// bytes that are not valid UTF-8 become U+FFFD, so the result is always valid JSON.
void appendJsonString(std::string& out, std::string_view text);
/// Compact JSON object stream key -> last id, e.g. {"trader-TRADER-001:stream":"1732700000000-0"}.
std::string lastIdsJson(const std::vector<StreamStatus>& streams);

struct RegistryInput {
    std::string instanceId;
    std::string version;
    std::string httpAddress;
    long pid = 0;
    std::string hostname;
    std::int64_t startedAtNs = 0;
    std::int64_t nowNs = 0;
    BusSnapshot bus;
    std::map<std::string, std::string> extra;  ///< merged in; never overrides the fields above
};

/// The registry hash fields, in a fixed order: instance, state, since, version, http, pid, host,
/// started_at, received, rejected, reconnects, trim_gaps, streams, last_ids, updated_at, then
/// the extra fields.
std::vector<std::pair<std::string, std::string>> registryFields(const RegistryInput& in);

}  // namespace nautilus::relay::state

#pragma once
// Which Redis stream keys the bus reads, from NautilusTrader's MessageBusConfig key options
// (SPEC §2.1) or from an explicit list.
//
//  - stream_per_topic = false: one exact key, the base key itself.
//  - stream_per_topic = true (NautilusTrader's default): every topic has its own key
//    "<base>:<topic>" (the heartbeat's is "<base>:health:heartbeat"); they are discovered with
//    SCAN MATCH "<base, glob-escaped>:*" TYPE stream, periodically, since a topic's key appears
//    on its first publish.
//  - explicit `streams`: an entry holding a glob character (* ? [) is a SCAN pattern, any
//    other entry an exact key.
// Pure functions; no Redis access.
#include <string>
#include <string_view>
#include <vector>

#include "bus/BusTypes.h"

namespace nautilus::relay {

struct StreamSelection {
    std::vector<std::string> exactKeys;  ///< read even before they exist
    std::vector<std::string> patterns;   ///< SCAN MATCH patterns (TYPE stream)
};

class StreamKeys {
public:
    /// NautilusTrader's get_stream_key: ["trader-"][trader_id ":"][instance_id ":"]streams_prefix.
    static std::string baseKey(const BusConfig& config);
    /// The key NautilusTrader writes `topic` to under this configuration.
    static std::string keyForTopic(const BusConfig& config, std::string_view topic);
    static StreamSelection resolve(const BusConfig& config);

    /// True when `s` holds a Redis glob character (*, ?, [).
    static bool hasGlob(std::string_view s);
    /// Escapes *, ?, [, ], \ so the text matches itself in a Redis MATCH pattern.
    static std::string escapeGlob(std::string_view s);
    /// Redis glob matching (stringmatchlen semantics: * ? [abc] [^a] [a-z] \x), for tests and
    /// for filtering keys locally.
    static bool globMatch(std::string_view pattern, std::string_view text);
};

}  // namespace nautilus::relay

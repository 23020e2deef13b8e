#pragma once
// The relay's configuration: one schema table (key, type, allowed values, default, doc) that
// validates what the operator wrote (the --config .properties file, its conf.d layers and -D
// overrides) and builds the typed option structs each part takes.
//
// Only keys from the file and -D are validated; every one must be in the schema, except keys
// under plugins.<name>. (they belong to that plugin; plugins.<name>.enabled must be a boolean).
// Any failure throws ConfigError whose what() is the one line printed before exiting with 78:
//   config error: bus.redis.port = "abc": expected an integer in 1..65535
#include <cstdint>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "bus/BusTypes.h"
#include "common/Logging.h"
#include "http/HttpOptions.h"
#include "ws/WsOptions.h"
#include "plugin/PluginOptions.h"
#include "state/StateStore.h"

namespace nautilus::relay {

class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class ConfigType { String, Int, Bool, Double, Enum, List };

struct ConfigKeySpec {
    std::string_view key;
    ConfigType type;
    std::string_view defaultValue;   ///< as it would be written in the .properties file
    std::string_view doc;            ///< one line
    std::int64_t minInt = 0;         ///< Int: inclusive range
    std::int64_t maxInt = 0;
    double minDouble = 0;            ///< Double: inclusive range
    double maxDouble = 0;
    std::string_view choices;        ///< Enum: '|'-separated, lowercase
    bool nonEmpty = false;           ///< String: must not be empty
    bool secret = false;             ///< never echo the value in messages
};

/// Every key the relay knows, in documentation order.
std::span<const ConfigKeySpec> configSchema();
/// nullptr when unknown.
const ConfigKeySpec* findConfigKey(std::string_view key);

/// Per-plugin settings: every plugins.<name>.* key, grouped.
struct PluginSettings {
    bool enabled = true;
    std::map<std::string, std::string> values;  ///< key below plugins.<name>. -> raw value
};

struct RelayConfig {
    std::string configFile;                 ///< "" = built-in defaults only
    std::vector<std::string> configFiles;   ///< the files read, in order: configFile, then its conf.d layers
    BusConfig bus;
    HealthOptions health;
    HttpOptions http;
    WsOptions ws;
    bool stateEnabled = true;
    StateOptions state;                     ///< redis = bus.redis; instanceId, httpAddress filled in
    LoggingOptions logging;
    std::string instanceId;                 ///< relay.instance_id, default <hostname>:<http.port>
    std::vector<std::string> logMessages;   ///< relay.log_messages topic patterns
    std::vector<std::string> pluginDirs;
    std::map<std::string, PluginSettings> plugins;
    PluginHostOptions pluginHost;           ///< every plugins.* key, for the PluginHost
    /// Every key set by the file or -D, with its effective raw value (after -D precedence).
    std::map<std::string, std::string> explicitValues;
};

/// Loads `file` (a .properties file; empty = none) and the `conf.d/*.properties` files beside it
/// in name order (app/ConfigFiles.h), each later one winning, then applies `overrides` ("key=value",
/// in order, later wins), validates and builds the typed config. Throws ConfigError.
RelayConfig loadConfig(const std::string& file, const std::vector<std::string>& overrides);

/// Validates and builds from explicit key -> raw value pairs (what the file and -D produced).
/// hostname is used for the relay.instance_id default. Throws ConfigError.
RelayConfig buildConfig(const std::map<std::string, std::string>& values, const std::string& hostname);

/// The line used in error messages for `key = "value"` (control characters escaped, long values
/// shortened, secrets masked).
std::string describeSetting(std::string_view key, std::string_view value, bool secret = false);

}  // namespace nautilus::relay

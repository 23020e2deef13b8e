#pragma once
// The files behind `--config FILE`: FILE itself, then every `*.properties` file in the `conf.d`
// directory beside it, in name order, a later file winning. Packages and administrators add
// settings there without editing the main file (a conffile), so upgrades never ask about it.
// Plain functions, no state.
#include <map>
#include <string>
#include <vector>

namespace nautilus::relay {

/// FILE, then `<directory of FILE>/conf.d/*.properties` sorted by name (byte order). Hidden files
/// and other names (README, *.dpkg-dist, editor backups) are ignored; a missing conf.d is no error.
/// Empty for an empty `file`. Throws ConfigError when conf.d exists but cannot be listed.
std::vector<std::string> configFileChain(const std::string& file);

/// Reads the files in order; a key set by a later file replaces the earlier value.
/// Throws ConfigError naming the file that cannot be read or parsed.
std::map<std::string, std::string> readConfigFiles(const std::vector<std::string>& files);

/// For log lines: "a.properties + conf.d/10-x.properties", or "(built-in defaults)".
std::string describeConfigFiles(const std::vector<std::string>& files);

}  // namespace nautilus::relay

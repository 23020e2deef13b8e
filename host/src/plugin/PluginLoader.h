#pragma once
// Finds plugin files and opens them: dlopen, the entry symbol, the descriptor checks (size, ABI
// major, name). Everything before init(); duplicates, configuration and init() are the
// PluginHost's. Each failure comes back as one reason sentence for the refusal log line.
// Stateless; called on the thread that loads plugins.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nautilus_relay/plugin.h"
#include "plugin/PluginLibrary.h"

namespace nautilus::relay {

/// A plugin that opened and whose descriptor is acceptable; init() has not run.
struct OpenedPlugin {
    std::unique_ptr<PluginLibrary> library;
    const nr_plugin_info* info = nullptr;  ///< points into the library
    std::string name;
    std::string version;
    std::uint32_t abiVersion = 0;
};

/// A file the host did not load, and why. name is empty when the descriptor was not read.
struct PluginRefusal {
    std::string path;
    std::string name;
    std::string reason;
    std::int64_t atNs = 0;  ///< wall clock
};

class PluginLoader {
public:
    struct Result {
        std::unique_ptr<OpenedPlugin> plugin;  ///< set on success
        std::string name;                      ///< the descriptor's name, when it was read
        std::string reason;                    ///< set on failure
    };

    /// The files to try, in order: the explicit files, then every *.so in each directory (sorted
    /// by file name), directories in the order given. A missing directory is logged and skipped;
    /// a file reached twice (same real path) is tried once.
    static std::vector<std::string> candidates(const std::vector<std::string>& files,
                                               const std::vector<std::string>& dirs);

    /// Opens path and checks its descriptor. Never throws.
    static Result open(const std::string& path) noexcept;

    /// "1.0" for an nr ABI version number.
    static std::string abiText(std::uint32_t version);
};

}  // namespace nautilus::relay

#pragma once
// spdlog set-up shared by every part: named loggers ("relay", "relay.bus", "relay.http", ...)
// that all write to the same sinks (console and/or a rotating file), in text or JSON lines.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

namespace nautilus::relay {

struct LoggingOptions {
    std::string level = "info";     ///< trace, debug, info, warn, error, critical, off
    std::string format = "text";    ///< text or json
    std::string file;               ///< empty: console only
    std::size_t maxFileBytes = 50u * 1024 * 1024;
    std::size_t maxFiles = 5;
    bool console = true;            ///< also log to stderr when a file is set
};

class Logging {
public:
    /// Replaces the sinks of every existing and future logger. Throws spdlog::spdlog_ex on a bad file.
    static void configure(const LoggingOptions& options);
    /// Get or create a named logger that uses the configured sinks and default level.
    static std::shared_ptr<spdlog::logger> get(const std::string& name);
    /// Parses a level name; nullopt when unknown.
    static std::optional<spdlog::level::level_enum> parseLevel(std::string_view name);
    /// Sets one logger's level (creating it if needed). Returns false for an unknown level name.
    static bool setLevel(const std::string& name, std::string_view level);
    /// Sets the level of every logger, and of those created later (logging.level on reload).
    /// Returns false for an unknown level name.
    static bool setDefaultLevel(std::string_view level);
    /// Every known logger and its level name.
    static std::vector<std::pair<std::string, std::string>> list();
    static void flush();
};

}  // namespace nautilus::relay

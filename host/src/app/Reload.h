#pragma once
// What a configuration reload (SIGHUP) may change while the relay runs: the configuration in
// effect is compared with the one just read, key by key (effective values: explicit or default).
//   - logging.level: applied to every logger;
//   - plugins.<name>.enabled: a loaded plugin is paused (false) or resumed (true);
//   - any other changed key: reported as "restart required", the running value stays.
// Plain functions over RelayConfig; RelayServer::reload applies the plan.
#include <optional>
#include <string>
#include <vector>

#include "app/Config.h"

namespace nautilus::relay {

struct ReloadPlan {
    std::optional<std::string> loggingLevel;  ///< the new logging.level, when it changed
    std::vector<std::string> pluginsToPause;  ///< plugins.<name>.enabled turned false
    std::vector<std::string> pluginsToResume; ///< plugins.<name>.enabled turned true
    std::vector<std::string> restartRequired; ///< other changed keys, sorted

    bool empty() const
    {
        return !loggingLevel && pluginsToPause.empty() && pluginsToResume.empty() && restartRequired.empty();
    }
};

ReloadPlan planReload(const RelayConfig& running, const RelayConfig& next);

/// Makes `running` say what is now in effect for a key that was applied live (one of the plan's
/// logging.level or plugins.<name>.enabled keys), so the next reload compares against it.
void adoptLiveKey(RelayConfig& running, const RelayConfig& next, const std::string& key);

}  // namespace nautilus::relay

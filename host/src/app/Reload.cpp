#include "app/Reload.h"

#include <set>
#include <string_view>

namespace nautilus::relay {

namespace {

constexpr std::string_view kLevelKey = "logging.level";
constexpr std::string_view kPluginsPrefix = "plugins.";
constexpr std::string_view kEnabledSuffix = ".enabled";

/// The value in effect: the explicit one, else the schema default; nullopt for an unset plugin key.
std::optional<std::string> effective(const RelayConfig& cfg, const std::string& key)
{
    if (auto it = cfg.explicitValues.find(key); it != cfg.explicitValues.end()) {
        return it->second;
    }
    if (const ConfigKeySpec* spec = findConfigKey(key)) {
        return std::string(spec->defaultValue);
    }
    return std::nullopt;
}

/// "plugins.<name>.enabled" -> name; "" for any other key.
std::string enabledKeyPlugin(std::string_view key)
{
    if (!key.starts_with(kPluginsPrefix) || !key.ends_with(kEnabledSuffix) || findConfigKey(key) != nullptr) {
        return {};
    }
    const std::string_view name =
        key.substr(kPluginsPrefix.size(), key.size() - kPluginsPrefix.size() - kEnabledSuffix.size());
    return name.find('.') == std::string_view::npos ? std::string(name) : std::string();
}

bool pluginEnabled(const RelayConfig& cfg, const std::string& name)
{
    auto it = cfg.plugins.find(name);
    return it == cfg.plugins.end() || it->second.enabled;
}

}  // namespace

ReloadPlan planReload(const RelayConfig& running, const RelayConfig& next)
{
    std::set<std::string> keys;
    for (const auto* cfg : {&running, &next}) {
        for (const auto& [key, value] : cfg->explicitValues) {
            keys.insert(key);
        }
    }
    ReloadPlan plan;
    for (const auto& key : keys) {
        if (effective(running, key) == effective(next, key)) {
            continue;
        }
        // The live keys compare typed values, so "INFO" over "info" or "yes" over "true" is no change.
        if (key == kLevelKey) {
            if (running.logging.level != next.logging.level) {
                plan.loggingLevel = next.logging.level;
            }
            continue;
        }
        if (const std::string name = enabledKeyPlugin(key); !name.empty()) {
            const bool before = pluginEnabled(running, name);
            const bool after = pluginEnabled(next, name);
            if (before != after) {
                (after ? plan.pluginsToResume : plan.pluginsToPause).push_back(name);
            }
            continue;
        }
        plan.restartRequired.push_back(key);
    }
    return plan;
}

void adoptLiveKey(RelayConfig& running, const RelayConfig& next, const std::string& key)
{
    if (auto it = next.explicitValues.find(key); it != next.explicitValues.end()) {
        running.explicitValues[key] = it->second;
    } else {
        running.explicitValues.erase(key);
    }
    if (key == kLevelKey) {
        running.logging.level = next.logging.level;
    } else if (const std::string name = enabledKeyPlugin(key); !name.empty()) {
        PluginSettings& plugin = running.plugins[name];
        plugin.enabled = pluginEnabled(next, name);
        if (auto it = next.plugins.find(name); it != next.plugins.end() && it->second.values.count("enabled")) {
            plugin.values["enabled"] = it->second.values.at("enabled");
        } else {
            plugin.values.erase("enabled");
        }
    }
}

}  // namespace nautilus::relay

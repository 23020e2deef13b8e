#include <gtest/gtest.h>

#include <stdexcept>

#include "plugin/PluginOptions.h"

using namespace nautilus::relay;

namespace {

std::string errorOf(const PluginProperties& props, const std::string& plugin = "")
{
    try {
        auto s = PluginHostOptions::fromProperties(props);
        if (!plugin.empty()) {
            s.settingsFor(plugin);
        }
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return {};
}

}  // namespace

TEST(PluginOptionsTest, DefaultsAreBackpressureAndAutomaticRestart)
{
    const auto s = PluginHostOptions::fromProperties({});
    EXPECT_TRUE(s.dirs.empty());
    EXPECT_TRUE(s.files.empty());
    const auto p = s.settingsFor("any");
    EXPECT_TRUE(p.enabled);
    EXPECT_FALSE(p.required);
    EXPECT_EQ(p.fullPolicy, QueueFullPolicy::Block);
    EXPECT_EQ(p.queueCapacity, 10'000u);
    EXPECT_EQ(p.failureThreshold, 10u);
    EXPECT_TRUE(p.autoRestart);
    EXPECT_LT(p.handlerWarn, p.handlerFail);
}

TEST(PluginOptionsTest, HostWideDefaultsAreOverriddenPerPlugin)
{
    const auto s = PluginHostOptions::fromProperties({
        {"plugins.dirs", "/usr/lib/nautilus-relay/plugins, /usr/local/lib/nautilus-relay/plugins,"},
        {"plugins.full_policy", "drop"},
        {"plugins.queue_capacity", "50"},
        {"plugins.audit.full_policy", "block"},
        {"plugins.audit.failure_threshold", "0"},
        {"plugins.audit.handler_fail_ms", "0"},
        {"relay.other", "ignored"},
    });
    EXPECT_EQ(s.dirs, (std::vector<std::string>{"/usr/lib/nautilus-relay/plugins", "/usr/local/lib/nautilus-relay/plugins"}));
    const auto audit = s.settingsFor("audit");
    EXPECT_EQ(audit.fullPolicy, QueueFullPolicy::Block);
    EXPECT_EQ(audit.queueCapacity, 50u);
    EXPECT_EQ(audit.failureThreshold, 0u);
    EXPECT_EQ(audit.handlerFail.count(), 0);
    EXPECT_EQ(s.settingsFor("quotes").fullPolicy, QueueFullPolicy::Drop);
    EXPECT_EQ(s.properties.count("relay.other"), 0u);
}

TEST(PluginOptionsTest, ConfigForGivesThePluginItsOwnKeysOnly)
{
    const auto s = PluginHostOptions::fromProperties({
        {"plugins.audit.file", "/var/lib/audit.jsonl"},
        {"plugins.audit.option.depth", "5"},
        {"plugins.audit-2.file", "other"},
        {"plugins.dirs", "/x"},
    });
    EXPECT_EQ(s.configFor("audit"), (PluginProperties{{"file", "/var/lib/audit.jsonl"}, {"option.depth", "5"}}));
    EXPECT_TRUE(s.configFor("none").empty());
}

TEST(PluginOptionsTest, BadValuesNameTheKeyTheValueAndWhatIsAllowed)
{
    EXPECT_EQ(errorOf({{"plugins.full_policy", "sometimes"}}), "plugins.full_policy = 'sometimes': expected block or drop");
    EXPECT_EQ(errorOf({{"plugins.queue_capacity", "0"}}),
              "plugins.queue_capacity = '0': expected an integer from 1 to 100000000");
    EXPECT_EQ(errorOf({{"plugins.x.enabled", "maybe"}}, "x"), "plugins.x.enabled = 'maybe': expected true or false");
    EXPECT_EQ(errorOf({{"plugins.x.handler_warn_ms", "500"}, {"plugins.x.handler_fail_ms", "100"}}, "x"),
              "plugins.x.handler_fail_ms = '100': expected 0 or at least handler_warn_ms (500)");
    EXPECT_EQ(errorOf({{"plugins.queue_size", "5"}}), "plugins.queue_size: unknown key (plugin keys are plugins.<name>.<key>)");
    EXPECT_EQ(errorOf({{"plugins.x.full_policy", "drop"}}, "x"), "");
}

TEST(PluginOptionsTest, PluginNamesAreLowercaseLettersDigitsAndDashes)
{
    EXPECT_TRUE(isValidPluginName("order-audit"));
    EXPECT_TRUE(isValidPluginName("q2"));
    EXPECT_FALSE(isValidPluginName(""));
    EXPECT_FALSE(isValidPluginName("-x"));
    EXPECT_FALSE(isValidPluginName("Order"));
    EXPECT_FALSE(isValidPluginName("a.b"));
    EXPECT_FALSE(isValidPluginName("a_b"));
    EXPECT_FALSE(isValidPluginName(std::string(65, 'a')));
}

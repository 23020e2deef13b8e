// What a SIGHUP reload applies live (logging.level, plugins.<name>.enabled) and what it reports
// as "restart required".
#include "app/Reload.h"

#include <gtest/gtest.h>

namespace nautilus::relay {
namespace {

using Values = std::map<std::string, std::string>;

RelayConfig config(const Values& values)
{
    return buildConfig(values, "host-a");
}

TEST(ReloadTest, TheSameValuesGiveAnEmptyPlan)
{
    const Values v{{"http.port", "9000"}, {"plugins.a.enabled", "false"}, {"plugins.a.file", "x"}};
    EXPECT_TRUE(planReload(config(v), config(v)).empty());
}

TEST(ReloadTest, AKeySetToItsDefaultOrRespeltIsNoChange)
{
    EXPECT_TRUE(planReload(config({{"http.port", "8080"}}), config({})).empty());
    EXPECT_TRUE(planReload(config({}), config({{"logging.level", "INFO"}})).empty());
    EXPECT_TRUE(planReload(config({{"plugins.a.enabled", "yes"}}), config({{"plugins.a.enabled", "true"}})).empty());
}

TEST(ReloadTest, LoggingLevelIsAppliedLive)
{
    const ReloadPlan plan = planReload(config({}), config({{"logging.level", "Debug"}}));
    EXPECT_EQ(plan.loggingLevel, "debug");
    EXPECT_TRUE(plan.restartRequired.empty());
}

TEST(ReloadTest, PluginSwitchesPauseAndResume)
{
    const RelayConfig running = config({{"plugins.a.enabled", "true"}, {"plugins.b.enabled", "false"}});
    const RelayConfig next = config({{"plugins.a.enabled", "off"}, {"plugins.c.enabled", "false"}});
    const ReloadPlan plan = planReload(running, next);
    EXPECT_EQ(plan.pluginsToPause, (std::vector<std::string>{"a", "c"}));
    EXPECT_EQ(plan.pluginsToResume, std::vector<std::string>{"b"});  // its key is gone: enabled by default
    EXPECT_TRUE(plan.restartRequired.empty());
}

TEST(ReloadTest, EveryOtherChangedKeyNeedsARestart)
{
    const RelayConfig running = config({{"http.port", "9000"}, {"plugins.a.file", "x"}});
    const RelayConfig next =
        config({{"http.port", "9001"}, {"plugins.a.file", "y"}, {"plugins.dirs", "/p"}, {"logging.format", "json"}});
    const ReloadPlan plan = planReload(running, next);
    EXPECT_EQ(plan.restartRequired,
              (std::vector<std::string>{"http.port", "logging.format", "plugins.a.file", "plugins.dirs"}));
    EXPECT_FALSE(plan.loggingLevel);
}

TEST(ReloadTest, AnAdoptedKeyIsNotPlannedAgainButARestartKeyIs)
{
    RelayConfig running = config({});
    const RelayConfig next = config({{"logging.level", "warn"}, {"plugins.a.enabled", "false"}, {"http.port", "1"}});
    adoptLiveKey(running, next, "logging.level");
    adoptLiveKey(running, next, "plugins.a.enabled");
    EXPECT_EQ(running.logging.level, "warn");
    EXPECT_FALSE(running.plugins.at("a").enabled);

    const ReloadPlan again = planReload(running, next);
    EXPECT_FALSE(again.loggingLevel);
    EXPECT_TRUE(again.pluginsToPause.empty());
    EXPECT_EQ(again.restartRequired, std::vector<std::string>{"http.port"});

    // Back to the defaults: both are planned the other way.
    const ReloadPlan back = planReload(running, config({}));
    EXPECT_EQ(back.loggingLevel, "info");
    EXPECT_EQ(back.pluginsToResume, std::vector<std::string>{"a"});
}

}  // namespace
}  // namespace nautilus::relay

#include "app/Config.h"

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "support/Process.h"

namespace nautilus::relay {
namespace {

using Values = std::map<std::string, std::string>;

std::string errorOf(const Values& values)
{
    try {
        buildConfig(values, "host-a");
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "(no error)";
}

std::string sourceRoot()
{
    return NR_TEST_FIXTURES_DIR "/../..";
}

std::string readText(const std::string& path)
{
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(ConfigTest, DefaultsFollowTheDesignTable)
{
    const RelayConfig c = buildConfig({}, "host-a");
    EXPECT_EQ(c.bus.redis.host, "127.0.0.1");
    EXPECT_EQ(c.bus.redis.port, 6379);
    EXPECT_EQ(c.bus.redis.username, "");
    EXPECT_EQ(c.bus.redis.password, "");
    EXPECT_EQ(c.bus.redis.db, 0);
    EXPECT_EQ(c.bus.redis.connectTimeoutMs, 2000);
    EXPECT_EQ(c.bus.traderId, "TRADER-001");
    EXPECT_TRUE(c.bus.useTraderPrefix);
    EXPECT_TRUE(c.bus.useTraderId);
    EXPECT_EQ(c.bus.instanceId, "");
    EXPECT_FALSE(c.bus.useInstanceId);
    EXPECT_EQ(c.bus.streamsPrefix, "stream");
    EXPECT_TRUE(c.bus.streamPerTopic);
    EXPECT_TRUE(c.bus.streams.empty());
    EXPECT_EQ(c.bus.start, StartPosition::Checkpoint);
    EXPECT_EQ(c.bus.startFallback, StartPosition::Latest);
    EXPECT_EQ(c.bus.readCount, 1000);
    EXPECT_EQ(c.bus.blockMs, 500);
    EXPECT_EQ(c.bus.readTimeoutMs, 2000);
    EXPECT_EQ(c.bus.discoveryIntervalMs, 1000);
    EXPECT_EQ(c.bus.monitorIntervalMs, 1000);
    EXPECT_EQ(c.bus.staleAfterMs, 15000);
    EXPECT_TRUE(c.bus.tcpKeepAlive);
    EXPECT_EQ(c.bus.backoff.initialMs, 100);
    EXPECT_EQ(c.bus.backoff.maxMs, 2000);
    EXPECT_DOUBLE_EQ(c.bus.backoff.multiplier, 2.0);
    EXPECT_FALSE(c.health.requireHeartbeat);
    EXPECT_EQ(c.health.heartbeatTimeoutMs, 15000);
    EXPECT_EQ(c.health.maxLag, 100000);
    EXPECT_FALSE(c.health.readyWhenStale);
    EXPECT_EQ(c.health.readerAliveMs, 500 + 2000 + 1000);
    EXPECT_EQ(c.http.host, "127.0.0.1");
    EXPECT_EQ(c.http.port, 8080);
    EXPECT_EQ(c.http.threads, 4);
    EXPECT_EQ(c.http.adminToken, "");
    EXPECT_TRUE(c.stateEnabled);
    EXPECT_EQ(c.state.prefix, "nautilus-relay");
    EXPECT_EQ(c.state.refreshMs, 1000);
    EXPECT_EQ(c.state.registryTtlMs, 5000);
    EXPECT_EQ(c.state.checkpointIntervalMs, 1000);
    EXPECT_EQ(c.state.redis.address(), "127.0.0.1:6379");
    EXPECT_EQ(c.state.instanceId, "host-a:8080");
    EXPECT_EQ(c.state.httpAddress, "127.0.0.1:8080");
    EXPECT_EQ(c.instanceId, "host-a:8080");
    EXPECT_TRUE(c.logMessages.empty());
    // packaged directory, then the local one
    ASSERT_FALSE(c.pluginDirs.empty());
    EXPECT_TRUE(c.pluginDirs.front().ends_with("/nautilus-relay/plugins"));
    EXPECT_EQ(c.pluginDirs.back(), "/usr/local/lib/nautilus-relay/plugins");
    EXPECT_EQ(c.pluginHost.dirs, c.pluginDirs);
    EXPECT_EQ(c.pluginHost.defaults.fullPolicy, QueueFullPolicy::Block);
    EXPECT_EQ(c.pluginHost.defaults.queueCapacity, 10000u);
    EXPECT_TRUE(c.plugins.empty());
    EXPECT_EQ(c.logging.level, "info");
    EXPECT_EQ(c.logging.format, "text");
    EXPECT_EQ(c.logging.file, "");
    EXPECT_EQ(c.logging.maxFileBytes, 52428800u);
    EXPECT_EQ(c.logging.maxFiles, 5u);
}

TEST(ConfigTest, EverySchemaDefaultIsValidForItsOwnKey)
{
    Values all;
    for (const auto& spec : configSchema()) {
        all[std::string(spec.key)] = std::string(spec.defaultValue);
    }
    EXPECT_NO_THROW(buildConfig(all, "h"));
}

TEST(ConfigTest, ExplicitValuesReachTheTypedStructs)
{
    const RelayConfig c = buildConfig({{"bus.redis.host", "redis.internal"},
                                       {"bus.redis.port", "6380"},
                                       {"bus.redis.username", "relay"},
                                       {"bus.redis.password", "s3cret ${not.expanded}"},
                                       {"bus.redis.db", "3"},
                                       {"bus.trader_id", "TESTER-002"},
                                       {"bus.use_trader_prefix", "no"},
                                       {"bus.stream_per_topic", "FALSE"},
                                       {"bus.streams", " a:stream , b:* ,, "},
                                       {"bus.start", "Earliest"},
                                       {"bus.backoff.multiplier", "1.5"},
                                       {"bus.block_ms", "250"},
                                       {"bus.read_timeout_ms", "1000"},
                                       {"health.max_lag", "0"},
                                       {"http.host", "0.0.0.0"},
                                       {"http.port", "9090"},
                                       {"http.admin_token", "tok"},
                                       {"state.enabled", "off"},
                                       {"relay.instance_id", "relay-a"},
                                       {"relay.log_messages", "data.quotes.*, events.order.*"},
                                       {"plugins.dirs", "/opt/a,/opt/b"},
                                       {"logging.format", "JSON"},
                                       {"logging.level", "debug"}},
                                      "host-a");
    EXPECT_EQ(c.bus.redis.host, "redis.internal");
    EXPECT_EQ(c.bus.redis.port, 6380);
    EXPECT_EQ(c.bus.redis.username, "relay");
    EXPECT_EQ(c.bus.redis.password, "s3cret ${not.expanded}");
    EXPECT_EQ(c.bus.redis.db, 3);
    EXPECT_EQ(c.bus.traderId, "TESTER-002");
    EXPECT_FALSE(c.bus.useTraderPrefix);
    EXPECT_FALSE(c.bus.streamPerTopic);
    EXPECT_EQ(c.bus.streams, (std::vector<std::string>{"a:stream", "b:*"}));
    EXPECT_EQ(c.bus.start, StartPosition::Earliest);
    EXPECT_DOUBLE_EQ(c.bus.backoff.multiplier, 1.5);
    EXPECT_EQ(c.health.maxLag, 0);
    EXPECT_EQ(c.health.readerAliveMs, 250 + 1000 + 1000);
    EXPECT_EQ(c.http.port, 9090);
    EXPECT_EQ(c.http.adminToken, "tok");
    EXPECT_FALSE(c.stateEnabled);
    EXPECT_EQ(c.state.redis.address(), "redis.internal:6380");
    EXPECT_EQ(c.state.redis.password, "s3cret ${not.expanded}");
    EXPECT_EQ(c.state.httpAddress, "host-a:9090");  // a wildcard listen address is not reachable
    EXPECT_EQ(c.instanceId, "relay-a");
    EXPECT_EQ(c.state.instanceId, "relay-a");
    EXPECT_EQ(c.logMessages, (std::vector<std::string>{"data.quotes.*", "events.order.*"}));
    EXPECT_EQ(c.pluginDirs, (std::vector<std::string>{"/opt/a", "/opt/b"}));
    EXPECT_EQ(c.logging.format, "json");
    EXPECT_EQ(c.logging.level, "debug");
}

struct BadValue {
    const char* key;
    const char* value;
    const char* expected;
};

TEST(ConfigTest, EveryKindOfBadValueIsOneLineNamingKeyValueAndWhatIsAllowed)
{
    const BadValue cases[] = {
        {"bus.redis.port", "abc", R"(config error: bus.redis.port = "abc": expected an integer in 1..65535)"},
        {"bus.redis.port", "0", R"(config error: bus.redis.port = "0": expected an integer in 1..65535)"},
        {"bus.redis.port", "65536", R"(config error: bus.redis.port = "65536": expected an integer in 1..65535)"},
        {"bus.redis.port", "63.5", R"(config error: bus.redis.port = "63.5": expected an integer in 1..65535)"},
        {"bus.redis.port", "", R"(config error: bus.redis.port = "": expected an integer in 1..65535)"},
        {"bus.redis.port", "99999999999999999999",
         R"(config error: bus.redis.port = "99999999999999999999": expected an integer in 1..65535)"},
        {"bus.redis.db", "-1", R"(config error: bus.redis.db = "-1": expected an integer in 0..65535)"},
        {"http.threads", "0", R"(config error: http.threads = "0": expected an integer in 1..256)"},
        {"health.max_lag", "-5",
         R"(config error: health.max_lag = "-5": expected an integer in 0..9223372036854775807)"},
        {"bus.backoff.multiplier", "0.5",
         R"(config error: bus.backoff.multiplier = "0.5": expected a number in 1..10)"},
        {"bus.backoff.multiplier", "nan",
         R"(config error: bus.backoff.multiplier = "nan": expected a number in 1..10)"},
        {"bus.backoff.multiplier", "2x", R"(config error: bus.backoff.multiplier = "2x": expected a number in 1..10)"},
        {"bus.tcp_keepalive", "maybe", R"(config error: bus.tcp_keepalive = "maybe": expected true or false)"},
        {"state.enabled", "", R"(config error: state.enabled = "": expected true or false)"},
        {"bus.start", "newest",
         R"(config error: bus.start = "newest": expected one of latest, earliest, checkpoint)"},
        {"bus.start_fallback", "checkpoint",
         R"(config error: bus.start_fallback = "checkpoint": expected one of latest, earliest)"},
        {"logging.format", "xml", R"(config error: logging.format = "xml": expected one of text, json)"},
        {"logging.level", "verbose",
         R"(config error: logging.level = "verbose": expected one of trace, debug, info, warn, error, critical, off)"},
        {"bus.redis.host", "  ", R"(config error: bus.redis.host = "  ": expected a non-empty value)"},
        {"bus.trader_id", "", R"(config error: bus.trader_id = "": expected a non-empty value)"},
        {"bus.redis.port", "6379\nbus.redis.db=1",
         R"(config error: bus.redis.port = "6379\nbus.redis.db=1": expected an integer in 1..65535)"},
    };
    for (const auto& c : cases) {
        const std::string msg = errorOf({{c.key, c.value}});
        EXPECT_EQ(msg, c.expected) << c.key << " = " << c.value;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line only: " << msg;
    }
}

TEST(ConfigTest, RelationsBetweenKeysAreChecked)
{
    EXPECT_EQ(errorOf({{"bus.backoff.initial_ms", "500"}, {"bus.backoff.max_ms", "100"}}),
              R"(config error: bus.backoff.max_ms = "100": expected at least bus.backoff.initial_ms (500))");
    EXPECT_EQ(errorOf({{"state.refresh_ms", "5000"}}),
              R"(config error: state.registry_ttl_ms = "5000": expected more than state.refresh_ms (5000))");
}

TEST(ConfigTest, UnknownKeyIsRejectedWithASuggestion)
{
    EXPECT_EQ(errorOf({{"bus.redis.prot", "6380"}}),
              R"(config error: bus.redis.prot = "6380": unknown key (did you mean bus.redis.port?))");
    EXPECT_EQ(errorOf({{"redis.port", "6380"}}),
              R"(config error: redis.port = "6380": unknown key (did you mean bus.redis.port?))");
    EXPECT_EQ(errorOf({{"completely.different", "1"}}),
              R"(config error: completely.different = "1": unknown key (see docs/configuration.md))");
    EXPECT_EQ(errorOf({{"plugins.order-audit", "x"}}),
              R"(config error: plugins.order-audit = "x": unknown key (see docs/configuration.md))");
}

TEST(ConfigTest, UnknownKeyIsReportedBeforeBadValuesOfKnownKeys)
{
    EXPECT_EQ(errorOf({{"bus.redis.port", "abc"}, {"http.prot", "1"}}),
              R"(config error: http.prot = "1": unknown key (did you mean http.port?))");
}

TEST(ConfigTest, SecretsAreNeverEchoed)
{
    const std::string msg = errorOf({{"bus.redis.pasword", "hunter2"}});
    EXPECT_EQ(msg, R"(config error: bus.redis.pasword = "***": unknown key (did you mean bus.redis.password?))");
    EXPECT_EQ(msg.find("hunter2"), std::string::npos);
}

TEST(ConfigTest, PluginKeysBelongToThePlugins)
{
    const RelayConfig c = buildConfig({{"plugins.order-audit.enabled", "false"},
                                       {"plugins.order-audit.path", "/var/lib/audit"},
                                       {"plugins.quote-logger.option.depth", "5"},
                                       {"plugins.quote-logger.anything.goes", "here"}},
                                      "h");
    ASSERT_EQ(c.plugins.size(), 2u);
    EXPECT_FALSE(c.plugins.at("order-audit").enabled);
    EXPECT_EQ(c.plugins.at("order-audit").values.at("path"), "/var/lib/audit");
    EXPECT_TRUE(c.plugins.at("quote-logger").enabled);
    EXPECT_EQ(c.plugins.at("quote-logger").values.at("option.depth"), "5");
    EXPECT_EQ(c.plugins.at("quote-logger").values.at("anything.goes"), "here");

    EXPECT_EQ(errorOf({{"plugins.order-audit.enabled", "perhaps"}}),
              R"(config error: plugins.order-audit.enabled = "perhaps": expected true or false)");
    EXPECT_EQ(errorOf({{"plugins.dirs.extra", "x"}}),
              R"(config error: plugins.dirs.extra = "x": plugin names are 1-64 of a-z, 0-9 and '-', not starting with '-' (and not "dirs" or "files"))");
    EXPECT_EQ(errorOf({{"plugins.bad name.x", "1"}}),
              R"(config error: plugins.bad name.x = "1": plugin names are 1-64 of a-z, 0-9 and '-', not starting with '-' (and not "dirs" or "files"))");
}

TEST(ConfigTest, OverridesWinOverTheFileAndTheLastOverrideWins)
{
    test::TempDir dir;
    const std::string file = dir.write("relay.properties", "# comment\n"
                                                           "bus.redis.port = 6380\n"
                                                           "bus.trader_id: TESTER-001\n"
                                                           "http.port=9000\n"
                                                           "bus.redis.password = ${literal}\n");
    RelayConfig c = loadConfig(file, {});
    EXPECT_EQ(c.configFile, file);
    EXPECT_EQ(c.bus.redis.port, 6380);
    EXPECT_EQ(c.bus.traderId, "TESTER-001");
    EXPECT_EQ(c.http.port, 9000);
    EXPECT_EQ(c.bus.redis.password, "${literal}");

    c = loadConfig(file, {"bus.redis.port=6381", "http.port = 9001", "bus.redis.port=6382"});
    EXPECT_EQ(c.bus.redis.port, 6382);
    EXPECT_EQ(c.http.port, 9001);
    EXPECT_EQ(c.bus.traderId, "TESTER-001");
    EXPECT_EQ(c.explicitValues.at("bus.redis.port"), "6382");

    // -D values are validated like file values, and a -D can fix a bad file value.
    const std::string bad = dir.write("bad.properties", "bus.redis.port = abc\n");
    EXPECT_NO_THROW(loadConfig(bad, {"bus.redis.port=6379"}));
}

TEST(ConfigTest, FileAndOverrideErrorsAreOneLine)
{
    test::TempDir dir;
    const std::string unknown = dir.write("unknown.properties", "bus.redis.port = 6379\nhttp.prot = 1\n");
    try {
        loadConfig(unknown, {});
        FAIL() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_STREQ(e.what(), R"(config error: http.prot = "1": unknown key (did you mean http.port?))");
    }
    try {
        loadConfig("", {"bus.redis.port"});
        FAIL() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_STREQ(e.what(), R"(config error: -D "bus.redis.port": expected key=value)");
    }
    try {
        loadConfig("", {"bus.redis.port=abc"});
        FAIL() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_STREQ(e.what(), R"(config error: bus.redis.port = "abc": expected an integer in 1..65535)");
    }
    try {
        loadConfig(dir.path() + "/missing.properties", {});
        FAIL() << "no error";
    } catch (const ConfigError& e) {
        const std::string msg = e.what();
        EXPECT_EQ(msg.rfind("config error: cannot read config file \"" + dir.path() + "/missing.properties\"", 0), 0u)
            << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos);
    }
}

TEST(ConfigTest, ThePackagedFileListsEveryKeyWithItsDefaultAndLoads)
{
    const std::string path = sourceRoot() + "/etc/nautilus-relay.properties";
    const std::string text = readText(path);
    ASSERT_FALSE(text.empty()) << path;
    for (const auto& spec : configSchema()) {
        if (spec.key == "plugins.dirs") {  // the default depends on the install prefix
            EXPECT_NE(text.find("#plugins.dirs = "), std::string::npos);
            continue;
        }
        const std::string line = "#" + std::string(spec.key) + " =" +
                                 (spec.defaultValue.empty() ? "" : " " + std::string(spec.defaultValue)) + "\n";
        EXPECT_NE(text.find(line), std::string::npos) << "missing or wrong default: " << line;
    }
    EXPECT_NO_THROW(loadConfig(path, {}));

    // Uncommenting every assignment must give a valid file too (the defaults are valid values).
    std::string uncommented = std::regex_replace(text, std::regex("^#([a-z][a-z_.]+ =)", std::regex::multiline), "$1");
    test::TempDir dir;
    const std::string copy = dir.write("all.properties", uncommented);
    const RelayConfig c = loadConfig(copy, {});
    EXPECT_EQ(c.explicitValues.size(), configSchema().size());
}

TEST(ConfigTest, TheConfigurationDocDescribesEveryKey)
{
    const std::string text = readText(sourceRoot() + "/docs/configuration.md");
    ASSERT_FALSE(text.empty());
    for (const auto& spec : configSchema()) {
        EXPECT_NE(text.find("`" + std::string(spec.key) + "`"), std::string::npos) << spec.key;
    }
}

TEST(ConfigTest, SchemaKeysAreUniqueLowercaseAndDocumented)
{
    std::set<std::string_view> seen;
    for (const auto& spec : configSchema()) {
        EXPECT_TRUE(seen.insert(spec.key).second) << spec.key;
        EXPECT_TRUE(std::regex_match(std::string(spec.key), std::regex("[a-z][a-z0-9_.]*"))) << spec.key;
        EXPECT_FALSE(spec.doc.empty()) << spec.key;
        EXPECT_EQ(findConfigKey(spec.key), &spec);
    }
    EXPECT_EQ(findConfigKey("bus.redis"), nullptr);
}

TEST(ConfigTest, PluginHostWideKeysReachThePluginHost)
{
    const RelayConfig c = buildConfig({{"plugins.dirs", "/opt/p"},
                                       {"plugins.files", "/opt/x.so, /opt/y.so"},
                                       {"plugins.full_policy", "DROP"},
                                       {"plugins.queue_capacity", "5"},
                                       {"plugins.drain_timeout_ms", "300"},
                                       {"plugins.order-audit.queue_capacity", "7"}},
                                      "h");
    EXPECT_EQ(c.pluginHost.dirs, (std::vector<std::string>{"/opt/p"}));
    EXPECT_EQ(c.pluginHost.files, (std::vector<std::string>{"/opt/x.so", "/opt/y.so"}));
    EXPECT_EQ(c.pluginHost.defaults.fullPolicy, QueueFullPolicy::Drop);
    EXPECT_EQ(c.pluginHost.defaults.queueCapacity, 5u);
    EXPECT_EQ(c.pluginHost.drainTimeout.count(), 300);
    EXPECT_EQ(c.pluginHost.settingsFor("order-audit").queueCapacity, 7u);
    EXPECT_THROW(buildConfig({{"plugins.queue_capacity", "0"}}, "h"), ConfigError);
    EXPECT_THROW(buildConfig({{"plugins.Upper.x", "1"}}, "h"), ConfigError);
}

}  // namespace
}  // namespace nautilus::relay

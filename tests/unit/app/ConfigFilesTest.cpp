// conf.d layering: --config FILE, then <dir of FILE>/conf.d/*.properties in name order, then -D.
#include "app/ConfigFiles.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "app/Config.h"
#include "support/Process.h"

namespace nautilus::relay {
namespace {

namespace fs = std::filesystem;

struct ConfDir {
    test::TempDir dir;
    std::string main;

    explicit ConfDir(const std::string& mainText) : main(dir.write("relay.properties", mainText))
    {
        fs::create_directory(dir.path() + "/conf.d");
    }
    std::string add(const std::string& name, const std::string& text) const
    {
        return dir.write("conf.d/" + name, text);
    }
};

TEST(ConfigFilesTest, ConfDFilesAreLayeredInNameOrderOverTheMainFile)
{
    ConfDir c("http.port = 1000\nbus.trader_id = MAIN\n");
    const std::string b = c.add("20-b.properties", "http.port = 3000\n");
    const std::string a = c.add("10-a.properties", "http.port = 2000\nlogging.level = debug\n");

    const RelayConfig cfg = loadConfig(c.main, {});
    EXPECT_EQ(cfg.http.port, 3000);
    EXPECT_EQ(cfg.bus.traderId, "MAIN");
    EXPECT_EQ(cfg.logging.level, "debug");
    EXPECT_EQ(cfg.configFiles, (std::vector<std::string>{c.main, a, b}));
}

TEST(ConfigFilesTest, OverridesWinOverConfD)
{
    ConfDir c("http.port = 1000\n");
    c.add("10-a.properties", "http.port = 2000\n");
    EXPECT_EQ(loadConfig(c.main, {"http.port=4000"}).http.port, 4000);
}

TEST(ConfigFilesTest, OnlyVisiblePropertiesFilesAreRead)
{
    ConfDir c("http.port = 1000\n");
    // Each of these would be a config error if it were read.
    c.add("README", "this is not a key = 1\n");
    c.add("10-a.properties.dpkg-dist", "http.port = abc\n");
    c.add("10-a.properties~", "http.port = abc\n");
    c.add(".hidden.properties", "http.port = abc\n");
    fs::create_directory(c.dir.path() + "/conf.d/sub.properties");

    const RelayConfig cfg = loadConfig(c.main, {});
    EXPECT_EQ(cfg.http.port, 1000);
    EXPECT_EQ(cfg.configFiles, std::vector<std::string>{c.main});
}

TEST(ConfigFilesTest, ABadValueInAConfDFileIsAConfigError)
{
    ConfDir c("http.port = 1000\n");
    c.add("10-a.properties", "http.prot = 2000\n");
    try {
        loadConfig(c.main, {});
        FAIL() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_STREQ(e.what(), R"(config error: http.prot = "2000": unknown key (did you mean http.port?))");
    }
}

TEST(ConfigFilesTest, WithoutConfDOrWithoutAFileOnlyWhatIsGivenIsRead)
{
    test::TempDir dir;
    const std::string main = dir.write("relay.properties", "http.port = 1000\n");
    EXPECT_EQ(configFileChain(main), std::vector<std::string>{main});
    EXPECT_TRUE(configFileChain("").empty());
    EXPECT_TRUE(loadConfig("", {}).configFiles.empty());
}

TEST(ConfigFilesTest, ALaterFileReplacesAKeyOfAnEarlierOne)
{
    test::TempDir dir;
    const std::string a = dir.write("a.properties", "k = 1\nonly.a = x\n");
    const std::string b = dir.write("b.properties", "k = 2\n");
    const auto values = readConfigFiles({a, b});
    EXPECT_EQ(values.at("k"), "2");
    EXPECT_EQ(values.at("only.a"), "x");
    EXPECT_THROW(readConfigFiles({a, dir.path() + "/missing.properties"}), ConfigError);
}

TEST(ConfigFilesTest, DescriptionNamesTheLayersRelativeToTheMainFile)
{
    EXPECT_EQ(describeConfigFiles({}), "(built-in defaults)");
    EXPECT_EQ(describeConfigFiles({"/etc/nr/relay.properties", "/etc/nr/conf.d/10-a.properties"}),
              "/etc/nr/relay.properties + conf.d/10-a.properties");
}

}  // namespace
}  // namespace nautilus::relay

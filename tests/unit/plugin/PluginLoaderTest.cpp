// Loading real plugin files: every refusal path, with its exact reason and one log line, and the
// host carrying on with the good ones; directory scanning order.
#include <gtest/gtest.h>

#include <filesystem>

#include "plugin/PluginLoader.h"
#include "PluginTestSupport.h"

using namespace nautilus::relay;
using namespace nautilus::relay::test;
namespace fs = std::filesystem;

namespace {

const PluginRefusal* refusalFor(const std::vector<PluginRefusal>& refused, const std::string& path)
{
    for (const auto& r : refused) {
        if (r.path == path) {
            return &r;
        }
    }
    return nullptr;
}

}  // namespace

class PluginLoaderTest : public PluginHostFixture {};

TEST_F(PluginLoaderTest, RefusesEachBadFileWithItsReasonAndLoadsTheRest)
{
    use("not_a_plugin", "not-a-plugin");
    use("missing_entry", "missing-entry");
    use("abi_major_mismatch", "abi-major-mismatch");
    use("duplicate_a", "duplicate");
    use("duplicate_b", "duplicate");
    use("init_fails", "init-fails");
    use("good_collector", "good-collector");
    const auto report = load();

    EXPECT_EQ(report.loaded, (std::vector<std::string>{"duplicate", "good-collector"}));
    ASSERT_EQ(report.refused.size(), 5u);
    const std::vector<std::pair<std::string, std::string>> expected = {
        {"not_a_plugin", "not a shared object (no ELF header)"},
        {"missing_entry", "missing entry symbol nr_plugin_entry"},
        {"abi_major_mismatch", "built for ABI 2.0, host provides 1.x"},
        {"duplicate_b", "duplicate name 'duplicate', already loaded from " + fixturePlugin("duplicate_a")},
        {"init_fails", "init failed with NR_ERR_UNAVAILABLE: cannot open the database"},
    };
    for (const auto& [file, reason] : expected) {
        const PluginRefusal* r = refusalFor(report.refused, fixturePlugin(file));
        ASSERT_NE(r, nullptr) << file;
        EXPECT_EQ(r->reason, reason) << file;
        EXPECT_GT(r->atNs, 0);
        // One clear log line naming the file and the reason.
        EXPECT_EQ(log.count({"refused plugin", fixturePlugin(file), reason}), 1u) << file;
    }
    EXPECT_EQ(refusalFor(report.refused, fixturePlugin("init_fails"))->name, "init-fails");
    EXPECT_EQ(refusalFor(report.refused, fixturePlugin("not_a_plugin"))->name, "");
    EXPECT_EQ(host->refusals().size(), 5u);

    // init() set its state before failing: the host still called shutdown() to free it.
    EXPECT_EQ(lines("init-fails"), std::vector<std::string>{"shutdown"});

    // The host runs on with the good plugins.
    EXPECT_EQ(route("data.quotes.BINANCE.BTCUSDT", "QuoteTick"), 1u);
    ASSERT_TRUE(waitHandled("good-collector", 1));
    EXPECT_EQ(snap("good-collector").state, "running");
    EXPECT_EQ(snap("duplicate").version, "a");
    EXPECT_FALSE(host->snapshot("init-fails").has_value());
}

TEST_F(PluginLoaderTest, NewerMinorAbiLoadsAndSeesNewerServicesAbsent)
{
    use("abi_newer_minor", "abi-newer-minor");
    const auto report = load();
    ASSERT_EQ(report.loaded, std::vector<std::string>{"abi-newer-minor"});
    EXPECT_EQ(snap("abi-newer-minor").abi, "1.3");
    EXPECT_EQ(route("data.quotes.X"), 1u);
    ASSERT_TRUE(waitHandled("abi-newer-minor", 1));
    EXPECT_EQ(lines("abi-newer-minor"), (std::vector<std::string>{"future-service absent", "msg 1-0"}));
    EXPECT_EQ(log.count({"abi-newer-minor", "built for ABI 1.3, host provides 1.0"}), 1u);
}

TEST_F(PluginLoaderTest, ConstructorExceptionThroughCppLayerRefusesWithItsText)
{
    use("throws_from_handler", "throws-from-handler");
    props["plugins.throws-from-handler.throw_in_init"] = "true";
    const auto report = load();
    ASSERT_EQ(report.refused.size(), 1u);
    EXPECT_EQ(report.refused[0].reason, "init failed with NR_ERR_INVALID_ARGUMENT: bad settings");
    EXPECT_TRUE(report.loaded.empty());
}

TEST_F(PluginLoaderTest, BadPerPluginSettingRefusesThatPluginOnly)
{
    use("good_collector", "good-collector");
    use("duplicate_a", "duplicate");
    props["plugins.good-collector.full_policy"] = "sometimes";
    const auto report = load();
    EXPECT_EQ(report.loaded, std::vector<std::string>{"duplicate"});
    ASSERT_EQ(report.refused.size(), 1u);
    EXPECT_EQ(report.refused[0].reason,
              "bad configuration: plugins.good-collector.full_policy = 'sometimes': expected block or drop");
}

TEST_F(PluginLoaderTest, DisabledPluginIsSkippedAndRequiredMissingOnesAreReported)
{
    use("good_collector", "good-collector");
    use("duplicate_a", "duplicate");
    props["plugins.good-collector.enabled"] = "false";
    props["plugins.good-collector.required"] = "true";
    props["plugins.duplicate.required"] = "true";
    props["plugins.order-audit.required"] = "true";
    const auto report = load();
    EXPECT_EQ(report.loaded, std::vector<std::string>{"duplicate"});
    EXPECT_EQ(report.disabled, std::vector<std::string>{"good-collector"});
    EXPECT_EQ(report.requiredMissing, (std::vector<std::string>{"good-collector", "order-audit"}));
    EXPECT_FALSE(host->snapshot("good-collector").has_value());
    EXPECT_EQ(route("data.quotes.X"), 0u);  // duplicate_a does not subscribe
}

TEST_F(PluginLoaderTest, LoadsEverySharedObjectOfTheConfiguredDirectoriesInOrder)
{
    const std::string first = dir.path() + "/packaged";
    const std::string second = dir.path() + "/local";
    fs::create_directories(first);
    fs::create_directories(second);
    fs::copy_file(fixturePlugin("good_collector"), first + "/good_collector.so");
    fs::copy_file(fixturePlugin("not_a_plugin"), first + "/not_a_plugin.so");
    fs::copy_file(fixturePlugin("duplicate_b"), first + "/b_duplicate.so");
    fs::copy_file(fixturePlugin("duplicate_a"), second + "/a_duplicate.so");
    std::ofstream(first + "/README.txt") << "not a candidate";
    props["plugins.dirs"] = first + ", " + dir.path() + "/missing, " + second;
    props["plugins.good-collector.output"] = output("good-collector");
    auto pluginLog = Logging::get("relay.plugin");
    const auto level = pluginLog->level();
    pluginLog->set_level(spdlog::level::debug);  // a missing directory is logged at debug
    const auto report = load();
    pluginLog->set_level(level);

    // Directories in the order given, files sorted within each: packaged b_duplicate wins.
    EXPECT_EQ(report.loaded, (std::vector<std::string>{"duplicate", "good-collector"}));
    EXPECT_EQ(snap("duplicate").version, "b");
    ASSERT_EQ(report.refused.size(), 2u);
    EXPECT_EQ(report.refused[0].path, first + "/not_a_plugin.so");
    EXPECT_EQ(report.refused[1].path, second + "/a_duplicate.so");
    EXPECT_EQ(report.refused[1].reason, "duplicate name 'duplicate', already loaded from " + first + "/b_duplicate.so");
    EXPECT_EQ(log.count({"plugin directory", dir.path() + "/missing", "does not exist"}), 1u);
}

TEST(PluginLoaderCandidatesTest, ExplicitFilesComeFirstAndAFileIsTriedOnce)
{
    TempDir dir;
    fs::create_directories(dir.path() + "/d");
    std::ofstream(dir.path() + "/d/z.so") << "z";
    std::ofstream(dir.path() + "/d/a.so") << "a";
    std::ofstream(dir.path() + "/d/a.so.1") << "versioned: not a candidate";
    fs::create_directories(dir.path() + "/d/sub.so");  // a directory, not a file
    const auto files = PluginLoader::candidates({dir.path() + "/d/z.so"}, {dir.path() + "/d", dir.path() + "/d/"});
    EXPECT_EQ(files, (std::vector<std::string>{dir.path() + "/d/z.so", dir.path() + "/d/a.so"}));
}

TEST(PluginLoaderOpenTest, OpensAGoodPluginWithoutInitialisingIt)
{
    auto r = PluginLoader::open(fixturePlugin("good_collector"));
    ASSERT_TRUE(r.plugin) << r.reason;
    EXPECT_EQ(r.plugin->name, "good-collector");
    EXPECT_EQ(r.plugin->version, "1.2.3");
    EXPECT_EQ(r.plugin->abiVersion, NR_ABI_VERSION);
    EXPECT_EQ(r.plugin->library->path(), fixturePlugin("good_collector"));
}

TEST(PluginLoaderOpenTest, ReportsAMissingFile)
{
    auto r = PluginLoader::open("/nonexistent/plugin.so");
    EXPECT_FALSE(r.plugin);
    EXPECT_EQ(r.reason, "cannot be read");
}

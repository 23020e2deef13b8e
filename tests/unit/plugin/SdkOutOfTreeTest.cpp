// The SDK as plugin authors get it: install only the "sdk" component of this build tree into a
// temporary prefix, build sdk/template out of tree against it with find_package, load the result.
// Also: the package version refuses another major, and the pkg-config file is relocatable.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "PluginTestSupport.h"

using namespace nautilus::relay;
using namespace nautilus::relay::test;
namespace fs = std::filesystem;

namespace {

RunResult run(const std::string& binary, const std::vector<std::string>& args)
{
    auto r = runProcess(binary, args, std::chrono::seconds(120));
    EXPECT_FALSE(r.timedOut) << binary;
    return r;
}

}  // namespace

class SdkOutOfTreeTest : public PluginHostFixture {};

TEST_F(SdkOutOfTreeTest, TemplateBuildsAgainstTheInstalledSdkAndLoads)
{
    const std::string prefix = dir.path() + "/prefix";
    const std::string build = dir.path() + "/build";
    auto r = run(NR_CMAKE_COMMAND, {"--install", NR_BINARY_DIR, "--component", "sdk", "--prefix", prefix});
    ASSERT_TRUE(r.status.exited && r.status.code == 0) << r.out << r.err;
    for (const char* file : {"include/nautilus_relay/plugin.h", "include/nautilus_relay/plugin.hpp",
                             "include/nautilus_relay/testing/fake_host.hpp",
                             "share/cmake/NautilusRelaySDK/NautilusRelaySDKConfig.cmake",
                             "share/cmake/NautilusRelaySDK/NautilusRelaySDKConfigVersion.cmake",
                             "share/cmake/NautilusRelaySDK/NautilusRelaySDKTargets.cmake",
                             "share/cmake/NautilusRelaySDK/NautilusRelayAddPlugin.cmake",
                             "share/pkgconfig/nautilus-relay-sdk.pc", "share/doc/nautilus-relay-sdk/README.md",
                             "share/doc/nautilus-relay-sdk/template/CMakeLists.txt"}) {
        EXPECT_TRUE(fs::exists(prefix + "/" + file)) << file;
    }
    // Only the SDK: nothing of the host.
    EXPECT_FALSE(fs::exists(prefix + "/bin"));

    r = run(NR_CMAKE_COMMAND, {"-S", NR_SDK_TEMPLATE_DIR, "-B", build, "-G", NR_CMAKE_GENERATOR,
                               "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_PREFIX_PATH=" + prefix,
                               "-DCMAKE_C_COMPILER=" NR_C_COMPILER});
    ASSERT_TRUE(r.status.exited && r.status.code == 0) << r.out << r.err;
    r = run(NR_CMAKE_COMMAND, {"--build", build});
    ASSERT_TRUE(r.status.exited && r.status.code == 0) << r.out << r.err;
    const std::string plugin = build + "/my_plugin.so";
    ASSERT_TRUE(fs::exists(plugin));

    useFile(plugin);
    props["plugins.my-plugin.topic"] = "data.quotes.*";
    props["plugins.my-plugin.log_every"] = "2";
    const auto report = load();
    ASSERT_EQ(report.loaded, std::vector<std::string>{"my-plugin"});
    EXPECT_EQ(route("data.quotes.BINANCE.BTCUSDT"), 1u);
    EXPECT_EQ(route("data.trades.BINANCE.BTCUSDT"), 0u);
    EXPECT_EQ(route("data.quotes.BINANCE.ETHUSDT"), 1u);
    ASSERT_TRUE(waitHandled("my-plugin", 2));
    EXPECT_EQ(snap("my-plugin").errors, 0u);
    EXPECT_EQ(snap("my-plugin").abi, "1.0");
}

TEST_F(SdkOutOfTreeTest, PackageVersionRefusesAnotherMajorAndPkgConfigIsRelocatable)
{
    const std::string prefix = dir.path() + "/prefix";
    auto r = run(NR_CMAKE_COMMAND, {"--install", NR_BINARY_DIR, "--component", "sdk", "--prefix", prefix});
    ASSERT_TRUE(r.status.exited && r.status.code == 0) << r.out << r.err;

    // SameMajorVersion: an SDK 1.x does not satisfy find_package(NautilusRelaySDK 2).
    fs::create_directories(dir.path() + "/v2");
    std::ofstream(dir.path() + "/v2/CMakeLists.txt")
        << "cmake_minimum_required(VERSION 3.16)\nproject(v2 LANGUAGES NONE)\n"
           "find_package(NautilusRelaySDK 2 REQUIRED)\n";
    r = run(NR_CMAKE_COMMAND, {"-S", dir.path() + "/v2", "-B", dir.path() + "/v2/build", "-DCMAKE_PREFIX_PATH=" + prefix});
    EXPECT_FALSE(r.status.exited && r.status.code == 0);
    EXPECT_NE(r.err.find("NautilusRelaySDK"), std::string::npos) << r.err;

    if (!fs::exists("/usr/bin/pkg-config")) {
        GTEST_SKIP() << "pkg-config is not installed";
    }
    const std::string path = "PKG_CONFIG_PATH=" + prefix + "/share/pkgconfig";
    r = run("/usr/bin/env", {path, "pkg-config", "--modversion", "nautilus-relay-sdk"});
    ASSERT_TRUE(r.status.exited && r.status.code == 0) << r.err;
    EXPECT_EQ(r.out, "1.0\n");
    r = run("/usr/bin/env", {path, "pkg-config", "--cflags", "nautilus-relay-sdk"});
    ASSERT_TRUE(r.status.exited && r.status.code == 0) << r.err;
    const auto dashI = r.out.find("-I");
    ASSERT_NE(dashI, std::string::npos) << r.out;
    std::string include = r.out.substr(dashI + 2);
    include = include.substr(0, include.find_first_of(" \n"));
    EXPECT_TRUE(fs::exists(include + "/nautilus_relay/plugin.h")) << include;
}

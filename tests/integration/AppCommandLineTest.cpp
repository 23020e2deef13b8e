// The nautilus-relay binary's command line: version, help, configuration errors (exit 78 with
// one line on stderr), --check-config, stray arguments, a busy HTTP port.
#include <gtest/gtest.h>

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include "common/Version.h"
#include "support/Process.h"
#include "support/ProcessRelay.h"
#include "support/RedisServer.h"

namespace nautilus::relay {
namespace {

using namespace std::chrono_literals;
using test::relayBinary;
using test::runProcess;
using test::TempDir;

constexpr int kExitConfig = 78;

TEST(AppCommandLineTest, VersionPrintsNameAndVersion)
{
    for (const char* flag : {"--version", "-v"}) {
        const auto r = runProcess(relayBinary(), {flag});
        EXPECT_TRUE(r.status.exited) << r.status.describe();
        EXPECT_EQ(r.status.code, 0);
        EXPECT_EQ(r.out, std::string("nautilus-relay ") + kVersion + "\n");
    }
}

TEST(AppCommandLineTest, HelpListsOptionsAndKeys)
{
    const auto r = runProcess(relayBinary(), {"--help"});
    EXPECT_EQ(r.status.code, 0) << r.err;
    for (const char* text : {"--config", "--define", "--check-config", "--version", "--daemon", "--pidfile",
                             "bus.redis.port (6379)", "plugins.<name>.enabled"}) {
        EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
    }
}

TEST(AppCommandLineTest, BadValueStopsStartUpWithOneLine)
{
    const auto r = runProcess(relayBinary(), {"-D", "bus.redis.port=abc"}, 10s);
    EXPECT_TRUE(r.status.exited);
    EXPECT_EQ(r.status.code, kExitConfig) << r.err;
    EXPECT_EQ(r.err, "config error: bus.redis.port = \"abc\": expected an integer in 1..65535\n");
}

TEST(AppCommandLineTest, UnknownKeyInTheFileStopsStartUp)
{
    TempDir dir;
    const std::string file = dir.write("relay.properties", "bus.redis.port = 6379\nbus.redis.prot = 6380\n");
    const auto r = runProcess(relayBinary(), {"--config", file}, 10s);
    EXPECT_EQ(r.status.code, kExitConfig) << r.err;
    EXPECT_EQ(r.err, "config error: bus.redis.prot = \"6380\": unknown key (did you mean bus.redis.port?)\n");
}

TEST(AppCommandLineTest, MissingConfigFileIsAConfigError)
{
    const auto r = runProcess(relayBinary(), {"-c", "/nonexistent/relay.properties"}, 10s);
    EXPECT_EQ(r.status.code, kExitConfig) << r.err;
    EXPECT_EQ(r.err.rfind("config error: cannot read config file \"/nonexistent/relay.properties\"", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
}

TEST(AppCommandLineTest, CheckConfigValidatesAndExits)
{
    TempDir dir;
    const std::string good = dir.write("good.properties", "bus.redis.port = 6390\nplugins.audit.enabled = false\n");
    auto r = runProcess(relayBinary(), {"--config", good, "--check-config"}, 10s);
    EXPECT_EQ(r.status.code, 0) << r.err;
    EXPECT_EQ(r.out, "configuration OK\n");
    EXPECT_EQ(r.err, "");

    // The packaged file is valid as shipped.
    r = runProcess(relayBinary(), {"--config", NR_TEST_FIXTURES_DIR "/../../etc/nautilus-relay.properties",
                                   "--check-config"},
                   10s);
    EXPECT_EQ(r.status.code, 0) << r.err;

    r = runProcess(relayBinary(), {"--check-config", "--config", good, "-D", "logging.format=xml"}, 10s);
    EXPECT_EQ(r.status.code, kExitConfig);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "config error: logging.format = \"xml\": expected one of text, json\n");

    // -D overrides the file, the last -D wins.
    r = runProcess(relayBinary(), {"--check-config", "--config", good, "-D", "bus.redis.port=x", "-Dbus.redis.port=1"},
                   10s);
    EXPECT_EQ(r.status.code, 0) << r.err;
}

TEST(AppCommandLineTest, StrayArgumentsAndUnknownOptionsAreRejected)
{
    auto r = runProcess(relayBinary(), {"relay.properties"}, 10s);
    EXPECT_EQ(r.status.code, 64) << r.err;
    EXPECT_NE(r.err.find("unexpected argument \"relay.properties\""), std::string::npos) << r.err;

    r = runProcess(relayBinary(), {"--bogus"}, 10s);
    EXPECT_TRUE(r.status.exited);
    EXPECT_NE(r.status.code, 0);
    EXPECT_NE(r.err.find("bogus"), std::string::npos) << r.err;
}

TEST(AppCommandLineTest, BusyHttpPortFailsStartUpClearly)
{
    test::RedisServer redis;
    Poco::Net::ServerSocket taken(Poco::Net::SocketAddress("127.0.0.1", 0));
    auto settings = test::RelayProcess::defaults(redis);
    settings["http.port"] = std::to_string(taken.address().port());
    test::RelayProcess relay(settings);
    const auto status = relay.process().wait(15s);
    ASSERT_TRUE(status) << "the relay kept running on a busy port";
    EXPECT_TRUE(status->exited);
    EXPECT_EQ(status->code, 69) << relay.process().stderrText();
    EXPECT_NE(relay.process().stderrText().find("cannot listen on 127.0.0.1:" + std::to_string(taken.address().port())),
              std::string::npos)
        << relay.process().stderrText();
}

}  // namespace
}  // namespace nautilus::relay

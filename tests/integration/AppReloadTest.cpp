// The real binary with conf.d layers and SIGHUP: conf.d files override the main file, a reload
// applies logging.level and plugin switches live, names the keys that need a restart, keeps the
// running configuration when a file is bad; and systemd hears READY/RELOADING/STOPPING.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>

#include "support/HttpClient.h"
#include "support/ProcessRelay.h"
#include "support/RedisServer.h"

namespace nautilus::relay {
namespace {

using namespace std::chrono_literals;
using test::RedisServer;
using test::RelayProcess;
using JsonPtr = Poco::JSON::Object::Ptr;

const std::string kFixtures = NR_FIXTURE_PLUGIN_DIR;

/// A relay started on a config file of its own, so conf.d can exist before it starts.
struct LayeredRelay {
    test::TempDir dir;
    RelayProcess::Settings settings;
    int port = 0;
    std::string config;
    std::unique_ptr<test::Process> process;

    LayeredRelay(const RedisServer& redis, const RelayProcess::Settings& extra)
        : settings(RelayProcess::defaults(redis, extra))
    {
        port = std::stoi(settings.at("http.port"));
        std::string text;
        for (const auto& [k, v] : settings) {
            text += k + " = " + v + "\n";
        }
        config = dir.write("relay.properties", text);
        std::filesystem::create_directory(dir.path() + "/conf.d");
    }
    void layer(const std::string& name, const std::string& text) const { dir.write("conf.d/" + name, text); }
    void start() { process = std::make_unique<test::Process>(test::relayBinary(), std::vector<std::string>{"--config", config}); }
    bool serving() const
    {
        return test::waitForHttp("127.0.0.1", port, "/health/live", [](const test::HttpResult& r) { return r.status == 200; },
                                 15s)
                   .status == 200;
    }
    JsonPtr status() const
    {
        const auto r = test::httpGet("127.0.0.1", port, "/status");
        return r.status == 200 ? test::parseJsonObject(r.body) : nullptr;
    }
    std::string pluginState(const std::string& name) const
    {
        const JsonPtr s = status();
        const auto plugins = s ? s->getArray("plugins") : nullptr;
        for (std::size_t i = 0; plugins && i < plugins->size(); ++i) {
            const auto p = plugins->getObject(static_cast<unsigned>(i));
            if (p->getValue<std::string>("name") == name) {
                return p->getValue<std::string>("state");
            }
        }
        return "(absent)";
    }
    bool waitForPluginState(const std::string& name, const std::string& state) const
    {
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (pluginState(name) != state) {
            if (std::chrono::steady_clock::now() > deadline) {
                return false;
            }
            std::this_thread::sleep_for(20ms);
        }
        return true;
    }
    bool stopsCleanly()
    {
        process->signal(SIGTERM);
        const auto status = process->wait(10s);  // the 2 s stop budget is AppLifecycleTest's
        return status && status->exited && status->code == 0;
    }
};

TEST(AppReloadTest, ConfDFilesAreLayeredOverTheMainFile)
{
    RedisServer redis;
    LayeredRelay relay(redis, {{"relay.instance_id", "from-main-file"}});
    relay.layer("10-site.properties", "relay.instance_id = from-conf-d\n");
    relay.layer("README", "Not a properties file: never read.\n");
    relay.start();
    ASSERT_TRUE(relay.serving()) << relay.process->stderrText();

    const JsonPtr status = relay.status();
    ASSERT_TRUE(status);
    EXPECT_EQ(status->getValue<std::string>("instance"), "from-conf-d");
    EXPECT_NE(relay.process->stderrText().find(relay.config + " + conf.d/10-site.properties"), std::string::npos)
        << relay.process->stderrText();
    EXPECT_TRUE(relay.stopsCleanly());
}

TEST(AppReloadTest, SighupAppliesLevelAndPluginSwitchesAndNamesTheKeysThatNeedARestart)
{
    RedisServer redis;
    test::TempDir out;
    LayeredRelay relay(redis, {{"plugins.files", kFixtures + "/good_collector.so"},
                               {"plugins.good-collector.output", out.path() + "/collector.txt"}});
    relay.start();
    ASSERT_TRUE(relay.serving()) << relay.process->stderrText();
    ASSERT_TRUE(relay.waitForPluginState("good-collector", "running"));
    const int otherPort = test::freeLoopbackPort();

    relay.layer("50-ops.properties", "logging.level = debug\nplugins.good-collector.enabled = false\nhttp.port = " +
                                         std::to_string(otherPort) + "\n");
    relay.process->signal(SIGHUP);
    ASSERT_TRUE(relay.process->waitForStderr("restart required for http.port (", 5s)) << relay.process->stderrText();
    EXPECT_NE(relay.process->stderrText().find("logging.level is now debug"), std::string::npos);
    EXPECT_TRUE(relay.waitForPluginState("good-collector", "paused")) << relay.pluginState("good-collector");
    EXPECT_TRUE(relay.serving());  // still on the port it started with

    relay.layer("50-ops.properties", "plugins.good-collector.enabled = true\n");
    relay.process->signal(SIGHUP);
    ASSERT_TRUE(relay.process->waitForStderr("plugin good-collector enabled: resumed", 5s)) << relay.process->stderrText();
    EXPECT_TRUE(relay.waitForPluginState("good-collector", "running"));

    // A bad file: the running configuration stays and the relay serves on.
    relay.layer("60-typo.properties", "logging.levle = warn\n");
    relay.process->signal(SIGHUP);
    ASSERT_TRUE(relay.process->waitForStderr(
        R"(reload failed, the running configuration stays: config error: logging.levle = "warn": unknown key)", 5s))
        << relay.process->stderrText();
    EXPECT_TRUE(relay.serving());
    EXPECT_EQ(relay.pluginState("good-collector"), "running");
    EXPECT_TRUE(relay.stopsCleanly());
}

TEST(AppReloadTest, SystemdHearsReadyReloadingAndStopping)
{
    RedisServer redis;
    LayeredRelay relay(redis, {});
    const std::string socketPath = relay.dir.path() + "/notify";
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socketPath.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    const timeval timeout{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    auto next = [fd] {
        char buf[256];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("(nothing)");
    };

    ::setenv("NOTIFY_SOCKET", socketPath.c_str(), 1);  // inherited by the child only
    relay.start();
    ::unsetenv("NOTIFY_SOCKET");

    EXPECT_EQ(next(), "READY=1");
    EXPECT_TRUE(relay.serving());  // READY comes once REST is listening
    relay.process->signal(SIGHUP);
    EXPECT_EQ(next(), "RELOADING=1");
    EXPECT_EQ(next(), "READY=1");
    EXPECT_TRUE(relay.stopsCleanly());
    EXPECT_EQ(next(), "STOPPING=1");
    ::close(fd);
}

}  // namespace
}  // namespace nautilus::relay

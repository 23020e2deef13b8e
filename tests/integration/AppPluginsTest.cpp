// The real binary with fixture plugins: GET /plugins, /status "plugins", a restart over REST,
// a refused plugin listed with its reason while the relay runs on, and a required plugin that
// cannot load stopping start-up.
#include <csignal>
#include <fstream>
#include <iterator>
#include <thread>

#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>

#include "support/ProcessRelay.h"
#include "support/RedisServer.h"

namespace nautilus::relay {
namespace {

using namespace std::chrono_literals;
using test::RedisServer;
using test::RelayProcess;
using JsonPtr = Poco::JSON::Object::Ptr;

const std::string kFixtures = NR_FIXTURE_PLUGIN_DIR;

JsonPtr pluginNamed(const JsonPtr& holder, const std::string& name)
{
    if (!holder) {
        return nullptr;
    }
    const auto plugins = holder->getArray("plugins");
    for (std::size_t i = 0; plugins && i < plugins->size(); ++i) {
        const auto p = plugins->getObject(static_cast<unsigned>(i));
        if (p->getValue<std::string>("name") == name) {
            return p;
        }
    }
    return nullptr;
}

std::string fileText(const std::string& path)
{
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

std::int64_t handled(const JsonPtr& status)
{
    const auto p = pluginNamed(status, "good-collector");
    return p ? p->getValue<std::int64_t>("handled") : -1;
}

TEST(AppPluginsTest, PluginsAreListedRestartedAndARefusalDoesNotStopTheRelay)
{
    RedisServer redis;
    test::TempDir dir;
    auto settings = RelayProcess::defaults(redis);
    settings["plugins.files"] = kFixtures + "/good_collector.so," + kFixtures + "/abi_major_mismatch.so";
    settings["plugins.good-collector.output"] = dir.path() + "/collector.txt";
    RelayProcess relay(settings);
    ASSERT_TRUE(relay.waitUntilServing()) << relay.process().stderrText();

    const std::string key = "trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT";
    for (int i = 0; i < 5; ++i) {
        redis.command({"XADD", key, "*", "topic", "data.quotes.BINANCE.BTCUSDT", "type", "QuoteTick", "payload",
                       R"({"type":"QuoteTick","bid_price":")" + std::to_string(100 + i) + R"("})", "encoding",
                       "Json"});
    }
    const auto status = relay.waitForStatus([](const JsonPtr& s) { return handled(s) >= 5; }, 10s);
    ASSERT_EQ(handled(status), 5) << relay.process().stderrText();
    const auto inStatus = pluginNamed(status, "good-collector");
    EXPECT_EQ(inStatus->getValue<std::string>("state"), "running");
    EXPECT_EQ(inStatus->getValue<std::int64_t>("errors"), 0);
    EXPECT_TRUE(inStatus->has("queue"));
    EXPECT_TRUE(inStatus->has("version"));

    // GET /plugins: the running one and the refused one with its reason.
    auto r = relay.get("/plugins");
    ASSERT_EQ(r.status, 200) << r.body;
    const auto list = test::parseJsonObject(r.body);
    ASSERT_TRUE(pluginNamed(list, "good-collector")) << r.body;
    const auto plugins = list->getArray("plugins");
    bool sawRefused = false;
    for (std::size_t i = 0; i < plugins->size(); ++i) {
        const auto p = plugins->getObject(static_cast<unsigned>(i));
        if (p->getValue<std::string>("state") == "refused") {
            sawRefused = true;
            EXPECT_NE(p->getValue<std::string>("path").find("abi_major_mismatch.so"), std::string::npos);
            EXPECT_NE(p->getValue<std::string>("reason").find("ABI 2.0"), std::string::npos) << r.body;
        }
    }
    EXPECT_TRUE(sawRefused) << r.body;

    // GET /plugins/<name>
    r = relay.get("/plugins/good-collector");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(test::parseJsonObject(r.body)->getValue<std::int64_t>("handled"), 5);
    EXPECT_EQ(relay.get("/plugins/nope").status, 404);

    // POST restart (loopback = admin), then it still receives.
    r = relay.request("POST", "/plugins/good-collector/restart");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(test::parseJsonObject(r.body)->getValue<std::int64_t>("restarts"), 1);
    EXPECT_EQ(relay.request("GET", "/plugins/good-collector/restart").status, 405);
    redis.command({"XADD", key, "*", "topic", "data.quotes.BINANCE.BTCUSDT", "type", "QuoteTick", "payload",
                   R"({"type":"QuoteTick"})", "encoding", "Json"});
    EXPECT_EQ(handled(relay.waitForStatus([](const JsonPtr& s) { return handled(s) >= 6; }, 10s)), 6);

    // /metrics carries the per-plugin families.
    const std::string metrics = relay.get("/metrics").body;
    EXPECT_NE(metrics.find("plugin=\"good-collector\""), std::string::npos);

    EXPECT_TRUE(relay.process().running());
    relay.process().signal(SIGTERM);
    const auto exit = relay.process().wait(10s);
    ASSERT_TRUE(exit);
    EXPECT_EQ(exit->code, 0) << relay.process().stderrText();
}

TEST(AppPluginsTest, AHandlerThatNeverReturnsDoesNotHoldUpTheStop)
{
    RedisServer redis;
    test::TempDir dir;
    auto settings = RelayProcess::defaults(redis);
    settings["plugins.files"] = kFixtures + "/slow_handler.so";
    settings["plugins.slow-handler.sleep_ms"] = "600000";
    settings["plugins.slow-handler.output"] = dir.path() + "/slow.txt";
    RelayProcess relay(settings);
    ASSERT_TRUE(relay.waitUntilServing()) << relay.process().stderrText();
    redis.command({"XADD", "trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT", "*", "topic",
                   "data.quotes.BINANCE.BTCUSDT", "type", "QuoteTick", "payload", R"({"type":"QuoteTick"})",
                   "encoding", "Json"});
    ASSERT_TRUE(eventually([&] { return fileText(dir.path() + "/slow.txt").find("start") != std::string::npos; },
                                 10s));

    const auto t0 = std::chrono::steady_clock::now();
    relay.process().signal(SIGTERM);
    const auto exit = relay.process().wait(10s);
    const auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(exit) << "still running";
    EXPECT_TRUE(exit->exited && exit->code == 0) << relay.process().stderrText();
    // The relay's own stop (the budget is 2 s, plugins.stop_timeout_ms 1500 by default, and
    // this stop uses all of the plugins' share); the process exit comes on top.
    EXPECT_GE(test::reportedStopMs(relay.process().stderrText()), 0) << relay.process().stderrText();
    EXPECT_LT(test::reportedStopMs(relay.process().stderrText()), 2500) << relay.process().stderrText();
    EXPECT_LT(took, 5000ms) << relay.process().stderrText();
    const std::string err = relay.process().stderrText();
    EXPECT_NE(err.find("plugin slow-handler: a handler call has not returned for"), std::string::npos) << err;
    EXPECT_EQ(fileText(dir.path() + "/slow.txt").find("shutdown"), std::string::npos);
}

TEST(AppPluginsTest, ARequiredPluginThatIsRefusedStopsStartUp)
{
    RedisServer redis;
    auto settings = RelayProcess::defaults(redis);
    settings["plugins.files"] = kFixtures + "/abi_major_mismatch.so";
    settings["plugins.abi-major-mismatch.required"] = "true";
    RelayProcess relay(settings);
    const auto exit = relay.process().wait(15s);
    ASSERT_TRUE(exit) << "still running";
    EXPECT_NE(exit->code, 0);
    const std::string err = relay.process().stderrText();
    EXPECT_NE(err.find("required plugin"), std::string::npos) << err;
    EXPECT_NE(err.find("abi-major-mismatch"), std::string::npos) << err;
}

}  // namespace
}  // namespace nautilus::relay

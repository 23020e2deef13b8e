// GET /plugins, GET /plugins/<name>, POST /plugins/<name>/{restart,pause,resume} and the
// /status "plugins" array, against a real PluginHost with fixture plugins from the build tree.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include "http/RestApi.h"
#include "plugin/PluginHost.h"
#include "router/Router.h"

namespace nautilus::relay {
namespace {

Poco::JSON::Object::Ptr parse(const std::string& text)
{
    Poco::JSON::Parser parser;
    return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

class RestPluginsTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        PluginProperties props;
        props["plugins.files"] = std::string(NR_FIXTURE_PLUGIN_DIR) + "/good_collector.so," + NR_FIXTURE_PLUGIN_DIR +
                                 "/abi_major_mismatch.so";
        props["plugins.restart"] = "false";
        _host = std::make_unique<PluginHost>(PluginHostOptions::fromProperties(props), _router);
        const auto report = _host->load();
        ASSERT_EQ(report.loaded, std::vector<std::string>{"good-collector"});
        ASSERT_EQ(report.refused.size(), 1u);
    }
    void TearDown() override
    {
        if (_host) {
            _host->shutdown();
        }
    }

    RestApi api(std::string token = {}, bool withHost = true)
    {
        RestSources s;
        s.bus = [] { return BusSnapshot{}; };
        s.plugins = withHost ? _host.get() : nullptr;
        return RestApi(ServiceInfo{"host-a:8080", 1}, std::move(s), HealthOptions{}, std::move(token));
    }

    static RestResponse call(const RestApi& api, std::string_view method, std::string_view target,
                             bool loopback = true, std::string_view auth = {})
    {
        RestRequest r;
        r.method = method;
        r.target = target;
        r.peerIsLoopback = loopback;
        r.authorization = auth;
        return api.handle(r);
    }

    Router _router;
    std::unique_ptr<PluginHost> _host;
};

TEST_F(RestPluginsTest, ListsRunningAndRefusedPlugins)
{
    const auto r = call(api(), "GET", "/plugins");
    ASSERT_EQ(r.status, 200) << r.body;
    const auto plugins = parse(r.body)->getArray("plugins");
    ASSERT_EQ(plugins->size(), 2u) << r.body;
    const auto good = plugins->getObject(0);
    EXPECT_EQ(good->getValue<std::string>("name"), "good-collector");
    EXPECT_EQ(good->getValue<std::string>("state"), "running");
    EXPECT_FALSE(good->getValue<std::string>("version").empty());
    EXPECT_EQ(good->getValue<int>("handled"), 0);
    const auto refused = plugins->getObject(1);
    EXPECT_EQ(refused->getValue<std::string>("state"), "refused");
    EXPECT_NE(refused->getValue<std::string>("reason").find("ABI"), std::string::npos) << r.body;
    EXPECT_NE(refused->getValue<std::string>("path").find("abi_major_mismatch.so"), std::string::npos);
}

TEST_F(RestPluginsTest, OnePluginHasItsFigures)
{
    const auto r = call(api(), "GET", "/plugins/good-collector");
    ASSERT_EQ(r.status, 200) << r.body;
    const auto o = parse(r.body);
    EXPECT_EQ(o->getValue<std::string>("state"), "running");
    EXPECT_EQ(o->getValue<std::string>("abi").substr(0, 2), "1.");
    EXPECT_NE(o->getValue<std::string>("path").find("good_collector.so"), std::string::npos);
    for (const char* k : {"handled", "errors", "dropped", "restarts"}) {
        EXPECT_TRUE(o->has(k)) << k;
    }
    EXPECT_EQ(o->getObject("queue")->getValue<int>("depth"), 0);
    EXPECT_TRUE(o->getObject("handler_latency")->has("p99_s"));
    EXPECT_TRUE(o->isNull("last_error"));

    EXPECT_EQ(call(api(), "GET", "/plugins/nope").status, 404);
    EXPECT_EQ(call(api(), "GET", "/plugins/good-collector/other").status, 404);
    EXPECT_EQ(call(api(), "DELETE", "/plugins/good-collector").status, 405);
    EXPECT_EQ(call(api(), "POST", "/plugins").status, 405);
}

TEST_F(RestPluginsTest, PauseResumeRestart)
{
    auto r = call(api(), "GET", "/plugins/good-collector/pause");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.headers.at(0).second, "POST");

    r = call(api(), "POST", "/plugins/good-collector/pause");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(parse(r.body)->getValue<std::string>("state"), "paused");

    r = call(api(), "POST", "/plugins/good-collector/resume");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(parse(r.body)->getValue<std::string>("state"), "running");

    r = call(api(), "POST", "/plugins/good-collector/restart");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(parse(r.body)->getValue<std::string>("state"), "running");
    EXPECT_EQ(parse(r.body)->getValue<int>("restarts"), 1);

    EXPECT_EQ(call(api(), "POST", "/plugins/nope/restart").status, 404);

    // A stopped host rejects commands: 409 with the reason.
    _host->shutdown();
    r = call(api(), "POST", "/plugins/good-collector/restart");
    EXPECT_EQ(r.status, 409) << r.body;
    EXPECT_FALSE(parse(r.body)->getValue<std::string>("message").empty());
}

TEST_F(RestPluginsTest, CommandsAreAdminOnly)
{
    EXPECT_EQ(call(api(), "POST", "/plugins/good-collector/pause", false).status, 403);
    EXPECT_EQ(call(api("tok"), "POST", "/plugins/good-collector/pause", true).status, 401);
    EXPECT_EQ(call(api("tok"), "POST", "/plugins/good-collector/pause", false, "Bearer bad").status, 403);
    EXPECT_EQ(call(api("tok"), "POST", "/plugins/good-collector/pause", false, "Bearer tok").status, 200);
    // Reading is not admin.
    EXPECT_EQ(call(api("tok"), "GET", "/plugins/good-collector", false).status, 200);
}

TEST_F(RestPluginsTest, StatusListsThePlugins)
{
    const auto r = call(api(), "GET", "/status");
    ASSERT_EQ(r.status, 200);
    const auto plugins = parse(r.body)->getArray("plugins");
    ASSERT_EQ(plugins->size(), 2u) << r.body;
    const auto good = plugins->getObject(0);
    EXPECT_EQ(good->getValue<std::string>("name"), "good-collector");
    for (const char* k : {"version", "state", "handled", "errors", "queue"}) {
        EXPECT_TRUE(good->has(k)) << k;
    }
    EXPECT_EQ(plugins->getObject(1)->getValue<std::string>("state"), "refused");
}

TEST_F(RestPluginsTest, WithoutAHostTheListsAreEmpty)
{
    const auto a = api({}, false);
    const auto r = call(a, "GET", "/plugins");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(parse(r.body)->getArray("plugins")->size(), 0u);
    EXPECT_EQ(call(a, "GET", "/plugins/x").status, 404);
    EXPECT_EQ(call(a, "POST", "/plugins/x/restart").status, 404);
}

}  // namespace
}  // namespace nautilus::relay

#include "http/RestApi.h"

#include <stdexcept>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include "common/Logging.h"

namespace nautilus::relay {
namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kNow = 1'732'700'000'000 * kMs;

Poco::JSON::Object::Ptr parse(const std::string& text)
{
    Poco::JSON::Parser parser;
    return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

std::string header(const RestResponse& r, const std::string& name)
{
    for (const auto& [k, v] : r.headers) {
        if (k == name) {
            return v;
        }
    }
    return {};
}

struct Fixture {
    BusSnapshot bus;
    std::optional<StateHealth> state = StateHealth{};
    bool clusterFails = false;
    bool stateEnabled = true;

    RestApi api(std::string token = {})
    {
        RestSources s;
        s.bus = [this] { return bus; };
        if (stateEnabled) {
            s.state = [this] { return state; };
            s.cluster = [this]() -> std::vector<std::map<std::string, std::string>> {
                if (clusterFails) {
                    throw std::runtime_error("Connection refused");
                }
                return {{{"instance", "a:8080"}, {"state", "connected"}}};
            };
        }
        s.now = [] { return kNow; };
        HealthOptions h;
        return RestApi(ServiceInfo{"host-a:8080", kNow - 1000 * kMs}, std::move(s), h, std::move(token));
    }
};

RestResponse call(const RestApi& api, std::string_view method, std::string_view target, std::string_view body = {},
                  bool loopback = true, std::string_view auth = {})
{
    RestRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.peerIsLoopback = loopback;
    r.authorization = auth;
    return api.handle(r);
}

TEST(RestApiTest, StatusAndLiveAnswerWithJson)
{
    Fixture f;
    f.bus.state = BusState::Connected;
    const RestApi api = f.api();
    RestResponse r = call(api, "GET", "/status");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.contentType, "application/json");
    EXPECT_EQ(parse(r.body)->getObject("bus")->getValue<std::string>("state"), "connected");
    EXPECT_DOUBLE_EQ(parse(r.body)->getValue<double>("uptime_s"), 1.0);

    r = call(api, "GET", "/health/live");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"status":"live"})");

    r = call(api, "GET", "/status?pretty=1");  // queries are ignored
    EXPECT_EQ(r.status, 200);
}

TEST(RestApiTest, StatusWithoutStreamsKeepsTheCountAndUsesTheCheapSnapshot)
{
    Fixture f;
    for (int i = 0; i < 3; ++i) {
        StreamStatus st;
        st.key = "trader-TRADER-001:stream:data.quotes.S" + std::to_string(i);
        f.bus.streams.push_back(st);
    }
    RestApi api = f.api();
    auto full = parse(call(api, "GET", "/status").body)->getObject("bus");
    EXPECT_EQ(full->getArray("streams")->size(), 3u);
    EXPECT_EQ(full->getValue<int>("stream_count"), 3);

    // Without a summary source: the full snapshot, its list dropped, the count kept.
    for (const char* target : {"/status?streams=false", "/status?pretty=1&streams=0", "/status?streams=false#x"}) {
        const RestResponse r = call(api, "GET", target);
        ASSERT_EQ(r.status, 200) << target;
        const auto bus = parse(r.body)->getObject("bus");
        EXPECT_FALSE(bus->has("streams")) << target << " " << r.body;
        EXPECT_EQ(bus->getValue<int>("stream_count"), 3) << target;
    }
    EXPECT_TRUE(parse(call(api, "GET", "/status?streams=true").body)->getObject("bus")->has("streams"));

    const RestResponse bad = call(api, "GET", "/status?streams=no");
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(parse(bad.body)->getValue<std::string>("error"), "bad_request");
    EXPECT_NE(bad.body.find("streams must be true or false"), std::string::npos) << bad.body;

    // With one, ?streams=false asks it and not bus(): the relay's reader then copies no list.
    RestSources s;
    int fullCalls = 0;
    int summaryCalls = 0;
    s.bus = [&] {
        ++fullCalls;
        return f.bus;
    };
    s.busSummary = [&] {
        ++summaryCalls;
        BusSnapshot b;
        b.state = BusState::Connected;
        b.streamCount = 42;
        return b;
    };
    const RestApi withSummary(ServiceInfo{"host-a:8080", kNow}, std::move(s), HealthOptions{}, {});
    const auto bus = parse(call(withSummary, "GET", "/status?streams=false").body)->getObject("bus");
    EXPECT_EQ(bus->getValue<int>("stream_count"), 42);
    EXPECT_EQ(bus->getValue<std::string>("state"), "connected");
    EXPECT_EQ(summaryCalls, 1);
    EXPECT_EQ(fullCalls, 0);
}

TEST(RestApiTest, ReadyIs503WithTheFailingCheck)
{
    Fixture f;
    f.bus.state = BusState::Reconnecting;
    f.bus.lastPollNs = kNow;
    const RestApi api = f.api();
    RestResponse r = call(api, "GET", "/health/ready");
    EXPECT_EQ(r.status, 503);
    const auto o = parse(r.body);
    EXPECT_EQ(o->getValue<std::string>("status"), "not_ready");
    EXPECT_EQ(o->getArray("failed")->getElement<std::string>(0), "connected");

    f.bus.state = BusState::Connected;
    r = call(f.api(), "GET", "/health/ready");
    EXPECT_EQ(r.status, 200) << r.body;
}

TEST(RestApiTest, UnknownPathIs404WithJson)
{
    Fixture f;
    const RestResponse r = call(f.api(), "GET", "/nope?x=1");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.contentType, "application/json");
    EXPECT_EQ(r.body, R"({"error":"not_found","message":"no such endpoint","path":"/nope"})");
    EXPECT_EQ(call(f.api(), "GET", "/status/").status, 404);
    EXPECT_EQ(call(f.api(), "GET", "/admin/loggers/").status, 404);
}

TEST(RestApiTest, WrongMethodIs405WithAllow)
{
    Fixture f;
    const RestApi api = f.api();
    for (const char* path : {"/status", "/status/cluster", "/health/live", "/health/ready", "/metrics", "/admin/loggers"}) {
        for (const char* method : {"POST", "PUT", "DELETE", "HEAD", "PATCH"}) {
            const RestResponse r = call(api, method, path);
            EXPECT_EQ(r.status, 405) << method << ' ' << path;
            EXPECT_EQ(header(r, "Allow"), "GET");
            EXPECT_EQ(parse(r.body)->getValue<std::string>("error"), "method_not_allowed");
        }
    }
    const RestResponse r = call(api, "GET", "/admin/loggers/relay");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(header(r, "Allow"), "PUT");
    EXPECT_EQ(r.body,
              R"({"error":"method_not_allowed","message":"GET is not allowed on /admin/loggers/relay","allow":"PUT"})");
}

TEST(RestApiTest, ClusterListsInstancesOr503)
{
    Fixture f;
    RestResponse r = call(f.api(), "GET", "/status/cluster");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"instances":[{"instance":"a:8080","state":"connected"}]})");

    f.clusterFails = true;
    r = call(f.api(), "GET", "/status/cluster");
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(parse(r.body)->getValue<std::string>("error"), "redis_unavailable");
    EXPECT_NE(r.body.find("Connection refused"), std::string::npos);

    f.stateEnabled = false;
    r = call(f.api(), "GET", "/status/cluster");
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(parse(r.body)->getValue<std::string>("error"), "state_disabled");
}

TEST(RestApiTest, MetricsUsePrometheusContentType)
{
    Fixture f;
    f.bus.state = BusState::Stale;
    const RestResponse r = call(f.api(), "GET", "/metrics");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.contentType, "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_NE(r.body.find("nautilus_relay_ready 0\n"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("nautilus_relay_uptime_seconds 1\n"), std::string::npos);
}

TEST(RestApiTest, AdminFromLoopbackSetsLoggerLevels)
{
    Fixture f;
    const RestApi api = f.api();
    RestResponse r = call(api, "PUT", "/admin/loggers/relay.test.a", R"({"level":"debug"})");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"({"name":"relay.test.a","level":"debug"})");
    EXPECT_EQ(Logging::get("relay.test.a")->level(), spdlog::level::debug);

    r = call(api, "PUT", "/admin/loggers/relay.test.a", "  WARNING\n");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"({"name":"relay.test.a","level":"warning"})");
    EXPECT_EQ(Logging::get("relay.test.a")->level(), spdlog::level::warn);

    r = call(api, "PUT", "/admin/loggers/relay.test.a", R"("error")");
    EXPECT_EQ(r.status, 200) << r.body;

    r = call(api, "GET", "/admin/loggers");
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find(R"({"name":"relay.test.a","level":"error"})"), std::string::npos) << r.body;
}

TEST(RestApiTest, BadLevelsAndNamesAre400)
{
    Fixture f;
    const RestApi api = f.api();
    RestResponse r = call(api, "PUT", "/admin/loggers/relay", R"({"level":"loud"})");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body, R"({"error":"bad_request","message":"unknown level \"loud\"; expected one of trace, debug, info, warn, error, critical, off"})");
    EXPECT_EQ(call(api, "PUT", "/admin/loggers/relay", R"({"lvl":"debug"})").status, 400);
    EXPECT_EQ(call(api, "PUT", "/admin/loggers/relay", R"({"level":3})").status, 400);
    EXPECT_EQ(call(api, "PUT", "/admin/loggers/relay", R"({"level":)").status, 400);
    EXPECT_EQ(call(api, "PUT", "/admin/loggers/relay", "").status, 400);
    EXPECT_EQ(call(api, "PUT", "/admin/loggers/bad%20name", "debug").status, 400);
    EXPECT_EQ(call(api, "PUT", "/admin/loggers/" + std::string(200, 'a'), "debug").status, 400);
}

TEST(RestApiTest, AdminIsLoopbackOnlyWithoutAToken)
{
    Fixture f;
    const RestApi api = f.api();
    RestResponse r = call(api, "GET", "/admin/loggers", {}, false);
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(parse(r.body)->getValue<std::string>("error"), "forbidden");
    EXPECT_EQ(call(api, "PUT", "/admin/loggers/relay", "debug", false).status, 403);
    // Non-admin endpoints answer everyone.
    EXPECT_EQ(call(api, "GET", "/status", {}, false).status, 200);
}

TEST(RestApiTest, AdminTokenIsRequiredFromEveryoneWhenSet)
{
    Fixture f;
    const RestApi api = f.api("s3cret");
    RestResponse r = call(api, "GET", "/admin/loggers", {}, true);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(header(r, "WWW-Authenticate"), R"(Bearer realm="nautilus-relay")");
    EXPECT_EQ(call(api, "GET", "/admin/loggers", {}, false, "Basic czNjcmV0").status, 401);
    EXPECT_EQ(call(api, "GET", "/admin/loggers", {}, false, "Bearer wrong").status, 403);
    EXPECT_EQ(call(api, "GET", "/admin/loggers", {}, false, "Bearer s3cre").status, 403);
    EXPECT_EQ(call(api, "GET", "/admin/loggers", {}, false, "Bearer s3cret").status, 200);
    EXPECT_EQ(call(api, "GET", "/admin/loggers", {}, false, "bearer  s3cret ").status, 200);
    EXPECT_EQ(call(api, "PUT", "/admin/loggers/relay.test.b", "info", false, "Bearer s3cret").status, 200);
}

}  // namespace
}  // namespace nautilus::relay

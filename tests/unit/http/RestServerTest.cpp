// RestServer over real loopback sockets, with fake sources (no Redis).
#include "http/RestServer.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include <Poco/Net/NetException.h>
#include <gtest/gtest.h>

#include "common/Time.h"
#include "support/HttpClient.h"

namespace nautilus::relay {
namespace {

using test::HttpClient;

BusSnapshot bigSnapshot(std::size_t streams)
{
    BusSnapshot b;
    b.state = BusState::Connected;
    b.sinceNs = wallNowNs();
    b.redis = "127.0.0.1:6379";
    b.lastPollNs = wallNowNs();
    for (std::size_t i = 0; i < streams; ++i) {
        StreamStatus s;
        s.key = "trader-TRADER-001:stream:data.quotes.BINANCE.SYM" + std::to_string(i);
        s.lastId = StreamId{1732700000000 + i, i};
        s.lag = 0;
        s.received = i * 1000;
        b.streams.push_back(s);
    }
    return b;
}

struct Server {
    HttpOptions options;
    std::unique_ptr<RestServer> server;
    BusSnapshot bus = bigSnapshot(3);

    explicit Server(int threads = 4)
    {
        options.host = "127.0.0.1";
        options.port = 0;
        options.threads = threads;
        RestSources s;
        s.bus = [this] {
            BusSnapshot b = bus;
            b.lastPollNs = wallNowNs();
            return b;
        };
        server = std::make_unique<RestServer>(options, std::make_shared<const RestApi>(ServiceInfo{"t", wallNowNs()},
                                                                                       s, HealthOptions{}, ""));
        server->start();
    }
    int port() const { return server->port(); }
};

TEST(RestServerTest, ServesJsonOverKeepAlive)
{
    Server s;
    HttpClient client("127.0.0.1", s.port());
    auto r = client.get("/status");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.contentType, "application/json");
    EXPECT_EQ(r.header("cache-control"), "no-store");
    EXPECT_NE(r.body.find("\"service\":\"nautilus-relay\""), std::string::npos);
    r = client.get("/health/ready");  // same connection
    EXPECT_EQ(r.status, 200) << r.body;
    r = client.get("/nope");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.body, R"({"error":"not_found","message":"no such endpoint","path":"/nope"})");
    r = client.request("POST", "/status", "x");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.header("allow"), "GET");
    r = client.get("/metrics");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.contentType, "text/plain; version=0.0.4; charset=utf-8");
}

TEST(RestServerTest, AdminFromLoopbackAndOversizedBodies)
{
    Server s;
    HttpClient client("127.0.0.1", s.port());
    auto r = client.request("PUT", "/admin/loggers/relay.servertest", R"({"level":"debug"})");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"({"name":"relay.servertest","level":"debug"})");
    r = test::httpRequest("127.0.0.1", s.port(), "PUT", "/admin/loggers/relay", std::string(10000, 'x'));
    EXPECT_EQ(r.status, 413);
}

TEST(RestServerTest, BusyPortIsAClearError)
{
    Server s;
    HttpOptions o;
    o.host = "127.0.0.1";
    o.port = s.port();
    RestSources src;
    src.bus = [] { return BusSnapshot{}; };
    RestServer second(o, std::make_shared<const RestApi>(ServiceInfo{}, src, HealthOptions{}, ""));
    try {
        second.start();
        FAIL() << "second bind succeeded";
    } catch (const Poco::Exception& e) {
        EXPECT_NE(e.displayText().find("cannot listen on 127.0.0.1:" + std::to_string(s.port())), std::string::npos)
            << e.displayText();
    }
}

TEST(RestServerTest, StopIsPromptWithIdleKeepAliveConnectionsOpen)
{
    Server s;
    HttpClient a("127.0.0.1", s.port());
    HttpClient b("127.0.0.1", s.port());
    EXPECT_EQ(a.get("/health/live").status, 200);
    EXPECT_EQ(b.get("/health/live").status, 200);
    const auto t0 = std::chrono::steady_clock::now();
    s.server->stop();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(ms, 1000);
    EXPECT_THROW(test::httpGet("127.0.0.1", s.port(), "/health/live"), Poco::Exception);
}

std::pair<std::int64_t, std::int64_t> percentiles(std::vector<std::int64_t> us)
{
    std::sort(us.begin(), us.end());
    return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

TEST(RestServerTest, StatusIsRenderedFastWithManyStreams)
{
    // The handler cost itself (snapshot copy + JSON), without sockets: the part the server adds
    // to every /status while the bus runs.
    const BusSnapshot bus = bigSnapshot(200);
    RestSources s;
    s.bus = [&bus] { return bus; };
    const RestApi api(ServiceInfo{"t", wallNowNs()}, s, HealthOptions{}, "");
    RestRequest req;
    req.method = "GET";
    req.target = "/status";
    std::vector<std::int64_t> us;
    for (int i = 0; i < 2000; ++i) {
        const std::int64_t t0 = monoNowNs();
        const RestResponse r = api.handle(req);
        us.push_back((monoNowNs() - t0) / 1000);
        ASSERT_EQ(r.status, 200);
    }
    const auto [p50, p99] = percentiles(us);
    std::printf("RestApi /status with 200 streams (copy + render): p50 %lld us, p99 %lld us\n",
                static_cast<long long>(p50), static_cast<long long>(p99));
#if defined(__SANITIZE_ADDRESS__) || !defined(NDEBUG)
    EXPECT_LT(p50, 20000);  // unoptimised sanitizer build: only catch gross regressions
#else
    EXPECT_LT(p50, 1000);
#endif
}

TEST(RestServerTest, StatusRoundTripOverLoopback)
{
    Server s(4);
    s.bus = bigSnapshot(200);
    HttpClient client("127.0.0.1", s.port());
    std::vector<std::int64_t> us;
    for (int i = 0; i < 500; ++i) {
        const std::int64_t t0 = monoNowNs();
        const auto r = client.get("/status");
        us.push_back((monoNowNs() - t0) / 1000);
        ASSERT_EQ(r.status, 200);
    }
    const auto [p50, p99] = percentiles(us);
    std::printf("GET /status round trip with 200 streams, keep-alive: p50 %lld us, p99 %lld us\n",
                static_cast<long long>(p50), static_cast<long long>(p99));
    // Generous: sanitizer builds on a shared 2-core machine. Release figures: docs/rest.md.
    EXPECT_LT(p50, 20000);
}

}  // namespace
}  // namespace nautilus::relay

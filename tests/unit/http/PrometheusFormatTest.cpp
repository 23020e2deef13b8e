// /metrics must be valid Prometheus text exposition format 0.0.4 whatever the stream keys and
// topics contain: checked here with a strict line-by-line validator.
#include <gtest/gtest.h>

#include "common/Metrics.h"
#include "http/JsonWriter.h"
#include "http/RestApi.h"
#include "http/StatusMetrics.h"
#include "support/HttpExposition.h"

namespace nautilus::relay {
namespace {

TEST(PrometheusFormatTest, TheValidatorCatchesBrokenOutput)
{
    EXPECT_EQ(test::validateExposition("# TYPE a counter\na 1\n"), "");
    EXPECT_NE(test::validateExposition("a 1\n"), "");                                        // no TYPE
    EXPECT_NE(test::validateExposition("# TYPE a counter\na{x=\"1\n"), "");                  // unterminated
    EXPECT_NE(test::validateExposition("# TYPE a counter\na 1\n# TYPE b gauge\nb 1\na 2\n"), "");  // split family
    EXPECT_NE(test::validateExposition("# TYPE a counter\na{x=\"\\q\"} 1\n"), "");           // bad escape
    EXPECT_NE(test::validateExposition("# TYPE a counter\na 1\na 2\n"), "");                 // duplicate
    EXPECT_NE(test::validateExposition("# TYPE a counter\na one\n"), "");
}

TEST(PrometheusFormatTest, MetricsEndpointIsWellFormedWithHostileNames)
{
    auto& registry = MetricsRegistry::global();
    registry.counter("nautilus_relay_test_total", "A test counter.", "topic=\"" + promLabelValue("a\"b\\c\nd\xff") + "\"")
        .inc(3);
    registry.histogram("nautilus_relay_test_seconds", "A test histogram.").observeNs(1500);
    registry.gauge("nautilus_relay_test_gauge", "A test gauge.", "queue=\"q1\"").set(0.25);

    BusSnapshot bus;
    bus.state = BusState::Connected;
    bus.received = 10;
    for (const char* key : {"trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT", "k\"with\\quotes\nand newline",
                            "bad\xC3utf8", "币安人生USDT"}) {
        StreamStatus s;
        s.key = key;
        s.lag = 3;
        s.received = 5;
        bus.streams.push_back(s);
    }
    StreamStatus unknownLag;
    unknownLag.key = "no-lag";
    bus.streams.push_back(unknownLag);

    RestSources sources;
    sources.bus = [&] { return bus; };
    sources.state = [] { return std::optional<StateHealth>(StateHealth{}); };
    const RestApi api(ServiceInfo{"host \"a\"", 1}, sources, HealthOptions{}, {});
    RestRequest req;
    req.method = "GET";
    req.target = "/metrics";
    const RestResponse r = api.handle(req);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(test::validateExposition(r.body), "") << r.body;

    EXPECT_NE(r.body.find("nautilus_relay_bus_streams 5\n"), std::string::npos);
    EXPECT_NE(r.body.find("nautilus_relay_bus_max_lag 3\n"), std::string::npos);
    EXPECT_NE(r.body.find("nautilus_relay_ready 0\n"), std::string::npos);  // no XREAD yet
    EXPECT_NE(r.body.find("nautilus_relay_test_total{topic=\"a\\\"b\\\\c\\nd\xEF\xBF\xBD\"} 3\n"),
              std::string::npos);
    EXPECT_NE(r.body.find("nautilus_relay_test_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos);
    EXPECT_NE(r.body.find("process_resident_memory_bytes "), std::string::npos);
    EXPECT_EQ(r.body.find("process_resident_memory_bytes 0\n"), std::string::npos);
    EXPECT_NE(r.body.find("nautilus_relay_info{version=\""), std::string::npos);
    EXPECT_NE(r.body.find("nautilus_relay_info{version=\"0.1.0\",instance=\"host \\\"a\\\"\"} 1\n"),
              std::string::npos);
    EXPECT_NE(r.body.find("nautilus_relay_state_enabled 1\n"), std::string::npos);
}

TEST(PrometheusFormatTest, LongLabelValuesAreCutAtACharacterBoundary)
{
    const std::string v = promLabelValue(std::string(10, 'a') + "€€€", 12);  // € is 3 bytes
    EXPECT_EQ(v, std::string(10, 'a'));
    EXPECT_GT(processResidentBytes(), 0u);
}

}  // namespace
}  // namespace nautilus::relay

// The plugin host with real plugins: delivery, config, failure containment, deadlines,
// restarts, pause/resume, publish, metrics and shutdown.
#include <gtest/gtest.h>

#include "common/Metrics.h"
#include "PluginTestSupport.h"

using namespace nautilus::relay;
using namespace nautilus::relay::test;

class PluginHostTest : public PluginHostFixture {};

TEST_F(PluginHostTest, GoodPluginReceivesExactlyTheMessagesItsSubscriptionMatchesInOrder)
{
    use("good_collector", "good-collector");
    props["plugins.good-collector.topic"] = "data.*";
    props["plugins.good-collector.types"] = "QuoteTick, TradeTick";
    props["plugins.good-collector.greeting"] = "hello";
    props["plugins.other.greeting"] = "not mine";
    ASSERT_EQ(load().loaded, std::vector<std::string>{"good-collector"});

    std::vector<std::string> expected;
    int matching = 0;
    for (int i = 1; i <= 60; ++i) {
        const std::string id = std::to_string(i) + "-0";
        std::size_t delivered = 0;
        switch (i % 6) {
        case 0: delivered = route("data.quotes.BINANCE.BTCUSDT", "QuoteTick", id, "{\"bid\":" + std::to_string(i) + "}"); break;
        case 1: delivered = route("data.trades.BINANCE.ETHUSDT", "TradeTick", id, "[" + std::to_string(i) + "]"); break;
        case 2: delivered = route("data.bars.BINANCE.BTCUSDT", "Bar", id); break;          // type not subscribed
        case 3: delivered = route("events.order.S-001", "QuoteTick", id); break;           // topic not matched
        case 4: delivered = route(std::string(kHeartbeatTopic), "", id, "\"2026-01-01T00:00:00Z\""); break;
        case 5: delivered = route("data.quotes.BINANCE.BTCUSDT", "", id); break;           // no type
        }
        if (i % 6 == 0) {
            expected.push_back("msg trader-TRADER-001:stream|" + id + "|data.quotes.BINANCE.BTCUSDT|QuoteTick|json|"
                               "1732700000000000000|{\"bid\":" + std::to_string(i) + "}");
        } else if (i % 6 == 1) {
            expected.push_back("msg trader-TRADER-001:stream|" + id + "|data.trades.BINANCE.ETHUSDT|TradeTick|json|"
                               "1732700000000000000|[" + std::to_string(i) + "]");
        }
        const bool match = i % 6 == 0 || i % 6 == 1;
        EXPECT_EQ(delivered, match ? 1u : 0u) << i;
        matching += match ? 1 : 0;
    }
    ASSERT_TRUE(waitHandled("good-collector", static_cast<std::uint64_t>(matching)));
    host->shutdown();

    auto got = lines("good-collector");
    ASSERT_GE(got.size(), 3u);
    EXPECT_EQ(got.front(), "init greeting=hello absent=5");  // NR_ERR_NOT_FOUND for an absent key
    EXPECT_EQ(got[1], "late-subscribe 2");                   // NR_ERR_UNSUPPORTED outside init
    EXPECT_EQ(got.back(), "shutdown");
    const std::vector<std::string> msgs(got.begin() + 2, got.end() - 1);
    EXPECT_EQ(msgs, expected);

    const auto s = snap("good-collector");
    EXPECT_EQ(s.state, "stopped");
    EXPECT_EQ(s.handled, static_cast<std::uint64_t>(matching));
    EXPECT_EQ(s.errors, 0u);
    EXPECT_EQ(s.dropped, 0u);
    EXPECT_EQ(s.version, "1.2.3");
    EXPECT_EQ(s.abi, "1.0");
    EXPECT_EQ(s.path, fixturePlugin("good_collector"));
    EXPECT_EQ(s.subscriptions, std::vector<std::string>{"data.* [QuoteTick,TradeTick]"});
    EXPECT_EQ(s.latencyCount, static_cast<std::uint64_t>(matching));
}

TEST_F(PluginHostTest, HeartbeatsReachOnlyAnExactHeartbeatSubscription)
{
    use("good_collector", "good-collector");
    props["plugins.good-collector.topic"] = std::string(kHeartbeatTopic);
    load();
    EXPECT_EQ(route(std::string(kHeartbeatTopic), "", "1-0", "\"2026-01-01T00:00:00Z\""), 1u);
    ASSERT_TRUE(waitHandled("good-collector", 1));
    EXPECT_EQ(lines("good-collector").at(2),
              "msg trader-TRADER-001:stream|1-0|health:heartbeat||json|1732700000000000000|\"2026-01-01T00:00:00Z\"");
}

TEST_F(PluginHostTest, HandlerErrorsFailThePluginAfterTheThresholdWhileAnotherKeepsReceiving)
{
    use("handler_returns_error", "handler-returns-error");
    use("good_collector", "good-collector");
    props["plugins.failure_threshold"] = "3";
    props["plugins.restart"] = "false";
    ASSERT_EQ(load().loaded.size(), 2u);

    for (int i = 0; i < 10; ++i) {
        route("data.quotes.X");
    }
    ASSERT_TRUE(waitState("handler-returns-error", "failed"));
    ASSERT_TRUE(waitHandled("good-collector", 10));

    const auto s = snap("handler-returns-error");
    EXPECT_EQ(s.errors, 3u);
    EXPECT_EQ(s.lastError, "3 consecutive handler failures, last: NR_ERR_INVALID_ARGUMENT: bad message 3-0");
    EXPECT_GT(s.lastErrorNs, 0);
    EXPECT_EQ(s.nextRestartInMs, -1);
    EXPECT_EQ(countPrefix(lines("handler-returns-error"), "fail "), 3u);
    // Failed: it stops receiving (only the collector is still subscribed).
    ASSERT_TRUE(waitSubscriptionCount(1));
    EXPECT_EQ(route("data.quotes.X"), 1u);
    ASSERT_TRUE(waitHandled("good-collector", 11));
    EXPECT_EQ(snap("handler-returns-error").handled, 3u);
    EXPECT_EQ(snap("good-collector").errors, 0u);
    // Errors are logged rate limited: one line for the first, then one for the failure.
    EXPECT_EQ(log.count({"handler-returns-error", "handler failed on", "bad message 1-0"}), 1u);
    EXPECT_EQ(log.count({"handler-returns-error", "handler failed on"}), 1u);
    // Logged by markFailed after it unsubscribed.
    EXPECT_TRUE(waitUntil([&] {
        return log.count({"plugin handler-returns-error failed: 3 consecutive handler failures", "automatic restart is off"}) == 1;
    }));
}

TEST_F(PluginHostTest, ExceptionsThroughTheCppLayerAreContainedAndFailThePlugin)
{
    use("throws_from_handler", "throws-from-handler");
    use("good_collector", "good-collector");
    props["plugins.throws-from-handler.failure_threshold"] = "5";
    props["plugins.throws-from-handler.restart"] = "false";
    ASSERT_EQ(load().loaded.size(), 2u);

    for (int i = 0; i < 8; ++i) {
        route("data.quotes.X");
    }
    ASSERT_TRUE(waitState("throws-from-handler", "failed"));
    ASSERT_TRUE(waitHandled("good-collector", 8));
    const auto s = snap("throws-from-handler");
    EXPECT_EQ(s.errors, 5u);
    EXPECT_EQ(s.lastError, "5 consecutive handler failures, last: NR_ERR_INTERNAL: boom on 5-0");
    EXPECT_EQ(snap("good-collector").state, "running");
}

TEST_F(PluginHostTest, SlowHandlerIsReportedPastTheFirstDeadlineAndFailedPastTheSecond)
{
    use("slow_handler", "slow-handler");
    props["plugins.slow-handler.sleep_ms"] = "600";
    props["plugins.slow-handler.handler_warn_ms"] = "50";
    props["plugins.slow-handler.handler_fail_ms"] = "200";
    props["plugins.slow-handler.restart"] = "false";
    load();

    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(route("data.quotes.X"), 1u);
    ASSERT_TRUE(waitState("slow-handler", "failed", std::chrono::seconds(5)));
    EXPECT_GE(msSince(start), 200.0);
    auto s = snap("slow-handler");
    EXPECT_EQ(s.lastError, "handler did not return within 200 ms");
    EXPECT_EQ(s.slowHandlers, 1u);
    EXPECT_EQ(log.count({"slow-handler", "handler running for", "over the 50 ms deadline"}), 1u);
    // Failed: its queue stops growing, the router no longer delivers to it.
    ASSERT_TRUE(waitSubscriptionCount(0));
    EXPECT_EQ(route("data.quotes.X"), 0u);

    // The stuck call returns eventually; a manual restart brings the plugin back.
    ASSERT_TRUE(waitUntil([&] { return countPrefix(lines("slow-handler"), "done ") == 1; }));
    EXPECT_EQ(snap("slow-handler").slowHandlers, 1u);  // reported once, not again on return
    const auto result = host->restart("slow-handler");
    EXPECT_TRUE(result.ok()) << result.message;
    EXPECT_EQ(snap("slow-handler").state, "running");
    EXPECT_EQ(snap("slow-handler").restarts, 1u);
    EXPECT_EQ(route("data.quotes.X"), 1u);
}

TEST_F(PluginHostTest, FailedPluginRestartsAutomaticallyWithBackoff)
{
    use("handler_returns_error", "handler-returns-error");
    props["plugins.handler-returns-error.failure_threshold"] = "2";
    // Long enough that a test thread descheduled for a while still sees the failed state.
    props["plugins.handler-returns-error.restart_backoff_ms"] = "400";
    props["plugins.handler-returns-error.restart_backoff_max_ms"] = "5000";
    load();

    std::vector<std::int64_t> delays;
    for (int round = 1; round <= 2; ++round) {
        route("data.quotes.X");
        route("data.quotes.X");
        ASSERT_TRUE(waitState("handler-returns-error", "failed")) << round;
        const auto failed = snap("handler-returns-error");
        EXPECT_GT(failed.nextRestartInMs, -1);
        ASSERT_TRUE(waitUntil([&] {
            const auto s = snap("handler-returns-error");
            return s.state == "running" && s.restarts == static_cast<std::uint64_t>(round);
        })) << round;
        delays.push_back((snap("handler-returns-error").stateSinceNs - failed.stateSinceNs) / 1'000'000);
    }
    // Each restart waited its backoff, doubled the second time.
    EXPECT_GE(delays[0], 400);
    EXPECT_GE(delays[1], 800);
    // shutdown + init on the same loaded object, each time.
    EXPECT_EQ(lines("handler-returns-error"),
              (std::vector<std::string>{"init", "fail 1-0", "fail 2-0", "shutdown", "init", "fail 3-0", "fail 4-0",
                                        "shutdown", "init"}));
    // Logged once the restart is done, just after the state shows running.
    EXPECT_TRUE(waitUntil([&] { return log.count({"plugin handler-returns-error restarted"}) == 2; }));
    EXPECT_EQ(log.count({"plugin handler-returns-error restarted"}), 2u);
}

TEST_F(PluginHostTest, RestartKeepsTheLoadedObjectSoStaticDataSurvives)
{
    use("handler_returns_error", "handler-returns-error");
    props["plugins.handler-returns-error.fail_limit"] = "2";
    props["plugins.handler-returns-error.failure_threshold"] = "2";
    props["plugins.handler-returns-error.restart_backoff_ms"] = "20";
    load();
    route("data.quotes.X");
    route("data.quotes.X");
    ASSERT_TRUE(waitUntil([&] { return snap("handler-returns-error").restarts == 1; }));
    ASSERT_TRUE(waitState("handler-returns-error", "running"));
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(route("data.quotes.X"), 1u);
    }
    ASSERT_TRUE(waitHandled("handler-returns-error", 5));
    const auto got = lines("handler-returns-error");
    EXPECT_EQ(countPrefix(got, "ok "), 3u);
    EXPECT_EQ(snap("handler-returns-error").consecutiveErrors, 0u);
    EXPECT_EQ(snap("handler-returns-error").state, "running");
}

TEST_F(PluginHostTest, ManualRestartHandlesWhatWasQueuedThenRunsShutdownAndInit)
{
    use("good_collector", "good-collector");
    load();
    for (int i = 0; i < 5; ++i) {
        route("data.quotes.X");
    }
    const auto result = host->restart("good-collector");
    ASSERT_TRUE(result.ok()) << result.message;
    EXPECT_EQ(route("data.quotes.X"), 1u);
    ASSERT_TRUE(waitHandled("good-collector", 6));
    const auto got = lines("good-collector");
    EXPECT_EQ(countPrefix(got, "init"), 2u);
    EXPECT_EQ(countPrefix(got, "msg "), 6u);
    EXPECT_EQ(countPrefix(got, "shutdown"), 1u);
    EXPECT_EQ(snap("good-collector").restarts, 1u);
    EXPECT_EQ(snap("good-collector").dropped, 0u);

    EXPECT_EQ(host->restart("nope").code, PluginHost::CommandResult::Code::NotFound);
}

TEST_F(PluginHostTest, PauseStopsDeliveryAndResumeRestoresIt)
{
    use("good_collector", "good-collector");
    load();
    EXPECT_EQ(route("data.quotes.X", "", "1-0"), 1u);
    ASSERT_TRUE(host->pause("good-collector").ok());
    EXPECT_EQ(snap("good-collector").state, "paused");
    EXPECT_TRUE(host->pause("good-collector").ok());  // idempotent
    EXPECT_EQ(route("data.quotes.X", "", "2-0"), 0u);
    ASSERT_TRUE(host->resume("good-collector").ok());
    EXPECT_EQ(snap("good-collector").state, "running");
    EXPECT_EQ(route("data.quotes.X", "", "3-0"), 1u);
    ASSERT_TRUE(waitHandled("good-collector", 2));
    const auto got = lines("good-collector");
    ASSERT_EQ(countPrefix(got, "msg "), 2u);
    EXPECT_NE(got.at(2).find("|1-0|"), std::string::npos);
    EXPECT_NE(got.at(3).find("|3-0|"), std::string::npos);
    EXPECT_EQ(host->pause("nope").code, PluginHost::CommandResult::Code::NotFound);
}

TEST_F(PluginHostTest, OnlyAPausedPluginCanBeResumed)
{
    use("handler_returns_error", "handler-returns-error");
    props["plugins.failure_threshold"] = "1";
    props["plugins.restart"] = "false";
    load();
    route("data.quotes.X");
    ASSERT_TRUE(waitState("handler-returns-error", "failed"));
    const auto resume = host->resume("handler-returns-error");
    EXPECT_EQ(resume.code, PluginHost::CommandResult::Code::Rejected);
    EXPECT_EQ(resume.message, "cannot resume a plugin that is failed (restart it)");
    EXPECT_EQ(host->pause("handler-returns-error").message, "cannot pause a plugin that is failed");
}

TEST_F(PluginHostTest, PublishIsLimitedToThePluginsNamespaceAndReachesOtherPlugins)
{
    use("publisher", "publisher");
    use("good_collector", "good-collector");
    props["plugins.good-collector.topic"] = "plugin.publisher.*";
    load();
    EXPECT_EQ(route("data.quotes.X", "QuoteTick", "7-0"), 1u);  // publisher only
    ASSERT_TRUE(waitHandled("good-collector", 1));
    ASSERT_TRUE(waitHandled("publisher", 1));

    EXPECT_EQ(lines("publisher"), std::vector<std::string>{"publish 0 1 1 1 1 1 1"});
    const auto got = lines("good-collector");
    ASSERT_EQ(got.size(), 3u);
    const std::string prefix = "msg plugin:publisher|";
    EXPECT_EQ(got[2].rfind(prefix, 0), 0u) << got[2];
    EXPECT_NE(got[2].find("|plugin.publisher.echo|Echo|json|"), std::string::npos) << got[2];
    EXPECT_EQ(got[2].substr(got[2].size() - 12), "{\"id\":\"7-0\"}");
    const auto s = snap("publisher");
    EXPECT_EQ(s.published, 1u);
    EXPECT_EQ(s.publishRejected, 6u);
    // The publisher subscribes to "*" but never receives its own message.
    host->shutdown();
    EXPECT_EQ(countPrefix(lines("publisher"), "self "), 0u);
    EXPECT_EQ(snap("publisher").handled, 1u);
}

TEST_F(PluginHostTest, PublishedMessagesGoToTheSinkWhenOneIsGiven)
{
    use("publisher", "publisher");
    props["plugins.files"] = fixturePlugin("publisher");
    std::mutex mutex;
    std::vector<std::string> seen;
    host = std::make_unique<PluginHost>(PluginHostOptions::fromProperties(props), router, [&](const Message& m) {
        std::lock_guard lock(mutex);
        seen.push_back(std::string(m.stream) + " " + std::string(m.topic) + " " + std::string(m.type) + " " +
                       std::string(m.json));
    });
    host->load();
    route("data.quotes.X", "", "9-0");
    ASSERT_TRUE(waitUntil([&] {
        std::lock_guard lock(mutex);
        return !seen.empty();
    }));
    host->shutdown();
    EXPECT_EQ(seen, std::vector<std::string>{"plugin:publisher plugin.publisher.echo Echo {\"id\":\"9-0\"}"});
}

TEST_F(PluginHostTest, CleanShutdownDrainsTheQueueThenCallsShutdown)
{
    use("slow_handler", "slow-handler");
    props["plugins.slow-handler.sleep_ms"] = "20";
    load();
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(route("data.quotes.X"), 1u);
    }
    host->shutdown();
    const auto got = lines("slow-handler");
    EXPECT_EQ(countPrefix(got, "done "), 10u);
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got.back(), "shutdown");
    const auto s = snap("slow-handler");
    EXPECT_EQ(s.state, "stopped");
    EXPECT_EQ(s.handled, 10u);
    EXPECT_EQ(s.dropped, 0u);
    EXPECT_EQ(route("data.quotes.X"), 0u);  // unsubscribed
}

TEST_F(PluginHostTest, ShutdownDrainIsBoundedAndStillCallsShutdown)
{
    use("slow_handler", "slow-handler");
    props["plugins.slow-handler.sleep_ms"] = "100";
    props["plugins.drain_timeout_ms"] = "250";
    load();
    for (int i = 0; i < 20; ++i) {
        route("data.quotes.X");
    }
    const auto start = std::chrono::steady_clock::now();
    host->shutdown();
    EXPECT_LT(msSince(start), 2000.0);
    const auto got = lines("slow-handler");
    const auto done = countPrefix(got, "done ");
    EXPECT_LT(done, 20u);
    EXPECT_GE(done, 1u);
    EXPECT_EQ(got.back(), "shutdown");
    const auto s = snap("slow-handler");
    EXPECT_EQ(s.handled + s.dropped, 20u);
    EXPECT_EQ(log.count({"slow-handler", "queue not drained within"}), 1u);
}

TEST_F(PluginHostTest, PerPluginFiguresReachMetrics)
{
    use("good_collector", "good-collector");
    load();
    route("data.quotes.X", "", "1-0", "{\"abc\":1}");
    ASSERT_TRUE(waitHandled("good-collector", 1));
    const std::string text = MetricsRegistry::global().renderPrometheus();
    for (const char* needle : {
             "nautilus_relay_plugin_handled_total{plugin=\"good-collector\"}",
             "nautilus_relay_plugin_errors_total{plugin=\"good-collector\"}",
             "nautilus_relay_plugin_queue_depth{plugin=\"good-collector\"}",
             "nautilus_relay_plugin_handler_seconds_bucket{plugin=\"good-collector\",le=",
             "nautilus_relay_plugin_state{plugin=\"good-collector\",state=\"running\"} 1",
             "nautilus_relay_plugin_state{plugin=\"good-collector\",state=\"failed\"} 0",
             "nautilus_relay_plugin_custom_received_total{plugin=\"good-collector\"}",
             "nautilus_relay_plugin_custom_last_payload_bytes{plugin=\"good-collector\"} 9",
         }) {
        EXPECT_NE(text.find(needle), std::string::npos) << needle;
    }
}

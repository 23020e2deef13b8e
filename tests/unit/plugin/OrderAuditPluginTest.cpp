// plugins/order-audit, the bundled trade blotter: the real .so, dlopened, driven by the SDK's
// FakeHost. Lines carry the right fields, other topics are ignored, a restart over the same file
// writes no duplicate, the file rotates at its size limit, and a missing file key refuses it.
#include <gtest/gtest.h>

#ifdef NR_ORDER_AUDIT_PLUGIN

#include <dlfcn.h>
#include <unistd.h>

#include <nautilus_relay/testing/fake_host.hpp>

#include "PluginTestSupport.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nautilus_relay::testing::FakeHost;
using nautilus_relay::testing::FakeMessage;

const nr_plugin_info* orderAudit()
{
    static void* lib = dlopen(NR_ORDER_AUDIT_PLUGIN, RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
        return nullptr;
    }
    auto entry = reinterpret_cast<nr_plugin_entry_fn>(dlsym(lib, NR_PLUGIN_ENTRY_SYMBOL));
    return entry != nullptr ? entry() : nullptr;
}

std::vector<std::string> readFile(const fs::path& path)
{
    std::vector<std::string> lines;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

class OrderAuditPluginTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        static std::atomic<int> n{0};
        dir = fs::temp_directory_path() / ("nr-order-audit-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
        fs::remove_all(dir);
        fs::create_directories(dir);
        file = (dir / "audit.jsonl").string();
        ASSERT_NE(orderAudit(), nullptr) << dlerror();
    }
    void TearDown() override { fs::remove_all(dir); }

    static FakeMessage order(const std::string& id, const std::string& topic = "events.order.S-1",
                             const std::string& type = "OrderFilled")
    {
        FakeMessage m{topic, type, R"({"client_order_id":"O-)" + id + R"(","last_qty":"1.5"})", id};
        m.receivedNs = 1732700000123456789;
        return m;
    }

    fs::path dir;
    std::string file;
};

TEST_F(OrderAuditPluginTest, WritesOneLinePerOrderEventWithItsFields)
{
    FakeHost host({{"file", file}});
    ASSERT_EQ(host.init(orderAudit()), NR_OK) << host.lastError();
    ASSERT_EQ(host.subscriptions().size(), 2u);
    EXPECT_EQ(host.subscriptions()[0].pattern, "events.order.*");
    EXPECT_EQ(host.subscriptions()[1].pattern, "events.position.*");

    EXPECT_EQ(host.deliver(order("1732700000000-0")), NR_OK);
    EXPECT_EQ(host.deliver(FakeMessage{"events.position.P-1", "PositionOpened", R"({"position_id":"P-1"})",
                                       "1732700000000-1"}),
              NR_OK);
    host.shutdown();

    const auto lines = readFile(file);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0],
              R"({"stream":"trader-TRADER-001:stream","id":"1732700000000-0","topic":"events.order.S-1",)"
              R"("type":"OrderFilled","received_ns":1732700000123456789,)"
              R"("received_at":"2024-11-27T09:33:20.123456789Z",)"
              R"("payload":{"client_order_id":"O-1732700000000-0","last_qty":"1.5"}})");
    EXPECT_NE(lines[1].find(R"("topic":"events.position.P-1","type":"PositionOpened")"), std::string::npos)
        << lines[1];
    EXPECT_NE(lines[1].find(R"("payload":{"position_id":"P-1"}})"), std::string::npos) << lines[1];
    EXPECT_EQ(host.counters().at("written"), 2u);
}

TEST_F(OrderAuditPluginTest, BatchModeSyncsTheLastLinesWhenEventsStop)
{
    FakeHost host({{"file", file}, {"fsync", "batch"}, {"fsync_interval_ms", "200"}});
    ASSERT_EQ(host.init(orderAudit()), NR_OK) << host.lastError();
    const auto fsyncs = [&] {
        const auto c = host.counters();
        const auto it = c.find("fsyncs");
        return it == c.end() ? std::uint64_t{0} : it->second;
    };
    // Two events back to back: the second falls within the interval and waits for its fsync
    // (unless the machine stalled between them for the whole interval: then try again).
    std::uint64_t pending = 0;
    for (int attempt = 0; attempt < 5 && pending == 0; ++attempt) {
        ASSERT_EQ(host.deliver(order(std::to_string(attempt) + "-0")), NR_OK);
        const std::uint64_t afterFirst = fsyncs();
        ASSERT_EQ(host.deliver(order(std::to_string(attempt) + "-1")), NR_OK);
        if (fsyncs() == afterFirst) {
            pending = afterFirst;
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
        }
    }
    ASSERT_GT(pending, 0u) << "no write was left waiting for its fsync in 5 attempts";
    // No more events: the background thread syncs it within about one interval.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (fsyncs() == pending && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(fsyncs(), pending + 1);
    host.shutdown();
}

TEST_F(OrderAuditPluginTest, IgnoresTopicsItDoesNotSubscribeTo)
{
    FakeHost host({{"file", file}, {"fsync", "always"}});
    ASSERT_EQ(host.init(orderAudit()), NR_OK) << host.lastError();
    // NautilusTrader republishes order events on events.order_filled.*: not counted twice.
    EXPECT_EQ(host.deliver(order("1-0", "events.order_filled.S-1")), NR_OK);
    EXPECT_EQ(host.deliver(order("2-0", "data.quotes.BINANCE.BTCUSDT", "QuoteTick")), NR_OK);
    EXPECT_EQ(host.deliver(order("3-0")), NR_OK);
    EXPECT_EQ(host.handlerCalls(), 1u);
    const auto lines = readFile(file);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find(R"("id":"3-0")"), std::string::npos);
}

TEST_F(OrderAuditPluginTest, CustomTopicsReplaceTheDefault)
{
    FakeHost host({{"file", file}, {"topics", " events.order.* , events.account.*"}});
    ASSERT_EQ(host.init(orderAudit()), NR_OK) << host.lastError();
    ASSERT_EQ(host.subscriptions().size(), 2u);
    EXPECT_EQ(host.subscriptions()[1].pattern, "events.account.*");
}

TEST_F(OrderAuditPluginTest, RestartOverTheSameFileSkipsIdsAlreadyWritten)
{
    {
        FakeHost host({{"file", file}});
        ASSERT_EQ(host.init(orderAudit()), NR_OK) << host.lastError();
        EXPECT_EQ(host.deliver(order("100-0")), NR_OK);
        EXPECT_EQ(host.deliver(order("100-1")), NR_OK);
        EXPECT_EQ(host.deliver(order("99-5", "events.order.X", "OrderAccepted")), NR_OK);  // same stream, older
        FakeMessage other = order("5-0");
        other.stream = "trader-TRADER-002:stream";
        EXPECT_EQ(host.deliver(other), NR_OK);
    }
    ASSERT_EQ(readFile(file).size(), 3u);  // 99-5 came after 100-1 on the same stream

    // The relay restarts and re-reads every stream from its start.
    FakeHost host({{"file", file}});
    ASSERT_EQ(host.init(orderAudit()), NR_OK) << host.lastError();
    EXPECT_EQ(host.gauges().at("known_streams"), 2.0);
    EXPECT_EQ(host.deliver(order("100-0")), NR_OK);
    EXPECT_EQ(host.deliver(order("100-1")), NR_OK);
    FakeMessage other = order("5-0");
    other.stream = "trader-TRADER-002:stream";
    EXPECT_EQ(host.deliver(other), NR_OK);
    EXPECT_EQ(host.deliver(order("100-2")), NR_OK);  // new
    EXPECT_EQ(host.deliver(order("100-2")), NR_OK);  // delivered twice in one run
    EXPECT_EQ(host.counters().at("skipped_duplicates"), 4u);
    EXPECT_EQ(host.counters().at("written"), 1u);
    host.shutdown();

    const auto lines = readFile(file);
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_NE(lines[3].find(R"("id":"100-2")"), std::string::npos) << lines[3];
}

TEST_F(OrderAuditPluginTest, RotatesAtTheSizeLimitAndRemembersIdsAcrossRotatedFiles)
{
    {
        FakeHost host({{"file", file}, {"max_file_bytes", "600"}, {"max_files", "2"}, {"fsync", "none"}});
        ASSERT_EQ(host.init(orderAudit()), NR_OK) << host.lastError();
        for (int i = 1; i <= 12; ++i) {
            ASSERT_EQ(host.deliver(order(std::to_string(i) + "-0")), NR_OK) << host.lastError();
        }
        EXPECT_GE(host.counters().at("rotations"), 2u);
    }
    ASSERT_TRUE(fs::exists(file));
    ASSERT_TRUE(fs::exists(file + ".1"));
    ASSERT_TRUE(fs::exists(file + ".2"));
    EXPECT_FALSE(fs::exists(file + ".3"));  // max_files = 2
    for (const auto& p : {file, file + ".1", file + ".2"}) {
        EXPECT_LE(fs::file_size(p), 600u) << p;
        for (const auto& line : readFile(p)) {
            EXPECT_EQ(line.front(), '{');
            EXPECT_EQ(line.back(), '}');
        }
    }
    const auto current = readFile(file);
    ASSERT_FALSE(current.empty());
    EXPECT_NE(current.back().find(R"("id":"12-0")"), std::string::npos);
    const auto older = readFile(file + ".1");
    ASSERT_FALSE(older.empty());
    EXPECT_EQ(older.back().find(R"("id":"12-0")"), std::string::npos);

    // Restart: the last id is learned even when the newest file is the one just rotated.
    FakeHost host({{"file", file}, {"max_file_bytes", "600"}, {"max_files", "2"}});
    ASSERT_EQ(host.init(orderAudit()), NR_OK) << host.lastError();
    EXPECT_EQ(host.deliver(order("12-0")), NR_OK);
    EXPECT_EQ(host.deliver(order("3-0")), NR_OK);
    EXPECT_EQ(host.counters().at("skipped_duplicates"), 2u);
}

TEST_F(OrderAuditPluginTest, EndsAHalfWrittenLineAndWritesNullForPayloadsWithoutJson)
{
    {
        std::ofstream out(file);
        out << R"({"stream":"trader-TRADER-001:stream","id":"7-0","topic":"events.order.S-1"})" << "\n"
            << R"({"stream":"trader-TRADER-001:stream","id":"8-0","to)";  // a crash mid-line
    }
    FakeHost host({{"file", file}});
    ASSERT_EQ(host.init(orderAudit()), NR_OK) << host.lastError();
    EXPECT_EQ(host.deliver(order("7-0")), NR_OK);  // already there
    EXPECT_EQ(host.deliver(order("8-0")), NR_OK);  // its line was cut: written again
    FakeMessage capnp = order("9-0");
    capnp.encoding = "capnp";
    capnp.payload = "";
    EXPECT_EQ(host.deliver(capnp), NR_OK);
    host.shutdown();
    const auto lines = readFile(file);
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[1], R"({"stream":"trader-TRADER-001:stream","id":"8-0","to)");
    EXPECT_EQ(lines[2].rfind(R"({"stream":"trader-TRADER-001:stream","id":"8-0","topic")", 0), 0u) << lines[2];
    EXPECT_EQ(lines[3].rfind(R"({"stream":"trader-TRADER-001:stream","id":"9-0",)", 0), 0u) << lines[3];
    EXPECT_NE(lines[3].find(R"("payload":null})"), std::string::npos) << lines[3];
    EXPECT_EQ(host.counters().at("skipped_duplicates"), 1u);
}

TEST_F(OrderAuditPluginTest, MissingFileKeyRefusesItWithAClearError)
{
    FakeHost host;
    EXPECT_EQ(host.init(orderAudit()), NR_ERR_INVALID_ARGUMENT);
    EXPECT_NE(host.lastError().find("plugins.order-audit.file is required"), std::string::npos) << host.lastError();
    EXPECT_FALSE(host.running());
}

TEST_F(OrderAuditPluginTest, UnwritableFileRefusesIt)
{
    FakeHost host({{"file", (dir / "no-such-dir" / "audit.jsonl").string()}});
    EXPECT_EQ(host.init(orderAudit()), NR_ERR_UNAVAILABLE);
    EXPECT_NE(host.lastError().find("cannot open audit file"), std::string::npos) << host.lastError();
}

TEST_F(OrderAuditPluginTest, BadSettingsRefuseIt)
{
    FakeHost a({{"file", file}, {"fsync", "sometimes"}});
    EXPECT_EQ(a.init(orderAudit()), NR_ERR_INVALID_ARGUMENT);
    EXPECT_NE(a.lastError().find("fsync must be none, batch or always"), std::string::npos) << a.lastError();
    FakeHost b({{"file", file}, {"max_file_bytes", "big"}});
    EXPECT_EQ(b.init(orderAudit()), NR_ERR_INVALID_ARGUMENT);
    EXPECT_NE(b.lastError().find("max_file_bytes must be a whole number"), std::string::npos) << b.lastError();
}

TEST_F(OrderAuditPluginTest, WriteErrorIsReturnedWithItsText)
{
    if (!fs::exists("/dev/full")) {
        GTEST_SKIP() << "no /dev/full";
    }
    FakeHost host({{"file", "/dev/full"}, {"fsync", "none"}, {"max_file_bytes", "0"}});
    ASSERT_EQ(host.init(orderAudit()), NR_OK) << host.lastError();
    EXPECT_EQ(host.deliver(order("1-0")), NR_ERR_UNAVAILABLE);
    EXPECT_NE(host.lastError().find("cannot write to '/dev/full'"), std::string::npos) << host.lastError();
    EXPECT_EQ(host.counters().at("write_errors"), 1u);
}

// With the relay's own PluginHost: matching events are written, in order, others are not.
class OrderAuditRealHostTest : public nautilus::relay::test::PluginHostFixture {};

TEST_F(OrderAuditRealHostTest, WritesTheEventsItsTopicsMatch)
{
    useFile(NR_ORDER_AUDIT_PLUGIN);
    const std::string file = dir.path() + "/audit.jsonl";
    props["plugins.order-audit.file"] = file;
    ASSERT_EQ(load().loaded.size(), 1u);
    EXPECT_EQ(route("events.order.S-1", "OrderSubmitted", "1-0", R"({"client_order_id":"O-1"})"), 1u);
    EXPECT_EQ(route("events.order_filled.S-1", "OrderFilled", "2-0"), 0u);
    EXPECT_EQ(route("events.order.S-1", "OrderFilled", "3-0", R"({"client_order_id":"O-1"})"), 1u);
    EXPECT_EQ(route("events.position.P-1", "PositionOpened", "4-0", R"({"position_id":"P-1"})"), 1u);
    ASSERT_TRUE(waitHandled("order-audit", 3));
    const auto lines = readFile(file);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_NE(lines[0].find(R"("id":"1-0","topic":"events.order.S-1","type":"OrderSubmitted")"), std::string::npos)
        << lines[0];
    EXPECT_NE(lines[1].find(R"("id":"3-0")"), std::string::npos) << lines[1];
    EXPECT_NE(lines[2].find(R"("payload":{"position_id":"P-1"}})"), std::string::npos) << lines[2];
}

}  // namespace

#endif  // NR_ORDER_AUDIT_PLUGIN

// nautilus-relay-demo-feed, the built binary, against a private redis-server: keys, entry
// fields, payloads (JSON parses, MessagePack unpacks, expected types and shapes), fan-out
// duplicates, stream key options, rate/duration, signals, connection and usage errors.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <msgpack.hpp>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Redis/Array.h>
#include <Poco/Redis/Client.h>

#include "support/RedisServer.h"

extern char** environ;

using nautilus::relay::test::RedisServer;
using namespace std::chrono_literals;

namespace {

const std::string kFeed = NR_BINARY_DIR "/host/nautilus-relay-demo-feed";

struct FeedRun {
    int exitCode = -1;
    std::string out;
    std::string err;
};

std::string slurp(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

class FeedProcess {
public:
    FeedProcess(const std::string& dir, const std::vector<std::string>& args)
        : _out(dir + "/feed-" + std::to_string(++counter()) + ".out"), _err(_out + ".err")
    {
        std::vector<std::string> all = {kFeed};
        all.insert(all.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : all) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, _out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&fa, 2, _err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int rc = posix_spawn(&_pid, kFeed.c_str(), &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) {
            throw std::runtime_error("cannot start " + kFeed + ": errno " + std::to_string(rc));
        }
    }
    ~FeedProcess()
    {
        if (_pid > 0) {
            kill(_pid, SIGKILL);
            int status = 0;
            waitpid(_pid, &status, 0);
        }
    }
    void signal(int sig) const { kill(_pid, sig); }
    /// Waits for the exit; nullopt (and the process killed) after the timeout.
    std::optional<FeedRun> wait(std::chrono::milliseconds timeout)
    {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        int status = 0;
        while (waitpid(_pid, &status, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() > deadline) {
                return std::nullopt;
            }
            std::this_thread::sleep_for(10ms);
        }
        _pid = -1;
        FeedRun r;
        r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        r.out = slurp(_out);
        r.err = slurp(_err);
        return r;
    }

private:
    static int& counter()
    {
        static int n = 0;
        return n;
    }
    std::string _out;
    std::string _err;
    pid_t _pid = -1;
};

FeedRun runFeed(const RedisServer& redis, std::vector<std::string> args, std::chrono::milliseconds timeout = 60s)
{
    args.insert(args.begin(), {"--port", std::to_string(redis.port())});
    FeedProcess p(redis.dir(), args);
    auto r = p.wait(timeout);
    if (!r) {
        throw std::runtime_error("demo feed did not exit in time");
    }
    return *r;
}

struct StreamEntry {
    std::string key;
    std::string id;
    std::vector<std::pair<std::string, std::string>> fields;
    std::string field(const std::string& name) const
    {
        for (const auto& [f, v] : fields) {
            if (f == name) {
                return v;
            }
        }
        return "<absent>";
    }
};

std::vector<std::string> keys(const RedisServer& redis)
{
    auto c = redis.client();
    std::vector<std::string> out;
    std::string cursor = "0";
    do {
        Poco::Redis::Array scan;
        scan << "SCAN" << cursor << "COUNT" << "1000";
        const auto reply = c->execute<Poco::Redis::Array>(scan);
        cursor = reply.get<Poco::Redis::BulkString>(0).value();
        const auto batch = reply.get<Poco::Redis::Array>(1);
        for (std::size_t i = 0; i < batch.size(); ++i) {
            out.push_back(batch.get<Poco::Redis::BulkString>(i).value());
        }
    } while (cursor != "0");
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<StreamEntry> entries(const RedisServer& redis, const std::string& key)
{
    auto c = redis.client();
    Poco::Redis::Array cmd;
    cmd << "XRANGE" << key << "-" << "+";
    const auto reply = c->execute<Poco::Redis::Array>(cmd);
    std::vector<StreamEntry> out;
    for (std::size_t i = 0; i < reply.size(); ++i) {
        const auto e = reply.get<Poco::Redis::Array>(i);
        StreamEntry se;
        se.key = key;
        se.id = e.get<Poco::Redis::BulkString>(0).value();
        const auto f = e.get<Poco::Redis::Array>(1);
        for (std::size_t j = 0; j + 1 < f.size(); j += 2) {
            se.fields.emplace_back(f.get<Poco::Redis::BulkString>(j).value(), f.get<Poco::Redis::BulkString>(j + 1).value());
        }
        out.push_back(std::move(se));
    }
    return out;
}

/// What the test learned from one payload.
struct Decoded {
    std::string routingType;   ///< SPEC §9.4
    bool hasTsEvent = false;
    bool tsInitIsString = false;
    bool tsInitIsInteger = false;
    std::map<std::string, std::string> strings;  ///< top-level (or wrapped inner) string fields
};

Decoded decodeJson(const std::string& payload, const std::string& headerType)
{
    Poco::JSON::Parser parser;
    const auto value = parser.parse(payload);  // throws on invalid JSON
    auto obj = value.extract<Poco::JSON::Object::Ptr>();
    Decoded d;
    Poco::JSON::Object::Ptr body = obj;
    if (obj->has("type") && obj->get("type").isString()) {
        d.routingType = obj->getValue<std::string>("type");
    } else if (obj->size() == 1 && obj->isObject(obj->begin()->first)) {
        body = obj->getObject(obj->begin()->first);
        d.routingType = body->has("type") ? body->getValue<std::string>("type") : obj->begin()->first;
    } else {
        d.routingType = headerType;
    }
    for (const auto& [k, v] : *body) {
        if (v.isString()) {
            d.strings[k] = v.convert<std::string>();
        }
    }
    d.hasTsEvent = body->has("ts_event");
    if (body->has("ts_init")) {
        const auto ts = body->get("ts_init");
        d.tsInitIsString = ts.isString();
        d.tsInitIsInteger = ts.isInteger();
    }
    return d;
}

std::string mpString(const msgpack::object& o)
{
    if (o.type != msgpack::type::STR) {
        throw std::runtime_error("expected a msgpack str");
    }
    return std::string(o.via.str.ptr, o.via.str.size);
}

Decoded decodeMsgpack(const std::string& payload, const std::string& headerType)
{
    std::size_t offset = 0;
    const auto handle = msgpack::unpack(payload.data(), payload.size(), offset);  // throws on bad data
    if (offset != payload.size()) {
        throw std::runtime_error("trailing bytes after the msgpack value");
    }
    const msgpack::object& root = handle.get();
    if (root.type != msgpack::type::MAP) {
        throw std::runtime_error("msgpack payload is not a map");
    }
    Decoded d;
    const msgpack::object* body = &root;
    auto find = [](const msgpack::object& m, const std::string& k) -> const msgpack::object* {
        for (std::uint32_t i = 0; i < m.via.map.size; ++i) {
            if (m.via.map.ptr[i].key.type == msgpack::type::STR && mpString(m.via.map.ptr[i].key) == k) {
                return &m.via.map.ptr[i].val;
            }
        }
        return nullptr;
    };
    if (const auto* t = find(root, "type"); t && t->type == msgpack::type::STR) {
        d.routingType = mpString(*t);
    } else if (root.via.map.size == 1 && root.via.map.ptr[0].val.type == msgpack::type::MAP) {
        body = &root.via.map.ptr[0].val;
        const auto* inner = find(*body, "type");
        d.routingType = inner ? mpString(*inner) : mpString(root.via.map.ptr[0].key);
    } else {
        d.routingType = headerType;
    }
    for (std::uint32_t i = 0; i < body->via.map.size; ++i) {
        const auto& kv = body->via.map.ptr[i];
        if (kv.val.type == msgpack::type::STR) {
            d.strings[mpString(kv.key)] = mpString(kv.val);
        }
    }
    d.hasTsEvent = find(*body, "ts_event") != nullptr;
    if (const auto* ts = find(*body, "ts_init")) {
        d.tsInitIsString = ts->type == msgpack::type::STR;
        d.tsInitIsInteger = ts->type == msgpack::type::POSITIVE_INTEGER;
    }
    return d;
}

const std::regex kRfc3339(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.(\d{3}|\d{6}|\d{9}))?\+00:00)");

struct Case {
    std::string encoding;
    std::string layout;
};

std::string caseName(const testing::TestParamInfo<Case>& info)
{
    std::string n = info.param.encoding + "_" + info.param.layout;
    for (auto& c : n) {
        if (c == '-') {
            c = '_';
        }
    }
    return n;
}

void PrintTo(const Case& c, std::ostream* os)
{
    *os << c.encoding << "/" << c.layout;
}

class DemoFeedEncodingTest : public testing::TestWithParam<Case> {};

}  // namespace

TEST_P(DemoFeedEncodingTest, WritesWellFormedNautilusTraderEntries)
{
    const Case& c = GetParam();
    const bool legacy = c.encoding.rfind("legacy-", 0) == 0;
    const bool perTopic = c.layout == "per-topic";
    const std::string base = "trader-TRADER-001:stream";
    RedisServer redis;
    const int total = 1500;
    const FeedRun run = runFeed(redis, {"--count", std::to_string(total), "--rate", "0", "--encoding", c.encoding,
                                    "--layout", c.layout, "--quiet"});
    ASSERT_EQ(run.exitCode, 0) << run.err;
    EXPECT_NE(run.out.find("wrote " + std::to_string(total) + " entries"), std::string::npos) << run.out;

    const auto ks = keys(redis);
    if (perTopic) {
        std::vector<std::string> expected = {"data.quotes.BINANCE.BTCUSDT",
                                             "data.quotes.BINANCE.ETHUSDT",
                                             "data.quotes.XCME.ESZ24",
                                             "data.trades.BINANCE.BTCUSDT",
                                             "data.trades.XCME.ESZ24",
                                             "data.bars.BTCUSDT.BINANCE-1-MINUTE-LAST-EXTERNAL",
                                             "data.bars.ESZ24.XCME-1-MINUTE-LAST-EXTERNAL",
                                             "events.order.EMACross-000",
                                             "events.position.EMACross-000",
                                             "events.account.BINANCE-001",
                                             "health:heartbeat"};
        if (legacy) {
            expected.push_back("events.fills.BTCUSDT.BINANCE");
        } else {
            expected.push_back("events.order_submitted.BTCUSDT.BINANCE");
            expected.push_back("events.order_filled.BTCUSDT.BINANCE");
            expected.push_back("events.order_filled.ESZ24.XCME");
        }
        for (const auto& t : expected) {
            EXPECT_TRUE(std::binary_search(ks.begin(), ks.end(), base + ":" + t)) << "missing stream for " << t;
        }
        for (const auto& k : ks) {
            EXPECT_EQ(k.rfind(base + ":", 0), 0u) << k;
        }
    } else {
        ASSERT_EQ(ks, std::vector<std::string>{base});
    }

    EXPECT_NE(run.out.find(" to " + std::to_string(ks.size()) + " streams"), std::string::npos) << run.out;

    std::vector<StreamEntry> all;
    for (const auto& k : ks) {
        auto e = entries(redis, k);
        all.insert(all.end(), e.begin(), e.end());
    }
    ASSERT_EQ(all.size(), static_cast<std::size_t>(total));

    std::map<std::string, int> types;
    std::multiset<std::string> orderFills, fanoutFills, orderSubmits, fanoutSubmits;
    int heartbeats = 0;
    for (const auto& e : all) {
        std::vector<std::string> names;
        for (const auto& f : e.fields) {
            names.push_back(f.first);
        }
        if (legacy) {
            ASSERT_EQ(names, (std::vector<std::string>{"topic", "payload"})) << e.key << " " << e.id;
        } else {
            ASSERT_EQ(names, (std::vector<std::string>{"topic", "type", "payload", "encoding"})) << e.key << " " << e.id;
        }
        const std::string topic = e.field("topic");
        const std::string payload = e.field("payload");
        if (perTopic) {
            EXPECT_EQ(e.key, base + ":" + topic);
        }
        if (topic == "health:heartbeat") {
            ++heartbeats;
            EXPECT_TRUE(std::regex_match(payload, kRfc3339)) << payload;
            if (!legacy) {
                EXPECT_EQ(e.field("type"), "");
                EXPECT_EQ(e.field("encoding"), "Json");
            }
            continue;
        }
        const bool market = topic.rfind("data.", 0) == 0;
        bool msgpack = false;
        if (legacy) {
            msgpack = c.encoding == "legacy-msgpack";
        } else {
            const std::string enc = e.field("encoding");
            const std::string expectedEnc =
                c.encoding == "json" ? "Json" : c.encoding == "msgpack" ? "MsgPack" : (market ? "MsgPack" : "Json");
            EXPECT_EQ(enc, expectedEnc) << topic;
            msgpack = enc == "MsgPack";
        }
        const std::string header = legacy ? "" : e.field("type");
        Decoded d;
        try {
            d = msgpack ? decodeMsgpack(payload, header) : decodeJson(payload, header);
        } catch (const std::exception& ex) {
            FAIL() << "payload on " << topic << " does not decode (" << ex.what() << ")";
        }
        ++types[d.routingType];
        if (!legacy) {
            // G3 headers name the canonical payload type (SPEC §3.2).
            std::string expectedHeader = d.routingType;
            if (d.routingType.rfind("Order", 0) == 0) {
                expectedHeader = "OrderEventAny";
            } else if (d.routingType.rfind("Position", 0) == 0) {
                expectedHeader = "PositionEvent";
            }
            EXPECT_EQ(header, expectedHeader) << topic;
        }
        // Timestamps: integers in Rust shapes, decimal strings in legacy ones.
        EXPECT_EQ(d.tsInitIsString, legacy) << d.routingType;
        EXPECT_EQ(d.tsInitIsInteger, !legacy) << d.routingType;
        // Legacy PositionClosed is the one shape without ts_event (SPEC §8.4.13).
        EXPECT_EQ(d.hasTsEvent, !(legacy && d.routingType == "PositionClosed")) << d.routingType;
        if (d.routingType == "QuoteTick" && d.strings["instrument_id"] == "BTCUSDT.BINANCE") {
            EXPECT_TRUE(std::regex_match(d.strings["bid_price"], std::regex(R"(\d+\.\d{2})"))) << d.strings["bid_price"];
            EXPECT_TRUE(std::regex_match(d.strings["bid_size"], std::regex(R"(\d+\.\d{5})"))) << d.strings["bid_size"];
            EXPECT_EQ(topic, "data.quotes.BINANCE.BTCUSDT");
        }
        if (d.routingType == "TradeTick" && d.strings["instrument_id"] == "ESZ24.XCME") {
            EXPECT_TRUE(std::regex_match(d.strings["size"], std::regex(R"(\d+)"))) << d.strings["size"];
        }
        if (d.routingType == "OrderFilled") {
            (topic == "events.order.EMACross-000" ? orderFills : fanoutFills).insert(payload);
            if (topic != "events.order.EMACross-000") {
                EXPECT_EQ(topic, (legacy ? "events.fills." : "events.order_filled.") + d.strings["instrument_id"]);
            }
        }
        if (d.routingType == "OrderSubmitted") {
            (topic == "events.order.EMACross-000" ? orderSubmits : fanoutSubmits).insert(payload);
        }
        if (d.routingType.rfind("Position", 0) == 0) {
            EXPECT_EQ(topic, "events.position.EMACross-000");
        }
        if (d.routingType == "AccountState") {
            EXPECT_EQ(topic, "events.account.BINANCE-001");
        }
    }
    EXPECT_GE(heartbeats, 1);
    for (const char* t : {"QuoteTick", "TradeTick", "Bar", "OrderInitialized", "OrderSubmitted", "OrderAccepted",
                          "OrderFilled", "PositionOpened", "PositionChanged", "PositionClosed", "AccountState"}) {
        EXPECT_GT(types[t], 0) << "no " << t;
    }
    EXPECT_GT(types["QuoteTick"], types["OrderFilled"] * 5);  // mostly market data
    // Fan-out duplicates: the same payload bytes again on the per-instrument topic.
    EXPECT_FALSE(orderFills.empty());
    EXPECT_EQ(orderFills, fanoutFills);
    if (legacy) {
        EXPECT_TRUE(fanoutSubmits.empty());
    } else {
        EXPECT_EQ(orderSubmits, fanoutSubmits);
    }
}

INSTANTIATE_TEST_SUITE_P(EncodingsAndLayouts, DemoFeedEncodingTest,
                         testing::Values(Case{"json", "per-topic"}, Case{"msgpack", "per-topic"},
                                         Case{"mixed", "per-topic"}, Case{"legacy-msgpack", "per-topic"},
                                         Case{"legacy-json", "per-topic"}, Case{"json", "single"},
                                         Case{"mixed", "single"}, Case{"legacy-msgpack", "single"}),
                         caseName);

TEST(DemoFeedTest, StreamKeyOptionsFollowNautilusTrader)
{
    RedisServer redis;
    const FeedRun run = runFeed(redis, {"--count", "300", "--rate", "0", "--trader-id", "TESTER-7", "--use-instance-id",
                                    "--instance-id", "0d3c9a5e-1111-4222-8333-444455556666", "--no-trader-prefix",
                                    "--streams-prefix", "bus", "--quiet"});
    ASSERT_EQ(run.exitCode, 0) << run.err;
    const auto ks = keys(redis);
    ASSERT_FALSE(ks.empty());
    for (const auto& k : ks) {
        EXPECT_EQ(k.rfind("TESTER-7:0d3c9a5e-1111-4222-8333-444455556666:bus:", 0), 0u) << k;
    }
    EXPECT_TRUE(std::binary_search(ks.begin(), ks.end(),
                                   "TESTER-7:0d3c9a5e-1111-4222-8333-444455556666:bus:data.quotes.XCME.ESZ24"));
    const auto quotes = entries(redis, "TESTER-7:0d3c9a5e-1111-4222-8333-444455556666:bus:events.order.EMACross-000");
    for (const auto& e : quotes) {
        EXPECT_NE(e.field("payload").find("\"trader_id\":\"TESTER-7\""), std::string::npos);
    }
}

TEST(DemoFeedTest, LegacyHeadersSayJsonEvenForMessagePack)
{
    // NautilusTrader >= 1.229 legacy path (G2): type "" and encoding Json whatever the payload is.
    RedisServer redis;
    const FeedRun run = runFeed(redis, {"--count", "200", "--rate", "0", "--encoding", "legacy-msgpack",
                                        "--legacy-headers", "--layout", "single", "--quiet"});
    ASSERT_EQ(run.exitCode, 0) << run.err;
    const auto all = entries(redis, "trader-TRADER-001:stream");
    ASSERT_EQ(all.size(), 200u);
    int msgpackPayloads = 0;
    for (const auto& e : all) {
        ASSERT_EQ(e.fields.size(), 4u);
        EXPECT_EQ(e.field("type"), "");
        EXPECT_EQ(e.field("encoding"), "Json");
        if (e.field("topic") != "health:heartbeat") {
            EXPECT_NO_THROW(decodeMsgpack(e.field("payload"), ""));
            ++msgpackPayloads;
        }
    }
    EXPECT_GE(msgpackPayloads, 199);
}

TEST(DemoFeedTest, CustomInstrumentsAreQuotedWithTheirPrecision)
{
    RedisServer redis;
    const FeedRun run = runFeed(redis, {"--count", "50", "--rate", "0", "--instruments", "SOLUSDT.BINANCE:150.5:3:1",
                                    "--heartbeat-interval", "0", "--quiet"});
    ASSERT_EQ(run.exitCode, 0) << run.err;
    const auto quotes = entries(redis, "trader-TRADER-001:stream:data.quotes.BINANCE.SOLUSDT");
    ASSERT_FALSE(quotes.empty());
    const auto d = decodeJson(quotes.front().field("payload"), "QuoteTick");
    EXPECT_TRUE(std::regex_match(d.strings.at("bid_price"), std::regex(R"(1[45]\d\.\d{3})"))) << d.strings.at("bid_price");
    EXPECT_TRUE(std::regex_match(d.strings.at("ask_size"), std::regex(R"(\d+\.\d)"))) << d.strings.at("ask_size");
    // No heartbeats with --heartbeat-interval 0.
    const auto ks = keys(redis);
    EXPECT_FALSE(std::binary_search(ks.begin(), ks.end(), "trader-TRADER-001:stream:health:heartbeat"));
}

TEST(DemoFeedTest, RateAndDurationBoundTheOutput)
{
    RedisServer redis;
    const auto t0 = std::chrono::steady_clock::now();
    const FeedRun run = runFeed(redis, {"--rate", "200", "--duration", "1.5", "--heartbeat-interval", "0.5", "--quiet"}, 20s);
    const auto elapsed = std::chrono::steady_clock::now() - t0;
    ASSERT_EQ(run.exitCode, 0) << run.err;
    EXPECT_GE(elapsed, 1400ms);
    EXPECT_LT(elapsed, 6s);
    long long data = 0;
    long long heartbeats = 0;
    for (const auto& k : keys(redis)) {
        const long long n = std::stoll(redis.command({"XLEN", k}));
        (k.find("health:heartbeat") != std::string::npos ? heartbeats : data) += n;
    }
    EXPECT_GE(data, 250);  // 200/s for 1.5 s = 300
    EXPECT_LE(data, 340);
    EXPECT_GE(heartbeats, 3);  // at 0, 0.5, 1.0 (and maybe 1.5) s
    EXPECT_LE(heartbeats, 4);
}

TEST(DemoFeedTest, SigtermStopsCleanlyWithASummary)
{
    RedisServer redis;
    FeedProcess p(redis.dir(), {"--port", std::to_string(redis.port()), "--rate", "1000"});
    std::this_thread::sleep_for(1200ms);
    p.signal(SIGTERM);
    const auto r = p.wait(3s);
    ASSERT_TRUE(r.has_value()) << "did not stop within 3 s of SIGTERM";
    EXPECT_EQ(r->exitCode, 0) << r->err;
    EXPECT_NE(r->out.find("nautilus-relay-demo-feed: wrote "), std::string::npos) << r->out;
    EXPECT_GT(std::stoll(redis.command({"XLEN", "trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT"})), 100);
}

TEST(DemoFeedTest, SigintStopsAnUnlimitedFullSpeedRun)
{
    RedisServer redis;
    FeedProcess p(redis.dir(), {"--port", std::to_string(redis.port()), "--rate", "0", "--quiet"});
    std::this_thread::sleep_for(800ms);
    p.signal(SIGINT);
    const auto r = p.wait(5s);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->exitCode, 0) << r->err;
    EXPECT_NE(r->out.find("wrote "), std::string::npos);
}

TEST(DemoFeedTest, UnreachableRedisIsAClearErrorAndNonZeroExit)
{
    RedisServer redis;
    const int port = redis.port();
    redis.stop(true);
    FeedProcess p(redis.dir(), {"--port", std::to_string(port), "--count", "10"});
    const auto r = p.wait(10s);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->exitCode, 3);
    EXPECT_NE(r->err.find("cannot connect to redis 127.0.0.1:" + std::to_string(port)), std::string::npos) << r->err;
}

TEST(DemoFeedTest, AuthenticatesAndReportsRefusals)
{
    RedisServer::Options ro;
    ro.password = "pw1";
    RedisServer redis(ro);
    const FeedRun ok = runFeed(redis, {"--password", "pw1", "--count", "20", "--rate", "0", "--db", "2", "--quiet"});
    EXPECT_EQ(ok.exitCode, 0) << ok.err;
    auto c = redis.client();
    Poco::Redis::Array select;
    select << "SELECT" << "2";
    c->execute<std::string>(select);
    Poco::Redis::Array dbsize;
    dbsize << "DBSIZE";
    EXPECT_GT(c->execute<Poco::Int64>(dbsize), 0);
    EXPECT_EQ(redis.command({"DBSIZE"}), "0");  // nothing in db 0

    const FeedRun wrong = runFeed(redis, {"--password", "nope", "--count", "20"});
    EXPECT_EQ(wrong.exitCode, 3);
    EXPECT_NE(wrong.err.find("WRONGPASS"), std::string::npos) << wrong.err;

    const FeedRun none = runFeed(redis, {"--count", "20"});
    EXPECT_EQ(none.exitCode, 4);
    // Redis 7 answers an unauthenticated 11-argument XADD with a protocol error, older ones NOAUTH.
    EXPECT_NE(none.err.find("requires authentication"), std::string::npos) << none.err;
}

TEST(DemoFeedTest, ReconnectsAfterARedisRestart)
{
    RedisServer redis;
    FeedProcess p(redis.dir(), {"--port", std::to_string(redis.port()), "--rate", "500"});
    std::this_thread::sleep_for(700ms);
    redis.stop(true);
    std::this_thread::sleep_for(500ms);
    redis.start();  // empty: no persistence
    std::this_thread::sleep_for(1000ms);
    p.signal(SIGTERM);
    const auto r = p.wait(5s);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->exitCode, 0) << r->err;
    EXPECT_NE(r->err.find("reconnected"), std::string::npos) << r->err;
    EXPECT_NE(r->out.find("reconnects"), std::string::npos) << r->out;
    // Written after the restart.
    EXPECT_GT(std::stoll(redis.command({"XLEN", "trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT"})), 20);
}

TEST(DemoFeedTest, UsageErrorsAndHelp)
{
    RedisServer redis;  // only for its temp dir
    {
        FeedProcess p(redis.dir(), {"--encoding", "xml"});
        const auto r = p.wait(5s);
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(r->exitCode, 2);
        EXPECT_NE(r->err.find("--encoding: 'xml'"), std::string::npos) << r->err;
    }
    {
        FeedProcess p(redis.dir(), {"--rate", "-5"});
        const auto r = p.wait(5s);
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(r->exitCode, 2);
    }
    {
        FeedProcess p(redis.dir(), {"--help"});
        const auto r = p.wait(5s);
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(r->exitCode, 0);
        for (const char* opt : {"--host", "--port", "--password", "--username", "--db", "--trader-id", "--instance-id",
                                "--use-instance-id", "--no-trader-prefix", "--streams-prefix", "--layout", "--encoding",
                                "--rate", "--duration", "--count", "--heartbeat-interval", "--instruments", "--batch",
                                "--quiet", "(default 127.0.0.1)", "(default 6379)", "(default TRADER-001)"}) {
            EXPECT_NE(r->out.find(opt), std::string::npos) << opt;
        }
    }
}

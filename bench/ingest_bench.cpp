// End-to-end ingest rate: a private redis-server is pre-filled with NautilusTrader QuoteTick
// JSON entries (pipelined XADD), then one reader goes from the beginning to the end of the
// stream, decoding and routing every entry to a counting subscriber.
//
//  BM_Ingest_StreamReader   the bus as shipped (StreamReader: own link, zero-copy RESP)
//  BM_Ingest_PocoRedis      the same loop (XREAD COUNT, decode, route) over Poco::Redis::Client
//                           sendCommand + Array iteration, which copies every reply element
//  BM_Read_RedisLinkOnly    XREAD + walk over the own link without decode/route (parse ceiling)
//
// Run: ingest_bench [--entries=N] [--count=C] [google benchmark flags]
// (defaults: 500000 entries, XREAD COUNT 1000).
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <Poco/Redis/Array.h>
#include <Poco/Redis/Client.h>
#include <Poco/Redis/Type.h>

#include "bus/RedisLink.h"
#include "bus/StreamReader.h"
#include "common/Logging.h"
#include "decoder/EntryDecoder.h"
#include "router/Router.h"
#include "support/RedisServer.h"

using namespace nautilus::relay;

namespace {

std::size_t gEntries = 500000;
int gCount = 1000;
const std::string kKey = "trader-TRADER-001:stream";

class Counting : public Subscriber {
public:
    void onMessage(const Message& msg) noexcept override
    {
        bytes += msg.json.size();
        n.fetch_add(1, std::memory_order_release);
    }
    std::atomic<std::size_t> n{0};
    std::size_t bytes = 0;
};

std::string quotePayload(std::size_t i)
{
    // Shape of a Rust QuoteTick (SPEC §8.4), varying prices and timestamps.
    const std::uint64_t ts = 1719792000000000000ull + i * 1000;
    char buf[400];
    const int n = std::snprintf(buf, sizeof buf,
                                "{\"type\":\"QuoteTick\",\"instrument_id\":\"BTCUSDT.BINANCE\",\"bid_price\":\"%zu.%02zu\","
                                "\"ask_price\":\"%zu.%02zu\",\"bid_size\":\"1.50000\",\"ask_size\":\"2.00000\","
                                "\"ts_event\":%llu,\"ts_init\":%llu}",
                                67000 + i % 100, i % 100, 67000 + i % 100, (i + 1) % 100, static_cast<unsigned long long>(ts),
                                static_cast<unsigned long long>(ts + 1));
    return std::string(buf, static_cast<std::size_t>(n));
}

RedisEndpoint endpointOf(const test::RedisServer& s)
{
    RedisEndpoint ep;
    ep.host = s.host();
    ep.port = s.port();
    return ep;
}

/// One redis-server for the whole run, filled once.
test::RedisServer& server()
{
    static std::unique_ptr<test::RedisServer> s = [] {
        auto srv = std::make_unique<test::RedisServer>();
        RedisLinkOptions o;
        o.endpoint = endpointOf(*srv);
        o.ioTimeoutMs = 30000;
        RedisLink link(o);
        link.connect();
        const auto t0 = std::chrono::steady_clock::now();
        constexpr std::size_t kBatch = 2000;
        for (std::size_t i = 0; i < gEntries; i += kBatch) {
            const std::size_t end = std::min(gEntries, i + kBatch);
            for (std::size_t j = i; j < end; ++j) {
                const std::string payload = quotePayload(j);
                link.begin(11)
                    .arg(std::string_view("XADD"))
                    .arg(std::string_view(kKey))
                    .arg(std::string_view("*"))
                    .arg(std::string_view("topic"))
                    .arg(std::string_view("data.quotes.BINANCE.BTCUSDT"))
                    .arg(std::string_view("type"))
                    .arg(std::string_view("QuoteTick"))
                    .arg(std::string_view("payload"))
                    .arg(std::string_view(payload))
                    .arg(std::string_view("encoding"))
                    .arg(std::string_view("Json"));
            }
            link.send();
            for (std::size_t j = i; j < end; ++j) {
                const RespValue v = link.readReply().next();
                if (v.isError()) {
                    std::fprintf(stderr, "XADD failed: %.*s\n", static_cast<int>(v.str.size()), v.str.data());
                    std::abort();
                }
            }
        }
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::fprintf(stderr, "pre-filled %zu QuoteTick entries in %.2f s (redis %s:%d)\n", gEntries, secs,
                     srv->host().c_str(), srv->port());
        return srv;
    }();
    return *s;
}

void BM_Ingest_StreamReader(benchmark::State& state)
{
    auto& srv = server();
    for (auto _ : state) {
        Router router;
        Counting counter;
        router.subscribe("*", {}, &counter);
        BusConfig cfg;
        cfg.redis = endpointOf(srv);
        cfg.streams = {kKey};
        cfg.start = StartPosition::Earliest;
        cfg.readCount = gCount;
        cfg.blockMs = 100;
        StreamReader reader(cfg, router);
        const auto t0 = std::chrono::steady_clock::now();
        reader.start();
        while (counter.n.load(std::memory_order_acquire) < gEntries) {
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        const auto t1 = std::chrono::steady_clock::now();
        state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
        reader.stop();
        if (reader.snapshot().rejected != 0) {
            state.SkipWithError("entries rejected");
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * gEntries));
}

void BM_Ingest_PocoRedis(benchmark::State& state)
{
    using Poco::Redis::Array;
    using Poco::Redis::BulkString;
    using Poco::Redis::RedisType;
    using Poco::Redis::Type;
    auto& srv = server();
    for (auto _ : state) {
        Router router;
        Counting counter;
        router.subscribe("*", {}, &counter);
        EntryDecoder decoder;
        std::vector<FieldView> fields;
        Poco::Redis::Client client;
        client.connect(srv.host(), srv.port());
        const auto t0 = std::chrono::steady_clock::now();
        std::string last = "0-0";
        std::size_t seen = 0;
        while (seen < gEntries) {
            Array cmd;
            cmd << "XREAD" << "COUNT" << std::to_string(gCount) << "BLOCK" << "100" << "STREAMS" << kKey << last;
            RedisType::Ptr reply = client.sendCommand(cmd);
            if (!reply->isArray()) {
                continue;
            }
            // Iterate the elements in place (no get<>() copies): the best case for Poco::Redis.
            const Array& streams = static_cast<Type<Array>*>(reply.get())->value();
            const std::int64_t receivedNs = 1;
            for (auto s = streams.begin(); s != streams.end(); ++s) {
                const Array& pair = static_cast<const Type<Array>*>(s->get())->value();
                auto it = pair.begin();
                const std::string& key = static_cast<const Type<BulkString>*>(it->get())->value().value();
                ++it;
                const Array& entries = static_cast<const Type<Array>*>(it->get())->value();
                for (auto e = entries.begin(); e != entries.end(); ++e) {
                    const Array& entry = static_cast<const Type<Array>*>(e->get())->value();
                    auto ei = entry.begin();
                    const std::string& id = static_cast<const Type<BulkString>*>(ei->get())->value().value();
                    ++ei;
                    const Array& fv = static_cast<const Type<Array>*>(ei->get())->value();
                    fields.clear();
                    for (auto f = fv.begin(); f != fv.end(); ++f) {
                        const std::string& name = static_cast<const Type<BulkString>*>(f->get())->value().value();
                        ++f;
                        const std::string& value = static_cast<const Type<BulkString>*>(f->get())->value().value();
                        fields.push_back(FieldView{name, value});
                    }
                    Message msg;
                    if (decoder.decode(fields, msg)) {
                        msg.stream = key;
                        msg.id = id;
                        msg.streamId = *StreamId::parse(id);
                        msg.receivedNs = receivedNs;
                        router.route(msg);
                    }
                    last = id;
                    ++seen;
                }
            }
        }
        const auto t1 = std::chrono::steady_clock::now();
        state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
        if (counter.n.load() != gEntries) {
            state.SkipWithError("not every entry was routed");
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * gEntries));
}

void BM_Read_RedisLinkOnly(benchmark::State& state)
{
    auto& srv = server();
    for (auto _ : state) {
        RedisLinkOptions o;
        o.endpoint = endpointOf(srv);
        RedisLink link(o);
        link.connect();
        const auto t0 = std::chrono::steady_clock::now();
        StreamId last;
        std::size_t seen = 0;
        std::size_t bytes = 0;
        while (seen < gEntries) {
            link.begin(8)
                .arg(std::string_view("XREAD"))
                .arg(std::string_view("COUNT"))
                .arg(static_cast<std::int64_t>(gCount))
                .arg(std::string_view("BLOCK"))
                .arg(std::string_view("100"))
                .arg(std::string_view("STREAMS"))
                .arg(std::string_view(kKey))
                .arg(last);
            link.send();
            RespReader r = link.readReply(5000);
            const RespValue top = r.next();
            for (std::size_t s = 0; s < top.size(); ++s) {
                r.next();
                r.next();
                const RespValue entries = r.next();
                for (std::size_t e = 0; e < entries.size(); ++e) {
                    r.next();
                    const RespValue id = r.next();
                    const RespValue fv = r.next();
                    for (std::size_t f = 0; f < fv.size(); ++f) {
                        bytes += r.next().str.size();
                    }
                    last = *StreamId::parse(id.str);
                    ++seen;
                }
            }
        }
        const auto t1 = std::chrono::steady_clock::now();
        benchmark::DoNotOptimize(bytes);
        state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * gEntries));
}

}  // namespace

BENCHMARK(BM_Ingest_StreamReader)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_Ingest_PocoRedis)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_Read_RedisLinkOnly)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);

int main(int argc, char** argv)
{
    std::vector<char*> rest;
    for (int i = 0; i < argc; ++i) {
        if (std::strncmp(argv[i], "--entries=", 10) == 0) {
            gEntries = std::strtoull(argv[i] + 10, nullptr, 10);
        } else if (std::strncmp(argv[i], "--count=", 8) == 0) {
            gCount = std::atoi(argv[i] + 8);
        } else {
            rest.push_back(argv[i]);
        }
    }
    int n = static_cast<int>(rest.size());
    Logging::setLevel("relay.bus", "warn");
    benchmark::Initialize(&n, rest.data());
    if (benchmark::ReportUnrecognizedArguments(n, rest.data())) {
        return 1;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

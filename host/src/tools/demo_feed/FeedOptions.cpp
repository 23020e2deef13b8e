#include "tools/demo_feed/FeedOptions.h"

#include <charconv>
#include <cmath>
#include <sstream>
#include <string_view>

namespace nautilus::relay::demo {

namespace {

std::string trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return std::string(s);
}

std::vector<std::string> split(std::string_view s, char sep)
{
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size()) {
        const auto end = s.find(sep, start);
        out.push_back(trim(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start)));
        if (end == std::string_view::npos) {
            break;
        }
        start = end + 1;
    }
    return out;
}

long long toInteger(const std::string& name, const std::string& v, long long min, long long max)
{
    long long out = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (v.empty() || ec != std::errc() || p != v.data() + v.size() || out < min || out > max) {
        throw FeedUsageError("--" + name + ": '" + v + "' is not an integer in [" + std::to_string(min) + ", " +
                             std::to_string(max) + "]");
    }
    return out;
}

double toNumber(const std::string& name, const std::string& v, double min)
{
    double out = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (v.empty() || ec != std::errc() || p != v.data() + v.size() || !std::isfinite(out) || out < min) {
        std::ostringstream m;
        m << "--" << name << ": '" << v << "' is not a number >= " << min;
        throw FeedUsageError(m.str());
    }
    return out;
}

InstrumentSpec parseInstrument(const std::string& text)
{
    const auto parts = split(text, ':');
    InstrumentSpec spec;
    spec.id = parts[0];
    const auto dot = spec.id.rfind('.');
    if (spec.id.empty() || dot == std::string::npos || dot == 0 || dot + 1 == spec.id.size() ||
        spec.id.find_first_of(" ,") != std::string::npos) {
        throw FeedUsageError("--instruments: '" + text + "' is not SYMBOL.VENUE[:price[:price_precision[:size_precision]]]");
    }
    if (parts.size() > 4) {
        throw FeedUsageError("--instruments: '" + text + "' has too many ':' parts");
    }
    if (parts.size() > 1 && !parts[1].empty()) {
        spec.startPrice = toNumber("instruments", parts[1], 0);
        if (spec.startPrice <= 0) {
            throw FeedUsageError("--instruments: the price of '" + text + "' must be > 0");
        }
    }
    if (parts.size() > 2 && !parts[2].empty()) {
        spec.pricePrecision = static_cast<int>(toInteger("instruments", parts[2], 0, 9));
    }
    if (parts.size() > 3 && !parts[3].empty()) {
        spec.sizePrecision = static_cast<int>(toInteger("instruments", parts[3], 0, 9));
    }
    return spec;
}

}  // namespace

const char* toString(Encoding e)
{
    switch (e) {
    case Encoding::Json: return "json";
    case Encoding::MsgPack: return "msgpack";
    case Encoding::Mixed: return "mixed";
    case Encoding::LegacyMsgPack: return "legacy-msgpack";
    case Encoding::LegacyJson: return "legacy-json";
    }
    return "?";
}

const char* toString(Layout l)
{
    return l == Layout::PerTopic ? "per-topic" : "single";
}

std::string streamBase(const FeedOptions& o)
{
    std::string key;
    if (o.useTraderPrefix) {
        key += "trader-";
    }
    if (o.useTraderId) {
        key += o.traderId + ":";
    }
    if (o.useInstanceId) {
        key += o.instanceId + ":";
    }
    key += o.streamsPrefix;
    return key;
}

std::string feedUsage()
{
    const FeedOptions d;
    std::ostringstream u;
    u << "usage: nautilus-relay-demo-feed [options]\n"
         "\n"
         "Writes realistic NautilusTrader message-bus entries to Redis Streams (quotes, trades, bars,\n"
         "order and position events, account state, heartbeats), as a trading node's external egress\n"
         "would, so a relay, dashboard or plugin can be tested without a trading node.\n"
         "\n"
         "Redis:\n"
         "  --host HOST              Redis host (default " << d.host << ")\n"
         "  --port PORT              Redis port (default " << d.port << ")\n"
         "  --username USER          ACL user for AUTH (default: none)\n"
         "  --password PASS          AUTH password (default: none)\n"
         "  --db N                   database index, SELECTed after connecting (default " << d.db << ")\n"
         "  --connect-timeout MS     connect timeout (default " << d.connectTimeoutMs << ")\n"
         "\n"
         "Stream keys (NautilusTrader's MessageBusConfig options):\n"
         "  --trader-id ID           trader id (default " << d.traderId << ")\n"
         "  --instance-id UUID       instance id, used with --use-instance-id (default " << d.instanceId << ")\n"
         "  --use-instance-id        put the instance id in the key\n"
         "  --no-trader-prefix       leave out the literal 'trader-' prefix\n"
         "  --no-trader-id           leave out the trader id\n"
         "  --streams-prefix P       streams prefix (default " << d.streamsPrefix << ")\n"
         "  --layout L               per-topic (one stream per topic, NautilusTrader's default) or single\n"
         "                           (one shared stream) (default " << toString(d.layout) << ")\n"
         "\n"
         "Wire format:\n"
         "  --encoding E             json            Rust node, typed headers topic,type,payload,encoding=Json\n"
         "                           msgpack         Rust node, encoding=MsgPack\n"
         "                           mixed           market data MsgPack, events Json (encoding_market_data=msgpack)\n"
         "                           legacy-msgpack  legacy Cython node, entries topic,payload only, MessagePack,\n"
         "                                           legacy shapes (timestamps as decimal strings, flat events)\n"
         "                           legacy-json     the same with JSON\n"
         "                           (default " << toString(d.encoding) << ")\n"
         "  --legacy-headers         legacy encodings: add the v1.229+ legacy headers type=\"\" encoding=Json\n"
         "\n"
         "Load:\n"
         "  --rate N                 entries per second, heartbeats not included; 0 = as fast as possible\n"
         "                           (default " << d.rate << ")\n"
         "  --duration S             stop after S seconds; 0 = no limit (default 0)\n"
         "  --count N                stop after N entries in total, heartbeats included; 0 = no limit (default 0)\n"
         "  --heartbeat-interval S   heartbeat period (topic health:heartbeat); 0 = none (default " << d.heartbeatIntervalS << ")\n"
         "  --instruments LIST       comma-separated SYMBOL.VENUE[:price[:price_precision[:size_precision]]]\n"
         "                           (default BTCUSDT.BINANCE,ETHUSDT.BINANCE,ESZ24.XCME)\n"
         "  --batch N                XADDs per pipeline round trip (default " << d.batch << ")\n"
         "  --order-every N          cycles between order lifecycles; 0 = no orders (default " << d.orderEvery << ")\n"
         "  --bar-every N            cycles per 1-minute bar; 0 = no bars (default " << d.barEvery << ")\n"
         "  --seed N                 random seed (default " << d.seed << ")\n"
         "\n"
         "Output:\n"
         "  --quiet                  only the final summary line\n"
         "  --help, --version\n"
         "\n"
         "One cycle is one quote per instrument and a trade for about 60% of them. Order lifecycles run\n"
         "on strategy EMACross-000 and account BINANCE-001. Stops cleanly on SIGINT/SIGTERM, --duration\n"
         "or --count and prints a summary. A lost connection is retried with backoff (100 ms doubling\n"
         "to 2 s) and unacknowledged entries are re-sent; failing to connect at start exits with 2.\n";
    return u.str();
}

FeedOptions parseFeedOptions(int argc, const char* const* argv)
{
    FeedOptions o;
    std::string instruments = "BTCUSDT.BINANCE,ETHUSDT.BINANCE,ESZ24.XCME";
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg.rfind("--", 0) != 0) {
            throw FeedUsageError("unexpected argument '" + arg + "' (see --help)");
        }
        std::string name = arg.substr(2);
        std::string value;
        bool hasValue = false;
        if (const auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
            hasValue = true;
        }
        auto flag = [&]() {
            if (hasValue) {
                throw FeedUsageError("--" + name + " takes no value");
            }
        };
        auto next = [&]() -> std::string {
            if (hasValue) {
                return value;
            }
            if (i + 1 >= argc) {
                throw FeedUsageError("--" + name + " needs a value");
            }
            return argv[++i];
        };
        if (name == "help") {
            flag();
            o.help = true;
        } else if (name == "version") {
            flag();
            o.version = true;
        } else if (name == "host") {
            o.host = next();
        } else if (name == "port") {
            o.port = static_cast<int>(toInteger(name, next(), 1, 65535));
        } else if (name == "username") {
            o.username = next();
        } else if (name == "password") {
            o.password = next();
        } else if (name == "db") {
            o.db = static_cast<int>(toInteger(name, next(), 0, 1 << 20));
        } else if (name == "connect-timeout") {
            o.connectTimeoutMs = static_cast<int>(toInteger(name, next(), 1, 600000));
        } else if (name == "trader-id") {
            o.traderId = next();
        } else if (name == "instance-id") {
            o.instanceId = next();
        } else if (name == "use-instance-id") {
            flag();
            o.useInstanceId = true;
        } else if (name == "no-trader-prefix") {
            flag();
            o.useTraderPrefix = false;
        } else if (name == "no-trader-id") {
            flag();
            o.useTraderId = false;
        } else if (name == "streams-prefix") {
            o.streamsPrefix = next();
        } else if (name == "layout") {
            const auto v = next();
            if (v == "per-topic") {
                o.layout = Layout::PerTopic;
            } else if (v == "single") {
                o.layout = Layout::Single;
            } else {
                throw FeedUsageError("--layout: '" + v + "' is not one of per-topic, single");
            }
        } else if (name == "encoding") {
            const auto v = next();
            if (v == "json") {
                o.encoding = Encoding::Json;
            } else if (v == "msgpack") {
                o.encoding = Encoding::MsgPack;
            } else if (v == "mixed") {
                o.encoding = Encoding::Mixed;
            } else if (v == "legacy-msgpack") {
                o.encoding = Encoding::LegacyMsgPack;
            } else if (v == "legacy-json") {
                o.encoding = Encoding::LegacyJson;
            } else {
                throw FeedUsageError("--encoding: '" + v + "' is not one of json, msgpack, mixed, legacy-msgpack, legacy-json");
            }
        } else if (name == "legacy-headers") {
            flag();
            o.legacyHeaders = true;
        } else if (name == "rate") {
            o.rate = toNumber(name, next(), 0);
        } else if (name == "duration") {
            o.durationS = toNumber(name, next(), 0);
        } else if (name == "count") {
            o.count = static_cast<std::uint64_t>(toInteger(name, next(), 0, 1LL << 62));
        } else if (name == "heartbeat-interval") {
            o.heartbeatIntervalS = toNumber(name, next(), 0);
        } else if (name == "instruments") {
            instruments = next();
        } else if (name == "batch") {
            o.batch = static_cast<int>(toInteger(name, next(), 1, 100000));
        } else if (name == "order-every") {
            o.orderEvery = static_cast<int>(toInteger(name, next(), 0, 1 << 30));
        } else if (name == "bar-every") {
            o.barEvery = static_cast<int>(toInteger(name, next(), 0, 1 << 30));
        } else if (name == "seed") {
            o.seed = static_cast<std::uint64_t>(toInteger(name, next(), 0, (1LL << 62)));
        } else if (name == "quiet") {
            flag();
            o.quiet = true;
        } else {
            throw FeedUsageError("unknown option --" + name + " (see --help)");
        }
    }
    if (o.help || o.version) {
        return o;
    }
    for (const auto& item : split(instruments, ',')) {
        if (!item.empty()) {
            o.instruments.push_back(parseInstrument(item));
        }
    }
    if (o.instruments.empty()) {
        throw FeedUsageError("--instruments: at least one instrument is needed");
    }
    if (o.traderId.empty() && o.useTraderId) {
        throw FeedUsageError("--trader-id must not be empty");
    }
    return o;
}

}  // namespace nautilus::relay::demo

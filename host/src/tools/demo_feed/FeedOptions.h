#pragma once
// Command-line options of nautilus-relay-demo-feed (plain argv parsing, `--name value` or
// `--name=value`). parseFeedOptions() throws FeedUsageError with a one-line reason.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace nautilus::relay::demo {

class FeedUsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class Encoding { Json, MsgPack, Mixed, LegacyMsgPack, LegacyJson };
enum class Layout { PerTopic, Single };

struct InstrumentSpec {
    std::string id;          ///< SYMBOL.VENUE
    double startPrice = 0;   ///< 0 = the built-in default for this instrument
    int pricePrecision = -1; ///< -1 = default
    int sizePrecision = -1;  ///< -1 = default
};

struct FeedOptions {
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string username;
    std::string password;
    int db = 0;
    int connectTimeoutMs = 2000;

    std::string traderId = "TRADER-001";
    std::string instanceId = "45b9d765-8189-4d46-8ef3-1279d4bcb3d5";
    bool useInstanceId = false;
    bool useTraderPrefix = true;
    bool useTraderId = true;
    std::string streamsPrefix = "stream";
    Layout layout = Layout::PerTopic;

    Encoding encoding = Encoding::Json;
    bool legacyHeaders = false;  ///< legacy encodings: write G2 headers (type "", encoding Json)

    double rate = 100;           ///< entries/s; 0 = as fast as possible
    double durationS = 0;        ///< 0 = no limit
    std::uint64_t count = 0;     ///< 0 = no limit
    double heartbeatIntervalS = 1;
    std::vector<InstrumentSpec> instruments;
    int batch = 100;
    int orderEvery = 20;         ///< cycles between two order lifecycles
    int barEvery = 60;           ///< cycles per bar ("simulated minute")
    std::uint64_t seed = 42;
    bool quiet = false;

    bool help = false;
    bool version = false;
};

/// argv[0] is skipped.
FeedOptions parseFeedOptions(int argc, const char* const* argv);
std::string feedUsage();
const char* toString(Encoding e);
const char* toString(Layout l);
/// The stream key base (SPEC §2.1): [trader-][<trader_id>:][<instance_id>:]<streams_prefix>.
std::string streamBase(const FeedOptions& o);

}  // namespace nautilus::relay::demo

#include "bus/StreamReader.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <unistd.h>

#include "bus/Backoff.h"
#include "bus/RedisLink.h"
#include "bus/StreamCursor.h"
#include "bus/StreamEntry.h"
#include "bus/StreamKeys.h"
#include "common/Logging.h"
#include "common/Metrics.h"
#include "common/ThreadName.h"
#include "common/Time.h"
#include "decoder/EntryDecoder.h"
#include "router/Router.h"

namespace nautilus::relay {

namespace {

constexpr std::int64_t kMsNs = 1'000'000;
/// A route() call slower than this means downstream queues are full (backpressure).
constexpr std::int64_t kStallNs = 50 * kMsNs;
/// How long a stall keeps snapshot().backpressured set after it ended.
constexpr std::int64_t kStallHoldNs = 1000 * kMsNs;
/// Distinct routing types counted per type; beyond this, type="other" (hostile input must not
/// grow the metrics without bound).
constexpr std::size_t kMaxTypeLabels = 256;
/// While reconnecting, a repeated identical error is logged again at most this often.
constexpr std::int64_t kRepeatLogNs = 30'000 * kMsNs;
/// XINFO commands per pipelined round.
constexpr std::size_t kPipelineChunk = 256;
/// XREAD COUNT is per stream: with many streams the per-stream count shrinks so that one reply
/// holds at most about this many entries (but at least kMinCountPerStream per stream).
constexpr std::int64_t kMaxEntriesPerRead = 20000;
constexpr std::int64_t kMinCountPerStream = 16;

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

std::string_view toString(StartPosition p)
{
    switch (p) {
    case StartPosition::Latest: return "latest";
    case StartPosition::Earliest: return "earliest";
    case StartPosition::Checkpoint: return "checkpoint";
    }
    return "?";
}

double secondsSince(std::int64_t monoNs)
{
    return static_cast<double>(monoNowNs() - monoNs) / 1e9;
}

}  // namespace

struct StreamReader::Impl {
    struct Stream {
        std::string key;
        StreamCursor cursor;
        bool positioned = false;
        bool wrongType = false;
        std::uint64_t received = 0;
        std::uint64_t trimGaps = 0;
        std::uint64_t trimmedEntries = 0;
        std::uint64_t resets = 0;
        std::int64_t lastMessageNs = 0;
        bool dirty = true;
        std::size_t index = 0;  // in streams and in the published snapshot
    };

    Impl(const BusConfig& config, Router& router, CheckpointSource* checkpoints);
    ~Impl();

    // --- reader thread ---
    void run();
    void connectAndPosition();
    void readLoop();
    void readBatch();
    void processReply(RespReader& reply);
    void handleFailure(const std::string& reason);
    void initialPosition();
    void discover(bool initial);
    std::vector<std::string> scanKeys();
    Stream& addStream(const std::string& key);
    void position(const std::vector<Stream*>& targets, bool initial);
    void monitor();
    std::vector<StreamInfo> fetchInfo(const std::vector<Stream*>& targets);
    void applyCheck(Stream& s, const StreamInfo& info);
    void checkStale(std::int64_t nowMono);
    void setState(BusState state, const std::string& reason);
    void publish();
    Counter& typeCounter(const Message& msg);
    bool waitFor(std::int64_t ms);  // false when stopping

    const BusConfig& cfg;
    Router& router;
    StreamReader::RouteFunction routeFn;  ///< set before start(); empty: router.route
    StreamReader::BatchEndFunction batchEndFn;  ///< with routeFn; empty: router.endBatch
    CheckpointSource* checkpoints;
    std::shared_ptr<spdlog::logger> log;
    const std::string address;

    std::thread thread;
    std::atomic<bool> stopping{false};
    std::mutex waitMutex;
    std::condition_variable waitCv;
    RedisLink link;
    Backoff backoff;

    // Reader-thread state.
    std::vector<std::unique_ptr<Stream>> streams;
    std::unordered_map<std::string, Stream*, StringHash, std::equal_to<>> byKey;
    StreamSelection selection;
    std::map<std::string, StreamPosition> checkpointMap;
    bool initialDone = false;
    BusState state = BusState::Disconnected;
    bool everConnected = false;
    std::int64_t connectedMono = 0;
    std::int64_t lastEntryMono = 0;
    std::int64_t outageStartMono = 0;
    int outageAttempts = 0;
    std::string lastLoggedError;
    std::int64_t lastLoggedErrorMono = 0;
    std::int64_t nextDiscoveryMono = 0;
    std::int64_t nextMonitorMono = 0;
    std::uint64_t received = 0;
    std::uint64_t rejected = 0;
    std::uint64_t heartbeats = 0;
    std::uint64_t trimGaps = 0;
    std::uint64_t trimmedEntries = 0;
    std::uint64_t resets = 0;
    std::uint64_t reconnects = 0;
    std::int64_t lastMessageNs = 0;
    std::int64_t lastHeartbeatNs = 0;
    std::int64_t lastPollNs = 0;
    std::string lastError;
    std::int64_t lastErrorNs = 0;

    EntryDecoder decoder;
    std::vector<FieldView> fields;
    std::string xreadTail;  // "STREAMS" argument list is rebuilt per read; kept for capacity
    std::vector<Stream*> readSet;

    // Published state (snapshot()/positions() from any thread).
    mutable std::mutex pubMutex;
    BusSnapshot pub;
    std::mutex listenerMutex;
    StateListener listener;
    std::atomic<std::int64_t> batchStartMono{0};
    std::atomic<std::int64_t> lastStallMono{0};

    // Metrics: references stay valid for the registry's life.
    MetricsRegistry& registry;
    Counter& mReceivedAll;
    Counter& mRejectedEnvelope;
    Counter& mRejectedPayload;
    Counter& mHeartbeats;
    Counter& mReconnects;
    Counter& mTrimGaps;
    Counter& mTrimmedEntries;
    Counter& mResets;
    Histogram& mLatency;
    std::unordered_map<std::string, Counter*, StringHash, std::equal_to<>> typeCounters;
    std::string lastTypeKey;
    Counter* lastTypeCounter = nullptr;
    int collectorId = 0;
};

StreamReader::Impl::Impl(const BusConfig& config, Router& r, CheckpointSource* cp)
    : cfg(config),
      router(r),
      checkpoints(cp),
      log(Logging::get("relay.bus")),
      address(config.redis.address()),
      link([&] {
          RedisLinkOptions o;
          o.endpoint = config.redis;
          o.ioTimeoutMs = std::max(1, config.readTimeoutMs);
          o.keepAlive = config.tcpKeepAlive;
          o.clientName = "nautilus-relay:bus:" + std::to_string(::getpid());
          return o;
      }()),
      backoff(config.backoff),
      registry(MetricsRegistry::global()),
      mReceivedAll(registry.counter("nautilus_relay_bus_received_total", "Stream entries read from Redis, rejected ones included")),
      mRejectedEnvelope(registry.counter("nautilus_relay_messages_rejected_total", "Stream entries rejected by the decoder, by stage",
                                         "stage=\"envelope\"")),
      mRejectedPayload(registry.counter("nautilus_relay_messages_rejected_total", "Stream entries rejected by the decoder, by stage",
                                        "stage=\"payload\"")),
      mHeartbeats(registry.counter("nautilus_relay_bus_heartbeats_total", "NautilusTrader heartbeats read")),
      mReconnects(registry.counter("nautilus_relay_bus_reconnects_total", "Connections to Redis lost and re-established")),
      mTrimGaps(registry.counter("nautilus_relay_bus_trim_gaps_total", "Trim gaps: entries removed before the reader read them")),
      mTrimmedEntries(registry.counter("nautilus_relay_bus_trimmed_entries_total", "Entries known lost in trim gaps")),
      mResets(registry.counter("nautilus_relay_bus_resets_total", "Streams deleted or recreated (ids started over)")),
      mLatency(registry.histogram("nautilus_relay_decode_route_seconds", "Decode + route time per stream entry"))
{
    fields.reserve(16);
    pub.redis = address;
    pub.state = BusState::Disconnected;
    pub.sinceNs = wallNowNs();
    collectorId = registry.addCollector([this](PromWriter& w) {
        const BusSnapshot s = [this] {
            std::lock_guard lock(pubMutex);
            BusSnapshot copy = pub;
            return copy;
        }();
        w.family("nautilus_relay_bus_state", "gauge", "Bus state (1 for the current state)");
        for (BusState st : {BusState::Connecting, BusState::Connected, BusState::Stale, BusState::Reconnecting,
                            BusState::Disconnected}) {
            w.sample("nautilus_relay_bus_state", "state=\"" + std::string(toString(st)) + "\"", st == s.state ? 1 : 0);
        }
        const std::int64_t stall = lastStallMono.load(std::memory_order_relaxed);
        const std::int64_t batch = batchStartMono.load(std::memory_order_relaxed);
        const std::int64_t now = monoNowNs();
        const bool bp = (batch != 0 && now - batch > kStallNs) || (stall != 0 && now - stall < kStallHoldNs);
        w.family("nautilus_relay_bus_backpressured", "gauge", "1 while the reader waits for downstream queues");
        w.sample("nautilus_relay_bus_backpressured", {}, bp ? 1 : 0);
        if (s.streams.empty()) {
            return;
        }
        w.family("nautilus_relay_stream_lag", "gauge", "Entries written to the stream but not delivered yet (as of the last sample)");
        w.family("nautilus_relay_stream_last_id_ms", "gauge", "Millisecond part of the last delivered entry id");
        w.family("nautilus_relay_stream_received_total", "counter", "Entries read from the stream");
        w.family("nautilus_relay_stream_trim_gaps_total", "counter", "Trim gaps detected on the stream");
        w.family("nautilus_relay_stream_trimmed_entries_total", "counter", "Entries lost in trim gaps on the stream");
        w.family("nautilus_relay_stream_resets_total", "counter", "Resets (deleted/recreated) of the stream");
        std::vector<std::string> labels;
        labels.reserve(s.streams.size());
        for (const auto& st : s.streams) {
            labels.push_back("stream=\"" + PromWriter::escapeLabel(st.key) + "\"");
        }
        const auto each = [&](const char* name, auto value) {
            for (std::size_t i = 0; i < s.streams.size(); ++i) {
                value(name, labels[i], s.streams[i]);
            }
        };
        each("nautilus_relay_stream_lag", [&](const char* n, const std::string& l, const StreamStatus& st) {
            if (st.lag >= 0) w.sample(n, l, static_cast<double>(st.lag));
        });
        each("nautilus_relay_stream_last_id_ms", [&](const char* n, const std::string& l, const StreamStatus& st) {
            w.sample(n, l, static_cast<double>(st.lastId.ms));
        });
        each("nautilus_relay_stream_received_total", [&](const char* n, const std::string& l, const StreamStatus& st) {
            w.sample(n, l, static_cast<double>(st.received));
        });
        each("nautilus_relay_stream_trim_gaps_total", [&](const char* n, const std::string& l, const StreamStatus& st) {
            w.sample(n, l, static_cast<double>(st.trimGaps));
        });
        each("nautilus_relay_stream_trimmed_entries_total", [&](const char* n, const std::string& l, const StreamStatus& st) {
            w.sample(n, l, static_cast<double>(st.trimmedEntries));
        });
        each("nautilus_relay_stream_resets_total", [&](const char* n, const std::string& l, const StreamStatus& st) {
            w.sample(n, l, static_cast<double>(st.resets));
        });
    });
}

StreamReader::Impl::~Impl()
{
    registry.removeCollector(collectorId);
}

// ------------------------------------------------------------------------------------------
// State, publication

void StreamReader::Impl::setState(BusState next, const std::string& reason)
{
    if (next == state) {
        return;
    }
    state = next;
    {
        std::lock_guard lock(pubMutex);
        pub.state = next;
        pub.sinceNs = wallNowNs();
    }
    StateListener l;
    {
        std::lock_guard lock(listenerMutex);
        l = listener;
    }
    if (l) {
        try {
            l(next, reason);
        } catch (const std::exception& e) {
            log->error("bus state listener threw: {}", e.what());
        }
    }
}

void StreamReader::Impl::publish()
{
    std::lock_guard lock(pubMutex);
    pub.reconnects = reconnects;
    pub.lastError = lastError;
    pub.lastErrorNs = lastErrorNs;
    pub.lastMessageNs = lastMessageNs;
    pub.lastHeartbeatNs = lastHeartbeatNs;
    pub.lastPollNs = lastPollNs;
    pub.received = received;
    pub.rejected = rejected;
    pub.heartbeats = heartbeats;
    pub.trimGaps = trimGaps;
    pub.trimmedEntries = trimmedEntries;
    pub.resets = resets;
    if (pub.streams.size() < streams.size()) {
        for (std::size_t i = pub.streams.size(); i < streams.size(); ++i) {
            StreamStatus st;
            st.key = streams[i]->key;
            pub.streams.push_back(std::move(st));
            streams[i]->dirty = true;
        }
    }
    for (auto& sp : streams) {
        Stream& s = *sp;
        if (!s.dirty) {
            continue;
        }
        s.dirty = false;
        StreamStatus& st = pub.streams[s.index];
        st.lastId = s.cursor.lastId();
        st.ordinal = s.cursor.ordinal();
        st.lag = s.cursor.lag();
        st.received = s.received;
        st.trimGaps = s.trimGaps;
        st.trimmedEntries = s.trimmedEntries;
        st.resets = s.resets;
        st.lastMessageNs = s.lastMessageNs;
    }
}

bool StreamReader::Impl::waitFor(std::int64_t ms)
{
    std::unique_lock lock(waitMutex);
    waitCv.wait_for(lock, std::chrono::milliseconds(std::max<std::int64_t>(0, ms)),
                    [this] { return stopping.load(std::memory_order_relaxed); });
    return !stopping.load(std::memory_order_relaxed);
}

// ------------------------------------------------------------------------------------------
// Connection life cycle

void StreamReader::Impl::run()
{
    setState(BusState::Connecting, "starting");
    log->info("connecting to redis {} (db {}{})", address, cfg.redis.db,
              cfg.redis.username.empty() ? std::string() : ", user " + cfg.redis.username);
    while (!stopping.load()) {
        try {
            connectAndPosition();
            readLoop();
        } catch (const RedisLinkError& e) {
            handleFailure(e.what());
        } catch (const RespError& e) {
            handleFailure(std::string("protocol error: ") + e.what());
        } catch (const std::exception& e) {
            handleFailure(e.what());
        }
    }
    link.close();
    publish();
    setState(BusState::Disconnected, "stopped");
    log->info("bus stopped (redis {})", address);
}

void StreamReader::Impl::connectAndPosition()
{
    const std::int64_t t0 = monoNowNs();
    link.connect();
    if (!initialDone) {
        initialPosition();
    } else {
        // Topics may have appeared during the outage, and streams may have been trimmed or
        // reset: look before reading on.
        discover(false);
        monitor();
    }
    const std::int64_t now = monoNowNs();
    nextDiscoveryMono = now + static_cast<std::int64_t>(std::max(1, cfg.discoveryIntervalMs)) * kMsNs;
    nextMonitorMono = now + static_cast<std::int64_t>(std::max(1, cfg.monitorIntervalMs)) * kMsNs;
    connectedMono = now;
    if (everConnected) {
        log->info("reconnected to redis {} after {} attempt{}, outage {:.1f} s", address, outageAttempts,
                  outageAttempts == 1 ? "" : "s", secondsSince(outageStartMono));
    } else if (outageAttempts > 0) {
        log->info("connected to redis {} after {} failed attempt{} ({:.1f} s); reading {} stream{}", address,
                  outageAttempts, outageAttempts == 1 ? "" : "s", secondsSince(outageStartMono), streams.size(),
                  streams.size() == 1 ? "" : "s");
    } else {
        log->info("connected to redis {} in {} ms; reading {} stream{}", address, (now - t0) / kMsNs, streams.size(),
                  streams.size() == 1 ? "" : "s");
    }
    everConnected = true;
    outageAttempts = 0;
    lastLoggedError.clear();
    backoff.reset();
    publish();
    setState(BusState::Connected, "connected to " + address);
}

void StreamReader::Impl::handleFailure(const std::string& reason)
{
    link.close();
    if (stopping.load()) {
        return;
    }
    const std::int64_t now = monoNowNs();
    lastError = reason;
    lastErrorNs = wallNowNs();
    ++outageAttempts;
    const bool wasUp = state == BusState::Connected || state == BusState::Stale;
    if (wasUp) {
        ++reconnects;
        mReconnects.inc();
        outageStartMono = now;
        outageAttempts = 1;
        lastLoggedError.clear();
    } else if (outageStartMono == 0) {
        outageStartMono = now;
    }
    // Every event once: a repeated identical error while reconnecting goes to debug, with a
    // reminder at warn every kRepeatLogNs.
    const bool fresh = reason != lastLoggedError || now - lastLoggedErrorMono > kRepeatLogNs;
    if (fresh) {
        if (wasUp) {
            log->warn("redis {}: connection lost: {}", address, reason);
        } else if (lastLoggedError.empty()) {
            log->warn("redis {}: cannot connect: {}", address, reason);
        } else {
            log->warn("redis {}: still unavailable after {} attempts ({:.1f} s): {}", address, outageAttempts,
                      secondsSince(outageStartMono), reason);
        }
        lastLoggedError = reason;
        lastLoggedErrorMono = now;
    } else {
        log->debug("redis {}: attempt {} failed: {}", address, outageAttempts, reason);
    }
    publish();
    if (wasUp) {
        setState(BusState::Reconnecting, reason);
    }
    const int delay = backoff.nextDelayMs();
    if (fresh) {
        log->info("redis {}: reconnecting in {} ms (attempt {})", address, delay, backoff.attempts());
    } else {
        log->debug("redis {}: reconnecting in {} ms (attempt {})", address, delay, backoff.attempts());
    }
    waitFor(delay);
}

// ------------------------------------------------------------------------------------------
// Streams: resolution, discovery, positions, monitoring

StreamReader::Impl::Stream& StreamReader::Impl::addStream(const std::string& key)
{
    auto s = std::make_unique<Stream>();
    s->key = key;
    s->index = streams.size();
    Stream& ref = *s;
    streams.push_back(std::move(s));
    byKey.emplace(ref.key, &ref);
    return ref;
}

std::vector<std::string> StreamReader::Impl::scanKeys()
{
    std::vector<std::string> found;
    for (const auto& pattern : selection.patterns) {
        std::string cursor = "0";
        do {
            RespReader r = link.command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000", "TYPE", "stream"});
            const RespValue top = r.next();
            if (top.isError()) {
                throw RedisLinkError("SCAN failed on " + address + ": " + std::string(top.str));
            }
            if (!top.isArray() || top.size() != 2) {
                throw RedisLinkError("unexpected SCAN reply from " + address);
            }
            const RespValue next = r.next();
            cursor = std::string(next.str);
            const RespValue keys = r.next();
            for (std::size_t i = 0; i < keys.size(); ++i) {
                const RespValue k = r.next();
                r.skipChildren(k);
                if (k.isString() && !byKey.contains(k.str)) {
                    found.emplace_back(k.str);
                }
            }
        } while (cursor != "0");
    }
    std::sort(found.begin(), found.end());
    found.erase(std::unique(found.begin(), found.end()), found.end());
    return found;
}

void StreamReader::Impl::initialPosition()
{
    if (cfg.start == StartPosition::Checkpoint && checkpointMap.empty()) {
        if (checkpoints == nullptr) {
            log->warn("start = checkpoint but no checkpoint store is configured; streams start at {}",
                      toString(cfg.startFallback));
        } else {
            try {
                checkpointMap = checkpoints->loadCheckpoints();
                log->info("loaded {} checkpoint{}", checkpointMap.size(), checkpointMap.size() == 1 ? "" : "s");
            } catch (const std::exception& e) {
                log->warn("cannot load checkpoints ({}); streams start at {}", e.what(), toString(cfg.startFallback));
            }
        }
    }
    if (streams.empty()) {
        selection = StreamKeys::resolve(cfg);
        for (const auto& key : selection.exactKeys) {
            if (!byKey.contains(key)) {
                addStream(key);
            }
        }
    }
    for (const auto& key : scanKeys()) {
        addStream(key);
    }
    std::vector<Stream*> targets;
    for (auto& s : streams) {
        if (!s->positioned) {
            targets.push_back(s.get());
        }
    }
    position(targets, true);
    initialDone = true;
    if (!selection.patterns.empty()) {
        std::string pats;
        for (const auto& p : selection.patterns) {
            pats += (pats.empty() ? "" : ", ") + p;
        }
        log->info("discovering streams matching {} every {} ms", pats, cfg.discoveryIntervalMs);
    }
}

void StreamReader::Impl::discover(bool initial)
{
    if (selection.patterns.empty()) {
        return;
    }
    const auto keys = scanKeys();
    if (keys.empty()) {
        return;
    }
    std::vector<Stream*> targets;
    for (const auto& key : keys) {
        targets.push_back(&addStream(key));
    }
    position(targets, initial);
}

std::vector<StreamInfo> StreamReader::Impl::fetchInfo(const std::vector<Stream*>& targets)
{
    std::vector<StreamInfo> infos;
    infos.reserve(targets.size());
    for (std::size_t off = 0; off < targets.size(); off += kPipelineChunk) {
        const std::size_t end = std::min(targets.size(), off + kPipelineChunk);
        for (std::size_t i = off; i < end; ++i) {
            link.begin(3).arg(std::string_view("XINFO")).arg(std::string_view("STREAM")).arg(std::string_view(targets[i]->key));
        }
        link.send();
        for (std::size_t i = off; i < end; ++i) {
            RespReader r = link.readReply();
            infos.push_back(parseStreamInfo(r));
        }
    }
    return infos;
}

void StreamReader::Impl::position(const std::vector<Stream*>& targets, bool initial)
{
    if (targets.empty()) {
        return;
    }
    const auto infos = fetchInfo(targets);
    for (std::size_t i = 0; i < targets.size(); ++i) {
        Stream& s = *targets[i];
        const StreamInfo& info = infos[i];
        if (!info.error.empty()) {
            throw RedisLinkError("XINFO STREAM " + s.key + " failed: " + info.error);
        }
        s.wrongType = info.wrongType;
        if (info.wrongType) {
            log->error("stream {}: the key holds another type than a stream; not read", s.key);
        }
        StartPosition how = initial ? cfg.start : StartPosition::Earliest;
        std::string why;
        if (how == StartPosition::Checkpoint || (!initial && cfg.start == StartPosition::Checkpoint)) {
            auto it = checkpointMap.find(s.key);
            if (it != checkpointMap.end()) {
                s.cursor.startAt(it->second);
                s.positioned = true;
                s.dirty = true;
                log->info("stream {}: resuming after checkpoint {} (ordinal {})", s.key, it->second.lastId.toString(),
                          it->second.ordinal);
                if (!info.wrongType) {
                    applyCheck(s, info);
                }
                continue;
            }
            if (how == StartPosition::Checkpoint) {
                how = cfg.startFallback == StartPosition::Checkpoint ? StartPosition::Latest : cfg.startFallback;
                why = " (no checkpoint)";
            }
        }
        if (how == StartPosition::Latest) {
            s.cursor.startLatest(info);
        } else {
            s.cursor.startEarliest(info);
        }
        s.positioned = true;
        s.dirty = true;
        if (!initial) {
            log->info("discovered stream {}; reading it from its first entry", s.key);
        } else if (!info.exists) {
            log->info("stream {}: does not exist yet; reading it from its first entry", s.key);
        } else {
            log->info("stream {}: starting at {}{}: after {} ({} entries, {} ever added)", s.key, toString(how), why,
                      s.cursor.lastId().toString(), info.length, info.entriesAdded);
        }
    }
    // Listed before any of their entries is routed: a WebSocket catch-up started by the first
    // batch must find them among the streams the bus reads.
    publish();
}

void StreamReader::Impl::monitor()
{
    std::vector<Stream*> targets;
    targets.reserve(streams.size());
    for (auto& s : streams) {
        if (s->positioned) {
            targets.push_back(s.get());
        }
    }
    if (targets.empty()) {
        return;
    }
    const auto infos = fetchInfo(targets);
    for (std::size_t i = 0; i < targets.size(); ++i) {
        applyCheck(*targets[i], infos[i]);
    }
    publish();
}

void StreamReader::Impl::applyCheck(Stream& s, const StreamInfo& info)
{
    if (info.wrongType) {
        if (!s.wrongType) {
            log->error("stream {}: the key now holds another type than a stream; not read until it is a stream again", s.key);
            s.wrongType = true;
        }
        return;
    }
    if (!info.error.empty()) {
        log->warn("stream {}: XINFO STREAM failed: {}", s.key, info.error);
        return;
    }
    if (s.wrongType) {
        log->info("stream {}: the key is a stream again; reading it", s.key);
        s.wrongType = false;
    }
    const StreamCursor::Check c = s.cursor.check(info);
    s.dirty = true;
    if (c.reset) {
        ++s.resets;
        ++resets;
        mResets.inc();
        if (c.deleted) {
            log->warn("stream {} (redis {}): reset: the stream was deleted after id {}; it will be read from its first "
                      "entry if it comes back",
                      s.key, address, c.lastIdBefore.toString());
        } else {
            log->warn("stream {} (redis {}): reset: {}; reading on from {}", s.key, address, c.reason,
                      s.cursor.lastId().isZero() ? std::string("its first entry") : s.cursor.lastId().toString());
        }
    }
    if (c.gap) {
        ++s.trimGaps;
        ++trimGaps;
        mTrimGaps.inc();
        const std::string first = info.firstId ? info.firstId->toString() : std::string("(stream empty)");
        if (c.lost >= 0) {
            s.trimmedEntries += static_cast<std::uint64_t>(c.lost);
            trimmedEntries += static_cast<std::uint64_t>(c.lost);
            mTrimmedEntries.inc(static_cast<std::uint64_t>(c.lost));
            log->warn("trim gap on stream {} (redis {}): {} entr{} after delivered id {} {} removed before being "
                      "read; the stream now starts at {}",
                      s.key, address, c.lost, c.lost == 1 ? "y" : "ies", c.gapAfter.toString(), c.lost == 1 ? "was" : "were",
                      first);
        } else {
            log->warn("trim gap on stream {} (redis {}): entries after delivered id {} were removed before being "
                      "read (count unknown); the stream now starts at {}",
                      s.key, address, c.gapAfter.toString(), first);
        }
    } else if (c.uncertain) {
        log->info("stream {}: trimmed up to {} while being read; a gap in the last {} ms cannot be verified, "
                  "lag unknown until caught up",
                  s.key, info.firstId ? info.firstId->toString() : std::string("-"), cfg.monitorIntervalMs);
    }
}

void StreamReader::Impl::checkStale(std::int64_t nowMono)
{
    if (cfg.staleAfterMs <= 0 || state != BusState::Connected) {
        return;
    }
    const std::int64_t since = std::max(lastEntryMono, connectedMono);
    if (nowMono - since > static_cast<std::int64_t>(cfg.staleAfterMs) * kMsNs) {
        log->warn("bus stale: no entry from redis {} for {:.1f} s while the connection answers", address,
                  static_cast<double>(nowMono - since) / 1e9);
        setState(BusState::Stale, "no entry for " + std::to_string(cfg.staleAfterMs) + " ms");
    }
}

// ------------------------------------------------------------------------------------------
// Reading

void StreamReader::Impl::readLoop()
{
    const std::int64_t discoveryNs = static_cast<std::int64_t>(std::max(1, cfg.discoveryIntervalMs)) * kMsNs;
    const std::int64_t monitorNs = static_cast<std::int64_t>(std::max(1, cfg.monitorIntervalMs)) * kMsNs;
    while (!stopping.load(std::memory_order_relaxed)) {
        std::int64_t now = monoNowNs();
        if (now >= nextDiscoveryMono) {
            discover(false);
            nextDiscoveryMono = monoNowNs() + discoveryNs;
        }
        if (now >= nextMonitorMono) {
            monitor();
            nextMonitorMono = monoNowNs() + monitorNs;
        }
        readBatch();
        checkStale(monoNowNs());
    }
}

void StreamReader::Impl::readBatch()
{
    readSet.clear();
    for (auto& s : streams) {
        if (s->positioned && !s->wrongType) {
            readSet.push_back(s.get());
        }
    }
    const int blockMs = std::max(1, cfg.blockMs);
    if (readSet.empty()) {
        // Nothing to read yet (no topic published so far): keep proving the link answers.
        RespReader r = link.command({"PING"});
        const RespValue v = r.next();
        if (v.isError()) {
            throw RedisLinkError("PING refused by " + address + ": " + std::string(v.str));
        }
        lastPollNs = wallNowNs();
        publish();
        const std::int64_t untilDiscovery = (nextDiscoveryMono - monoNowNs()) / kMsNs;
        waitFor(std::clamp<std::int64_t>(untilDiscovery, 1, blockMs));
        return;
    }
    std::int64_t count = std::max(1, cfg.readCount);
    if (readSet.size() > 1) {
        const auto perStream = kMaxEntriesPerRead / static_cast<std::int64_t>(readSet.size());
        count = std::min(count, std::max(kMinCountPerStream, perStream));
    }
    link.begin(6 + 2 * readSet.size())
        .arg(std::string_view("XREAD"))
        .arg(std::string_view("COUNT"))
        .arg(count)
        .arg(std::string_view("BLOCK"))
        .arg(static_cast<std::int64_t>(blockMs))
        .arg(std::string_view("STREAMS"));
    for (Stream* s : readSet) {
        link.arg(std::string_view(s->key));
    }
    for (Stream* s : readSet) {
        link.arg(s->cursor.lastId());
    }
    link.send();
    RespReader reply = link.readReply(blockMs + std::max(1, cfg.readTimeoutMs));
    lastPollNs = wallNowNs();
    processReply(reply);
    publish();
}

Counter& StreamReader::Impl::typeCounter(const Message& msg)
{
    const std::string_view type = msg.heartbeat ? std::string_view("heartbeat")
                                  : msg.type.empty() ? std::string_view("none")
                                                     : msg.type;
    if (lastTypeCounter != nullptr && type == lastTypeKey) {
        return *lastTypeCounter;
    }
    auto it = typeCounters.find(type);
    if (it == typeCounters.end()) {
        const std::string_view label = typeCounters.size() < kMaxTypeLabels ? type : std::string_view("other");
        it = typeCounters.find(label);
        if (it == typeCounters.end()) {
            Counter& c = registry.counter("nautilus_relay_messages_received_total",
                                          "Messages decoded and routed, by routing type",
                                          "type=\"" + PromWriter::escapeLabel(label) + "\"");
            it = typeCounters.emplace(std::string(label), &c).first;
        }
    }
    lastTypeKey.assign(type);
    lastTypeCounter = it->second;
    return *lastTypeCounter;
}

void StreamReader::Impl::processReply(RespReader& r)
{
    const RespValue top = r.next();
    if (top.isNull()) {
        return;  // BLOCK timed out: nothing new
    }
    if (top.isError()) {
        if (top.str.starts_with("WRONGTYPE")) {
            // A key changed type since the last sample; find it and leave it out.
            log->warn("XREAD on redis {}: {}; checking the streams", address, top.str);
            monitor();
            return;
        }
        throw RedisLinkError("XREAD refused by " + address + ": " + std::string(top.str));
    }
    if (!top.isArray()) {
        throw RedisLinkError("unexpected XREAD reply (" + std::string(toString(top.type)) + ") from " + address);
    }
    const std::int64_t receivedNs = wallNowNs();
    batchStartMono.store(monoNowNs(), std::memory_order_relaxed);
    // Subscribers that hand messages on in groups (the WebSocket gateway) do it once per reply,
    // also when the reply turns out malformed halfway.
    struct EndBatch {
        Impl& impl;
        ~EndBatch()
        {
            try {
                if (impl.batchEndFn) {
                    impl.batchEndFn();
                } else if (!impl.routeFn) {  // a route function comes with its own batch end
                    impl.router.endBatch();
                }
            } catch (const std::exception& e) {
                impl.log->error("ending a batch of routed messages failed: {}", e.what());
            }
        }
    } endBatch{*this};
    bool any = false;
    for (std::size_t si = 0; si < top.size(); ++si) {
        const RespValue pair = r.next();
        if (!pair.isArray() || pair.size() != 2) {
            throw RedisLinkError("malformed XREAD reply from " + address);
        }
        const RespValue keyV = r.next();
        const RespValue entries = r.next();
        auto found = byKey.find(keyV.str);
        if (found == byKey.end() || !entries.isArray()) {
            r.skipChildren(entries);
            continue;
        }
        Stream& s = *found->second;
        for (std::size_t ei = 0; ei < entries.size(); ++ei) {
            const RespValue entry = r.next();
            if (!entry.isArray() || entry.size() < 1) {
                r.skipChildren(entry);
                continue;
            }
            const RespValue idV = r.next();
            const auto id = idV.isString() ? StreamId::parse(idV.str) : std::nullopt;
            if (!id) {
                throw RedisLinkError("malformed entry id in XREAD reply from " + address);
            }
            if (ei == 0) {
                s.cursor.beginBatch(*id);
            }
            readEntryFields(r, entry, fields);
            ++received;
            ++s.received;
            mReceivedAll.inc();
            const std::int64_t t0 = monoNowNs();
            Message msg;
            bool ok = false;
            try {
                ok = decoder.decode(std::span<const FieldView>(fields.data(), fields.size()), msg);
                if (ok) {
                    msg.stream = s.key;
                    msg.id = idV.str;
                    msg.streamId = *id;
                    msg.receivedNs = receivedNs;
                    if (msg.heartbeat) {
                        ++heartbeats;
                        mHeartbeats.inc();
                        lastHeartbeatNs = receivedNs;
                    }
                    typeCounter(msg).inc();
                    if (routeFn) {
                        routeFn(msg);
                    } else {
                        router.route(msg);
                    }
                    const std::int64_t t1 = monoNowNs();
                    mLatency.observeNs(t1 - t0);
                    if (t1 - t0 > kStallNs) {
                        lastStallMono.store(t1, std::memory_order_relaxed);
                    }
                } else {
                    ++rejected;
                    (decoder.stage() == RejectStage::Payload ? mRejectedPayload : mRejectedEnvelope).inc();
                    log->error("rejected entry {} on stream {}: {}", idV.str, s.key, decoder.error());
                }
            } catch (const std::exception& e) {
                // Neither the decoder nor the router should throw; if one does, the entry is
                // consumed and reading goes on.
                if (!ok) {
                    ++rejected;
                    mRejectedPayload.inc();
                }
                log->error("entry {} on stream {}: {} failed: {}", idV.str, s.key, ok ? "routing" : "decoding", e.what());
            }
            s.cursor.consumed(*id);
            s.lastMessageNs = receivedNs;
            s.dirty = true;
            any = true;
        }
    }
    batchStartMono.store(0, std::memory_order_relaxed);
    if (any) {
        lastMessageNs = receivedNs;
        lastEntryMono = monoNowNs();
        if (state == BusState::Stale) {
            log->info("bus active again: entries from redis {}", address);
            setState(BusState::Connected, "entries again");
        }
    }
}

// ------------------------------------------------------------------------------------------

StreamReader::StreamReader(BusConfig config, Router& router, CheckpointSource* checkpoints)
    : _config(std::move(config)), _impl(std::make_unique<Impl>(_config, router, checkpoints))
{
}

StreamReader::~StreamReader()
{
    stop();
}

void StreamReader::start()
{
    if (_impl->thread.joinable()) {
        return;
    }
    _impl->stopping.store(false);
    _impl->link.clearInterrupt();
    _impl->thread = std::thread([this] {
        nameThisThread("bus-reader");
        _impl->run();
    });
}

void StreamReader::stop()
{
    if (!_impl->thread.joinable()) {
        return;
    }
    {
        std::lock_guard lock(_impl->waitMutex);
        _impl->stopping.store(true);
    }
    _impl->waitCv.notify_all();
    _impl->link.interrupt();
    _impl->thread.join();
}

BusSnapshot StreamReader::snapshot(bool withStreams) const
{
    BusSnapshot s;
    {
        std::lock_guard lock(_impl->pubMutex);
        if (withStreams) {
            s = _impl->pub;
        } else {
            static_cast<BusSummary&>(s) = _impl->pub;
        }
        s.streamCount = _impl->pub.streams.size();
    }
    const std::int64_t now = monoNowNs();
    const std::int64_t batch = _impl->batchStartMono.load(std::memory_order_relaxed);
    const std::int64_t stall = _impl->lastStallMono.load(std::memory_order_relaxed);
    s.backpressured = (batch != 0 && now - batch > kStallNs) || (stall != 0 && now - stall < kStallHoldNs);
    return s;
}

std::map<std::string, StreamPosition> StreamReader::positions() const
{
    std::map<std::string, StreamPosition> out;
    std::lock_guard lock(_impl->pubMutex);
    for (const auto& st : _impl->pub.streams) {
        out.emplace(st.key, StreamPosition{st.lastId, st.ordinal});
    }
    return out;
}

void StreamReader::setRouteFunction(RouteFunction route, BatchEndFunction endBatch)
{
    _impl->routeFn = std::move(route);
    _impl->batchEndFn = std::move(endBatch);
}

void StreamReader::setStateListener(StateListener listener)
{
    std::lock_guard lock(_impl->listenerMutex);
    _impl->listener = std::move(listener);
}

}  // namespace nautilus::relay

#include "state/StateStore.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include <unistd.h>

#include <Poco/Environment.h>
#include <Poco/Exception.h>
#include <Poco/Redis/Array.h>
#include <Poco/Redis/Client.h>
#include <Poco/Redis/Error.h>
#include <Poco/Redis/Type.h>
#include <Poco/Timespan.h>

#include "common/Logging.h"
#include "common/Metrics.h"
#include "common/ThreadName.h"
#include "common/Time.h"
#include "common/Version.h"
#include "state/StateCodec.h"

namespace nautilus::relay {

namespace {

using Poco::Redis::Array;
using Poco::Redis::BulkString;
using Poco::Redis::RedisType;
using Poco::Redis::RedisTypeTraits;

constexpr int kMaxScanRounds = 10000;
constexpr int kFinalTimeoutMs = 1000;  ///< connect/reply bound of the write in stop()

Poco::Timespan millis(int ms)
{
    return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(std::max(ms, 1)) * 1000);
}

/// A Redis problem worth one log line; the connection that produced it is dropped.
class StateError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

bool isError(const RedisType::Ptr& r)
{
    return r && r->type() == RedisTypeTraits<Poco::Redis::Error>::TypeId;
}

std::string errorText(const RedisType::Ptr& r)
{
    return static_cast<const Poco::Redis::Type<Poco::Redis::Error>*>(r.get())->value().getMessage();
}

/// Throws StateError for an error reply, including errors inside an EXEC result.
void checkReply(const RedisType::Ptr& r, const char* what)
{
    if (!r) {
        throw StateError(std::string(what) + ": no reply");
    }
    if (isError(r)) {
        throw StateError(std::string(what) + ": " + errorText(r));
    }
    if (r->type() == RedisTypeTraits<Array>::TypeId) {
        const auto& a = static_cast<const Poco::Redis::Type<Array>*>(r.get())->value();
        if (a.isNull() && std::string_view(what) == "EXEC") {
            throw StateError("EXEC: transaction aborted");
        }
        for (const auto& e : a) {
            if (isError(e)) {
                throw StateError(std::string(what) + ": " + errorText(e));
            }
        }
    }
}

std::string bulkText(const RedisType::Ptr& r)
{
    if (r && r->type() == RedisTypeTraits<BulkString>::TypeId) {
        const auto& b = static_cast<const Poco::Redis::Type<BulkString>*>(r.get())->value();
        return b.isNull() ? std::string() : b.value();
    }
    if (r && r->type() == RedisTypeTraits<std::string>::TypeId) {
        return static_cast<const Poco::Redis::Type<std::string>*>(r.get())->value();
    }
    throw StateError("unexpected reply type");
}

const Array& arrayOf(const RedisType::Ptr& r, const char* what)
{
    if (!r || r->type() != RedisTypeTraits<Array>::TypeId) {
        if (isError(r)) {
            throw StateError(std::string(what) + ": " + errorText(r));
        }
        throw StateError(std::string(what) + ": expected an array reply");
    }
    return static_cast<const Poco::Redis::Type<Array>*>(r.get())->value();
}

/// HGETALL reply -> ordered (field, value) pairs.
std::vector<std::pair<std::string, std::string>> pairsOf(const RedisType::Ptr& r, const char* what)
{
    const Array& a = arrayOf(r, what);
    std::vector<std::pair<std::string, std::string>> out;
    if (a.isNull()) {
        return out;
    }
    out.reserve(a.size() / 2);
    for (auto it = a.begin(); it != a.end(); ++it) {
        auto field = bulkText(*it);
        if (++it == a.end()) {
            throw StateError(std::string(what) + ": odd number of elements");
        }
        out.emplace_back(std::move(field), bulkText(*it));
    }
    return out;
}

std::string describe(const std::exception& e)
{
    if (const auto* pe = dynamic_cast<const Poco::Exception*>(&e)) {
        return pe->displayText();
    }
    return e.what();
}

}  // namespace

struct StateStore::Impl {
    StateOptions opts;
    SnapshotFn snapshot;
    PositionsFn positions;
    ExtraFieldsFn extra;
    std::shared_ptr<spdlog::logger> log = Logging::get("relay.state");
    Counter& writeFailures = MetricsRegistry::global().counter(
        "nautilus_relay_state_write_failures_total", "Failed state write rounds (registry/checkpoints in Redis)");
    Counter& checkpointWrites = MetricsRegistry::global().counter(
        "nautilus_relay_checkpoint_writes_total", "Checkpoint writes to Redis");
    Gauge& stateOk = MetricsRegistry::global().gauge(
        "nautilus_relay_state_ok", "1 when the last state write to Redis succeeded, else 0");

    std::string regKey;
    std::string cpKey;
    long pid = static_cast<long>(::getpid());
    std::string hostname;
    std::int64_t startedAtNs = 0;

    // Writer thread (and stop() after the join).
    std::thread thread;
    std::mutex wakeMutex;
    std::condition_variable wake;
    bool stopping = false;
    bool started = false;
    bool finished = false;
    std::unique_ptr<Poco::Redis::Client> writer;
    std::map<std::string, StreamPosition> written;  ///< checkpoints as Redis has them
    std::int64_t nextRefreshNs = 0;                  ///< monotonic
    std::int64_t nextCheckpointNs = 0;               ///< monotonic
    std::uint64_t streak = 0;                         ///< consecutive failed rounds

    mutable std::mutex healthMutex;
    StateHealth healthState;

    // Reads (loadCheckpoints, clusterInstances) from any thread, on their own connection.
    std::mutex queryMutex;
    std::unique_ptr<Poco::Redis::Client> query;

    std::unique_ptr<Poco::Redis::Client> connect(int ioTimeoutMs, int connectTimeoutMs = -1) const
    {
        const auto& ep = opts.redis;
        auto c = std::make_unique<Poco::Redis::Client>();
        c->connect(ep.host, ep.port, millis(connectTimeoutMs > 0 ? connectTimeoutMs : ep.connectTimeoutMs));
        c->setReceiveTimeout(millis(ioTimeoutMs));
        if (!ep.password.empty()) {
            Array auth;
            auth << "AUTH";
            if (!ep.username.empty()) {
                auth << ep.username;
            }
            auth << ep.password;
            checkReply(c->sendCommand(auth), "AUTH");
        }
        if (ep.db != 0) {
            Array select;
            select << "SELECT" << std::to_string(ep.db);
            checkReply(c->sendCommand(select), "SELECT");
        }
        return c;
    }

    // ---- writer ---------------------------------------------------------------------------

    /// Checkpoint fields whose value changed since the last successful write.
    std::map<std::string, StreamPosition> changedPositions()
    {
        std::map<std::string, StreamPosition> changed;
        if (!positions) {
            return changed;
        }
        for (auto& [key, pos] : positions()) {
            if (pos.lastId.isZero() && pos.ordinal < 0) {
                continue;  // nothing delivered yet: no checkpoint to keep
            }
            const auto it = written.find(key);
            if (it == written.end() || it->second.lastId != pos.lastId || it->second.ordinal != pos.ordinal) {
                changed.emplace(key, pos);
            }
        }
        return changed;
    }

    Array checkpointCommand(const std::map<std::string, StreamPosition>& changed) const
    {
        Array hset;
        hset << "HSET" << cpKey;
        for (const auto& [key, pos] : changed) {
            hset << key << state::formatCheckpointValue(pos);
        }
        return hset;
    }

    void appendRegistryCommands(std::vector<Array>& cmds)
    {
        state::RegistryInput in;
        in.instanceId = opts.instanceId;
        in.version = kVersion;
        in.httpAddress = opts.httpAddress;
        in.pid = pid;
        in.hostname = hostname;
        in.startedAtNs = startedAtNs;
        in.nowNs = wallNowNs();
        if (snapshot) {
            in.bus = snapshot();
        }
        if (extra) {
            in.extra = extra();
        }
        Array multi;
        multi << "MULTI";
        Array del;
        del << "DEL" << regKey;
        Array hset;
        hset << "HSET" << regKey;
        for (const auto& [k, v] : state::registryFields(in)) {
            hset << k << v;
        }
        Array pexpire;
        pexpire << "PEXPIRE" << regKey << std::to_string(std::max(opts.registryTtlMs, 1));
        Array exec;
        exec << "EXEC";
        cmds.push_back(std::move(multi));
        cmds.push_back(std::move(del));
        cmds.push_back(std::move(hset));
        cmds.push_back(std::move(pexpire));
        cmds.push_back(std::move(exec));
    }

    void dropWriter()
    {
        if (writer) {
            try {
                writer->disconnect();
            } catch (...) {
            }
            writer.reset();
        }
        written.clear();  // Redis may have restarted without its data: rewrite every checkpoint
    }

    void onSuccess(bool wroteCheckpoint)
    {
        if (streak > 0) {
            log->info("state: writes to redis {} recovered after {} failed round(s)", opts.redis.address(), streak);
        }
        streak = 0;
        if (wroteCheckpoint) {
            checkpointWrites.inc();
        }
        stateOk.set(1);
        std::lock_guard lock(healthMutex);
        healthState.ok = true;
        healthState.lastWriteNs = wallNowNs();
        if (wroteCheckpoint) {
            ++healthState.checkpointWrites;
        }
    }

    void onFailure(const std::string& what)
    {
        if (streak == 0) {
            log->warn("state: write to redis {} failed: {}; retrying every {} ms (delivery is not affected)",
                      opts.redis.address(), what, opts.refreshMs);
        } else {
            log->debug("state: write to redis {} failed again: {}", opts.redis.address(), what);
        }
        ++streak;
        writeFailures.inc();
        stateOk.set(0);
        std::lock_guard lock(healthMutex);
        healthState.ok = false;
        healthState.lastError = what;
        healthState.lastErrorNs = wallNowNs();
        ++healthState.failures;
    }

    /// One round of the writer: the registry when due, the checkpoints when due and changed.
    /// `final`: checkpoints regardless of the interval, and the registry entry deleted.
    void round(bool final)
    {
        const std::int64_t now = monoNowNs();
        const bool registryDue = final || now >= nextRefreshNs;
        const bool checkpointDue = final || now >= nextCheckpointNs;
        if (registryDue) {
            nextRefreshNs = now + static_cast<std::int64_t>(std::max(opts.refreshMs, 1)) * 1'000'000;
        }
        if (checkpointDue) {
            nextCheckpointNs = now + static_cast<std::int64_t>(std::max(opts.checkpointIntervalMs, 1)) * 1'000'000;
        }
        if (!registryDue && !checkpointDue) {
            return;
        }
        try {
            if (!writer) {
                // The final round runs inside the shutdown budget: shorter timeouts.
                writer = final ? connect(std::min(opts.ioTimeoutMs, kFinalTimeoutMs),
                                         std::min(opts.redis.connectTimeoutMs, kFinalTimeoutMs))
                               : connect(opts.ioTimeoutMs);
                written.clear();
            }
        } catch (const std::exception& e) {
            dropWriter();
            onFailure(describe(e));
            return;
        }
        std::vector<Array> cmds;
        std::map<std::string, StreamPosition> changed;
        try {
            if (checkpointDue) {
                changed = changedPositions();
                if (!changed.empty()) {
                    cmds.push_back(checkpointCommand(changed));
                }
            }
            if (registryDue) {
                if (final) {
                    Array del;
                    del << "DEL" << regKey;
                    cmds.push_back(std::move(del));
                } else {
                    appendRegistryCommands(cmds);
                }
            }
        } catch (const std::exception& e) {
            // A callback of the bus failed; not a Redis problem, so health stays as it is.
            log->warn("state: cannot collect the state to write: {}", describe(e));
            return;
        }
        if (cmds.empty()) {
            return;
        }
        try {
            const Array replies = writer->sendCommands(cmds);
            if (replies.size() != cmds.size()) {
                throw StateError("pipeline: " + std::to_string(replies.size()) + " replies for " +
                                 std::to_string(cmds.size()) + " commands");
            }
            std::size_t i = 0;
            for (const auto& r : replies) {
                const std::string name = cmds[i++].get<BulkString>(0).value();
                checkReply(r, name.c_str());
            }
            for (auto& [key, pos] : changed) {
                written[key] = pos;
            }
            onSuccess(!changed.empty());
        } catch (const std::exception& e) {
            dropWriter();
            onFailure(describe(e));
        }
    }

    void run()
    {
        nextRefreshNs = 0;
        nextCheckpointNs = monoNowNs() + static_cast<std::int64_t>(std::max(opts.checkpointIntervalMs, 1)) * 1'000'000;
        std::unique_lock lock(wakeMutex);
        while (!stopping) {
            lock.unlock();
            round(false);
            lock.lock();
            const std::int64_t due = std::min(nextRefreshNs, nextCheckpointNs);
            const std::int64_t waitNs = std::max<std::int64_t>(due - monoNowNs(), 1'000'000);
            wake.wait_for(lock, std::chrono::nanoseconds(waitNs), [this] { return stopping; });
        }
    }

    void joinThread()
    {
        {
            std::lock_guard lock(wakeMutex);
            stopping = true;
        }
        wake.notify_all();
        if (thread.joinable()) {
            thread.join();
        }
    }

    // ---- reads ----------------------------------------------------------------------------

    /// Runs fn on the query connection; on failure of a reused connection, retries once on a
    /// fresh one (it may simply have gone stale). Throws std::runtime_error.
    template <class Fn>
    auto withQuery(const char* what, Fn&& fn)
    {
        std::lock_guard lock(queryMutex);
        for (int attempt = 0;; ++attempt) {
            const bool reused = static_cast<bool>(query);
            try {
                if (!query) {
                    query = connect(opts.ioTimeoutMs);
                }
                return fn(*query);
            } catch (const std::exception& e) {
                if (query) {
                    try {
                        query->disconnect();
                    } catch (...) {
                    }
                    query.reset();
                }
                if (reused && attempt == 0) {
                    continue;
                }
                throw std::runtime_error(std::string("state: ") + what + " from redis " + opts.redis.address() +
                                         " failed: " + describe(e));
            }
        }
    }
};

StateStore::StateStore(StateOptions options, SnapshotFn snapshot, PositionsFn positions, ExtraFieldsFn extra)
    : _impl(std::make_unique<Impl>())
{
    _impl->opts = std::move(options);
    _impl->snapshot = std::move(snapshot);
    _impl->positions = std::move(positions);
    _impl->extra = std::move(extra);
    _impl->regKey = state::registryKey(_impl->opts.prefix, _impl->opts.instanceId);
    _impl->cpKey = state::checkpointKey(_impl->opts.prefix, _impl->opts.instanceId);
    try {
        _impl->hostname = Poco::Environment::nodeName();
    } catch (...) {
        _impl->hostname = "unknown";
    }
}

StateStore::~StateStore()
{
    try {
        stop();
    } catch (...) {
    }
}

void StateStore::start()
{
    auto& d = *_impl;
    if (d.started) {
        return;
    }
    d.started = true;
    d.startedAtNs = d.opts.startedAtNs > 0 ? d.opts.startedAtNs : wallNowNs();
    d.log->info("state: registry {} (refresh {} ms, ttl {} ms), checkpoints {} (every {} ms at most) on redis {}",
                d.regKey, d.opts.refreshMs, d.opts.registryTtlMs, d.cpKey, d.opts.checkpointIntervalMs,
                d.opts.redis.address());
    if (d.opts.registryTtlMs <= d.opts.refreshMs) {
        d.log->warn("state: registry TTL {} ms is not longer than the refresh period {} ms; this instance's entry "
                    "will blink out of /status/cluster between refreshes",
                    d.opts.registryTtlMs, d.opts.refreshMs);
    }
    d.thread = std::thread([&d] {
        nameThisThread("state");
        d.run();
    });
}

void StateStore::stop()
{
    auto& d = *_impl;
    if (!d.started || d.finished) {
        return;
    }
    d.finished = true;
    d.joinThread();
    const std::uint64_t failuresBefore = health().failures;
    d.round(true);
    d.dropWriter();
    if (health().failures == failuresBefore) {
        d.log->info("state: stopped; registry entry {} removed, final checkpoints written", d.regKey);
    } else {
        d.log->warn("state: stopped; the final write failed, registry entry {} expires after {} ms", d.regKey,
                    d.opts.registryTtlMs);
    }
}

void StateStore::halt()
{
    auto& d = *_impl;
    if (!d.started || d.finished) {
        return;
    }
    d.finished = true;
    d.joinThread();
    d.dropWriter();
    d.log->info("state: halted without cleanup; registry entry {} expires by itself", d.regKey);
}

std::map<std::string, StreamPosition> StateStore::loadCheckpoints()
{
    auto& d = *_impl;
    auto pairs = d.withQuery("reading checkpoints", [&d](Poco::Redis::Client& c) {
        Array cmd;
        cmd << "HGETALL" << d.cpKey;
        return pairsOf(c.sendCommand(cmd), "HGETALL");
    });
    std::map<std::string, StreamPosition> out;
    for (const auto& [key, value] : pairs) {
        auto pos = state::parseCheckpointValue(value);
        if (!pos) {
            d.log->warn("state: ignoring malformed checkpoint in {} for stream '{}': '{}'", d.cpKey, key, value);
            continue;
        }
        out[key] = *pos;
    }
    return out;
}

StateHealth StateStore::health() const
{
    std::lock_guard lock(_impl->healthMutex);
    return _impl->healthState;
}

std::vector<std::map<std::string, std::string>> StateStore::clusterInstances()
{
    auto& d = *_impl;
    const std::string pattern = state::registryPattern(d.opts.prefix);
    return d.withQuery("listing instances", [&pattern](Poco::Redis::Client& c) {
        std::set<std::string> keys;
        std::string cursor = "0";
        for (int rounds = 0; rounds < kMaxScanRounds; ++rounds) {
            Array scan;
            scan << "SCAN" << cursor << "MATCH" << pattern << "COUNT" << "1000";
            const RedisType::Ptr replyPtr = c.sendCommand(scan);
            const Array& reply = arrayOf(replyPtr, "SCAN");
            if (reply.size() != 2) {
                throw StateError("SCAN: unexpected reply");
            }
            cursor = bulkText(*reply.begin());
            const Array& batch = arrayOf(*(reply.begin() + 1), "SCAN");
            for (const auto& k : batch) {
                keys.insert(bulkText(k));
            }
            if (cursor == "0") {
                break;
            }
        }
        std::vector<std::map<std::string, std::string>> out;
        if (keys.empty()) {
            return out;
        }
        std::vector<Array> cmds;
        cmds.reserve(keys.size());
        for (const auto& k : keys) {
            Array h;
            h << "HGETALL" << k;
            cmds.push_back(std::move(h));
        }
        const Array replies = c.sendCommands(cmds);
        for (const auto& r : replies) {
            if (r && r->type() == RedisTypeTraits<Array>::TypeId &&
                static_cast<const Poco::Redis::Type<Array>*>(r.get())->value().isNull()) {
                continue;
            }
            if (isError(r) && errorText(r).rfind("WRONGTYPE", 0) == 0) {
                continue;  // not a registry hash (someone else's key under our prefix)
            }
            std::map<std::string, std::string> fields;
            for (auto& [f, v] : pairsOf(r, "HGETALL")) {
                fields[std::move(f)] = std::move(v);
            }
            if (!fields.empty()) {  // expired between SCAN and HGETALL
                out.push_back(std::move(fields));
            }
        }
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
            const auto ia = a.find("instance");
            const auto ib = b.find("instance");
            return (ia == a.end() ? std::string() : ia->second) < (ib == b.end() ? std::string() : ib->second);
        });
        return out;
    });
}

}  // namespace nautilus::relay

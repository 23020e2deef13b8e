#pragma once
// Helpers for the bus integration tests (Bus*.cpp): NautilusTrader-shaped entries, a producer
// that survives CLIENT KILL and restarts, a collecting subscriber that can hold the reader up,
// and polling waits.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <Poco/Exception.h>
#include <Poco/Redis/Array.h>
#include <Poco/Redis/Client.h>
#include <Poco/Redis/Type.h>

#include "bus/BusTypes.h"
#include "bus/StreamReader.h"
#include "common/Message.h"
#include "router/Router.h"
#include "support/RedisServer.h"

namespace nautilus::relay::bustest {

using namespace std::chrono_literals;
using test::RedisServer;
using Fields = std::vector<std::pair<std::string, std::string>>;

inline constexpr const char* kQuoteTopic = "data.quotes.BINANCE.BTCUSDT";

/// A G3 QuoteTick entry in JSON; `seq` is carried in the payload.
inline Fields quoteJson(std::uint64_t seq)
{
    return {{"topic", kQuoteTopic},
            {"type", "QuoteTick"},
            {"payload", R"({"type":"QuoteTick","instrument_id":"BTCUSDT.BINANCE","bid_price":"67000.10",)"
                        R"("ask_price":"67000.20","bid_size":"1.50000","ask_size":"2.00000",)"
                        R"("ts_event":1719792000000000000,"ts_init":1719792000000000001,"seq":)" +
                            std::to_string(seq) + "}"},
            {"encoding", "Json"}};
}

/// A G3 TradeTick entry in MessagePack: {"type":"TradeTick","price":"67000.1","seq":<u32>}.
inline Fields tradeMsgpack(std::uint32_t seq)
{
    std::string p;
    p += '\x83';
    p += '\xa4';
    p += "type";
    p += '\xa9';
    p += "TradeTick";
    p += '\xa5';
    p += "price";
    p += '\xa7';
    p += "67000.1";
    p += '\xa3';
    p += "seq";
    p += '\xce';
    p += static_cast<char>((seq >> 24) & 0xff);
    p += static_cast<char>((seq >> 16) & 0xff);
    p += static_cast<char>((seq >> 8) & 0xff);
    p += static_cast<char>(seq & 0xff);
    return {{"topic", "data.trades.BINANCE.BTCUSDT"}, {"type", "TradeTick"}, {"payload", p}, {"encoding", "MsgPack"}};
}

inline Fields heartbeat()
{
    return {{"topic", "health:heartbeat"}, {"type", ""}, {"payload", "2024-07-01T00:00:10.123+00:00"}, {"encoding", "Json"}};
}

/// The "seq" number in a delivered message's JSON, or -1.
inline long long seqOf(const Message& m)
{
    const auto pos = m.json.find("\"seq\":");
    if (pos == std::string_view::npos) {
        return -1;
    }
    long long v = 0;
    for (std::size_t i = pos + 6; i < m.json.size() && m.json[i] >= '0' && m.json[i] <= '9'; ++i) {
        v = v * 10 + (m.json[i] - '0');
    }
    return v;
}

/// XADD through Poco::Redis on its own connection. With explicit ids, a write that failed with
/// the connection is retried until it is known to be in the stream, so producers survive
/// CLIENT KILL and restarts without duplicates.
class Producer {
public:
    explicit Producer(const RedisServer& server, int db = 0) : _server(server), _db(db) {}

    std::string xadd(const std::string& key, const std::string& id, const Fields& fields,
                     std::chrono::milliseconds patience = 20s)
    {
        const auto deadline = std::chrono::steady_clock::now() + patience;
        for (;;) {
            try {
                ensure();
                Poco::Redis::Array cmd;
                cmd << "XADD" << key << id;
                for (const auto& [k, v] : fields) {
                    cmd << k << v;
                }
                auto reply = _client->sendCommand(cmd);
                if (reply->isError()) {
                    const std::string text = static_cast<Poco::Redis::Type<Poco::Redis::Error>*>(reply.get())->value().getMessage();
                    if (id != "*" && _retrying && text.find("equal or smaller") != std::string::npos) {
                        _retrying = false;
                        return id;  // the first attempt got through before the link died
                    }
                    throw std::runtime_error("XADD failed: " + text);
                }
                _retrying = false;
                return static_cast<Poco::Redis::Type<Poco::Redis::BulkString>*>(reply.get())->value().value();
            } catch (const Poco::Exception&) {
                _client.reset();
                if (id == "*") {
                    throw;  // not idempotent: the test must not use auto ids across faults
                }
                _retrying = true;
                if (std::chrono::steady_clock::now() > deadline) {
                    throw;
                }
                std::this_thread::sleep_for(20ms);
            }
        }
    }

    /// Pipelined XADD of many entries (ids "*"), for bulk fills.
    void fill(const std::string& key, std::size_t count, const std::function<Fields(std::size_t)>& make,
              std::size_t batch = 1000)
    {
        ensure();
        for (std::size_t i = 0; i < count; i += batch) {
            std::vector<Poco::Redis::Array> cmds;
            for (std::size_t j = i; j < std::min(count, i + batch); ++j) {
                Poco::Redis::Array cmd;
                cmd << "XADD" << key << "*";
                for (const auto& [k, v] : make(j)) {
                    cmd << k << v;
                }
                cmds.push_back(std::move(cmd));
            }
            _client->sendCommands(cmds);
        }
    }

    Poco::Redis::Client& client()
    {
        ensure();
        return *_client;
    }

private:
    void ensure()
    {
        if (!_client) {
            _client = _server.client();
            if (_db != 0) {
                Poco::Redis::Array select;
                select << "SELECT" << std::to_string(_db);
                _client->execute<std::string>(select);
            }
        }
    }
    const RedisServer& _server;
    int _db;
    std::unique_ptr<Poco::Redis::Client> _client;
    bool _retrying = false;
};

/// Keeps a copy of every routed message; `hook` runs first (e.g. to hold the reader up).
class Collector : public Subscriber {
public:
    void onMessage(const Message& msg) noexcept override
    {
        if (hook) {
            hook(msg);
        }
        std::lock_guard lock(_mutex);
        _messages.emplace_back(msg);
        _cv.notify_all();
    }

    std::size_t size() const
    {
        std::lock_guard lock(_mutex);
        return _messages.size();
    }
    std::vector<OwnedMessage> messages() const
    {
        std::lock_guard lock(_mutex);
        return _messages;
    }
    std::vector<long long> seqs() const
    {
        std::lock_guard lock(_mutex);
        std::vector<long long> out;
        for (const auto& m : _messages) {
            out.push_back(seqOf(m.view()));
        }
        return out;
    }
    bool waitFor(std::size_t count, std::chrono::milliseconds timeout = 10s) const
    {
        std::unique_lock lock(_mutex);
        return _cv.wait_for(lock, timeout, [&] { return _messages.size() >= count; });
    }

    std::function<void(const Message&)> hook;

private:
    mutable std::mutex _mutex;
    mutable std::condition_variable _cv;
    std::vector<OwnedMessage> _messages;
};

/// A one-shot gate: wait() blocks until open().
class Gate {
public:
    void wait()
    {
        std::unique_lock lock(_m);
        _waiting = true;
        _cv.notify_all();
        _cv.wait(lock, [&] { return _open; });
    }
    bool waitUntilSomeoneWaits(std::chrono::milliseconds timeout = 10s)
    {
        std::unique_lock lock(_m);
        return _cv.wait_for(lock, timeout, [&] { return _waiting; });
    }
    void open()
    {
        std::lock_guard lock(_m);
        _open = true;
        _cv.notify_all();
    }

private:
    std::mutex _m;
    std::condition_variable _cv;
    bool _open = false;
    bool _waiting = false;
};

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) {
            return true;
        }
        std::this_thread::sleep_for(5ms);
    }
    return pred();
}

inline bool waitState(const StreamReader& reader, BusState state, std::chrono::milliseconds timeout = 10s)
{
    return eventually([&] { return reader.snapshot().state == state; }, timeout);
}

/// Short intervals so faults are noticed quickly; one explicit stream unless changed.
inline BusConfig testConfig(const RedisServer& server, std::vector<std::string> streams = {"bus:test"})
{
    BusConfig cfg;
    cfg.redis.host = server.host();
    cfg.redis.port = server.port();
    cfg.redis.connectTimeoutMs = 1000;
    cfg.streams = std::move(streams);
    cfg.start = StartPosition::Earliest;
    cfg.readCount = 1000;
    cfg.blockMs = 100;
    cfg.readTimeoutMs = 500;
    cfg.discoveryIntervalMs = 100;
    cfg.monitorIntervalMs = 100;
    cfg.staleAfterMs = 0;
    cfg.backoff = BackoffPolicy{20, 200, 2.0};
    return cfg;
}

/// The redis-server's pid (for SIGSTOP/SIGCONT), from INFO server.
inline int serverPid(const RedisServer& server)
{
    const std::string info = server.command({"INFO", "server"});
    const auto pos = info.find("process_id:");
    if (pos == std::string::npos) {
        throw std::runtime_error("no process_id in INFO");
    }
    return std::stoi(info.substr(pos + 11));
}

/// Checks 1..n each exactly once and in order.
inline ::testing::AssertionResult exactlyInOrder(const std::vector<long long>& seqs, long long n)
{
    if (static_cast<long long>(seqs.size()) != n) {
        return ::testing::AssertionFailure() << "delivered " << seqs.size() << " of " << n;
    }
    for (long long i = 0; i < n; ++i) {
        if (seqs[static_cast<std::size_t>(i)] != i + 1) {
            return ::testing::AssertionFailure() << "position " << i << " holds seq " << seqs[static_cast<std::size_t>(i)];
        }
    }
    return ::testing::AssertionSuccess();
}

}  // namespace nautilus::relay::bustest

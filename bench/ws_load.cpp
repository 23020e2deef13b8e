// ws_load: a load client for the relay's WebSocket gateway (GET /ws) and a paced producer that
// XADDs NautilusTrader QuoteTick entries, for the end-to-end figures in docs/BENCHMARKS.md.
//
// The client must not be the bottleneck: every connection lives on one of --threads epoll
// loops, frames are parsed in place from large recv() buffers (RFC 6455 by hand: server frames
// are unmasked, ours are masked), and a message costs one backwards search for "ts_init".
// The producer writes the wall-clock time of the XADD (CLOCK_REALTIME ns, as NautilusTrader
// does) into the payload's ts_init; a client's latency sample is its receive time minus that,
// so producer and client must run on the same machine.
//
// --direct replaces the relay by one XREAD BLOCK reader on Redis (same producer, same clock): the
// latency floor of the machine at that moment, to tell the relay's share from the rest. With
// --relay-pid/--redis-pid the report adds their CPU per thread over the run, and per window
// the relay's VmRSS and its /status "websocket" figures. --status-rate R adds what a monitoring
// system sees: GET /status R times per second on one keep-alive connection over the measurement,
// on a fixed schedule, each latency counted from the request's due time (no coordinated omission).
//
//   ws_load prefill --redis-port P --key K --count N        fill a stream (pipelined XADD)
//   ws_load run --port HTTP_PORT [options]                  clients (+ producer), then a report
//
// Run `ws_load --help` for the options; bench/ws_scenarios.sh runs the documented scenarios.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bus/RedisLink.h"

using namespace nautilus::relay;

namespace {

// ------------------------------------------------------------------------------------------
// Clocks and small helpers

std::int64_t clockNs(clockid_t id)
{
    timespec ts{};
    ::clock_gettime(id, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
std::int64_t wallNs() { return clockNs(CLOCK_REALTIME); }
std::int64_t monoNs() { return clockNs(CLOCK_MONOTONIC); }

[[noreturn]] void die(const std::string& what)
{
    std::fprintf(stderr, "ws_load: %s\n", what.c_str());
    std::exit(2);
}

std::string base64(const unsigned char* p, std::size_t n)
{
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < n; i += 3) {
        const std::uint32_t v = (static_cast<std::uint32_t>(p[i]) << 16) | (i + 1 < n ? p[i + 1] << 8 : 0) |
                                (i + 2 < n ? p[i + 2] : 0);
        out.push_back(t[(v >> 18) & 63]);
        out.push_back(t[(v >> 12) & 63]);
        out.push_back(i + 1 < n ? t[(v >> 6) & 63] : '=');
        out.push_back(i + 2 < n ? t[v & 63] : '=');
    }
    return out;
}

// ------------------------------------------------------------------------------------------
// Latency histogram: exact below 128 ns, then 64 buckets per power of two (≤ 1.6 % error).

class Histogram {
public:
    static constexpr int kSubBits = 6;
    static constexpr std::size_t kSub = std::size_t{1} << kSubBits;
    static constexpr int kMaxMsb = 41;  // ~36 minutes in ns; larger values are clamped
    static constexpr std::size_t kBuckets = 2 * kSub + (kMaxMsb - kSubBits) * kSub;

    Histogram() : _counts(kBuckets, 0) {}

    void record(std::int64_t v)
    {
        std::uint64_t u = v < 0 ? 0 : static_cast<std::uint64_t>(v);
        u = std::min<std::uint64_t>(u, (std::uint64_t{1} << (kMaxMsb + 1)) - 1);
        ++_counts[index(u)];
        ++_n;
        _max = std::max(_max, u);
    }
    void merge(const Histogram& o)
    {
        for (std::size_t i = 0; i < kBuckets; ++i) {
            _counts[i] += o._counts[i];
        }
        _n += o._n;
        _max = std::max(_max, o._max);
    }
    std::uint64_t count() const { return _n; }
    std::uint64_t max() const { return _max; }
    /// The value at quantile q (0..1): the upper bound of its bucket, never above the maximum.
    std::uint64_t quantile(double q) const
    {
        if (_n == 0) {
            return 0;
        }
        const auto target = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(_n)));
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < kBuckets; ++i) {
            seen += _counts[i];
            if (seen >= std::max<std::uint64_t>(target, 1)) {
                return std::min(upper(i), _max);
            }
        }
        return _max;
    }

private:
    static std::size_t index(std::uint64_t v)
    {
        if (v < 2 * kSub) {
            return static_cast<std::size_t>(v);
        }
        const int msb = 63 - __builtin_clzll(v);
        const int shift = msb - kSubBits;
        return 2 * kSub + static_cast<std::size_t>(shift - 1) * kSub + static_cast<std::size_t>((v >> shift) - kSub);
    }
    static std::uint64_t upper(std::size_t i)
    {
        if (i < 2 * kSub) {
            return i;
        }
        const std::size_t shift = (i - 2 * kSub) / kSub + 1;
        const std::uint64_t sub = (i - 2 * kSub) % kSub + kSub;
        return ((sub + 1) << shift) - 1;
    }

    std::vector<std::uint32_t> _counts;
    std::uint64_t _n = 0;
    std::uint64_t _max = 0;
};

std::string ms(std::uint64_t ns)
{
    char b[32];
    std::snprintf(b, sizeof b, "%.3f", static_cast<double>(ns) / 1e6);
    return b;
}

// ------------------------------------------------------------------------------------------
// Options

struct Options {
    std::string host = "127.0.0.1";
    int port = 0;                 ///< relay http.port (REST and /ws)
    std::string redisHost = "127.0.0.1";
    int redisPort = 6379;
    std::string prefix = "trader-TRADER-001:stream:";  ///< stream key = prefix + topic
    int clients = 1;
    int threads = 1;
    bool ioUring = true;            ///< receive with io_uring (multishot recv) when available
    std::string subscribe = "own";  ///< own | all | a topic pattern
    std::string from;               ///< subscribe with "from" (a replay)
    int topics = 1;
    double rate = 0;                ///< producer: messages per second per topic (0: no producer)
    int tickUs = 1000;              ///< producer: one pipelined batch per tick
    long maxlen = 10000;            ///< producer: XADD MAXLEN ~ (0: none)
    double duration = 10;           ///< seconds measured
    double warmup = 2;              ///< seconds produced before the measurement
    std::uint64_t expect = 0;       ///< backlog: stop once every client received this many
    double idle = 3;                ///< backlog: or when nothing arrived for this long
    std::string renameFrom, renameTo;  ///< backlog: RENAME after every client subscribed
    int stalled = 0;                ///< clients that subscribe and never read
    std::string stallTopic = "data.quotes.*";
    int stallRcvbuf = 4096;
    double stallAfter = 0;          ///< seconds after the start to connect the stalled clients
    double interval = 1;            ///< report window, seconds
    bool windows = false;           ///< print one line per window
    bool direct = false;            ///< read Redis directly instead of the relay (reference path)
    int relayPid = 0;               ///< sample VmRSS of this process per window, and its CPU
    int redisPid = 0;               ///< report this process's CPU too (redis-server)
    double statusRate = 0;          ///< paced GET /status per second during the measurement (0: off)
    std::string statusTarget = "/status";  ///< what the probe asks for (e.g. /status?streams=false)
    // prefill
    std::string key;
    std::string topic = "data.quotes.BINANCE.BTCUSDT";
    std::uint64_t count = 1'000'000;
};

void usage()
{
    std::puts(R"(ws_load prefill --redis-port P [--redis-host H] --key KEY [--count N] [--topic T]
    XADDs N QuoteTick entries (pipelined) to KEY.

ws_load run --port HTTP_PORT [options]
  --host H              relay address (127.0.0.1)
  --clients N           WebSocket connections (1)
  --threads N           client threads (1)
  --epoll               receive with epoll + recv() per socket instead of io_uring (multishot
                        recv: no syscall per frame; used when available)
  --subscribe MODE      own: client i subscribes to data.quotes.BENCH.S<i % topics>;
                        all: every client subscribes to data.quotes.BENCH.*;
                        anything else: that topic pattern, for every client
  --from ID             subscribe with "from": ID (a replay from Redis history)
  --topics N            producer topics data.quotes.BENCH.S0..S<N-1> (1)
  --rate R              producer messages per second per topic (0: no producer)
  --tick-us U           producer batch period in microseconds (1000)
  --maxlen N            producer XADD MAXLEN ~ N (10000; 0: none)
  --redis-host H --redis-port P   Redis for the producer / RENAME (127.0.0.1:6379)
  --prefix P            stream key prefix (trader-TRADER-001:stream:)
  --warmup S --duration S         producer seconds before / during the measurement (2, 10)
  --expect N            backlog: done once every client received N messages
  --idle S              backlog: or when nothing arrived for S seconds (3)
  --rename-from SRC --rename-to DST
                        RENAME SRC DST once every client subscribed: a filled stream appears
                        to the relay, which reads a newly discovered stream from its first entry
  --stalled N           extra clients that subscribe and never read (small SO_RCVBUF)
  --stall-topic P       their topic pattern (data.quotes.*)
  --stall-rcvbuf B      their SO_RCVBUF (4096)
  --stall-after S       connect them S seconds after the start (0)
  --direct              no WebSocket: one XREAD BLOCK reader on the producer's streams measures
                        the same latency straight from Redis (the floor on this machine)
  --interval S          report window (1); --windows prints one line per window
  --relay-pid PID       sample the relay's VmRSS and /status per window; report its CPU per thread
  --status-rate R       GET /status R times per second on one keep-alive connection during the
                        measurement (after the warm-up), on a fixed schedule; each latency counts
                        from the request's due time, a late response delays the next send but
                        never skips it (0: off; the relay only, not --direct)
  --status-target T     what the probe asks for (/status; e.g. /status?streams=false)
  --redis-pid PID       report redis-server's CPU too)");
}

Options parseOptions(int argc, char** argv, int first)
{
    using Set = void (*)(Options&, const std::string&);
    // Every option taking a value: --name VALUE or --name=VALUE.
    static const std::map<std::string, Set> kValued = {
        {"--host", [](Options& o, const std::string& v) { o.host = v; }},
        {"--port", [](Options& o, const std::string& v) { o.port = std::stoi(v); }},
        {"--redis-host", [](Options& o, const std::string& v) { o.redisHost = v; }},
        {"--redis-port", [](Options& o, const std::string& v) { o.redisPort = std::stoi(v); }},
        {"--prefix", [](Options& o, const std::string& v) { o.prefix = v; }},
        {"--clients", [](Options& o, const std::string& v) { o.clients = std::max(0, std::stoi(v)); }},
        {"--threads", [](Options& o, const std::string& v) { o.threads = std::max(1, std::stoi(v)); }},
        {"--subscribe", [](Options& o, const std::string& v) { o.subscribe = v; }},
        {"--from", [](Options& o, const std::string& v) { o.from = v; }},
        {"--topics", [](Options& o, const std::string& v) { o.topics = std::max(1, std::stoi(v)); }},
        {"--rate", [](Options& o, const std::string& v) { o.rate = std::stod(v); }},
        {"--tick-us", [](Options& o, const std::string& v) { o.tickUs = std::max(50, std::stoi(v)); }},
        {"--maxlen", [](Options& o, const std::string& v) { o.maxlen = std::stol(v); }},
        {"--duration", [](Options& o, const std::string& v) { o.duration = std::stod(v); }},
        {"--warmup", [](Options& o, const std::string& v) { o.warmup = std::stod(v); }},
        {"--expect", [](Options& o, const std::string& v) { o.expect = std::stoull(v); }},
        {"--idle", [](Options& o, const std::string& v) { o.idle = std::stod(v); }},
        {"--rename-from", [](Options& o, const std::string& v) { o.renameFrom = v; }},
        {"--rename-to", [](Options& o, const std::string& v) { o.renameTo = v; }},
        {"--stalled", [](Options& o, const std::string& v) { o.stalled = std::max(0, std::stoi(v)); }},
        {"--stall-topic", [](Options& o, const std::string& v) { o.stallTopic = v; }},
        {"--stall-rcvbuf", [](Options& o, const std::string& v) { o.stallRcvbuf = std::stoi(v); }},
        {"--stall-after", [](Options& o, const std::string& v) { o.stallAfter = std::stod(v); }},
        {"--interval", [](Options& o, const std::string& v) { o.interval = std::max(0.1, std::stod(v)); }},
        {"--relay-pid", [](Options& o, const std::string& v) { o.relayPid = std::stoi(v); }},
        {"--redis-pid", [](Options& o, const std::string& v) { o.redisPid = std::stoi(v); }},
        {"--status-rate", [](Options& o, const std::string& v) { o.statusRate = std::max(0.0, std::stod(v)); }},
        {"--status-target", [](Options& o, const std::string& v) { o.statusTarget = v; }},
        {"--key", [](Options& o, const std::string& v) { o.key = v; }},
        {"--topic", [](Options& o, const std::string& v) { o.topic = v; }},
        {"--count", [](Options& o, const std::string& v) { o.count = std::stoull(v); }},
    };
    Options o;
    for (int i = first; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            usage();
            std::exit(0);
        }
        if (a == "--windows" || a == "--direct") {
            (a == "--windows" ? o.windows : o.direct) = true;
            continue;
        }
        if (a == "--epoll") {
            o.ioUring = false;
            continue;
        }
        std::string v;
        if (const auto eq = a.find('='); eq != std::string::npos) {
            v = a.substr(eq + 1);
            a.resize(eq);
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            die("option " + a + " needs a value");
        }
        const auto it = kValued.find(a);
        if (it == kValued.end()) {
            die("unknown option " + a + " (--help)");
        }
        try {
            it->second(o, v);
        } catch (const std::exception&) {
            die("bad value for " + a + ": " + v);
        }
    }
    return o;
}

// ------------------------------------------------------------------------------------------
// QuoteTick payloads (the shape NautilusTrader writes with encoding Json)

std::size_t quotePayload(char* buf, std::size_t cap, std::string_view instrument, std::uint64_t i, std::int64_t tsNs)
{
    const int n = std::snprintf(buf, cap,
                                "{\"type\":\"QuoteTick\",\"instrument_id\":\"%.*s\",\"bid_price\":\"%llu.%02llu\","
                                "\"ask_price\":\"%llu.%02llu\",\"bid_size\":\"1.50000\",\"ask_size\":\"2.00000\","
                                "\"ts_event\":%lld,\"ts_init\":%lld}",
                                static_cast<int>(instrument.size()), instrument.data(),
                                static_cast<unsigned long long>(67000 + i % 100), static_cast<unsigned long long>(i % 100),
                                static_cast<unsigned long long>(67000 + i % 100),
                                static_cast<unsigned long long>((i + 1) % 100), static_cast<long long>(tsNs),
                                static_cast<long long>(tsNs));
    return static_cast<std::size_t>(n);
}

/// "data.quotes.BINANCE.BTCUSDT" -> "BTCUSDT.BINANCE" (NautilusTrader's instrument id).
std::string instrumentOf(std::string_view topic)
{
    const auto last = topic.rfind('.');
    const auto venueStart = topic.rfind('.', last - 1);
    if (last == std::string_view::npos || venueStart == std::string_view::npos) {
        return std::string(topic);
    }
    return std::string(topic.substr(last + 1)) + "." + std::string(topic.substr(venueStart + 1, last - venueStart - 1));
}

std::unique_ptr<RedisLink> redisLink(const Options& o)
{
    RedisLinkOptions lo;
    lo.endpoint.host = o.redisHost;
    lo.endpoint.port = o.redisPort;
    lo.ioTimeoutMs = 30000;
    lo.clientName = "ws_load";
    auto link = std::make_unique<RedisLink>(lo);
    link->connect();
    return link;
}

void queueXadd(RedisLink& link, const std::string& key, long maxlen, std::string_view topic, std::string_view payload)
{
    if (maxlen > 0) {
        link.begin(14).arg(std::string_view("XADD")).arg(std::string_view(key)).arg(std::string_view("MAXLEN"))
            .arg(std::string_view("~")).arg(static_cast<std::int64_t>(maxlen));
    } else {
        link.begin(11).arg(std::string_view("XADD")).arg(std::string_view(key));
    }
    link.arg(std::string_view("*")).arg(std::string_view("topic")).arg(topic).arg(std::string_view("type"))
        .arg(std::string_view("QuoteTick")).arg(std::string_view("payload")).arg(payload)
        .arg(std::string_view("encoding")).arg(std::string_view("Json"));
}

void readXaddReplies(RedisLink& link, std::size_t n)
{
    for (std::size_t i = 0; i < n; ++i) {
        const RespValue v = link.readReply().next();
        if (v.isError()) {
            die("XADD failed: " + std::string(v.str));
        }
    }
}

int prefill(const Options& o)
{
    if (o.key.empty()) {
        die("prefill needs --key");
    }
    auto link = redisLink(o);
    const std::string instrument = instrumentOf(o.topic);
    char payload[512];
    const std::int64_t t0 = monoNs();
    constexpr std::uint64_t kBatch = 2000;
    for (std::uint64_t i = 0; i < o.count; i += kBatch) {
        const std::uint64_t end = std::min(o.count, i + kBatch);
        const std::int64_t ts = wallNs();
        for (std::uint64_t j = i; j < end; ++j) {
            const std::size_t n = quotePayload(payload, sizeof payload, instrument, j, ts);
            queueXadd(*link, o.key, 0, o.topic, std::string_view(payload, n));
        }
        link->send();
        readXaddReplies(*link, end - i);
    }
    const double secs = static_cast<double>(monoNs() - t0) / 1e9;
    std::printf("prefill: %llu QuoteTick entries in %s in %.2f s (%.0f entries/s)\n",
                static_cast<unsigned long long>(o.count), o.key.c_str(), secs, static_cast<double>(o.count) / secs);
    return 0;
}

// ------------------------------------------------------------------------------------------
// WebSocket client side

int connectTcp(const std::string& host, int port, int rcvbuf)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        die(std::string("socket: ") + std::strerror(errno));
    }
    if (rcvbuf > 0) {
        // Before connect(), so the advertised window (and its scale) stays small.
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) {
        die("--host must be an IPv4 address: " + host);
    }
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        die("connect " + host + ":" + std::to_string(port) + ": " + std::strerror(errno));
    }
    return fd;
}

void sendAll(int fd, std::string_view data)
{
    while (!data.empty()) {
        const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                std::this_thread::sleep_for(std::chrono::microseconds(100));
                continue;
            }
            throw std::runtime_error(std::string("send: ") + std::strerror(errno));
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

/// A masked client frame (RFC 6455 §5.3: every client frame is masked).
std::string clientFrame(std::uint8_t opcode, std::string_view payload, std::uint32_t maskKey)
{
    std::string f;
    f.push_back(static_cast<char>(0x80 | opcode));
    const std::size_t n = payload.size();
    if (n < 126) {
        f.push_back(static_cast<char>(0x80 | n));
    } else if (n < 65536) {
        f.push_back(static_cast<char>(0x80 | 126));
        f.push_back(static_cast<char>(n >> 8));
        f.push_back(static_cast<char>(n & 0xff));
    } else {
        f.push_back(static_cast<char>(0x80 | 127));
        for (int s = 56; s >= 0; s -= 8) {
            f.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> s) & 0xff));
        }
    }
    unsigned char mask[4];
    std::memcpy(mask, &maskKey, 4);
    f.append(reinterpret_cast<const char*>(mask), 4);
    for (std::size_t i = 0; i < n; ++i) {
        f.push_back(static_cast<char>(payload[i] ^ static_cast<char>(mask[i & 3])));
    }
    return f;
}

struct Conn {
    int fd = -1;
    int index = 0;
    std::vector<char> buf;
    std::size_t len = 0;
    std::uint64_t received = 0;
    std::uint64_t conflated = 0;
    std::int64_t firstNs = 0;
    std::int64_t lastNs = 0;
    bool subscribed = false;
    bool closed = false;
    std::uint16_t closeCode = 0;
};

/// Opens the WebSocket (blocking handshake); bytes after the 101 response stay in c.buf.
void handshake(Conn& c, const Options& o, std::mt19937& rng)
{
    unsigned char nonce[16];
    for (auto& b : nonce) {
        b = static_cast<unsigned char>(rng());
    }
    const std::string req = "GET /ws HTTP/1.1\r\nHost: " + o.host + ":" + std::to_string(o.port) +
                            "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + base64(nonce, 16) +
                            "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    sendAll(c.fd, req);
    std::string head;
    char tmp[4096];
    for (;;) {
        const ssize_t n = ::recv(c.fd, tmp, sizeof tmp, 0);
        if (n <= 0) {
            die("handshake: connection closed by the relay");
        }
        head.append(tmp, static_cast<std::size_t>(n));
        const auto end = head.find("\r\n\r\n");
        if (end != std::string::npos) {
            if (head.compare(0, 12, "HTTP/1.1 101") != 0) {
                die("upgrade refused: " + head.substr(0, head.find("\r\n")) + " " + head.substr(end + 4));
            }
            const std::string rest = head.substr(end + 4);
            std::memcpy(c.buf.data(), rest.data(), rest.size());
            c.len = rest.size();
            return;
        }
    }
}

std::string subscribeJson(const Options& o, int clientIndex)
{
    std::string topic;
    if (o.subscribe == "own") {
        topic = "data.quotes.BENCH.S" + std::to_string(clientIndex % o.topics);
    } else if (o.subscribe == "all") {
        topic = "data.quotes.BENCH.*";
    } else {
        topic = o.subscribe;
    }
    std::string j = R"({"op":"subscribe","topics":[")" + topic + R"("])";
    if (!o.from.empty()) {
        j += R"(,"from":")" + o.from + "\"";
    }
    return j + "}";
}

/// Per-window figures of one client thread.
struct Window {
    Histogram latency;
    std::uint64_t messages = 0;
    std::uint64_t bytes = 0;
};

struct Shared {
    const Options& o;
    std::int64_t t0Wall = 0;          ///< start of window 0 (set before any message can arrive)
    std::int64_t intervalNs = 1'000'000'000;
    std::atomic<bool> stop{false};
    std::atomic<int> subscribed{0};
    std::atomic<int> closedByRelay{0};
    explicit Shared(const Options& opts) : o(opts) {}
};

class ClientThread {
public:
    ClientThread(Shared& s, std::size_t windowCount) : _s(s), _windows(windowCount)
    {
        _epfd = ::epoll_create1(EPOLL_CLOEXEC);
        if (_epfd < 0) {
            die("epoll_create1 failed");
        }
    }
    ~ClientThread()
    {
        if (_thread.joinable()) {
            _thread.join();
        }
        ::close(_epfd);
    }
    void add(Conn& c)
    {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.ptr = &c;
        ::epoll_ctl(_epfd, EPOLL_CTL_ADD, c.fd, &ev);
        _conns.push_back(&c);
    }
    void start()
    {
        _thread = std::thread([this] {
            pthread_setname_np(pthread_self(), "ws-client");
            if (!_s.o.ioUring || !runUring()) {
                run();
            }
        });
    }
    bool usedUring() const { return _usedUring.load(); }
    void join()
    {
        if (_thread.joinable()) {
            _thread.join();
        }
    }
    /// The reference path without the relay: XREAD BLOCK on the producer's streams, straight
    /// from Redis, accounted like WebSocket messages.
    void startDirect(Conn& c)
    {
        _thread = std::thread([this, &c] { runDirect(c); });
    }
    std::uint64_t received() const { return _received.load(std::memory_order_relaxed); }
    const std::vector<Window>& windows() const { return _windows; }

private:
    void run()
    {
        epoll_event events[128];
        while (!_s.stop.load(std::memory_order_relaxed)) {
            const int n = ::epoll_wait(_epfd, events, 128, 50);
            for (int i = 0; i < n; ++i) {
                onReadable(*static_cast<Conn*>(events[i].data.ptr));
            }
        }
    }

    // io_uring: one multishot recv per connection, into buffers the kernel picks from a ring
    // we refill; frames are handled per completion. No syscall per frame (the epoll path costs
    // an epoll_wait share plus one recv each, ~1 us apiece on a VM without PCID), so one
    // client thread keeps up with hundreds of connections.
    static constexpr unsigned kBufs = 1024;          // power of two
    static constexpr unsigned kBufSize = 16 * 1024;
    static constexpr int kGroup = 1;

    bool runUring()
    {
        io_uring ring{};
        io_uring_params params{};
        params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
        params.cq_entries = 4 * kBufs;
        if (io_uring_queue_init_params(256, &ring, &params) < 0) {
            return false;
        }
        void* mem = nullptr;
        const std::size_t ringBytes = kBufs * sizeof(io_uring_buf);
        if (posix_memalign(&mem, 4096, ringBytes) != 0) {
            io_uring_queue_exit(&ring);
            return false;
        }
        auto* br = static_cast<io_uring_buf_ring*>(mem);
        io_uring_buf_ring_init(br);
        io_uring_buf_reg reg{};
        reg.ring_addr = reinterpret_cast<std::uint64_t>(br);
        reg.ring_entries = kBufs;
        reg.bgid = kGroup;
        if (io_uring_register_buf_ring(&ring, &reg, 0) < 0) {
            std::free(mem);
            io_uring_queue_exit(&ring);
            return false;
        }
        std::vector<char> buffers(static_cast<std::size_t>(kBufs) * kBufSize);
        const int mask = io_uring_buf_ring_mask(kBufs);
        for (unsigned b = 0; b < kBufs; ++b) {
            io_uring_buf_ring_add(br, buffers.data() + static_cast<std::size_t>(b) * kBufSize, kBufSize,
                                  static_cast<unsigned short>(b), mask, static_cast<int>(b));
        }
        io_uring_buf_ring_advance(br, static_cast<int>(kBufs));
        _usedUring = true;

        int returned = 0;  // buffers given back to the ring, not yet published to the kernel
        const auto arm = [&](std::size_t i) {
            io_uring_sqe* sqe = io_uring_get_sqe(&ring);
            if (sqe == nullptr) {
                // Publish the buffers first, or the re-armed recv may find none (ENOBUFS again).
                io_uring_buf_ring_advance(br, returned);
                returned = 0;
                io_uring_submit(&ring);
                sqe = io_uring_get_sqe(&ring);
                if (sqe == nullptr) {
                    die("io_uring: no submission entry free after a submit");
                }
            }
            io_uring_prep_recv_multishot(sqe, _conns[i]->fd, nullptr, 0, 0);
            sqe->flags |= IOSQE_BUFFER_SELECT;
            sqe->buf_group = kGroup;
            io_uring_sqe_set_data64(sqe, i);
        };
        for (std::size_t i = 0; i < _conns.size(); ++i) {
            if (_conns[i]->len > 0) {
                consume(*_conns[i], wallNs());  // bytes that came with the 101 response
            }
            arm(i);
        }
        __kernel_timespec timeout{0, 50'000'000};
        while (!_s.stop.load(std::memory_order_relaxed)) {
            io_uring_cqe* first = nullptr;
            const int r = io_uring_submit_and_wait_timeout(&ring, &first, 1, &timeout, nullptr);
            if (r < 0 && r != -ETIME && r != -EINTR) {
                die(std::string("io_uring wait failed: ") + std::strerror(-r));
            }
            // One timestamp per batch of completions: every frame in it was available to us now.
            const std::int64_t now = wallNs();
            unsigned head = 0;
            unsigned seen = 0;
            io_uring_cqe* cqe = nullptr;
            io_uring_for_each_cqe(&ring, head, cqe)
            {
                ++seen;
                const auto i = static_cast<std::size_t>(io_uring_cqe_get_data64(cqe));
                Conn& c = *_conns[i];
                if ((cqe->flags & IORING_CQE_F_BUFFER) != 0) {
                    const auto b = static_cast<unsigned short>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
                    char* data = buffers.data() + static_cast<std::size_t>(b) * kBufSize;
                    if (cqe->res > 0 && !c.closed) {
                        append(c, data, static_cast<std::size_t>(cqe->res), now);
                    }
                    io_uring_buf_ring_add(br, data, kBufSize, b, mask, returned++);
                }
                if (c.closed) {
                    continue;
                }
                if (cqe->res == 0 || (cqe->res < 0 && cqe->res != -ENOBUFS)) {
                    markClosed(c);
                } else if ((cqe->flags & IORING_CQE_F_MORE) == 0) {
                    arm(i);  // the multishot ended (out of buffers): start it again
                }
            }
            io_uring_buf_ring_advance(br, returned);
            returned = 0;
            io_uring_cq_advance(&ring, seen);
        }
        io_uring_queue_exit(&ring);
        std::free(mem);
        return true;
    }

    /// Bytes received for c: parsed in place when nothing is pending, else after what is.
    void append(Conn& c, const char* data, std::size_t n, std::int64_t now)
    {
        if (c.buf.size() - c.len < n) {
            c.buf.resize(std::max(c.buf.size() * 2, c.len + n));
        }
        std::memcpy(c.buf.data() + c.len, data, n);
        c.len += n;
        consume(c, now);
    }

    void consume(Conn& c, std::int64_t now)
    {
        const std::size_t used = parse(c, now);
        if (used > 0) {
            std::memmove(c.buf.data(), c.buf.data() + used, c.len - used);
            c.len -= used;
        }
    }

    void onReadable(Conn& c)
    {
        while (!c.closed) {
            if (c.buf.size() - c.len < 16 * 1024) {
                c.buf.resize(c.buf.size() * 2);
            }
            const std::size_t space = c.buf.size() - c.len;
            const ssize_t n = ::recv(c.fd, c.buf.data() + c.len, space, MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                return;
            }
            if (n <= 0) {
                markClosed(c);
                return;
            }
            // One timestamp per read: every frame in it was available to us at this moment.
            const std::int64_t now = wallNs();
            c.len += static_cast<std::size_t>(n);
            consume(c, now);
            if (static_cast<std::size_t>(n) < space) {
                return;  // drained for now (epoll is level-triggered: nothing is missed)
            }
        }
    }

    void runDirect(Conn& c)
    {
        const Options& o = _s.o;
        auto link = redisLink(o);
        std::vector<std::string> keys, ids;
        for (int t = 0; t < o.topics; ++t) {
            keys.push_back(o.prefix + "data.quotes.BENCH.S" + std::to_string(t));
            ids.emplace_back("0-0");
        }
        while (!_s.stop.load(std::memory_order_relaxed)) {
            // COUNT 1000 BLOCK as the relay's reader does (bus.read_count, bus.block_ms).
            link->begin(6 + 2 * keys.size()).arg(std::string_view("XREAD")).arg(std::string_view("COUNT"))
                .arg(std::int64_t{1000}).arg(std::string_view("BLOCK")).arg(std::int64_t{100})
                .arg(std::string_view("STREAMS"));
            for (const auto& k : keys) {
                link->arg(std::string_view(k));
            }
            for (const auto& id : ids) {
                link->arg(std::string_view(id));
            }
            link->send();
            RespReader r = link->readReply(5000);
            const std::int64_t now = wallNs();
            const RespValue top = r.next();
            std::uint64_t got = 0;
            for (std::size_t si = 0; si < top.size(); ++si) {
                r.next();  // [key, entries]
                const RespValue key = r.next();
                const auto k = static_cast<std::size_t>(std::find(keys.begin(), keys.end(), key.str) - keys.begin());
                const RespValue entries = r.next();
                for (std::size_t e = 0; e < entries.size(); ++e) {
                    r.next();  // [id, fields]
                    const RespValue id = r.next();
                    if (k < ids.size()) {
                        ids[k].assign(id.str);
                    }
                    const RespValue fields = r.next();
                    for (std::size_t f = 0; f + 1 < fields.size(); f += 2) {
                        const RespValue name = r.next();
                        const RespValue value = r.next();
                        if (name.str == "payload") {
                            got += account(c, value.str, now);
                        }
                    }
                }
            }
            if (got > 0) {
                _received.fetch_add(got, std::memory_order_relaxed);
            }
        }
    }

    void markClosed(Conn& c)
    {
        if (!c.closed) {
            c.closed = true;
            if (!_usedUring) {
                ::epoll_ctl(_epfd, EPOLL_CTL_DEL, c.fd, nullptr);
            }
            _s.closedByRelay.fetch_add(1);
        }
    }

    /// Handles every complete frame at the start of c.buf; returns the bytes consumed.
    std::size_t parse(Conn& c, std::int64_t now)
    {
        const auto* p = reinterpret_cast<const unsigned char*>(c.buf.data());
        std::size_t pos = 0;
        std::uint64_t got = 0;
        while (c.len - pos >= 2) {
            const unsigned char b0 = p[pos];
            const unsigned char b1 = p[pos + 1];
            std::size_t h = 2;
            std::uint64_t len = b1 & 0x7f;
            if (len == 126) {
                if (c.len - pos < 4) break;
                len = (static_cast<std::uint64_t>(p[pos + 2]) << 8) | p[pos + 3];
                h = 4;
            } else if (len == 127) {
                if (c.len - pos < 10) break;
                len = 0;
                for (int k = 0; k < 8; ++k) {
                    len = (len << 8) | p[pos + 2 + static_cast<std::size_t>(k)];
                }
                h = 10;
            }
            if ((b1 & 0x80) != 0) {
                die("the server sent a masked frame");
            }
            if (c.len - pos < h + len) {
                break;
            }
            const std::string_view payload(c.buf.data() + pos + h, static_cast<std::size_t>(len));
            switch (b0 & 0x0f) {
            case 0x1:
                got += onText(c, payload, now);
                break;
            case 0x8:
                c.closeCode = payload.size() >= 2 ? static_cast<std::uint16_t>((p[pos + h] << 8) | p[pos + h + 1]) : 1005;
                std::fprintf(stderr, "ws_load: client %d closed by the relay (%u %.*s)\n", c.index, c.closeCode,
                             static_cast<int>(payload.size() > 2 ? payload.size() - 2 : 0),
                             payload.size() > 2 ? payload.data() + 2 : "");
                markClosed(c);
                return c.len;
            case 0x9:  // ping: answer, or the relay closes us after 2 × ws.ping_interval_ms
                try {
                    sendAll(c.fd, clientFrame(0xA, payload, static_cast<std::uint32_t>(now)));
                } catch (const std::exception&) {
                }
                break;
            default:
                break;
            }
            pos += h + static_cast<std::size_t>(len);
        }
        if (got > 0) {
            _received.fetch_add(got, std::memory_order_relaxed);
        }
        return pos;
    }

    std::uint64_t onText(Conn& c, std::string_view json, std::int64_t now)
    {
        constexpr std::string_view kMessage = R"({"op":"message")";
        constexpr std::string_view kConflated = R"({"conflated":)";
        const bool isMessage = json.starts_with(kMessage);
        if (!isMessage && !json.starts_with(kConflated)) {
            if (json.starts_with(R"({"op":"subscribed")")) {
                if (!c.subscribed) {
                    c.subscribed = true;
                    _s.subscribed.fetch_add(1);
                }
            } else if (json.starts_with(R"({"op":"error")")) {
                std::fprintf(stderr, "ws_load: client %d: %.*s\n", c.index, static_cast<int>(json.size()), json.data());
            }
            return 0;
        }
        if (!isMessage) {
            std::uint64_t n = 0;
            std::from_chars(json.data() + kConflated.size(), json.data() + json.size(), n);
            c.conflated += n;
        }
        return account(c, json, now);
    }

    /// Counts one message whose JSON (frame or payload) ends with the producer's ts_init.
    std::uint64_t account(Conn& c, std::string_view json, std::int64_t now)
    {
        // ts_init is the payload's last member: search from the end.
        constexpr std::string_view kTs = R"("ts_init":)";
        std::int64_t ts = 0;
        if (const auto at = json.rfind(kTs); at != std::string_view::npos) {
            std::from_chars(json.data() + at + kTs.size(), json.data() + json.size(), ts);
        }
        if (ts == 0) {
            return 0;  // an entry that only created the stream (createStreams)
        }
        if (c.received == 0) {
            c.firstNs = now;
        }
        c.lastNs = now;
        ++c.received;
        const std::int64_t since = now - _s.t0Wall;
        const std::size_t w = since <= 0 ? 0 : std::min(_windows.size() - 1, static_cast<std::size_t>(since / _s.intervalNs));
        Window& win = _windows[w];
        ++win.messages;
        win.bytes += json.size();
        win.latency.record(now - ts);
        return 1;
    }

    Shared& _s;
    std::vector<Window> _windows;
    std::vector<Conn*> _conns;
    int _epfd = -1;
    std::thread _thread;
    std::atomic<std::uint64_t> _received{0};
    std::atomic<bool> _usedUring{false};
};

// ------------------------------------------------------------------------------------------
// Producer: paced, pipelined XADD with the send time in ts_init

struct ProducerResult {
    std::uint64_t sent = 0;
    std::vector<std::uint64_t> perTopic;
    std::int64_t maxBatchNs = 0;  ///< longest XADD round trip of one batch
    double seconds = 0;
};

ProducerResult produce(const Options& o, std::int64_t startMono, std::int64_t endMono)
{
    ProducerResult r;
    r.perTopic.assign(static_cast<std::size_t>(o.topics), 0);
    auto link = redisLink(o);
    std::vector<std::string> topics, keys, instruments;
    for (int t = 0; t < o.topics; ++t) {
        topics.push_back("data.quotes.BENCH.S" + std::to_string(t));
        keys.push_back(o.prefix + topics.back());
        instruments.push_back(instrumentOf(topics.back()));
    }
    const double perNs = o.rate * o.topics / 1e9;
    const std::int64_t tick = static_cast<std::int64_t>(o.tickUs) * 1000;
    std::int64_t next = startMono;
    char payload[512];
    for (;;) {
        const std::int64_t now = monoNs();
        if (now >= endMono) {
            break;
        }
        // Messages due by now: a late tick sends more, so the average rate holds.
        const auto due = static_cast<std::uint64_t>(static_cast<double>(now - startMono) * perNs) - r.sent;
        if (due > 0) {
            const std::int64_t ts = wallNs();
            for (std::uint64_t k = 0; k < due; ++k) {
                const std::size_t t = static_cast<std::size_t>((r.sent + k) % static_cast<std::uint64_t>(o.topics));
                const std::size_t n = quotePayload(payload, sizeof payload, instruments[t], r.sent + k, ts);
                queueXadd(*link, keys[t], o.maxlen, topics[t], std::string_view(payload, n));
                ++r.perTopic[t];
            }
            link->send();
            readXaddReplies(*link, due);
            r.maxBatchNs = std::max(r.maxBatchNs, monoNs() - now);
            r.sent += due;
        }
        next += tick;
        if (next < monoNs()) {
            next = monoNs();
        }
        const timespec ts{static_cast<time_t>(next / 1'000'000'000), static_cast<long>(next % 1'000'000'000)};
        ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
    }
    r.seconds = static_cast<double>(monoNs() - startMono) / 1e9;
    return r;
}

/// Creates the producer's streams (one entry each) so the relay discovers them before the
/// measurement; their entries carry an old timestamp and are not counted.
void createStreams(const Options& o)
{
    auto link = redisLink(o);
    char payload[512];
    for (int t = 0; t < o.topics; ++t) {
        const std::string topic = "data.quotes.BENCH.S" + std::to_string(t);
        const std::size_t n = quotePayload(payload, sizeof payload, instrumentOf(topic), 0, 0);
        queueXadd(*link, o.prefix + topic, o.maxlen, topic, std::string_view(payload, n));
    }
    link->send();
    readXaddReplies(*link, static_cast<std::size_t>(o.topics));
}

// ------------------------------------------------------------------------------------------
// Relay-side samples: /status (websocket section) and VmRSS, once per window

struct RelaySample {
    bool valid = false;
    long rssKb = -1;
    std::int64_t statusNs = 0;  ///< how long GET /status took
    std::uint64_t clients = 0, queueBytes = 0, maxClientQueue = 0, dropped = 0, conflated = 0;
};

long readRssKb(int pid)
{
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.starts_with("VmRSS:")) {
            return std::strtol(line.c_str() + 6, nullptr, 10);
        }
    }
    return -1;
}

std::uint64_t jsonNumber(std::string_view body, std::size_t from, std::string_view name)
{
    std::string key(1, '"');
    key.append(name).append("\":");
    const auto at = body.find(key, from);
    std::uint64_t v = 0;
    if (at != std::string_view::npos) {
        std::from_chars(body.data() + at + key.size(), body.data() + body.size(), v);
    }
    return v;
}

/// One GET on a fresh connection; the whole response (headers and body), empty on failure.
std::string httpGet(const Options& o, const std::string& target)
{
    std::string response;
    const int fd = connectTcp(o.host, o.port, 0);
    try {
        sendAll(fd, "GET " + target + " HTTP/1.1\r\nHost: " + o.host + "\r\nConnection: close\r\n\r\n");
        char tmp[16384];
        ssize_t n = 0;
        while ((n = ::recv(fd, tmp, sizeof tmp, 0)) > 0) {
            response.append(tmp, static_cast<std::size_t>(n));
        }
    } catch (const std::exception&) {
        response.clear();
    }
    ::close(fd);
    return response;
}

RelaySample sampleRelay(const Options& o)
{
    RelaySample s;
    if (o.relayPid > 0) {
        s.rssKb = readRssKb(o.relayPid);
    }
    const std::int64_t t0 = monoNs();
    {
        const std::string body = httpGet(o, "/status");
        s.statusNs = monoNs() - t0;
        const auto ws = body.find("\"websocket\":");
        if (ws != std::string::npos) {
            s.valid = true;
            s.clients = jsonNumber(body, ws, "clients");
            s.queueBytes = jsonNumber(body, ws, "queue_bytes");
            s.maxClientQueue = jsonNumber(body, ws, "max_client_queue_bytes");
            s.dropped = jsonNumber(body, ws, "dropped_clients");
            s.conflated = jsonNumber(body, ws, "conflated");
        }
    }
    return s;
}

/// CPU seconds per thread name of a process (/proc/PID/task/*/stat, utime + stime); threads
/// sharing a name are summed.
std::map<std::string, double> threadCpu(int pid)
{
    std::map<std::string, double> out;
    const std::string dir = "/proc/" + std::to_string(pid) + "/task/";
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
        return out;
    }
    const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
    while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') {
            continue;
        }
        std::ifstream f(dir + e->d_name + "/stat");
        std::string stat;
        std::getline(f, stat);
        const auto open = stat.find('(');
        const auto close = stat.rfind(')');
        if (open == std::string::npos || close == std::string::npos) {
            continue;
        }
        // After "(name) ": state, ppid, ... utime and stime are the 12th and 13th (man 5 proc).
        std::istringstream rest(stat.substr(close + 2));
        std::vector<std::string> fields;
        for (std::string t; fields.size() < 13 && rest >> t;) {
            fields.push_back(t);
        }
        if (fields.size() == 13) {
            out[stat.substr(open + 1, close - open - 1)] += (std::stod(fields[11]) + std::stod(fields[12])) / tick;
        }
    }
    ::closedir(d);
    return out;
}

/// Waits until /status lists the producer's last stream: discovery is periodic
/// (bus.discovery_interval_ms) and a stream found late would start with a latency spike.
void waitForStreams(const Options& o)
{
    const std::string last = "\"" + o.prefix + "data.quotes.BENCH.S" + std::to_string(o.topics - 1) + "\"";
    const std::int64_t deadline = monoNs() + 30'000'000'000;
    while (monoNs() < deadline) {
        if (httpGet(o, "/status").find(last) != std::string::npos) {
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    die("the relay did not discover " + last + " within 30 s");
}

// ------------------------------------------------------------------------------------------
// Paced /status probe (--status-rate): what a monitoring system sees while the load runs

bool iequals(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

/// Whether a comma-separated header value lists token t (case-insensitive).
bool hasToken(std::string_view value, std::string_view t)
{
    while (!value.empty()) {
        const auto comma = value.find(',');
        std::string_view item = value.substr(0, comma);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) {
            item.remove_prefix(1);
        }
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) {
            item.remove_suffix(1);
        }
        if (iequals(item, t)) {
            return true;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        value.remove_prefix(comma + 1);
    }
    return false;
}

/// The parts of an HTTP/1.x response head the probe needs.
struct ResponseHead {
    int status = 0;
    std::size_t headBytes = 0;  ///< through the blank line
    long long contentLength = -1;
    bool close = false;
};

/// Parses the response head at the start of in; false while it is incomplete.
bool parseResponseHead(std::string_view in, ResponseHead& h)
{
    const auto end = in.find("\r\n\r\n");
    if (end == std::string_view::npos) {
        return false;
    }
    h = ResponseHead{};
    h.headBytes = end + 4;
    const std::string_view head = in.substr(0, end);
    const std::string_view statusLine = head.substr(0, head.find("\r\n"));
    if (!statusLine.starts_with("HTTP/1.") || statusLine.size() < 12 ||
        std::from_chars(statusLine.data() + 9, statusLine.data() + 12, h.status).ec != std::errc{}) {
        die("status probe: not an HTTP/1.x response: " + std::string(statusLine));
    }
    h.close = statusLine.starts_with("HTTP/1.0");  // unless it says keep-alive
    for (auto pos = statusLine.size(); pos < head.size();) {
        pos += 2;
        const auto eol = std::min(head.find("\r\n", pos), head.size());
        const std::string_view line = head.substr(pos, eol - pos);
        pos = eol;
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) {
            continue;
        }
        const std::string_view name = line.substr(0, colon);
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
            value.remove_prefix(1);
        }
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
            value.remove_suffix(1);
        }
        if (iequals(name, "Content-Length")) {
            long long n = -1;
            if (std::from_chars(value.data(), value.data() + value.size(), n).ec != std::errc{} || n < 0) {
                die("status probe: bad Content-Length: " + std::string(value));
            }
            h.contentLength = n;
        } else if (iequals(name, "Connection")) {
            h.close = hasToken(value, "close") || (h.close && !hasToken(value, "keep-alive"));
        }
    }
    return true;
}

struct StatusProbeResult {
    Histogram latency;             ///< due time -> complete response, every complete response
    Histogram sendLag;             ///< due time -> the request's send() returned
    Histogram roundTrip;           ///< send() returned -> complete response
    std::uint64_t requests = 0;    ///< sent
    std::uint64_t errors = 0;      ///< non-200 responses, broken or timed-out exchanges
    std::uint64_t reconnects = 0;  ///< connections opened after the first
    std::uint64_t responses = 0;   ///< complete responses (any status)
    std::uint64_t bodyBytes = 0;   ///< their bodies
};

/// GET /status at a fixed rate on one keep-alive connection, from startMono to endMono (or
/// until stop()). Request k is due at startMono + k / rate and its latency runs from that due
/// time to the end of its response: a slow response delays the next requests, which are then
/// sent at once, one after the other, and their wait counts (no coordinated omission).
class StatusProbe {
public:
    StatusProbe(const Options& o, std::int64_t startMono, std::int64_t endMono)
        : _o(o), _startMono(startMono), _endMono(endMono), _buf(64 * 1024)
    {
        _request = "GET " + o.statusTarget + " HTTP/1.1\r\nHost: " + o.host + ":" + std::to_string(o.port) + "\r\n\r\n";
        _thread = std::thread([this] {
            pthread_setname_np(pthread_self(), "status-probe");
            run();
        });
    }
    ~StatusProbe() { stop(); }
    /// Waits for the last request (the probe ends by itself at endMono).
    void join()
    {
        if (_thread.joinable()) {
            _thread.join();
        }
    }
    /// Ends now; a request still unanswered is not counted.
    void stop()
    {
        _stop = true;
        join();
    }
    const StatusProbeResult& result() const { return _r; }

private:
    enum class Outcome { Ok, Closed, Broken, Stopped };  // Closed: nothing received on a reused connection
    static constexpr std::int64_t kTimeoutNs = 10'000'000'000;  // the relay's own HTTP timeout

    void run()
    {
        // Connect just before the first request is due: an idle keep-alive connection would be
        // closed by the relay (5 s) during a long warm-up.
        if (!sleepUntil(_startMono - 20'000'000)) {
            return;
        }
        _fd = connectTcp(_o.host, _o.port, 0);
        const double periodNs = 1e9 / _o.statusRate;
        for (std::uint64_t k = 0;; ++k) {
            const std::int64_t due = _startMono + static_cast<std::int64_t>(static_cast<double>(k) * periodNs);
            if (due >= _endMono || !sleepUntil(due)) {
                break;
            }
            ++_r.requests;
            exchange(due);
        }
        closeConnection();
    }

    /// Sleeps until t (CLOCK_MONOTONIC); false once stop() was called.
    bool sleepUntil(std::int64_t t)
    {
        for (;;) {
            if (_stop.load(std::memory_order_relaxed)) {
                return false;
            }
            const std::int64_t now = monoNs();
            if (now >= t) {
                return true;
            }
            const std::int64_t until = std::min(t, now + 100'000'000);  // look at stop() every 100 ms
            const timespec ts{static_cast<time_t>(until / 1'000'000'000), static_cast<long>(until % 1'000'000'000)};
            ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
        }
    }

    void closeConnection()
    {
        if (_fd >= 0) {
            ::close(_fd);
            _fd = -1;
        }
        _len = 0;
    }

    void exchange(std::int64_t due)
    {
        for (int attempt = 0;; ++attempt) {
            if (_fd < 0) {
                _fd = connectTcp(_o.host, _o.port, 0);
                ++_r.reconnects;
            }
            const Outcome out = roundTrip(due);
            if (out == Outcome::Ok) {
                return;
            }
            closeConnection();
            if (out == Outcome::Stopped) {
                --_r.requests;
                return;
            }
            // The relay closed the keep-alive connection before it read the request: send it
            // again on a new one (once), its latency still counting from the due time.
            if (out == Outcome::Closed && attempt == 0) {
                continue;
            }
            ++_r.errors;
            return;
        }
    }

    Outcome roundTrip(std::int64_t due)
    {
        _len = 0;  // nothing is pipelined: bytes left from an earlier response are stray
        for (std::string_view rest = _request; !rest.empty();) {
            const ssize_t n = ::send(_fd, rest.data(), rest.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                return Outcome::Closed;
            }
            rest.remove_prefix(static_cast<std::size_t>(n));
        }
        const std::int64_t sent = monoNs();
        const std::int64_t deadline = monoNs() + kTimeoutNs;
        ResponseHead head;
        bool haveHead = false;
        std::size_t total = 0;  // the whole response, once known
        std::size_t body = 0;
        for (;;) {
            const std::string_view in(_buf.data(), _len);
            if (!haveHead && parseResponseHead(in, head)) {
                haveHead = true;
                if (head.status / 100 == 1 || head.status == 204 || head.status == 304) {
                    total = head.headBytes;
                } else if (head.contentLength >= 0) {  // the relay always sends one
                    body = static_cast<std::size_t>(head.contentLength);
                    total = head.headBytes + body;
                } else {
                    die("status probe: a response without Content-Length (HTTP " + std::to_string(head.status) + ")");
                }
            }
            if (total > 0 && _len >= total) {
                break;
            }
            if (_buf.size() - _len < 16 * 1024) {
                _buf.resize(std::max(_buf.size() * 2, total));
            }
            pollfd p{_fd, POLLIN, 0};
            const int ready = ::poll(&p, 1, 100);
            if (_stop.load(std::memory_order_relaxed)) {
                return Outcome::Stopped;
            }
            if (ready == 0) {
                if (monoNs() > deadline) {
                    std::fprintf(stderr, "ws_load: status probe: no complete response within %lld s\n",
                                 static_cast<long long>(kTimeoutNs / 1'000'000'000));
                    return Outcome::Broken;
                }
                continue;
            }
            const ssize_t n = ready < 0 ? -1 : ::recv(_fd, _buf.data() + _len, _buf.size() - _len, MSG_DONTWAIT);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
                continue;
            }
            if (n <= 0) {
                return _len == 0 ? Outcome::Closed : Outcome::Broken;
            }
            _len += static_cast<std::size_t>(n);
        }
        const std::int64_t done = monoNs();
        _r.latency.record(done - due);
        _r.sendLag.record(sent - due);
        _r.roundTrip.record(done - sent);
        ++_r.responses;
        _r.bodyBytes += body;
        if (head.status != 200) {
            ++_r.errors;
        }
        _len = 0;
        if (head.close) {
            closeConnection();  // the next request opens a new one
        }
        return Outcome::Ok;
    }

    const Options& _o;
    const std::int64_t _startMono;
    const std::int64_t _endMono;
    std::string _request;
    std::vector<char> _buf;
    std::size_t _len = 0;
    int _fd = -1;
    StatusProbeResult _r;
    std::atomic<bool> _stop{false};
    std::thread _thread;
};

// ------------------------------------------------------------------------------------------
// run

double cpuSeconds()
{
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int run(Options o)
{
    if (o.port <= 0 && !o.direct) {
        die("run needs --port (the relay's http.port)");
    }
    const bool producing = o.rate > 0;
    Shared shared(o);
    shared.intervalNs = static_cast<std::int64_t>(o.interval * 1e9);
    const double horizon = producing ? o.warmup + o.duration + 10 : 600;  // seconds of windows kept
    const auto windowCount = static_cast<std::size_t>(horizon / o.interval) + 2;
    shared.t0Wall = wallNs() + 3'600'000'000'000;  // until the start, everything counts in window 0

    if (producing) {
        createStreams(o);
        if (!o.direct) {
            waitForStreams(o);
        }
    }

    std::vector<std::unique_ptr<ClientThread>> threads;
    for (int t = 0; t < o.threads; ++t) {
        threads.push_back(std::make_unique<ClientThread>(shared, windowCount));
    }
    std::mt19937 rng(std::random_device{}());
    std::vector<std::unique_ptr<Conn>> conns;
    const std::int64_t connectStart = monoNs();
    for (int i = 0; i < o.clients && !o.direct; ++i) {
        auto c = std::make_unique<Conn>();
        c->index = i;
        c->buf.resize(128 * 1024);
        c->fd = connectTcp(o.host, o.port, 0);
        handshake(*c, o, rng);
        sendAll(c->fd, clientFrame(0x1, subscribeJson(o, i), rng()));
        threads[static_cast<std::size_t>(i % o.threads)]->add(*c);
        conns.push_back(std::move(c));
    }
    if (o.direct) {
        if (!producing) {
            die("--direct needs the producer (--rate)");
        }
        conns.push_back(std::make_unique<Conn>());
        threads.resize(1);
        threads[0]->startDirect(*conns[0]);
        o.clients = 1;
        o.subscribe = "all";  // it reads every producer stream
        shared.subscribed = 1;
    } else {
        for (auto& t : threads) {
            t->start();
        }
    }
    std::vector<int> stalledFds;
    auto connectStalled = [&] {
        for (int i = 0; i < o.stalled; ++i) {
            Conn c;
            c.buf.resize(4096);
            c.fd = connectTcp(o.host, o.port, o.stallRcvbuf);
            handshake(c, o, rng);
            Options so = o;
            so.subscribe = o.stallTopic;
            so.from.clear();
            sendAll(c.fd, clientFrame(0x1, subscribeJson(so, i), rng()));
            stalledFds.push_back(c.fd);  // never read again, closed at the end
        }
    };
    const std::int64_t waitUntil = monoNs() + 30'000'000'000;
    while (shared.subscribed.load() < o.clients) {
        if (monoNs() > waitUntil) {
            die("only " + std::to_string(shared.subscribed.load()) + " of " + std::to_string(o.clients) +
                " clients got a subscribed reply");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const double connectSecs = static_cast<double>(monoNs() - connectStart) / 1e9;
    if (o.stallAfter <= 0) {
        connectStalled();
    }

    // Start: window 0 begins now.
    const double cpu0 = cpuSeconds();
    const auto relayCpu0 = threadCpu(o.relayPid);
    const auto redisCpu0 = threadCpu(o.redisPid);
    const std::int64_t startMono = monoNs();
    shared.t0Wall = wallNs();
    std::vector<RelaySample> samples(windowCount);
    std::atomic<bool> samplerStop{false};
    std::thread sampler([&] {
        for (std::size_t w = 0; w < windowCount && !samplerStop.load(); ++w) {
            const std::int64_t at = startMono + static_cast<std::int64_t>(w + 1) * shared.intervalNs;
            while (monoNs() < at && !samplerStop.load()) {
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
            if (!samplerStop.load() && !o.direct) {
                samples[w] = sampleRelay(o);  // the state at the end of window w
            }
        }
    });
    std::thread stalledLater;
    if (o.stallAfter > 0 && o.stalled > 0) {
        stalledLater = std::thread([&] {
            std::this_thread::sleep_for(std::chrono::duration<double>(o.stallAfter));
            connectStalled();
        });
    }
    if (!o.renameFrom.empty()) {
        auto link = redisLink(o);
        RespReader r = link->command({"RENAME", o.renameFrom, o.renameTo});
        if (const RespValue v = r.next(); v.isError()) {
            die("RENAME failed: " + std::string(v.str));
        }
    }
    auto totalReceived = [&] {
        std::uint64_t n = 0;
        for (auto& t : threads) {
            n += t->received();
        }
        return n;
    };
    ProducerResult prod;
    // What the clients should get: each its topic's entries (own), or all of them (all).
    auto expectedMessages = [&]() -> std::uint64_t {
        if (!producing) {
            return o.expect * static_cast<std::uint64_t>(o.clients);
        }
        std::uint64_t n = 0;
        for (int i = 0; i < o.clients; ++i) {
            n += o.subscribe == "own" ? prod.perTopic[static_cast<std::size_t>(i % o.topics)]
                 : o.subscribe == "all" ? prod.sent
                                        : 0;
        }
        return n;
    };
    // The /status probe covers the measurement: after the warm-up, to the end of production
    // (without a producer: from the start to the end of the run).
    std::unique_ptr<StatusProbe> probe;
    if (o.statusRate > 0 && o.direct) {
        std::fprintf(stderr, "ws_load: --status-rate is ignored with --direct (no relay)\n");
    } else if (o.statusRate > 0) {
        probe = producing ? std::make_unique<StatusProbe>(o, startMono + static_cast<std::int64_t>(o.warmup * 1e9),
                                                          startMono + static_cast<std::int64_t>((o.warmup + o.duration) * 1e9))
                          : std::make_unique<StatusProbe>(o, startMono, INT64_MAX);
    }
    if (producing) {
        const auto end = startMono + static_cast<std::int64_t>((o.warmup + o.duration) * 1e9);
        prod = produce(o, startMono, end);
    }
    // Wait for the tail: everything expected, or no progress for --idle seconds.
    {
        const std::uint64_t expected = expectedMessages();
        std::uint64_t last = totalReceived();
        std::int64_t lastChange = monoNs();
        const std::int64_t idleNs = static_cast<std::int64_t>((producing ? std::min(o.idle, 2.0) : o.idle) * 1e9);
        const std::int64_t hardEnd = monoNs() + static_cast<std::int64_t>(horizon * 1e9);
        for (;;) {
            const std::uint64_t now = totalReceived();
            if (expected > 0 && now >= expected) {
                break;
            }
            if (now != last) {
                last = now;
                lastChange = monoNs();
            } else if (monoNs() - lastChange > idleNs && (now > 0 || producing)) {
                break;
            }
            if (monoNs() > hardEnd || shared.closedByRelay.load() >= o.clients) {
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }
    const double wallSecs = static_cast<double>(monoNs() - startMono) / 1e9;
    const double cpu = cpuSeconds() - cpu0;
    const auto relayCpu1 = threadCpu(o.relayPid);
    const auto redisCpu1 = threadCpu(o.redisPid);
    shared.stop = true;
    samplerStop = true;
    for (auto& t : threads) {
        t->join();
    }
    if (probe) {
        if (producing) {
            probe->join();  // it stops at the end of production; its last request may still be out
        } else {
            probe->stop();
        }
    }
    sampler.join();
    if (stalledLater.joinable()) {
        stalledLater.join();
    }

    // ---- report
    std::vector<Window> merged(windowCount);
    for (auto& t : threads) {
        for (std::size_t w = 0; w < windowCount; ++w) {
            merged[w].latency.merge(t->windows()[w].latency);
            merged[w].messages += t->windows()[w].messages;
            merged[w].bytes += t->windows()[w].bytes;
        }
    }
    std::uint64_t received = 0, conflated = 0;
    std::int64_t first = 0, lastAt = 0;
    int closed = 0;
    for (auto& c : conns) {
        received += c->received;
        conflated += c->conflated;
        if (c->received > 0) {
            first = first == 0 ? c->firstNs : std::min(first, c->firstNs);
            lastAt = std::max(lastAt, c->lastNs);
        }
        closed += c->closed ? 1 : 0;
    }
    if (o.direct) {
        std::printf("ws_load: direct XREAD BLOCK reader on Redis, no relay (reference path)\n");
    } else {
        const bool uring = !threads.empty() && threads[0]->usedUring();
        std::printf("ws_load: %d client%s on %d %s thread%s, subscribe %s%s%s, %d stalled; connected and subscribed in %.2f s\n",
                    o.clients, o.clients == 1 ? "" : "s", o.threads, uring ? "io_uring" : "epoll", o.threads == 1 ? "" : "s", o.subscribe.c_str(),
                    o.from.empty() ? "" : " from ", o.from.c_str(), o.stalled, connectSecs);
    }
    if (producing) {
        std::printf("producer:  %.0f msg/s per topic x %d topic%s (tick %d us): %llu XADDs in %.2f s = %.0f/s, "
                    "slowest batch %s ms\n",
                    o.rate, o.topics, o.topics == 1 ? "" : "s", o.tickUs, static_cast<unsigned long long>(prod.sent),
                    prod.seconds, static_cast<double>(prod.sent) / prod.seconds, ms(static_cast<std::uint64_t>(prod.maxBatchNs)).c_str());
        const std::uint64_t expected = expectedMessages();
        std::printf("delivered: %llu of %llu expected, conflated %llu, %d client%s closed by the relay\n",
                    static_cast<unsigned long long>(received), static_cast<unsigned long long>(expected),
                    static_cast<unsigned long long>(conflated), closed, closed == 1 ? "" : "s");
        // The summary covers the windows after the warm-up, up to the end of production.
        const auto w0 = static_cast<std::size_t>(std::llround(o.warmup / o.interval));
        const auto w1 = static_cast<std::size_t>(std::llround((o.warmup + o.duration) / o.interval));
        Histogram h;
        std::uint64_t msgs = 0, bytes = 0;
        for (std::size_t w = w0; w < std::min(w1 + 1, windowCount); ++w) {  // +1: the tail of the last batch
            h.merge(merged[w].latency);
            msgs += merged[w].messages;
            bytes += merged[w].bytes;
        }
        std::printf("measured:  %.1f s after %.1f s warm-up: %.0f msg/s received (%.1f MB/s of JSON)\n", o.duration, o.warmup,
                    static_cast<double>(msgs) / o.duration, static_cast<double>(bytes) / o.duration / 1e6);
        std::printf("latency:   XADD -> client, ms: p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (%llu samples)\n",
                    ms(h.quantile(0.5)).c_str(), ms(h.quantile(0.9)).c_str(), ms(h.quantile(0.99)).c_str(),
                    ms(h.quantile(0.999)).c_str(), ms(h.max()).c_str(), static_cast<unsigned long long>(h.count()));
    } else {
        const double span = lastAt > first ? static_cast<double>(lastAt - first) / 1e9 : 0;
        const double fromStart = lastAt > shared.t0Wall ? static_cast<double>(lastAt - shared.t0Wall) / 1e9 : 0;
        std::uint64_t bytes = 0;
        for (auto& w : merged) {
            bytes += w.bytes;
        }
        std::printf("delivered: %llu messages (conflated %llu, expected %llu), %d client%s closed by the relay\n",
                    static_cast<unsigned long long>(received), static_cast<unsigned long long>(conflated),
                    static_cast<unsigned long long>(o.expect * static_cast<std::uint64_t>(o.clients)), closed,
                    closed == 1 ? "" : "s");
        std::printf("rate:      %.0f msg/s first to last message (%.2f s), %.0f msg/s from the start (%.2f s), %.1f MB/s of JSON\n",
                    span > 0 ? static_cast<double>(received) / span : 0.0, span,
                    fromStart > 0 ? static_cast<double>(received) / fromStart : 0.0, fromStart,
                    span > 0 ? static_cast<double>(bytes) / span / 1e6 : 0.0);
    }
    if (probe) {
        const StatusProbeResult& r = probe->result();
        const Histogram& h = r.latency;
        std::printf("status:    GET %s at %g/s on one keep-alive connection: %llu requests, p50 %s  p90 %s  p99 %s  "
                    "max %s ms, body %.1f KB, %llu error%s, %llu reconnect%s\n",
                    o.statusTarget.c_str(), o.statusRate, static_cast<unsigned long long>(r.requests), ms(h.quantile(0.5)).c_str(),
                    ms(h.quantile(0.9)).c_str(), ms(h.quantile(0.99)).c_str(), ms(h.max()).c_str(),
                    r.responses > 0 ? static_cast<double>(r.bodyBytes) / static_cast<double>(r.responses) / 1e3 : 0.0,
                    static_cast<unsigned long long>(r.errors), r.errors == 1 ? "" : "s",
                    static_cast<unsigned long long>(r.reconnects), r.reconnects == 1 ? "" : "s");
        // Where the time went: until the probe's send() returned (it waits for a core on a
        // machine shared with the load, and the relay may run inside that send), then the rest.
        std::printf("status:    of which: due -> send() returned p50 %s  p99 %s ms; then -> response p50 %s  p99 %s ms\n",
                    ms(r.sendLag.quantile(0.5)).c_str(), ms(r.sendLag.quantile(0.99)).c_str(),
                    ms(r.roundTrip.quantile(0.5)).c_str(), ms(r.roundTrip.quantile(0.99)).c_str());
    }
    long peakRss = -1;
    std::uint64_t peakMaxQueue = 0;
    for (auto& s : samples) {
        peakRss = std::max(peakRss, s.rssKb);
        peakMaxQueue = std::max(peakMaxQueue, s.maxClientQueue);
    }
    std::printf("client:    %.2f s CPU over %.2f s (%.0f %% of one core, producer%s included)\n", cpu, wallSecs,
                100 * cpu / wallSecs, probe ? " and status probe" : "");
    // CPU of the other processes over the same span, per thread name: where the time goes.
    auto cpuLine = [&](const char* what, const std::map<std::string, double>& a, const std::map<std::string, double>& b) {
        if (b.empty()) {
            return;
        }
        double total = 0;
        std::string parts;
        for (const auto& [name, secs] : b) {
            const auto it = a.find(name);
            const double d = secs - (it == a.end() ? 0.0 : it->second);
            total += d;
            if (d / wallSecs >= 0.01) {
                char buf[96];
                std::snprintf(buf, sizeof buf, "%s%s %.0f %%", parts.empty() ? "" : ", ", name.c_str(), 100 * d / wallSecs);
                parts += buf;
            }
        }
        std::printf("%-10s %.2f s CPU (%.0f %% of one core; %s)", what, total, 100 * total / wallSecs, parts.c_str());
        if (received > 0) {
            std::printf(", %.2f us per delivered message", total * 1e6 / static_cast<double>(received));
        }
        std::printf("\n");
    };
    cpuLine("relay:", relayCpu0, relayCpu1);
    cpuLine("redis:", redisCpu0, redisCpu1);
    if (o.relayPid > 0) {
        std::printf("relay:     peak VmRSS %.1f MB, peak per-client queue %.2f MB (sampled every %.1f s)\n",
                    static_cast<double>(peakRss) / 1024, static_cast<double>(peakMaxQueue) / 1048576, o.interval);
    }
    if (o.windows) {
        std::printf("%6s %9s %9s %9s %9s %9s %8s %8s %10s %10s %8s %9s\n", "t(s)", "msgs", "p50(ms)", "p99(ms)", "max(ms)",
                    "RSS(MB)", "clients", "dropped", "queue(MB)", "maxq(MB)", "conflatd", "status(ms)");
        const std::size_t lastWindow = std::min(windowCount, static_cast<std::size_t>(wallSecs / o.interval) + 1);
        for (std::size_t w = 0; w < lastWindow; ++w) {
            const Window& m = merged[w];
            const RelaySample& s = samples[w];
            // Latency only means something for produced messages; relay columns need a sample.
            auto lat = [&](std::uint64_t v) { return producing && m.latency.count() > 0 ? ms(v) : std::string("-"); };
            auto num = [&](double v, const char* fmt) {
                char b[32];
                std::snprintf(b, sizeof b, fmt, v);
                return s.valid ? std::string(b) : std::string("-");
            };
            std::printf("%6.1f %9llu %9s %9s %9s %9s %8s %8s %10s %10s %8s %9s\n", static_cast<double>(w + 1) * o.interval,
                        static_cast<unsigned long long>(m.messages), lat(m.latency.quantile(0.5)).c_str(),
                        lat(m.latency.quantile(0.99)).c_str(), lat(m.latency.max()).c_str(),
                        s.rssKb >= 0 ? num(static_cast<double>(s.rssKb) / 1024, "%.1f").c_str() : "-",
                        num(static_cast<double>(s.clients), "%.0f").c_str(), num(static_cast<double>(s.dropped), "%.0f").c_str(),
                        num(static_cast<double>(s.queueBytes) / 1048576, "%.2f").c_str(),
                        num(static_cast<double>(s.maxClientQueue) / 1048576, "%.2f").c_str(),
                        num(static_cast<double>(s.conflated), "%.0f").c_str(),
                        num(static_cast<double>(s.statusNs) / 1e6, "%.3f").c_str());
        }
    }
    for (auto& c : conns) {
        ::close(c->fd);
    }
    for (int fd : stalledFds) {
        ::close(fd);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 2) {
        usage();
        return 2;
    }
    const std::string cmd = argv[1];
    try {
        if (cmd == "prefill") {
            return prefill(parseOptions(argc, argv, 2));
        }
        if (cmd == "run") {
            return run(parseOptions(argc, argv, 2));
        }
    } catch (const std::exception& e) {
        die(e.what());
    }
    usage();
    return 2;
}

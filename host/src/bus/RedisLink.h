#pragma once
// One Redis connection for the bus reader: connect with a timeout, TCP_NODELAY, TCP keepalive
// with short probes, AUTH (password or ACL user), SELECT, CLIENT SETNAME; commands written as
// RESP arrays into a reused buffer and pipelined; replies read with large recv() calls into a
// growable buffer and parsed in place (RespParser), so reading a 1000-entry XREAD reply costs no
// allocation and no copy per element.
//
// Why not Poco::Redis::Client (which the state store uses): in Poco 1.11 it does not expose its
// socket (no receive timeout per call, no shutdown from another thread to interrupt a BLOCK) and
// it copies every reply element into Poco::Redis objects; a prototype measured about 200k
// QuoteTick entries/s with it, CPU-bound in those copies. bench/ingest_bench.cpp compares both.
//
// Threads: one owner thread uses the link; interrupt() may be called from any thread to abort
// a blocking connect/recv (used by StreamReader::stop()).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>

#include <Poco/Net/StreamSocket.h>

#include "bus/BusTypes.h"
#include "bus/RespParser.h"
#include "common/StreamId.h"

namespace nautilus::relay {

/// The link is unusable (connect failure, socket error, timeout, protocol error, handshake
/// refused): close it and reconnect.
class RedisLinkError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct RedisLinkOptions {
    RedisEndpoint endpoint;
    int ioTimeoutMs = 2000;        ///< default receive timeout of a reply, and send timeout
    bool keepAlive = true;
    int keepAliveIdleS = 5;        ///< TCP_KEEPIDLE
    int keepAliveIntervalS = 2;    ///< TCP_KEEPINTVL
    int keepAliveCount = 3;        ///< TCP_KEEPCNT
    std::string clientName;        ///< CLIENT SETNAME (empty: not sent)
    std::size_t maxReplyBytes = RespScanner::kDefaultMaxReply;
};

class RedisLink {
public:
    explicit RedisLink(RedisLinkOptions options);
    ~RedisLink();
    RedisLink(const RedisLink&) = delete;
    RedisLink& operator=(const RedisLink&) = delete;

    /// Connects and runs the handshake (AUTH, SELECT, CLIENT SETNAME). Throws RedisLinkError.
    void connect();
    /// Closes the socket and forgets queued commands and buffered bytes.
    void close();
    bool isOpen() const { return _open; }
    /// Any thread: shuts the socket down so a blocked connect/recv returns at once. Sticky
    /// until clearInterrupt(): a connect() after it fails immediately.
    void interrupt();
    void clearInterrupt();

    // --- commands (pipelined: queue any number, send(), then read one reply per command) ---
    RedisLink& begin(std::size_t argc);
    RedisLink& arg(std::string_view value);
    RedisLink& arg(std::int64_t value);
    RedisLink& arg(StreamId id);
    /// Writes every queued command. Throws RedisLinkError.
    void send();
    /// Commands sent whose replies were not read yet.
    std::size_t pending() const { return _pending; }

    /// Reads the next reply; its views stay valid until the next readReply()/close().
    /// timeoutMs < 0: the default ioTimeoutMs. Throws RedisLinkError (an error *reply* is not
    /// thrown: it is returned as a RespType::Error value).
    RespReader readReply(int timeoutMs = -1);
    /// Queues, sends and reads one command; returns the reader at the reply's first value.
    RespReader command(std::initializer_list<std::string_view> args, int timeoutMs = -1);

    const RedisLinkOptions& options() const { return _options; }
    std::string address() const { return _options.endpoint.address(); }
    /// Bytes currently allocated for received data (for tests/diagnostics).
    std::size_t bufferCapacity() const { return _cap; }

private:
    void setReceiveTimeout(int ms);
    void applySocketOptions();
    void handshake();

    RedisLinkOptions _options;
    Poco::Net::StreamSocket _socket;
    bool _open = false;

    // Guards the fd that interrupt() shuts down; the owner closes the socket only after
    // clearing _fd under this mutex, so interrupt() never touches a reused descriptor.
    std::mutex _fdMutex;
    int _fd = -1;
    bool _interrupted = false;

    std::string _out;             // queued commands
    std::size_t _queued = 0;      // commands in _out
    std::size_t _pending = 0;

    std::unique_ptr<char[]> _buf; // received bytes: [_start, _end) not consumed yet
    std::size_t _cap = 0;
    std::size_t _start = 0;
    std::size_t _end = 0;
    RespScanner _scanner;
    int _rcvTimeoutMs = -1;
};

}  // namespace nautilus::relay

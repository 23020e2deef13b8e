#pragma once
// A minimal pipelining Redis writer for the demo feed: RESP commands appended to one buffer,
// written with one send, replies parsed in place. Poco::Redis::Client builds a Poco object per
// argument and per reply, which caps a writer far below what the feed needs to pre-fill streams
// for benchmarks; this one costs no allocation per entry.
//
// Single-threaded. Throws RedisPipeError for connection problems (retryable) and
// RedisReplyError for an error reply (e.g. WRONGTYPE, NOAUTH).
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <Poco/Net/StreamSocket.h>

namespace nautilus::relay::demo {

class RedisPipeError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class RedisReplyError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct RedisPipeOptions {
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string username;
    std::string password;
    int db = 0;
    int connectTimeoutMs = 2000;
    int ioTimeoutMs = 10000;
};

/// Appends RESP commands to a buffer.
class RespBuffer {
public:
    void begin(std::size_t argc);
    void arg(std::string_view value);
    const std::string& data() const { return _buf; }
    std::size_t size() const { return _buf.size(); }
    void clear() { _buf.clear(); }

private:
    std::string _buf;
};

class RedisPipe {
public:
    explicit RedisPipe(RedisPipeOptions options) : _options(std::move(options)) {}

    /// Connects and authenticates (AUTH, SELECT). Throws RedisPipeError or RedisReplyError.
    void connect();
    void close();
    bool isOpen() const { return _open; }

    /// Writes bytes (whole RESP commands). Throws RedisPipeError.
    void send(std::string_view bytes);
    /// Reads one reply. An error reply is returned with isError (not thrown).
    struct Reply {
        bool isError = false;
        std::string text;  ///< the error text (only for errors)
    };
    Reply read();
    /// Runs one command and throws RedisReplyError on an error reply.
    void command(std::initializer_list<std::string_view> args);

private:
    bool parse(std::size_t& pos, Reply& reply, int depth);
    void fill();

    RedisPipeOptions _options;
    Poco::Net::StreamSocket _socket;
    bool _open = false;
    std::string _in;
    std::size_t _pos = 0;
};

}  // namespace nautilus::relay::demo

#include "tools/demo_feed/RedisPipe.h"

#include <charconv>

#include <Poco/Exception.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Timespan.h>

namespace nautilus::relay::demo {

namespace {

Poco::Timespan millis(int ms)
{
    return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(ms) * 1000);
}

void appendNumber(std::string& out, char prefix, std::size_t n)
{
    char buf[24];
    buf[0] = prefix;
    char* end = std::to_chars(buf + 1, buf + sizeof buf - 2, n).ptr;
    *end++ = '\r';
    *end++ = '\n';
    out.append(buf, static_cast<std::size_t>(end - buf));
}

}  // namespace

void RespBuffer::begin(std::size_t argc)
{
    appendNumber(_buf, '*', argc);
}

void RespBuffer::arg(std::string_view value)
{
    appendNumber(_buf, '$', value.size());
    _buf.append(value);
    _buf.append("\r\n", 2);
}

void RedisPipe::connect()
{
    close();
    const std::string where = _options.host + ":" + std::to_string(_options.port);
    try {
        const Poco::Net::SocketAddress address(_options.host, static_cast<Poco::UInt16>(_options.port));
        _socket = Poco::Net::StreamSocket();
        _socket.connect(address, millis(_options.connectTimeoutMs));
        _socket.setNoDelay(true);
        _socket.setReceiveTimeout(millis(_options.ioTimeoutMs));
        _socket.setSendTimeout(millis(_options.ioTimeoutMs));
    } catch (const Poco::Exception& e) {
        throw RedisPipeError("cannot connect to redis " + where + ": " + e.displayText());
    }
    _open = true;
    _in.clear();
    _pos = 0;
    if (!_options.password.empty()) {
        if (_options.username.empty()) {
            command({"AUTH", _options.password});
        } else {
            command({"AUTH", _options.username, _options.password});
        }
    }
    if (_options.db != 0) {
        command({"SELECT", std::to_string(_options.db)});
    }
}

void RedisPipe::close()
{
    if (_open) {
        try {
            _socket.close();
        } catch (...) {
        }
    }
    _open = false;
    _in.clear();
    _pos = 0;
}

void RedisPipe::send(std::string_view bytes)
{
    if (!_open) {
        throw RedisPipeError("not connected");
    }
    try {
        while (!bytes.empty()) {
            const int n = _socket.sendBytes(bytes.data(), static_cast<int>(std::min<std::size_t>(bytes.size(), 1 << 30)));
            if (n <= 0) {
                throw RedisPipeError("connection closed while sending");
            }
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    } catch (const Poco::Exception& e) {
        close();
        throw RedisPipeError("send failed: " + e.displayText());
    }
}

void RedisPipe::fill()
{
    if (_pos > 0 && _pos == _in.size()) {
        _in.clear();
        _pos = 0;
    } else if (_pos > (1 << 20)) {
        _in.erase(0, _pos);
        _pos = 0;
    }
    char buf[64 * 1024];
    int n = 0;
    try {
        n = _socket.receiveBytes(buf, sizeof buf);
    } catch (const Poco::TimeoutException&) {
        close();
        throw RedisPipeError("no reply within " + std::to_string(_options.ioTimeoutMs) + " ms");
    } catch (const Poco::Exception& e) {
        close();
        throw RedisPipeError("receive failed: " + e.displayText());
    }
    if (n <= 0) {
        close();
        throw RedisPipeError("connection closed by redis");
    }
    _in.append(buf, static_cast<std::size_t>(n));
}

/// Parses one reply at pos; false when more bytes are needed (pos unchanged then).
bool RedisPipe::parse(std::size_t& pos, Reply& reply, int depth)
{
    if (depth > 8) {
        throw RedisPipeError("reply nested too deeply");
    }
    const auto eol = _in.find("\r\n", pos);
    if (eol == std::string::npos) {
        return false;
    }
    const char kind = _in[pos];
    const std::string_view line(_in.data() + pos + 1, eol - pos - 1);
    std::size_t p = eol + 2;
    switch (kind) {
    case '+':
    case ':':
        break;
    case '-':
        reply.isError = true;
        reply.text.assign(line);
        break;
    case '$': {
        long long len = 0;
        std::from_chars(line.data(), line.data() + line.size(), len);
        if (len >= 0) {
            if (_in.size() < p + static_cast<std::size_t>(len) + 2) {
                return false;
            }
            p += static_cast<std::size_t>(len) + 2;
        }
        break;
    }
    case '*': {
        long long n = 0;
        std::from_chars(line.data(), line.data() + line.size(), n);
        for (long long i = 0; i < n; ++i) {
            Reply inner;
            if (!parse(p, inner, depth + 1)) {
                return false;
            }
            if (inner.isError && !reply.isError) {
                reply = inner;
            }
        }
        break;
    }
    default:
        close();
        throw RedisPipeError(std::string("protocol error: unexpected reply byte '") + kind + "'");
    }
    pos = p;
    return true;
}

RedisPipe::Reply RedisPipe::read()
{
    for (;;) {
        if (_pos < _in.size()) {
            Reply r;
            std::size_t p = _pos;
            if (parse(p, r, 0)) {
                _pos = p;
                return r;
            }
        }
        if (!_open) {
            throw RedisPipeError("not connected");
        }
        fill();
    }
}

void RedisPipe::command(std::initializer_list<std::string_view> args)
{
    RespBuffer b;
    b.begin(args.size());
    for (const auto a : args) {
        b.arg(a);
    }
    send(b.data());
    const Reply r = read();
    if (r.isError) {
        const std::string name(*args.begin());
        throw RedisReplyError(name + ": " + r.text);
    }
}

}  // namespace nautilus::relay::demo

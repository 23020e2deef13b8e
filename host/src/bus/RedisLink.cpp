#include "bus/RedisLink.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <Poco/Exception.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Timespan.h>

namespace nautilus::relay {

namespace {

constexpr std::size_t kInitialBuffer = 1u << 20;  // 1 MiB: a 1000-entry QuoteTick reply fits
constexpr std::size_t kRecvChunk = 256u * 1024;   // never recv() into less free space than this

void setIntOption(int fd, int level, int name, int value)
{
    // Best effort: a kernel without the option still gets the read timeout.
    (void)::setsockopt(fd, level, name, &value, sizeof value);
}

}  // namespace

RedisLink::RedisLink(RedisLinkOptions options)
    : _options(std::move(options)), _scanner(_options.maxReplyBytes)
{
    _out.reserve(4096);
}

RedisLink::~RedisLink()
{
    close();
}

void RedisLink::connect()
{
    close();
    const std::string where = address();
    try {
        const Poco::Net::SocketAddress addr(_options.endpoint.host, static_cast<Poco::UInt16>(_options.endpoint.port));
        Poco::Net::StreamSocket socket(addr.family());
        {
            std::lock_guard lock(_fdMutex);
            if (_interrupted) {
                throw RedisLinkError("interrupted");
            }
            _socket = socket;
            _fd = _socket.impl()->sockfd();
        }
        _socket.connect(addr, Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(_options.endpoint.connectTimeoutMs) * 1000));
        _open = true;
        applySocketOptions();
    } catch (const RedisLinkError&) {
        close();
        throw;
    } catch (const Poco::TimeoutException&) {
        close();
        throw RedisLinkError("connect to " + where + " timed out after " +
                             std::to_string(_options.endpoint.connectTimeoutMs) + " ms");
    } catch (const Poco::Exception& e) {
        close();
        throw RedisLinkError("connect to " + where + " failed: " + e.displayText());
    } catch (const std::exception& e) {
        close();
        throw RedisLinkError("connect to " + where + " failed: " + e.what());
    }
    if (!_buf) {
        _cap = kInitialBuffer;
        _buf = std::make_unique<char[]>(_cap);
    }
    try {
        handshake();
    } catch (...) {
        close();
        throw;
    }
}

void RedisLink::applySocketOptions()
{
    _socket.setNoDelay(true);
    const int fd = _socket.impl()->sockfd();
    if (_options.keepAlive) {
        _socket.setKeepAlive(true);
        setIntOption(fd, IPPROTO_TCP, TCP_KEEPIDLE, std::max(1, _options.keepAliveIdleS));
        setIntOption(fd, IPPROTO_TCP, TCP_KEEPINTVL, std::max(1, _options.keepAliveIntervalS));
        setIntOption(fd, IPPROTO_TCP, TCP_KEEPCNT, std::max(1, _options.keepAliveCount));
        // Unacknowledged writes give up on the same horizon as the keepalive probes.
        const int userTimeoutMs =
            1000 * (std::max(1, _options.keepAliveIdleS) + std::max(1, _options.keepAliveIntervalS) * std::max(1, _options.keepAliveCount));
        setIntOption(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, userTimeoutMs);
    }
    _socket.setSendTimeout(Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(std::max(1, _options.ioTimeoutMs)) * 1000));
    _rcvTimeoutMs = -1;
}

void RedisLink::handshake()
{
    const auto& ep = _options.endpoint;
    std::string_view steps[4];
    std::size_t count = 0;
    if (!ep.password.empty()) {
        if (!ep.username.empty()) {
            begin(3).arg(std::string_view("AUTH")).arg(std::string_view(ep.username)).arg(std::string_view(ep.password));
        } else {
            begin(2).arg(std::string_view("AUTH")).arg(std::string_view(ep.password));
        }
        steps[count++] = "AUTH";
    }
    if (ep.db != 0) {
        begin(2).arg(std::string_view("SELECT")).arg(static_cast<std::int64_t>(ep.db));
        steps[count++] = "SELECT";
    }
    if (!_options.clientName.empty()) {
        begin(3).arg(std::string_view("CLIENT")).arg(std::string_view("SETNAME")).arg(std::string_view(_options.clientName));
        steps[count++] = "CLIENT SETNAME";
    }
    // PING proves the server answers: the kernel completes a TCP handshake even for a stopped process.
    begin(1).arg(std::string_view("PING"));
    steps[count++] = "PING";
    send();
    for (std::size_t i = 0; i < count; ++i) {
        RespReader r = readReply();
        const RespValue v = r.next();
        if (v.isError()) {
            throw RedisLinkError(std::string(steps[i]) + " refused by " + address() + ": " + std::string(v.str));
        }
    }
}

void RedisLink::close()
{
    {
        std::lock_guard lock(_fdMutex);
        _fd = -1;
    }
    try {
        _socket.close();
    } catch (...) {
    }
    _socket = Poco::Net::StreamSocket();
    _open = false;
    _out.clear();
    _queued = 0;
    _pending = 0;
    _start = 0;
    _end = 0;
    _scanner.reset();
    _rcvTimeoutMs = -1;
}

void RedisLink::interrupt()
{
    std::lock_guard lock(_fdMutex);
    _interrupted = true;
    if (_fd >= 0) {
        ::shutdown(_fd, SHUT_RDWR);
    }
}

void RedisLink::clearInterrupt()
{
    std::lock_guard lock(_fdMutex);
    _interrupted = false;
}

RedisLink& RedisLink::begin(std::size_t argc)
{
    char buf[24];
    _out.push_back('*');
    _out.append(buf, std::to_chars(buf, buf + sizeof buf, argc).ptr);
    _out.append("\r\n", 2);
    ++_queued;
    return *this;
}

RedisLink& RedisLink::arg(std::string_view value)
{
    char buf[24];
    _out.push_back('$');
    _out.append(buf, std::to_chars(buf, buf + sizeof buf, value.size()).ptr);
    _out.append("\r\n", 2);
    _out.append(value);
    _out.append("\r\n", 2);
    return *this;
}

RedisLink& RedisLink::arg(std::int64_t value)
{
    char buf[24];
    return arg(std::string_view(buf, static_cast<std::size_t>(std::to_chars(buf, buf + sizeof buf, value).ptr - buf)));
}

RedisLink& RedisLink::arg(StreamId id)
{
    char buf[48];
    return arg(id.format(buf));
}

void RedisLink::send()
{
    if (!_open) {
        throw RedisLinkError("not connected to " + address());
    }
    try {
        std::size_t off = 0;
        while (off < _out.size()) {
            const int n = _socket.sendBytes(_out.data() + off, static_cast<int>(std::min<std::size_t>(_out.size() - off, 1u << 30)),
                                            MSG_NOSIGNAL);
            if (n <= 0) {
                throw RedisLinkError("send to " + address() + " failed: connection closed");
            }
            off += static_cast<std::size_t>(n);
        }
    } catch (const Poco::TimeoutException&) {
        throw RedisLinkError("send to " + address() + " timed out after " + std::to_string(_options.ioTimeoutMs) + " ms");
    } catch (const Poco::Exception& e) {
        throw RedisLinkError("send to " + address() + " failed: " + e.displayText());
    }
    _pending += _queued;
    _queued = 0;
    _out.clear();
}

void RedisLink::setReceiveTimeout(int ms)
{
    ms = std::max(1, ms);
    if (ms != _rcvTimeoutMs) {
        _socket.setReceiveTimeout(Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(ms) * 1000));
        _rcvTimeoutMs = ms;
    }
}

RespReader RedisLink::readReply(int timeoutMs)
{
    if (!_open) {
        throw RedisLinkError("not connected to " + address());
    }
    const int timeout = timeoutMs < 0 ? _options.ioTimeoutMs : timeoutMs;
    try {
        setReceiveTimeout(timeout);
        for (;;) {
            std::size_t size = 0;
            try {
                size = _scanner.scan(std::string_view(_buf.get() + _start, _end - _start));
            } catch (const RespError& e) {
                throw RedisLinkError(std::string("protocol error from ") + address() + ": " + e.what());
            }
            if (size > 0) {
                const std::string_view reply(_buf.get() + _start, size);
                _start += size;
                if (_start == _end) {
                    _start = 0;
                    _end = 0;
                }
                _scanner.reset();
                if (_pending > 0) {
                    --_pending;
                }
                return RespReader(reply);
            }
            if (_cap - _end < kRecvChunk) {
                if (_start > 0) {  // the scanner's offsets are relative to the reply start
                    std::memmove(_buf.get(), _buf.get() + _start, _end - _start);
                    _end -= _start;
                    _start = 0;
                }
                const std::size_t wanted = std::max(_end + kRecvChunk, _scanner.minimumSize());
                if (_cap < wanted) {
                    const std::size_t limit = _options.maxReplyBytes + kRecvChunk;
                    std::size_t newCap = std::min(std::max(_cap * 2, wanted), limit);
                    if (newCap <= _end) {
                        throw RedisLinkError("reply from " + address() + " exceeds " +
                                             std::to_string(_options.maxReplyBytes) + " bytes");
                    }
                    auto bigger = std::make_unique<char[]>(newCap);
                    std::memcpy(bigger.get(), _buf.get(), _end);
                    _buf = std::move(bigger);
                    _cap = newCap;
                }
            }
            const int n = _socket.receiveBytes(_buf.get() + _end, static_cast<int>(std::min<std::size_t>(_cap - _end, 1u << 30)));
            if (n <= 0) {
                throw RedisLinkError("connection closed by " + address());
            }
            _end += static_cast<std::size_t>(n);
        }
    } catch (const Poco::TimeoutException&) {
        throw RedisLinkError("no reply from " + address() + " within " + std::to_string(timeout) + " ms");
    } catch (const Poco::Exception& e) {
        throw RedisLinkError("receive from " + address() + " failed: " + e.displayText());
    }
}

RespReader RedisLink::command(std::initializer_list<std::string_view> args, int timeoutMs)
{
    begin(args.size());
    for (auto a : args) {
        arg(a);
    }
    send();
    return readReply(timeoutMs);
}

}  // namespace nautilus::relay

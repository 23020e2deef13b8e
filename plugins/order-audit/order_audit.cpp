// order-audit: a trade blotter. Appends every order and position event to a JSON-lines file, one
// line per event:
//
//   {"stream":"trader-TRADER-001:stream","id":"1732700000000-0","topic":"events.order.S-1",
//    "type":"OrderFilled","received_ns":1732700000000000000,
//    "received_at":"2024-11-27T09:33:20.000000000Z","payload":{...the event as JSON...}}
//
// It survives relay restarts without duplicates: at start-up it reads the tail of the file and
// of its rotated copies to learn the last entry id written per stream, and skips every entry
// whose id is not greater (the relay may re-read a stream from its start). Keys (plugins.order-audit.*):
// file (required), topics, fsync (none|batch|always), fsync_interval_ms, max_file_bytes, max_files.
#include <nautilus_relay/plugin.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace nr = nautilus_relay;

namespace {

constexpr std::string_view kDefaultTopics = "events.order.*,events.position.*";
constexpr std::uint64_t kDefaultMaxFileBytes = 100ull * 1024 * 1024;
constexpr std::uint64_t kTailBytes = 1024 * 1024;  // how much of each file start-up reads back

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

std::uint64_t parseUnsigned(std::string_view key, std::string_view text)
{
    const std::string t = trim(text);
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
    if (t.empty() || ec != std::errc() || end != t.data() + t.size()) {
        throw nr::Error(NR_ERR_INVALID_ARGUMENT, std::string(key) + " must be a whole number, not '" + t + "'");
    }
    return value;
}

void appendJsonString(std::string& out, std::string_view s)
{
    out += '"';
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (u < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(u));
                out += buf;
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

/// Reads a JSON string starting at s[pos] == '"'; returns false when malformed.
bool readJsonString(std::string_view s, std::size_t& pos, std::string& out)
{
    if (pos >= s.size() || s[pos] != '"') {
        return false;
    }
    out.clear();
    for (++pos; pos < s.size(); ++pos) {
        const char c = s[pos];
        if (c == '"') {
            ++pos;
            return true;
        }
        if (c == '\\') {
            if (++pos >= s.size()) {
                return false;
            }
            switch (s[pos]) {
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u':  // only written for control bytes by this plugin
                if (pos + 4 >= s.size()) {
                    return false;
                }
                out += static_cast<char>(std::strtol(std::string(s.substr(pos + 1, 4)).c_str(), nullptr, 16));
                pos += 4;
                break;
            default: out += s[pos];
            }
        } else {
            out += c;
        }
    }
    return false;
}

/// A Redis stream id "<ms>-<seq>" as a comparable pair; nullopt-like {false} when not one.
struct StreamId {
    bool valid = false;
    std::uint64_t ms = 0;
    std::uint64_t seq = 0;

    static StreamId parse(std::string_view id)
    {
        StreamId r;
        const auto dash = id.find('-');
        const std::string_view a = id.substr(0, dash);
        const std::string_view b = dash == std::string_view::npos ? std::string_view("0") : id.substr(dash + 1);
        const auto ra = std::from_chars(a.data(), a.data() + a.size(), r.ms);
        const auto rb = std::from_chars(b.data(), b.data() + b.size(), r.seq);
        r.valid = !a.empty() && !b.empty() && ra.ec == std::errc() && ra.ptr == a.data() + a.size() &&
                  rb.ec == std::errc() && rb.ptr == b.data() + b.size();
        return r;
    }
    bool operator<=(const StreamId& o) const { return ms < o.ms || (ms == o.ms && seq <= o.seq); }
};

std::string isoTime(std::int64_t ns)
{
    const std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
    long frac = static_cast<long>(ns % 1000000000);
    std::time_t s = secs;
    if (frac < 0) {
        frac += 1000000000;
        --s;
    }
    std::tm tm{};
    gmtime_r(&s, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return buf;
}

std::string errnoText(const std::string& what, const std::string& path, int err)
{
    return what + " '" + path + "': " + std::strerror(err);
}

class OrderAudit final : public nr::Plugin {
public:
    explicit OrderAudit(nr::Host host) : Plugin(host)
    {
        const auto file = host.config("file");
        if (!file || trim(*file).empty()) {
            throw nr::Error(NR_ERR_INVALID_ARGUMENT,
                            "plugins.order-audit.file is required: the path of the JSON-lines audit file");
        }
        _path = trim(*file);

        const std::string fsync = trim(host.configOr("fsync", "batch"));
        if (fsync == "none") {
            _fsync = Fsync::None;
        } else if (fsync == "batch") {
            _fsync = Fsync::Batch;
        } else if (fsync == "always") {
            _fsync = Fsync::Always;
        } else {
            throw nr::Error(NR_ERR_INVALID_ARGUMENT, "fsync must be none, batch or always, not '" + fsync + "'");
        }
        _fsyncIntervalNs = static_cast<std::int64_t>(
                               parseUnsigned("fsync_interval_ms", host.configOr("fsync_interval_ms", "1000"))) *
                           1000000;
        const auto maxBytes = host.config("max_file_bytes");
        _maxFileBytes = maxBytes ? parseUnsigned("max_file_bytes", *maxBytes) : kDefaultMaxFileBytes;
        _maxFiles = parseUnsigned("max_files", host.configOr("max_files", "5"));

        learnLastIds();
        openFile();

        std::string_view rest = host.configOr("topics", kDefaultTopics);
        std::size_t subscribed = 0;
        while (true) {
            const auto comma = rest.find(',');
            const std::string pattern = trim(rest.substr(0, comma));
            if (!pattern.empty()) {
                subscribe(pattern, "", [this](const nr::Message& m) { return onEvent(m); });
                ++subscribed;
            }
            if (comma == std::string_view::npos) {
                break;
            }
            rest.remove_prefix(comma + 1);
        }
        if (subscribed == 0) {
            throw nr::Error(NR_ERR_INVALID_ARGUMENT, "topics must name at least one topic pattern");
        }
        this->host().gaugeSet("known_streams", static_cast<double>(_lastIds.size()));
        this->host().info("appending to " + _path + " (" + std::to_string(_lastIds.size()) +
                          " streams already recorded)");
        if (_fsync == Fsync::Batch && _fsyncIntervalNs > 0) {
            // Lines written just before a quiet spell are synced within the interval too, not at
            // the next event. The thread only touches the file, never the host table.
            _flusher = std::thread([this] { flushLoop(); });
        }
    }

    ~OrderAudit() override
    {
        {
            std::lock_guard<std::mutex> lock(_mutex);
            _stop = true;
        }
        _wake.notify_all();
        if (_flusher.joinable()) {
            _flusher.join();
        }
        if (_fd >= 0) {
            if (_fsync != Fsync::None && _dirty) {
                ::fsync(_fd);
            }
            ::close(_fd);
        }
    }

private:
    enum class Fsync { None, Batch, Always };

    nr_status onEvent(const nr::Message& m)
    {
        const std::string_view stream = m.stream();
        const std::string_view id = m.id();
        const StreamId sid = StreamId::parse(id);
        auto last = _lastIds.find(std::string(stream));
        if (sid.valid && last != _lastIds.end() && sid <= last->second) {
            host().counterAdd("skipped_duplicates");
            return NR_OK;
        }

        _line.clear();
        _line += "{\"stream\":";
        appendJsonString(_line, stream);
        _line += ",\"id\":";
        appendJsonString(_line, id);
        _line += ",\"topic\":";
        appendJsonString(_line, m.topic());
        _line += ",\"type\":";
        appendJsonString(_line, m.type());
        _line += ",\"received_ns\":";
        _line += std::to_string(m.receivedNs());
        _line += ",\"received_at\":\"";
        _line += isoTime(m.receivedNs());
        _line += "\",\"payload\":";
        std::string_view payload = m.payload();
        while (!payload.empty() && (payload.back() == '\n' || payload.back() == '\r' || payload.back() == ' ')) {
            payload.remove_suffix(1);
        }
        if (payload.empty()) {
            _line += "null";  // capnp/sbe entries have no JSON form
        } else {
            // The host hands one JSON value; a newline inside it would split the line, and JSON
            // allows whitespace there only, so it is replaced by a space.
            for (const char c : payload) {
                _line += (c == '\n' || c == '\r') ? ' ' : c;
            }
        }
        _line += "}\n";

        if (const nr_status st = locked([&] { return write(_line); }); st != NR_OK) {
            return st;
        }
        if (sid.valid) {
            if (last == _lastIds.end()) {
                _lastIds.emplace(std::string(stream), sid);
                host().gaugeSet("known_streams", static_cast<double>(_lastIds.size()));
            } else {
                last->second = sid;
            }
        }
        host().counterAdd("written");
        return NR_OK;
    }

    template <class F>
    nr_status locked(F&& f)
    {
        std::lock_guard<std::mutex> lock(_mutex);
        return f();
    }

    static std::int64_t nowNs()
    {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
    }

    /// Batch mode: syncs a dirty file once the interval has passed, even when no event comes.
    /// A failed fsync leaves the file dirty; the next event's sync reports it to the host.
    void flushLoop()
    {
        std::unique_lock<std::mutex> lock(_mutex);
        while (!_stop) {
            _wake.wait_for(lock, std::chrono::nanoseconds(_fsyncIntervalNs), [this] { return _stop; });
            if (_stop) {
                break;
            }
            const std::int64_t now = nowNs();
            if (_dirty && _fd >= 0 && now - _lastSyncNs >= _fsyncIntervalNs && ::fsync(_fd) == 0) {
                host().counterAdd("fsyncs");
                _dirty = false;
                _lastSyncNs = now;
            }
        }
    }

    /// Called with _mutex held.
    nr_status write(const std::string& line)
    {
        if (_fd < 0) {
            // A previous rotation failed to reopen: try again.
            try {
                openFile();
            } catch (const nr::Error& e) {
                return fail(e.what());
            }
        }
        if (_maxFileBytes > 0 && _size > 0 && _size + line.size() > _maxFileBytes) {
            if (const nr_status st = rotate(); st != NR_OK) {
                return st;
            }
        }
        std::size_t done = 0;
        while (done < line.size()) {
            const ssize_t n = ::write(_fd, line.data() + done, line.size() - done);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                return fail(errnoText("cannot write to", _path, errno));
            }
            done += static_cast<std::size_t>(n);
        }
        _size += line.size();
        _dirty = true;
        if (_fsync == Fsync::Always) {
            return sync();
        }
        if (_fsync == Fsync::Batch) {
            const std::int64_t now = nowNs();
            if (now - _lastSyncNs >= _fsyncIntervalNs) {
                _lastSyncNs = now;
                return sync();
            }
        }
        return NR_OK;
    }

    nr_status sync()
    {
        if (::fsync(_fd) != 0) {
            return fail(errnoText("cannot fsync", _path, errno));
        }
        host().counterAdd("fsyncs");
        _dirty = false;
        return NR_OK;
    }

    nr_status fail(const std::string& text)
    {
        host().counterAdd("write_errors");
        host().setError(text);
        return NR_ERR_UNAVAILABLE;
    }

    std::string rotated(std::uint64_t n) const { return _path + "." + std::to_string(n); }

    nr_status rotate()
    {
        if (_fsync != Fsync::None && _dirty) {
            ::fsync(_fd);
        }
        ::close(_fd);
        _fd = -1;
        if (_maxFiles == 0) {
            if (::unlink(_path.c_str()) != 0 && errno != ENOENT) {
                return fail(errnoText("cannot remove", _path, errno));
            }
        } else {
            ::unlink(rotated(_maxFiles).c_str());
            for (std::uint64_t k = _maxFiles - 1; k >= 1; --k) {
                ::rename(rotated(k).c_str(), rotated(k + 1).c_str());  // gaps (ENOENT) are fine
            }
            if (::rename(_path.c_str(), rotated(1).c_str()) != 0) {
                return fail(errnoText("cannot rotate", _path, errno));
            }
        }
        host().counterAdd("rotations");
        try {
            openFile();
        } catch (const nr::Error& e) {
            return fail(e.what());
        }
        return NR_OK;
    }

    void openFile()
    {
        // Read access only serves to see whether the last line is complete (below).
        int fd = ::open(_path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0 && errno == EACCES) {
            fd = ::open(_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        }
        if (fd < 0) {
            throw nr::Error(NR_ERR_UNAVAILABLE, errnoText("cannot open audit file", _path, errno));
        }
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            const int err = errno;
            ::close(fd);
            throw nr::Error(NR_ERR_UNAVAILABLE, errnoText("cannot stat audit file", _path, err));
        }
        _fd = fd;
        _size = static_cast<std::uint64_t>(st.st_size);
        _dirty = false;
        if (_size > 0) {
            // A crash may have left half a line: end it, so the next line starts clean.
            char last = '\n';
            if (::pread(fd, &last, 1, static_cast<off_t>(_size - 1)) == 1 && last != '\n') {
                if (::write(fd, "\n", 1) == 1) {
                    ++_size;
                }
            }
        }
    }

    /// Reads the tail of the file and of its rotated copies; remembers the greatest id per stream.
    void learnLastIds()
    {
        const std::uint64_t keep = std::max<std::uint64_t>(_maxFiles, 1);
        for (std::uint64_t k = 0; k <= keep; ++k) {
            learnFrom(k == 0 ? _path : rotated(k));
        }
    }

    void learnFrom(const std::string& path)
    {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            return;
        }
        struct stat st {};
        if (::fstat(fd, &st) != 0 || st.st_size <= 0) {
            ::close(fd);
            return;
        }
        const auto size = static_cast<std::uint64_t>(st.st_size);
        const std::uint64_t from = size > kTailBytes ? size - kTailBytes : 0;
        std::string buf(static_cast<std::size_t>(size - from), '\0');
        std::size_t got = 0;
        while (got < buf.size()) {
            const ssize_t n = ::pread(fd, buf.data() + got, buf.size() - got, static_cast<off_t>(from + got));
            if (n <= 0) {
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                break;
            }
            got += static_cast<std::size_t>(n);
        }
        ::close(fd);
        buf.resize(got);

        std::string_view text(buf);
        if (from > 0) {  // the first line is probably cut
            const auto nl = text.find('\n');
            text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        }
        std::string stream, id;
        while (!text.empty()) {
            const auto nl = text.find('\n');
            if (nl == std::string_view::npos) {
                break;  // a line cut by a crash: its event was not recorded, let it be written again
            }
            const std::string_view line = text.substr(0, nl);
            text.remove_prefix(nl + 1);
            // Lines are written by this plugin: {"stream":"...","id":"...",...
            constexpr std::string_view head = "{\"stream\":";
            constexpr std::string_view mid = ",\"id\":";
            if (line.substr(0, head.size()) != head) {
                continue;
            }
            std::size_t pos = head.size();
            if (!readJsonString(line, pos, stream) || line.substr(pos, mid.size()) != mid) {
                continue;
            }
            pos += mid.size();
            if (!readJsonString(line, pos, id)) {
                continue;
            }
            const StreamId sid = StreamId::parse(id);
            if (!sid.valid) {
                continue;
            }
            auto it = _lastIds.find(stream);
            if (it == _lastIds.end()) {
                _lastIds.emplace(stream, sid);
            } else if (it->second <= sid) {
                it->second = sid;
            }
        }
    }

    std::string _path;
    Fsync _fsync = Fsync::Batch;
    std::int64_t _fsyncIntervalNs = 1000000000;
    std::uint64_t _maxFileBytes = kDefaultMaxFileBytes;
    std::uint64_t _maxFiles = 5;
    int _fd = -1;
    std::uint64_t _size = 0;
    bool _dirty = false;
    std::int64_t _lastSyncNs = 0;
    std::map<std::string, StreamId> _lastIds;
    std::string _line;
    std::mutex _mutex;  // the file (fd, size, dirty, last sync) between the handler and _flusher
    std::condition_variable _wake;
    bool _stop = false;
    std::thread _flusher;
};

}  // namespace

NR_PLUGIN(OrderAudit, "order-audit", "1.0.0")

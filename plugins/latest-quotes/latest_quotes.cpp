// latest-quotes: keeps the latest QuoteTick and TradeTick per instrument and publishes a conflated
// snapshot at a fixed rate (dashboards want 10 Hz, not 100k messages a second):
//
//   topic plugin.latest-quotes.snapshot, type LatestQuotesSnapshot,
//   {"quotes":{"BTCUSDT.BINANCE":{...latest QuoteTick...}},"trades":{...},"updates":N}
//
// N is the number of ticks folded into this snapshot since the previous one. The snapshot is
// published by the plugin's own timer thread (plugin.h: publish may be called from any thread the
// plugin owns and never blocks), only when something changed since the last one. Keys
// (plugins.latest-quotes.*): rate_hz (default 10), quotes_topic (data.quotes.*), trades_topic
// (data.trades.*).
#include <nautilus_relay/plugin.hpp>

#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace nr = nautilus_relay;

namespace {

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

void appendJsonString(std::string& out, std::string_view s)
{
    out += '"';
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(u));
            out += buf;
        } else {
            out += c;
        }
    }
    out += '"';
}

/// The value of the top-level-looking "instrument_id" string in a JSON payload, or "".
std::string instrumentOf(std::string_view payload)
{
    constexpr std::string_view key = "\"instrument_id\"";
    const auto at = payload.find(key);
    if (at == std::string_view::npos) {
        return {};
    }
    std::size_t pos = at + key.size();
    while (pos < payload.size() && (payload[pos] == ' ' || payload[pos] == ':' || payload[pos] == '\t')) {
        ++pos;
    }
    if (pos >= payload.size() || payload[pos] != '"') {
        return {};
    }
    std::string out;
    for (++pos; pos < payload.size() && payload[pos] != '"'; ++pos) {
        if (payload[pos] == '\\' && pos + 1 < payload.size()) {
            ++pos;
        }
        out += payload[pos];
    }
    return out;
}

class LatestQuotes final : public nr::Plugin {
public:
    explicit LatestQuotes(nr::Host host) : Plugin(host)
    {
        const std::string rate = trim(host.configOr("rate_hz", "10"));
        double hz = 0;
        const auto [end, ec] = std::from_chars(rate.data(), rate.data() + rate.size(), hz);
        // from_chars for double may be missing in older libstdc++; fall back to strtod.
        if (ec != std::errc() || end != rate.data() + rate.size()) {
            char* e = nullptr;
            hz = std::strtod(rate.c_str(), &e);
            if (rate.empty() || e != rate.c_str() + rate.size()) {
                hz = -1;
            }
        }
        if (!(hz > 0 && hz <= 1000)) {
            throw nr::Error(NR_ERR_INVALID_ARGUMENT, "rate_hz must be a number in (0, 1000], not '" + rate + "'");
        }
        _period = std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 / hz));

        const std::string quotes = trim(host.configOr("quotes_topic", "data.quotes.*"));
        const std::string trades = trim(host.configOr("trades_topic", "data.trades.*"));
        subscribe(quotes, "QuoteTick", [this](const nr::Message& m) { onTick(m, _quotes, "data.quotes."); });
        subscribe(trades, "TradeTick", [this](const nr::Message& m) { onTick(m, _trades, "data.trades."); });

        _timer = std::thread([this] { run(); });
    }

    ~LatestQuotes() override
    {
        {
            std::lock_guard<std::mutex> lock(_mutex);
            _stop = true;
        }
        _wake.notify_all();
        if (_timer.joinable()) {
            _timer.join();
        }
    }

private:
    using Latest = std::map<std::string, std::string>;  // instrument id -> latest payload

    void onTick(const nr::Message& m, Latest& into, std::string_view topicPrefix)
    {
        const std::string_view payload = m.payload();
        if (payload.empty()) {
            host().counterAdd("ignored");  // capnp/sbe: no JSON to keep
            return;
        }
        std::string instrument = instrumentOf(payload);
        if (instrument.empty()) {
            std::string_view topic = m.topic();
            if (topic.substr(0, topicPrefix.size()) == topicPrefix) {
                topic.remove_prefix(topicPrefix.size());
            }
            instrument = std::string(topic);
        }
        {
            std::lock_guard<std::mutex> lock(_mutex);
            into[instrument].assign(payload.data(), payload.size());
            ++_updates;
        }
        host().counterAdd("updates");
        if (const std::uint64_t failed = _publishFailures.exchange(0); failed > 0) {
            host().counterAdd("publish_failures", failed);
        }
        if (const std::uint64_t sent = _published.exchange(0); sent > 0) {
            host().counterAdd("snapshots", sent);
        }
    }

    void run()
    {
        auto next = std::chrono::steady_clock::now() + _period;
        std::string snapshot;
        std::unique_lock<std::mutex> lock(_mutex);
        while (!_stop) {
            _wake.wait_until(lock, next, [this] { return _stop; });
            if (_stop) {
                break;
            }
            next += _period;
            const auto now = std::chrono::steady_clock::now();
            if (next < now) {
                next = now + _period;  // fell behind: do not burst to catch up
            }
            if (_updates == 0) {
                continue;  // nothing changed since the last snapshot
            }
            build(snapshot);
            const std::uint64_t folded = _updates;
            _updates = 0;
            lock.unlock();
            const nr_status st = host().publish("plugin.latest-quotes.snapshot", "LatestQuotesSnapshot", snapshot);
            lock.lock();
            if (st == NR_OK) {
                _published.fetch_add(1);
            } else {
                _publishFailures.fetch_add(1);
                _updates += folded;  // dropped: the next period publishes a fresh snapshot
            }
        }
    }

    /// Called with _mutex held.
    void build(std::string& out) const
    {
        out.clear();
        out += "{\"quotes\":";
        appendMap(out, _quotes);
        out += ",\"trades\":";
        appendMap(out, _trades);
        out += ",\"updates\":";
        out += std::to_string(_updates);
        out += '}';
    }

    static void appendMap(std::string& out, const Latest& m)
    {
        out += '{';
        bool first = true;
        for (const auto& [instrument, payload] : m) {
            if (!first) {
                out += ',';
            }
            first = false;
            appendJsonString(out, instrument);
            out += ':';
            out += payload;
        }
        out += '}';
    }

    std::chrono::nanoseconds _period{100000000};
    std::mutex _mutex;
    std::condition_variable _wake;
    bool _stop = false;
    Latest _quotes;
    Latest _trades;
    std::uint64_t _updates = 0;
    std::atomic<std::uint64_t> _published{0};
    std::atomic<std::uint64_t> _publishFailures{0};
    std::thread _timer;
};

}  // namespace

NR_PLUGIN(LatestQuotes, "latest-quotes", "1.0.0")

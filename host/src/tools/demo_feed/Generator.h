#pragma once
// The simulated market and strategy behind the demo feed. It produces stream entries in the
// order a NautilusTrader node would publish them, already encoded for the chosen wire format.
//
// One *cycle* = one QuoteTick per instrument and a TradeTick for about 60% of them (random-walk
// prices on each instrument's tick grid, correct precision strings). Every `barEvery` cycles (a
// "simulated minute") a 1-MINUTE Bar per instrument, aggregated from that window's prices and
// trades. Every `orderEvery` cycles an order lifecycle on strategy EMACross-000 / account
// BINANCE-001, round-robin over the instruments: OrderInitialized, OrderSubmitted,
// OrderAccepted, OrderFilled on events.order.EMACross-000 plus the fan-out duplicates
// (events.order_submitted.<id>, events.order_filled.<id>; legacy: events.fills.<id>), then
// PositionOpened / PositionChanged / PositionClosed (open, add, close, repeat) on
// events.position.EMACross-000 and an AccountState on events.account.BINANCE-001.
// Timestamps are the wall clock at generation (ts_init) and slightly before it (ts_event).
//
// Single-threaded.
#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <msgpack.hpp>

#include "tools/demo_feed/FeedOptions.h"

namespace nautilus::relay::demo {

struct Entry {
    const std::string* key = nullptr;    ///< stream key (interned)
    const std::string* topic = nullptr;  ///< topic (interned)
    std::string_view type;               ///< G3 `type` header
    std::string_view encoding;           ///< `encoding` header
    bool headers = true;                 ///< write type/encoding (G2/G3) or not (G1)
    bool heartbeat = false;
    std::string payload;
};

class Generator {
public:
    explicit Generator(const FeedOptions& options);

    /// The next data entry (never a heartbeat).
    void next(Entry& out);
    /// A heartbeat entry: RFC 3339 text of wallNs, topic health:heartbeat.
    void heartbeat(Entry& out, std::int64_t wallNs);

    /// chrono's to_rfc3339 with AutoSi fraction: 0, 3, 6 or 9 digits, offset +00:00.
    static std::string rfc3339(std::int64_t wallNs);

private:
    struct Instrument {
        std::string id;      ///< SYMBOL.VENUE
        std::string symbol;
        std::string venue;
        std::string currency;  ///< quote / settlement currency
        int pricePrecision = 2;
        int sizePrecision = 0;
        std::int64_t tick = 1;        ///< price increment, in units of 10^-pricePrecision
        std::int64_t spreadTicks = 1;
        std::int64_t price = 0;       ///< bid, in price units
        std::int64_t minSize = 1;     ///< in size units (10^-sizePrecision)
        std::int64_t maxSize = 1;
        std::int64_t orderQty = 1;
        std::uint64_t nextTradeId = 1;
        // bar window
        bool barOpen = false;
        std::int64_t open = 0, high = 0, low = 0, close = 0, volume = 0;
        // position (LONG only: open, add, close)
        int phase = 0;               ///< 0 flat, 1 opened, 2 added
        std::int64_t posQty = 0;     ///< size units
        std::int64_t peakQty = 0;
        double avgPx = 0;
        double realized = 0;         ///< commissions and closed PnL, quote currency
        std::uint64_t tsOpened = 0;
        std::string openingOrderId;
    };
    struct Topic {
        const std::string* topic;
        const std::string* key;
    };
    enum class Kind { Market, Builtin };

    const Topic& topic(const std::string& name);
    void cycle();
    void emitQuote(Instrument& in);
    void emitTrade(Instrument& in);
    void emitBar(Instrument& in);
    void emitOrderLifecycle(Instrument& in);
    void emitAccountState(std::uint64_t tsEvent);
    template <class Fn>
    void push(const std::string& topicName, std::string_view type, Kind kind, Fn&& write);

    std::string uuid4();
    std::string price(const Instrument& in, std::int64_t units) const;
    std::string size(const Instrument& in, std::int64_t units) const;
    std::string money(double amount, const std::string& currency, bool withCurrency = true) const;
    std::uint64_t nowNs() const;

    FeedOptions _o;
    bool _legacy;
    std::string _base;
    std::mt19937_64 _rng;
    std::vector<Instrument> _instruments;
    std::unordered_map<std::string, std::string> _keys;  ///< topic -> stream key (nodes are stable)
    std::unordered_map<std::string, Topic> _topics;
    std::deque<Entry> _pending;
    std::uint64_t _cycles = 0;
    std::size_t _nextOrderInstrument = 0;
    std::uint64_t _orderSeq = 0;
    std::uint64_t _venueOrderSeq = 28457123456ULL;
    std::uint64_t _fillSeq = 5000000001ULL;
    std::unordered_map<std::string, double> _balances;  ///< currency -> total
    std::string _json;
    msgpack::sbuffer _mp;
};

}  // namespace nautilus::relay::demo

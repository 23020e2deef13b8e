#include "tools/demo_feed/Generator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>

#include "tools/demo_feed/PayloadWriter.h"

namespace nautilus::relay::demo {

namespace {

constexpr const char* kStrategy = "EMACross-000";
constexpr const char* kAccount = "BINANCE-001";
constexpr const char* kHeartbeatTopic = "health:heartbeat";

std::int64_t pow10(int n)
{
    std::int64_t v = 1;
    while (n-- > 0) {
        v *= 10;
    }
    return v;
}

/// units * 10^-precision as fixed-point text, e.g. (6701210, 2) -> "67012.10".
std::string fixed(std::int64_t units, int precision)
{
    const bool negative = units < 0;
    const std::uint64_t abs = negative ? static_cast<std::uint64_t>(-(units + 1)) + 1 : static_cast<std::uint64_t>(units);
    std::string digits = std::to_string(abs);
    if (precision > 0) {
        if (digits.size() <= static_cast<std::size_t>(precision)) {
            digits.insert(0, static_cast<std::size_t>(precision) - digits.size() + 1, '0');
        }
        digits.insert(digits.size() - static_cast<std::size_t>(precision), 1, '.');
    }
    return negative ? "-" + digits : digits;
}

int currencyPrecision(const std::string& ccy)
{
    if (ccy == "USD" || ccy == "EUR" || ccy == "GBP" || ccy == "JPY") {
        return 2;
    }
    return 8;  // USDT, BTC, ETH and other crypto
}

std::string utcStamp(std::int64_t wallNs, const char* format)
{
    const std::time_t secs = static_cast<std::time_t>(wallNs / 1'000'000'000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    const auto n = std::strftime(buf, sizeof buf, format, &tm);
    return std::string(buf, n);
}

// ---- payload shapes (SPEC §8; Rust unless `legacy`) -------------------------------------

template <class W>
void ts(W& w, bool legacy, std::string_view key, std::uint64_t ns)
{
    w.key(key);
    if (legacy) {
        w.str(std::to_string(ns));  // legacy: top-level ts_* as decimal strings
    } else {
        w.u64(ns);
    }
}

template <class W>
void kv(W& w, std::string_view key, std::string_view value)
{
    w.key(key);
    w.str(value);
}

template <class W>
void kvNull(W& w, std::string_view key)
{
    w.key(key);
    w.null();
}

struct Common {
    std::string_view traderId;
    std::string_view instrumentId;
    std::string_view clientOrderId;
};

template <class W>
void common4(W& w, const Common& c)
{
    kv(w, "trader_id", c.traderId);
    kv(w, "strategy_id", kStrategy);
    kv(w, "instrument_id", c.instrumentId);
    kv(w, "client_order_id", c.clientOrderId);
}

/// Rust order events are externally tagged: {"Filled": {"type": "OrderFilled", ...}}.
template <class W, class Fn>
void orderEvent(W& w, bool legacy, std::string_view variant, std::size_t fields, Fn&& body)
{
    if (!legacy) {
        w.beginMap(1);
        w.key(variant);
    }
    w.beginMap(fields);
    body();
    w.endMap();
    if (!legacy) {
        w.endMap();
    }
}

}  // namespace

Generator::Generator(const FeedOptions& options)
    : _o(options),
      _legacy(options.encoding == Encoding::LegacyJson || options.encoding == Encoding::LegacyMsgPack),
      _base(streamBase(options)),
      _rng(options.seed)
{
    for (const auto& spec : _o.instruments) {
        Instrument in;
        in.id = spec.id;
        const auto dot = spec.id.rfind('.');
        in.symbol = spec.id.substr(0, dot);
        in.venue = spec.id.substr(dot + 1);
        const bool usdt = in.symbol.size() > 4 && in.symbol.compare(in.symbol.size() - 4, 4, "USDT") == 0;
        in.currency = usdt ? "USDT" : "USD";
        double start = 100.0;
        if (spec.id == "BTCUSDT.BINANCE") {
            start = 67000.0, in.pricePrecision = 2, in.sizePrecision = 5, in.tick = 1, in.spreadTicks = 10;
            in.minSize = 100, in.maxSize = 150000, in.orderQty = 1500;
            in.nextTradeId = 3658271934ULL;
        } else if (spec.id == "ETHUSDT.BINANCE") {
            start = 3500.0, in.pricePrecision = 2, in.sizePrecision = 4, in.tick = 1, in.spreadTicks = 1;
            in.minSize = 100, in.maxSize = 200000, in.orderQty = 2000;
            in.nextTradeId = 1894412007ULL;
        } else if (spec.id == "ESZ24.XCME") {
            start = 5512.25, in.pricePrecision = 2, in.sizePrecision = 0, in.tick = 25, in.spreadTicks = 1;
            in.minSize = 1, in.maxSize = 50, in.orderQty = 2;
            in.nextTradeId = 910034511ULL;
        } else {
            in.pricePrecision = 2, in.sizePrecision = 3, in.tick = 1, in.spreadTicks = 1;
            in.minSize = 100, in.maxSize = 50000, in.orderQty = 1000;
            in.nextTradeId = 100000001ULL;
        }
        if (spec.pricePrecision >= 0 && spec.pricePrecision != in.pricePrecision) {
            in.pricePrecision = spec.pricePrecision;
            in.tick = 1;
            in.spreadTicks = 1;
        }
        if (spec.sizePrecision >= 0 && spec.sizePrecision != in.sizePrecision) {
            in.sizePrecision = spec.sizePrecision;
            in.minSize = std::max<std::int64_t>(1, pow10(in.sizePrecision) / 100);
            in.maxSize = 50 * pow10(in.sizePrecision);
            in.orderQty = pow10(in.sizePrecision);
        }
        if (spec.startPrice > 0) {
            start = spec.startPrice;
        }
        in.price = std::llround(start * static_cast<double>(pow10(in.pricePrecision)));
        in.price = std::max(in.tick * 10, in.price / in.tick * in.tick);
        if (!_balances.count(in.currency)) {
            _balances[in.currency] = in.currency == "USD" ? 250000.0 : 100000.0;
        }
        _instruments.push_back(std::move(in));
    }
}

std::uint64_t Generator::nowNs() const
{
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

std::string Generator::rfc3339(std::int64_t wallNs)
{
    std::string out = utcStamp(wallNs, "%Y-%m-%dT%H:%M:%S");
    const auto frac = static_cast<std::uint32_t>(wallNs % 1'000'000'000);
    char buf[16];
    if (frac == 0) {
        buf[0] = '\0';
    } else if (frac % 1'000'000 == 0) {
        std::snprintf(buf, sizeof buf, ".%03u", frac / 1'000'000);
    } else if (frac % 1'000 == 0) {
        std::snprintf(buf, sizeof buf, ".%06u", frac / 1'000);
    } else {
        std::snprintf(buf, sizeof buf, ".%09u", frac);
    }
    out += buf;
    out += "+00:00";
    return out;
}

std::string Generator::uuid4()
{
    const std::uint64_t hi = (_rng() & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
    const std::uint64_t lo = (_rng() & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08llx-%04llx-%04llx-%04llx-%012llx", static_cast<unsigned long long>(hi >> 32),
                  static_cast<unsigned long long>((hi >> 16) & 0xFFFF), static_cast<unsigned long long>(hi & 0xFFFF),
                  static_cast<unsigned long long>(lo >> 48), static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
    return buf;
}

std::string Generator::price(const Instrument& in, std::int64_t units) const
{
    return fixed(units, in.pricePrecision);
}

std::string Generator::size(const Instrument& in, std::int64_t units) const
{
    return fixed(units, in.sizePrecision);
}

std::string Generator::money(double amount, const std::string& currency, bool withCurrency) const
{
    const int p = currencyPrecision(currency);
    std::int64_t units = std::llround(amount * static_cast<double>(pow10(p)));
    std::string out = fixed(units, p);
    if (withCurrency) {
        out += ' ';
        out += currency;
    }
    return out;
}

const Generator::Topic& Generator::topic(const std::string& name)
{
    auto it = _topics.find(name);
    if (it != _topics.end()) {
        return it->second;
    }
    const std::string key = _o.layout == Layout::PerTopic ? _base + ":" + name : _base;
    auto& stored = *_keys.emplace(name, key).first;
    return _topics.emplace(name, Topic{&stored.first, &stored.second}).first->second;
}

template <class Fn>
void Generator::push(const std::string& topicName, std::string_view type, Kind kind, Fn&& write)
{
    bool msgpack = false;
    switch (_o.encoding) {
    case Encoding::Json:
    case Encoding::LegacyJson: msgpack = false; break;
    case Encoding::MsgPack:
    case Encoding::LegacyMsgPack: msgpack = true; break;
    case Encoding::Mixed: msgpack = kind == Kind::Market; break;
    }
    Entry& e = _pending.emplace_back();
    const Topic& t = topic(topicName);
    e.key = t.key;
    e.topic = t.topic;
    if (_legacy) {
        e.headers = _o.legacyHeaders;
        e.type = "";
        e.encoding = "Json";  // the legacy path always says Json, even for MessagePack payloads
    } else {
        e.headers = true;
        e.type = type;
        e.encoding = msgpack ? "MsgPack" : "Json";
    }
    if (msgpack) {
        MsgpackWriter w(_mp);
        write(w);
        e.payload.assign(_mp.data(), _mp.size());
    } else {
        JsonWriter w(e.payload);
        write(w);
    }
}

void Generator::next(Entry& out)
{
    while (_pending.empty()) {
        cycle();
    }
    out = std::move(_pending.front());
    _pending.pop_front();
}

void Generator::heartbeat(Entry& out, std::int64_t wallNs)
{
    const Topic& t = topic(kHeartbeatTopic);
    out.key = t.key;
    out.topic = t.topic;
    out.type = "";
    out.encoding = "Json";
    out.headers = !_legacy || _o.legacyHeaders;
    out.heartbeat = true;
    out.payload = rfc3339(wallNs);
}

void Generator::cycle()
{
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    for (auto& in : _instruments) {
        emitQuote(in);
        if (coin(_rng) < 0.6) {
            emitTrade(in);
        }
    }
    ++_cycles;
    if (_o.barEvery > 0 && _cycles % static_cast<std::uint64_t>(_o.barEvery) == 0) {
        for (auto& in : _instruments) {
            emitBar(in);
        }
    }
    if (_o.orderEvery > 0 && _cycles % static_cast<std::uint64_t>(_o.orderEvery) == 0) {
        emitOrderLifecycle(_instruments[_nextOrderInstrument++ % _instruments.size()]);
    }
}

void Generator::emitQuote(Instrument& in)
{
    std::uniform_int_distribution<int> step(-3, 3);
    std::uniform_int_distribution<std::int64_t> sz(in.minSize, in.maxSize);
    std::uniform_int_distribution<std::uint64_t> latency(20'000, 900'000);
    in.price = std::max(in.tick * 10, in.price + step(_rng) * in.tick);
    const std::int64_t bid = in.price;
    const std::int64_t ask = in.price + in.spreadTicks * in.tick;
    if (!in.barOpen) {
        in.barOpen = true;
        in.open = in.high = in.low = bid;
        in.volume = 0;
    }
    in.high = std::max(in.high, bid);
    in.low = std::min(in.low, bid);
    in.close = bid;
    const std::uint64_t tsInit = nowNs();
    const std::uint64_t tsEvent = tsInit - latency(_rng);
    const std::string bidPx = price(in, bid), askPx = price(in, ask);
    const std::string bidSz = size(in, sz(_rng)), askSz = size(in, sz(_rng));
    push("data.quotes." + in.venue + "." + in.symbol, "QuoteTick", Kind::Market, [&](auto& w) {
        w.beginMap(8);
        kv(w, "type", "QuoteTick");
        kv(w, "instrument_id", in.id);
        kv(w, "bid_price", bidPx);
        kv(w, "ask_price", askPx);
        kv(w, "bid_size", bidSz);
        kv(w, "ask_size", askSz);
        ts(w, _legacy, "ts_event", tsEvent);
        ts(w, _legacy, "ts_init", tsInit);
        w.endMap();
    });
}

void Generator::emitTrade(Instrument& in)
{
    std::uniform_int_distribution<std::int64_t> sz(in.minSize, std::max(in.minSize, in.maxSize / 4));
    std::uniform_int_distribution<std::uint64_t> latency(20'000, 900'000);
    const bool buyer = (_rng() & 1) != 0;
    const std::int64_t px = buyer ? in.price + in.spreadTicks * in.tick : in.price;
    const std::int64_t qty = sz(_rng);
    in.high = std::max(in.high, px);
    in.low = std::min(in.low, px);
    in.close = px;
    in.volume += qty;
    const std::uint64_t tsInit = nowNs();
    const std::uint64_t tsEvent = tsInit - latency(_rng);
    const std::string pxText = price(in, px), qtyText = size(in, qty);
    const std::string tradeId = std::to_string(in.nextTradeId++);
    push("data.trades." + in.venue + "." + in.symbol, "TradeTick", Kind::Market, [&](auto& w) {
        w.beginMap(8);
        kv(w, "type", "TradeTick");
        kv(w, "instrument_id", in.id);
        kv(w, "price", pxText);
        kv(w, "size", qtyText);
        kv(w, "aggressor_side", buyer ? "BUYER" : "SELLER");
        kv(w, "trade_id", tradeId);
        ts(w, _legacy, "ts_event", tsEvent);
        ts(w, _legacy, "ts_init", tsInit);
        w.endMap();
    });
}

void Generator::emitBar(Instrument& in)
{
    if (!in.barOpen) {
        return;
    }
    in.barOpen = false;
    const std::string barType = in.id + "-1-MINUTE-LAST-EXTERNAL";
    const std::uint64_t tsInit = nowNs();
    const std::uint64_t tsEvent = tsInit - 40'000;  // the bar closes with the window's last update
    const std::string o = price(in, in.open), h = price(in, in.high), l = price(in, in.low), c = price(in, in.close);
    const std::string v = size(in, in.volume);
    push("data.bars." + barType, "Bar", Kind::Market, [&](auto& w) {
        w.beginMap(9);
        kv(w, "type", "Bar");
        kv(w, "bar_type", barType);
        kv(w, "open", o);
        kv(w, "high", h);
        kv(w, "low", l);
        kv(w, "close", c);
        kv(w, "volume", v);
        ts(w, _legacy, "ts_event", tsEvent);
        ts(w, _legacy, "ts_init", tsInit);
        w.endMap();
    });
}

void Generator::emitOrderLifecycle(Instrument& in)
{
    const bool legacy = _legacy;
    const bool closing = in.phase == 2;
    const std::string side = closing ? "SELL" : "BUY";
    const std::int64_t qty = closing ? in.posQty : in.orderQty;
    const std::int64_t px = closing ? in.price : in.price + in.spreadTicks * in.tick;
    const double scaleQty = static_cast<double>(pow10(in.sizePrecision));
    const double scalePx = static_cast<double>(pow10(in.pricePrecision));
    const double qtyD = static_cast<double>(qty) / scaleQty;
    const double pxD = static_cast<double>(px) / scalePx;
    const std::uint64_t t0 = nowNs();
    const std::string clientOrderId =
        "O-" + utcStamp(static_cast<std::int64_t>(t0), "%Y%m%d-%H%M%S") + "-001-000-" + std::to_string(++_orderSeq);
    const std::string venueOrderId = std::to_string(_venueOrderSeq++);
    const std::string tradeId = std::to_string(_fillSeq++);
    const std::string positionId = in.id + "-" + kStrategy;
    const std::string qtyText = size(in, qty), pxText = price(in, px);
    const Common c{_o.traderId, in.id, clientOrderId};
    const std::string orderTopic = std::string("events.order.") + kStrategy;

    // OrderInitialized
    {
        const std::string eventId = uuid4();
        push(orderTopic, "OrderEventAny", Kind::Builtin, [&](auto& w) {
            orderEvent(w, legacy, "Initialized", legacy ? 27 : 34, [&] {
                kv(w, "type", "OrderInitialized");
                common4(w, c);
                kv(w, "order_side", side);
                kv(w, "order_type", "LIMIT");
                kv(w, "quantity", qtyText);
                kv(w, "time_in_force", "GTC");
                w.key("post_only"), w.boolean(false);
                w.key("reduce_only"), w.boolean(closing);
                w.key("quote_quantity"), w.boolean(false);
                if (legacy) {
                    w.key("options");
                    w.beginMap(3);
                    kv(w, "price", pxText);
                    kvNull(w, "display_qty");
                    kvNull(w, "expire_time_ns");
                    w.endMap();
                    kv(w, "emulation_trigger", "NO_TRIGGER");
                    kvNull(w, "trigger_instrument_id");
                    kv(w, "contingency_type", "NO_CONTINGENCY");
                    for (const char* k : {"order_list_id", "linked_order_ids", "parent_order_id", "exec_algorithm_id",
                                          "exec_algorithm_params", "exec_spawn_id", "tags"}) {
                        kvNull(w, k);
                    }
                    kv(w, "event_id", eventId);
                    ts(w, true, "ts_init", t0);
                    ts(w, true, "ts_event", t0);
                    w.key("reconciliation"), w.boolean(false);
                } else {
                    w.key("reconciliation"), w.boolean(false);
                    kv(w, "event_id", eventId);
                    ts(w, false, "ts_event", t0);
                    ts(w, false, "ts_init", t0);
                    kv(w, "price", pxText);
                    for (const char* k : {"trigger_price", "trigger_type", "limit_offset", "trailing_offset",
                                          "trailing_offset_type", "expire_time", "display_qty", "emulation_trigger",
                                          "trigger_instrument_id", "contingency_type", "order_list_id",
                                          "linked_order_ids", "parent_order_id", "exec_algorithm_id",
                                          "exec_algorithm_params", "exec_spawn_id", "tags"}) {
                        kvNull(w, k);
                    }
                }
            });
        });
    }

    // OrderSubmitted (+ fan-out events.order_submitted.<instrument_id> in Rust)
    {
        const std::string eventId = uuid4();
        const std::uint64_t t = t0 + 1'250'000;
        auto write = [&](auto& w) {
            orderEvent(w, legacy, "Submitted", 9, [&] {
                kv(w, "type", "OrderSubmitted");
                common4(w, c);
                kv(w, "account_id", kAccount);
                kv(w, "event_id", eventId);
                ts(w, legacy, "ts_event", t);
                ts(w, legacy, "ts_init", t);
            });
        };
        push(orderTopic, "OrderEventAny", Kind::Builtin, write);
        if (!legacy) {
            push("events.order_submitted." + in.id, "OrderEventAny", Kind::Builtin, write);
        }
    }

    // OrderAccepted
    {
        const std::string eventId = uuid4();
        const std::uint64_t tEvent = t0 + 4'800'000;
        const std::uint64_t tInit = tEvent + 310'417;
        push(orderTopic, "OrderEventAny", Kind::Builtin, [&](auto& w) {
            orderEvent(w, legacy, "Accepted", 11, [&] {
                kv(w, "type", "OrderAccepted");
                common4(w, c);
                kv(w, "venue_order_id", venueOrderId);
                kv(w, "account_id", kAccount);
                kv(w, "event_id", eventId);
                ts(w, legacy, "ts_event", tEvent);
                ts(w, legacy, "ts_init", tInit);
                w.key("reconciliation"), w.boolean(false);
            });
        });
    }

    // OrderFilled (+ fan-out: Rust events.order_filled.<id>, legacy events.fills.<id>)
    const std::uint64_t tFill = t0 + 9'600'000;
    const std::uint64_t tFillInit = tFill + 733'912;
    const double commission = qtyD * pxD * 0.0001;
    const std::string commissionText = money(commission, in.currency);
    {
        const std::string eventId = uuid4();
        auto write = [&](auto& w) {
            orderEvent(w, legacy, "Filled", legacy ? 21 : 20, [&] {
                kv(w, "type", "OrderFilled");
                common4(w, c);
                kv(w, "venue_order_id", venueOrderId);
                kv(w, "account_id", kAccount);
                kv(w, "trade_id", tradeId);
                if (legacy) {
                    kv(w, "position_id", positionId);
                }
                kv(w, "order_side", side);
                kv(w, "order_type", "LIMIT");
                kv(w, "last_qty", qtyText);
                kv(w, "last_px", pxText);
                kv(w, "currency", in.currency);
                if (legacy) {
                    kv(w, "commission", commissionText);
                }
                kv(w, "liquidity_side", "MAKER");
                kv(w, "event_id", eventId);
                ts(w, legacy, "ts_event", tFill);
                ts(w, legacy, "ts_init", tFillInit);
                if (legacy) {
                    w.key("info");
                    w.beginMap(0);
                    w.endMap();
                }
                w.key("reconciliation"), w.boolean(false);
                if (!legacy) {
                    kv(w, "position_id", positionId);
                    kv(w, "commission", commissionText);
                }
            });
        };
        push(orderTopic, "OrderEventAny", Kind::Builtin, write);
        push((legacy ? "events.fills." : "events.order_filled.") + in.id, "OrderEventAny", Kind::Builtin, write);
    }

    // Position
    const std::uint64_t tPos = tFill;
    const std::uint64_t tPosInit = tFillInit + 67'090;
    const std::string eventId = uuid4();
    const std::string posTopic = std::string("events.position.") + kStrategy;
    double pnl = 0;
    // Every position event starts with the same identity fields; Rust wraps it as
    // {"<Event>": {...}}, legacy is flat with a leading "type" (SPEC §8.4.13).
    const auto positionBegin = [&](auto& w, const char* event, std::uint32_t rustFields, std::uint32_t legacyFields) {
        if (!legacy) {
            w.beginMap(1);
            w.key(event);
        }
        w.beginMap(legacy ? legacyFields : rustFields);
        if (legacy) {
            kv(w, "type", event);
        }
        kv(w, "trader_id", _o.traderId);
        kv(w, "strategy_id", kStrategy);
        kv(w, "instrument_id", in.id);
        kv(w, "position_id", positionId);
        kv(w, "account_id", kAccount);
    };
    const auto positionEnd = [&](auto& w) {
        w.endMap();
        if (!legacy) {
            w.endMap();
        }
    };
    if (in.phase == 0) {
        in.posQty = qty;
        in.peakQty = qty;
        in.avgPx = pxD;
        in.realized = -commission;
        in.tsOpened = tFill;
        in.openingOrderId = clientOrderId;
        in.phase = 1;
        const std::string realized = money(in.realized, in.currency);
        push(posTopic, "PositionEvent", Kind::Builtin, [&](auto& w) {
            positionBegin(w, "PositionOpened", 17, 21);
            kv(w, "opening_order_id", in.openingOrderId);
            kv(w, "entry", "BUY");
            kv(w, "side", "LONG");
            w.key("signed_qty"), w.f64(qtyD);
            kv(w, "quantity", qtyText);
            if (legacy) {
                kv(w, "peak_qty", qtyText);
            }
            kv(w, "last_qty", qtyText);
            kv(w, "last_px", pxText);
            kv(w, "currency", in.currency);
            w.key("avg_px_open"), w.f64(in.avgPx);
            if (legacy) {
                kv(w, "realized_pnl", realized);
                w.key("duration_ns"), w.u64(0);
            }
            kv(w, "event_id", eventId);
            ts(w, legacy, "ts_event", tPos);
            ts(w, legacy, "ts_init", tPosInit);
            positionEnd(w);
        });
    } else if (in.phase == 1) {
        const double oldQ = static_cast<double>(in.posQty) / scaleQty;
        in.avgPx = (in.avgPx * oldQ + pxD * qtyD) / (oldQ + qtyD);
        in.posQty += qty;
        in.peakQty = std::max(in.peakQty, in.posQty);
        in.realized -= commission;
        in.phase = 2;
        const double posD = static_cast<double>(in.posQty) / scaleQty;
        const std::string posText = size(in, in.posQty), peakText = size(in, in.peakQty);
        const std::string realized = money(in.realized, in.currency);
        const std::string unrealized = money((pxD - in.avgPx) * posD, in.currency);
        push(posTopic, "PositionEvent", Kind::Builtin, [&](auto& w) {
            positionBegin(w, "PositionChanged", 23, 24);
            kv(w, "opening_order_id", in.openingOrderId);
            kv(w, "entry", "BUY");
            kv(w, "side", "LONG");
            w.key("signed_qty"), w.f64(posD);
            kv(w, "quantity", posText);
            kv(w, legacy ? "peak_qty" : "peak_quantity", peakText);
            kv(w, "last_qty", qtyText);
            kv(w, "last_px", pxText);
            kv(w, "currency", in.currency);
            w.key("avg_px_open"), w.f64(in.avgPx);
            kvNull(w, "avg_px_close");
            w.key("realized_return"), w.f64(0.0);
            kv(w, "realized_pnl", realized);
            kv(w, "unrealized_pnl", unrealized);
            kv(w, "event_id", eventId);
            ts(w, legacy, "ts_opened", in.tsOpened);
            ts(w, legacy, "ts_event", tPos);
            ts(w, legacy, "ts_init", tPosInit);
            positionEnd(w);
        });
    } else {
        const double posD = static_cast<double>(in.posQty) / scaleQty;
        pnl = (pxD - in.avgPx) * posD;
        in.realized += pnl - commission;
        const double realizedReturn = in.avgPx > 0 ? (pxD - in.avgPx) / in.avgPx : 0.0;
        const std::string zeroQty = size(in, 0), peakText = size(in, in.peakQty);
        const std::string realized = money(in.realized, in.currency);
        const std::string unrealized = money(0.0, in.currency);
        const std::uint64_t duration = tFill - in.tsOpened;
        push(posTopic, "PositionEvent", Kind::Builtin, [&](auto& w) {
            positionBegin(w, "PositionClosed", 26, 25);
            kv(w, "opening_order_id", in.openingOrderId);
            kv(w, "closing_order_id", clientOrderId);
            kv(w, "entry", "BUY");
            kv(w, "side", "FLAT");
            w.key("signed_qty"), w.f64(0.0);
            kv(w, "quantity", zeroQty);
            kv(w, legacy ? "peak_qty" : "peak_quantity", peakText);
            kv(w, "last_qty", qtyText);
            kv(w, "last_px", pxText);
            kv(w, "currency", in.currency);
            w.key("avg_px_open"), w.f64(in.avgPx);
            w.key("avg_px_close"), w.f64(pxD);
            w.key("realized_return"), w.f64(realizedReturn);
            kv(w, "realized_pnl", realized);
            if (!legacy) {
                kv(w, "unrealized_pnl", unrealized);
            }
            w.key(legacy ? "duration_ns" : "duration"), w.u64(duration);
            kv(w, "event_id", eventId);
            ts(w, legacy, "ts_opened", in.tsOpened);
            ts(w, legacy, "ts_closed", tFill);
            if (!legacy) {
                ts(w, false, "ts_event", tPos);
            }
            ts(w, legacy, "ts_init", tPosInit);
            positionEnd(w);
        });
        in.phase = 0;
        in.posQty = 0;
        in.peakQty = 0;
        in.avgPx = 0;
        in.realized = 0;
    }
    _balances[in.currency] += pnl - commission;
    emitAccountState(tFillInit + 120'000);
}

void Generator::emitAccountState(std::uint64_t tsEvent)
{
    const bool legacy = _legacy;
    struct Margin {
        std::string initial, maintenance, currency, instrument;
    };
    std::vector<Margin> margins;
    std::map<std::string, double> locked;
    for (const auto& in : _instruments) {
        if (in.posQty <= 0) {
            continue;
        }
        const double notional = static_cast<double>(in.posQty) / static_cast<double>(pow10(in.sizePrecision)) * in.avgPx;
        locked[in.currency] += notional * 0.10;
        margins.push_back({money(notional * 0.10, in.currency, !legacy), money(notional * 0.05, in.currency, !legacy),
                           in.currency, in.id});
    }
    const std::map<std::string, double> balances(_balances.begin(), _balances.end());
    const std::string eventId = uuid4();
    const std::uint64_t tsInit = tsEvent + 9'001;
    push(std::string("events.account.") + kAccount, "AccountState", Kind::Builtin, [&](auto& w) {
        w.beginMap(legacy ? 11 : 9);
        if (legacy) {
            kv(w, "type", "AccountState");
        }
        kv(w, "account_id", kAccount);
        kv(w, "account_type", "MARGIN");
        kvNull(w, "base_currency");
        w.key("balances");
        w.beginArray(balances.size());
        for (const auto& [ccy, total] : balances) {
            const double lk = locked.count(ccy) ? locked.at(ccy) : 0.0;
            w.beginMap(legacy ? 5 : 4);
            if (legacy) {
                kv(w, "type", "AccountBalance");
            } else {
                kv(w, "currency", ccy);
            }
            kv(w, "total", money(total, ccy, !legacy));
            kv(w, "locked", money(lk, ccy, !legacy));
            kv(w, "free", money(total - lk, ccy, !legacy));
            if (legacy) {
                kv(w, "currency", ccy);
            }
            w.endMap();
        }
        w.endArray();
        w.key("margins");
        w.beginArray(margins.size());
        for (const auto& m : margins) {
            w.beginMap(legacy ? 5 : 4);
            if (legacy) {
                kv(w, "type", "MarginBalance");
            }
            kv(w, "initial", m.initial);
            kv(w, "maintenance", m.maintenance);
            kv(w, "currency", m.currency);
            kv(w, "instrument_id", m.instrument);
            w.endMap();
        }
        w.endArray();
        w.key(legacy ? "reported" : "is_reported"), w.boolean(true);
        if (legacy) {
            w.key("info");
            w.beginMap(0);
            w.endMap();
        }
        kv(w, "event_id", eventId);
        ts(w, legacy, "ts_event", tsEvent);
        ts(w, legacy, "ts_init", tsInit);
        w.endMap();
    });
}

}  // namespace nautilus::relay::demo

#include "common/Metrics.h"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace nautilus::relay {

void Gauge::add(double d)
{
    double cur = _v.load(std::memory_order_relaxed);
    while (!_v.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
    }
}

void Histogram::observeNs(std::int64_t ns)
{
    if (ns < 0) {
        ns = 0;
    }
    const double secs = static_cast<double>(ns) / 1e9;
    std::size_t i = 0;
    while (i < kBounds.size() && secs > kBounds[i]) {
        ++i;
    }
    _buckets[i].fetch_add(1, std::memory_order_relaxed);
    _count.fetch_add(1, std::memory_order_relaxed);
    _sumNs.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
}

double Histogram::quantile(double q) const
{
    const std::uint64_t total = count();
    if (total == 0) {
        return 0;
    }
    const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBounds.size(); ++i) {
        seen += bucket(i);
        if (seen >= rank) {
            return kBounds[i];
        }
    }
    return kBounds.back();
}

namespace {

void appendNumber(std::string& out, double v)
{
    if (std::isnan(v)) {
        out += "NaN";
        return;
    }
    if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
        return;
    }
    char buf[64];
    if (v == std::floor(v) && std::fabs(v) < 9.0e15) {
        auto r = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(v));
        out.append(buf, r.ptr);
        return;
    }
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

}  // namespace

void PromWriter::family(std::string_view name, std::string_view type, std::string_view help)
{
    for (const auto& s : _seen) {
        if (s == name) {
            return;
        }
    }
    _seen.emplace_back(name);
    _out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    _out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void PromWriter::sample(std::string_view name, std::string_view labels, double value)
{
    _out.append(name);
    if (!labels.empty()) {
        _out.append("{").append(labels).append("}");
    }
    _out.push_back(' ');
    appendNumber(_out, value);
    _out.push_back('\n');
}

std::string PromWriter::escapeLabel(std::string_view value)
{
    std::string out;
    out.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i) {
        const char c = value[i];
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x80) {
            // Label values must be UTF-8: copy well-formed sequences, replace stray bytes by U+FFFD.
            std::size_t n = (u >= 0xC2 && u <= 0xDF) ? 2 : (u >= 0xE0 && u <= 0xEF) ? 3 : (u >= 0xF0 && u <= 0xF4) ? 4 : 0;
            bool ok = n != 0 && i + n <= value.size();
            for (std::size_t k = 1; ok && k < n; ++k) {
                ok = (static_cast<unsigned char>(value[i + k]) & 0xC0) == 0x80;
            }
            if (ok && n == 3) {
                const auto b1 = static_cast<unsigned char>(value[i + 1]);
                ok = !(u == 0xE0 && b1 < 0xA0) && !(u == 0xED && b1 > 0x9F);
            } else if (ok && n == 4) {
                const auto b1 = static_cast<unsigned char>(value[i + 1]);
                ok = !(u == 0xF0 && b1 < 0x90) && !(u == 0xF4 && b1 > 0x8F);
            }
            if (ok) {
                out.append(value.substr(i, n));
                i += n - 1;
            } else {
                out.append("\xEF\xBF\xBD");
            }
            continue;
        }
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '"': out += "\\\""; break;
        case '\n': out += "\\n"; break;
        default: out.push_back(c);
        }
    }
    return out;
}

MetricsRegistry& MetricsRegistry::global()
{
    static MetricsRegistry registry;
    return registry;
}

MetricsRegistry::Family& MetricsRegistry::family(std::string_view name, std::string_view type, std::string_view help)
{
    auto it = _families.find(name);
    if (it == _families.end()) {
        it = _families.emplace(std::string(name), Family{std::string(type), std::string(help), {}, {}, {}}).first;
    } else if (it->second.type != type) {
        throw std::logic_error("metric " + std::string(name) + " registered with two types");
    }
    return it->second;
}

Counter& MetricsRegistry::counter(std::string_view name, std::string_view help, std::string_view labels)
{
    std::lock_guard lock(_mutex);
    auto& f = family(name, "counter", help);
    auto it = f.counters.find(labels);
    if (it == f.counters.end()) {
        it = f.counters.emplace(std::string(labels), std::make_unique<Counter>()).first;
    }
    return *it->second;
}

Gauge& MetricsRegistry::gauge(std::string_view name, std::string_view help, std::string_view labels)
{
    std::lock_guard lock(_mutex);
    auto& f = family(name, "gauge", help);
    auto it = f.gauges.find(labels);
    if (it == f.gauges.end()) {
        it = f.gauges.emplace(std::string(labels), std::make_unique<Gauge>()).first;
    }
    return *it->second;
}

Histogram& MetricsRegistry::histogram(std::string_view name, std::string_view help, std::string_view labels)
{
    std::lock_guard lock(_mutex);
    auto& f = family(name, "histogram", help);
    auto it = f.histograms.find(labels);
    if (it == f.histograms.end()) {
        it = f.histograms.emplace(std::string(labels), std::make_unique<Histogram>()).first;
    }
    return *it->second;
}

int MetricsRegistry::addCollector(Collector c)
{
    std::lock_guard lock(_mutex);
    const int id = _nextCollector++;
    _collectors.emplace(id, std::move(c));
    return id;
}

void MetricsRegistry::removeCollector(int id)
{
    std::lock_guard lock(_mutex);
    _collectors.erase(id);
}

std::string MetricsRegistry::renderPrometheus() const
{
    std::string out;
    out.reserve(8192);
    PromWriter w(out);
    std::lock_guard lock(_mutex);
    for (const auto& [name, f] : _families) {
        w.family(name, f.type, f.help);
        for (const auto& [labels, c] : f.counters) {
            w.sample(name, labels, static_cast<double>(c->value()));
        }
        for (const auto& [labels, g] : f.gauges) {
            w.sample(name, labels, g->value());
        }
        for (const auto& [labels, h] : f.histograms) {
            std::uint64_t cumulative = 0;
            const std::string bucketName = name + "_bucket";
            for (std::size_t i = 0; i <= Histogram::kBounds.size(); ++i) {
                cumulative += h->bucket(i);
                std::string l = labels;
                if (!l.empty()) {
                    l += ",";
                }
                if (i < Histogram::kBounds.size()) {
                    char buf[32];
                    auto r = std::to_chars(buf, buf + sizeof buf, Histogram::kBounds[i]);
                    l.append("le=\"").append(buf, r.ptr).append("\"");
                } else {
                    l += "le=\"+Inf\"";
                }
                w.sample(bucketName, l, static_cast<double>(cumulative));
            }
            w.sample(name + "_sum", labels, h->sumSeconds());
            w.sample(name + "_count", labels, static_cast<double>(h->count()));
        }
    }
    for (const auto& [id, c] : _collectors) {
        c(w);
    }
    return out;
}

}  // namespace nautilus::relay

#pragma once
// Process-wide metrics: lock-free counters, gauges and histograms that the message path updates
// with relaxed atomics, and a registry that renders them in Prometheus text format.
// Creating a metric takes the registry mutex; updating one never does, so hot paths look a
// metric up once (or cache the reference) and then only touch atomics.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace nautilus::relay {

class Counter {
public:
    void inc(std::uint64_t n = 1) { _v.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const { return _v.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> _v{0};
};

class Gauge {
public:
    void set(double v) { _v.store(v, std::memory_order_relaxed); }
    void add(double d);
    double value() const { return _v.load(std::memory_order_relaxed); }

private:
    std::atomic<double> _v{0.0};
};

/// Latency histogram with fixed bucket bounds in seconds (Prometheus `le`), observed in ns.
class Histogram {
public:
    /// 1 µs … 1 s, roughly ×2.5 per step: fine enough for µs decode times and ms handler times.
    static constexpr std::array<double, 14> kBounds = {1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4,
                                                        2.5e-4, 5e-4, 1e-3, 1e-2, 1e-1, 5e-1, 1.0};
    void observeNs(std::int64_t ns);
    std::uint64_t count() const { return _count.load(std::memory_order_relaxed); }
    double sumSeconds() const { return static_cast<double>(_sumNs.load(std::memory_order_relaxed)) / 1e9; }
    std::uint64_t bucket(std::size_t i) const { return _buckets[i].load(std::memory_order_relaxed); }
    /// Approximate quantile (upper bucket bound), in seconds; 0 when empty.
    double quantile(double q) const;

private:
    std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> _buckets{};
    std::atomic<std::uint64_t> _count{0};
    std::atomic<std::uint64_t> _sumNs{0};
};

/// Writer handed to collectors for values computed at scrape time (per-stream lag, states...).
class PromWriter {
public:
    explicit PromWriter(std::string& out) : _out(out) {}
    /// Emits "# HELP"/"# TYPE" once per family name.
    void family(std::string_view name, std::string_view type, std::string_view help);
    /// labels: already rendered `k="v",k2="v2"` (use escapeLabel), or empty.
    void sample(std::string_view name, std::string_view labels, double value);
    static std::string escapeLabel(std::string_view value);

private:
    std::string& _out;
    std::vector<std::string> _seen;
};

class MetricsRegistry {
public:
    /// The process-wide registry.
    static MetricsRegistry& global();

    /// Get or create; the reference stays valid for the registry's life. labels as in PromWriter.
    Counter& counter(std::string_view name, std::string_view help, std::string_view labels = {});
    Gauge& gauge(std::string_view name, std::string_view help, std::string_view labels = {});
    Histogram& histogram(std::string_view name, std::string_view help, std::string_view labels = {});

    using Collector = std::function<void(PromWriter&)>;
    /// Returns an id for removeCollector.
    int addCollector(Collector c);
    void removeCollector(int id);

    std::string renderPrometheus() const;

private:
    struct Family {
        std::string type;
        std::string help;
        std::map<std::string, std::unique_ptr<Counter>, std::less<>> counters;
        std::map<std::string, std::unique_ptr<Gauge>, std::less<>> gauges;
        std::map<std::string, std::unique_ptr<Histogram>, std::less<>> histograms;
    };
    Family& family(std::string_view name, std::string_view type, std::string_view help);

    mutable std::mutex _mutex;
    std::map<std::string, Family, std::less<>> _families;
    std::map<int, Collector> _collectors;
    int _nextCollector = 1;
};

}  // namespace nautilus::relay

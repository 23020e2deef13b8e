#pragma once
// Reconnect delays: exponential backoff with full jitter. Attempt 1 (the first retry after a
// failure) is immediate; attempt n >= 2 waits uniform(0, ceiling(n)] with
// ceiling(n) = min(maxMs, initialMs * multiplier^(n-2)). reset() after a successful connect.
// Owned by one thread; the random source is injectable so tests can pin the schedule.
#include <cstdint>
#include <functional>
#include <random>

#include "bus/BusTypes.h"

namespace nautilus::relay {

class Backoff {
public:
    /// Returns a number in [0, 1).
    using Uniform = std::function<double()>;

    explicit Backoff(BackoffPolicy policy, Uniform uniform = {});
    Backoff(const Backoff&) = delete;  // the default random source refers to this object
    Backoff& operator=(const Backoff&) = delete;

    /// Upper bound of the delay of `attempt` (1-based); 0 for attempt 1.
    int ceilingMs(int attempt) const;
    /// Advances to the next attempt and returns its delay in ms.
    int nextDelayMs();
    /// Attempts made since the last reset().
    int attempts() const { return _attempt; }
    void reset() { _attempt = 0; }
    const BackoffPolicy& policy() const { return _policy; }

private:
    BackoffPolicy _policy;
    Uniform _uniform;
    std::mt19937_64 _rng;
    int _attempt = 0;
};

}  // namespace nautilus::relay

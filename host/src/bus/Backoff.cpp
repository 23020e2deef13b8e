#include "bus/Backoff.h"

#include <algorithm>
#include <cmath>

namespace nautilus::relay {

Backoff::Backoff(BackoffPolicy policy, Uniform uniform) : _policy(policy), _uniform(std::move(uniform))
{
    if (!_uniform) {
        _rng.seed(std::random_device{}());
        _uniform = [this] { return std::uniform_real_distribution<double>(0.0, 1.0)(_rng); };
    }
}

int Backoff::ceilingMs(int attempt) const
{
    if (attempt <= 1) {
        return 0;
    }
    const double initial = std::max(0, _policy.initialMs);
    const double cap = std::max(0, _policy.maxMs);
    const double mult = std::max(1.0, _policy.multiplier);
    // Stop multiplying once past the cap (also keeps pow() away from overflow).
    double ceiling = initial;
    for (int i = 2; i < attempt && ceiling < cap; ++i) {
        ceiling *= mult;
    }
    return static_cast<int>(std::min(ceiling, cap));
}

int Backoff::nextDelayMs()
{
    ++_attempt;
    const int ceiling = ceilingMs(_attempt);
    if (ceiling <= 0) {
        return 0;
    }
    // uniform(0, ceiling]: 1 - u is in (0, 1].
    const double u = std::clamp(_uniform(), 0.0, 1.0);
    const int delay = static_cast<int>(std::ceil((1.0 - u) * ceiling));
    return std::clamp(delay, 1, ceiling);
}

}  // namespace nautilus::relay

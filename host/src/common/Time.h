#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace nautilus::relay {

/// Wall clock, nanoseconds since the Unix epoch.
inline std::int64_t wallNowNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch()).count();
}

/// Monotonic clock, nanoseconds (for durations and timeouts only).
inline std::int64_t monoNowNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// "2026-11-27T16:00:00.123Z" (UTC, millisecond precision); empty string for 0.
std::string formatIso8601(std::int64_t wallNs);

}  // namespace nautilus::relay

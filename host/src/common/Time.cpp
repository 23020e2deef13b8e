#include "common/Time.h"

#include <cstdio>
#include <ctime>

namespace nautilus::relay {

std::string formatIso8601(std::int64_t wallNs)
{
    if (wallNs <= 0) {
        return {};
    }
    const std::time_t secs = static_cast<std::time_t>(wallNs / 1'000'000'000);
    const int millis = static_cast<int>((wallNs / 1'000'000) % 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    return buf;
}

}  // namespace nautilus::relay

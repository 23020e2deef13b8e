#pragma once
// A strict validator of the Prometheus text exposition format 0.0.4, for /metrics tests:
// TYPE before samples and once per family, a family's samples contiguous, no duplicate series,
// label values escaped (only \\ \" \n) and valid UTF-8, numeric values.
#include <string>

namespace nautilus::relay::test {

/// "" when `text` is well-formed, else the first problem (with its line).
std::string validateExposition(const std::string& text);

}  // namespace nautilus::relay::test

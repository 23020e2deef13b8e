// testing/fake_host.hpp compiles as C++17 with -Wall -Wextra -pedantic -Werror.
#include "nautilus_relay/testing/fake_host.hpp"

namespace {

[[maybe_unused]] bool checkFakeHost()
{
    nautilus_relay::testing::FakeHost host({{"k", "v"}});
    return host.deliver({"data.quotes.X", "QuoteTick"}) == NR_OK && nautilus_relay::testing::topicMatches("data.*", "data.x");
}

}  // namespace

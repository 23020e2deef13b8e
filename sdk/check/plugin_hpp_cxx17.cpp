// plugin.hpp compiles as C++17 with -Wall -Wextra -pedantic -Werror, with every kind of handler.
#include "nautilus_relay/plugin.hpp"

namespace {

namespace nr = nautilus_relay;

class CheckPlugin final : public nr::Plugin {
public:
    explicit CheckPlugin(nr::Host host) : Plugin(host)
    {
        subscribe("data.quotes.*", "", [this](const nr::Message& m) { _count += m.payload().size(); });
        subscribe("events.order.*", "OrderFilled", [](const nr::Message& m) -> nr_status {
            return m.topic().empty() ? NR_ERR_INVALID_ARGUMENT : NR_OK;
        });
        const auto depth = this->host().configOr("depth", "10");
        if (depth.empty()) {
            throw nr::Error(NR_ERR_INVALID_ARGUMENT, "depth is empty");
        }
    }

private:
    std::size_t _count = 0;
};

}  // namespace

NR_PLUGIN(CheckPlugin, "check-plugin", "1.0.0")

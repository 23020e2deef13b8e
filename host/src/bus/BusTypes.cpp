#include "bus/BusTypes.h"

namespace nautilus::relay {

std::string_view toString(BusState s)
{
    switch (s) {
    case BusState::Connecting: return "connecting";
    case BusState::Connected: return "connected";
    case BusState::Stale: return "stale";
    case BusState::Reconnecting: return "reconnecting";
    case BusState::Disconnected: return "disconnected";
    }
    return "unknown";
}

}  // namespace nautilus::relay

#pragma once
// Service state for systemd (the sd_notify(3) protocol of Type=notify units: READY=1, RELOADING=1,
// STOPPING=1, STATUS=...) without linking libsystemd: one datagram to the unix socket named by
// $NOTIFY_SOCKET. Without that variable (not started by systemd) it does nothing.
#include <string_view>

namespace nautilus::relay {

/// Sends `state` ("READY=1", several lines allowed). True when sent; false when $NOTIFY_SOCKET is
/// unset or unusable, which callers ignore: the notification is advisory.
bool systemdNotify(std::string_view state);

}  // namespace nautilus::relay

#include "app/SystemdNotify.h"

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace nautilus::relay {

bool systemdNotify(std::string_view state)
{
    const char* env = std::getenv("NOTIFY_SOCKET");
    if (env == nullptr) {
        return false;
    }
    std::string path(env);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    // A path, or "@name" for an abstract socket (its first byte is NUL on the wire).
    if (path.size() < 2 || path.size() >= sizeof addr.sun_path || (path[0] != '/' && path[0] != '@')) {
        return false;
    }
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (path[0] == '@') {
        addr.sun_path[0] = '\0';
    }
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
    const ssize_t sent =
        ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), len);
    ::close(fd);
    return sent == static_cast<ssize_t>(state.size());
}

}  // namespace nautilus::relay

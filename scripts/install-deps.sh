#!/usr/bin/env bash
# Installs the Debian 12 packages nautilus-relay needs to build, test and run its demo.
# Idempotent: does nothing when everything is already installed. Run as root.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config make   # toolchain (CMake 3.25 on Debian 12)
  libpoco-dev                             # ServerApplication, HTTP server, Redis client, JSON
  libspdlog-dev                           # logging
  libmsgpack-cxx-dev                      # MessagePack payloads (header-only)
  liburing-dev                            # WebSocket loops batch their sends (io_uring)
  libgtest-dev libgmock-dev               # unit and integration tests
  libbenchmark-dev                        # benchmarks
  redis-server                            # tests and the demo start their own private instance
  curl                                    # the demo prints /status with it
  dpkg-dev file binutils                  # packaging/build-deb: buildflags, shlibdeps, strip
  lintian jq                              # packaging/test-deb: package checks, /status in the shell
  debootstrap systemd-container           # packaging/test-systemd: the units under a real systemd
  nodejs                                  # WsInteropTest: a non-Poco WebSocket client (npm ws)
)
# npm installs that client into the build tree. Debian's npm only when there is no npm at all:
# a Node.js from elsewhere (e.g. NodeSource's nodejs) brings its own and conflicts with it.
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]} (run as root, or install them with apt-get)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
# The packaged redis-server service is not used: tests and the demo run private instances.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now redis-server >/dev/null 2>&1 || true
fi

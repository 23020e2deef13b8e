#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test:
#   1. unit + integration tests under AddressSanitizer + UndefinedBehaviorSanitizer;
#   2. the concurrency tests (router, queues, bus, state, plugin workers, WebSocket gateway) under
#      ThreadSanitizer;
#   3. the Debian packages: built, linted, installed, run, purged (packaging/test-deb; root only),
#      then installed on a minimal Debian 12 booted with systemd-nspawn and run as the service
#      (packaging/test-systemd; root only).
# Each test starts its own redis-server on a free loopback port. Exit status: 0 = all passed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

jobs=$(nproc)
build_asan=build/asan
build_tsan=build/tsan

echo "== build (ASan + UBSan)"
cmake -S . -B "$build_asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" \
  -DNR_SANITIZE=address,undefined -DNR_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build_asan" -j "$jobs"

echo "== tests (ASan + UBSan)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd "$build_asan" && ctest --output-on-failure -j "$jobs" --timeout 300)

echo "== build (TSan, concurrency tests)"
cmake -S . -B "$build_tsan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" \
  -DNR_SANITIZE=thread -DNR_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build_tsan" -j "$jobs" --target unit_router unit_plugin integration_tests

echo "== tests (TSan)"
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
(cd "$build_tsan" && ctest --output-on-failure -j "$jobs" --timeout 300 -R "^(RouterTest|QueuedSubscriberTest|Bus|State|PluginHost|PluginIsolation|OrderAudit|FakeHost|AppReload|Ws)")

echo "== Debian packages (packaging/test-deb, packaging/test-systemd)"
if [ "$(id -u)" -eq 0 ]; then
  ./packaging/build-deb build/deb
  ./packaging/test-deb build/deb
  ./packaging/test-systemd build/deb
else
  echo "skipped: they install the packages on this machine and boot a container, so they run as root only"
fi

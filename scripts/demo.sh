#!/usr/bin/env bash
# The relay's main job on an embedded default: installs what is needed, builds (Release), starts
# a private redis-server on loopback, the demo feed writing NautilusTrader-format entries (JSON
# and MessagePack, stream per topic, heartbeats), and the relay reading them; prints where to look.
# Stops everything on Ctrl-C, or after NR_DEMO_SECONDS seconds when that is set.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

build=build/demo  # not build/release: that one is the benchmarks', with them turned on
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNR_BUILD_TESTS=OFF -DNR_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target nautilus-relay nautilus-relay-demo-feed

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 20000))
    port_in_use "$p" || { echo "$p"; return; }
  done
  echo "demo: no free port found" >&2; exit 1
}

work=$(mktemp -d -t nautilus-relay-demo.XXXXXX)
redis_port=$(free_port)
http_port=${NR_DEMO_HTTP_PORT:-8080}
port_in_use "$http_port" && http_port=$(free_port)

pids=()
cleanup() {
  trap - EXIT INT TERM
  # Newest first: the feed and the relay stop while redis-server still answers (final checkpoints).
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --save "" --appendonly no \
  --daemonize no --logfile "$work/redis.log" &
pids+=($!)
for _ in $(seq 1 100); do
  [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = "PONG" ] && break
  sleep 0.05
done

"$build/host/nautilus-relay" --config etc/nautilus-relay.properties \
  -D bus.redis.port="$redis_port" -D http.port="$http_port" -D bus.start=earliest \
  -D health.require_heartbeat=true -D relay.instance_id=demo &
pids+=($!)

"$build/host/nautilus-relay-demo-feed" --port "$redis_port" --encoding mixed --rate 200 \
  --heartbeat-interval 1 --quiet &
pids+=($!)

sleep 3
cat <<MSG

nautilus-relay demo is running.
  redis:    127.0.0.1:$redis_port (private, data in $work)
  status:   curl -s http://127.0.0.1:$http_port/status
  ready:    curl -s http://127.0.0.1:$http_port/health/ready
  metrics:  curl -s http://127.0.0.1:$http_port/metrics
  cluster:  curl -s http://127.0.0.1:$http_port/status/cluster
  live:     ws://127.0.0.1:$http_port/ws, then send {"op":"subscribe","topics":["*"]}
            (protocol and a browser example: docs/websocket.md)

/status now:
MSG
curl -s "http://127.0.0.1:$http_port/status" || true
echo
if [ -n "${NR_DEMO_SECONDS:-}" ]; then
  sleep "$NR_DEMO_SECONDS"
  echo "demo: stopping after ${NR_DEMO_SECONDS}s"
else
  echo "Press Ctrl-C to stop."
  wait -n "${pids[@]}" || true
fi

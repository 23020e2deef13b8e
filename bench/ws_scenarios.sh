#!/usr/bin/env bash
# The WebSocket gateway scenarios of docs/BENCHMARKS.md ("WebSocket gateway, end to end").
# Each scenario starts a private redis-server and a relay on free loopback ports, runs
# bench/ws_load (and wrk on /status where it says so), prints the figures and stops everything
# it started. Nothing outside the repository and the build directory is read: the relay runs
# with built-in defaults and -D overrides only (no plugins).
#
#   bench/ws_scenarios.sh [-b BUILD_DIR] [SCENARIO...]
#
# BUILD_DIR: a Release build with the targets nautilus-relay and ws_load (default build/release).
# Scenarios (default: all, in this order):
#   idle        VmRSS of a relay with no client
#   backlog     1 client, 1 000 000 QuoteTick entries already in a stream (bus.start = earliest)
#   latency     1 client, 10 000 msg/s (after the same load read straight from Redis)
#   fanout500   500 clients x 100 msg/s, each its own topic; then all on one topic
#   fanout100   100 clients x 1000 msg/s, each its own topic; then all on one topic
# "direct" lines are the reference path: the same producer and one XREAD reader on Redis, no
# relay. wrk queries /status for 10 s during every relay measurement except backlog and stall.
#   stall       100 clients x 1000 msg/s on one topic + 1 client that subscribes and never
#               reads (ws.queue_bytes = 2 MiB)
# /status latency under load, two figures:
#   "status:"    (ws_load --status-rate 100, in latency, fanout* and stall; not in direct runs or
#                backlog) GET /status paced at 100/s on one keep-alive connection over the measured
#                seconds, each latency counted from the request's due time: what a monitoring
#                system sees.
#   "wrk /status" (wrk -t1 -c1, 10 s) a closed loop that saturates the relay's HTTP thread
#                (~10k req/s) and competes for the cores with what it measures: how fast /status
#                can be served under load (a load of its own), not what a poller waits.
# Environment: WRK=0 runs no wrk; REPEAT=N runs every scenario N times (1);
# STATUS_TARGET=/status?streams=false has the paced probe ask for the summary (default /status).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build/release
if [[ ${1:-} == -b ]]; then
    build=$(cd "$2" && pwd)
    shift 2
fi
scenarios=("$@")
((${#scenarios[@]})) || scenarios=(idle backlog latency fanout500 fanout100 stall)
relay_bin=$build/host/nautilus-relay
load_bin=$build/bench/ws_load
for b in "$relay_bin" "$load_bin"; do
    [[ -x $b ]] || { echo "missing $b: cmake --build $build --target nautilus-relay ws_load" >&2; exit 2; }
done
for t in redis-server redis-cli curl; do
    command -v "$t" >/dev/null || { echo "$t is required" >&2; exit 2; }
done
wrk_on=${WRK:-1}
command -v wrk >/dev/null || wrk_on=0
repeat=${REPEAT:-1}
status_target=${STATUS_TARGET:-/status}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ws_scenarios.XXXXXX")
redis_pid="" relay_pid="" wrk_pid=""

stop_pid() {  # stop_pid PID: SIGTERM, then SIGKILL after 5 s
    local pid=$1
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
stop_all() {
    stop_pid "$wrk_pid"; stop_pid "$relay_pid"; stop_pid "$redis_pid"
    wrk_pid="" relay_pid="" redis_pid=""
}
cleanup() { stop_all; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {  # a loopback port nobody listens on, below the usual ephemeral range
    local p
    while :; do
        p=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
    done
}

start_redis() {
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
        --logfile "$tmp/redis.log" &
    redis_pid=$!
    for _ in $(seq 200); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return; sleep 0.05; done
    echo "redis-server did not start:" >&2; tail -5 "$tmp/redis.log" >&2; exit 1
}

start_relay() {  # start_relay [-D key=value]...
    http_port=$(free_port)
    "$relay_bin" -D bus.redis.port="$redis_port" -D http.port="$http_port" -D bus.start=earliest \
        -D bus.discovery_interval_ms=100 -D plugins.dirs= -D logging.level=warn "$@" >"$tmp/relay.log" 2>&1 &
    relay_pid=$!
    for _ in $(seq 200); do
        curl -fs "http://127.0.0.1:$http_port/health/live" >/dev/null 2>&1 && return
        kill -0 "$relay_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "the relay did not start:" >&2; cat "$tmp/relay.log" >&2; exit 1
}

rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$relay_pid/status"; }

wrk_after() {  # wrk_after DELAY: /status for 10 s on one connection, from DELAY seconds on
    [[ $wrk_on == 1 ]] || return 0
    (sleep "$1"; exec wrk -t1 -c1 -d10s --latency "http://127.0.0.1:$http_port/status") >"$tmp/wrk.out" 2>&1 &
    wrk_pid=$!
}
wrk_report() {
    [[ -n $wrk_pid ]] || return 0
    wait "$wrk_pid" 2>/dev/null || true
    wrk_pid=""
    echo "wrk /status (10 s, -t1 -c1, during the measurement):"
    grep -E '^ +(50|90|99)%|Requests/sec' "$tmp/wrk.out" | sed 's/^/    /'
    grep -E '^ +Latency +[0-9]' "$tmp/wrk.out" | sed 's/^/    /' || true
}

status_buckets() {  # the relay's cumulative /status handling-time buckets: "le count" lines
    curl -fs "http://127.0.0.1:$http_port/metrics" |
        sed -n 's/^nautilus_relay_http_request_seconds_bucket{route="status",le="\([^"]*\)"} \([0-9]*\)$/\1 \2/p'
}
load() {
    echo "+ ws_load $*"
    local before
    before=$(status_buckets)
    "$load_bin" "$@" --port "$http_port" --redis-port "$redis_port" --relay-pid "$relay_pid" --redis-pid "$redis_pid"
    # The relay's own share of each /status during the run (request read to response sent, from
    # its histogram): set against the probe's figures, the rest is the client and the scheduler.
    paste <(echo "$before") <(status_buckets) | awk '
        { le[NR] = $1; n[NR] = $4 - $2 }
        END {
            total = n[NR]; if (total <= 0) exit
            split("0.5 0.9 0.99", qs, " "); line = ""
            for (k = 1; k <= 3; k++) {
                for (i = 1; i <= NR; i++) if (n[i] >= qs[k] * total) break
                v = le[i] == "+Inf" ? "> 1 s" : sprintf("<= %g ms", le[i] * 1000)
                line = line sprintf("  p%g %s", qs[k] * 100, v)
            }
            printf "relay:     /status handled in (its histogram, %d requests):%s\n", total, line
        }'
}

scenario_idle() {
    start_redis
    start_relay
    sleep 3
    echo "relay VmRSS with no client, 3 s after start: $(rss_mb) MB"
    stop_all
}

scenario_backlog() {
    local key=trader-TRADER-001:stream:data.quotes.BINANCE.BTCUSDT
    start_redis
    echo "+ ws_load prefill --key wsbench:backlog --count 1000000"
    "$load_bin" prefill --redis-port "$redis_port" --key wsbench:backlog --count 1000000 --topic data.quotes.BINANCE.BTCUSDT
    start_relay
    # The filled stream gets its real key only once the client is subscribed: the relay drops
    # messages while nobody is connected, and reads a newly discovered stream from its start.
    load run --clients 1 --subscribe 'data.quotes.*' --rename-from wsbench:backlog --rename-to "$key" \
        --expect 1000000 --idle 3 --windows
    echo "relay VmRSS after the backlog (client gone): $(rss_mb) MB"
    stop_all
}

direct() {  # direct ARGS: the same producer and a plain XREAD reader, no relay (the floor)
    echo "+ ws_load $* --direct"
    "$load_bin" "$@" --direct --redis-port "$redis_port" --redis-pid "$redis_pid"
}

scenario_latency() {
    start_redis
    start_relay
    direct run --topics 1 --rate 10000 --warmup 2 --duration 15
    wrk_after 3
    load run --clients 1 --topics 1 --rate 10000 --warmup 2 --duration 15 --status-rate 100 --status-target "$status_target"
    wrk_report
    stop_all
}

fanout() {  # fanout CLIENTS RATE: each client its own topic, then all clients on one topic
    local clients=$1 rate=$2
    start_redis
    start_relay
    direct run --topics "$clients" --rate "$rate" --warmup 2 --duration 15
    wrk_after 3
    load run --clients "$clients" --topics "$clients" --subscribe own --rate "$rate" --warmup 2 --duration 15 \
        --status-rate 100 --status-target "$status_target"
    wrk_report
    stop_all
    start_redis
    start_relay
    wrk_after 3
    load run --clients "$clients" --topics 1 --subscribe all --rate "$rate" --warmup 2 --duration 15 \
        --status-rate 100 --status-target "$status_target"
    wrk_report
    stop_all
}
scenario_fanout500() { fanout 500 100; }
scenario_fanout100() { fanout 100 1000; }

scenario_stall() {
    start_redis
    # A 2 MiB send queue and the default keepalive (ping after 15 s of silence, close after 30 s):
    # the stalled client first fills the kernel's socket buffers (up to tcp_wmem's 4 MB), then its
    # queue, then gets conflated, and is dropped about 30 s after it subscribed.
    start_relay -D ws.queue_bytes=2097152
    load run --clients 100 --topics 1 --subscribe all --rate 1000 --warmup 2 --duration 40 \
        --stalled 1 --stall-topic 'data.quotes.*' --stall-after 3 --windows --status-rate 100 --status-target "$status_target"
    grep -E 'closed|keepalive' "$tmp/relay.log" | sed 's/^/relay log: /' | head -5 || true
    stop_all
}

for s in "${scenarios[@]}"; do
    declare -F "scenario_$s" >/dev/null || { echo "unknown scenario $s" >&2; exit 2; }
    for ((r = 1; r <= repeat; r++)); do
        echo "=== $s (run $r of $repeat, $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg))"
        "scenario_$s"
    done
done

#!/usr/bin/env bash
# redis-benchmark against corodb-resp-server (--sync=always, --sync=none) and
# against Debian's redis-server with an append-only file (appendfsync always,
# everysec), each on a fresh directory under a private temporary directory
# and a free loopback port. Prints the load average before each run and
# redis-benchmark's summary lines. First it measures the disk's fdatasync
# rate with fio (when installed), the number that bounds sync writes.
#
#   tools/resp-bench.sh [REQUESTS] [EXTRA corodb-resp-server FLAGS...]
#
# REQUESTS per test (default 200000; the issue's runs use 1000000); 50
# clients, 16 pipelined commands each. Environment:
#   SERVERS="corodb redis"  which servers to run (default both);
#   CORODB_RESP_SERVER=PATH another corodb-resp-server binary (e.g. an older
#                           build, to compare), default the release build.
#   FIO=0                   skip the fio measurement.
#   TESTS=set,get,mset,incr redis-benchmark's -t list (default these four);
#                           TESTS=set makes the CPU line below per SET.
#   CLIENT_CPUS=LIST        run redis-benchmark under `taskset -c LIST` (the
#                           servers stay unpinned): on a machine whose CPUs
#                           differ in speed, every server then meets a client
#                           on the same CPU (docs/benchmarks.md, "this VM's
#                           two CPUs differ").
# After each run it prints the server's CPU time over the run (user + system,
# every thread, io_uring workers included: /proc/PID/stat) and that time per
# request.
# Debian's redis-server binary is redis-tools' /usr/bin/redis-check-rdb
# (the redis-server package only adds a symlink to it named redis-server,
# which decides the mode by its name), so no daemon is installed or started:
# the script runs it through such a symlink in its temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-200000}
shift || true
servers=${SERVERS:-corodb redis}
server=${CORODB_RESP_SERVER:-build/release/examples/resp_server/corodb-resp-server}
if [ ! -x "$server" ]; then
  cmake --preset release > /dev/null
  cmake --build --preset release --target corodb-resp-server
fi
for tool in redis-benchmark redis-cli redis-check-rdb python3; do
  command -v "$tool" > /dev/null || { echo "resp-bench: $tool is missing (tools/setup.sh installs redis-tools)"; exit 1; }
done

tmp=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2> /dev/null || true; wait "$pid" 2> /dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ "${FIO:-1}" = 1 ] && command -v fio > /dev/null; then
  echo "== fio fdatasync rate (4 KiB writes, each fdatasync'ed, 8 s, in $tmp)"
  fio --name=fsync --filename="$tmp/fio-sync.dat" --size=64m --bs=4k --rw=write \
    --fdatasync=1 --runtime=8 --time_based --ioengine=sync \
    | grep -E '^ *write: IOPS=' || true
  rm -f "$tmp/fio-sync.dat"
fi

tests=${TESTS:-set,get,mset,incr}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }  # of the server ($pid)

bench() {  # label port
  echo "== $1   (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
  echo "   ${CLIENT_CPUS:+taskset -c $CLIENT_CPUS }redis-benchmark -h 127.0.0.1 -p PORT -t $tests -n $requests -c 50 -P 16 -q"
  local before after
  before=$(cpu_ticks)
  local pin=()
  if [ -n "${CLIENT_CPUS:-}" ]; then pin=(taskset -c "$CLIENT_CPUS"); fi
  "${pin[@]}" redis-benchmark -h 127.0.0.1 -p "$2" -t "$tests" -n "$requests" -c 50 -P 16 -q \
    | tr '\r' '\n' | grep 'requests per second' || true
  after=$(cpu_ticks)
  local n_tests
  n_tests=$(tr ',' '\n' <<< "$tests" | grep -c .)
  awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n=$((requests * n_tests)) \
    'BEGIN { printf "   server CPU: %.2f s, %.2f us per request\n", t / hz, t / hz * 1e6 / n }'
}

stop() {
  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
}

for sync in always none; do
  [[ " $servers " == *" corodb "* ]] || break
  dir="$tmp/corodb-$sync"
  mkdir "$dir"
  "$server" --port=0 --db="$dir/db" --sync="$sync" "$@" > "$dir/out" 2> "$dir/err" &
  pid=$!
  until grep -qs 'listening on' "$dir/out"; do
    kill -0 "$pid" 2> /dev/null || { cat "$dir/err"; exit 1; }
    sleep 0.1
  done
  port=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\) .*/\1/p' "$dir/out")
  bench "corodb-resp-server --sync=$sync $*" "$port"
  echo "   engine: $(redis-cli -p "$port" INFO corodb | tr -d '\r' \
    | grep -E '^(writes|wal_groups|avg_group_size|wal_syncs):' | tr '\n' ' ')"
  stop
done

ln -s "$(command -v redis-check-rdb)" "$tmp/redis-server"
for fsync in always everysec; do
  [[ " $servers " == *" redis "* ]] || break
  dir="$tmp/redis-$fsync"
  mkdir "$dir"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$tmp/redis-server" --bind 127.0.0.1 --port "$port" --dir "$dir" --daemonize no --save '' \
    --appendonly yes --appendfsync "$fsync" --logfile "$dir/log" &
  pid=$!
  until [ "$(redis-cli -p "$port" ping 2> /dev/null)" = PONG ]; do
    kill -0 "$pid" 2> /dev/null || { cat "$dir/log"; exit 1; }
    sleep 0.1
  done
  bench "redis-server $("$tmp/redis-server" --version | cut -d' ' -f3) appendonly yes, appendfsync $fsync" "$port"
  stop
done

#!/usr/bin/env bash
# Set-up, release build, and the benchmark on a temporary directory.
# Extra arguments go to corodb-bench (e.g. --benchmarks=fillsync --num=20000).
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh
cmake --preset release > /dev/null
cmake --build --preset release -j "$(nproc)" --target corodb-bench

dir=$(mktemp -d "${TMPDIR:-/var/tmp}/corodb-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
build/release/bench/db/corodb-bench --db="$dir" --engines=corodb,leveldb "$@"

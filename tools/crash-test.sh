#!/usr/bin/env bash
# The crash loop on a release build: N rounds (default 200) of corodb-stress
# (threads × coroutines, 64 KiB memtables and tables so flushes and
# compactions never stop) -> SIGKILL at a random moment -> reopen and verify
# the whole DB against the expected state kept outside the process. Prints
# each failure's seed and commands, the flushes and compactions the killed
# processes did, and "N passed, M failed"; exits non-zero on a failure.
#
#   tools/crash-test.sh [N] [corodb-stress flags, e.g. --backend=threadpool --threads=8]
#
# CRASH_SEED=S replays a loop (round r uses seed S+r); CRASH_MAX_SECONDS
# sets the longest run before a kill (default 2). See test/stress/stress.h.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
shift || true
tools/setup.sh > /dev/null
cmake --preset release > /dev/null
cmake --build --preset release --target corodb-stress > /dev/null
exec test/stress/crash_loop.sh build/release/test/stress/corodb-stress "$n" "$@"

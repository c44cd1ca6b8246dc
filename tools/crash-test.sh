#!/usr/bin/env bash
# Runs the SIGKILL crash test N times (default 200) on a release build and
# prints "N passed, M failed". The children run with 64 KiB memtables and
# tables, so the kills land among flushes and compactions; the report says
# how many the children completed, and a run in which none compacted fails.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
tools/setup.sh > /dev/null
cmake --preset release > /dev/null
cmake --build --preset release --target crash_test > /dev/null
build/release/test/db/crash_test --iterations="$n"

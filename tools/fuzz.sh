#!/usr/bin/env bash
# Builds the fuzz preset (clang 14, libFuzzer, ASan + UBSan) and runs every
# fuzzer for SECONDS (default 20) on its corpus, failing on any crash,
# invariant failure, leak or timeout.
#   tools/fuzz.sh          # 20 s each (what `tools/test.sh fuzz` runs)
#   tools/fuzz.sh 600      # longer
#   FUZZ_TARGETS="block table" tools/fuzz.sh 60
# Seeds come from fuzz/corpus/<target>/ (written by fuzz_seeds, committed);
# what a run adds is kept in build/fuzz/corpus/<target>/ for the next run, and
# a crashing input lands in build/fuzz/artifacts/ (its path is printed; rerun
# it with build/fuzz/fuzz/<target>_fuzz <file>).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
targets=${FUZZ_TARGETS:-"log_reader block table version_edit write_batch recovery resp_parser"}

tools/setup.sh
cmake --preset fuzz > /dev/null
cmake --build --preset fuzz -j "$(nproc)" --target corodb_fuzzers

mkdir -p build/fuzz/artifacts
passed=0
failed=0
for t in $targets; do
  if [ "$t" = resp_parser ]; then
    bin=build/fuzz/examples/resp_server/resp_parser_fuzz
  else
    bin=build/fuzz/fuzz/${t}_fuzz
  fi
  work=build/fuzz/corpus/$t
  mkdir -p "$work"
  seeds=()
  [ -d "fuzz/corpus/$t" ] && seeds=("fuzz/corpus/$t")
  log=build/fuzz/artifacts/$t.log
  # -timeout: one input running 25 s is a hang; -rss_limit_mb: a leak or a
  # runaway allocation fails the run too.
  if "$bin" "$work" "${seeds[@]}" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=4096 \
      -artifact_prefix="build/fuzz/artifacts/$t-" -print_final_stats=1 > "$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz: $t: ok, ${runs:-?} runs in ${seconds} s, corpus $(ls "$work" | wc -l) inputs"
    passed=$((passed + 1))
  else
    echo "fuzz: $t: FAILED (log: $log)"
    grep -E "invariant failed|ERROR:|SUMMARY:|Test unit written to" "$log" | head -20 || true
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

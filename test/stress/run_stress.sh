#!/usr/bin/env bash
# Runs corodb-stress once on a fresh DB and expected state in a private
# temporary directory (removed afterwards unless the run failed):
#   test/stress/run_stress.sh CORODB_STRESS [flags]
# Exit status: corodb-stress's (77: a skip); 1 also when the run did not
# both flush and compact.
set -uo pipefail
bin=$1
shift
work=$(mktemp -d "${TMPDIR:-/tmp}/corodb-stress.XXXXXX")
"$bin" --db="$work/db" --expected_state="$work/expected" "$@" | tee "$work/out"
rc=${PIPESTATUS[0]}
# The point is the workload with flushes and compactions running.
if [ "$rc" -eq 0 ] && ! grep -Eq '^run: .* flushes=[1-9][0-9]* compactions=[1-9]' "$work/out"; then
  echo "the run neither flushed nor compacted (see the run: line): it tested too little"
  rc=1
fi
if [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; then
  rm -rf "$work"
else
  echo "state kept in $work"
fi
exit "$rc"

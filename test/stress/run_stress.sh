#!/usr/bin/env bash
# Runs corodb-stress once on a fresh DB and expected state in a private
# temporary directory (removed afterwards unless the run failed):
#   test/stress/run_stress.sh CORODB_STRESS [flags]
# Exit status: corodb-stress's (77: a skip).
set -uo pipefail
bin=$1
shift
work=$(mktemp -d "${TMPDIR:-/tmp}/corodb-stress.XXXXXX")
"$bin" --db="$work/db" --expected_state="$work/expected" "$@"
rc=$?
if [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; then
  rm -rf "$work"
else
  echo "state kept in $work"
fi
exit "$rc"

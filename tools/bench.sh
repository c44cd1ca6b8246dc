#!/usr/bin/env bash
# The representative suite: set-up, release build, then corodb, LevelDB and
# RocksDB side by side on a temporary directory —
#   1. every db_bench workload and YCSB load, A-F (one thread, one op in flight);
#   2. fillsync with 1 and with 64 writers;
#   3. cold random reads (page cache emptied, O_DIRECT where the engine has
#      it) at 1 and 32 operations in flight, on a database 4x the block cache.
# Each phase prints its table; at the end the phases' JSON is merged into
# suite.json and drawn as suite.svg, next to suite.txt (every table), in
# $OUT (default build/bench-results/DATE).
#
#   tools/bench.sh                        # the suite, about 3 minutes here
#   tools/bench.sh --repeats=3            # extra flags go to every phase
#   NUM=2000000 OUT=/tmp/r tools/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh > /dev/null
cmake --preset release > /dev/null
cmake --build --preset release -j "$(nproc)" --target corodb-bench

NUM=${NUM:-500000}
OUT=${OUT:-build/bench-results/$(date +%Y%m%d-%H%M%S)}
ENGINES=${ENGINES:-corodb,leveldb,rocksdb}
mkdir -p "$OUT"
dir=$(mktemp -d "${TMPDIR:-/var/tmp}/corodb-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
bench=build/release/bench/db/corodb-bench
common=(--engines="$ENGINES" --bloom_bits=10 --db="$dir/db")
start=$(date +%s)

phase() {  # phase NAME FLAGS...: runs, prints and keeps the table and the JSON
  local name=$1
  shift
  echo "== $name" | tee -a "$OUT/suite.txt"
  "$bench" "${common[@]}" "$@" --json_out="$OUT/$name.json" | tee -a "$OUT/suite.txt"
  echo | tee -a "$OUT/suite.txt"
}

phase 1-main --num="$NUM" --reads=$((NUM / 2)) \
  --benchmarks=fillseq,fillbatch,fill100K,fillrandom,overwrite,readrandom,readmissing,readhot,readseq,readreverse,seekrandom,multireadrandom,readwhilewriting,compact,stats,deleteseq,deleterandom,ycsb-load,ycsb-a,ycsb-b,ycsb-c,ycsb-d,ycsb-e,ycsb-f \
  "$@"
phase 2-fillsync-1 --num="$NUM" --benchmarks=fillsync --ops=4000 "$@"
phase 3-fillsync-64 --num="$NUM" --benchmarks=fillsync --ops=40000 --concurrency=64 "$@"
# The cold reads read what fillrandom leaves: NUM entries, about 4x the
# default 8 MiB block cache at NUM=500000.
phase 4-cold-fill --num="$NUM" --benchmarks=fillrandom --keep_db "$@"
phase 5-cold-reads-1 --num="$NUM" --use_existing_db --benchmarks=readrandom --reads=4000 --cold --direct_reads "$@"
phase 6-cold-reads-32 --num="$NUM" --benchmarks=readrandom --reads=60000 --cold --direct_reads --concurrency=32 \
  --use_existing_db "$@"

# One JSON and one picture for the whole suite: each phase's rows, named by
# what distinguishes the phase.
/usr/bin/python3 - "$OUT" <<'EOF'
import json, os, sys
out = sys.argv[1]
phases = [("1-main", ""), ("2-fillsync-1", " 1 writer"), ("3-fillsync-64", " 64 writers"),
          ("5-cold-reads-1", " cold qd1"), ("6-cold-reads-32", " cold qd32")]
merged = {"config": None, "results": []}
for name, suffix in phases:
    with open(os.path.join(out, name + ".json")) as f:
        run = json.load(f)
    if merged["config"] is None:
        merged["config"] = dict(run["config"])
        merged["config"]["phases"] = []
    merged["config"]["phases"].append({"name": name, "config": run["config"]})
    for row in run["results"]:
        row = dict(row)
        row["benchmark"] += suffix
        merged["results"].append(row)
with open(os.path.join(out, "suite.json"), "w") as f:
    json.dump(merged, f, indent=1)
EOF
tools/plot.py "$OUT/suite.json" "$OUT/suite.svg"
echo "suite: $(( $(date +%s) - start )) s; tables in $OUT/suite.txt, picture in $OUT/suite.svg"

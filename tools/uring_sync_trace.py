#!/usr/bin/python3
"""How a run's io_uring fdatasyncs behaved, from the kernel's own tracepoints.

usage:
  perf record -e io_uring:io_uring_submit_req -e io_uring:io_uring_complete \\
      -o $TMPDIR/sync.data -- build/release/bench/db/corodb-bench ...
  perf script -i $TMPDIR/sync.data | tools/uring_sync_trace.py

Prints, for the FSYNC requests (IORING_OP_FSYNC, datasync or not):
  - their latency in the kernel, submission to completion (µs);
  - the gap from each completion to the next FSYNC's submission (µs): the
    time the engine spent between a group's sync and the next group's;
  - how many FSYNCs were in flight when each was submitted (itself included):
    with pipelined group commit, ideally two.
"""
import re
import statistics
import sys

EVENT = re.compile(
    r"\s(\d+\.\d+):\s+io_uring:io_uring_(submit_req|complete): ring ([0-9a-fx]+), "
    r"req ([0-9a-fx]+), user_data ([0-9a-fx]+)(?:, opcode (\w+))?")


def quantile(values, q):
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def describe(name, values):
    if not values:
        print(f"{name}: none")
        return
    print(f"{name}: n {len(values)}, mean {statistics.mean(values):.1f}, "
          f"p50 {quantile(values, 0.5):.1f}, p90 {quantile(values, 0.9):.1f}, "
          f"p99 {quantile(values, 0.99):.1f}")


def main():
    submitted = {}  # (ring, req) -> submission time (s), FSYNCs in flight only
    latencies, gaps = [], []
    in_flight = {}
    last_completion = None
    for line in sys.stdin:
        m = EVENT.search(line)
        if not m:
            continue
        t, kind, ring, req, opcode = float(m.group(1)), m.group(2), m.group(3), m.group(4), m.group(6)
        key = (ring, req)
        if kind == "submit_req":
            if opcode != "FSYNC":
                continue
            submitted[key] = t
            in_flight[len(submitted)] = in_flight.get(len(submitted), 0) + 1
            if last_completion is not None:
                gaps.append((t - last_completion) * 1e6)
        elif key in submitted:
            latencies.append((t - submitted.pop(key)) * 1e6)
            last_completion = t
    describe("fsync latency in the kernel (us)", latencies)
    describe("completion to next fsync submission (us)", gaps)
    total = sum(in_flight.values())
    shares = ", ".join(f"{n}: {count} ({100.0 * count / total:.0f} %)"
                       for n, count in sorted(in_flight.items()))
    print(f"fsyncs in flight at submission, itself included: {shares or 'none'}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Runs corodb-io-bench and the matching fio jobs back to back, N times, and
prints the medians as a Markdown table (the table in docs/benchmarks.md).

usage: vs_fio.py BENCH_BINARY FILE [--reps=3] [--seconds=10] [--only=NAME,...]

FILE must be on the disk under test; the randread file (FILE) is created by
corodb-io-bench if missing and kept; append/seqwrite scratch files are removed.
Every raw result is printed to stderr as one JSON line.
"""
import json
import os
import statistics
import subprocess
import sys


def run_corodb(bench, file, seconds, args):
    cmd = [bench, f"--file={file}", f"--seconds={seconds}", "--json"] + args
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    j = json.loads(out)
    return {"iops": j["iops"], "mbps": j["mbps"], "p50_us": j["p50_us"],
            "p99_us": j["p99_us"], "p999_us": j["p999_us"], "cpu_s": j["cpu_s"],
            "iops_per_cpu_s": j["iops_per_cpu_s"], "cmd": " ".join(cmd)}


def run_fio(file, seconds, args, fresh=False):
    if fresh:
        if os.path.exists(file):
            os.remove(file)
        open(file, "w").close()
    cmd = ["fio", "--name=j", f"--filename={file}", f"--runtime={seconds}", "--time_based",
           "--lat_percentiles=1", "--output-format=json"] + args
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    job = json.loads(out[out.index("{"):])["jobs"][0]
    if fresh:
        os.remove(file)
    d = job["read"] if job["read"]["io_bytes"] > 0 else job["write"]
    pct = d["lat_ns"].get("percentile", {})
    runtime_s = job["job_runtime"] / 1e3
    cpu_s = (job["usr_cpu"] + job["sys_cpu"]) / 100 * runtime_s
    res = {"iops": d["iops"], "mbps": d["bw_bytes"] / 1e6,
           "p50_us": pct.get("50.000000", 0) / 1e3, "p99_us": pct.get("99.000000", 0) / 1e3,
           "p999_us": pct.get("99.900000", 0) / 1e3, "cpu_s": cpu_s,
           "iops_per_cpu_s": d["total_ios"] / cpu_s if cpu_s > 0 else 0,
           "cmd": " ".join(cmd)}
    sync = job.get("sync", {})
    if sync.get("lat_ns", {}).get("N", 0) > 0:
        # fio times the write and the fdatasync separately; one "op" is both.
        sp = sync["lat_ns"].get("percentile", {})
        res["p50_us"] += sp.get("50.000000", 0) / 1e3
        res["p99_us"] += sp.get("99.000000", 0) / 1e3
        res["p999_us"] += sp.get("99.900000", 0) / 1e3
    return res


def cases(bench, file, seconds):
    scratch = file + ".fio"
    rr = ["--ioengine=io_uring", "--direct=1", "--rw=randread", "--bs=4k"]
    return {
        "randread-qd32": [
            ("corodb uring", lambda: run_corodb(bench, file, seconds,
                                                ["--backend=uring", "--mode=randread", "--qd=32", "--direct"])),
            ("corodb threadpool (32 thr)", lambda: run_corodb(bench, file, seconds,
                                                ["--backend=threadpool", "--mode=randread", "--qd=32", "--direct"])),
            ("fio io_uring", lambda: run_fio(file, seconds, rr + ["--iodepth=32"])),
        ],
        "randread-qd1": [
            ("corodb uring", lambda: run_corodb(bench, file, seconds,
                                                ["--backend=uring", "--mode=randread", "--qd=1", "--direct"])),
            ("corodb threadpool (8 thr)", lambda: run_corodb(bench, file, seconds,
                                                ["--backend=threadpool", "--mode=randread", "--qd=1", "--direct"])),
            ("fio io_uring", lambda: run_fio(file, seconds, rr + ["--iodepth=1"])),
        ],
        "append-sync-qd1": [
            ("corodb uring", lambda: run_corodb(bench, file, seconds,
                                                ["--backend=uring", "--mode=append-sync", "--qd=1"])),
            ("corodb threadpool (8 thr)", lambda: run_corodb(bench, file, seconds,
                                                ["--backend=threadpool", "--mode=append-sync", "--qd=1"])),
            ("fio sync", lambda: run_fio(scratch, seconds,
                                         ["--ioengine=sync", "--rw=write", "--bs=4k", "--fdatasync=1",
                                          "--size=1g", "--file_append=1", "--fallocate=none"], fresh=True)),
            ("fio io_uring", lambda: run_fio(scratch, seconds,
                                             ["--ioengine=io_uring", "--iodepth=1", "--rw=write", "--bs=4k",
                                              "--fdatasync=1", "--size=1g", "--file_append=1",
                                              "--fallocate=none"], fresh=True)),
        ],
        "seqwrite-qd4-1m-direct": [
            ("corodb uring", lambda: run_corodb(bench, file, seconds,
                                                ["--backend=uring", "--mode=seqwrite", "--qd=4", "--direct"])),
            ("corodb threadpool (8 thr)", lambda: run_corodb(bench, file, seconds,
                                                ["--backend=threadpool", "--mode=seqwrite", "--qd=4", "--direct"])),
            ("fio io_uring", lambda: run_fio(scratch, seconds,
                                             ["--ioengine=io_uring", "--iodepth=4", "--direct=1", "--rw=write",
                                              "--bs=1m", "--size=1g", "--fallocate=none"], fresh=True)),
        ],
    }


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    bench, file = sys.argv[1], sys.argv[2]
    opts = dict(a[2:].split("=", 1) for a in sys.argv[3:])
    reps, seconds = int(opts.get("reps", 3)), int(opts.get("seconds", 10))
    only = opts["only"].split(",") if "only" in opts else None
    print("| case | run | IOPS | MB/s | p50 µs | p99 µs | p99.9 µs | CPU s | IOPS/CPU-s | loadavg |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, runs in cases(bench, file, seconds).items():
        if only and name not in only:
            continue
        results = {label: [] for label, _ in runs}
        loads = []
        for _ in range(reps):
            for label, fn in runs:  # each pair back to back
                loads.append(os.getloadavg()[0])
                r = fn()
                results[label].append(r)
                print(json.dumps({"case": name, "run": label, **r}), file=sys.stderr, flush=True)
        for label, rs in results.items():
            med = {k: statistics.median(r[k] for r in rs) for k in
                   ("iops", "mbps", "p50_us", "p99_us", "p999_us", "cpu_s", "iops_per_cpu_s")}
            print(f"| {name} | {label} | {med['iops']:.0f} | {med['mbps']:.1f} | {med['p50_us']:.1f} | "
                  f"{med['p99_us']:.1f} | {med['p999_us']:.1f} | {med['cpu_s']:.2f} | "
                  f"{med['iops_per_cpu_s']:.0f} | {statistics.median(loads):.1f} |", flush=True)


if __name__ == "__main__":
    main()

// The engines corodb-bench drives: corodb (coroutines), corodb through its
// blocking facade, LevelDB and RocksDB. Each is opened on its own directory
// for one run of one workload; the workers share a RunContext.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "workload.h"

namespace corodb::bench {

double CpuSeconds();

// What one run shares between the runner, the engine and its workers.
struct RunContext {
  RunContext(const Workload& w, const Flags& f, const ValueGenerator& values, LiveData& live)
      : w(w), f(f), values(values), live(live), st(Workers(f)) {}

  const Workload& w;
  const Flags& f;
  const ValueGenerator& values;
  LiveData& live;
  RunState st;
  std::chrono::steady_clock::time_point start;
  double cpu_start = 0;
  // Set by the last main worker to finish: the run's end (the writer of
  // readwhilewriting and background work after it are not timed).
  std::chrono::steady_clock::time_point end;
  double cpu_end = 0;
  std::atomic<int> active{0};

  // Call before the workers start.
  void Begin();
  // Bookkeeping after `op` took `micros`: latency, count, live data; or the
  // run fails with `error` ("" when the op succeeded).
  void Complete(const Op& op, int worker, bool writer, float micros, const std::string& error,
                const std::string& engine);
  // Call when `op` is taken, before it runs (prefetches Complete's bookkeeping).
  void Started(const Op& op) const { PrefetchRecord(op, w, live); }
  // A main worker (not the writer) has no more operations.
  void WorkerFinished();
};

// Counters an engine reports about itself (corodb only).
struct EngineCounters {
  bool known = false;
  double file_write_bytes = 0;  // WAL + flushed tables + compaction output
  double writes = 0, groups = 0;
  double stall_micros = 0;
  double cache_hits = 0, cache_misses = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;
  // Opens (creating when missing) the database in `dir`: "" or the error.
  virtual std::string Open(const std::string& dir) = 0;
  // Runs ctx.w with Workers(ctx.f) main workers (plus the writer when
  // ctx.w.writer) until they are done; calls ctx.Begin() first.
  virtual void Run(RunContext& ctx) = 0;
  // The engine's own statistics text (its stats property).
  virtual std::string StatsText() = 0;
  virtual EngineCounters Counters() { return {}; }
  // Closes the database (waits for background work to stop).
  virtual void Close() = 0;
};

// Engines whose calls block: Workers(f) threads (plus the writer) each
// calling Execute for their operations.
class BlockingEngine : public Engine {
 public:
  void Run(RunContext& ctx) override;
  // Runs `op`: "" or the error. Adds bytes of keys and values read by scans to *scanned.
  virtual std::string Execute(const Op& op, bool sync, uint64_t* scanned) = 0;
};

// Runs a kScanAll / kSeekScan `op` on a LevelDB-style blocking iterator
// (LevelDB's, RocksDB's, corodb's SyncIterator): kScanAll walks op.n entries
// from one end, wrapping around; kSeekScan reads up to op.n from op.key.
// Adds the bytes read to *scanned; the caller checks it.status().
template <typename It>
void BlockingScan(It& it, const Op& op, uint64_t* scanned) {
  int64_t n = 0;
  for (bool first = true; n < op.n; first = false) {
    if (op.kind == OpKind::kSeekScan) {
      if (!first) break;
      it.Seek(op.key);
    } else if (op.reverse) {
      it.SeekToLast();
    } else {
      it.SeekToFirst();
    }
    if (!it.Valid()) break;
    for (; it.Valid() && n < op.n; ++n) {
      *scanned += it.key().size() + it.value().size();
      if (op.reverse) {
        it.Prev();
      } else {
        it.Next();
      }
    }
    if (!it.status().ok()) break;
  }
}

// Factories; `f` configures every engine alike.
std::unique_ptr<Engine> NewCorodbEngine(const Flags& f);
std::unique_ptr<Engine> NewCorodbSyncEngine(const Flags& f);
std::unique_ptr<Engine> NewLevelDBEngine(const Flags& f);
std::unique_ptr<Engine> NewRocksDBEngine(const Flags& f);  // nullptr when built without RocksDB

// Lines for the output header: how `engine` is configured against the
// others, and every difference that cannot be removed.
std::vector<std::string> EngineNotes(const std::string& engine, const Flags& f);

// Counters parsed from corodb's "corodb.stats" text.
EngineCounters ParseCorodbStats(const std::string& stats);

}  // namespace corodb::bench

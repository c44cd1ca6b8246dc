#include "engine.h"

#include <sys/resource.h>

#include <cstdlib>
#include <thread>

namespace corodb::bench {

double CpuSeconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void RunContext::Begin() {
  active = Workers(f);
  cpu_start = CpuSeconds();
  start = std::chrono::steady_clock::now();
  if (f.duration > 0) {
    st.deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(f.duration));
  }
}

void RunContext::Complete(const Op& op, int worker, bool writer, float micros, const std::string& error,
                          const std::string& engine) {
  if (!error.empty()) {
    st.Fail(engine + " " + w.name + ": " + error);
    return;
  }
  if (writer) {
    st.writer_latencies.push_back(micros);
    st.writer_done.fetch_add(1, std::memory_order_relaxed);
  } else {
    if (op.kind != OpKind::kScanAll) st.latencies[static_cast<size_t>(worker)].push_back(micros);
    st.done.fetch_add(op.count, std::memory_order_relaxed);
  }
  switch (op.kind) {
    case OpKind::kPut:
    case OpKind::kDelete:
    case OpKind::kBatchPut:
    case OpKind::kReadModifyWrite:
      st.written_keys.fetch_add(op.count, std::memory_order_relaxed);
      RecordWrite(op, w, live);
      break;
    default:
      break;
  }
}

void RunContext::WorkerFinished() {
  if (active.fetch_sub(1) == 1) {
    end = std::chrono::steady_clock::now();
    cpu_end = CpuSeconds();
    st.readers_finished = true;
  }
}

void BlockingEngine::Run(RunContext& ctx) {
  const int workers = Workers(ctx.f);
  auto body = [this, &ctx](int worker, bool writer) {
    OpSource source(ctx.w, ctx.f, ctx.values, ctx.st, worker, writer);
    Op op;
    uint64_t scanned = 0;
    while (source.Next(&op)) {
      ctx.Started(op);
      const auto t0 = std::chrono::steady_clock::now();
      const std::string error = Execute(op, ctx.w.sync, &scanned);
      const float micros = std::chrono::duration<float, std::micro>(std::chrono::steady_clock::now() - t0).count();
      ctx.Complete(op, worker, writer, micros, error, "");
    }
    ctx.st.scanned_bytes.fetch_add(scanned, std::memory_order_relaxed);
    if (!writer) ctx.WorkerFinished();
  };
  ctx.Begin();
  std::vector<std::thread> threads;
  for (int t = 0; t < workers; ++t) threads.emplace_back(body, t, false);
  std::thread writer;
  if (ctx.w.writer) writer = std::thread(body, workers, true);
  for (auto& t : threads) t.join();
  if (writer.joinable()) writer.join();
}

namespace {

double StatField(const std::string& stats, const std::string& field) {
  const std::string needle = field + ": ";
  size_t pos = 0;
  // The field at the start of a line.
  while ((pos = stats.find(needle, pos)) != std::string::npos) {
    if (pos == 0 || stats[pos - 1] == '\n') return std::atof(stats.c_str() + pos + needle.size());
    pos += needle.size();
  }
  return 0;
}

}  // namespace

EngineCounters ParseCorodbStats(const std::string& stats) {
  EngineCounters c;
  c.known = !stats.empty();
  c.file_write_bytes = StatField(stats, "wal_bytes") + StatField(stats, "flush_bytes") +
                       StatField(stats, "compaction_bytes_written");
  c.writes = StatField(stats, "writes");
  c.groups = StatField(stats, "wal_groups");
  c.stall_micros = StatField(stats, "write_stall_micros");
  c.cache_hits = StatField(stats, "block_cache_hits");
  c.cache_misses = StatField(stats, "block_cache_misses");
  return c;
}

std::vector<std::string> EngineNotes(const std::string& engine, const Flags& f) {
  std::vector<std::string> notes;
  const std::string threads = std::to_string(Workers(f));
  if (engine == "corodb") {
    notes.push_back("corodb: " + std::to_string(f.threads) + " thread(s) x " + std::to_string(f.concurrency) +
                    " coroutine(s); I/O backend " + f.backend + "; engine executor " +
                    (f.engine == "shared" && f.threads == 1 ? "shared with the benchmark's thread"
                                                            : "its own thread") +
                    (f.direct_reads ? "; tables read with O_DIRECT" : "") +
                    (f.mmap_reads ? "; tables read through mmap" : "; tables read with preadv2/io_uring"));
  } else if (engine == "corodb-sync") {
    notes.push_back("corodb-sync: corodb through its blocking facade (SyncDB), " + threads + " thread(s)");
  } else if (engine == "leveldb") {
    notes.push_back("leveldb: Debian's libleveldb, " + threads +
                    " thread(s); reads tables through mmap (its default on 64-bit); one background "
                    "compaction thread" +
                    std::string(f.direct_reads ? "; no O_DIRECT option: reads go through the page cache" : ""));
  } else if (engine == "rocksdb") {
    notes.push_back("rocksdb: Debian's librocksdb, " + threads +
                    " thread(s); set to LevelDB's shape: 10 MiB level base x 10, L0 triggers 4/8/12, "
                    "target file size = max_file_size, 2 write buffers, one background job, WAL on, "
                    "round-robin compaction picks" +
                    std::string(f.direct_reads ? "; tables read with O_DIRECT" : ""));
    notes.push_back("rocksdb differences that remain: its table format (format_version 5, whole-table "
                    "bloom filters instead of per-2 KiB filter blocks), table reads through pread "
                    "(no mmap), its own LRU cache and skiplist, statistics off");
  }
  return notes;
}

#ifndef CORODB_BENCH_ROCKSDB
std::unique_ptr<Engine> NewRocksDBEngine(const Flags&) { return nullptr; }
#endif

}  // namespace corodb::bench

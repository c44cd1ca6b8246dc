// corodb-bench: LevelDB's db_bench workloads and YCSB's core workloads, run
// on corodb, LevelDB and RocksDB in one process under one method, so the
// numbers are comparable.
//
//   corodb-bench --benchmarks=fillrandom,readrandom,ycsb-load,ycsb-a
//                --engines=corodb,leveldb,rocksdb --num=1000000 --repeats=3
//
// corodb runs --threads threads, each an io_context with --concurrency
// coroutines that each keep one operation in flight; the blocking engines
// (LevelDB, RocksDB, corodb through SyncDB) run threads x concurrency
// threads. Every engine gets the same key sequences (per-worker generators
// seeded from --seed). With --repeats the engine order alternates (A B C,
// C B A, ...) and the median run of each engine is reported.
#include <fcntl.h>
#include <malloc.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CORODB_BENCH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CORODB_BENCH_SANITIZED 1
#endif
#endif
#ifndef CORODB_BENCH_SANITIZED
#define CORODB_BENCH_SANITIZED 0
#endif
#if CORODB_BENCH_SANITIZED
// The sanitizer runtimes' allocator count (gcc ships no header for it).
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#endif

extern char** environ;

namespace corodb::bench {
namespace {

struct Result {
  std::string engine, workload;
  int64_t ops = 0;
  double seconds = 0, cpu_seconds = 0;
  LatencySummary latency;
  std::vector<float> sorted_latencies;  // kept for --histogram
  double entry_bytes = 0;               // key + value bytes per op (MB/s)
  double avg_group = 0;                 // corodb: writes per WAL group
  double stall_ms = 0;                  // corodb: time no write group could begin
  double cache_hit_rate = -1;           // corodb: block cache hits / lookups; -1 unknown
  double device_write_mb = 0;           // bytes this process caused to be written to storage
  double file_write_mb = 0;             // bytes the engine wrote to its files
  double user_write_mb = 0;             // key + value bytes the workload wrote
  double disk_mb = 0;                   // the database's size on disk after the run
  double live_mb = 0;                   // key + value bytes live in it; 0 unknown
  double peak_rss_mb = 0;
  double peak_heap_mb = 0;              // heap bytes the engine added at its peak (HeapPeak)
  double peak_anon_mb = 0;              // anonymous resident memory added at its peak (HeapPeak)
  std::vector<double> timeline;         // ops/s, one sample per second
  std::string stats_text;               // "stats", --stats
  std::vector<Result> writer;           // readwhilewriting: the writer's row
  bool stats_only = false;              // "stats": no operations, only stats_text
  double ops_per_sec() const { return seconds > 0 ? static_cast<double>(ops) / seconds : 0; }
  double cpu_us_per_op() const { return ops > 0 ? cpu_seconds * 1e6 / static_cast<double>(ops) : 0; }
  double write_amp() const { return Ratio(file_write_mb, user_write_mb); }
  double device_write_amp() const { return Ratio(device_write_mb, user_write_mb); }
  double space_amp() const { return Ratio(disk_mb, live_mb); }
};

// This process's I/O counters (/proc/self/io). `device`: bytes it caused to
// be written to storage (write_bytes - cancelled_write_bytes), by every
// thread, io_uring workers included. `wchar`: bytes passed to write(2)-family
// calls: every byte LevelDB and RocksDB write to their files (corodb's ring
// writes bypass them; corodb reports its own).
struct ProcIo {
  double device = 0, wchar = 0;
};
ProcIo ReadProcIo() {
  ProcIo io;
  std::ifstream in("/proc/self/io");
  std::string name;
  double v = 0, written = 0, cancelled = 0;
  while (in >> name >> v) {
    if (name == "write_bytes:") written = v;
    if (name == "cancelled_write_bytes:") cancelled = v;
    if (name == "wchar:") io.wchar = v;
  }
  io.device = written - cancelled;
  return io;
}

void ResetPeakRss() {
  std::ofstream("/proc/self/clear_refs") << "5";
}
double PeakRssMb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024;
  }
  return 0;
}

// The peak of the bytes this process's allocator has handed out and not
// got back (mallinfo2: uordblks + hblkhd, over every arena) above what it
// was when the tracker started: what the engine holds (memtables, caches,
// table indexes and filters, buffers), not the mapped table files, whose
// pages are the page cache's. Sampled every 200 ms on a thread of its own
// and once more at Finish, so a spike shorter than that can be missed. (A
// sample walks the allocator's free lists under each arena's lock, longer
// the more free chunks there are: sampling more often would start to
// disturb what is measured.) Heap in
// use rather than RssAnon, because RssAnon keeps what an earlier engine of
// the same process freed (arenas that malloc_trim cannot empty): an engine
// measured second would look smaller than it is. The allocator's own
// fragmentation is not counted.
//
// Beside it, the peak growth of the process's anonymous resident memory
// (RssAnon in /proc/self/status, sampled alike): what the engine's heap
// costs in RAM, its allocator's fragmentation and its threads' stacks
// included, the mapped table files (RssFile) not. Meaningful for an engine
// run alone in the process (--engines=corodb): it cannot see memory that
// an earlier engine freed and this one reused.
struct MemoryPeaks {
  double heap_mb = 0;
  double anon_mb = 0;
};
class HeapPeak {
 public:
  HeapPeak()
      : base_(HeapMb()), peak_(base_), anon_base_(AnonMb()), anon_peak_(anon_base_), thread_([this] { Loop(); }) {}
  ~HeapPeak() {
    if (thread_.joinable()) Finish();
  }
  HeapPeak(const HeapPeak&) = delete;
  HeapPeak& operator=(const HeapPeak&) = delete;
  // The peak growths in MiB.
  MemoryPeaks Finish() {
    {
      const std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    peak_ = std::max(peak_, HeapMb());
    anon_peak_ = std::max(anon_peak_, AnonMb());
    return {peak_ - base_, anon_peak_ - anon_base_};
  }

 private:
  static double AnonMb() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("RssAnon:", 0) == 0) return std::atof(line.c_str() + 8) / 1024;
    }
    return 0;
  }
  static double HeapMb() {
#if CORODB_BENCH_SANITIZED
    // The sanitizers replace malloc (mallinfo2 then reports zeros).
    return static_cast<double>(__sanitizer_get_current_allocated_bytes()) / (1024 * 1024);
#else
    const struct mallinfo2 m = ::mallinfo2();
    return static_cast<double>(m.uordblks + m.hblkhd) / (1024 * 1024);
#endif
  }
  void Loop() {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stop_; })) {
      peak_ = std::max(peak_, HeapMb());
      anon_peak_ = std::max(anon_peak_, AnonMb());
    }
  }

  const double base_;
  double peak_;  // guarded by mu_ until the thread is joined
  const double anon_base_;
  double anon_peak_;  // guarded by mu_ until the thread is joined
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// Empties the page cache of the database in `dir`: /proc/sys/vm/drop_caches
// when this process may write it, else posix_fadvise(DONTNEED) on every
// file (after fdatasync, since dirty pages cannot be dropped). Returns the method.
std::string DropCaches(const std::string& dir) {
  ::sync();
  const int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    const bool ok = ::write(fd, "1", 1) == 1;
    ::close(fd);
    if (ok) return "drop_caches";
  }
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const int file = ::open(it->path().c_str(), O_RDONLY | O_CLOEXEC);
    if (file < 0) continue;
    (void)::fdatasync(file);
    (void)::posix_fadvise(file, 0, 0, POSIX_FADV_DONTNEED);
    ::close(file);
  }
  return "posix_fadvise(DONTNEED) per file (drop_caches not permitted)";
}

// The read-ahead of the block device holding `dir`, as text.
std::string ReadAhead(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return "unknown (cannot stat " + dir + ")";
  const std::string dev = std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
  for (const char* rel : {"/queue/read_ahead_kb", "/../queue/read_ahead_kb"}) {
    std::ifstream in("/sys/dev/block/" + dev + rel);
    long kb = 0;
    if (in >> kb) return std::to_string(kb) + " KiB (device " + dev + ")";
  }
  return "unknown (device " + dev + " has no block queue in /sys, e.g. an overlay or tmpfs)";
}

// Samples `done` once per second into ops/s, and shows a progress line on
// stderr when it is a terminal.
class Sampler {
 public:
  Sampler(const std::string& label, const std::atomic<int64_t>& done, int64_t total)
      : thread_([this, label, &done, total] { Loop(label, done, total); }) {}
  std::vector<double> Finish() {
    {
      const std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    return samples_;
  }

 private:
  void Loop(const std::string& label, const std::atomic<int64_t>& done, int64_t total) {
    const bool tty = ::isatty(STDERR_FILENO) != 0;
    auto last_time = std::chrono::steady_clock::now();
    int64_t last = 0;
    std::unique_lock lock(mu_);
    for (;;) {
      const bool stopping = cv_.wait_until(lock, last_time + std::chrono::seconds(1), [&] { return stop_; });
      const auto now = std::chrono::steady_clock::now();
      const int64_t d = done.load(std::memory_order_relaxed);
      const double secs = std::chrono::duration<double>(now - last_time).count();
      // A final partial interval counts when it is long enough to be a rate.
      if (!stopping || secs >= 0.2) samples_.push_back(static_cast<double>(d - last) / secs);
      last = d;
      last_time = now;
      if (stopping) break;
      if (tty) {
        std::fprintf(stderr, "\r%-32s %12lld / %lld ops", label.c_str(), static_cast<long long>(d),
                     static_cast<long long>(total));
      }
    }
    if (tty) std::fprintf(stderr, "\r%80s\r", "");
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<double> samples_;
  std::thread thread_;
};

std::unique_ptr<Engine> MakeEngine(const std::string& name, const Flags& f) {
  if (name == "corodb") return NewCorodbEngine(f);
  if (name == "corodb-sync") return NewCorodbSyncEngine(f);
  if (name == "leveldb") return NewLevelDBEngine(f);
  return NewRocksDBEngine(f);
}

Result RunOne(const std::string& engine_name, const Workload& w, const Flags& f, const ValueGenerator& values,
              LiveData& live, std::string* cold_method) {
  const std::string dir = f.db + "/" + engine_name;
  if (w.fresh_db) {
    std::filesystem::remove_all(dir);
    live.plain.Clear();
    live.ycsb.Clear();
    live.ycsb_records = 0;
    live.known = true;
  }
  std::filesystem::create_directories(f.db);
  Result r;
  r.engine = engine_name;
  r.workload = w.name;
  r.entry_bytes = f.key_size + w.value_size;
  if (w.read && !std::filesystem::exists(dir + "/CURRENT")) {
    std::fprintf(stderr,
                 "corodb-bench: %s has no database in %s for %s to read; run a fill first (or drop "
                 "--use_existing_db)\n",
                 engine_name.c_str(), dir.c_str(), w.name.c_str());
    std::exit(1);
  }
  // The benchmark's own buffers first, so that the engine's memory
  // (HeapPeak, from just before Open) does not include them.
  RunContext ctx(w, f, values, live);
  if (w.ycsb) ctx.st.next_insert = live.ycsb_records > 0 ? live.ycsb_records : (w.read ? f.num : 0);
  ReserveLive(w, f, live);
  const int64_t latency_room = std::min<int64_t>(w.ops / Workers(f) + 16, (int64_t{1} << 24) / Workers(f));
  // Filled once and emptied (the capacity stays), so that their pages are
  // resident before the anon baseline: the run's latencies are not counted
  // as the engine's memory.
  auto reserve_resident = [](std::vector<float>& v, int64_t n) {
    v.resize(static_cast<size_t>(n));
    v.clear();
  };
  for (auto& v : ctx.st.latencies) reserve_resident(v, std::max<int64_t>(latency_room, 16));
  if (w.writer) reserve_resident(ctx.st.writer_latencies, latency_room);
  std::unique_ptr<Engine> engine = MakeEngine(engine_name, f);
  const ProcIo io0 = ReadProcIo();
  ResetPeakRss();
  HeapPeak heap;
  if (const std::string error = engine->Open(dir); !error.empty()) {
    std::fprintf(stderr, "corodb-bench: %s open failed: %s\n", engine_name.c_str(), error.c_str());
    std::exit(1);
  }
  if (w.stats_only) {
    r.stats_only = true;
    r.stats_text = engine->StatsText();
    engine->Close();
    (void)heap.Finish();
    return r;
  }
  if (w.read && f.cold) *cold_method = DropCaches(dir);
  const EngineCounters c0 = engine->Counters();
  Sampler sampler(engine_name + " " + w.name, ctx.st.done, w.ops);
  engine->Run(ctx);
  r.timeline = sampler.Finish();
  const MemoryPeaks memory = heap.Finish();
  r.peak_heap_mb = memory.heap_mb;
  r.peak_anon_mb = memory.anon_mb;
  if (ctx.st.failed) {
    std::fprintf(stderr, "corodb-bench: %s\n", ctx.st.error.c_str());
    std::exit(1);
  }
  r.seconds = std::chrono::duration<double>(ctx.end - ctx.start).count();
  r.cpu_seconds = ctx.cpu_end - ctx.cpu_start;
  r.ops = ctx.st.done.load();
  std::vector<float> all;
  for (auto& v : ctx.st.latencies) all.insert(all.end(), v.begin(), v.end());
  ctx.st.latencies.clear();
  r.latency = Summarize(all);
  if (f.histogram) r.sorted_latencies = std::move(all);
  const EngineCounters c1 = engine->Counters();
  if (f.stats) r.stats_text = engine->StatsText();
  if (c1.known) {
    const double writes = c1.writes - c0.writes, groups = c1.groups - c0.groups;
    r.avg_group = Ratio(writes, groups);
    r.stall_ms = (c1.stall_micros - c0.stall_micros) / 1e3;
    const double hits = c1.cache_hits - c0.cache_hits, misses = c1.cache_misses - c0.cache_misses;
    r.cache_hit_rate = hits + misses > 0 ? hits / (hits + misses) : -1;
  }
  if (w.writer) {
    Result wr;
    wr.engine = engine_name;
    wr.workload = w.name + ".writer";
    wr.entry_bytes = r.entry_bytes;
    wr.ops = ctx.st.writer_done.load();
    wr.seconds = r.seconds;
    wr.latency = Summarize(ctx.st.writer_latencies);
    wr.user_write_mb = static_cast<double>(wr.ops) * r.entry_bytes / 1e6;
    r.writer.push_back(std::move(wr));
  }
  engine->Close();
  engine.reset();
  if (w.ycsb) live.ycsb_records = ctx.st.next_insert.load();
  const ProcIo io1 = ReadProcIo();
  // Keys the workload wrote (puts, deletes, batches, read-modify-writes).
  const int64_t written_keys = ctx.st.written_keys.load();
  r.user_write_mb = static_cast<double>(written_keys) * r.entry_bytes / 1e6;
  r.device_write_mb = (io1.device - io0.device) / 1e6;
  r.file_write_mb = c1.known ? (c1.file_write_bytes - c0.file_write_bytes) / 1e6 : (io1.wchar - io0.wchar) / 1e6;
  r.disk_mb = static_cast<double>(DiskBytes(dir)) / 1e6;
  if (live.known && !live.plain.overflowed() && !live.ycsb.overflowed()) {
    r.live_mb = static_cast<double>(live.plain.LiveBytes(f.key_size) + live.ycsb.LiveBytes(f.key_size)) / 1e6;
  }
  r.peak_rss_mb = PeakRssMb();
  return r;
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

std::string ResultJson(const Result& r, double ratio) {
  std::ostringstream o;
  o << "{\"engine\": " << JsonString(r.engine) << ", \"benchmark\": " << JsonString(r.workload)
    << ", \"ops\": " << r.ops << ", \"seconds\": " << Fixed(r.seconds, 3)
    << ", \"ops_per_sec\": " << Fixed(r.ops_per_sec(), 1)
    << ", \"mb_per_sec\": " << Fixed(r.ops_per_sec() * r.entry_bytes / 1e6, 2)
    << ", \"p50_us\": " << Fixed(r.latency.p50, 3) << ", \"p99_us\": " << Fixed(r.latency.p99, 3)
    << ", \"p999_us\": " << Fixed(r.latency.p999, 3) << ", \"cpu_s\": " << Fixed(r.cpu_seconds, 3)
    << ", \"cpu_us_per_op\": " << Fixed(r.cpu_us_per_op(), 2) << ", \"avg_group_size\": " << Fixed(r.avg_group, 2)
    << ", \"stall_ms\": " << Fixed(r.stall_ms, 1)
    << ", \"cache_hit_rate\": " << (r.cache_hit_rate < 0 ? "null" : Fixed(r.cache_hit_rate, 4))
    << ", \"user_write_mb\": " << Fixed(r.user_write_mb, 2) << ", \"file_write_mb\": " << Fixed(r.file_write_mb, 2)
    << ", \"write_amp\": " << Fixed(r.write_amp(), 3) << ", \"device_write_mb\": " << Fixed(r.device_write_mb, 2)
    << ", \"device_write_amp\": " << Fixed(r.device_write_amp(), 3) << ", \"disk_mb\": " << Fixed(r.disk_mb, 2)
    << ", \"live_mb\": " << Fixed(r.live_mb, 2) << ", \"space_amp\": " << Fixed(r.space_amp(), 3)
    << ", \"peak_rss_mb\": " << Fixed(r.peak_rss_mb, 1)
    << ", \"peak_heap_mb\": " << Fixed(r.peak_heap_mb, 3) << ", \"peak_anon_mb\": " << Fixed(r.peak_anon_mb, 3)
    << ", \"ratio_vs_leveldb\": " << Fixed(ratio, 3)
    << ", \"timeline_interval_s\": 1.0, \"timeline\": [";
  for (size_t i = 0; i < r.timeline.size(); ++i) o << (i ? ", " : "") << Fixed(r.timeline[i], 1);
  o << "]";
  if (!r.stats_text.empty()) o << ", \"stats\": " << JsonString(r.stats_text);
  o << "}";
  return o.str();
}

std::string ConfigJson(const Flags& f, const std::string& cold_method, const std::string& read_ahead) {
  std::ostringstream o;
  auto list = [&](const std::vector<std::string>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + JsonString(v[i]);
    return s + "]";
  };
  std::vector<std::string> notes;
  for (const std::string& e : f.engines) {
    for (std::string& n : EngineNotes(e, f)) notes.push_back(std::move(n));
  }
  o << "{\"benchmarks\": " << list(f.benchmarks) << ", \"engines\": " << list(f.engines) << ", \"num\": " << f.num
    << ", \"ops\": " << f.ops << ", \"reads\": " << f.reads << ", \"duration\": " << f.duration
    << ", \"threads\": " << f.threads << ", \"concurrency\": " << f.concurrency
    << ", \"value_size\": " << f.value_size << ", \"key_size\": " << f.key_size
    << ", \"compression_ratio\": " << f.compression_ratio << ", \"repeats\": " << f.repeats
    << ", \"seed\": " << f.seed << ", \"backend\": " << JsonString(f.backend)
    << ", \"bloom_bits\": " << f.bloom_bits << ", \"cache_size\": " << f.cache_size
    << ", \"write_buffer_size\": " << f.write_buffer_size << ", \"max_file_size\": " << f.max_file_size
    << ", \"compaction_readahead\": " << f.compaction_readahead
    << ", \"open_files\": " << f.open_files << ", \"block_size\": " << f.block_size
    << ", \"compression\": " << JsonString(f.compression ? "snappy" : "none")
    << ", \"multiget_batch\": " << f.multiget_batch << ", \"direct_reads\": " << (f.direct_reads ? "true" : "false")
    << ", \"mmap_reads\": " << (f.mmap_reads ? "true" : "false") << ", \"cold\": " << (f.cold ? "true" : "false")
    << ", \"cold_method\": " << JsonString(cold_method) << ", \"read_ahead\": " << JsonString(read_ahead)
    << ", \"notes\": " << list(notes) << "}";
  return o.str();
}

std::string Cell(double v, int digits, bool known = true) { return known ? Fixed(v, digits) : "-"; }

void PrintTable(const Flags& f, const std::vector<Result>& results, const std::vector<double>& ratios,
                const std::string& cold_method, const std::string& read_ahead) {
  std::printf("corodb-bench: num=%lld key=%dB value=%dB threads=%d concurrency=%d (blocking engines: %d threads), "
              "median of %d run(s), seed %llu\n",
              static_cast<long long>(f.num), f.key_size, f.value_size, f.threads, f.concurrency, Workers(f),
              f.repeats, static_cast<unsigned long long>(f.seed));
  std::printf("config: cache %lld B, bloom bits %d, write buffer %lld B, max file %lld B, open files %d, "
              "block %d B, compression %s, db %s\n",
              static_cast<long long>(f.cache_size), f.bloom_bits, static_cast<long long>(f.write_buffer_size),
              static_cast<long long>(f.max_file_size), f.open_files, f.block_size, f.compression ? "snappy" : "none",
              f.db.c_str());
  for (const std::string& e : f.engines) {
    for (const std::string& n : EngineNotes(e, f)) std::printf("  %s\n", n.c_str());
  }
  std::printf("read-ahead of the database's device: %s\n", read_ahead.c_str());
  if (f.cold) std::printf("cold: page cache emptied before each read phase by %s\n", cold_method.c_str());
  if (std::find(f.benchmarks.begin(), f.benchmarks.end(), "multireadrandom") != f.benchmarks.end()) {
    std::printf("multireadrandom: MultiGet batches of %d keys (leveldb has none: the batch's Gets one after "
                "another); ops are keys, latencies per batch\n",
                f.multiget_batch);
  }
  std::printf("wamp: engine file bytes written / user bytes written; samp: size on disk / live bytes; "
              "rss: peak resident set (mapped table pages included); heap: peak heap bytes in use the "
              "engine added from its open to the run's end; anon: peak anonymous resident memory it added "
              "(fragmentation and stacks included; for an engine run alone); group, stall, hit: corodb only\n");
  std::printf("%-11s %-24s %10s %11s %8s %9s %9s %9s %8s %8s %6s %6s %7s %7s %7s %6s %8s %6s %7s\n", "engine",
              "benchmark", "ops", "ops/s", "MB/s", "p50 us", "p99 us", "p99.9 us", "cpu s", "us/op", "wamp", "samp",
              "rss MB", "heap MB", "anon MB", "group", "stall ms", "hit%", "vs ldb");
  for (size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    if (r.stats_only) continue;
    const bool lat = r.latency.p50 > 0 || r.latency.p99 > 0;
    std::printf("%-11s %-24s %10lld %11.0f %8.2f %9s %9s %9s %8.2f %8.2f %6s %6s %7.0f %7s %7s %6s %8s %6s %7s\n",
                r.engine.c_str(), r.workload.c_str(), static_cast<long long>(r.ops), r.ops_per_sec(),
                r.ops_per_sec() * r.entry_bytes / 1e6, Cell(r.latency.p50, 1, lat).c_str(),
                Cell(r.latency.p99, 1, lat).c_str(), Cell(r.latency.p999, 1, lat).c_str(), r.cpu_seconds,
                r.cpu_us_per_op(), Cell(r.write_amp(), 2, r.write_amp() > 0).c_str(),
                Cell(r.space_amp(), 2, r.space_amp() > 0).c_str(), r.peak_rss_mb,
                Fixed(r.peak_heap_mb, 0).c_str(), Fixed(r.peak_anon_mb, 0).c_str(),
                Cell(r.avg_group, 2, r.avg_group > 0).c_str(), Cell(r.stall_ms, 1, r.engine.rfind("corodb", 0) == 0).c_str(),
                Cell(100 * r.cache_hit_rate, 1, r.cache_hit_rate >= 0).c_str(),
                ratios[i] > 0 ? (Fixed(ratios[i], 2) + "x").c_str() : "-");
  }
  for (const Result& r : results) {
    if (!r.stats_text.empty()) std::printf("\n%s %s stats:\n%s\n", r.engine.c_str(), r.workload.c_str(), r.stats_text.c_str());
    if (f.histogram && !r.sorted_latencies.empty()) {
      std::printf("\n%s %s latency histogram (microseconds):\n%s", r.engine.c_str(), r.workload.c_str(),
                  HistogramText(r.sorted_latencies).c_str());
    }
  }
}

// Writes the JSON next to `svg` and runs tools/plot.py over it.
int Plot(const std::string& svg, const std::string& json) {
  std::string json_path = svg;
  if (json_path.size() > 4 && json_path.compare(json_path.size() - 4, 4, ".svg") == 0) json_path.resize(json_path.size() - 4);
  json_path += ".json";
  std::ofstream(json_path) << json;
  const std::string script = CORODB_PLOT_SCRIPT;
  if (!std::filesystem::exists(script)) {
    std::fprintf(stderr, "corodb-bench: --plot needs %s (the source tree's tools/plot.py); the JSON is in %s\n",
                 script.c_str(), json_path.c_str());
    return 1;
  }
  // The script names its interpreter (Debian's python3, which has matplotlib).
  std::vector<std::string> args = {script, json_path, svg};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (const int err = posix_spawn(&pid, script.c_str(), nullptr, nullptr, argv.data(), environ); err != 0) {
    std::fprintf(stderr, "corodb-bench: cannot run %s for --plot: %s\n", script.c_str(), std::strerror(err));
    return 1;
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "corodb-bench: %s failed; the JSON is in %s\n", script.c_str(), json_path.c_str());
    return 1;
  }
  std::fprintf(stderr, "corodb-bench: wrote %s (data: %s)\n", svg.c_str(), json_path.c_str());
  return 0;
}

int Main(int argc, char** argv) {
  const Flags f = ParseFlags(argc, argv);
  for (const std::string& e : f.engines) {
    if (e == "rocksdb" && NewRocksDBEngine(f) == nullptr) Usage("this corodb-bench was built without RocksDB");
  }
  const ValueGenerator values(f.compression_ratio);
  std::filesystem::create_directories(f.db);
  const std::string read_ahead = ReadAhead(f.db);
  std::string cold_method = f.cold ? "not needed (no read phase)" : "";
  std::string code_lock;
  if (f.cold) {
    // drop_caches would also evict the benchmark's own code and libraries,
    // and the first operations after it would pay for reading them back.
    code_lock = ::mlockall(MCL_CURRENT) == 0 ? "the benchmark's code and libraries are locked in memory (mlockall)"
                                             : std::string("mlockall failed (") + std::strerror(errno) +
                                                   "): the benchmark's own code may be read back from disk too";
  }
  std::vector<LiveData> live(f.engines.size());
  if (f.use_existing_db) {
    for (LiveData& l : live) l.known = false;
  }
  // The first Zipfian generator builds a table of 2^20 prefix sums (about
  // 20 ms); built here, it is paid by no engine's timed run (every worker
  // makes a generator, and it used to land in the first engine's first run).
  (void)Zeta(2, kYcsbZipfianConstant);
  std::vector<Result> results;
  for (const std::string& name : f.benchmarks) {
    const Workload w = MakeWorkload(name, f);
    std::vector<std::vector<Result>> runs(f.engines.size());
    const int repeats = w.stats_only ? 1 : f.repeats;
    for (int rep = 0; rep < repeats; ++rep) {
      for (size_t k = 0; k < f.engines.size(); ++k) {
        const size_t e = rep % 2 == 0 ? k : f.engines.size() - 1 - k;
        runs[e].push_back(RunOne(f.engines[e], w, f, values, live[e], &cold_method));
      }
    }
    for (auto& per_engine : runs) {
      std::sort(per_engine.begin(), per_engine.end(),
                [](const Result& a, const Result& b) { return a.ops_per_sec() < b.ops_per_sec(); });
      Result& median = per_engine[per_engine.size() / 2];
      std::vector<Result> writer = std::move(median.writer);
      results.push_back(std::move(median));
      for (Result& wr : writer) results.push_back(std::move(wr));
    }
  }
  if (!f.use_existing_db && !f.keep_db) std::filesystem::remove_all(f.db);

  std::vector<double> ratios;
  for (const Result& r : results) {
    double ratio = 0;
    for (const Result& o : results) {
      if (r.engine != "leveldb" && o.engine == "leveldb" && o.workload == r.workload && o.ops_per_sec() > 0) {
        ratio = r.ops_per_sec() / o.ops_per_sec();
      }
    }
    ratios.push_back(ratio);
  }
  std::string json;
  if (f.json || !f.plot.empty() || !f.json_out.empty()) {
    json = "{\"config\": " + ConfigJson(f, cold_method + (code_lock.empty() ? "" : "; " + code_lock), read_ahead) + ",\n \"results\": [";
    for (size_t i = 0; i < results.size(); ++i) json += (i ? ",\n  " : "\n  ") + ResultJson(results[i], ratios[i]);
    json += "\n]}\n";
  }
  if (f.json) {
    std::fputs(json.c_str(), stdout);
  } else {
    PrintTable(f, results, ratios, cold_method + (code_lock.empty() ? "" : "; " + code_lock), read_ahead);
  }
  std::fflush(stdout);
  if (!f.json_out.empty()) {
    std::ofstream out(f.json_out);
    out << json;
    if (!out) {
      std::fprintf(stderr, "corodb-bench: cannot write %s\n", f.json_out.c_str());
      return 1;
    }
  }
  return f.plot.empty() ? 0 : Plot(f.plot, json);
}

}  // namespace
}  // namespace corodb::bench

int main(int argc, char** argv) { return corodb::bench::Main(argc, argv); }

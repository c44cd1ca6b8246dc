// corodb-bench: LevelDB's db_bench workloads, run on several engines in one
// process so the numbers are comparable.
//
//   corodb-bench --benchmarks=fillseq,fillrandom,overwrite,fillsync
//                --engines=corodb,leveldb --threads=1 --concurrency=64 --num=1000000
//
// corodb runs T threads, each an io_context with C coroutines that each keep
// one operation in flight. LevelDB (Debian's libleveldb) runs T*C threads: its
// only way to have that many operations in flight. readrandom reads the
// database the previous workload left (run it after a fill); multireadrandom
// does the same in MultiGet batches of --multiget_batch random keys (LevelDB,
// which has no MultiGet, does the batch's Gets one after the other; its ops
// are keys, its latencies per batch). The engine "corodb-sync"
// is corodb through its blocking facade (SyncDB), T*C threads like LevelDB. Operation counts are
// totals shared by all writers: --num per workload, --num/100 for fillsync
// (db_bench's convention); --ops overrides every workload's count, --reads
// only the read workloads'.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/filter_policy.h>
#include <leveldb/options.h>
#include <leveldb/write_batch.h>

#include "corodb/db.h"
#include "corodb/filter_policy.h"
#include "corodb/sync_db.h"
#include "util/random.h"

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

struct Flags {
  std::vector<std::string> benchmarks = {"fillseq", "fillrandom", "overwrite", "fillsync"};
  std::vector<std::string> engines = {"corodb", "leveldb"};
  int64_t num = 1000000;
  int64_t ops = -1;
  int64_t reads = -1;  // read workloads' count (db_bench's --reads); -1: as --ops / --num
  int value_size = 100;
  int key_size = 16;
  double compression_ratio = 0.5;
  int threads = 1;
  int concurrency = 1;
  std::string db;
  bool json = false;
  std::string backend = "auto";
  // "shared": with --threads=1 the benchmark's io_context is also the DB's
  // engine executor (Options::engine_context), so writers and the commit loop
  // share one thread and no write crosses threads. "owned": the DB runs its
  // own engine thread.
  std::string engine = "shared";
  // Engine configuration, applied to every engine alike (db_bench's names).
  int bloom_bits = -1;             // -1: no filter
  int64_t cache_size = 8 << 20;    // block cache bytes
  int64_t write_buffer_size = 4 << 20;
  int64_t max_file_size = 2 << 20;
  int open_files = 1000;
  int block_size = 4096;
  bool compression = true;         // snappy
  bool stats = false;              // print each engine's stats property after each run
  int multiget_batch = 32;         // keys per MultiGet (multireadrandom)
  // corodb reads tables with O_DIRECT (Options::use_direct_reads): table
  // reads that miss the block cache go to the disk, not the page cache.
  // LevelDB has no such option and reads through the page cache.
  bool direct_reads = false;
  // Runs of every (workload, engine) pair; the engine order alternates
  // (A B, B A, ...) so neither engine always runs on the disk state the other
  // left behind, and the median run is reported.
  int repeats = 1;
  // Keep the database directories of --db: no workload starts from an empty
  // database, and nothing is removed at the end (db_bench's flag).
  bool use_existing_db = false;
  bool mmap_reads = false;         // corodb: Options::mmap_reads (LevelDB always maps)
};

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    const std::string part = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!part.empty()) out.push_back(part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

[[noreturn]] void Usage(const char* msg) {
  std::fprintf(stderr,
               "corodb-bench: %s\nflags: --benchmarks=LIST --engines=corodb,corodb-sync,leveldb --num=N --ops=N "
               "--value_size=N --key_size=N --compression_ratio=R --threads=T --concurrency=C "
               "--db=DIR --backend=auto|uring|threadpool --engine=shared|owned --repeats=N --json "
               "--bloom_bits=N --cache_size=B --write_buffer_size=B --max_file_size=B --open_files=N "
               "--block_size=B --compression=snappy|none --stats --use_existing_db --mmap_reads "
               "--reads=N --multiget_batch=N --direct_reads\n"
               "benchmarks: fillseq fillrandom overwrite fillsync readrandom readmissing readhot readseq "
               "readreverse seekrandom multireadrandom deleteseq deleterandom\n",
               msg);
  std::exit(2);
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const size_t eq = a.find('=');
    if (a.rfind("--", 0) != 0) Usage(("unexpected argument " + a).c_str());
    const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    const std::string v = eq == std::string::npos ? "" : a.substr(eq + 1);
    if (name == "benchmarks") f.benchmarks = Split(v);
    else if (name == "engines") f.engines = Split(v);
    else if (name == "num") f.num = std::atoll(v.c_str());
    else if (name == "ops") f.ops = std::atoll(v.c_str());
    else if (name == "reads") f.reads = std::atoll(v.c_str());
    else if (name == "multiget_batch") f.multiget_batch = std::max(1, std::atoi(v.c_str()));
    else if (name == "direct_reads") f.direct_reads = v.empty() || v == "1" || v == "true";
    else if (name == "value_size") f.value_size = std::atoi(v.c_str());
    else if (name == "key_size") f.key_size = std::atoi(v.c_str());
    else if (name == "compression_ratio") f.compression_ratio = std::atof(v.c_str());
    else if (name == "threads") f.threads = std::max(1, std::atoi(v.c_str()));
    else if (name == "concurrency") f.concurrency = std::max(1, std::atoi(v.c_str()));
    else if (name == "db") f.db = v;
    else if (name == "backend") f.backend = v;
    else if (name == "engine") f.engine = v;
    else if (name == "repeats") f.repeats = std::max(1, std::atoi(v.c_str()));
    else if (name == "json") f.json = v.empty() || v == "1" || v == "true";
    else if (name == "bloom_bits") f.bloom_bits = std::atoi(v.c_str());
    else if (name == "stats") f.stats = v.empty() || v == "1" || v == "true";
    else if (name == "cache_size") f.cache_size = std::atoll(v.c_str());
    else if (name == "write_buffer_size") f.write_buffer_size = std::atoll(v.c_str());
    else if (name == "max_file_size") f.max_file_size = std::atoll(v.c_str());
    else if (name == "open_files") f.open_files = std::atoi(v.c_str());
    else if (name == "block_size") f.block_size = std::atoi(v.c_str());
    else if (name == "mmap_reads") f.mmap_reads = v.empty() || v == "1" || v == "true";
    else if (name == "use_existing_db") f.use_existing_db = v.empty() || v == "1" || v == "true";
    else if (name == "compression") f.compression = v != "none" && v != "0" && v != "false";
    else Usage(("unknown flag --" + name).c_str());
  }
  if (f.db.empty()) {
    f.db = (std::filesystem::temp_directory_path() / ("corodb-bench-" + std::to_string(::getpid()))).string();
  }
  if (f.key_size < 1 || f.value_size < 0) Usage("bad sizes");
  return f;
}

// Values that compress to about `ratio` of their size, as db_bench makes them.
class ValueGenerator {
 public:
  explicit ValueGenerator(double ratio) {
    corodb::Random rnd(301);
    while (data_.size() < (1 << 20)) {
      const int raw = std::max(1, static_cast<int>(100 * ratio));
      std::string piece(raw, '\0');
      for (char& c : piece) c = static_cast<char>(' ' + rnd.Uniform(95));
      std::string chunk;
      while (chunk.size() < 100) chunk += piece;
      data_ += chunk.substr(0, 100);
    }
  }
  std::string_view Get(uint64_t i, int len) const {
    const size_t pos = (i * 7919) % (data_.size() - static_cast<size_t>(len));
    return std::string_view(data_).substr(pos, static_cast<size_t>(len));
  }

 private:
  std::string data_;
};

std::string MakeKey(uint64_t k, int key_size) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%016llu", static_cast<unsigned long long>(k));
  std::string key(buf);
  if (static_cast<int>(key.size()) < key_size) key.append(static_cast<size_t>(key_size) - key.size(), '0');
  key.resize(static_cast<size_t>(key_size));
  return key;
}

struct Workload {
  enum class Op {
    kPut,
    kDelete,
    kGet,
    kScan,         // iterate from the first key (readseq) or the last (readreverse)
    kSeek,         // a new iterator, Seek to a random key, then kSeekNexts Next()s
  };
  std::string name;
  Op op = Op::kPut;
  bool fresh_db = true;
  bool sync = false;
  bool sequential = false;
  bool reverse = false;   // kScan: from the last key backwards
  bool missing = false;   // kGet: keys that are not in the database (readmissing)
  bool hot = false;       // kGet: keys from the first 1% of the key space (readhot)
  bool read = false;      // reads the database the previous workload left
  int batch = 1;          // keys per operation: MultiGet batches when > 1 (kGet only)
  int64_t ops = 0;        // keys
};

// Next() calls after each Seek of seekrandom (RocksDB's --seek_nexts; the
// issue's definition of seekrandom).
constexpr int kSeekNexts = 10;

Workload MakeWorkload(const std::string& name, const Flags& f) {
  Workload w;
  w.name = name;
  if (name == "fillseq") {
    w.sequential = true;
    w.ops = f.num;
  } else if (name == "fillrandom") {
    w.ops = f.num;
  } else if (name == "overwrite") {
    w.fresh_db = false;
    w.ops = f.num;
  } else if (name == "readrandom" || name == "readmissing" || name == "readhot") {
    w.fresh_db = false;
    w.read = true;
    w.op = Workload::Op::kGet;
    w.missing = name == "readmissing";
    w.hot = name == "readhot";
    w.ops = f.num;
  } else if (name == "readseq" || name == "readreverse") {
    w.fresh_db = false;
    w.read = true;
    w.op = Workload::Op::kScan;
    w.reverse = name == "readreverse";
    w.ops = f.num;
  } else if (name == "seekrandom") {
    w.fresh_db = false;
    w.read = true;
    w.op = Workload::Op::kSeek;
    w.ops = f.num;
  } else if (name == "deleteseq" || name == "deleterandom") {
    w.fresh_db = false;
    w.op = Workload::Op::kDelete;
    w.sequential = name == "deleteseq";
    w.ops = f.num;
  } else if (name == "multireadrandom") {
    w.fresh_db = false;
    w.read = true;
    w.op = Workload::Op::kGet;
    w.batch = f.multiget_batch;
    w.ops = f.num;
  } else if (name == "fillsync") {
    w.sync = true;
    w.ops = std::max<int64_t>(1, f.num / 100);
  } else {
    Usage(("unknown benchmark " + name).c_str());
  }
  if (f.ops > 0) w.ops = f.ops;
  if (f.use_existing_db) w.fresh_db = false;
  if (w.read && f.reads > 0) w.ops = f.reads;
  return w;
}

// The key of operation `i`: sequential, or uniformly random in [0, num).
uint64_t KeyFor(const Workload& w, const Flags& f, uint64_t i, corodb::Random& rnd) {
  if (w.sequential) return i;
  const uint64_t range = w.hot ? std::max<uint64_t>(1, static_cast<uint64_t>(f.num) / 100)
                               : static_cast<uint64_t>(f.num);
  return (static_cast<uint64_t>(rnd.Next()) << 31 ^ rnd.Next()) % range;
}

// The key of operation `i` as bytes (readmissing: a key just after an
// existing one, so it is never found but lands among existing keys).
std::string WorkloadKey(const Workload& w, const Flags& f, uint64_t i, corodb::Random& rnd) {
  std::string key = MakeKey(KeyFor(w, f, i, rnd), f.key_size);
  if (w.missing) key.back() = '.';
  return key;
}

struct Result {
  std::string engine, workload;
  int64_t ops = 0;
  double seconds = 0, cpu_seconds = 0;
  double p50 = 0, p99 = 0, p999 = 0;  // microseconds
  double avg_group = 0;               // corodb only
  double stall_ms = 0;                // corodb only: time no write group could begin
  double write_mb = 0;                // bytes this run sent to storage (/proc/self/io)
  double file_write_mb = 0;           // bytes the engine wrote to its files (see FileWriteBytes)
  double user_mb = 0;                 // key + value bytes written by the workload
  double peak_rss_mb = 0;             // peak resident memory during the run (VmHWM)
  double write_amp() const { return user_mb > 0 ? write_mb / user_mb : 0; }
  double file_write_amp() const { return user_mb > 0 ? file_write_mb / user_mb : 0; }
  double ops_per_sec() const { return seconds > 0 ? static_cast<double>(ops) / seconds : 0; }
  double cpu_us_per_op() const { return ops > 0 ? cpu_seconds * 1e6 / static_cast<double>(ops) : 0; }
};

double CpuSeconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// This process's I/O counters (/proc/self/io), read in one pass.
// `device`: bytes it has caused to be written to storage (write_bytes minus
// cancelled_write_bytes: dirty pages of files deleted before writeback),
// counted when pages are dirtied, by every thread (io_uring workers
// included). `wchar`: bytes passed to write(2)-family calls — every byte
// LevelDB writes to its files; corodb's ring writes do not pass through
// them, so its file bytes come from its own statistics instead.
struct ProcIo {
  double device = 0;
  double wchar = 0;
};
ProcIo ReadProcIo() {
  ProcIo io;
  std::FILE* f = std::fopen("/proc/self/io", "r");
  if (f == nullptr) return io;
  char line[256];
  double written = 0, cancelled = 0;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    unsigned long long v;
    if (std::sscanf(line, "write_bytes: %llu", &v) == 1) written = static_cast<double>(v);
    if (std::sscanf(line, "cancelled_write_bytes: %llu", &v) == 1) cancelled = static_cast<double>(v);
    if (std::sscanf(line, "wchar: %llu", &v) == 1) io.wchar = static_cast<double>(v);
  }
  std::fclose(f);
  io.device = written - cancelled;
  return io;
}

// Peak RSS: reset it (clear_refs 5, Linux >= 4.0) before a run, read it after.
void ResetPeakRss() {
  if (std::FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", f);
    std::fclose(f);
  }
}
double PeakRssMb() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  double kb = 0;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    unsigned long long v;
    if (std::sscanf(line, "VmHWM: %llu kB", &v) == 1) kb = static_cast<double>(v);
  }
  std::fclose(f);
  return kb / 1024;
}

// Measures storage writes and peak memory from construction to Finish().
class ResourceMeter {
 public:
  ResourceMeter() : io0_(ReadProcIo()) { ResetPeakRss(); }
  void Finish(const Workload& w, const Flags& f, Result* r) const;
  double wchar_delta() const { return ReadProcIo().wchar - io0_.wchar; }

 private:
  ProcIo io0_;
};

// Shared by the workers of one run: the next operation index, latencies, progress.
struct RunState {
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::atomic<bool> failed{false};
  std::vector<std::vector<float>> latencies;  // per worker, microseconds
};

void Percentiles(RunState& st, Result* r) {
  std::vector<float> all;
  for (auto& v : st.latencies) all.insert(all.end(), v.begin(), v.end());
  if (all.empty()) return;
  std::sort(all.begin(), all.end());
  auto at = [&](double q) { return static_cast<double>(all[std::min(all.size() - 1, static_cast<size_t>(q * all.size()))]); };
  r->p50 = at(0.50);
  r->p99 = at(0.99);
  r->p999 = at(0.999);
}

// Prints a live progress line on a terminal while `st` advances.
class Progress {
 public:
  Progress(const std::string& label, RunState& st, int64_t total) {
    if (!::isatty(STDERR_FILENO)) return;
    thread_ = std::thread([this, label, &st, total] {
      while (!stop_.load()) {
        std::fprintf(stderr, "\r%-24s %10lld / %lld ops", label.c_str(), static_cast<long long>(st.done.load()),
                     static_cast<long long>(total));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      std::fprintf(stderr, "\r%80s\r", "");
    });
  }
  ~Progress() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

void ResourceMeter::Finish(const Workload& w, const Flags& f, Result* r) const {
  r->write_mb = (ReadProcIo().device - io0_.device) / 1e6;
  r->user_mb = w.read ? 0 : static_cast<double>(r->ops) * (f.key_size + f.value_size) / 1e6;
  r->peak_rss_mb = PeakRssMb();
}

// ---- corodb ----

// Bytes of keys and values the scans touched (so the reads are not idle).
std::atomic<uint64_t> g_scanned_bytes{0};

// A scan's share of entries for one worker (readseq/readreverse: every
// worker walks the database from its own iterator, wrapping around).
int64_t ScanQuota(const Workload& w, const Flags& f) {
  return std::max<int64_t>(1, w.ops / (f.threads * f.concurrency));
}

// Scans `quota` entries with `it` (corodb). Returns the error, or "".
asio::awaitable<std::string> CorodbScan(corodb::Iterator& it, bool reverse, int64_t quota,
                                        uint64_t* bytes) {
  int64_t n = 0;
  while (n < quota) {
    if (reverse) {
      co_await it.SeekToLast();
    } else {
      co_await it.SeekToFirst();
    }
    if (!it.Valid()) break;  // empty database
    while (it.Valid() && n < quota) {
      *bytes += it.key().size() + it.value().size();
      ++n;
      if (reverse) {
        if (!it.TryPrev()) co_await it.Prev();
      } else {
        if (!it.TryNext()) co_await it.Next();
      }
    }
    if (!it.status().ok()) co_return it.status().ToString();
  }
  co_return "";
}

asio::awaitable<void> CorodbWorker(corodb::DB& db, const Workload& w, const Flags& f,
                                   const ValueGenerator& gen, RunState& st, int worker) {
  corodb::Random rnd(1000 + static_cast<uint32_t>(worker));
  auto& lat = st.latencies[static_cast<size_t>(worker)];
  corodb::WriteOptions wo;
  wo.sync = w.sync;
  if (w.op == Workload::Op::kScan) {
    std::unique_ptr<corodb::Iterator> it = db.NewIterator({});
    uint64_t bytes = 0;
    const std::string error = co_await CorodbScan(*it, w.reverse, ScanQuota(w, f), &bytes);
    g_scanned_bytes.fetch_add(bytes, std::memory_order_relaxed);
    if (!error.empty()) {
      std::fprintf(stderr, "corodb scan failed: %s\n", error.c_str());
      st.failed = true;
    }
    st.done.fetch_add(ScanQuota(w, f), std::memory_order_relaxed);
    co_return;
  }
  std::vector<std::string> keys;
  std::vector<corodb::Slice> slices;
  for (;;) {
    const int64_t i = st.next.fetch_add(w.batch, std::memory_order_relaxed);
    if (i >= w.ops) co_return;
    if (w.batch > 1) {
      const int64_t n = std::min<int64_t>(w.batch, w.ops - i);
      keys.clear();
      for (int64_t j = 0; j < n; ++j) {
        keys.push_back(WorkloadKey(w, f, static_cast<uint64_t>(i + j), rnd));
      }
      slices.assign(keys.begin(), keys.end());
      const auto start = Clock::now();
      const std::vector<corodb::Result<std::string>> got = co_await db.MultiGet({}, slices);
      lat.push_back(std::chrono::duration<float, std::micro>(Clock::now() - start).count());
      for (const corodb::Result<std::string>& r : got) {
        if (!r.ok() && !r.status().IsNotFound()) {
          std::fprintf(stderr, "corodb MultiGet failed: %s\n", r.status().ToString().c_str());
          st.failed = true;
          co_return;
        }
      }
      st.done.fetch_add(n, std::memory_order_relaxed);
      continue;
    }
    const std::string key = WorkloadKey(w, f, static_cast<uint64_t>(i), rnd);
    const auto start = Clock::now();
    corodb::Status s;
    switch (w.op) {
      case Workload::Op::kGet: {
        corodb::Result<std::string> got = co_await db.Get({}, key);
        if (!got.ok() && !got.status().IsNotFound()) s = got.status();
        break;
      }
      case Workload::Op::kSeek: {
        std::unique_ptr<corodb::Iterator> it = db.NewIterator({});
        co_await it->Seek(key);
        for (int j = 0; j < kSeekNexts && it->Valid(); ++j) {
          if (!it->TryNext()) co_await it->Next();
        }
        s = it->status();
        break;
      }
      case Workload::Op::kDelete:
        s = co_await db.Delete(wo, key);
        break;
      default:
        s = co_await db.Put(wo, key, gen.Get(static_cast<uint64_t>(i), f.value_size));
        break;
    }
    lat.push_back(std::chrono::duration<float, std::micro>(Clock::now() - start).count());
    if (!s.ok()) {
      std::fprintf(stderr, "corodb operation failed: %s\n", s.ToString().c_str());
      st.failed = true;
      co_return;
    }
    st.done.fetch_add(1, std::memory_order_relaxed);
  }
}

double StatField(const std::string& stats, const std::string& field) {
  const size_t pos = stats.find(field + ": ");
  return pos == std::string::npos ? 0 : std::atof(stats.c_str() + pos + field.size() + 2);
}

// Bytes corodb wrote to its files between two stats snapshots: WAL, flushed
// tables, compaction outputs.
double CorodbFileWriteMb(const std::string& before, const std::string& after) {
  double mb = 0;
  for (const char* field : {"wal_bytes", "flush_bytes", "compaction_bytes_written"}) {
    mb += (StatField(after, field) - StatField(before, field)) / 1e6;
  }
  return mb;
}

corodb::Options CorodbOptions(const Flags& f) {
  corodb::Options options;
  options.create_if_missing = true;
  corodb::IoBackendKind kind = corodb::IoBackendKind::kAuto;
  if (f.backend == "uring") kind = corodb::IoBackendKind::kUring;
  if (f.backend == "threadpool") kind = corodb::IoBackendKind::kThreadPool;
  options.io_backend = kind;
  if (f.bloom_bits >= 0) options.filter_policy = corodb::NewBloomFilterPolicy(f.bloom_bits);
  options.block_cache_capacity = static_cast<size_t>(f.cache_size);
  options.write_buffer_size = static_cast<size_t>(f.write_buffer_size);
  options.max_file_size = static_cast<size_t>(f.max_file_size);
  options.max_open_files = f.open_files;
  options.block_size = static_cast<size_t>(f.block_size);
  options.mmap_reads = f.mmap_reads;
  options.compression = f.compression ? corodb::CompressionType::kSnappyCompression
                                      : corodb::CompressionType::kNoCompression;
  options.use_direct_reads = f.direct_reads;
  return options;
}

Result RunCorodb(const Workload& w, const Flags& f, const ValueGenerator& gen) {
  const std::string dir = f.db + "/corodb";
  if (w.fresh_db) std::filesystem::remove_all(dir);
  std::filesystem::create_directories(f.db);
  const ResourceMeter meter;
  corodb::Options options = CorodbOptions(f);
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (int t = 0; t < f.threads; ++t) contexts.push_back(std::make_unique<asio::io_context>(1));
  const bool shared_engine = f.engine == "shared" && f.threads == 1;
  if (shared_engine) options.engine_context = contexts[0].get();
  asio::io_context& open_ctx = *contexts[0];
  auto opened = asio::co_spawn(open_ctx, corodb::DB::Open(options, dir), asio::use_future);
  open_ctx.run();
  open_ctx.restart();
  auto db = opened.get();
  if (!db.ok()) {
    std::fprintf(stderr, "corodb open failed: %s\n", db.status().ToString().c_str());
    std::exit(1);
  }
  std::string before_stats;
  (*db)->GetProperty("corodb.stats", &before_stats);

  RunState st;
  const int workers = f.threads * f.concurrency;
  st.latencies.resize(static_cast<size_t>(workers));
  for (auto& v : st.latencies) v.reserve(static_cast<size_t>(w.ops / workers + 16));
  for (int t = 0; t < f.threads; ++t) {
    for (int c = 0; c < f.concurrency; ++c) {
      asio::co_spawn(*contexts[static_cast<size_t>(t)], CorodbWorker(**db, w, f, gen, st, t * f.concurrency + c),
                     [](std::exception_ptr e) {
                       if (e) std::rethrow_exception(e);
                     });
    }
  }
  Result r{"corodb", w.name};
  Progress progress("corodb " + w.name, st, w.ops);
  const double cpu0 = CpuSeconds();
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (auto& ctx : contexts) threads.emplace_back([&ctx] { ctx->run(); });
  for (auto& t : threads) t.join();
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.cpu_seconds = CpuSeconds() - cpu0;
  r.ops = st.done.load();
  Percentiles(st, &r);
  std::string after_stats;
  (*db)->GetProperty("corodb.stats", &after_stats);
  if (f.stats) std::fprintf(stderr, "corodb %s stats:\n%s\n", w.name.c_str(), after_stats.c_str());
  r.file_write_mb = CorodbFileWriteMb(before_stats, after_stats);
  const double writes = StatField(after_stats, "writes") - StatField(before_stats, "writes");
  const double groups = StatField(after_stats, "wal_groups") - StatField(before_stats, "wal_groups");
  r.avg_group = groups > 0 ? writes / groups : 0;
  r.stall_ms = (StatField(after_stats, "write_stall_micros") - StatField(before_stats, "write_stall_micros")) / 1e3;
  open_ctx.restart();
  auto closed = asio::co_spawn(open_ctx, (*db)->Close(), asio::use_future);
  open_ctx.run();
  (void)closed.get();
  db->reset();
  meter.Finish(w, f, &r);
  return r;
}

// ---- engines with blocking calls: one thread per worker ----

// Runs `w` on threads × concurrency threads, each calling `op(key, value)`
// (which returns "" or an error message) for its share of the operations —
// or, when w.batch > 1, `batch_op(keys)` for batches of w.batch keys, or for
// kScan `scan(quota)` once per worker — and fills in r's time, CPU, count
// (keys) and latencies (per call).
template <typename Op, typename Scan, typename BatchOp>
void RunBlockingWorkers(const Workload& w, const Flags& f, const ValueGenerator& gen, Op op,
                        Scan scan, BatchOp batch_op, Result* r) {
  RunState st;
  const int workers = f.threads * f.concurrency;
  st.latencies.resize(static_cast<size_t>(workers));
  for (auto& v : st.latencies) v.reserve(static_cast<size_t>(w.ops / workers + 16));
  Progress progress(r->engine + " " + w.name, st, w.ops);
  const double cpu0 = CpuSeconds();
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < workers; ++t) {
    threads.emplace_back([&, t] {
      if (w.op == Workload::Op::kScan) {
        // scan(quota) -> "" or an error; each worker walks on its own iterator.
        const std::string error = scan(ScanQuota(w, f));
        if (!error.empty()) {
          std::fprintf(stderr, "%s scan failed: %s\n", r->engine.c_str(), error.c_str());
          st.failed = true;
        }
        st.done.fetch_add(ScanQuota(w, f), std::memory_order_relaxed);
        return;
      }
      corodb::Random rnd(1000 + static_cast<uint32_t>(t));
      auto& lat = st.latencies[static_cast<size_t>(t)];
      std::vector<std::string> keys;
      for (;;) {
        const int64_t i = st.next.fetch_add(w.batch, std::memory_order_relaxed);
        if (i >= w.ops) return;
        if (w.batch > 1) {
          const int64_t n = std::min<int64_t>(w.batch, w.ops - i);
          keys.clear();
          for (int64_t j = 0; j < n; ++j) {
            keys.push_back(WorkloadKey(w, f, static_cast<uint64_t>(i + j), rnd));
          }
          const auto t0 = Clock::now();
          const std::string error = batch_op(keys);
          lat.push_back(std::chrono::duration<float, std::micro>(Clock::now() - t0).count());
          if (!error.empty()) {
            std::fprintf(stderr, "%s operation failed: %s\n", r->engine.c_str(), error.c_str());
            st.failed = true;
            return;
          }
          st.done.fetch_add(n, std::memory_order_relaxed);
          continue;
        }
        const std::string key = WorkloadKey(w, f, static_cast<uint64_t>(i), rnd);
        const std::string_view v = gen.Get(static_cast<uint64_t>(i), f.value_size);
        const auto t0 = Clock::now();
        const std::string error = op(key, v);
        lat.push_back(std::chrono::duration<float, std::micro>(Clock::now() - t0).count());
        if (!error.empty()) {
          std::fprintf(stderr, "%s operation failed: %s\n", r->engine.c_str(), error.c_str());
          st.failed = true;
          return;
        }
        st.done.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (auto& t : threads) t.join();
  r->seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r->cpu_seconds = CpuSeconds() - cpu0;
  r->ops = st.done.load();
  Percentiles(st, r);
}

// Walks `quota` entries with a LevelDB-style blocking iterator (LevelDB's
// own, or corodb's SyncIterator), wrapping around at the end.
template <typename It>
std::string BlockingScan(It& it, bool reverse, int64_t quota) {
  int64_t n = 0;
  uint64_t bytes = 0;
  while (n < quota) {
    if (reverse) {
      it.SeekToLast();
    } else {
      it.SeekToFirst();
    }
    if (!it.Valid()) break;
    for (; it.Valid() && n < quota; ++n) {
      bytes += it.key().size() + it.value().size();
      if (reverse) {
        it.Prev();
      } else {
        it.Next();
      }
    }
    if (!it.status().ok()) return it.status().ToString();
  }
  g_scanned_bytes.fetch_add(bytes, std::memory_order_relaxed);
  return "";
}

// ---- corodb through SyncDB ----

Result RunCorodbSync(const Workload& w, const Flags& f, const ValueGenerator& gen) {
  const std::string dir = f.db + "/corodb-sync";
  if (w.fresh_db) std::filesystem::remove_all(dir);
  std::filesystem::create_directories(f.db);
  const ResourceMeter meter;
  auto db = corodb::SyncDB::Open(CorodbOptions(f), dir);
  if (!db.ok()) {
    std::fprintf(stderr, "corodb open failed: %s\n", db.status().ToString().c_str());
    std::exit(1);
  }
  std::string before_stats;
  (*db)->GetProperty("corodb.stats", &before_stats);
  Result r{"corodb-sync", w.name};
  corodb::WriteOptions wo;
  wo.sync = w.sync;
  RunBlockingWorkers(w, f, gen, [&](const std::string& key, std::string_view v) -> std::string {
    switch (w.op) {
      case Workload::Op::kGet: {
        corodb::Result<std::string> got = (*db)->Get({}, key);
        return got.ok() || got.status().IsNotFound() ? "" : got.status().ToString();
      }
      case Workload::Op::kSeek: {
        std::unique_ptr<corodb::SyncIterator> it = (*db)->NewIterator({});
        it->Seek(key);
        for (int j = 0; j < kSeekNexts && it->Valid(); ++j) it->Next();
        return it->status().ok() ? "" : it->status().ToString();
      }
      case Workload::Op::kDelete: {
        const corodb::Status s = (*db)->Delete(wo, key);
        return s.ok() ? "" : s.ToString();
      }
      default: {
        const corodb::Status s = (*db)->Put(wo, key, v);
        return s.ok() ? "" : s.ToString();
      }
    }
  }, [&](int64_t quota) {
    std::unique_ptr<corodb::SyncIterator> it = (*db)->NewIterator({});
    return BlockingScan(*it, w.reverse, quota);
  }, [&](const std::vector<std::string>& keys) -> std::string {
    const std::vector<corodb::Slice> slices(keys.begin(), keys.end());
    for (const corodb::Result<std::string>& got : (*db)->MultiGet({}, slices)) {
      if (!got.ok() && !got.status().IsNotFound()) return got.status().ToString();
    }
    return "";
  }, &r);
  std::string after_stats;
  (*db)->GetProperty("corodb.stats", &after_stats);
  r.file_write_mb = CorodbFileWriteMb(before_stats, after_stats);
  const double writes = StatField(after_stats, "writes") - StatField(before_stats, "writes");
  const double groups = StatField(after_stats, "wal_groups") - StatField(before_stats, "wal_groups");
  r.avg_group = groups > 0 ? writes / groups : 0;
  r.stall_ms = (StatField(after_stats, "write_stall_micros") - StatField(before_stats, "write_stall_micros")) / 1e3;
  (void)(*db)->Close();
  db->reset();
  meter.Finish(w, f, &r);
  return r;
}

// ---- leveldb ----

Result RunLevelDB(const Workload& w, const Flags& f, const ValueGenerator& gen) {
  const std::string dir = f.db + "/leveldb";
  if (w.fresh_db) std::filesystem::remove_all(dir);
  std::filesystem::create_directories(f.db);
  const ResourceMeter meter;
  leveldb::Options options;
  options.create_if_missing = true;
  std::unique_ptr<leveldb::Cache> cache(leveldb::NewLRUCache(static_cast<size_t>(f.cache_size)));
  options.block_cache = cache.get();
  std::unique_ptr<const leveldb::FilterPolicy> filter(
      f.bloom_bits >= 0 ? leveldb::NewBloomFilterPolicy(f.bloom_bits) : nullptr);
  options.filter_policy = filter.get();
  options.write_buffer_size = static_cast<size_t>(f.write_buffer_size);
  options.max_file_size = static_cast<size_t>(f.max_file_size);
  options.max_open_files = f.open_files;
  options.block_size = static_cast<size_t>(f.block_size);
  options.compression = f.compression ? leveldb::kSnappyCompression : leveldb::kNoCompression;
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(options, dir, &raw);
  if (!s.ok()) {
    std::fprintf(stderr, "leveldb open failed: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  std::unique_ptr<leveldb::DB> db(raw);
  Result r{"leveldb", w.name};
  leveldb::WriteOptions wo;
  wo.sync = w.sync;
  RunBlockingWorkers(w, f, gen, [&](const std::string& key, std::string_view v) -> std::string {
    leveldb::Status ps;
    switch (w.op) {
      case Workload::Op::kGet: {
        std::string value;
        ps = db->Get(leveldb::ReadOptions(), key, &value);
        if (ps.IsNotFound()) ps = leveldb::Status::OK();
        break;
      }
      case Workload::Op::kSeek: {
        // As LevelDB's db_bench: a new iterator per seek.
        std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
        it->Seek(key);
        for (int j = 0; j < kSeekNexts && it->Valid(); ++j) it->Next();
        ps = it->status();
        break;
      }
      case Workload::Op::kDelete:
        ps = db->Delete(wo, key);
        break;
      default:
        ps = db->Put(wo, key, leveldb::Slice(v.data(), v.size()));
        break;
    }
    return ps.ok() ? "" : ps.ToString();
  }, [&](int64_t quota) {
    std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
    return BlockingScan(*it, w.reverse, quota);
  }, [&](const std::vector<std::string>& keys) -> std::string {
    // No MultiGet in LevelDB: the batch's keys one after the other.
    std::string value;
    for (const std::string& key : keys) {
      const leveldb::Status ps = db->Get(leveldb::ReadOptions(), key, &value);
      if (!ps.ok() && !ps.IsNotFound()) return ps.ToString();
    }
    return "";
  }, &r);
  if (f.stats) {
    std::string stats;
    db->GetProperty("leveldb.stats", &stats);
    std::fprintf(stderr, "leveldb %s stats:\n%s\n", w.name.c_str(), stats.c_str());
  }
  db.reset();
  r.file_write_mb = meter.wchar_delta() / 1e6;
  meter.Finish(w, f, &r);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags f = ParseFlags(argc, argv);
  const ValueGenerator gen(f.compression_ratio);
  std::vector<Result> results;
  for (const std::string& name : f.benchmarks) {
    const Workload w = MakeWorkload(name, f);
    std::vector<std::vector<Result>> runs(f.engines.size());
    for (int rep = 0; rep < f.repeats; ++rep) {
      for (size_t k = 0; k < f.engines.size(); ++k) {
        const size_t e = rep % 2 == 0 ? k : f.engines.size() - 1 - k;
        const std::string& engine = f.engines[e];
        if (engine == "corodb") {
          runs[e].push_back(RunCorodb(w, f, gen));
        } else if (engine == "corodb-sync") {
          runs[e].push_back(RunCorodbSync(w, f, gen));
        } else if (engine == "leveldb") {
          runs[e].push_back(RunLevelDB(w, f, gen));
        } else {
          Usage(("unknown engine " + engine).c_str());
        }
      }
    }
    for (auto& per_engine : runs) {
      std::sort(per_engine.begin(), per_engine.end(),
                [](const Result& a, const Result& b) { return a.ops_per_sec() < b.ops_per_sec(); });
      results.push_back(per_engine[per_engine.size() / 2]);  // the median run
    }
  }
  if (!f.use_existing_db) std::filesystem::remove_all(f.db);

  const double entry_bytes = f.key_size + f.value_size;
  auto ratio_for = [&](const Result& r) -> double {
    if (r.engine.rfind("corodb", 0) != 0) return 0;
    for (const Result& o : results) {
      if (o.engine == "leveldb" && o.workload == r.workload && o.ops_per_sec() > 0) {
        return r.ops_per_sec() / o.ops_per_sec();
      }
    }
    return 0;
  };
  if (f.json) {
    std::printf("{\"threads\": %d, \"concurrency\": %d, \"num\": %lld, \"value_size\": %d, \"key_size\": %d, "
                "\"repeats\": %d, \"multiget_batch\": %d, \"direct_reads\": %s, \"results\": [",
                f.threads, f.concurrency, static_cast<long long>(f.num), f.value_size, f.key_size, f.repeats,
                f.multiget_batch, f.direct_reads ? "true" : "false");
    for (size_t i = 0; i < results.size(); ++i) {
      const Result& r = results[i];
      std::printf("%s\n  {\"engine\": \"%s\", \"benchmark\": \"%s\", \"ops\": %lld, \"seconds\": %.3f, "
                  "\"ops_per_sec\": %.1f, \"mb_per_sec\": %.2f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
                  "\"p999_us\": %.1f, \"cpu_s\": %.3f, \"cpu_us_per_op\": %.2f, \"avg_group_size\": %.2f, "
                  "\"stall_ms\": %.1f, \"write_mb\": %.1f, \"write_amp\": %.2f, \"file_write_mb\": %.1f, "
                  "\"file_write_amp\": %.2f, \"peak_rss_mb\": %.1f, "
                  "\"ratio_vs_leveldb\": %.3f}",
                  i == 0 ? "" : ",", r.engine.c_str(), r.workload.c_str(), static_cast<long long>(r.ops),
                  r.seconds, r.ops_per_sec(), r.ops_per_sec() * entry_bytes / 1e6, r.p50, r.p99, r.p999,
                  r.cpu_seconds, r.cpu_us_per_op(), r.avg_group, r.stall_ms, r.write_mb, r.write_amp(),
                  r.file_write_mb, r.file_write_amp(), r.peak_rss_mb, ratio_for(r));
    }
    std::printf("\n]}\n");
    return 0;
  }
  std::printf("threads=%d concurrency=%d (leveldb: %d threads) key=%dB value=%dB, median of %d run(s)\n",
              f.threads, f.concurrency, f.threads * f.concurrency, f.key_size, f.value_size, f.repeats);
  if (std::find(f.benchmarks.begin(), f.benchmarks.end(), "multireadrandom") != f.benchmarks.end()) {
    std::printf("multireadrandom: corodb MultiGet batches of %d random keys; leveldb has no MultiGet "
                "and does the batch's %d Gets one after the other; ops are keys, latencies per "
                "batch\n",
                f.multiget_batch, f.multiget_batch);
  }
  if (f.direct_reads) {
    std::printf("direct_reads: corodb reads tables with O_DIRECT; leveldb has no such option "
                "(page cache)\n");
  }
  std::printf("%-11s %-15s %9s %11s %8s %9s %9s %9s %7s %8s %7s %8s %6s %6s %7s %9s\n", "engine", "benchmark",
              "ops", "ops/s", "MB/s", "p50 us", "p99 us", "p99.9 us", "cpu s", "cpu us/op", "group",
              "stall ms", "fwamp", "dwamp", "rss MB", "vs ldb");
  for (const Result& r : results) {
    const double ratio = ratio_for(r);
    std::printf("%-11s %-15s %9lld %11.0f %8.2f %9.1f %9.1f %9.1f %7.2f %8.2f %7s %8.1f %6.2f %6.2f %7.0f %9s\n",
                r.engine.c_str(),
                r.workload.c_str(), static_cast<long long>(r.ops), r.ops_per_sec(),
                r.ops_per_sec() * entry_bytes / 1e6, r.p50, r.p99, r.p999, r.cpu_seconds, r.cpu_us_per_op(),
                r.engine != "leveldb" ? std::to_string(r.avg_group).substr(0, 5).c_str() : "-", r.stall_ms,
                r.file_write_amp(), r.write_amp(), r.peak_rss_mb, ratio > 0 ? (std::to_string(ratio).substr(0, 5) + "x").c_str() : "-");
  }
  return 0;
}

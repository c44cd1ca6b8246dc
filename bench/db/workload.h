// corodb-bench's flags, workloads and the operations they generate, shared
// by every engine so all engines run the same key sequence.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "bench_util.h"

namespace corodb::bench {

struct Flags {
  std::vector<std::string> benchmarks = {"fillseq", "fillrandom", "overwrite", "fillsync"};
  std::vector<std::string> engines = {"corodb", "leveldb"};
  int64_t num = 1000000;
  int64_t ops = -1;    // every workload's operation count; -1: per workload from --num
  int64_t reads = -1;  // read workloads' count (db_bench's --reads); -1: as --ops / --num
  double duration = 0;  // seconds; > 0: each workload stops after this long (db_bench's --duration)
  int value_size = 100;
  int key_size = 16;
  double compression_ratio = 0.5;
  int threads = 1;
  int concurrency = 1;
  std::string db;
  bool json = false;
  bool histogram = false;
  uint64_t seed = 301;
  std::string backend = "auto";
  // "shared": with --threads=1 the benchmark's io_context is also corodb's
  // engine executor (Options::engine_context). "owned": corodb runs its own
  // engine thread.
  std::string engine = "shared";
  int bloom_bits = -1;  // -1: no filter
  int64_t cache_size = 8 << 20;
  int64_t write_buffer_size = 4 << 20;
  int64_t max_file_size = 2 << 20;
  int64_t compaction_readahead = -1;  // corodb: Options::compaction_readahead_size; -1 its default
  int open_files = 1000;
  int block_size = 4096;
  bool compression = true;  // snappy
  bool stats = false;       // print each engine's stats property after each run
  int multiget_batch = 32;
  bool direct_reads = false;  // corodb and RocksDB read tables with O_DIRECT
  int repeats = 1;
  bool use_existing_db = false;
  bool mmap_reads = false;  // corodb: Options::mmap_reads (LevelDB always maps)
  bool cold = false;        // empty the page cache before each read phase
  std::string plot;         // SVG file to draw (tools/plot.py over the JSON)
  std::string json_out;     // also write the JSON to this file (the table still goes to stdout)
  bool keep_db = false;     // leave --db in place at the end (fresh workloads still start empty)
};

// Parses argv; exits with status 2 and the usage on a bad flag.
Flags ParseFlags(int argc, char** argv);
[[noreturn]] void Usage(const std::string& msg);

// The benchmarks ParseFlags accepts, in the usage's order.
const std::vector<std::string>& BenchmarkNames();

enum class OpKind {
  kPut,
  kDelete,
  kGet,
  kMultiGet,         // keys
  kBatchPut,         // keys / ids, one WriteBatch
  kScanAll,          // n entries from the first key (or the last: reverse), wrapping around
  kSeekScan,         // Seek(key), then read n entries
  kReadModifyWrite,  // Get(key), then Put(key, value)
  kCompact,          // CompactRange over everything
};

// Which keys a workload's operations use.
enum class KeyOrder {
  kSequential,  // op i: key number i (mod --num)
  kUniform,     // uniform in [0, num)
  kHot,         // uniform in the first 1% of [0, num)
  kMissing,     // uniform in [0, num), changed so it is never present
  kZipfian,     // YCSB: scrambled zipfian over the loaded and inserted records
  kLatest,      // YCSB D: skewed towards the latest inserted record
};

struct Workload {
  std::string name;
  OpKind kind = OpKind::kPut;  // the kind of every op, unless `ycsb`
  KeyOrder order = KeyOrder::kUniform;
  bool fresh_db = true;  // starts from an empty database
  bool read = false;     // a read phase: --cold empties the page cache first
  bool sync = false;
  bool reverse = false;  // kScanAll
  bool ycsb = false;     // keys are YCSB's hashed record numbers; ops from the mix below
  bool writer = false;   // readwhilewriting: one more worker writes until the readers finish
  bool stats_only = false;  // "stats": prints each engine's statistics, no operations
  int batch = 1;         // keys per kMultiGet / kBatchPut
  int value_size = 100;
  int64_t ops = 0;       // keys (batches count their keys); with --duration an upper bound
  // YCSB operation mix (fractions summing to 1).
  double read_p = 0, update_p = 0, insert_p = 0, scan_p = 0, rmw_p = 0;
};

// Next() calls after each Seek of seekrandom (RocksDB's --seek_nexts).
constexpr int kSeekNexts = 10;
// YCSB workload E's scan lengths: uniform in [1, kYcsbMaxScan].
constexpr int kYcsbMaxScan = 100;

Workload MakeWorkload(const std::string& name, const Flags& f);

// Workers that run a workload with `f`: threads x concurrency.
inline int Workers(const Flags& f) { return f.threads * f.concurrency; }

struct Op {
  OpKind kind = OpKind::kPut;
  std::string key;
  uint64_t id = 0;          // key number (LiveSet id)
  std::string_view value;
  std::vector<std::string> keys;  // kMultiGet, kBatchPut
  std::vector<uint64_t> ids;      // kBatchPut
  std::vector<std::string_view> values;  // kBatchPut
  int64_t n = 0;            // kScanAll / kSeekScan entries
  bool reverse = false;     // kScanAll
  int64_t count = 1;        // keys this op counts for
};

// The state one run of one workload shares between its workers.
struct RunState {
  explicit RunState(int workers) : latencies(static_cast<size_t>(workers)) {}
  std::atomic<int64_t> next{0};        // next operation index to claim
  std::atomic<int64_t> done{0};        // keys completed by the readers / main workers
  std::atomic<int64_t> writer_done{0};  // readwhilewriting's writer
  std::atomic<int64_t> written_keys{0};  // keys put or deleted, by every worker
  std::atomic<bool> readers_finished{false};
  std::atomic<bool> failed{false};
  std::atomic<uint64_t> next_insert{0};  // YCSB: the next record number to insert
  std::atomic<uint64_t> scanned_bytes{0};
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::vector<std::vector<float>> latencies;  // per worker, microseconds
  std::vector<float> writer_latencies;
  std::mutex error_mu;
  std::string error;  // the first failure

  void Fail(const std::string& what);
};

// The live data of one engine's directory: key numbers of db_bench's key
// space and of YCSB's, with value sizes.
struct LiveData {
  LiveSet plain, ycsb;
  uint64_t ycsb_records = 0;  // YCSB records loaded and inserted so far
  bool known = false;  // false: the database was not built by this process
};

// One worker's operations: Next fills `op` and returns false when the
// workload is done. Each worker has its own generator, seeded from --seed
// and the worker's index, so every engine gets the same sequences.
class OpSource {
 public:
  // `writer`: readwhilewriting's writer (random puts until the readers finish).
  OpSource(const Workload& w, const Flags& f, const ValueGenerator& values, RunState& st, int worker,
           bool writer = false);
  bool Next(Op* op);

 private:
  uint64_t PlainKeyNumber(uint64_t i);
  uint64_t YcsbReadNumber();
  void SetKey(Op* op, uint64_t number, bool ycsb);

  const Workload& w_;
  const Flags& f_;
  const ValueGenerator& values_;
  RunState& st_;
  Rng rng_;
  bool writer_;
  bool scanned_ = false;  // kScanAll: the worker's one op has been handed out
  uint64_t ycsb_records_;
  ScrambledZipfianGenerator zipf_;
  SkewedLatestGenerator latest_;
};

// Records in `live` what a successful `op` changed.
void RecordWrite(const Op& op, const Workload& w, LiveData& live);
// Prefetches what RecordWrite(op, ...) will touch (single-key writes).
void PrefetchRecord(const Op& op, const Workload& w, const LiveData& live);

// Sizes `live` for what `w` may write (before the workers start).
void ReserveLive(const Workload& w, const Flags& f, LiveData& live);

}  // namespace corodb::bench

#include "workload.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>

namespace corodb::bench {

const std::vector<std::string>& BenchmarkNames() {
  static const std::vector<std::string> names = {
      "fillseq",     "fillrandom",  "overwrite", "fillsync",   "fill100K",         "fillbatch",
      "readrandom",  "readmissing", "readhot",   "readseq",    "readreverse",      "seekrandom",
      "deleteseq",   "deleterandom", "readwhilewriting", "multireadrandom", "compact", "stats",
      "ycsb-load",   "ycsb-a",      "ycsb-b",    "ycsb-c",     "ycsb-d",           "ycsb-e",
      "ycsb-f"};
  return names;
}

void Usage(const std::string& msg) {
  std::string names;
  for (const std::string& n : BenchmarkNames()) names += " " + n;
  std::fprintf(stderr,
               "corodb-bench: %s\n"
               "flags: --benchmarks=LIST --engines=corodb,corodb-sync,leveldb,rocksdb --num=N --ops=N --reads=N "
               "--duration=S --value_size=N --key_size=N --compression_ratio=R --threads=T --concurrency=C "
               "--db=DIR --use_existing_db --backend=auto|uring|threadpool --engine=shared|owned --repeats=N "
               "--seed=N --json --json_out=FILE --histogram --stats --plot=FILE.svg --keep_db --cold --direct_reads --mmap_reads "
               "--bloom_bits=N --cache_size=B --write_buffer_size=B --max_file_size=B --compaction_readahead=B --open_files=N "
               "--block_size=B --compression=snappy|none --multiget_batch=N\n"
               "benchmarks:%s\n",
               msg.c_str(), names.c_str());
  std::exit(2);
}

namespace {

bool BoolFlag(const std::string& v) { return v.empty() || v == "1" || v == "true"; }

int64_t IntFlag(const std::string& name, const std::string& v) {
  char* end = nullptr;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0') Usage("--" + name + " needs an integer, got '" + v + "'");
  return n;
}

double DoubleFlag(const std::string& name, const std::string& v) {
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0') Usage("--" + name + " needs a number, got '" + v + "'");
  return d;
}

}  // namespace

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") Usage("LevelDB's db_bench workloads and YCSB on several engines");
    if (a.rfind("--", 0) != 0) Usage("unexpected argument " + a);
    const size_t eq = a.find('=');
    const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    const std::string v = eq == std::string::npos ? "" : a.substr(eq + 1);
    auto positive = [&](int64_t n) {
      if (n < 1) Usage("--" + name + " must be at least 1");
      return n;
    };
    if (name == "benchmarks") f.benchmarks = Split(v);
    else if (name == "engines") f.engines = Split(v);
    else if (name == "num") f.num = positive(IntFlag(name, v));
    else if (name == "ops") f.ops = IntFlag(name, v);
    else if (name == "reads") f.reads = IntFlag(name, v);
    else if (name == "duration") f.duration = DoubleFlag(name, v);
    else if (name == "value_size") f.value_size = static_cast<int>(IntFlag(name, v));
    else if (name == "key_size") f.key_size = static_cast<int>(IntFlag(name, v));
    else if (name == "compression_ratio") f.compression_ratio = DoubleFlag(name, v);
    else if (name == "threads") f.threads = static_cast<int>(positive(IntFlag(name, v)));
    else if (name == "concurrency") f.concurrency = static_cast<int>(positive(IntFlag(name, v)));
    else if (name == "db") f.db = v;
    else if (name == "backend") f.backend = v;
    else if (name == "engine") f.engine = v;
    else if (name == "repeats") f.repeats = static_cast<int>(positive(IntFlag(name, v)));
    else if (name == "seed") f.seed = static_cast<uint64_t>(IntFlag(name, v));
    else if (name == "json") f.json = BoolFlag(v);
    else if (name == "histogram") f.histogram = BoolFlag(v);
    else if (name == "stats") f.stats = BoolFlag(v);
    else if (name == "plot") f.plot = v;
    else if (name == "json_out") f.json_out = v;
    else if (name == "keep_db") f.keep_db = BoolFlag(v);
    else if (name == "cold") f.cold = BoolFlag(v);
    else if (name == "direct_reads") f.direct_reads = BoolFlag(v);
    else if (name == "mmap_reads") f.mmap_reads = BoolFlag(v);
    else if (name == "use_existing_db") f.use_existing_db = BoolFlag(v);
    else if (name == "bloom_bits") f.bloom_bits = static_cast<int>(IntFlag(name, v));
    else if (name == "cache_size") f.cache_size = IntFlag(name, v);
    else if (name == "write_buffer_size") f.write_buffer_size = positive(IntFlag(name, v));
    else if (name == "max_file_size") f.max_file_size = positive(IntFlag(name, v));
    else if (name == "compaction_readahead") {
      f.compaction_readahead = IntFlag(name, v);
      if (f.compaction_readahead < 0) Usage("--compaction_readahead must be >= 0");
    }
    else if (name == "open_files") f.open_files = static_cast<int>(positive(IntFlag(name, v)));
    else if (name == "block_size") f.block_size = static_cast<int>(positive(IntFlag(name, v)));
    else if (name == "multiget_batch") f.multiget_batch = static_cast<int>(positive(IntFlag(name, v)));
    else if (name == "compression") {
      if (v != "snappy" && v != "none") Usage("--compression is snappy or none");
      f.compression = v == "snappy";
    } else {
      Usage("unknown flag --" + name);
    }
  }
  if (f.db.empty()) {
    f.db = (std::filesystem::temp_directory_path() / ("corodb-bench-" + std::to_string(::getpid()))).string();
  }
  if (f.key_size < 1 || f.value_size < 0 || f.value_size > (1 << 20)) {
    Usage("--key_size must be at least 1 and --value_size in [0, 1 MiB]");
  }
  for (const std::string& b : f.benchmarks) {
    if (std::find(BenchmarkNames().begin(), BenchmarkNames().end(), b) == BenchmarkNames().end()) {
      Usage("unknown benchmark " + b);
    }
  }
  for (const std::string& b : f.benchmarks) {
    if (b.rfind("ycsb", 0) == 0 && f.key_size < 16) Usage("the YCSB workloads need --key_size of at least 16");
  }
  for (const std::string& e : f.engines) {
    if (e != "corodb" && e != "corodb-sync" && e != "leveldb" && e != "rocksdb") Usage("unknown engine " + e);
  }
  if (f.backend != "auto" && f.backend != "uring" && f.backend != "threadpool") Usage("unknown --backend");
  if (f.engine != "shared" && f.engine != "owned") Usage("--engine is shared or owned");
  return f;
}

Workload MakeWorkload(const std::string& name, const Flags& f) {
  Workload w;
  w.name = name;
  w.value_size = f.value_size;
  w.ops = f.num;
  auto reads = [&] {
    w.fresh_db = false;
    w.read = true;
  };
  auto ycsb = [&](double read_p, double update_p, double insert_p, double scan_p, double rmw_p) {
    reads();
    w.ycsb = true;
    w.order = KeyOrder::kZipfian;
    w.read_p = read_p;
    w.update_p = update_p;
    w.insert_p = insert_p;
    w.scan_p = scan_p;
    w.rmw_p = rmw_p;
  };
  if (name == "fillseq") {
    w.order = KeyOrder::kSequential;
  } else if (name == "fillrandom") {
  } else if (name == "overwrite") {
    w.fresh_db = false;
  } else if (name == "fillsync") {
    w.sync = true;
    w.ops = std::max<int64_t>(1, f.num / 100);
  } else if (name == "fill100K") {
    w.value_size = 100 * 1000;
    w.ops = std::max<int64_t>(1, f.num / 1000);
  } else if (name == "fillbatch") {
    w.kind = OpKind::kBatchPut;
    w.order = KeyOrder::kSequential;
    w.batch = 1000;
  } else if (name == "readrandom" || name == "readmissing" || name == "readhot") {
    reads();
    w.kind = OpKind::kGet;
    w.order = name == "readmissing" ? KeyOrder::kMissing : name == "readhot" ? KeyOrder::kHot : KeyOrder::kUniform;
  } else if (name == "readseq" || name == "readreverse") {
    reads();
    w.kind = OpKind::kScanAll;
    w.reverse = name == "readreverse";
  } else if (name == "seekrandom") {
    reads();
    w.kind = OpKind::kSeekScan;
  } else if (name == "deleteseq" || name == "deleterandom") {
    w.fresh_db = false;
    w.kind = OpKind::kDelete;
    w.order = name == "deleteseq" ? KeyOrder::kSequential : KeyOrder::kUniform;
  } else if (name == "readwhilewriting") {
    reads();
    w.kind = OpKind::kGet;
    w.writer = true;
  } else if (name == "multireadrandom") {
    reads();
    w.kind = OpKind::kMultiGet;
    w.batch = f.multiget_batch;
  } else if (name == "compact") {
    w.fresh_db = false;
    w.kind = OpKind::kCompact;
    w.ops = 1;
  } else if (name == "stats") {
    w.fresh_db = false;
    w.stats_only = true;
    w.ops = 0;
  } else if (name == "ycsb-load") {
    w.ycsb = true;
    w.order = KeyOrder::kSequential;
  } else if (name == "ycsb-a") {
    ycsb(0.5, 0.5, 0, 0, 0);
  } else if (name == "ycsb-b") {
    ycsb(0.95, 0.05, 0, 0, 0);
  } else if (name == "ycsb-c") {
    ycsb(1, 0, 0, 0, 0);
  } else if (name == "ycsb-d") {
    ycsb(0.95, 0, 0.05, 0, 0);
    w.order = KeyOrder::kLatest;
  } else if (name == "ycsb-e") {
    ycsb(0, 0, 0.05, 0.95, 0);
  } else if (name == "ycsb-f") {
    ycsb(0.5, 0, 0, 0, 0.5);
  } else {
    Usage("unknown benchmark " + name);
  }
  if (w.kind != OpKind::kCompact && !w.stats_only) {
    if (f.ops > 0) w.ops = f.ops;
    if (w.read && f.reads > 0) w.ops = f.reads;
    if (f.duration > 0 && f.ops <= 0 && f.reads <= 0) w.ops = std::numeric_limits<int64_t>::max() / 2;
  }
  if (f.use_existing_db) w.fresh_db = false;
  return w;
}

void RunState::Fail(const std::string& what) {
  const std::lock_guard lock(error_mu);
  if (error.empty()) error = what;
  failed = true;
}

namespace {

uint64_t WorkerSeed(const Flags& f, int worker, bool writer) {
  return FnvHash64(f.seed * 1000003 + static_cast<uint64_t>(worker) * 2 + (writer ? 1 : 0));
}

// YCSB's key chooser covers the records and about twice the inserts expected.
uint64_t YcsbKeySpace(const Workload& w, uint64_t records) {
  const double expected = w.insert_p * static_cast<double>(std::min<int64_t>(w.ops, int64_t{1} << 40));
  return records + static_cast<uint64_t>(2 * expected);
}

}  // namespace

OpSource::OpSource(const Workload& w, const Flags& f, const ValueGenerator& values, RunState& st, int worker,
                   bool writer)
    : w_(w),
      f_(f),
      values_(values),
      st_(st),
      rng_(WorkerSeed(f, worker, writer)),
      writer_(writer),
      ycsb_records_(std::max<uint64_t>(1, st.next_insert.load())),
      zipf_(YcsbKeySpace(w, std::max<uint64_t>(1, st.next_insert.load()))) {}

uint64_t OpSource::PlainKeyNumber(uint64_t i) {
  const uint64_t num = static_cast<uint64_t>(f_.num);
  switch (w_.order) {
    case KeyOrder::kSequential:
      return i % num;
    case KeyOrder::kHot:
      return rng_.Uniform(std::max<uint64_t>(1, num / 100));
    default:
      return rng_.Uniform(num);
  }
}

uint64_t OpSource::YcsbReadNumber() {
  // Only records inserted so far (or being inserted) are chosen.
  const uint64_t inserted = std::max<uint64_t>(1, st_.next_insert.load(std::memory_order_relaxed));
  if (w_.order == KeyOrder::kLatest) return latest_.Next(rng_, inserted - 1);
  for (;;) {
    const uint64_t n = zipf_.Next(rng_);
    if (n < inserted) return n;
  }
}

void OpSource::SetKey(Op* op, uint64_t number, bool ycsb) {
  op->id = number;
  op->key = MakeKey(ycsb ? Permute53(number) : number, f_.key_size);
  // readmissing: a byte no key has, so the key falls among existing keys
  // and is never found.
  if (w_.order == KeyOrder::kMissing) op->key.back() = '.';
}

bool OpSource::Next(Op* op) {
  op->count = 1;
  op->value = {};
  if (st_.failed.load(std::memory_order_relaxed)) return false;
  if (st_.deadline != std::chrono::steady_clock::time_point::max() &&
      std::chrono::steady_clock::now() >= st_.deadline) {
    return false;
  }
  if (writer_) {
    if (st_.readers_finished.load(std::memory_order_relaxed)) return false;
    op->kind = OpKind::kPut;
    SetKey(op, rng_.Uniform(static_cast<uint64_t>(f_.num)), false);
    op->value = values_.Get(rng_.Next(), w_.value_size);
    return true;
  }
  op->kind = w_.kind;
  switch (w_.kind) {
    case OpKind::kScanAll: {
      if (scanned_) return false;
      scanned_ = true;
      op->n = std::max<int64_t>(1, w_.ops / Workers(f_));
      op->count = op->n;
      op->reverse = w_.reverse;
      return true;
    }
    case OpKind::kCompact:
      return st_.next.fetch_add(1, std::memory_order_relaxed) < w_.ops;
    case OpKind::kMultiGet:
    case OpKind::kBatchPut: {
      const int64_t i = st_.next.fetch_add(w_.batch, std::memory_order_relaxed);
      if (i >= w_.ops) return false;
      const int64_t n = std::min<int64_t>(w_.batch, w_.ops - i);
      op->keys.resize(static_cast<size_t>(n));
      op->ids.resize(static_cast<size_t>(n));
      op->values.resize(w_.kind == OpKind::kBatchPut ? static_cast<size_t>(n) : 0);
      for (int64_t j = 0; j < n; ++j) {
        SetKey(op, PlainKeyNumber(static_cast<uint64_t>(i + j)), false);
        op->keys[static_cast<size_t>(j)] = op->key;
        op->ids[static_cast<size_t>(j)] = op->id;
        if (w_.kind == OpKind::kBatchPut) op->values[static_cast<size_t>(j)] = values_.Get(rng_.Next(), w_.value_size);
      }
      op->count = n;
      return true;
    }
    default:
      break;
  }
  const int64_t i = st_.next.fetch_add(1, std::memory_order_relaxed);
  if (i >= w_.ops) return false;
  if (!w_.ycsb) {
    SetKey(op, PlainKeyNumber(static_cast<uint64_t>(i)), false);
    if (w_.kind == OpKind::kSeekScan) op->n = kSeekNexts + 1;
    if (w_.kind == OpKind::kPut) op->value = values_.Get(rng_.Next(), w_.value_size);
    return true;
  }
  if (!w_.read) {  // ycsb-load: record i
    SetKey(op, static_cast<uint64_t>(i), true);
    op->value = values_.Get(rng_.Next(), w_.value_size);
    return true;
  }
  double r = rng_.NextDouble();
  if ((r -= w_.read_p) < 0) {
    op->kind = OpKind::kGet;
    SetKey(op, YcsbReadNumber(), true);
  } else if ((r -= w_.update_p) < 0) {
    op->kind = OpKind::kPut;
    SetKey(op, YcsbReadNumber(), true);
    op->value = values_.Get(rng_.Next(), w_.value_size);
  } else if ((r -= w_.insert_p) < 0) {
    op->kind = OpKind::kPut;
    SetKey(op, st_.next_insert.fetch_add(1, std::memory_order_relaxed), true);
    op->value = values_.Get(rng_.Next(), w_.value_size);
  } else if ((r -= w_.scan_p) < 0) {
    op->kind = OpKind::kSeekScan;
    SetKey(op, YcsbReadNumber(), true);
    op->n = 1 + static_cast<int64_t>(rng_.Uniform(kYcsbMaxScan));
  } else {
    op->kind = OpKind::kReadModifyWrite;
    SetKey(op, YcsbReadNumber(), true);
    op->value = values_.Get(rng_.Next(), w_.value_size);
  }
  return true;
}

void RecordWrite(const Op& op, const Workload& w, LiveData& live) {
  LiveSet& set = w.ycsb ? live.ycsb : live.plain;
  switch (op.kind) {
    case OpKind::kPut:
    case OpKind::kReadModifyWrite:
      set.Put(op.id, static_cast<uint32_t>(op.value.size()));
      break;
    case OpKind::kDelete:
      set.Erase(op.id);
      break;
    case OpKind::kBatchPut:
      for (size_t j = 0; j < op.ids.size(); ++j) set.Put(op.ids[j], static_cast<uint32_t>(op.values[j].size()));
      break;
    default:
      break;
  }
}

void PrefetchRecord(const Op& op, const Workload& w, const LiveData& live) {
  switch (op.kind) {
    case OpKind::kPut:
    case OpKind::kReadModifyWrite:
    case OpKind::kDelete:
      (w.ycsb ? live.ycsb : live.plain).Prefetch(op.id);
      break;
    default:
      break;
  }
}

void ReserveLive(const Workload& w, const Flags& f, LiveData& live) {
  const uint64_t num = static_cast<uint64_t>(f.num);
  live.plain.Reserve(num);
  if (w.ycsb) {
    const uint64_t inserts = w.insert_p > 0 ? static_cast<uint64_t>(std::min<int64_t>(w.ops, 4 * f.num)) : 0;
    live.ycsb.Reserve(num + inserts);
  }
}

}  // namespace corodb::bench

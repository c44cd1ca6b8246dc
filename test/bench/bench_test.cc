// corodb-bench's own logic, where it could be wrong quietly: keys, the YCSB
// distributions against YCSB's formulas, percentile arithmetic, the
// live-data ledger behind space amplification, JSON text, the operation
// sources; and a smoke run of every workload on every engine (per I/O
// backend) whose JSON output is checked for shape and sense.
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "bench_util.h"
#include "support/backends.h"
#include "support/temp_dir.h"
#include "workload.h"

namespace corodb::bench {
namespace {

namespace bdata = boost::unit_test::data;
using test::BackendNames;
using test::TempDir;

BOOST_AUTO_TEST_SUITE(BenchKeysTest)

BOOST_AUTO_TEST_CASE(KeysHaveTheirSizeAndSortAsTheirNumbers) {
  BOOST_TEST(MakeKey(42, 16) == "0000000000000042");
  BOOST_TEST(MakeKey(42, 20) == "00000000000000420000");
  BOOST_TEST(MakeKey(42, 4) == "0042");
  for (const int size : {4, 16, 24}) {
    std::string previous;
    for (uint64_t k = 0; k < 5000; ++k) {
      const std::string key = MakeKey(k, size);
      BOOST_REQUIRE_EQUAL(key.size(), static_cast<size_t>(size));
      BOOST_REQUIRE(previous < key);
      previous = key;
    }
  }
}

BOOST_AUTO_TEST_CASE(Permute53IsABijectionThatScattersNeighbours) {
  std::vector<uint64_t> out;
  for (uint64_t v = 0; v < 300000; ++v) out.push_back(Permute53(v));
  for (const uint64_t x : out) BOOST_REQUIRE_LT(x, uint64_t{1} << 53);
  // Neighbouring numbers land far apart (hashed insert order).
  BOOST_TEST(std::llabs(static_cast<long long>(out[1]) - static_cast<long long>(out[0])) > (1LL << 40));
  std::sort(out.begin(), out.end());
  BOOST_TEST((std::adjacent_find(out.begin(), out.end()) == out.end()));
  // Distinct numbers give distinct 16-byte keys.
  BOOST_TEST(MakeKey(Permute53(7), 16) != MakeKey(Permute53(8), 16));
}

BOOST_AUTO_TEST_CASE(FnvHashIsFnv1aOverTheEightBytes) {
  // FNV-1a of eight zero bytes, computed by hand from the offset basis and prime.
  uint64_t h = 0xCBF29CE484222325ULL;
  for (int i = 0; i < 8; ++i) h *= 1099511628211ULL;
  BOOST_TEST(FnvHash64(0) == h);
  BOOST_TEST(FnvHash64(1) != FnvHash64(256));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(BenchZipfianTest)

double DirectZeta(uint64_t n, double theta) {
  double sum = 0;
  for (uint64_t i = 1; i <= n; ++i) sum += std::pow(static_cast<double>(i), -theta);
  return sum;
}

BOOST_AUTO_TEST_CASE(ZetaMatchesTheSumAndYcsbsConstant) {
  BOOST_TEST(Zeta(1, 0.99) == 1.0);
  BOOST_TEST(Zeta(1000, 0.99) == DirectZeta(1000, 0.99), boost::test_tools::tolerance(1e-12));
  // Past the exact table the Euler-Maclaurin tail takes over.
  const uint64_t n = (uint64_t{1} << 20) + 123457;
  BOOST_TEST(Zeta(n, 0.99) == DirectZeta(n, 0.99), boost::test_tools::tolerance(1e-11));
  // YCSB's precomputed zeta(10^10, 0.99) for its scrambled zipfian.
  BOOST_TEST(Zeta(10'000'000'000ULL, 0.99) == 26.46902820178302, boost::test_tools::tolerance(1e-9));
}

// YCSB's generator's CDF: P(X < k) = max((1 + 0.5^t) / zeta_n, ((k/n)^(1-t) - 1 + eta) / eta) for k >= 2.
double YcsbCdf(uint64_t k, uint64_t n, double theta) {
  const double zetan = Zeta(n, theta);
  const double eta = (1 - std::pow(2.0 / static_cast<double>(n), 1 - theta)) / (1 - Zeta(2, theta) / zetan);
  const double head = (1 + std::pow(0.5, theta)) / zetan;
  const double tail = (std::pow(static_cast<double>(k) / static_cast<double>(n), 1 - theta) - 1 + eta) / eta;
  return std::max(head, tail);
}

BOOST_AUTO_TEST_CASE(ZipfianDrawsFollowYcsbsDistribution) {
  constexpr uint64_t kItems = 1000;
  constexpr int kDraws = 2'000'000;
  ZipfianGenerator zipf(kItems);
  Rng rng(7);
  std::vector<int> counts(kItems);
  for (int i = 0; i < kDraws; ++i) {
    const uint64_t v = zipf.Next(rng);
    BOOST_REQUIRE_LT(v, kItems);
    ++counts[v];
  }
  const double zetan = Zeta(kItems, kYcsbZipfianConstant);
  // Items 0 and 1 are exact: 1 / zeta_n and 2^-0.99 / zeta_n.
  BOOST_TEST(counts[0] / double{kDraws} == 1 / zetan, boost::test_tools::tolerance(0.01));
  BOOST_TEST(counts[1] / double{kDraws} == std::pow(2, -kYcsbZipfianConstant) / zetan,
             boost::test_tools::tolerance(0.02));
  // The cumulative shares follow YCSB's formula...
  int below = 0;
  for (uint64_t k = 0; k < kItems; ++k) {
    if (k == 10 || k == 100 || k == 500) {
      BOOST_TEST(below / double{kDraws} == YcsbCdf(k, kItems, kYcsbZipfianConstant),
                 boost::test_tools::tolerance(0.01));
    }
    below += counts[k];
  }
  // ... which is a power law: the first 10% of the items take about
  // zeta(100) / zeta(1000) of the draws (YCSB's approximation is within 5%).
  int top = 0;
  for (int k = 0; k < 100; ++k) top += counts[static_cast<size_t>(k)];
  BOOST_TEST(top / double{kDraws} == Zeta(100, 0.99) / zetan, boost::test_tools::tolerance(0.05));
}

BOOST_AUTO_TEST_CASE(ScrambledZipfianScattersTheHotItem) {
  constexpr uint64_t kItems = 1000;
  constexpr int kDraws = 1'000'000;
  ScrambledZipfianGenerator gen(kItems);
  Rng rng(11);
  std::vector<int> counts(kItems);
  for (int i = 0; i < kDraws; ++i) {
    const uint64_t v = gen.Next(rng);
    BOOST_REQUIRE_LT(v, kItems);
    ++counts[v];
  }
  const auto hottest = static_cast<uint64_t>(std::max_element(counts.begin(), counts.end()) - counts.begin());
  BOOST_TEST(hottest == FnvHash64(0) % kItems);
  // Its share: the zipfian's first item over 10^10, 1 / 26.469, plus its
  // share of the folded tail.
  const double share = counts[hottest] / double{kDraws};
  BOOST_TEST(share > 1 / 26.47);
  BOOST_TEST(share < 1 / 26.47 + 0.01);
}

BOOST_AUTO_TEST_CASE(SkewedLatestFavoursTheNewestRecord) {
  SkewedLatestGenerator gen;
  Rng rng(3);
  constexpr uint64_t kLatest = 999;
  constexpr int kDraws = 500'000;
  int newest = 0, older = 0;
  for (int i = 0; i < kDraws; ++i) {
    const uint64_t v = gen.Next(rng, kLatest);
    BOOST_REQUIRE_LE(v, kLatest);
    newest += v == kLatest;
    older += v < kLatest / 2;
  }
  BOOST_TEST(newest / double{kDraws} == 1 / Zeta(kLatest + 1, 0.99), boost::test_tools::tolerance(0.02));
  BOOST_TEST(older < newest);
  // The record count grows: new records become the popular ones at once.
  BOOST_TEST(gen.Next(rng, 5000) <= 5000u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(BenchArithmeticTest)

BOOST_AUTO_TEST_CASE(PercentilesAreNearestRank) {
  std::vector<float> v;
  for (int i = 100; i >= 1; --i) v.push_back(static_cast<float>(i));
  const LatencySummary s = Summarize(v);
  BOOST_TEST(s.p50 == 50);
  BOOST_TEST(s.p99 == 99);
  BOOST_TEST(s.p999 == 100);
  BOOST_TEST(s.max == 100);
  BOOST_TEST(s.mean == 50.5);
  std::vector<float> thousand;
  for (int i = 1; i <= 1000; ++i) thousand.push_back(static_cast<float>(i));
  BOOST_TEST(NearestRank(thousand, 0.99) == 990);
  BOOST_TEST(NearestRank(thousand, 0.999) == 999);
  std::vector<float> one = {7};
  BOOST_TEST(Summarize(one).p999 == 7);
  std::vector<float> none;
  BOOST_TEST(Summarize(none).p50 == 0);
}

BOOST_AUTO_TEST_CASE(HistogramCountsEveryValueOnce) {
  std::vector<float> v;
  for (int i = 0; i < 1000; ++i) v.push_back(static_cast<float>(i % 250) * 1.5f);
  std::sort(v.begin(), v.end());
  const std::string text = HistogramText(v);
  std::istringstream in(text);
  std::string line;
  long total = 0;
  std::string last;
  while (std::getline(in, line)) {
    const size_t close = line.find(')');
    BOOST_REQUIRE(close != std::string::npos);
    total += std::atol(line.c_str() + close + 1);
    last = line;
  }
  BOOST_TEST(total == 1000);
  BOOST_TEST(last.find("100.000%") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(RatioOfNothingIsUnknown) {
  BOOST_TEST(Ratio(10, 4) == 2.5);
  BOOST_TEST(Ratio(10, 0) == 0);
  BOOST_TEST(Ratio(0, 5) == 0);
}

BOOST_AUTO_TEST_CASE(LiveSetCountsLiveKeysAndValues) {
  LiveSet live;
  live.Reserve(100);
  live.Put(1, 10);
  live.Put(2, 0);   // an empty value is still a live key
  live.Put(1, 20);  // overwrite: the newest size counts
  BOOST_TEST(live.LiveBytes(16) == (16u + 20) + (16u + 0));
  live.Erase(2);
  BOOST_TEST(live.LiveBytes(16) == 36u);
  live.Reserve(1000);  // keeps what is recorded
  BOOST_TEST(live.LiveBytes(16) == 36u);
  live.Reserve(1 << 20);  // past a huge page: mapped anew, still keeps it
  BOOST_TEST(live.LiveBytes(16) == 36u);
  live.Put(600000, 4);  // in the new mapping's huge-page part
  BOOST_TEST(live.LiveBytes(16) == 36u + (16 + 4));
  live.Erase(600000);
  BOOST_TEST(!live.overflowed());
  live.Put(1 << 20, 1);  // one past the capacity
  BOOST_TEST(live.overflowed());
  live.Clear();
  BOOST_TEST(live.LiveBytes(16) == 0u);
  BOOST_TEST(!live.overflowed());
}

BOOST_AUTO_TEST_CASE(DiskBytesCountsAllocatedBlocksOfEveryFile) {
  TempDir dir;
  std::filesystem::create_directories(dir.Child("sub"));
  std::ofstream(dir.Child("a")) << std::string(10000, 'x');
  std::ofstream(dir.Child("sub/b")) << std::string(5000, 'y');
  const uint64_t bytes = DiskBytes(dir.path());
  BOOST_TEST(bytes >= 15000u);
  BOOST_TEST(bytes <= 15000u + 2 * 65536);
  BOOST_TEST(DiskBytes(dir.Child("missing")) == 0u);
}

BOOST_AUTO_TEST_CASE(JsonStringsAreEscaped) {
  BOOST_TEST(JsonString("a\"b\\c\nd") == "\"a\\\"b\\\\c\\nd\"");
  BOOST_TEST(JsonString(std::string("\x01", 1)) == "\"\\u0001\"");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(BenchOpSourceTest)

Flags SmallFlags(int64_t num, int threads = 1, int concurrency = 1) {
  Flags f;
  f.num = num;
  f.threads = threads;
  f.concurrency = concurrency;
  return f;
}

std::vector<std::string> DrawKeys(const Workload& w, const Flags& f, RunState& st, int worker, const ValueGenerator& values,
                                  std::vector<Op>* ops = nullptr) {
  OpSource source(w, f, values, st, worker);
  Op op;
  std::vector<std::string> keys;
  while (source.Next(&op)) {
    if (op.keys.empty()) {
      keys.push_back(op.key);
    } else {
      keys.insert(keys.end(), op.keys.begin(), op.keys.end());
    }
    if (ops != nullptr) ops->push_back(op);
  }
  return keys;
}

BOOST_AUTO_TEST_CASE(EveryEngineGetsTheSameKeySequence) {
  const Flags f = SmallFlags(1000);
  const ValueGenerator values(0.5);
  const Workload w = MakeWorkload("readrandom", f);
  RunState a(1), b(1);
  BOOST_TEST(DrawKeys(w, f, a, 0, values) == DrawKeys(w, f, b, 0, values));
  Flags other = f;
  other.seed = 99;
  RunState c(1), d(1);
  BOOST_TEST(DrawKeys(w, f, c, 0, values) != DrawKeys(w, other, d, 0, values));
}

BOOST_AUTO_TEST_CASE(FillSeqAndFillBatchWriteEachKeyOnceAcrossWorkers) {
  const Flags f = SmallFlags(2500, 1, 3);
  const ValueGenerator values(0.5);
  for (const char* name : {"fillseq", "fillbatch"}) {
    const Workload w = MakeWorkload(name, f);
    RunState st(3);
    std::vector<std::string> all;
    // Workers claim operations from one counter, interleaved.
    std::vector<std::unique_ptr<OpSource>> sources;
    for (int i = 0; i < 3; ++i) sources.push_back(std::make_unique<OpSource>(w, f, values, st, i));
    Op op;
    for (bool any = true; any;) {
      any = false;
      for (auto& s : sources) {
        if (!s->Next(&op)) continue;
        any = true;
        if (op.keys.empty()) {
          all.push_back(op.key);
        } else {
          BOOST_TEST(op.values.size() == op.keys.size());
          all.insert(all.end(), op.keys.begin(), op.keys.end());
        }
      }
    }
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST(all.size() == 2500u);
      std::set<std::string> unique(all.begin(), all.end());
      BOOST_TEST(unique.size() == 2500u);
      BOOST_TEST(*unique.begin() == MakeKey(0, 16));
      BOOST_TEST(*unique.rbegin() == MakeKey(2499, 16));
    }
  }
}

BOOST_AUTO_TEST_CASE(MissingKeysAreNeverWrittenKeys) {
  const Flags f = SmallFlags(500);
  const ValueGenerator values(0.5);
  RunState fill(1), miss(1);
  const std::vector<std::string> written = DrawKeys(MakeWorkload("fillseq", f), f, fill, 0, values);
  const std::set<std::string> present(written.begin(), written.end());
  for (const std::string& k : DrawKeys(MakeWorkload("readmissing", f), f, miss, 0, values)) {
    BOOST_REQUIRE(!present.count(k));
    BOOST_REQUIRE_EQUAL(k.size(), 16u);
  }
}

BOOST_AUTO_TEST_CASE(YcsbLoadWritesEveryRecordAndTheMixesReadOnlyThose) {
  const Flags f = SmallFlags(2000);
  const ValueGenerator values(0.5);
  RunState load(1);
  const std::vector<std::string> records = DrawKeys(MakeWorkload("ycsb-load", f), f, load, 0, values);
  const std::set<std::string> loaded(records.begin(), records.end());
  BOOST_TEST(loaded.size() == 2000u);

  Flags mix = f;
  mix.ops = 100000;
  for (const char* name : {"ycsb-a", "ycsb-b", "ycsb-c", "ycsb-d", "ycsb-e", "ycsb-f"}) {
    const Workload w = MakeWorkload(name, mix);
    RunState st(1);
    st.next_insert = 2000;  // as the runner sets it after ycsb-load
    std::vector<Op> ops;
    DrawKeys(w, mix, st, 0, values, &ops);
    std::map<OpKind, int> kinds;
    int inserts = 0;
    for (const Op& op : ops) {
      ++kinds[op.kind];
      const bool insert = op.kind == OpKind::kPut && op.id >= 2000;
      inserts += insert;
      if (!insert) BOOST_REQUIRE(op.id < st.next_insert.load());  // only records that exist
      if (op.kind == OpKind::kSeekScan) {
        BOOST_REQUIRE(op.n >= 1);
        BOOST_REQUIRE(op.n <= kYcsbMaxScan);
      }
    }
    const double n = static_cast<double>(ops.size());
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST(ops.size() == 100000u);
      BOOST_TEST(kinds[OpKind::kGet] / n == w.read_p, boost::test_tools::tolerance(0.03));
      BOOST_TEST(inserts / n == w.insert_p, boost::test_tools::tolerance(0.1));
      BOOST_TEST(kinds[OpKind::kSeekScan] / n == w.scan_p, boost::test_tools::tolerance(0.03));
      BOOST_TEST(kinds[OpKind::kReadModifyWrite] / n == w.rmw_p, boost::test_tools::tolerance(0.03));
    }
  }
}

BOOST_AUTO_TEST_CASE(ReadWhileWritingsWriterStopsWhenTheReadersFinish) {
  const Flags f = SmallFlags(100);
  const ValueGenerator values(0.5);
  const Workload w = MakeWorkload("readwhilewriting", f);
  RunState st(1);
  OpSource writer(w, f, values, st, 1, /*writer=*/true);
  Op op;
  BOOST_TEST(writer.Next(&op));
  BOOST_TEST((op.kind == OpKind::kPut));
  BOOST_TEST(op.value.size() == 100u);
  st.readers_finished = true;
  BOOST_TEST(!writer.Next(&op));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- the binary ----

struct Row {
  std::string engine, benchmark;
  double ops = 0, ops_per_sec = 0, p50 = 0, write_amp = 0, space_amp = 0, rss = 0, heap = -1, anon = -1;
  size_t timeline = 0;
};

// Runs corodb-bench with `args`; returns its exit status and stdout.
int RunBench(const std::string& args, std::string* out) {
  const std::string command = std::string(CORODB_BENCH_PATH) + " " + args + " 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  BOOST_REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out->append(buf, n);
  const int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<Row> ParseRows(const std::string& json, boost::property_tree::ptree* config) {
  std::istringstream in(json);
  boost::property_tree::ptree tree;
  boost::property_tree::read_json(in, tree);
  *config = tree.get_child("config");
  std::vector<Row> rows;
  for (const auto& [_, r] : tree.get_child("results")) {
    Row row;
    row.engine = r.get<std::string>("engine");
    row.benchmark = r.get<std::string>("benchmark");
    row.ops = r.get<double>("ops");
    row.ops_per_sec = r.get<double>("ops_per_sec");
    row.p50 = r.get<double>("p50_us");
    row.write_amp = r.get<double>("write_amp");
    row.space_amp = r.get<double>("space_amp");
    row.rss = r.get<double>("peak_rss_mb");
    row.heap = r.get<double>("peak_heap_mb");
    row.anon = r.get<double>("peak_anon_mb");
    for (const char* field : {"p99_us", "p999_us", "cpu_s", "mb_per_sec", "device_write_amp", "ratio_vs_leveldb"}) {
      BOOST_REQUIRE_MESSAGE(r.get_optional<double>(field), "field " << field << " missing");
    }
    row.timeline = r.get_child("timeline").size();
    rows.push_back(row);
  }
  return rows;
}

BOOST_AUTO_TEST_SUITE(BenchSmokeTest)

BOOST_DATA_TEST_CASE(EveryWorkloadRunsOnEveryEngine, bdata::make(BackendNames()), backend) {
  TempDir dir("bench");
  std::string engines = "corodb,corodb-sync,leveldb";
#ifdef CORODB_BENCH_HAS_ROCKSDB
  engines += ",rocksdb";
#endif
  std::string benchmarks;
  for (const std::string& b : BenchmarkNames()) benchmarks += (benchmarks.empty() ? "" : ",") + b;
  std::string out;
  const int status = RunBench("--json --num=3000 --write_buffer_size=65536 --max_file_size=32768 --bloom_bits=10 "
                              "--concurrency=2 --benchmarks=" + benchmarks + " --engines=" + engines +
                              " --backend=" + backend + " --db=" + dir.Child("db"),
                              &out);
  BOOST_REQUIRE_MESSAGE(status == 0, out);
  boost::property_tree::ptree config;
  const std::vector<Row> rows = ParseRows(out, &config);
  BOOST_TEST(config.get<int>("num") == 3000);
  BOOST_TEST(!config.get<std::string>("read_ahead").empty());
  std::map<std::pair<std::string, std::string>, Row> by;
  for (const Row& r : rows) by[{r.engine, r.benchmark}] = r;
  auto has = [&](const std::string& engine, const std::string& b) { return by.count({engine, b}) == 1; };
  auto row = [&](const std::string& engine, const std::string& b) -> const Row& { return by[{engine, b}]; };
  for (const std::string& engine : Split(engines)) {
    for (const std::string& b : BenchmarkNames()) {
      BOOST_TEST_CONTEXT(engine << " " << b) {
        BOOST_REQUIRE(has(engine, b));
        const Row& r = row(engine, b);
        if (b == "stats") continue;
        BOOST_TEST(r.ops > 0);
        BOOST_TEST(r.ops_per_sec > 0);
        BOOST_TEST(r.rss > 0);
        if (b != "readseq" && b != "readreverse") BOOST_TEST(r.p50 > 0);
        if (b == "fillrandom" || b == "fillseq" || b == "fillbatch" || b == "ycsb-load") {
          // Everything written went to a log at least once.
          BOOST_TEST(r.write_amp >= 1.0);
          BOOST_TEST(r.space_amp > 0);
          // The memtable holding the last writes is on the heap when the
          // run ends (the last sample is taken before Close).
          BOOST_TEST(r.heap > 0);
        }
      }
    }
    BOOST_TEST_CONTEXT(engine) {
      BOOST_REQUIRE(has(engine, "readwhilewriting.writer"));
      BOOST_TEST(row(engine, "readwhilewriting").ops == 3000);
      BOOST_TEST(row(engine, "compact").ops == 1);
      BOOST_TEST(row(engine, "fillsync").ops == 30);
      BOOST_TEST(row(engine, "fill100K").ops == 3);
    }
  }
}

BOOST_AUTO_TEST_CASE(HeapAndAnonColumnsCountTheEnginesMemtable) {
  // 40,000 entries of about 1 KB stay in one 64 MiB memtable: the engine
  // holds about 40 MB when the run ends, on the heap and resident.
  TempDir dir("bench");
  std::string out;
  const int status = RunBench("--json --num=40000 --value_size=1000 --write_buffer_size=67108864 "
                              "--benchmarks=fillrandom --engines=corodb --db=" + dir.Child("db"),
                              &out);
  BOOST_REQUIRE_MESSAGE(status == 0, out);
  boost::property_tree::ptree config;
  const std::vector<Row> rows = ParseRows(out, &config);
  BOOST_REQUIRE(rows.size() == 1u);
  BOOST_TEST(rows[0].heap >= 35.0);
  BOOST_TEST(rows[0].anon >= 35.0);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  // Not the benchmark's own buffers (values, latencies), resident before.
  // (Under a sanitizer RssAnon also holds its shadow memory and quarantine:
  // 123 MB against 57 MB of heap under ASan.)
  BOOST_TEST(rows[0].anon <= rows[0].heap + 16.0);
#endif
}

BOOST_AUTO_TEST_CASE(RepeatsReportTheMedianAndTheTableNamesEveryRow) {
  TempDir dir("bench");
  std::string out;
  const int status = RunBench("--num=2000 --repeats=3 --histogram --benchmarks=fillrandom,readrandom "
                              "--engines=corodb,leveldb --db=" + dir.Child("db"),
                              &out);
  BOOST_REQUIRE_MESSAGE(status == 0, out);
  BOOST_TEST(out.find("median of 3 run(s)") != std::string::npos);
  for (const char* row : {"corodb      fillrandom", "leveldb     fillrandom", "corodb      readrandom"}) {
    BOOST_TEST(out.find(row) != std::string::npos, row);
  }
  BOOST_TEST(out.find("latency histogram") != std::string::npos);
  BOOST_TEST(!std::filesystem::exists(dir.Child("db")));  // removed without --use_existing_db
}

BOOST_AUTO_TEST_CASE(ColdRunsSayHowThePageCacheWasEmptied) {
  TempDir dir("bench");
  std::string out;
  const int status = RunBench("--json --num=2000 --cold --benchmarks=fillrandom,readrandom --engines=corodb,leveldb "
                              "--db=" + dir.Child("db"),
                              &out);
  BOOST_REQUIRE_MESSAGE(status == 0, out);
  boost::property_tree::ptree config;
  ParseRows(out, &config);
  const std::string method = config.get<std::string>("cold_method");
  BOOST_TEST((method.rfind("drop_caches", 0) == 0 || method.rfind("posix_fadvise", 0) == 0), method);
}

// --plot runs tools/plot.py, which needs Debian's python3-matplotlib.
boost::test_tools::assertion_result MatplotlibInstalled(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result ok(std::system("/usr/bin/python3 -c 'import matplotlib' 2>/dev/null") == 0);
  if (!ok) ok.message() << "python3-matplotlib is not installed (tools/setup.sh installs it)";
  return ok;
}

BOOST_AUTO_TEST_CASE(PlotDrawsEveryEngineIntoTheSvg, *boost::unit_test::precondition(MatplotlibInstalled)) {
  TempDir dir("bench");
  const std::string svg = dir.Child("run.svg");
  std::string out;
  const int status = RunBench("--num=2000 --benchmarks=fillrandom,readrandom --engines=corodb,leveldb --plot=" + svg +
                              " --db=" + dir.Child("db"),
                              &out);
  BOOST_REQUIRE_MESSAGE(status == 0, out);
  std::ifstream in(svg);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_TEST(text.find("<svg") != std::string::npos);
  for (const char* name : {"corodb", "leveldb", "fillrandom", "readrandom"}) {
    BOOST_TEST(text.find(name) != std::string::npos, name);
  }
  BOOST_TEST(std::filesystem::exists(dir.Child("run.json")));
}

BOOST_AUTO_TEST_CASE(ReadingADatabaseThatIsNotThereIsAnError) {
  TempDir dir("bench");
  std::string out;
  BOOST_TEST(RunBench("--num=100 --use_existing_db --benchmarks=readrandom --engines=leveldb --db=" + dir.Child("db"),
                      &out) == 1);
  BOOST_TEST(out.find("has no database") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(BadFlagsAreUsageErrors) {
  for (const char* args : {"--benchmarks=nosuch", "--engines=mysql", "--num=0", "--threads=x", "--frobnicate",
                           "--benchmarks=ycsb-a --key_size=8"}) {
    std::string out;
    BOOST_TEST(RunBench(args, &out) == 2, args);
    BOOST_TEST(out.find("corodb-bench:") != std::string::npos, args);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::bench

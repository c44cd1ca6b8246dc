// The LSM engine on every I/O backend: a randomized model test through
// flushes, trivial moves and compactions (placed by LevelDB's rules: appended
// keys overlap nothing and are pushed to level 2; a bulk load kept in the log
// is recovered into disjoint level-0 tables, which move down); threads
// reading their own writes meanwhile; table reads with checksums and without
// filling the cache; damaged table blocks. (Compaction rules:
// db_compaction_test.cc; write stalls: db_write_stall_test.cc.)
//
// CORODB_SOAK_SECONDS=N runs the model test in rounds with new seeds for N
// seconds; CORODB_TEST_SEED fixes the first seed.
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/results_collector.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <thread>

#include "corodb/cache.h"
#include "db_engine_test_util.h"
#include "support/temp_dir.h"

namespace corodb {
namespace {

namespace asio = boost::asio;
namespace bdata = boost::unit_test::data;
using test::BackendNames;
using test::CheckAll;
using test::EngineOptions;
using test::EntriesInTables;
using test::FilesAtLevel;
using test::FlushWithFiller;
using test::GetOrStatus;
using test::kKiB;
using test::LevelSummary;
using test::ListDbFiles;
using test::LiveTables;
using test::Model;
using test::NumKey;
using test::OpenHeldOrDie;
using test::OpenOrDie;
using test::Printable;
using test::RandomValue;
using test::Run;
using test::SizedValue;
using test::Stat;
using test::TableEntry;
using test::TempDir;
using test::WaitIdle;

struct EngineCounters {
  uint64_t flushes = 0;
  uint64_t compactions = 0;
  uint64_t trivial_moves = 0;
  uint64_t seek_compactions = 0;
  int max_files_below_level_1 = 0;  // most files seen at levels >= 2

  void Add(DB& db) {
    flushes += Stat(db, "flushes");
    compactions += Stat(db, "compactions");
    trivial_moves += Stat(db, "trivial_moves");
    seek_compactions += Stat(db, "seek_compactions");
  }
  void Sample(DB& db) {
    int deep = 0;
    for (int level = 2; level < kNumLevels; ++level) deep += FilesAtLevel(db, level);
    max_files_below_level_1 = std::max(max_files_below_level_1, deep);
  }
  std::string ToString() const {
    return "flushes " + std::to_string(flushes) + ", compactions " +
           std::to_string(compactions) + ", trivial moves " +
           std::to_string(trivial_moves) + ", seek compactions " +
           std::to_string(seek_compactions) +
           ", most files at levels >= 2: " + std::to_string(max_files_below_level_1);
  }
};

// ============================================================================

BOOST_AUTO_TEST_SUITE(DBEngineModelTest)

// A soak stops at the first failing round (its seed was printed).
bool CurrentTestFailed() {
  namespace ut = boost::unit_test;
  return ut::results_collector.results(ut::framework::current_test_case().p_id)
             .p_assertions_failed > 0;
}

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? std::strtoull(v, nullptr, 10) : fallback;
}

// One round of the model test: random puts, deletes and batches (empty,
// binary and colliding keys; empty batches) checked against std::map, with
// reopens at random points (a few while background work is in flight), on
// options drawn per open. Phases of appended keys give tables that overlap
// nothing (pushed to level 2); a bulk load kept in the log and recovered into
// many disjoint level-0 tables gives trivial moves.
class ModelRound {
 public:
  ModelRound(std::string backend, uint32_t seed)
      : backend_(std::move(backend)), seed_(seed), rnd_(seed), dir_("corodb-model") {
    for (int i = 0; i < 1500; ++i) {
      hot_.push_back(NumKey("h", static_cast<int>(rnd_.Uniform(1000000))) +
                     (rnd_.OneIn(5) ? std::string("\0\xff", 2) : std::string()));
    }
    hot_.push_back("");
    hot_.push_back(std::string("\0\x01\xff", 3));
    hot_.push_back(std::string(1, '\xff'));
  }

  void Run(size_t target_bytes) {
    BOOST_TEST_MESSAGE("model round seed " << seed_ << " on " << backend_);
    BulkLoadThroughRecovery("b");
    while (written_ < target_bytes) {
      Step();
      if (++steps_ % 64 == 0) counters_.Sample(*db_);
      if (rnd_.OneIn(1000)) Reopen(/*wait_idle=*/rnd_.OneIn(2));
      if (written_ > target_bytes / 2 && !second_bulk_done_) {
        second_bulk_done_ = true;
        BulkLoadThroughRecovery("c");
      }
    }
    const Status idle = WaitIdle(*db_);
    BOOST_REQUIRE_MESSAGE(idle.ok(), Where() << idle.ToString());
    counters_.Sample(*db_);
    CheckAll(*db_, model_, Where() + "at the end");
    Reopen(/*wait_idle=*/false);
    counters_.Add(*db_);
    BOOST_TEST_MESSAGE("seed " << seed_ << ": " << steps_ << " steps, " << written_
                               << " bytes, " << reopens_ << " reopens; "
                               << counters_.ToString());
    // The test is about the engine: it must have flushed, moved and merged
    // (also below level 1: seek compactions of level-1 tables into level 2).
    BOOST_TEST(counters_.flushes > 0u, Where() << counters_.ToString());
    BOOST_TEST(counters_.trivial_moves > 0u, Where() << counters_.ToString());
    BOOST_TEST(counters_.compactions > 0u, Where() << counters_.ToString());
    BOOST_TEST(counters_.seek_compactions > 0u, Where() << counters_.ToString());
    BOOST_TEST(counters_.max_files_below_level_1 > 0, Where() << counters_.ToString());
  }

 private:
  std::string Where() const {
    return "seed " + std::to_string(seed_) + " step " + std::to_string(steps_) + ": ";
  }

  Options DrawOptions() {
    Options o = EngineOptions(backend_);
    o.write_buffer_size = 32 * kKiB + rnd_.Uniform(32 * kKiB + 1);
    o.background_threads = 1 + static_cast<int>(rnd_.Uniform(2));
    if (rnd_.OneIn(2)) o.block_cache = NewLRUCache((64 * kKiB) << rnd_.Uniform(4));
    o.use_direct_reads = rnd_.OneIn(4);
    // Fast enough that a paced compaction's timer is short.
    if (rnd_.OneIn(4)) o.compaction_rate_limit = 50 << 20;
    return o;
  }

  void Open(const Options& o) {
    options_ = o;
    db_ = OpenOrDie(options_, dir_.Child("db"), backend_);
  }

  void Reopen(bool wait_idle) {
    if (wait_idle) {
      const Status idle = WaitIdle(*db_);
      BOOST_REQUIRE_MESSAGE(idle.ok(), Where() << idle.ToString());
    }
    counters_.Sample(*db_);
    counters_.Add(*db_);
    db_.reset();
    ++reopens_;
    Open(DrawOptions());
    CheckAll(*db_, model_, Where() + "after reopen " + std::to_string(reopens_));
  }

  // Sequential keys written into one big memtable, left in the log, and
  // recovered with small memtables: Open writes them as many disjoint
  // level-0 tables, which compactions move down without rewriting.
  void BulkLoadThroughRecovery(const std::string& prefix) {
    if (db_) {
      counters_.Add(*db_);
      db_.reset();
    }
    Options big = DrawOptions();
    big.write_buffer_size = 4 << 20;
    Open(big);
    for (int i = 0; i < 300; ++i) {
      const std::string key = NumKey(prefix, i);
      const std::string value = SizedValue(key, 800 + rnd_.Uniform(400));
      BOOST_REQUIRE(test::Run(db_->Put({}, key, value)).ok());
      model_[key] = value;
      written_ += key.size() + value.size();
    }
    BOOST_REQUIRE_EQUAL(Stat(*db_, "memtable_switches"), 0u);
    counters_.Add(*db_);
    db_.reset();
    Open(DrawOptions());
    BOOST_TEST_MESSAGE(Where() << "bulk load " << prefix
                               << " recovered: " << LevelSummary(*db_));
    CheckAll(*db_, model_, Where() + "after bulk load " + prefix);
  }

  const std::string& PickKey() {
    if (append_mode_) {
      // Above every hot key (the highest is "\xff"): a memtable of appended
      // keys overlaps no table.
      appended_.push_back(
          NumKey("\xff\xff"
                 "s",
                 next_append_++));
      return appended_.back();
    }
    if (!appended_.empty() && rnd_.OneIn(10)) {
      return appended_[rnd_.Uniform(static_cast<uint32_t>(appended_.size()))];
    }
    if (!model_.empty() && rnd_.OneIn(10)) {
      // Any live key, bulk-loaded ones included (they sit in level-0 and
      // level-1 tables of their own).
      auto it = model_.lower_bound(NumKey(rnd_.OneIn(2) ? "b" : "c", rnd_.Uniform(300)));
      picked_ = it == model_.end() ? model_.begin()->first : it->first;
      return picked_;
    }
    return hot_[rnd_.Uniform(static_cast<uint32_t>(hot_.size()))];
  }

  void Step() {
    if (mode_left_-- <= 0) {
      append_mode_ = rnd_.OneIn(3);
      mode_left_ = 200 + static_cast<int>(rnd_.Uniform(800));
    }
    const uint32_t op = rnd_.Uniform(100);
    const std::string key = PickKey();
    WriteOptions wo;
    wo.sync = rnd_.OneIn(50);
    if (op < 55 || append_mode_) {
      const std::string value = RandomValue(rnd_, 600);
      const Status s = test::Run(db_->Put(wo, key, value));
      BOOST_REQUIRE_MESSAGE(s.ok(), Where() << s.ToString());
      model_[key] = value;
      written_ += key.size() + value.size();
    } else if (op < 70) {
      BOOST_REQUIRE(test::Run(db_->Delete(wo, key)).ok());
      model_.erase(key);
      written_ += key.size();
    } else if (op < 85) {
      WriteBatch batch;
      const uint32_t n = rnd_.Uniform(12);  // 0: an empty batch
      for (uint32_t i = 0; i < n; ++i) {
        const std::string k = (i == 0) ? key : PickKey();
        if (rnd_.OneIn(3)) {
          batch.Delete(k);
          model_.erase(k);
          written_ += k.size();
        } else {
          const std::string v = RandomValue(rnd_, 300);
          batch.Put(k, v);
          model_[k] = v;
          written_ += k.size() + v.size();
        }
      }
      BOOST_REQUIRE(test::Run(db_->Write(wo, batch)).ok());
    } else {
      const auto it = model_.find(key);
      ReadOptions ro;
      ro.verify_checksums = rnd_.OneIn(3);
      ro.fill_cache = !rnd_.OneIn(3);
      const std::string got = test::GetOrStatus(*db_, ro, key);
      const std::string& expected = it == model_.end() ? kNotFound : it->second;
      BOOST_REQUIRE_MESSAGE(got == expected,
                            Where() << "Get(\"" << Printable(key) << "\"): expected "
                                    << expected.size() << " bytes, got \""
                                    << Printable(got.substr(0, 80)) << "\"");
    }
  }

  inline static const std::string kNotFound = "NOT_FOUND";

  const std::string backend_;
  const uint32_t seed_;
  Random rnd_;
  TempDir dir_;
  Options options_;
  std::unique_ptr<DB> db_;
  Model model_;
  std::vector<std::string> hot_;
  std::vector<std::string> appended_;
  std::string picked_;
  int next_append_ = 0;
  bool append_mode_ = false;
  int mode_left_ = 0;
  bool second_bulk_done_ = false;
  size_t written_ = 0;
  uint64_t steps_ = 0;
  int reopens_ = 0;
  EngineCounters counters_;
};

BOOST_DATA_TEST_CASE(RandomOperationsThroughCompactionsMatchStdMap,
                     bdata::make(BackendNames()), backend) {
  const uint64_t soak_seconds = EnvNumber("CORODB_SOAK_SECONDS", 0);
  uint32_t seed = static_cast<uint32_t>(EnvNumber("CORODB_TEST_SEED", 0));
  if (seed == 0) seed = soak_seconds > 0 ? std::random_device{}() : 301;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(soak_seconds);
  int rounds = 0;
  do {
    ModelRound round(backend, seed + static_cast<uint32_t>(rounds));
    round.Run(soak_seconds > 0 ? (8u << 20) : (2u << 20));
    ++rounds;
  } while (std::chrono::steady_clock::now() < deadline && !CurrentTestFailed());
  BOOST_TEST_MESSAGE(rounds << " model round(s) from seed " << seed);
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================

BOOST_AUTO_TEST_SUITE(DBEngineConcurrencyTest)

// One thread's share of the work: its own keys and model. Failures are
// recorded, not asserted (Boost.Test assertions belong to the main thread).
struct ThreadShare {
  Model model;
  int failures = 0;
  std::string first_failure;
};

void RunThreadShare(DB* db, int thread, uint32_t seed, int ops, ThreadShare* share) {
  Random rnd(seed);
  const std::string prefix = "t" + std::to_string(thread) + "-";
  auto fail = [share](std::string what) {
    if (share->failures++ == 0) share->first_failure = std::move(what);
  };
  for (int i = 0; i < ops; ++i) {
    const std::string key = NumKey(prefix, static_cast<int>(rnd.Uniform(400)));
    const uint32_t op = rnd.Uniform(100);
    if (op < 55) {
      const std::string value = RandomValue(rnd, 700);
      if (Status s = Run(db->Put({}, key, value)); !s.ok()) {
        fail("Put: " + s.ToString());
      } else {
        share->model[key] = value;
      }
    } else if (op < 70) {
      if (Status s = Run(db->Delete({}, key)); !s.ok()) {
        fail("Delete: " + s.ToString());
      } else {
        share->model.erase(key);
      }
    } else {
      const auto it = share->model.find(key);
      const std::string got = GetOrStatus(*db, key);
      if (got != (it == share->model.end() ? std::string("NOT_FOUND") : it->second)) {
        fail("op " + std::to_string(i) + ": Get(" + key + ") read " +
             (got.size() < 60 ? "\"" + Printable(got) + "\""
                              : std::to_string(got.size()) + " bytes") +
             ", expected " +
             (it == share->model.end() ? std::string("NOT_FOUND")
                                       : std::to_string(it->second.size()) + " bytes"));
      }
    }
  }
}

// Threads write, delete and read their own keys at once while memtables
// switch and flushes and compactions replace the tables under the readers:
// every read sees the thread's last write, before and after reopening.
BOOST_DATA_TEST_CASE(ReadersSeeTheirWritesThroughFlushesAndCompactions,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  Options options = EngineOptions(backend);
  options.background_threads = 2;
  constexpr int kThreads = 4;
  std::vector<ThreadShare> shares(kThreads);
  auto db = OpenOrDie(options, path, backend);
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back(RunThreadShare, db.get(), t, 100 + static_cast<uint32_t>(t),
                           2500, &shares[static_cast<size_t>(t)]);
    }
    for (std::thread& th : threads) th.join();
  }
  for (int t = 0; t < kThreads; ++t) {
    BOOST_TEST(shares[static_cast<size_t>(t)].failures == 0,
               "thread " << t << ": " << shares[static_cast<size_t>(t)].first_failure);
  }
  BOOST_REQUIRE(WaitIdle(*db).ok());
  BOOST_TEST(Stat(*db, "flushes") > 0u);
  BOOST_TEST(Stat(*db, "compactions") > 0u);
  for (const ThreadShare& share : shares) CheckAll(*db, share.model, "after the threads");
  BOOST_REQUIRE(Run(db->Close()).ok());
  db.reset();
  db = OpenOrDie(options, path, backend);
  for (const ThreadShare& share : shares) CheckAll(*db, share.model, "after reopen");
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================

BOOST_AUTO_TEST_SUITE(DBTableReadTest)  // and damaged tables

// 300 keys of 200 bytes (about 60 blocks of 1 KiB) in one table at level 2.
// REQUIRES: options.write_buffer_size >= 128 KiB (one memtable holds them).
Model WriteOneTable(DB& db, const Options& options) {
  Model model;
  for (int i = 0; i < 300; ++i) {
    const std::string k = NumKey("k", i);
    model[k] = SizedValue(k, 200);
    BOOST_REQUIRE(Run(db.Put({}, k, model[k])).ok());
  }
  FlushWithFiller(db, "k~", options.write_buffer_size, &model);
  BOOST_REQUIRE_MESSAGE(FilesAtLevel(db, 2) == 1, LevelSummary(db));
  return model;
}

BOOST_DATA_TEST_CASE(VerifiedUncachedGetsReadTableData, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  Options options = EngineOptions(backend);
  options.write_buffer_size = 256 * kKiB;
  Model model;
  {
    auto db = OpenOrDie(options, path, backend);
    model = WriteOneTable(*db, options);
  }
  // A fresh cache: only this DB's reads go into it.
  std::shared_ptr<Cache> cache = NewLRUCache(4 << 20);
  options.block_cache = cache;
  auto db = OpenOrDie(options, path, backend);
  ReadOptions verified_uncached;
  verified_uncached.verify_checksums = true;
  verified_uncached.fill_cache = false;
  // The table is opened (its filter rules the key out: no data block read).
  BOOST_TEST(Run(db->Get(verified_uncached, "k-absent")).status().IsNotFound());
  const size_t empty = cache->usage();
  for (const auto& [k, v] : model) {
    const Result<std::string> r = Run(db->Get(verified_uncached, k));
    BOOST_REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    BOOST_REQUIRE(*r == v);
  }
  BOOST_TEST(cache->usage() == empty, "fill_cache=false put blocks into the cache");
  ReadOptions verified;
  verified.verify_checksums = true;
  for (const auto& [k, v] : model) {
    const Result<std::string> r = Run(db->Get(verified, k));
    BOOST_REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    BOOST_REQUIRE(*r == v);
  }
  BOOST_TEST(cache->usage() > empty, "fill_cache=true cached nothing");
  CheckAll(*db, model, "default read options");
}

// One flipped byte in a table's first data block: a Get with
// verify_checksums of a key in that block is Corruption naming the file (not
// a crash, not a wrong value); keys in other blocks still read.
BOOST_DATA_TEST_CASE(DamagedTableBlockIsCorruptionNamingTheFile,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  Options options = EngineOptions(backend);
  options.write_buffer_size = 256 * kKiB;
  Model model;
  {
    auto db = OpenOrDie(options, path, backend);
    model = WriteOneTable(*db, options);
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
  const std::string first_key = model.begin()->first;
  const std::vector<TableEntry> holders =
      EntriesInTables(path, ListDbFiles(path).tables, options, first_key);
  BOOST_REQUIRE_EQUAL(holders.size(), 1u);
  const std::string table_name = io::TableFileName(path, holders[0].file);
  test::FlipBit(table_name, 20);  // in the first data block
  auto db = OpenOrDie(options, path, backend);
  ReadOptions verified;
  verified.verify_checksums = true;
  const Result<std::string> damaged = Run(db->Get(verified, first_key));
  BOOST_REQUIRE_MESSAGE(!damaged.ok(), "a damaged block read as a value");
  BOOST_TEST(damaged.status().IsCorruption(), damaged.status().ToString());
  const std::string base_name = table_name.substr(table_name.rfind('/') + 1);
  BOOST_TEST(damaged.status().ToString().find(base_name) != std::string::npos,
             damaged.status().ToString() << " does not name " << base_name);
  // Damage in one block leaves the others readable.
  const std::string last_key = NumKey("k", 299);
  const Result<std::string> intact = Run(db->Get(verified, last_key));
  BOOST_TEST((intact.ok() && *intact == model[last_key]), intact.status().ToString());
  // Still damaged on a second read (nothing bad was cached).
  BOOST_TEST(Run(db->Get(verified, first_key)).status().IsCorruption());

  // With paranoid_checks every block read is verified, whatever the read asks.
  BOOST_REQUIRE(Run(db->Close()).ok());
  db.reset();
  options.paranoid_checks = true;
  db = OpenOrDie(options, path, backend);
  const Result<std::string> paranoid = Run(db->Get({}, first_key));
  BOOST_TEST(paranoid.status().IsCorruption(), paranoid.status().ToString());
  BOOST_TEST(paranoid.status().ToString().find(base_name) != std::string::npos,
             paranoid.status().ToString());
  BOOST_TEST(GetOrStatus(*db, last_key) == model[last_key]);
}

// A compaction that meets a damaged block stops with Corruption naming the
// table: nothing is installed or deleted, writes are refused, reads of the
// other keys go on — also after a reopen, whose compaction fails the same way.
BOOST_DATA_TEST_CASE(CompactionOverADamagedTableStopsWithCorruption,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Model model = test::WriteForRecoveryIntoLevel0(backend, path, 130);  // 5 tables
  const Options options = EngineOptions(backend);
  std::set<uint64_t> tables;
  {
    auto db = OpenHeldOrDie(options, path, backend);
    BOOST_REQUIRE_MESSAGE(FilesAtLevel(*db, 0) >= 4, LevelSummary(*db));
    tables = LiveTables(*db);
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
  const uint64_t damaged_number = *tables.begin();
  test::FlipBit(io::TableFileName(path, damaged_number), 20);

  for (int open = 0; open < 2; ++open) {
    BOOST_TEST_CONTEXT("open " << open) {
      auto db = OpenHeldOrDie(options, path, backend);
      db->HoldBackgroundForTesting(false);
      const Status idle = WaitIdle(*db);
      BOOST_TEST(idle.IsCorruption(), idle.ToString());
      BOOST_TEST(idle.ToString().find(
                     io::TableFileName(path, damaged_number).substr(path.size() + 1)) !=
                     std::string::npos,
                 idle.ToString() << " does not name table #" << damaged_number);
      BOOST_TEST(Stat(*db, "compactions") == 0u);
      BOOST_TEST(test::Numbers(LiveTables(*db)) == test::Numbers(tables));
      BOOST_TEST(test::Numbers(ListDbFiles(path).tables) == test::Numbers(tables),
                 "a failed compaction's outputs (or its inputs) changed the directory");
      const Status put = Run(db->Put({}, "after", "failure"));
      BOOST_TEST(!put.ok(), "a write was accepted after the background failure");
      ReadOptions verified;
      verified.verify_checksums = true;
      int readable = 0;
      for (const auto& [k, v] : model) {
        const Result<std::string> r = Run(db->Get(verified, k));
        if (r.ok()) {
          BOOST_REQUIRE_MESSAGE(*r == v, "wrong value for " << k);
          ++readable;
        } else {
          BOOST_REQUIRE_MESSAGE(r.status().IsCorruption(),
                                k << ": " << r.status().ToString());
        }
      }
      BOOST_TEST(readable > static_cast<int>(model.size()) / 2);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb

// The LSM engine on every I/O backend: a randomized model test through
// flushes, trivial moves and compactions; the rules compactions drop entries
// by; obsolete files; seek-triggered compaction; table reads with checksums
// and without filling the cache; damaged table blocks. (Write stalls:
// db_write_stall_test.cc.)
//
// Files reach chosen levels by LevelDB's placement rules, not by hooks: a
// memtable whose table overlaps nothing is pushed to level 2, one that
// overlaps level 2 (only) stops at level 1, one that overlaps level 1 stays at
// level 0; tables of a recovered log always go to level 0.
//
// CORODB_SOAK_SECONDS=N runs the model test in rounds with new seeds for N
// seconds; CORODB_TEST_SEED fixes the first seed.
#include <algorithm>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/results_collector.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <thread>

#include "corodb/cache.h"
#include "db_engine_test_util.h"
#include "support/temp_dir.h"
#include "version/version_test_util.h"

namespace corodb {
namespace {

namespace asio = boost::asio;
namespace bdata = boost::unit_test::data;
using test::BackendNames;
using test::CheckAll;
using test::CountType;
using test::DirFiles;
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

BOOST_AUTO_TEST_SUITE(DBCompactionDropTest)

// Level placement used below, for a memtable flushed into an otherwise
// quiet DB: a table overlapping nothing goes to level 2; one overlapping only
// level 2 stops at level 1; one overlapping level 1 stays at level 0, and four
// of those trigger a level-0 compaction into level 1. A Get that misses the
// level-1 table and hits the level-2 table charges a seek to the level-1
// table; after 100 of them it is compacted into level 2.
Options DropTestOptions(const std::string& backend) {
  Options o = EngineOptions(backend);
  o.filter_policy = nullptr;  // every Get of a key in a table's range reads it
  return o;
}

// Gets of `keys` (each in the range of a table at one level and found only
// deeper) until a seek compaction has run.
void SeekCompact(DB& db, const std::vector<std::string>& keys, const Model& model) {
  const uint64_t before = Stat(db, "seek_compactions");
  for (int round = 0; round < 20 && Stat(db, "seek_compactions") == before; ++round) {
    for (int i = 0; i < 100; ++i) {
      const std::string& k = keys[static_cast<size_t>(i) % keys.size()];
      BOOST_REQUIRE_EQUAL(GetOrStatus(db, k), model.at(k));
    }
    const Status idle = WaitIdle(db);
    BOOST_REQUIRE_MESSAGE(idle.ok(), idle.ToString());
  }
  BOOST_REQUIRE_MESSAGE(Stat(db, "seek_compactions") > before,
                        "no seek compaction: " << LevelSummary(db));
}

// The victim is written at level 2, then deleted (or overwritten) in a table
// at level 1, then four level-0 tables are compacted into level 1 (the marker
// must survive: level 2 still holds the key), then level 1 is compacted into
// level 2 (now the marker and every older value must go). After each step,
// and after reopening, the victim reads as its last write.
void CheckVictimThroughCompactions(const std::string& backend, bool delete_victim) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = DropTestOptions(backend);
  const std::string victim = NumKey("d", 50);
  Model model;
  auto db = OpenOrDie(options, path, backend);
  auto check = [&](const std::string& where) {
    CheckAll(*db, model, where);
    BOOST_TEST(
        GetOrStatus(*db, victim) == (model.count(victim) ? model[victim] : "NOT_FOUND"),
        where);
  };
  auto reopen_and_check = [&](const std::string& where) {
    BOOST_REQUIRE(Run(db->Close()).ok());
    db.reset();
    db = OpenOrDie(options, path, backend);
    check(where + ", reopened");
  };

  // 1. Every key d0..d99 (values v1) in one table, pushed to level 2.
  for (int i = 0; i < 100; ++i) {
    const std::string k = NumKey("d", i);
    model[k] = SizedValue("v1-" + k, 100);
    BOOST_REQUIRE(Run(db->Put({}, k, model[k])).ok());
  }
  FlushWithFiller(*db, "d~", options.write_buffer_size, &model);
  BOOST_REQUIRE_MESSAGE(
      FilesAtLevel(*db, 2) == 1 && FilesAtLevel(*db, 0) == 0 && FilesAtLevel(*db, 1) == 0,
      LevelSummary(*db));
  check("value at level 2");

  // 2. The victim deleted (or overwritten), with the odd keys, at level 1.
  if (delete_victim) {
    BOOST_REQUIRE(Run(db->Delete({}, victim)).ok());
    model.erase(victim);
  } else {
    model[victim] = SizedValue("v2-" + victim, 100);
    BOOST_REQUIRE(Run(db->Put({}, victim, model[victim])).ok());
  }
  for (int i = 1; i < 100; i += 2) {
    const std::string k = NumKey("d", i);
    model[k] = SizedValue("v2-" + k, 100);
    BOOST_REQUIRE(Run(db->Put({}, k, model[k])).ok());
  }
  FlushWithFiller(*db, "d~", options.write_buffer_size, &model);
  BOOST_REQUIRE_MESSAGE(FilesAtLevel(*db, 1) == 1 && FilesAtLevel(*db, 2) == 1,
                        LevelSummary(*db));
  {
    const auto entries = EntriesInTables(path, test::LiveTables(*db), options, victim);
    BOOST_TEST(entries.size() == 2u, test::Describe(entries));
    BOOST_TEST(CountType(entries, kTypeDeletion) == (delete_victim ? 1 : 0),
               test::Describe(entries));
  }
  check("second write at level 1");
  reopen_and_check("second write at level 1");

  // 3. Four level-0 tables (overwrites of the odd keys, and of the victim
  //    when it is overwritten) compacted with level 1 into level 1.
  const uint64_t compactions_before = Stat(*db, "compactions");
  for (int t = 0; t < 4; ++t) {
    if (!delete_victim) {
      model[victim] = SizedValue("v" + std::to_string(3 + t) + "-" + victim, 100);
      BOOST_REQUIRE(Run(db->Put({}, victim, model[victim])).ok());
    }
    for (int i = 1; i < 100; i += 2) {
      const std::string k = NumKey("d", i);
      model[k] = SizedValue("v" + std::to_string(3 + t) + "-" + k, 100);
      BOOST_REQUIRE(Run(db->Put({}, k, model[k])).ok());
    }
    FlushWithFiller(*db, "d~", options.write_buffer_size, &model);
  }
  BOOST_REQUIRE_MESSAGE(Stat(*db, "compactions") > compactions_before, LevelSummary(*db));
  BOOST_REQUIRE_MESSAGE(
      FilesAtLevel(*db, 0) == 0 && FilesAtLevel(*db, 1) >= 1 && FilesAtLevel(*db, 2) == 1,
      LevelSummary(*db));
  {
    // Level 2 still holds the old value: the marker above it must stay.
    const auto entries = EntriesInTables(path, test::LiveTables(*db), options, victim);
    BOOST_TEST(CountType(entries, kTypeDeletion) == (delete_victim ? 1 : 0),
               test::Describe(entries));
    BOOST_TEST(CountType(entries, kTypeValue) == 1 + (delete_victim ? 0 : 1),
               test::Describe(entries));
  }
  check("after the level-0 compaction");
  reopen_and_check("after the level-0 compaction");

  // 4. Level 1 compacted into level 2 by seeks: Gets of even keys miss
  //    level 1 and hit level 2.
  std::vector<std::string> even;
  for (int i = 0; i < 100; i += 2) {
    if (NumKey("d", i) != victim) even.push_back(NumKey("d", i));
  }
  SeekCompact(*db, even, model);
  BOOST_REQUIRE_MESSAGE(FilesAtLevel(*db, 1) == 0 && FilesAtLevel(*db, 2) >= 1,
                        LevelSummary(*db));
  {
    const auto entries = EntriesInTables(path, test::LiveTables(*db), options, victim);
    if (delete_victim) {
      BOOST_TEST(entries.empty(), "the marker (or a value under it) is still in a table: "
                                      << test::Describe(entries) << "; "
                                      << LevelSummary(*db));
    } else {
      BOOST_REQUIRE_MESSAGE(entries.size() == 1u, test::Describe(entries)
                                                      << "; " << LevelSummary(*db));
      BOOST_TEST(entries[0].type == kTypeValue);
      BOOST_TEST(entries[0].value == model[victim]);
    }
  }
  check("after the level-1 compaction");
  reopen_and_check("after the level-1 compaction");
}

BOOST_DATA_TEST_CASE(DeletedKeyNeverComesBackAfterItsMarkerIsCompactedAway,
                     bdata::make(BackendNames()), backend) {
  CheckVictimThroughCompactions(backend, /*delete_victim=*/true);
}

BOOST_DATA_TEST_CASE(ShadowedValuesNeverComeBackAndAreDropped,
                     bdata::make(BackendNames()), backend) {
  CheckVictimThroughCompactions(backend, /*delete_victim=*/false);
}

// Tables placed at chosen levels of a closed DB (its MANIFEST extended
// through a VersionSet, as the version tests do). Entries: user key,
// sequence, deletion or value.
struct PlacedEntry {
  std::string key;
  SequenceNumber sequence;
  std::optional<std::string> value;  // nullopt: a deletion marker
};
struct PlacedTable {
  int level;
  std::vector<PlacedEntry> entries;  // increasing keys
};

void PlaceTables(const std::string& backend, const std::string& path,
                 const std::vector<PlacedTable>& tables, SequenceNumber last_sequence) {
  test::VersionEnv env(test::MakeBackendByName(backend), BytewiseComparator(), path);
  BOOST_REQUIRE(env.Recover(*env.vset).ok());
  VersionEdit edit;
  for (const PlacedTable& t : tables) {
    std::vector<std::pair<InternalKey, std::string>> entries;
    for (const PlacedEntry& e : t.entries) {
      entries.emplace_back(
          InternalKey(e.key, e.sequence, e.value ? kTypeValue : kTypeDeletion),
          e.value.value_or(""));
    }
    edit.AddFile(t.level, env.WriteTable(env.vset->NewFileNumber(), entries));
  }
  env.vset->SetLastSequence(last_sequence);
  const Status s = env.Apply(std::move(edit));
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
}

// Deletion markers at level 1 over values at level 3 — at the first and the
// last key of a level-3 table — survive a compaction of level 1 into level 2
// (level 3 still holds the keys); a marker over a value at level 2 only, in
// the gap between level-3 tables, is dropped there with the value. Then the
// level-2 table is compacted into level 3: markers and values meet and all go.
// No deleted key reads again at any point, or after reopening.
BOOST_DATA_TEST_CASE(MarkersStayUntilTheyMeetEveryOlderValue, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = DropTestOptions(backend);
  { auto db = OpenOrDie(options, path, backend); }
  const std::vector<std::string> deep_victims = {NumKey("m", 45), NumKey("m", 50),
                                                 NumKey("m", 70)};
  const std::string shallow_victim = NumKey("m", 75);
  Model model;
  std::vector<PlacedTable> tables;
  // Level 3: four tables with gaps; "x" keys are there only.
  auto level3 = [&](int from, int to, std::vector<int> victims) {
    PlacedTable t{3, {}};
    for (int i = from; i <= to; ++i) {
      const bool victim = std::find(victims.begin(), victims.end(), i) != victims.end();
      if (victim) {
        t.entries.push_back({NumKey("m", i), 10, SizedValue("old", 100)});
      } else if (i == from || i == to || i % 3 == 0) {
        const std::string k = NumKey("m", i) + "x";
        t.entries.push_back({k, 10, SizedValue(k, 100)});
        model[k] = SizedValue(k, 100);
      }
    }
    tables.push_back(std::move(t));
  };
  level3(1, 20, {});
  level3(30, 45, {45});
  level3(50, 70, {50, 70});
  level3(80, 99, {});
  // Level 2: the even keys, and the shallow victim's value.
  PlacedTable l2{2, {}};
  for (int i = 0; i < 100; ++i) {
    const std::string k = NumKey("m", i);
    if (k == shallow_victim) {
      l2.entries.push_back({k, 20, SizedValue("old", 100)});
    } else if (i % 2 == 0 && i != 50 && i != 70) {
      l2.entries.push_back({k, 20, SizedValue(k, 100)});
      model[k] = SizedValue(k, 100);
    }
  }
  tables.push_back(std::move(l2));
  // Level 1: the markers, among odd keys from 41 to 79.
  PlacedTable l1{1, {}};
  for (int i = 41; i <= 79; ++i) {
    const std::string k = NumKey("m", i);
    const bool victim =
        k == shallow_victim ||
        std::find(deep_victims.begin(), deep_victims.end(), k) != deep_victims.end();
    if (victim) {
      l1.entries.push_back({k, 30, std::nullopt});
    } else if (i % 2 == 1) {
      l1.entries.push_back({k, 30, SizedValue(k, 100)});
      model[k] = SizedValue(k, 100);
    }
  }
  tables.push_back(std::move(l1));
  PlaceTables(backend, path, tables, 100);

  auto db = OpenOrDie(options, path, backend);
  BOOST_REQUIRE_MESSAGE(
      FilesAtLevel(*db, 1) == 1 && FilesAtLevel(*db, 2) == 1 && FilesAtLevel(*db, 3) == 4,
      LevelSummary(*db));
  std::vector<std::string> all_victims = deep_victims;
  all_victims.push_back(shallow_victim);
  auto check = [&](const std::string& where) {
    CheckAll(*db, model, where);
    for (const std::string& v : all_victims) {
      BOOST_TEST(GetOrStatus(*db, v) == "NOT_FOUND", where << ": " << v << " came back");
    }
  };
  auto markers = [&](const std::string& key) {
    return CountType(EntriesInTables(path, LiveTables(*db), options, key), kTypeDeletion);
  };
  check("as placed");

  // Level 1 into level 2: Gets of even keys inside level 1's range.
  std::vector<std::string> even;
  for (int i = 42; i <= 78; i += 2) {
    if (model.count(NumKey("m", i))) even.push_back(NumKey("m", i));
  }
  SeekCompact(*db, even, model);
  BOOST_REQUIRE_MESSAGE(FilesAtLevel(*db, 1) == 0, LevelSummary(*db));
  for (const std::string& v : deep_victims) {
    BOOST_TEST(markers(v) == 1,
               v << ": the marker over level 3 was dropped (or doubled)");
  }
  BOOST_TEST(EntriesInTables(path, LiveTables(*db), options, shallow_victim).empty(),
             "the marker over a level-2 value only (or the value) is still there");
  check("after level 1 into level 2");
  BOOST_REQUIRE(Run(db->Close()).ok());
  db.reset();
  db = OpenOrDie(options, path, backend);
  check("after level 1 into level 2, reopened");

  // Level 2 into level 3: Gets of "x" keys, which only level 3 holds.
  std::vector<std::string> deep_only;
  for (const auto& [k, v] : model) {
    if (k.back() == 'x' && k > NumKey("m", 0) && k < NumKey("m", 99))
      deep_only.push_back(k);
  }
  const uint64_t seeks_before = Stat(*db, "seek_compactions");
  SeekCompact(*db, deep_only, model);
  BOOST_TEST(Stat(*db, "seek_compactions") > seeks_before);
  BOOST_REQUIRE_MESSAGE(FilesAtLevel(*db, 2) == 0, LevelSummary(*db));
  for (const std::string& v : all_victims) {
    const auto entries = EntriesInTables(path, LiveTables(*db), options, v);
    BOOST_TEST(entries.empty(), v << ": " << test::Describe(entries));
  }
  check("after level 2 into level 3");
  BOOST_REQUIRE(Run(db->Close()).ok());
  db.reset();
  db = OpenOrDie(options, path, backend);
  check("after level 2 into level 3, reopened");
}

// After flushes and compactions have replaced many tables and logs, the
// directory holds exactly the live tables, one log and one MANIFEST — also
// after a reopen.
BOOST_DATA_TEST_CASE(ObsoleteFilesAreDeleted, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = EngineOptions(backend);
  Random rnd(17);
  Model model;
  auto db = OpenOrDie(options, path, backend);
  for (int i = 0; i < 4000; ++i) {
    const std::string k = NumKey("o", static_cast<int>(rnd.Uniform(800)));
    model[k] = RandomValue(rnd, 1000);
    BOOST_REQUIRE(Run(db->Put({}, k, model[k])).ok());
  }
  BOOST_REQUIRE(WaitIdle(*db).ok());
  const uint64_t flushes = Stat(*db, "flushes");
  BOOST_REQUIRE_GT(Stat(*db, "compactions"), 0u);
  auto check_files = [&](const std::string& where) {
    const DirFiles files = ListDbFiles(path);
    const std::set<uint64_t> live = LiveTables(*db);
    BOOST_TEST(files.tables == live, where << ": tables in the directory "
                                           << test::Numbers(files.tables) << ", live "
                                           << test::Numbers(live));
    BOOST_TEST(files.logs == 1, where);
    BOOST_TEST(files.manifests == 1, where);
    BOOST_TEST(files.temps == 0, where);
    return files;
  };
  const DirFiles files = check_files("after compactions");
  // Most tables ever written are gone (each flush wrote one).
  BOOST_TEST(files.tables.size() < flushes);
  CheckAll(*db, model, "before reopen");
  BOOST_REQUIRE(Run(db->Close()).ok());
  db.reset();
  db = OpenOrDie(options, path, backend);
  BOOST_REQUIRE(WaitIdle(*db).ok());
  check_files("after reopen");
  CheckAll(*db, model, "after reopen");
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================

BOOST_AUTO_TEST_SUITE(DBLevelPlacementTest)

// A flushed memtable's table goes to level 2 when it overlaps nothing, stops
// at level 1 over level 2, stays at level 0 over level 1 — and over level 0
// even when nothing below overlaps it: newer data never lands below older.
BOOST_DATA_TEST_CASE(FlushedTablesLandByLevelDBsRules, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  Options options = EngineOptions(backend);
  options.filter_policy = nullptr;
  Model model;
  auto db = OpenOrDie(options, path, backend);
  auto put = [&](const std::string& k, const std::string& v) {
    model[k] = v;
    BOOST_REQUIRE(Run(db->Put({}, k, v)).ok());
  };
  for (int i = 0; i < 20; ++i) put(NumKey("p", i), "v1");
  FlushWithFiller(*db, "p~", options.write_buffer_size, &model);
  BOOST_TEST(LevelSummary(*db) == "files[ 0 0 1 0 0 0 0 ]", "overlapping nothing");

  put(NumKey("p", 5), "v2");
  FlushWithFiller(*db, "p~", options.write_buffer_size, &model);
  BOOST_TEST(LevelSummary(*db) == "files[ 0 1 1 0 0 0 0 ]", "overlapping level 2");

  put(NumKey("p", 6), "v2");
  FlushWithFiller(*db, "p~", options.write_buffer_size, &model);
  BOOST_TEST(LevelSummary(*db) == "files[ 1 1 1 0 0 0 0 ]", "overlapping level 1");
  CheckAll(*db, model, "p keys");

  // A level-0 table of its own range (a recovered log's), then a newer
  // version of its key: only level 0 overlaps.
  put("q", "v1");
  BOOST_REQUIRE(Run(db->Close()).ok());
  db.reset();
  db = OpenOrDie(options, path, backend);
  BOOST_REQUIRE_MESSAGE(LevelSummary(*db) == "files[ 2 1 1 0 0 0 0 ]", LevelSummary(*db));
  put("q", "v2");
  FlushWithFiller(*db, "q~", options.write_buffer_size, &model);
  BOOST_TEST(LevelSummary(*db) == "files[ 3 1 1 0 0 0 0 ]", "overlapping level 0 only");
  BOOST_TEST(GetOrStatus(*db, "q") == "v2");
  CheckAll(*db, model, "after the last flush");
  BOOST_REQUIRE(Run(db->Close()).ok());
  db.reset();
  db = OpenOrDie(options, path, backend);
  CheckAll(*db, model, "reopened");
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================

BOOST_AUTO_TEST_SUITE(DBSeekCompactionTest)

// A level-1 table over a level-2 table: each Get of a key only level 2 holds
// consults both and charges a seek to the level-1 table, which holds 100
// (LevelDB: max(100, size / 16 KiB)). The 100th such Get makes it a seek
// compaction candidate, and the compaction moves it into level 2.
BOOST_DATA_TEST_CASE(HundredSeeksCompactTheFirstTableConsulted,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = EngineOptions(backend);
  options.filter_policy = nullptr;
  options.write_buffer_size = 64 * kKiB;
  Model model;
  auto db = OpenOrDie(options, dir.Child("db"), backend);
  for (int i = 0; i < 200; i += 2) {
    const std::string k = NumKey("a", i);
    model[k] = SizedValue(k, 100);
    BOOST_REQUIRE(Run(db->Put({}, k, model[k])).ok());
  }
  FlushWithFiller(*db, "a~", options.write_buffer_size, &model);
  BOOST_REQUIRE_MESSAGE(FilesAtLevel(*db, 2) == 1, LevelSummary(*db));
  for (int i = 1; i < 200; i += 2) {
    const std::string k = NumKey("a", i);
    model[k] = SizedValue(k, 100);
    BOOST_REQUIRE(Run(db->Put({}, k, model[k])).ok());
  }
  FlushWithFiller(*db, "a~", options.write_buffer_size, &model);
  BOOST_REQUIRE_MESSAGE(
      FilesAtLevel(*db, 1) == 1 && FilesAtLevel(*db, 2) == 1 && FilesAtLevel(*db, 0) == 0,
      LevelSummary(*db));
  BOOST_REQUIRE_EQUAL(Stat(*db, "seek_compactions"), 0u);

  // 99 seeks: not yet. (Even keys from 2 on: a000000 is below the level-1
  // table's range, so its Get consults level 2 alone.)
  for (int n = 0; n < 99; ++n) {
    const std::string k = NumKey("a", 2 + (2 * n) % 198);
    BOOST_REQUIRE_EQUAL(GetOrStatus(*db, k), model[k]);
  }
  BOOST_REQUIRE(WaitIdle(*db).ok());
  BOOST_TEST(Stat(*db, "seek_compactions") == 0u);
  BOOST_TEST(FilesAtLevel(*db, 1) == 1, LevelSummary(*db));
  // Gets answered by the level-1 table alone charge nothing.
  for (int i = 1; i < 200; i += 2)
    BOOST_REQUIRE_EQUAL(GetOrStatus(*db, NumKey("a", i)), model[NumKey("a", i)]);
  BOOST_REQUIRE(WaitIdle(*db).ok());
  BOOST_TEST(Stat(*db, "seek_compactions") == 0u);

  // The 100th.
  BOOST_REQUIRE_EQUAL(GetOrStatus(*db, NumKey("a", 198)), model[NumKey("a", 198)]);
  BOOST_REQUIRE(WaitIdle(*db).ok());
  BOOST_TEST(Stat(*db, "seek_compactions") == 1u);
  BOOST_TEST(Stat(*db, "compactions") >= 1u);
  BOOST_TEST(FilesAtLevel(*db, 1) == 0, LevelSummary(*db));
  BOOST_TEST(FilesAtLevel(*db, 2) >= 1, LevelSummary(*db));
  CheckAll(*db, model, "after the seek compaction");
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
  const Model model = test::WriteForRecoveryIntoLevel0(backend, path, 100);
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

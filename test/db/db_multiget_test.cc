// DB::MultiGet against Get and a std::map model — keys in the memtable, an
// immutable memtable, level 0 and deeper levels, at a snapshot — and the
// reads a batch does: each distinct uncached block once, each round's reads
// in one io_uring submission; a damaged block fails only the keys that
// need it.
#include <algorithm>
#include <atomic>
#include <span>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "corodb/cache.h"
#include "corodb/sync_db.h"
#include "db_engine_test_util.h"
#include "io/uring_backend.h"
#include "support/temp_dir.h"

namespace corodb::test {
namespace bdata = boost::unit_test::data;
namespace asio = boost::asio;

namespace {

// A result as a string: the value, "NOT_FOUND", or the error.
std::string AsText(const Result<std::string>& r) {
  if (r.ok()) return *r;
  if (r.status().IsNotFound()) return "NOT_FOUND";
  return r.status().ToString();
}

std::string Expected(const Model& model, const std::string& key) {
  const auto it = model.find(key);
  return it == model.end() ? "NOT_FOUND" : it->second;
}

std::string Shown(const std::string& s) {
  return s.size() <= 40 ? "\"" + Printable(s) + "\"" : std::to_string(s.size()) + " bytes";
}

// MultiGet of `keys` on `ctx` (a fresh one when null).
std::vector<Result<std::string>> MultiGetOn(asio::io_context* ctx, DB& db, const ReadOptions& ro,
                                            const std::vector<std::string>& keys) {
  const std::vector<Slice> slices(keys.begin(), keys.end());
  if (ctx == nullptr) return Run(db.MultiGet(ro, std::span<const Slice>(slices)));
  return RunOn(*ctx, db.MultiGet(ro, std::span<const Slice>(slices)));
}

// Random puts and deletes of keys k000000..k002999 until `bytes` were written.
void WriteRandom(DB& db, Random& rnd, size_t bytes, Model* model) {
  size_t written = 0;
  while (written < bytes) {
    const std::string key = NumKey("k", static_cast<int>(rnd.Uniform(3000)));
    if (rnd.OneIn(5)) {
      BOOST_REQUIRE(Run(db.Delete({}, key)).ok());
      model->erase(key);
      written += key.size();
    } else {
      const std::string value = RandomValue(rnd, 300);
      BOOST_REQUIRE(Run(db.Put({}, key, value)).ok());
      (*model)[key] = value;
      written += key.size() + value.size();
    }
  }
}

// Every key that may be asked: the written range, keys around it that were
// never written, the empty key and binary keys.
std::vector<std::string> KeySpace() {
  std::vector<std::string> keys;
  for (int i = 0; i < 3000; ++i) keys.push_back(NumKey("k", i));
  for (int i = 0; i < 3000; i += 97) keys.push_back(NumKey("k", i) + std::string(1, '\0'));
  for (const char* k : {"", "a", "k", "k~", "zzz"}) keys.push_back(k);
  keys.push_back(std::string("\0", 1));
  keys.push_back(std::string("\0\xff\x01", 3));
  keys.push_back(std::string("k\xff", 2));
  return keys;
}

// The keys in random order, about one in eight twice, cut into batches of
// 1, 2, 17, 100 and 1000 keys in turn; for each batch MultiGet must answer
// every key as Get does and as `model` says.
void CheckBatches(DB& db, const ReadOptions& ro, const Model& model, Random& rnd,
                  const std::string& where) {
  std::vector<std::string> keys = KeySpace();
  const size_t distinct = keys.size();
  for (size_t i = 0; i < distinct; ++i) {
    if (rnd.OneIn(8)) keys.push_back(keys[i]);
  }
  for (size_t i = keys.size(); i > 1; --i)
    std::swap(keys[i - 1], keys[rnd.Uniform(static_cast<uint32_t>(i))]);
  const size_t sizes[] = {1, 2, 17, 100, 1000};
  int bad = 0;
  size_t start = 0;
  for (size_t n = 0; start < keys.size(); ++n) {
    const size_t size = std::min(sizes[n % std::size(sizes)], keys.size() - start);
    const std::vector<std::string> batch(keys.begin() + static_cast<ptrdiff_t>(start),
                                         keys.begin() + static_cast<ptrdiff_t>(start + size));
    start += size;
    const std::vector<Result<std::string>> got = MultiGetOn(nullptr, db, ro, batch);
    BOOST_REQUIRE_EQUAL(got.size(), batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const std::string multi = AsText(got[i]);
      const std::string single = GetOrStatus(db, ro, batch[i]);
      const std::string want = Expected(model, batch[i]);
      if (multi == single && multi == want) continue;
      BOOST_ERROR(where << ": key " << Shown(batch[i]) << " (batch of " << batch.size()
                        << "): MultiGet " << Shown(multi) << ", Get " << Shown(single) << ", model "
                        << Shown(want));
      BOOST_REQUIRE_MESSAGE(++bad < 5, where << ": too many mismatches");
    }
  }
}

// 100 keys k000000..k000099 with values larger than a 1 KiB block, so each
// data block holds exactly one entry, flushed into one table; returns them.
Model WriteOneEntryPerBlock(DB& db, const Options& options) {
  Model model;
  for (int i = 0; i < 100; ++i) {
    const std::string k = NumKey("k", i);
    model[k] = SizedValue(k, 1100);
    BOOST_REQUIRE(Run(db.Put({}, k, model[k])).ok());
  }
  FlushWithFiller(db, "k~", options.write_buffer_size, &model);
  return model;
}

int TotalFiles(DB& db) {
  int n = 0;
  for (int level = 0; level < kNumLevels; ++level) n += FilesAtLevel(db, level);
  return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(DBMultiGetTest)

// Keys in the memtable, an immutable memtable (the background is held, so
// it stays), level 0 and deeper levels; deleted, overwritten, never
// written, empty and binary keys; duplicates in a batch; a snapshot taken
// before the last writes. Then the same after the flush and compactions,
// and once through SyncDB.
BOOST_DATA_TEST_CASE(MultiGetEqualsGetAtEveryLevel, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = EngineOptions(backend);
  Random rnd(301);
  Model model;
  {
    auto db = OpenOrDie(options, path, backend);
    WriteRandom(*db, rnd, 400 * kKiB, &model);
    for (const std::string& k :
         {std::string(), std::string("\0", 1), std::string("\0\xff\x01", 3)}) {
      model[k] = "special " + Printable(k);
      BOOST_REQUIRE(Run(db->Put({}, k, model[k])).ok());
    }
    BOOST_REQUIRE(WaitIdle(*db).ok());
    BOOST_REQUIRE_GT(FilesAtLevel(*db, 1) + FilesAtLevel(*db, 2), 0);
    // Left in the log: the reopen recovers it into a level-0 table.
    WriteRandom(*db, rnd, 8 * kKiB, &model);
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
  std::unique_ptr<DBImpl> impl = OpenHeldOrDie(options, path, backend);
  BOOST_REQUIRE_GT(FilesAtLevel(*impl, 0), 0);
  SnapshotHandle snap = impl->GetSnapshot();
  const Model at_snapshot = model;
  // One memtable switch: its memtable waits for a flush that cannot start.
  const uint64_t switches = Stat(*impl, "memtable_switches");
  while (Stat(*impl, "memtable_switches") == switches) WriteRandom(*impl, rnd, 1 * kKiB, &model);
  WriteRandom(*impl, rnd, 2 * kKiB, &model);
  BOOST_REQUIRE(Run(impl->Delete({}, std::string("\0", 1))).ok());
  model.erase(std::string("\0", 1));
  BOOST_TEST_MESSAGE(backend << ": " << LevelSummary(*impl) << " with an immutable memtable");

  ReadOptions at;
  at.snapshot = snap.get();
  CheckBatches(*impl, {}, model, rnd, "memtables and tables");
  CheckBatches(*impl, at, at_snapshot, rnd, "at the snapshot");
  ReadOptions verified_uncached;
  verified_uncached.verify_checksums = true;
  verified_uncached.fill_cache = false;
  CheckBatches(*impl, verified_uncached, model, rnd, "verified, not cached");
  BOOST_CHECK_GT(Stat(*impl, "multiget_keys"), 3 * 3000u);

  impl->HoldBackgroundForTesting(false);
  BOOST_REQUIRE(WaitIdle(*impl).ok());
  CheckBatches(*impl, {}, model, rnd, "after flush and compactions");
  CheckBatches(*impl, at, at_snapshot, rnd, "at the snapshot, after compactions");

  // SyncDB runs the same coroutine on the calling thread.
  SyncDB sync(std::move(impl));
  std::vector<std::string> keys = KeySpace();
  keys.push_back(keys.front());
  const std::vector<Slice> slices(keys.begin(), keys.end());
  const std::vector<Result<std::string>> got = sync.MultiGet({}, slices);
  BOOST_REQUIRE_EQUAL(got.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    BOOST_REQUIRE_EQUAL(AsText(got[i]), Expected(model, keys[i]));
  }
  BOOST_CHECK(sync.MultiGet({}, {}).empty());
}

// An empty batch answers nothing; a batch answered by the memtable reads
// no table; a released snapshot fails every key (as Get).
BOOST_DATA_TEST_CASE(EmptyBatchMemtableOnlyAndReleasedSnapshot, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  auto db = OpenOrDie(EngineOptions(backend), dir.path(), backend);
  BOOST_CHECK(MultiGetOn(nullptr, *db, {}, {}).empty());
  BOOST_REQUIRE(Run(db->Put({}, "a", "1")).ok());
  BOOST_REQUIRE(Run(db->Put({}, "b", "2")).ok());
  BOOST_REQUIRE(Run(db->Delete({}, "b")).ok());
  const std::vector<Result<std::string>> got = MultiGetOn(nullptr, *db, {}, {"b", "a", "c", "a"});
  BOOST_REQUIRE_EQUAL(got.size(), 4u);
  BOOST_CHECK(got[0].status().IsNotFound());
  BOOST_CHECK_EQUAL(AsText(got[1]), "1");
  BOOST_CHECK(got[2].status().IsNotFound());
  BOOST_CHECK_EQUAL(AsText(got[3]), "1");
  BOOST_CHECK_EQUAL(Stat(*db, "multigets"), 2u);
  BOOST_CHECK_EQUAL(Stat(*db, "multiget_keys"), 4u);
  BOOST_CHECK_EQUAL(Stat(*db, "multiget_block_reads"), 0u);

  SnapshotHandle snap = db->GetSnapshot();
  const Snapshot* released = snap.get();
  db->ReleaseSnapshot(snap);
  ReadOptions ro;
  ro.snapshot = released;
  const std::vector<Result<std::string>> refused = MultiGetOn(nullptr, *db, ro, {"a", "c"});
  BOOST_REQUIRE_EQUAL(refused.size(), 2u);
  for (const Result<std::string>& r : refused) {
    BOOST_CHECK_MESSAGE(r.status().IsInvalidArgument(), r.status().ToString());
  }
}

// One table with one entry per data block, read with O_DIRECT (so no block
// comes from the page cache) and fill_cache=false: a batch reads each
// distinct block once, duplicates and keys outside every table reading
// nothing more, in one round; on io_uring in one submission. With
// fill_cache, the blocks read are cached and a second batch reads none.
BOOST_DATA_TEST_CASE(ReadsEachUncachedBlockOnceInOneSubmission, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  Options options = EngineOptions(backend);
  options.write_buffer_size = 256 * kKiB;
  options.use_direct_reads = true;
  options.block_cache = NewLRUCache(4 << 20);  // this DB's reads only
  Model model;
  {
    auto db = OpenOrDie(options, path, backend);
    model = WriteOneEntryPerBlock(*db, options);
    BOOST_REQUIRE_EQUAL(TotalFiles(*db), 1);
  }
  auto db = OpenOrDie(options, path, backend);
  const std::vector<std::string> keys = {NumKey("k", 5),  NumKey("k", 17), NumKey("k", 5),
                                         "a-before-all",  NumKey("k", 42), NumKey("k", 99),
                                         NumKey("k", 17), "z-after-all",   NumKey("k", 0)};
  const uint64_t distinct_blocks = 5;
  ReadOptions uncached;
  uncached.fill_cache = false;
  // The table is opened (its footer, index and filter read) by a first batch.
  (void)MultiGetOn(nullptr, *db, uncached, keys);

  auto check_values = [&](const std::vector<Result<std::string>>& got) {
    BOOST_REQUIRE_EQUAL(got.size(), keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      BOOST_CHECK_EQUAL(AsText(got[i]), Expected(model, keys[i]));
    }
  };
  // Runs one batch on a context of its own and returns (block reads,
  // rounds, ring submissions, ring operations) it caused.
  struct Cost {
    uint64_t reads, rounds, submits, ring_ops;
  };
  auto batch = [&](const ReadOptions& ro) {
    asio::io_context ctx;
    const uint64_t reads = Stat(*db, "multiget_block_reads");
    const uint64_t rounds = Stat(*db, "multiget_read_rounds");
    check_values(MultiGetOn(&ctx, *db, ro, keys));
    const io::UringRingStats ring = io::RingStatsOf(ctx);
    return Cost{Stat(*db, "multiget_block_reads") - reads,
                Stat(*db, "multiget_read_rounds") - rounds, ring.submits, ring.started};
  };

  for (int pass = 0; pass < 2; ++pass) {  // nothing is cached: the same reads again
    const Cost cost = batch(uncached);
    BOOST_CHECK_EQUAL(cost.reads, distinct_blocks);
    BOOST_CHECK_EQUAL(cost.rounds, 1u);
    if (backend == "uring") {
      BOOST_CHECK_EQUAL(cost.submits, 1u);
      BOOST_CHECK_EQUAL(cost.ring_ops, distinct_blocks);
    }
  }
  const Cost filling = batch(ReadOptions{});
  BOOST_CHECK_EQUAL(filling.reads, distinct_blocks);
  BOOST_CHECK_EQUAL(filling.rounds, 1u);
  const Cost cached = batch(ReadOptions{});
  BOOST_CHECK_EQUAL(cached.reads, 0u);
  BOOST_CHECK_EQUAL(cached.rounds, 0u);
  BOOST_CHECK_EQUAL(cached.submits, 0u);
}

// Without filters, a key whose level-1 table covers it but does not hold it
// reads that table's block first, then (in a second round) its level-2
// block: two rounds, two submissions on io_uring. Keys sharing a block
// share its read in either round.
BOOST_DATA_TEST_CASE(KeyNotInItsFirstBlockTakesASecondRound, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  Options options = EngineOptions(backend);
  options.write_buffer_size = 256 * kKiB;
  options.use_direct_reads = true;
  options.filter_policy = nullptr;
  Model model;
  {
    auto db = OpenOrDie(options, path, backend);
    model = WriteOneEntryPerBlock(*db, options);
    BOOST_REQUIRE_MESSAGE(FilesAtLevel(*db, 2) == 1, LevelSummary(*db));
    // A second table covering k000000..k~: it goes to level 1 (it overlaps
    // the level-2 table) and holds only the ends of the range.
    for (const int i : {0, 99}) {
      const std::string k = NumKey("k", i);
      model[k] = SizedValue(k + " again", 1100);
      BOOST_REQUIRE(Run(db->Put({}, k, model[k])).ok());
    }
    FlushWithFiller(*db, "k~", options.write_buffer_size, &model);
    BOOST_REQUIRE_MESSAGE(FilesAtLevel(*db, 1) == 1 && FilesAtLevel(*db, 2) == 1,
                          LevelSummary(*db));
  }
  auto db = OpenOrDie(options, path, backend);
  // k000050 and k000060: level 1's block of k000099, then their own blocks
  // at level 2; k000099 is answered by that first block.
  const std::vector<std::string> keys = {NumKey("k", 50), NumKey("k", 60), NumKey("k", 99)};
  ReadOptions uncached;
  uncached.fill_cache = false;
  (void)MultiGetOn(nullptr, *db, uncached, keys);  // opens both tables

  asio::io_context ctx;
  const uint64_t reads = Stat(*db, "multiget_block_reads");
  const uint64_t rounds = Stat(*db, "multiget_read_rounds");
  const std::vector<Result<std::string>> got = MultiGetOn(&ctx, *db, uncached, keys);
  BOOST_REQUIRE_EQUAL(got.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    BOOST_CHECK_EQUAL(AsText(got[i]), Expected(model, keys[i]));
    BOOST_CHECK_EQUAL(AsText(got[i]), GetOrStatus(*db, uncached, keys[i]));
  }
  BOOST_CHECK_EQUAL(Stat(*db, "multiget_block_reads") - reads, 3u);
  BOOST_CHECK_EQUAL(Stat(*db, "multiget_read_rounds") - rounds, 2u);
  if (backend == "uring") {
    BOOST_CHECK_EQUAL(io::RingStatsOf(ctx).submits, 2u);
    BOOST_CHECK_EQUAL(io::RingStatsOf(ctx).started, 3u);
  }
}

// One flipped byte in the first data block: with verify_checksums the keys
// in that block are Corruption naming the file, every other key of the
// batch reads as usual, and each result equals Get's. With O_DIRECT (the
// batch's own reads) and without (blocks copied from the page cache).
BOOST_DATA_TEST_CASE(DamagedBlockFailsOnlyTheKeysThatNeedIt, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  Options options = EngineOptions(backend);
  options.write_buffer_size = 256 * kKiB;
  Model model;
  {
    auto db = OpenOrDie(options, path, backend);
    model = WriteOneEntryPerBlock(*db, options);
    BOOST_REQUIRE_EQUAL(TotalFiles(*db), 1);
  }
  const std::set<uint64_t> tables = ListDbFiles(path).tables;
  BOOST_REQUIRE_EQUAL(tables.size(), 1u);
  const std::string table_name = io::TableFileName(path, *tables.begin());
  const std::string base_name = table_name.substr(table_name.rfind('/') + 1);
  FlipBit(table_name, 20);  // in the first data block: k000000's

  const std::string damaged = NumKey("k", 0);
  const std::vector<std::string> keys = {NumKey("k", 1), damaged, NumKey("k", 50),
                                         "z-absent",     damaged, NumKey("k", 99)};
  for (const bool direct : {true, false}) {
    options.use_direct_reads = direct;
    auto db = OpenOrDie(options, path, backend);
    ReadOptions verified;
    verified.verify_checksums = true;
    verified.fill_cache = false;
    const std::vector<Result<std::string>> got = MultiGetOn(nullptr, *db, verified, keys);
    BOOST_REQUIRE_EQUAL(got.size(), keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      BOOST_TEST_CONTEXT("direct " << direct << ", key " << keys[i]) {
        BOOST_CHECK_EQUAL(AsText(got[i]), GetOrStatus(*db, verified, keys[i]));
        if (keys[i] == damaged) {
          BOOST_CHECK_MESSAGE(got[i].status().IsCorruption(), got[i].status().ToString());
          BOOST_CHECK_MESSAGE(got[i].status().ToString().find(base_name) != std::string::npos,
                              got[i].status().ToString() << " does not name " << base_name);
        } else {
          BOOST_CHECK_EQUAL(AsText(got[i]), Expected(model, keys[i]));
        }
      }
    }
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
}

// Threads running MultiGets of keys that never change while a writer makes
// flushes and compactions (tables opened, replaced and evicted under the
// batches, with a table cache of ten tables): every batch reads the values.
BOOST_DATA_TEST_CASE(ConcurrentBatchesDuringCompactions, bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = EngineOptions(backend);
  options.max_open_files = 20;  // a table cache of 10
  auto db = OpenOrDie(options, dir.path(), backend);
  Model stable;
  for (int i = 0; i < 3000; i += 3) {
    const std::string k = NumKey("k", i);
    stable[k] = SizedValue(k, 100 + i % 200);
    BOOST_REQUIRE(Run(db->Put({}, k, stable[k])).ok());
  }
  BOOST_REQUIRE(WaitIdle(*db).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::atomic<int> batches{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      Random rnd(100 + static_cast<uint32_t>(t));
      asio::io_context ctx;
      while (!stop.load()) {
        std::vector<std::string> keys;
        for (int j = 0; j < 32; ++j)
          keys.push_back(NumKey("k", 3 * static_cast<int>(rnd.Uniform(1000))));
        const std::vector<Result<std::string>> got = MultiGetOn(&ctx, *db, {}, keys);
        for (size_t j = 0; j < keys.size(); ++j) {
          if (got.size() != keys.size() || AsText(got[j]) != stable.at(keys[j]))
            errors.fetch_add(1);
        }
        batches.fetch_add(1);
      }
    });
  }
  Random rnd(7);
  for (int i = 0; i < 4000; ++i) {
    // Keys the readers never ask for (k...1 and k...2).
    const std::string k = NumKey("k", 3 * static_cast<int>(rnd.Uniform(1000)) + 1 + (i % 2));
    BOOST_REQUIRE(Run(db->Put({}, k, RandomValue(rnd, 200))).ok());
  }
  BOOST_REQUIRE(WaitIdle(*db).ok());
  stop = true;
  for (std::thread& t : readers) t.join();
  BOOST_CHECK_EQUAL(errors.load(), 0);
  BOOST_CHECK_GT(batches.load(), 0);
  BOOST_CHECK_GT(Stat(*db, "compactions"), 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace corodb::test

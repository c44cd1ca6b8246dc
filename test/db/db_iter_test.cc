// DB iterators and snapshots against a std::map model, with data in the
// memtable, immutable memtables, level 0 and deeper levels.
#include <algorithm>
#include <atomic>
#include <iterator>
#include <set>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "corodb/cache.h"
#include "corodb/sync_db.h"
#include "db_iter_test_util.h"
#include "io/fault_injection_backend.h"
#include "support/temp_dir.h"

namespace corodb::test {
namespace bdata = boost::unit_test::data;
namespace asio = boost::asio;

namespace {

// Seek targets among the "d" keys (d000000..d000109), sometimes just past one.
std::string RandomDTarget(Random& rnd) {
  std::string target = NumKey("d", static_cast<int>(rnd.Uniform(110)));
  if (rnd.OneIn(4)) target += '\0';
  return target;
}

// Gets of `keys` (each in the range of a table at one level and found only
// deeper) until a seek compaction has run (as in db_compaction_test.cc).
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

// Total bytes of the table files in `path`.
uint64_t TableBytes(const std::string& path) {
  uint64_t total = 0;
  for (uint64_t number : ListDbFiles(path).tables) {
    const Result<uint64_t> size = io::GetFileSize(io::TableFileName(path, number));
    BOOST_REQUIRE_MESSAGE(size.ok(), size.status().ToString());
    total += *size;
  }
  return total;
}

// The offset of the data block of table `number` in `path` where `user_key`'s
// entries are (or would be).
uint64_t DataBlockOffsetOf(const std::string& path, uint64_t number,
                           const Options& options, const std::string& user_key) {
  const InternalKeyComparator icmp(BytewiseComparator());
  const table::TableOptions topt = table::TableOptionsForDb(options, &icmp, nullptr);
  io::FileSystem fs(MakeBackendByName("threadpool"));
  const std::string name = io::TableFileName(path, number);
  const Result<uint64_t> size = io::GetFileSize(name);
  BOOST_REQUIRE(size.ok());
  Result<std::unique_ptr<io::File>> file = fs.Open(name, io::OpenMode::kRead);
  BOOST_REQUIRE(file.ok());
  Result<std::unique_ptr<table::Table>> t =
      Run(table::Table::Open(topt, std::move(file).value(), *size));
  BOOST_REQUIRE_MESSAGE(t.ok(), t.status().ToString());
  const InternalKey target(user_key, kMaxSequenceNumber, kValueTypeForSeek);
  return (*t)->ApproximateOffsetOf(target.Encode());
}

// A DB at `path` over `io_backend` (EngineOptions of `backend`), `bytes` of
// random writes (WriteRandom, recorded in *model), flushed and compacted.
std::unique_ptr<DB> OpenFilled(const std::string& backend, const std::string& path,
                               std::shared_ptr<io::Backend> io_backend, Random& rnd,
                               Model* model, size_t bytes = 200 * kKiB) {
  auto opened = TryOpen(EngineOptions(backend), path, std::move(io_backend));
  BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  std::unique_ptr<DB> db = std::move(opened).value();
  WriteRandom(*db, rnd, bytes, model);
  BOOST_REQUIRE(WaitIdle(*db).ok());
  return db;
}

// co_await it.Seek(target), run to completion on this thread.
void SeekTo(Iterator& it, const std::string& target) {
  Run([&]() -> asio::awaitable<bool> {
    co_await it.Seek(target);
    co_return true;
  }());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(DBIteratorTest)

BOOST_DATA_TEST_CASE(RandomMovesMatchStdMapAtEveryLevel,
                     bdata::make(BackendNames()) * bdata::make({false, true}), backend, mmap) {
  TempDir dir;
  Options options = EngineOptions(backend);
  options.mmap_reads = mmap;
  auto db = OpenOrDie(options, dir.path(), backend);
  Random rnd(17);
  Model model;
  for (int round = 0; round < 6; ++round) {
    WriteRandom(*db, rnd, 150 * kKiB, &model);
    if (round % 2 == 1) BOOST_REQUIRE(WaitIdle(*db).ok());
    std::unique_ptr<Iterator> it = db->NewIterator({});
    // Later writes do not change what the iterator sees.
    const Model seen = model;
    WriteRandom(*db, rnd, 20 * kKiB, &model);
    std::string error;
    const bool ok = Run(WalkAgainstModel(*it, seen, rnd, 3000, &error));
    BOOST_REQUIRE_MESSAGE(ok,
                          "round " << round << " " << LevelSummary(*db) << ": " << error);
  }
  BOOST_TEST_MESSAGE(LevelSummary(*db));
  BOOST_CHECK_GT(FilesAtLevel(*db, 1) + FilesAtLevel(*db, 2), 0);
}

BOOST_DATA_TEST_CASE(EmptyDatabaseAndOneKey, bdata::make(BackendNames()), backend) {
  TempDir dir;
  auto db = OpenOrDie(EngineOptions(backend), dir.path(), backend);
  std::unique_ptr<Iterator> it = db->NewIterator({});
  Run([&]() -> asio::awaitable<bool> {
    co_await it->SeekToFirst();
    co_return true;
  }());
  BOOST_CHECK(!it->Valid());
  BOOST_CHECK(it->status().ok());
  // Misuse: completes, with a status. (A Try* move declines when it ends a
  // read turn on its thread, owing its executor a yield, read_yield.h; the
  // next call cannot end a turn.)
  BOOST_CHECK(it->TryNext() || it->TryNext());
  BOOST_CHECK(it->status().IsInvalidArgument());

  const std::string binary("\0\xff", 2);
  BOOST_REQUIRE(Run(db->Put({}, binary, "v")).ok());
  auto sync_it = std::make_unique<SyncIterator>(db->NewIterator({}));
  sync_it->SeekToLast();
  BOOST_REQUIRE(sync_it->Valid());
  BOOST_CHECK(sync_it->key() == binary);
  sync_it->Prev();
  BOOST_CHECK(!sync_it->Valid());
  sync_it->Seek(std::string("\0", 1));
  BOOST_REQUIRE(sync_it->Valid());
  BOOST_CHECK(sync_it->value() == "v");
  sync_it->Next();
  BOOST_CHECK(!sync_it->Valid());
  BOOST_CHECK(sync_it->status().ok());
}

// TrySeek: a seek without a coroutine. It lands where the model says when
// it completes; declined twice in a row (not a read turn's end: a block to
// read, a file to enter), the awaited Seek lands there. With nothing cached
// every seek declines and its Seek reads; once the cache holds the blocks,
// most complete. A declined TrySeek leaves the iterator unpositioned (a
// Next is misuse), and a move a declined TryNext left pending does not
// outlive the next seek. (A fault backend with a read filter that fails
// nothing makes every table read go through it, where it is counted, and
// fill_cache = false keeps blocks out of the cache.)
BOOST_DATA_TEST_CASE(TrySeekAgreesWithSeekAndLeavesNothingPending,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  auto fault = std::make_shared<io::FaultInjectionBackend>(MakeBackendByName(backend));
  Random rnd(53);
  Model model;
  std::unique_ptr<DB> db = OpenFilled(backend, dir.path(), fault, rnd, &model);
  std::atomic<uint64_t> table_reads{0};
  fault->FailReads(EIO, [&table_reads](const std::string& path, uint64_t, uint64_t) {
    if (path.ends_with(".ldb")) table_reads.fetch_add(1);
    return false;
  });
  std::string error;
  // Reads first, while the block cache holds nothing a seek needs.
  for (const bool reads_needed : {true, false}) {
    BOOST_TEST_CONTEXT((reads_needed ? "blocks to read" : "blocks in memory")) {
      ReadOptions ro;
      ro.fill_cache = !reads_needed;
      std::unique_ptr<Iterator> it = db->NewIterator(ro);
      int done = 0;
      int declined = 0;
      int read_after_decline = 0;
      for (int i = 0; i < 200; ++i) {
        const std::string target = RandomKTarget(rnd);
        const auto want = model.lower_bound(target);
        if (it->TrySeek(target) || it->TrySeek(target)) {  // a second refusal is never a turn's end
          ++done;
          BOOST_REQUIRE_MESSAGE(AtModelPosition(*it, model, want, "TrySeek", &error), error);
          continue;
        }
        ++declined;
        BOOST_REQUIRE(!it->Valid());
        BOOST_REQUIRE(it->TryNext() || it->TryNext());  // misuse completes, as a refusal
        BOOST_REQUIRE(it->status().IsInvalidArgument());
        const uint64_t reads_before = table_reads.load();
        SeekTo(*it, target);
        BOOST_REQUIRE_MESSAGE(AtModelPosition(*it, model, want, "Seek", &error), error);
        if (table_reads.load() > reads_before) ++read_after_decline;
      }
      BOOST_TEST_MESSAGE(backend << ": " << done << " done, " << declined << " declined, "
                                 << read_after_decline << " of those then read");
      if (reads_needed) {  // nothing cached: every seek needs a block read
        BOOST_TEST(declined == 200);
        BOOST_TEST(read_after_decline == 200);
      } else {  // the cache fills: most seeks complete in memory
        BOOST_TEST(done > 50);
      }
    }
  }
  // A TryNext that declined (a block or a file to open) leaves its move
  // pending; a TrySeek into the block still loaded completes without it.
  ReadOptions no_fill;
  no_fill.fill_cache = false;
  std::unique_ptr<Iterator> it = db->NewIterator(no_fill);
  SeekTo(*it, NumKey("k", 0));
  BOOST_REQUIRE(it->Valid());
  std::string last;
  int steps = 0;
  while (steps < 10000) {
    last = std::string(it->key());
    if (!it->TryNext() && !it->TryNext()) break;
    BOOST_REQUIRE(it->Valid());
    ++steps;
  }
  BOOST_REQUIRE_MESSAGE(!it->Valid() && it->status().ok(),
                        "no step declined in " << steps << " steps");
  BOOST_TEST((it->TrySeek(last) || it->TrySeek(last)));
  BOOST_TEST(AtModelPosition(*it, model, model.lower_bound(last),
                             "TrySeek after a declined TryNext", &error),
             error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(DBSnapshotTest)

BOOST_DATA_TEST_CASE(SnapshotReadsStayThroughOverwritesAndCompactions,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  auto db = OpenOrDie(EngineOptions(backend), dir.path(), backend);
  Random rnd(5);
  Model model;
  WriteRandom(*db, rnd, 100 * kKiB, &model);
  SnapshotHandle snap = db->GetSnapshot();
  const Model at_snapshot = model;
  for (int i = 0; i < 4; ++i) WriteRandom(*db, rnd, 100 * kKiB, &model);
  BOOST_REQUIRE(WaitIdle(*db).ok());
  BOOST_REQUIRE_GT(Stat(*db, "compactions"), 0u);

  ReadOptions ro;
  ro.snapshot = snap.get();
  for (int i = 0; i < 3000; ++i) {
    const std::string key = NumKey("k", i);
    const auto want = at_snapshot.find(key);
    BOOST_REQUIRE_EQUAL(GetOrStatus(*db, ro, key), want == at_snapshot.end()
                                                       ? std::string("NOT_FOUND")
                                                       : want->second);
  }
  std::unique_ptr<Iterator> it = db->NewIterator(ro);
  std::string error;
  BOOST_REQUIRE_MESSAGE(Run(WalkAgainstModel(*it, at_snapshot, rnd, 2000, &error)),
                        error);

  // A released snapshot is refused, not read at a wrong point.
  const Snapshot* released = snap.get();
  db->ReleaseSnapshot(snap);
  BOOST_CHECK(!snap);
  ro.snapshot = released;
  BOOST_CHECK(Run(db->Get(ro, "k000001")).status().IsInvalidArgument());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(DBSnapshotLevelsTest)

// Snapshots taken with the data in the memtable and at several levels, over
// overwrites, deletes and re-puts: after each step — a flush to level 2, one
// to level 1, four level-0 tables compacted into level 1, level 1 compacted
// into level 2 by seeks — every snapshot reads its own state with Get and
// with an iterator, and releasing some leaves the others intact.
BOOST_DATA_TEST_CASE(SnapshotsReadTheirOwnStateThroughCompactionsAtEveryLevel,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  Options options = EngineOptions(backend);
  options.filter_policy = nullptr;  // Gets read every table in range: seeks are charged
  auto db = OpenOrDie(options, path, backend);
  Random rnd(41);
  Model model;
  std::vector<std::string> keys;
  for (int i = 0; i < 110; ++i) keys.push_back(NumKey("d", i));
  keys.push_back("d~");
  auto put = [&](int i, const std::string& tag) {
    const std::string k = NumKey("d", i);
    model[k] = SizedValue(tag + "-" + k, 100);
    BOOST_REQUIRE(Run(db->Put({}, k, model[k])).ok());
  };
  auto del = [&](int i) {
    model.erase(NumKey("d", i));
    BOOST_REQUIRE(Run(db->Delete({}, NumKey("d", i))).ok());
  };
  struct Taken {
    SnapshotHandle handle;
    Model model;
    std::string when;
  };
  std::vector<Taken> snaps;
  auto take = [&](const std::string& when) {
    snaps.push_back({db->GetSnapshot(), model, when});
  };
  auto check = [&](const std::string& where) {
    BOOST_TEST_CONTEXT(where << ", " << LevelSummary(*db)) {
      for (const Taken& t : snaps) {
        if (!t.handle) continue;
        ReadOptions ro;
        ro.snapshot = t.handle.get();
        std::string diff = CheckGets(*db, ro, t.model, keys);
        BOOST_REQUIRE_MESSAGE(diff.empty(), "snapshot " << t.when << ": " << diff);
        std::unique_ptr<Iterator> it = db->NewIterator(ro);
        diff = CheckIterator(*it, t.model, rnd, 300, RandomDTarget);
        BOOST_REQUIRE_MESSAGE(diff.empty(),
                              "snapshot " << t.when << " iterator: " << diff);
      }
      BOOST_REQUIRE_EQUAL(CheckGets(*db, {}, model, keys), "");
      std::unique_ptr<Iterator> it = db->NewIterator({});
      BOOST_REQUIRE_EQUAL(CheckIterator(*it, model, rnd, 300, RandomDTarget), "");
    }
  };

  // 1. d0..d99 (v1) in the memtable, then in one table pushed to level 2.
  for (int i = 0; i < 100; ++i) put(i, "v1");
  take("v1 in the memtable");
  check("v1 in the memtable");
  FlushWithFiller(*db, "d~", options.write_buffer_size, &model);
  BOOST_REQUIRE_MESSAGE(LevelSummary(*db) == "files[ 0 0 1 0 0 0 0 ]", LevelSummary(*db));
  check("v1 at level 2");

  // 2. Every tenth key deleted, the odd keys overwritten (v2): a table at
  //    level 1, over level 2.
  for (int i = 0; i < 100; i += 10) del(i);
  for (int i = 1; i < 100; i += 2) put(i, "v2");
  take("v2 in the memtable");
  FlushWithFiller(*db, "d~", options.write_buffer_size, &model);
  BOOST_REQUIRE_MESSAGE(FilesAtLevel(*db, 1) == 1 && FilesAtLevel(*db, 2) == 1,
                        LevelSummary(*db));
  check("v2 at level 1");

  // 3. Four level-0 tables (odd keys overwritten again, tenth keys put back
  //    and deleted again, new keys d100..) compacted with level 1 into level 1.
  const uint64_t compactions = Stat(*db, "compactions");
  for (int t = 0; t < 4; ++t) {
    const std::string tag = "v" + std::to_string(3 + t);
    for (int i = 1; i < 100; i += 2) put(i, tag);
    for (int i = 0; i < 100; i += 10) {
      if (t % 2 == 0) {
        put(i, tag);
      } else {
        del(i);
      }
    }
    put(100 + t, tag);
    if (t == 1) take("between level-0 tables");
    FlushWithFiller(*db, "d~", options.write_buffer_size, &model);
    if (t == 2) check("three level-0 tables");
  }
  BOOST_REQUIRE_MESSAGE(Stat(*db, "compactions") > compactions, LevelSummary(*db));
  // (The checks' Gets charge seeks too: seek compactions may have run already.)
  BOOST_TEST_MESSAGE("after the level-0 compaction: " << LevelSummary(*db));
  check("after the level-0 compaction");

  // 4. Level 1 compacted into level 2 by seeks: Gets of even keys that only
  //    level 2 holds consult level 1 first (the checks' Gets did so too, and
  //    may have compacted it already).
  take("before the level-1 compaction");
  std::vector<std::string> even;
  for (int i = 2; i < 100; i += 2) {
    if (i % 10 != 0) even.push_back(NumKey("d", i));
  }
  BOOST_REQUIRE(WaitIdle(*db).ok());  // a seek compaction the checks started
  if (FilesAtLevel(*db, 1) > 0) SeekCompact(*db, even, model);
  BOOST_REQUIRE_MESSAGE(FilesAtLevel(*db, 1) == 0 && Stat(*db, "seek_compactions") > 0,
                        LevelSummary(*db));
  check("after the level-1 compaction");

  // 5. Overwrites after all of them, then releases in a mixed order; the
  //    others still read their state, through more flushes.
  for (int i = 0; i < 100; i += 3) put(i, "v9");
  check("newest in the memtable");
  db->ReleaseSnapshot(snaps[1].handle);
  FlushWithFiller(*db, "d~", options.write_buffer_size, &model);
  check("second snapshot released");
  snaps[0].handle.reset();
  for (int i = 0; i < 100; i += 7) del(i);
  FlushWithFiller(*db, "d~", options.write_buffer_size, &model);
  check("first snapshot released");
  snaps[3].handle = SnapshotHandle();
  check("fourth snapshot released");
}

// While a snapshot is held, compactions keep the versions it reads; once the
// last one is released, the next compactions drop them: the tables in the
// directory shrink to about one version of the data.
BOOST_DATA_TEST_CASE(ReleasingTheLastSnapshotLetsCompactionsDropOldVersions,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  Options options = EngineOptions(backend);
  auto db = OpenOrDie(options, path, backend);
  constexpr int kKeys = 800;
  constexpr size_t kValueSize = 1000;  // random bytes: snappy leaves them as they are
  Random rnd(23);
  // Every key once, in random order (so each memtable's table spans the
  // whole key range and every level-0 compaction rewrites all of level 1).
  auto write_version = [&](Model* model) {
    std::vector<int> order(kKeys);
    for (int i = 0; i < kKeys; ++i) order[static_cast<size_t>(i)] = i;
    for (int i = kKeys - 1; i > 0; --i) {
      std::swap(order[static_cast<size_t>(i)],
                order[rnd.Uniform(static_cast<uint32_t>(i) + 1)]);
    }
    for (int i : order) {
      std::string value(kValueSize, '\0');
      for (char& c : value) c = static_cast<char>(rnd.Uniform(256));
      (*model)[NumKey("s", i)] = value;
      BOOST_REQUIRE(Run(db->Put({}, NumKey("s", i), value)).ok());
    }
    BOOST_REQUIRE(WaitIdle(*db).ok());
  };
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) keys.push_back(NumKey("s", i));
  auto s_target = [](Random& r) {
    return NumKey("s", static_cast<int>(r.Uniform(kKeys + 10)));
  };

  Model model;
  write_version(&model);
  const uint64_t one_version = TableBytes(path);
  SnapshotHandle first = db->GetSnapshot();
  SnapshotHandle last = db->GetSnapshot();
  const Model at_snapshots = model;
  write_version(&model);
  const uint64_t held = TableBytes(path);
  const uint64_t compactions_held = Stat(*db, "compactions");
  BOOST_TEST_MESSAGE(backend << ": one version " << one_version
                             << " bytes, two with the snapshots " << held << " ("
                             << LevelSummary(*db) << ")");
  BOOST_REQUIRE_GT(compactions_held, 0u);
  ReadOptions ro;
  ro.snapshot = last.get();
  BOOST_REQUIRE_EQUAL(CheckGets(*db, ro, at_snapshots, keys), "");
  // The old versions are kept: nearly two versions' worth of tables.
  BOOST_TEST(held > one_version * 17 / 10);

  // Releasing one of two changes nothing the other reads.
  first.reset();
  write_version(&model);
  {
    std::unique_ptr<Iterator> it = db->NewIterator(ro);
    BOOST_REQUIRE_EQUAL(CheckIterator(*it, at_snapshots, rnd, 300, s_target), "");
  }
  db->ReleaseSnapshot(last);
  // The next compactions (writing a version over it all) drop the old versions.
  write_version(&model);
  const uint64_t after = TableBytes(path);
  const uint64_t compactions = Stat(*db, "compactions");
  BOOST_TEST_MESSAGE(backend << ": after the release " << after << " bytes ("
                             << LevelSummary(*db) << ", " << compactions
                             << " compactions)");
  BOOST_TEST(after * 10 < held * 7, "tables of " << after << " bytes after the release, "
                                                 << held
                                                 << " while the snapshots were held");
  BOOST_REQUIRE_EQUAL(CheckGets(*db, {}, model, keys), "");
}

// A snapshot handle may outlive its DB: releasing it then does nothing
// (ASan: no use of the destroyed DB).
BOOST_DATA_TEST_CASE(SnapshotHandleOutlivingItsDbIsReleasedHarmlessly,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  SnapshotHandle reset_later;
  SnapshotHandle released_later;
  SnapshotHandle destroyed_later;
  {
    auto db = OpenOrDie(EngineOptions(backend), dir.Child("db"), backend);
    BOOST_REQUIRE(Run(db->Put({}, "a", "1")).ok());
    reset_later = db->GetSnapshot();
    released_later = db->GetSnapshot();
    destroyed_later = db->GetSnapshot();
    BOOST_REQUIRE(Run(db->Put({}, "a", "2")).ok());
    ReadOptions ro;
    ro.snapshot = reset_later.get();
    BOOST_REQUIRE_EQUAL(GetOrStatus(*db, ro, "a"), "1");
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
  reset_later.reset();
  BOOST_TEST(!reset_later);
  SnapshotHandle moved = std::move(released_later);
  BOOST_TEST(!released_later);
  moved.reset();
  BOOST_TEST(!moved);
  // destroyed_later goes with the test.
}

// A snapshot is read only by the DB that took it: another DB refuses it
// (InvalidArgument), with Get and with an iterator, instead of reading at a
// sequence number that means nothing there.
BOOST_DATA_TEST_CASE(SnapshotOfAnotherDbIsRefused, bdata::make(BackendNames()), backend) {
  TempDir dir;
  auto one = OpenOrDie(EngineOptions(backend), dir.Child("one"), backend);
  auto two = OpenOrDie(EngineOptions(backend), dir.Child("two"), backend);
  for (int i = 0; i < 10; ++i) BOOST_REQUIRE(Run(two->Put({}, NumKey("k", i), "v")).ok());
  BOOST_REQUIRE(Run(one->Put({}, "k", "v")).ok());
  SnapshotHandle of_one = one->GetSnapshot();
  ReadOptions ro;
  ro.snapshot = of_one.get();
  const Result<std::string> got = Run(two->Get(ro, NumKey("k", 1)));
  BOOST_TEST(got.status().IsInvalidArgument(), got.status().ToString());
  std::unique_ptr<Iterator> it = two->NewIterator(ro);
  Run(ScanAll(*it, false));
  BOOST_TEST(!it->Valid());
  BOOST_TEST(it->status().IsInvalidArgument(), it->status().ToString());
  auto sync_it = std::make_unique<SyncIterator>(two->NewIterator(ro));
  sync_it->SeekToLast();
  BOOST_TEST(!sync_it->Valid());
  BOOST_TEST(sync_it->status().IsInvalidArgument(), sync_it->status().ToString());
  // Its own DB reads through it.
  BOOST_TEST(GetOrStatus(*one, ro, "k") == "v");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(DBIteratorReopenTest)

// Data in tables at several levels, newer data left in a log, recovered into
// level-0 tables (a reopen with small memtables), and more in the memtable:
// iteration equals the model — held right after recovery, after the
// compactions, and after another reopen.
BOOST_DATA_TEST_CASE(IterationAfterReopenEqualsTheModel, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  const Options options = EngineOptions(backend);
  Random rnd(61);
  Model model;
  {
    auto db = OpenOrDie(options, path, backend);
    WriteRandom(*db, rnd, 300 * kKiB, &model);
    BOOST_REQUIRE(WaitIdle(*db).ok());
    BOOST_REQUIRE_MESSAGE(FilesAtLevel(*db, 1) + FilesAtLevel(*db, 2) > 0,
                          LevelSummary(*db));
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
  {
    Options big = options;
    big.write_buffer_size = 4 << 20;  // nothing is flushed: it all stays in the log
    auto db = OpenOrDie(big, path, backend);
    WriteRandom(*db, rnd, 150 * kKiB, &model);
    BOOST_REQUIRE_EQUAL(Stat(*db, "memtable_switches"), 0u);
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
  {
    auto db = OpenHeldOrDie(options, path, backend);
    BOOST_TEST_MESSAGE("recovered: " << LevelSummary(*db));
    BOOST_REQUIRE_MESSAGE(
        FilesAtLevel(*db, 0) >= 2 && FilesAtLevel(*db, 1) + FilesAtLevel(*db, 2) > 0,
        LevelSummary(*db));
    std::unique_ptr<Iterator> it = db->NewIterator({});
    BOOST_REQUIRE_EQUAL(CheckIterator(*it, model, rnd, 2000), "");
    db->HoldBackgroundForTesting(false);
    BOOST_REQUIRE(WaitIdle(*db).ok());
    BOOST_REQUIRE_EQUAL(CheckIterator(*it, model, rnd, 500),
                        "");  // still the recovered view
    std::unique_ptr<Iterator> compacted = db->NewIterator({});
    BOOST_REQUIRE_EQUAL(CheckIterator(*compacted, model, rnd, 1000), "");
    WriteRandom(*db, rnd, 10 * kKiB, &model);
    std::unique_ptr<Iterator> with_memtable = db->NewIterator({});
    BOOST_REQUIRE_EQUAL(CheckIterator(*with_memtable, model, rnd, 1000), "");
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
  auto db = OpenOrDie(options, path, backend);
  std::unique_ptr<Iterator> it = db->NewIterator({});
  BOOST_TEST(CheckIterator(*it, model, rnd, 1000) == "");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(DBIteratorErrorTest)

// A flipped byte in one data block of a table at level 2: an iterator
// reading with verify_checksums stops where it reaches that block, forwards,
// backwards and by Seek, with Corruption naming the file — never Valid()
// with an error, and never a wrong entry before it. Misuse afterwards keeps
// the first error.
BOOST_DATA_TEST_CASE(DamagedBlockStopsTheIteratorWithCorruptionNamingTheFile,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  Options options = EngineOptions(backend);
  options.write_buffer_size = 256 * kKiB;
  Model model;
  const std::string damaged_key = NumKey("k", 150);
  {
    auto db = OpenOrDie(options, path, backend);
    for (int i = 0; i < 300; ++i) {
      const std::string k = NumKey("k", i);
      model[k] = SizedValue(k, 200);
      BOOST_REQUIRE(Run(db->Put({}, k, model[k])).ok());
    }
    FlushWithFiller(*db, "k~", options.write_buffer_size, &model);
    BOOST_REQUIRE_MESSAGE(LevelSummary(*db) == "files[ 0 0 1 0 0 0 0 ]",
                          LevelSummary(*db));
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
  const std::set<uint64_t> tables = ListDbFiles(path).tables;
  BOOST_REQUIRE_EQUAL(tables.size(), 1u);
  const std::string table_name = io::TableFileName(path, *tables.begin());
  const std::string base_name = table_name.substr(table_name.rfind('/') + 1);
  const uint64_t block = DataBlockOffsetOf(path, *tables.begin(), options, damaged_key);
  BOOST_REQUIRE_GT(block, 0u);  // not the first block: some entries come before it
  test::FlipBit(table_name, block + 3);

  auto db = OpenOrDie(options, path, backend);
  ReadOptions verified;
  verified.verify_checksums = true;
  auto names_the_file = [&](const Status& s) {
    return s.IsCorruption() && s.ToString().find(base_name) != std::string::npos;
  };
  for (const bool reverse : {false, true}) {
    BOOST_TEST_CONTEXT((reverse ? "backwards" : "forwards")) {
      std::unique_ptr<Iterator> it = db->NewIterator(verified);
      std::vector<std::pair<std::string, std::string>> seen;
      bool error_while_valid = false;
      Run([&]() -> asio::awaitable<bool> {
        if (reverse) {
          co_await it->SeekToLast();
        } else {
          co_await it->SeekToFirst();
        }
        while (it->Valid()) {
          if (!it->status().ok()) error_while_valid = true;
          seen.emplace_back(std::string(it->key()), std::string(it->value()));
          if (reverse) {
            co_await it->Prev();
          } else {
            co_await it->Next();
          }
        }
        co_return true;
      }());
      BOOST_TEST(!error_while_valid, "Valid() with status " << it->status().ToString());
      BOOST_TEST(!it->Valid());
      BOOST_TEST(names_the_file(it->status()), it->status().ToString()
                                                   << " does not name " << base_name);
      // What came before the damage is exactly the model's entries there.
      const auto want = Entries(model, reverse);
      BOOST_REQUIRE(!seen.empty());
      BOOST_REQUIRE_LT(seen.size(), want.size());
      for (size_t i = 0; i < seen.size(); ++i) {
        BOOST_REQUIRE_MESSAGE(seen[i] == want[i],
                              "entry " << i << ": " << Printable(seen[i].first));
      }
      BOOST_TEST(
          (reverse ? seen.back().first > damaged_key : seen.back().first < damaged_key));

      // Misuse after the error: no crash, and the first error stays.
      Run([&]() -> asio::awaitable<bool> {
        co_await it->Next();
        co_await it->Prev();
        co_return true;
      }());
      BOOST_TEST((it->TryNext() || it->TryNext()));  // a second call is never a yield turn
      BOOST_TEST((it->TryPrev() || it->TryPrev()));
      BOOST_TEST(!it->Valid());
      BOOST_TEST(names_the_file(it->status()),
                 "after misuse: " << it->status().ToString());
    }
  }
  std::unique_ptr<Iterator> it = db->NewIterator(verified);
  Run([&]() -> asio::awaitable<bool> {
    co_await it->Seek(damaged_key);
    co_return true;
  }());
  BOOST_TEST(!it->Valid());
  BOOST_TEST(names_the_file(it->status()), it->status().ToString());
  // Past the damage, a new iterator reads on.
  std::unique_ptr<Iterator> past = db->NewIterator(verified);
  const std::string after_key = NumKey("k", 290);
  Run([&]() -> asio::awaitable<bool> {
    co_await past->Seek(after_key);
    co_return true;
  }());
  BOOST_TEST(
      (past->Valid() && past->key() == after_key && past->value() == model[after_key]),
      past->status().ToString());
}

// Next()/Prev() on an iterator that is not Valid() — never positioned, run
// off either end — is InvalidArgument, not a crash, with key()/value()
// empty; a later seek positions it as if nothing had happened.
BOOST_DATA_TEST_CASE(MisuseIsInvalidArgumentAndASeekRecovers, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  auto db = OpenOrDie(EngineOptions(backend), dir.Child("db"), backend);
  Random rnd(3);
  Model model;
  WriteRandom(*db, rnd, 100 * kKiB, &model);  // tables and memtable
  enum class Misuse { kNext, kPrev, kTryNext, kTryPrev };
  enum class Where { kUnpositioned, kPastTheEnd, kBeforeTheStart };
  for (const Where where :
       {Where::kUnpositioned, Where::kPastTheEnd, Where::kBeforeTheStart}) {
    for (const Misuse misuse :
         {Misuse::kNext, Misuse::kPrev, Misuse::kTryNext, Misuse::kTryPrev}) {
      BOOST_TEST_CONTEXT("where " << static_cast<int>(where) << ", misuse "
                                  << static_cast<int>(misuse)) {
        std::unique_ptr<Iterator> it = db->NewIterator({});
        Run([&]() -> asio::awaitable<bool> {
          if (where == Where::kPastTheEnd) {
            co_await it->SeekToLast();
            co_await it->Next();
          } else if (where == Where::kBeforeTheStart) {
            co_await it->SeekToFirst();
            co_await it->Prev();
          }
          co_return true;
        }());
        BOOST_REQUIRE(!it->Valid());
        BOOST_REQUIRE(it->status().ok());
        Run([&]() -> asio::awaitable<bool> {
          switch (misuse) {
            case Misuse::kNext:
              co_await it->Next();
              break;
            case Misuse::kPrev:
              co_await it->Prev();
              break;
            // A Try* move may decline at the end of a read turn on
            // this thread (it owes its executor a yield): then the awaited
            // move runs it, as a caller would.
            case Misuse::kTryNext:
              if (!it->TryNext()) co_await it->Next();
              break;
            case Misuse::kTryPrev:
              if (!it->TryPrev()) co_await it->Prev();
              break;
          }
          co_return true;
        }());
        BOOST_TEST(!it->Valid());
        BOOST_TEST(it->status().IsInvalidArgument(), it->status().ToString());
        BOOST_TEST(it->key().empty());
        BOOST_TEST(it->value().empty());
        BOOST_TEST(CheckIterator(*it, model, rnd, 200) == "");
      }
    }
  }
}

// Seek(Slice{}) — a null, empty target, such as the key() of an invalid
// iterator — is the empty key: the first entry, as SeekToFirst. (The seek
// key is copied into an inline buffer; UBSan checks no copy reads from
// the null pointer.)
BOOST_DATA_TEST_CASE(SeekToANullEmptyTargetIsSeekToFirst, bdata::make(BackendNames()), backend) {
  TempDir dir;
  auto db = OpenOrDie(EngineOptions(backend), dir.Child("db"), backend);
  Random rnd(5);
  Model model;
  WriteRandom(*db, rnd, 100 * kKiB, &model);  // tables and memtable
  BOOST_REQUIRE(!model.empty());
  std::unique_ptr<Iterator> it = db->NewIterator({});
  BOOST_REQUIRE(it->key().data() == nullptr);  // what an invalid iterator returns
  Run([&]() -> asio::awaitable<bool> {
    co_await it->Seek(it->key());
    co_return true;
  }());
  BOOST_REQUIRE(it->Valid());
  BOOST_TEST(it->key() == Slice(model.begin()->first));
  BOOST_TEST(it->value() == Slice(model.begin()->second));
  Run([&]() -> asio::awaitable<bool> {
    co_await it->Seek(Slice{});
    co_return true;
  }());
  BOOST_REQUIRE(it->Valid());
  BOOST_TEST(it->key() == Slice(model.begin()->first));
}

// An iterator positioned in a table may outlive its DB (iterator.h): it is
// destroyed harmlessly after the DB — with the DB's own block cache, and
// with a shared one whose last other owner is gone too (ASan: no use of the
// destroyed DB, its table cache or a block cache).
BOOST_DATA_TEST_CASE(IteratorDestroyedAfterItsDbIsHarmless, bdata::make(BackendNames()),
                     backend) {
  for (const bool shared_cache : {false, true}) {
    BOOST_TEST_CONTEXT(
        (shared_cache ? "shared block cache" : "the DB's own block cache")) {
      TempDir dir;
      Options options = EngineOptions(backend);
      if (shared_cache) options.block_cache = NewLRUCache(1 << 20);
      std::unique_ptr<Iterator> forward;
      std::unique_ptr<Iterator> backward;
      {
        auto db = OpenOrDie(options, dir.Child("db"), backend);
        Random rnd(8);
        Model model;
        WriteRandom(*db, rnd, 200 * kKiB, &model);
        BOOST_REQUIRE(WaitIdle(*db).ok());
        forward = db->NewIterator({});
        backward = db->NewIterator({});
        Run([&]() -> asio::awaitable<bool> {
          co_await forward->Seek(NumKey("k", 1500));
          co_await backward->SeekToLast();
          co_await backward->Prev();
          co_return true;
        }());
        BOOST_REQUIRE(forward->Valid() && backward->Valid());
        BOOST_REQUIRE_GT(FilesAtLevel(*db, 1) + FilesAtLevel(*db, 2), 0);
      }
      options.block_cache.reset();
      forward.reset();
      backward.reset();
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(DBIteratorRecyclingTest)

// NewIterator reuses the internal iterator a destroyed one left behind
// while the DB's view stays the same (IteratorRecycler, db_iter.h). Each
// iterator still reads at its own sequence: writes made since the tree was
// built, deletes, and older snapshots; and a tree left anywhere (mid-block,
// after Prevs, at the end) starts over at the new iterator's SeekToFirst.
BOOST_DATA_TEST_CASE(RecycledIteratorsReadAtTheirOwnSequence, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  Random rnd(41);
  Model model;  // tables in level 0 and deeper
  std::unique_ptr<DB> db =
      OpenFilled(backend, dir.path(), MakeBackendByName(backend), rnd, &model, 300 * kKiB);
  BOOST_TEST_MESSAGE(backend << ": " << LevelSummary(*db));
  const uint64_t reuses = Stat(*db, "iterator_reuses");
  std::vector<std::pair<SnapshotHandle, Model>> snapshots;
  int iterators = 0;
  for (int round = 0; round < 20; ++round) {
    {
      std::unique_ptr<Iterator> it = db->NewIterator({});
      ++iterators;
      const std::string diff = CheckIterator(*it, model, rnd, 100);
      BOOST_REQUIRE_MESSAGE(diff.empty(), "round " << round << ": " << diff);
    }
    if (round % 5 == 0) snapshots.emplace_back(db->GetSnapshot(), model);
    // A few writes into the memtable (too few to switch it: the same view).
    for (int i = 0; i < 4; ++i) {
      const std::string key = NumKey("k", static_cast<int>(rnd.Uniform(3000)));
      if (i == 0) {
        BOOST_REQUIRE(Run(db->Delete({}, key)).ok());
        model.erase(key);
      } else {
        const std::string value = RandomValue(rnd, 300);
        BOOST_REQUIRE(Run(db->Put({}, key, value)).ok());
        model[key] = value;
      }
    }
    for (size_t i = 0; i < snapshots.size(); ++i) {
      ReadOptions ro;
      ro.snapshot = snapshots[i].first.get();
      std::unique_ptr<Iterator> it = db->NewIterator(ro);
      ++iterators;
      const std::string diff = CheckIterator(*it, snapshots[i].second, rnd, 40);
      BOOST_REQUIRE_MESSAGE(diff.empty(), "round " << round << ", snapshot " << i << ": " << diff);
    }
  }
  const uint64_t reused = Stat(*db, "iterator_reuses") - reuses;
  BOOST_TEST_MESSAGE(backend << ": " << reused << " of " << iterators << " iterators reused");
  // Only the first iterator of each view builds its tree.
  BOOST_TEST(reused * 10 >= static_cast<uint64_t>(iterators) * 9,
             reused << " of " << iterators << " iterators reused");
}

// An iterator made while the memtable is empty leaves it out of its merge
// (DBImpl::NewIterator). The tree it leaves behind is not reused once the
// memtable holds entries (same view: no switch), so later iterators see
// the new writes; and trees are still reused among iterators made after
// that. The iterator made before the writes reads without them.
BOOST_DATA_TEST_CASE(ATreeBuiltWithoutTheEmptyMemtableIsNotReusedAfterAWrite,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  Random rnd(47);
  Model model;
  {
    std::unique_ptr<DB> db =
        OpenFilled(backend, dir.path(), MakeBackendByName(backend), rnd, &model);
  }
  // Open flushes what it replays: the reopened DB's memtable is empty.
  std::unique_ptr<DB> db = OpenOrDie(EngineOptions(backend), dir.path(), backend);
  BOOST_REQUIRE_EQUAL(Stat(*db, "flushes"), 0u);
  BOOST_REQUIRE(WaitIdle(*db).ok());  // the compaction the open's new table starts
  const Model before = model;
  std::unique_ptr<Iterator> older = db->NewIterator({});
  {
    std::unique_ptr<Iterator> it = db->NewIterator({});
    const std::string diff = CheckIterator(*it, model, rnd, 50);
    BOOST_REQUIRE_MESSAGE(diff.empty(), diff);
  }  // leaves its tree, built without the memtable, as the spare
  const std::string early = NumKey("a", 1);  // before every key of the fill
  const std::string late = NumKey("z", 1);   // after every key
  BOOST_REQUIRE(Run(db->Put({}, early, "first")).ok());
  BOOST_REQUIRE(Run(db->Put({}, late, "last")).ok());
  model[early] = "first";
  model[late] = "last";
  BOOST_REQUIRE_EQUAL(Stat(*db, "memtable_switches"), 0u);
  // Background work that installs a new view (a seek compaction the scans'
  // read samples may start) hands the spare back: reuse is counted only
  // across iterators that saw one view.
  auto view_changes = [&] {
    return Stat(*db, "compactions") + Stat(*db, "trivial_moves") + Stat(*db, "flushes");
  };
  const uint64_t changes = view_changes();
  const uint64_t reuses = Stat(*db, "iterator_reuses");
  for (int i = 0; i < 3; ++i) {
    std::unique_ptr<Iterator> it = db->NewIterator({});
    for (const bool reverse : {false, true}) {  // both ends: a new key at each
      const std::string diff = ScanDiff(Run(ScanAll(*it, reverse)), Entries(model, reverse));
      BOOST_REQUIRE_MESSAGE(diff.empty(), "iterator " << i << (reverse ? ", reverse: " : ": ")
                                                      << diff);
    }
  }
  // The first of the three built a tree with the memtable; the others took it.
  if (view_changes() == changes) {
    BOOST_TEST(Stat(*db, "iterator_reuses") - reuses == 2u);
  } else {
    BOOST_TEST_MESSAGE("the view changed during the scans: reuse not counted");
  }
  const std::string diff = CheckIterator(*older, before, rnd, 50);
  BOOST_TEST(diff.empty(), diff);
}

// The spare tree pins its view only while that view is current: the
// compaction that replaces the view releases it, so the tables it replaced
// are deleted as if no iterator had been made. Iterators with other
// ReadOptions (fill_cache, verify_checksums) are built anew.
BOOST_DATA_TEST_CASE(ASpareIteratorKeepsNoReplacedTableAndNoOtherOptions,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  auto db = OpenOrDie(EngineOptions(backend), path, backend);
  Random rnd(43);
  Model model;
  WriteRandom(*db, rnd, 200 * kKiB, &model);
  BOOST_REQUIRE(WaitIdle(*db).ok());
  const std::set<uint64_t> before = LiveTables(*db);
  auto seek_and_drop = [&](const ReadOptions& ro) {
    std::unique_ptr<Iterator> it = db->NewIterator(ro);
    SeekTo(*it, NumKey("k", 1500));
    BOOST_REQUIRE(it->Valid());
  };
  ReadOptions no_fill;
  no_fill.fill_cache = false;
  ReadOptions verify;
  verify.verify_checksums = true;
  const uint64_t reuses = Stat(*db, "iterator_reuses");
  seek_and_drop({});
  seek_and_drop(no_fill);  // not the default options' tree
  seek_and_drop(verify);   // nor the no-fill one's
  BOOST_TEST(Stat(*db, "iterator_reuses") == reuses);
  seek_and_drop(verify);   // the same options: reused
  seek_and_drop(verify);
  BOOST_TEST(Stat(*db, "iterator_reuses") == reuses + 2);

  // The spare (the last one destroyed) pins the view the compaction replaces.
  BOOST_REQUIRE(Run(db->CompactRange(nullptr, nullptr)).ok());
  BOOST_REQUIRE(WaitIdle(*db).ok());
  const std::set<uint64_t> live = LiveTables(*db);
  std::set<uint64_t> replaced;
  std::set_difference(before.begin(), before.end(), live.begin(), live.end(),
                      std::inserter(replaced, replaced.end()));
  BOOST_REQUIRE_MESSAGE(!replaced.empty(), "the compaction replaced none of " << Numbers(before));
  const std::set<uint64_t> on_disk = ListDbFiles(path).tables;
  BOOST_TEST(on_disk == live, "directory " << Numbers(on_disk) << ", live " << Numbers(live));
  // The next iterator is over the new view: built anew, and it reads it.
  const uint64_t reuses_before_new = Stat(*db, "iterator_reuses");
  std::unique_ptr<Iterator> it = db->NewIterator({});
  BOOST_TEST(Stat(*db, "iterator_reuses") == reuses_before_new);
  const std::string diff = CheckIterator(*it, model, rnd, 100);
  BOOST_TEST(diff.empty(), diff);
}

// The first move of an iterator on a reused tree: Next or Prev before any
// seek is refused as misuse and leaves it unpositioned; a Seek (the TrySeek
// path, which keeps an open file and a loaded block when they are the
// target's) lands where the model says, whatever position the last user
// left the tree in.
BOOST_DATA_TEST_CASE(FirstMoveOnAReusedTreeIsASeekOrRefused, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  Random rnd(47);
  Model model;  // tables in level 0 and deeper
  std::unique_ptr<DB> db =
      OpenFilled(backend, dir.path(), MakeBackendByName(backend), rnd, &model, 300 * kKiB);
  const uint64_t reuses = Stat(*db, "iterator_reuses");
  for (int round = 0; round < 300; ++round) {
    std::unique_ptr<Iterator> it = db->NewIterator({});
    BOOST_REQUIRE(!it->Valid());
    BOOST_REQUIRE(it->status().ok());
    if (round % 3 == 0) {
      BOOST_REQUIRE(it->TryPrev() || it->TryPrev());  // a second call is never a yield turn
      BOOST_REQUIRE(it->status().IsInvalidArgument());
      BOOST_REQUIRE(!it->Valid());
    }
    const std::string target = RandomKTarget(rnd);
    SeekTo(*it, target);
    auto pos = model.lower_bound(target);
    std::string error;
    BOOST_REQUIRE_MESSAGE(AtModelPosition(*it, model, pos, "first Seek", &error),
                          "round " << round << ": " << error);
    // Leave the tree somewhere: some steps either way.
    const int steps = static_cast<int>(rnd.Uniform(40));
    for (int i = 0; i < steps && pos != model.end(); ++i) {
      if (rnd.OneIn(2)) {
        Run([&]() -> asio::awaitable<bool> {
          co_await it->Next();
          co_return true;
        }());
        ++pos;
      } else {
        Run([&]() -> asio::awaitable<bool> {
          co_await it->Prev();
          co_return true;
        }());
        pos = pos == model.begin() ? model.end() : std::prev(pos);
      }
      BOOST_REQUIRE_MESSAGE(AtModelPosition(*it, model, pos, "step", &error),
                            "round " << round << ": " << error);
    }
    if (round % 10 == 0) {  // a write into the memtable: the same view
      const std::string key = NumKey("k", static_cast<int>(rnd.Uniform(3000)));
      const std::string value = RandomValue(rnd, 300);
      BOOST_REQUIRE(Run(db->Put({}, key, value)).ok());
      model[key] = value;
    }
  }
  const uint64_t reused = Stat(*db, "iterator_reuses") - reuses;
  BOOST_TEST_MESSAGE(backend << ": " << reused << " of 300 iterators reused");
  BOOST_TEST(reused > 250u);
}

// Only a settled tree is kept. One whose iterator was destroyed with a move
// pending (declined by TryNext because it needs a read, never awaited) or
// that ended in an error is destroyed, and the next iterator builds its
// own. (A fault backend with a read filter that fails nothing makes every
// table read go through it, so stepping into another block needs I/O.)
BOOST_DATA_TEST_CASE(AnUnsettledTreeIsNotKept, bdata::make(BackendNames()), backend) {
  TempDir dir;
  auto fault = std::make_shared<io::FaultInjectionBackend>(MakeBackendByName(backend));
  Random rnd(51);
  Model model;
  std::unique_ptr<DB> db = OpenFilled(backend, dir.path(), fault, rnd, &model);
  fault->FailReads(EIO, [](const std::string&, uint64_t, uint64_t) { return false; });
  ReadOptions no_fill;  // every block a read, none from the block cache
  no_fill.fill_cache = false;
  const uint64_t reuses = Stat(*db, "iterator_reuses");
  {
    std::unique_ptr<Iterator> it = db->NewIterator(no_fill);
    SeekTo(*it, NumKey("k", 0));
    BOOST_REQUIRE(it->Valid());
    int steps = 0;
    // Until a step declines for I/O (a second refusal is never a yield turn).
    while (steps < 10000 && (it->TryNext() || it->TryNext())) {
      BOOST_REQUIRE(it->Valid());
      ++steps;
    }
    BOOST_REQUIRE_MESSAGE(!it->Valid() && it->status().ok(),
                          "no step needed a read in " << steps << " steps");
  }  // destroyed with the Next pending
  {
    std::unique_ptr<Iterator> it = db->NewIterator(no_fill);
    BOOST_TEST(Stat(*db, "iterator_reuses") == reuses);
    SeekTo(*it, NumKey("k", 1000));
    BOOST_REQUIRE(it->Valid());
  }  // settled: kept
  {
    std::unique_ptr<Iterator> it = db->NewIterator(no_fill);
    BOOST_TEST(Stat(*db, "iterator_reuses") == reuses + 1);
    fault->FailReads(EIO, [](const std::string& path, uint64_t, uint64_t) {
      return path.ends_with(".ldb");
    });
    SeekTo(*it, NumKey("k", 2000));
    BOOST_REQUIRE(!it->Valid());
    BOOST_REQUIRE_MESSAGE(it->status().IsIOError(), it->status().ToString());
  }  // failed: not kept
  fault->FailReads(0, nullptr);
  std::unique_ptr<Iterator> it = db->NewIterator(no_fill);
  BOOST_TEST(Stat(*db, "iterator_reuses") == reuses + 1);
  SeekTo(*it, NumKey("k", 2000));
  const auto pos = model.lower_bound(NumKey("k", 2000));
  std::string error;
  BOOST_TEST(AtModelPosition(*it, model, pos, "Seek after the failure", &error), error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(SyncIteratorTest)

// SyncIterator runs the same moves as the async Iterator on the calling
// thread: the same random moves (with blocks read from disk: fill_cache off)
// give the same positions, keys, values and statuses, over a snapshot while
// later writes and compactions go on.
BOOST_DATA_TEST_CASE(SyncIteratorWalkEqualsTheAsyncOne, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  auto db = OpenOrDie(EngineOptions(backend), dir.Child("db"), backend);
  Random rnd(29);
  Model model;
  WriteRandom(*db, rnd, 250 * kKiB, &model);
  SnapshotHandle snap = db->GetSnapshot();
  const Model at_snapshot = model;
  WriteRandom(*db, rnd, 100 * kKiB, &model);
  ReadOptions ro;
  ro.snapshot = snap.get();
  ro.fill_cache = false;
  SyncIterator sync_it(db->NewIterator(ro));
  std::unique_ptr<Iterator> async_it = db->NewIterator(ro);
  auto model_pos = at_snapshot.end();
  std::string error;
  int moves = 0;
  for (int step = 0; step < 4000 && error.empty(); ++step) {
    const uint32_t op = rnd.Uniform(100);
    const char* name = "";
    if (op < 4) {
      name = "SeekToFirst";
      sync_it.SeekToFirst();
      Run([&]() -> asio::awaitable<bool> {
        co_await async_it->SeekToFirst();
        co_return true;
      }());
      model_pos = at_snapshot.begin();
    } else if (op < 8) {
      name = "SeekToLast";
      sync_it.SeekToLast();
      Run([&]() -> asio::awaitable<bool> {
        co_await async_it->SeekToLast();
        co_return true;
      }());
      model_pos = std::prev(at_snapshot.end());
    } else if (op < 16) {
      name = "Seek";
      const std::string target = RandomKTarget(rnd);
      sync_it.Seek(target);
      Run([&]() -> asio::awaitable<bool> {
        co_await async_it->Seek(target);
        co_return true;
      }());
      model_pos = at_snapshot.lower_bound(target);
    } else if (model_pos == at_snapshot.end()) {
      continue;
    } else if (op < 58) {
      name = "Next";
      sync_it.Next();
      Run([&]() -> asio::awaitable<bool> {
        co_await async_it->Next();
        co_return true;
      }());
      ++model_pos;
    } else {
      name = "Prev";
      sync_it.Prev();
      Run([&]() -> asio::awaitable<bool> {
        co_await async_it->Prev();
        co_return true;
      }());
      model_pos =
          model_pos == at_snapshot.begin() ? at_snapshot.end() : std::prev(model_pos);
    }
    ++moves;
    if (sync_it.Valid() != async_it->Valid() || sync_it.key() != async_it->key() ||
        sync_it.value() != async_it->value() ||
        sync_it.status().ToString() != async_it->status().ToString()) {
      error =
          std::string(name) + " (move " + std::to_string(moves) + "): sync " +
          (sync_it.Valid() ? "at \"" + Printable(std::string(sync_it.key())) + "\""
                           : "not valid") +
          ", async " +
          (async_it->Valid() ? "at \"" + Printable(std::string(async_it->key())) + "\""
                             : "not valid");
      break;
    }
    AtModelPosition(sync_it.async(), at_snapshot, model_pos, name, &error);
    if (step % 500 == 499) {
      // Later writes, flushes and compactions change neither.
      WriteRandom(*db, rnd, 30 * kKiB, &model);
    }
  }
  BOOST_TEST(error.empty(), error);
  BOOST_TEST(moves > 3000);
  BOOST_TEST(Stat(*db, "compactions") > 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace corodb::test

// DB iterators and snapshots against a std::map model, with data in the
// memtable, immutable memtables, level 0 and deeper levels.
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "corodb/sync_db.h"
#include "db_engine_test_util.h"
#include "support/temp_dir.h"

namespace corodb::test {
namespace bdata = boost::unit_test::data;
namespace asio = boost::asio;

namespace {

// Moves `it` and a model position the same way, `steps` times, and checks
// they agree after each move. Records the first disagreement in *error.
asio::awaitable<bool> WalkAgainstModel(Iterator& it, const Model& model, Random& rnd, int steps,
                                       std::string* error) {
  auto pos = model.end();  // model.end(): not valid
  auto check = [&](const char* op) {
    const bool want_valid = pos != model.end();
    if (it.Valid() != want_valid) {
      *error = std::string(op) + ": Valid() " + (it.Valid() ? "true" : "false") + ", model " +
               (want_valid ? "at " + Printable(pos->first) : "at the end") +
               (it.status().ok() ? "" : " status " + it.status().ToString());
      return false;
    }
    if (want_valid && (it.key() != pos->first || it.value() != pos->second)) {
      *error = std::string(op) + ": at \"" + Printable(std::string(it.key())) + "\", model at \"" +
               Printable(pos->first) + "\"" + (it.key() == pos->first ? " (value differs)" : "");
      return false;
    }
    if (!it.status().ok()) {
      *error = std::string(op) + ": " + it.status().ToString();
      return false;
    }
    return true;
  };
  for (int i = 0; i < steps; ++i) {
    const uint32_t op = rnd.Uniform(100);
    if (op < 5) {
      co_await it.SeekToFirst();
      pos = model.begin();
      if (!check("SeekToFirst")) co_return false;
    } else if (op < 10) {
      co_await it.SeekToLast();
      pos = model.empty() ? model.end() : std::prev(model.end());
      if (!check("SeekToLast")) co_return false;
    } else if (op < 20) {
      std::string target = NumKey("k", static_cast<int>(rnd.Uniform(3000)));
      if (rnd.OneIn(4)) target += '\0';
      co_await it.Seek(target);
      pos = model.lower_bound(target);
      if (!check("Seek")) co_return false;
    } else if (pos == model.end()) {
      continue;
    } else if (op < 60) {
      if (!it.TryNext()) co_await it.Next();
      ++pos;
      if (!check("Next")) co_return false;
    } else {
      if (rnd.OneIn(2) || !it.TryPrev()) co_await it.Prev();
      pos = pos == model.begin() ? model.end() : std::prev(pos);
      if (!check("Prev")) co_return false;
    }
  }
  co_return true;
}

// Writes random puts and deletes of keys k000000..k002999 until `bytes`
// were written.
void WriteRandom(DB& db, Random& rnd, size_t bytes, Model* model) {
  size_t written = 0;
  while (written < bytes) {
    const std::string key = NumKey("k", static_cast<int>(rnd.Uniform(3000)));
    if (rnd.OneIn(5)) {
      BOOST_REQUIRE(Run(db.Delete({}, key)).ok());
      model->erase(key);
    } else {
      const std::string value = RandomValue(rnd, 300);
      BOOST_REQUIRE(Run(db.Put({}, key, value)).ok());
      (*model)[key] = value;
      written += key.size() + value.size();
    }
  }
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
    BOOST_REQUIRE_MESSAGE(ok, "round " << round << " " << LevelSummary(*db) << ": " << error);
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
  BOOST_CHECK(it->TryNext());  // misuse: completes, with a status
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

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(DBSnapshotTest)

BOOST_DATA_TEST_CASE(SnapshotReadsStayThroughOverwritesAndCompactions, bdata::make(BackendNames()),
                     backend) {
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
    BOOST_REQUIRE_EQUAL(GetOrStatus(*db, ro, key),
                        want == at_snapshot.end() ? std::string("NOT_FOUND") : want->second);
  }
  std::unique_ptr<Iterator> it = db->NewIterator(ro);
  std::string error;
  BOOST_REQUIRE_MESSAGE(Run(WalkAgainstModel(*it, at_snapshot, rnd, 2000, &error)), error);

  // A released snapshot is refused, not read at a wrong point.
  const Snapshot* released = snap.get();
  db->ReleaseSnapshot(snap);
  BOOST_CHECK(!snap);
  ro.snapshot = released;
  BOOST_CHECK(Run(db->Get(ro, "k000001")).status().IsInvalidArgument());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace corodb::test

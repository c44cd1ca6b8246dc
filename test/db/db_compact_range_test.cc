// CompactRange and GetApproximateSizes.
#include <filesystem>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "corodb/sync_db.h"
#include "db_engine_test_util.h"
#include "support/temp_dir.h"

namespace corodb::test {
namespace bdata = boost::unit_test::data;

namespace {

uint64_t SizeOf(DB& db, const std::string& start, const std::string& limit) {
  const DB::Range range{start, limit};
  std::vector<uint64_t> sizes = Run(db.GetApproximateSizes(std::span<const DB::Range>(&range, 1)));
  BOOST_REQUIRE_EQUAL(sizes.size(), 1u);
  return sizes[0];
}

uint64_t TableBytes(const std::string& dir) {
  uint64_t total = 0;
  for (uint64_t number : ListDbFiles(dir).tables) {
    total += std::filesystem::file_size(io::TableFileName(dir, number));
  }
  return total;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(DBCompactRangeTest)

BOOST_DATA_TEST_CASE(WholeRangeCompactionDropsDeletedAndOverwrittenEntries, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  Options options = EngineOptions(backend);
  options.compression = CompressionType::kNoCompression;
  auto db = OpenOrDie(options, dir.path(), backend);
  Model model;
  // Every key written three times, then half of them deleted.
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 600; ++i) {
      const std::string key = NumKey("k", i);
      model[key] = SizedValue(key + std::to_string(round), 200);
      BOOST_REQUIRE(Run(db->Put({}, key, model[key])).ok());
    }
  }
  for (int i = 0; i < 600; i += 2) {
    BOOST_REQUIRE(Run(db->Delete({}, NumKey("k", i))).ok());
    model.erase(NumKey("k", i));
  }
  BOOST_REQUIRE(WaitIdle(*db).ok());
  const uint64_t before = TableBytes(dir.path());
  const uint64_t size_before = SizeOf(*db, "k", "l");

  BOOST_REQUIRE(Run(db->CompactRange(nullptr, nullptr)).ok());
  BOOST_TEST_MESSAGE(LevelSummary(*db) << " table bytes " << before << " -> " << TableBytes(dir.path()));
  // Nothing is left in the memtable or level 0, and the live data (300 keys
  // x ~210 bytes) is all that remains: the copies and deletions are gone.
  BOOST_CHECK_EQUAL(FilesAtLevel(*db, 0), 0);
  const uint64_t after = TableBytes(dir.path());
  BOOST_CHECK_LT(after, 300u * 260u);
  BOOST_CHECK_LT(after * 3, before);
  const uint64_t size_after = SizeOf(*db, "k", "l");
  BOOST_CHECK_LT(size_after, size_before);
  BOOST_CHECK_GT(size_after, 300u * 200u / 2);
  BOOST_CHECK_EQUAL(SizeOf(*db, "a", "b"), 0u);
  CheckAll(*db, model, "after CompactRange");
  for (int i = 0; i < 600; i += 2) BOOST_CHECK_EQUAL(GetOrStatus(*db, NumKey("k", i)), "NOT_FOUND");
}

BOOST_DATA_TEST_CASE(ReleasingTheLastSnapshotLetsCompactionDropOldVersions, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  Options options = EngineOptions(backend);
  options.compression = CompressionType::kNoCompression;
  auto sdb = std::make_unique<SyncDB>(OpenOrDie(options, dir.path(), backend));
  for (int i = 0; i < 400; ++i) BOOST_REQUIRE(sdb->Put({}, NumKey("k", i), SizedValue("old", 200)).ok());
  SnapshotHandle snap = sdb->GetSnapshot();
  for (int i = 0; i < 400; ++i) BOOST_REQUIRE(sdb->Put({}, NumKey("k", i), SizedValue("new", 200)).ok());

  BOOST_REQUIRE(sdb->CompactRange(nullptr, nullptr).ok());
  const uint64_t held = TableBytes(dir.path());
  ReadOptions ro;
  ro.snapshot = snap.get();
  BOOST_CHECK_EQUAL(sdb->Get(ro, NumKey("k", 7)).value(), SizedValue("old", 200));
  BOOST_CHECK_EQUAL(sdb->Get({}, NumKey("k", 7)).value(), SizedValue("new", 200));

  // Released: the next compaction over these keys (a third version, merged
  // down into the level holding the other two) keeps only the newest.
  snap.reset();
  for (int i = 0; i < 400; ++i) BOOST_REQUIRE(sdb->Put({}, NumKey("k", i), SizedValue("newest", 200)).ok());
  BOOST_REQUIRE(sdb->CompactRange(nullptr, nullptr).ok());
  const uint64_t released = TableBytes(dir.path());
  BOOST_TEST_MESSAGE("table bytes with the snapshot " << held << ", after release " << released);
  BOOST_CHECK_GT(held, 400u * 400u);
  BOOST_CHECK_LT(released, 400u * 260u);
  BOOST_CHECK_EQUAL(sdb->Get({}, NumKey("k", 7)).value(), SizedValue("newest", 200));
}

BOOST_DATA_TEST_CASE(PartialRangeCompactsOnlyOverlappingFiles, bdata::make(BackendNames()), backend) {
  TempDir dir;
  auto db = OpenOrDie(EngineOptions(backend), dir.path(), backend);
  Model model;
  Random rnd(3);
  for (int i = 0; i < 3000; ++i) {
    const std::string key = NumKey("k", static_cast<int>(rnd.Uniform(2000)));
    model[key] = RandomValue(rnd, 100);
    BOOST_REQUIRE(Run(db->Put({}, key, model[key])).ok());
  }
  const std::string begin = NumKey("k", 500), end = NumKey("k", 900);
  const Slice b(begin), e(end);
  BOOST_REQUIRE(Run(db->CompactRange(&b, &e)).ok());
  CheckAll(*db, model, "after a partial CompactRange");
  BOOST_REQUIRE(Run(db->Close()).ok());
  db.reset();
  db = OpenOrDie(EngineOptions(backend), dir.path(), backend);
  CheckAll(*db, model, "after reopen");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace corodb::test

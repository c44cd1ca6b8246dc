// Directories shared with the real LevelDB (Debian's libleveldb): a corodb
// directory opens in LevelDB with every key readable, and a LevelDB directory
// (logs only: tables arrive with the version set) opens in corodb.
#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <map>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>

#include "db_test_util.h"
#include "support/temp_dir.h"
#include "util/random.h"

namespace corodb {
namespace {

namespace bdata = boost::unit_test::data;
using test::BackendNames;
using test::GetOrStatus;
using test::OpenOrDie;
using test::Run;
using test::TempDir;
using test::TestOptions;

std::map<std::string, std::string> SampleData(int n, uint32_t seed) {
  Random rnd(seed);
  std::map<std::string, std::string> data;
  data[""] = "empty key";
  data[std::string("\0\x01\xff", 3)] = std::string("\0binary\xff", 8);
  for (int i = 0; i < n; ++i) {
    std::string key = "key" + std::to_string(rnd.Uniform(1000000));
    data[key] = std::string(rnd.Uniform(300), static_cast<char>('a' + i % 26));
  }
  return data;
}

BOOST_AUTO_TEST_SUITE(LevelDBInteropTest)

BOOST_DATA_TEST_CASE(CorodbDirectoryOpensInLevelDB, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const auto data = SampleData(500, 7);
  {
    auto db = OpenOrDie(TestOptions(backend), dir.Child("db"), backend);
    for (const auto& [k, v] : data) BOOST_REQUIRE(Run(db->Put({}, k, v)).ok());
    BOOST_REQUIRE(Run(db->Delete({}, "key-deleted")).ok());
    BOOST_REQUIRE(Run(db->Put({.sync = true}, "last", "one")).ok());
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
  leveldb::DB* raw = nullptr;
  leveldb::Options lo;
  leveldb::Status s = leveldb::DB::Open(lo, dir.Child("db"), &raw);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  std::unique_ptr<leveldb::DB> ldb(raw);
  for (const auto& [k, v] : data) {
    std::string got;
    BOOST_REQUIRE(ldb->Get({}, k, &got).ok());
    BOOST_TEST(got == v);
  }
  std::string last;
  BOOST_TEST(ldb->Get({}, "last", &last).ok());
  BOOST_TEST(last == "one");
}

BOOST_DATA_TEST_CASE(LevelDBLogOnlyDirectoryOpensInCorodb, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const auto data = SampleData(500, 8);
  {
    leveldb::DB* raw = nullptr;
    leveldb::Options lo;
    lo.create_if_missing = true;
    BOOST_REQUIRE(leveldb::DB::Open(lo, dir.Child("db"), &raw).ok());
    std::unique_ptr<leveldb::DB> ldb(raw);
    leveldb::WriteBatch batch;
    for (const auto& [k, v] : data) batch.Put(k, v);
    batch.Put("gone", "x");
    batch.Delete("gone");
    leveldb::WriteOptions wo;
    wo.sync = true;
    BOOST_REQUIRE(ldb->Write(wo, &batch).ok());
    BOOST_REQUIRE(ldb->Put(wo, "after", "batch").ok());
  }
  auto db = OpenOrDie(TestOptions(backend), dir.Child("db"), backend);
  for (const auto& [k, v] : data) BOOST_TEST(GetOrStatus(*db, k) == v);
  BOOST_TEST(GetOrStatus(*db, "gone") == "NOT_FOUND");
  BOOST_TEST(GetOrStatus(*db, "after") == "batch");
  // corodb keeps writing to it.
  BOOST_TEST(Run(db->Put({}, "corodb", "too")).ok());
  db.reset();
  db = OpenOrDie(TestOptions(backend), dir.Child("db"), backend);
  BOOST_TEST(GetOrStatus(*db, "corodb") == "too");
  BOOST_TEST(GetOrStatus(*db, "after") == "batch");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb

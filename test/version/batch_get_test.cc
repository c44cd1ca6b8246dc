// BatchGet: many lookups in one Version answer as Version::Get answers each
// (levels, L0 order, snapshots, deletions, seek statistics), tables are
// opened for the batch, and a table that cannot be opened fails only the
// keys that need it.
#include "version/batch_get.h"

#include <deque>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>

#include "support/backends.h"
#include "version_test_util.h"

namespace corodb {
namespace {

namespace bdata = boost::unit_test::data;
using test::BackendNames;
using test::BuildLevels;
using test::Describe;
using test::MakeBackendByName;
using test::Run;
using test::VersionEnv;

struct Lookup {
  std::string user_key;
  SequenceNumber sequence = kMaxSequenceNumber;
};

// Keys of BuildLevels' tables: in one L0 file or both, shadowed by a
// deletion or not at a snapshot, at L1 and L2, between files, nowhere; and
// a key twice.
const std::vector<Lookup> kLookups = {
    {"k"}, {"k", 19}, {"k", 9}, {"m"},  {"n"}, {"n", 20}, {"c"}, {"d"},
    {"r"}, {"b"},     {"l"},    {"zz"}, {""},  {"a"},     {"k"}, {"e"},
};

struct Answers {
  std::vector<std::string> values;
  std::vector<uint64_t> seek_files;  // 0: none charged
  uint64_t block_reads = 0;
  uint64_t rounds = 0;
};

uint64_t SeekFile(const GetStats& stats) {
  return stats.seek_file == nullptr ? 0 : stats.seek_file->number;
}

Answers RunBatch(const Version& v, const ReadOptions& options) {
  std::deque<LookupKey> keys;
  std::vector<GetStats> stats(kLookups.size());
  BatchGet batch(v, options);
  for (size_t i = 0; i < kLookups.size(); ++i) {
    batch.Add(keys.emplace_back(kLookups[i].user_key, kLookups[i].sequence), &stats[i]);
  }
  const std::vector<Result<VersionGetResult>> got = Run(batch.Run());
  BOOST_REQUIRE_EQUAL(got.size(), kLookups.size());
  Answers a;
  for (size_t i = 0; i < got.size(); ++i) {
    a.values.push_back(Describe(got[i]));
    a.seek_files.push_back(SeekFile(stats[i]));
  }
  a.block_reads = batch.block_reads();
  a.rounds = batch.read_rounds();
  return a;
}

Answers RunGets(const Version& v, const ReadOptions& options) {
  Answers a;
  for (const Lookup& l : kLookups) {
    LookupKey key(l.user_key, l.sequence);
    GetStats stats;
    a.values.push_back(Describe(Run(v.Get(options, key, &stats))));
    a.seek_files.push_back(SeekFile(stats));
  }
  return a;
}

BOOST_AUTO_TEST_SUITE(BatchGetTest)

// First with no table open (the batch opens them), then again with the
// blocks cached.
BOOST_DATA_TEST_CASE(AnswersAndSeekStatisticsAreVersionGets, bdata::make(BackendNames()), backend) {
  VersionEnv env(MakeBackendByName(backend));
  BuildLevels(env);
  const auto v = env.vset->current();
  const uint64_t opens = env.table_cache->opens();
  const Answers batch = RunBatch(*v, ReadOptions());
  BOOST_TEST(env.table_cache->opens() == opens + 4);  // each table once
  const Answers gets = RunGets(*v, ReadOptions());
  BOOST_TEST(batch.values == gets.values, boost::test_tools::per_element());
  BOOST_TEST(batch.seek_files == gets.seek_files, boost::test_tools::per_element());
  BOOST_TEST(batch.values[0] == "new-k");
  BOOST_TEST(batch.values[5] == "n2");
  BOOST_TEST(batch.seek_files[7] == 8u);  // "d": L1's 8, then L2's 12

  const Answers cached = RunBatch(*v, ReadOptions());  // every block is cached now
  BOOST_TEST(cached.values == gets.values, boost::test_tools::per_element());
  BOOST_TEST(cached.block_reads == 0u);
  BOOST_TEST(cached.rounds == 0u);
}

// Table 8 (L1: a, c, e; it covers d) is gone: the keys that need it get
// the open's error naming it; the others their answers.
BOOST_DATA_TEST_CASE(MissingTableFailsOnlyTheKeysThatNeedIt, bdata::make(BackendNames()), backend) {
  VersionEnv env(MakeBackendByName(backend));
  BuildLevels(env);
  const auto v = env.vset->current();
  BOOST_REQUIRE(io::RemoveFile(io::TableFileName(env.dbname, 8)).ok());
  const Answers batch = RunBatch(*v, ReadOptions());
  for (size_t i = 0; i < kLookups.size(); ++i) {
    BOOST_TEST_CONTEXT("key \"" << kLookups[i].user_key << "\" @ " << kLookups[i].sequence) {
      const std::string& k = kLookups[i].user_key;
      if (k == "a" || k == "c" || k == "d" || k == "e") {
        BOOST_TEST(batch.values[i].find("000008") != std::string::npos, batch.values[i]);
      } else {
        LookupKey key(k, kLookups[i].sequence);
        GetStats stats;
        BOOST_TEST(batch.values[i] == Describe(Run(v->Get(ReadOptions(), key, &stats))));
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb

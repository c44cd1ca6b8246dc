// The bloom filter policy: false-positive rate, no false negatives, and
// filters byte-identical to LevelDB's for the same keys.
#include <leveldb/filter_policy.h>
#include <leveldb/slice.h>

#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>
#include <vector>

#include "corodb/filter_policy.h"
#include "table/table_options.h"
#include "table_test_util.h"
#include "util/coding.h"

namespace corodb::table {
namespace {

std::string NumberKey(uint32_t i) {
  std::string s;
  PutFixed32(&s, i);
  return s;
}

std::string LevelDbFilter(const std::vector<std::string>& keys, int bits_per_key) {
  std::unique_ptr<const leveldb::FilterPolicy> policy(leveldb::NewBloomFilterPolicy(bits_per_key));
  std::vector<leveldb::Slice> slices;
  for (const std::string& k : keys) slices.emplace_back(k);
  std::string out;
  policy->CreateFilter(slices.data(), static_cast<int>(slices.size()), &out);
  return out;
}

std::string CorodbFilter(const std::vector<std::string>& keys, int bits_per_key) {
  auto policy = NewBloomFilterPolicy(bits_per_key);
  std::vector<Slice> slices(keys.begin(), keys.end());
  std::string out;
  policy->CreateFilter(slices, &out);
  return out;
}

BOOST_AUTO_TEST_SUITE(BloomTest)

BOOST_AUTO_TEST_CASE(NameIsLevelDbs) {
  BOOST_TEST(std::string(NewBloomFilterPolicy(10)->Name()) == "leveldb.BuiltinBloomFilter2");
}

BOOST_AUTO_TEST_CASE(EmptyFilterMatchesNothing) {
  auto policy = NewBloomFilterPolicy(10);
  std::string filter;
  policy->CreateFilter({}, &filter);
  BOOST_TEST(!policy->KeyMayMatch("hello", filter));
  BOOST_TEST(!policy->KeyMayMatch("hello", ""));
}

BOOST_AUTO_TEST_CASE(FalsePositiveRateAt10BitsPerKeyOn100kKeys) {
  auto policy = NewBloomFilterPolicy(10);
  std::vector<std::string> keys;
  for (uint32_t i = 0; i < 100000; ++i) keys.push_back(NumberKey(i));
  std::vector<Slice> slices(keys.begin(), keys.end());
  std::string filter;
  policy->CreateFilter(slices, &filter);
  BOOST_TEST(filter.size() == 100000u * 10 / 8 + 1);
  for (const std::string& k : keys) BOOST_REQUIRE(policy->KeyMayMatch(k, filter));
  int false_positives = 0;
  for (uint32_t i = 0; i < 100000; ++i) {
    if (policy->KeyMayMatch(NumberKey(1000000000 + i), filter)) ++false_positives;
  }
  const double rate = false_positives / 100000.0;
  BOOST_TEST_MESSAGE("bloom false-positive rate: " << rate);
  BOOST_TEST(rate >= 0.005);
  BOOST_TEST(rate <= 0.02);
}

BOOST_AUTO_TEST_CASE(FiltersAreByteIdenticalToLevelDbs) {
  Random rnd(1234);
  for (int bits : {1, 5, 10, 20, 50}) {
    for (size_t n : {0u, 1u, 7u, 100u, 1000u, 10000u}) {
      std::vector<std::string> keys;
      for (size_t i = 0; i < n; ++i) keys.push_back(testing::RandomBytes(&rnd, rnd.Uniform(40)));
      const std::string ours = CorodbFilter(keys, bits);
      BOOST_REQUIRE_MESSAGE(ours == LevelDbFilter(keys, bits),
                            "bits " << bits << ", " << n << " keys");
      // And each side accepts the other's keys.
      std::unique_ptr<const leveldb::FilterPolicy> theirs(leveldb::NewBloomFilterPolicy(bits));
      for (const std::string& k : keys) BOOST_REQUIRE(theirs->KeyMayMatch(k, ours));
    }
  }
}

BOOST_AUTO_TEST_CASE(LevelDbAnswersLikeUsOnProbes) {
  std::vector<std::string> keys;
  for (uint32_t i = 0; i < 5000; ++i) keys.push_back(NumberKey(i * 7));
  const std::string filter = CorodbFilter(keys, 10);
  auto ours = NewBloomFilterPolicy(10);
  std::unique_ptr<const leveldb::FilterPolicy> theirs(leveldb::NewBloomFilterPolicy(10));
  for (uint32_t i = 0; i < 20000; ++i) {
    const std::string k = NumberKey(i);
    BOOST_REQUIRE(ours->KeyMayMatch(k, filter) == theirs->KeyMayMatch(k, filter));
  }
}

BOOST_AUTO_TEST_CASE(InternalPolicyFiltersUserKeys) {
  InternalFilterPolicy internal(NewBloomFilterPolicy(10));
  BOOST_TEST(std::string(internal.Name()) == "leveldb.BuiltinBloomFilter2");
  const std::vector<std::string> ikeys = {testing::IKey("apple", 5), testing::IKey("pear", 9)};
  std::vector<Slice> slices(ikeys.begin(), ikeys.end());
  std::string filter;
  internal.CreateFilter(slices, &filter);
  BOOST_TEST(filter == CorodbFilter({"apple", "pear"}, 10));
  BOOST_TEST(internal.KeyMayMatch(testing::IKey("apple", 100), filter));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::table

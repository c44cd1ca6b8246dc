#include "util/hash.h"

#include <leveldb/filter_policy.h>
#include <leveldb/slice.h>

#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>
#include <vector>

namespace corodb {
namespace {

// LevelDB's bloom filter (a public API of the oracle) sets the bits its hash
// picks: bloom_hash = Hash(key, 0xbc9f1d34), then k probes stepping by the
// hash rotated right by 17. With one key and 10 bits per key the filter is
// 64 bits and k = 6 (the byte after the bits). Predicting every bit of the
// real filter from our Hash proves the two hashes agree on that key.
std::vector<bool> PredictedBloomBits(const std::string& key, size_t bits, int k) {
  std::vector<bool> set(bits, false);
  uint32_t h = Hash(key.data(), key.size(), 0xbc9f1d34u);
  const uint32_t delta = (h >> 17) | (h << 15);
  for (int j = 0; j < k; ++j) {
    set[h % bits] = true;
    h += delta;
  }
  return set;
}

BOOST_AUTO_TEST_SUITE(HashTest)

BOOST_AUTO_TEST_CASE(AgreesWithLevelDbBloomFilterBits) {
  std::unique_ptr<const leveldb::FilterPolicy> policy(leveldb::NewBloomFilterPolicy(10));
  // Lengths 0..9 cover every tail size; bytes >= 0x80 catch a signed tail read.
  const std::vector<std::string> keys = {"",
                                         "a",
                                         "\x80",
                                         "\xe2\x99",
                                         "\xe1\x80\xb9",
                                         "abcd",
                                         "abcde\xff",
                                         "hello world",
                                         "\xff\xfe\xfd\xfc\xfb",
                                         std::string("\0\0\0", 3),
                                         "123456789"};
  for (const std::string& key : keys) {
    leveldb::Slice lkey(key.data(), key.size());
    std::string filter;
    policy->CreateFilter(&lkey, 1, &filter);
    BOOST_REQUIRE(filter.size() == 9u);
    const int k = static_cast<uint8_t>(filter.back());
    BOOST_REQUIRE(k == 6);
    const std::vector<bool> want = PredictedBloomBits(key, 64, k);
    for (size_t bit = 0; bit < 64; ++bit) {
      const bool got = (static_cast<uint8_t>(filter[bit / 8]) >> (bit % 8)) & 1;
      BOOST_TEST(got == want[bit], "key of size " << key.size() << ", bit " << bit);
    }
  }
}

BOOST_AUTO_TEST_CASE(IsDeterministicAndSeedDependent) {
  const std::string s = "corodb";
  BOOST_TEST(Hash(s.data(), s.size(), 1) == Hash(s.data(), s.size(), 1));
  BOOST_TEST(Hash(s.data(), s.size(), 1) != Hash(s.data(), s.size(), 2));
  BOOST_TEST(Hash(s.data(), s.size(), 1) != Hash(s.data(), s.size() - 1, 1));
  // The empty input hashes to the seed mixed with nothing.
  BOOST_TEST(Hash(nullptr, 0, 0xbc9f1d34u) == 0xbc9f1d34u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb

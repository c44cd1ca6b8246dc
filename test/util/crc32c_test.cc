#include "util/crc32c.h"

#include <boost/test/unit_test.hpp>
#include <string>

#include "util/random.h"

namespace corodb {
namespace {

BOOST_AUTO_TEST_SUITE(Crc32cTest)

BOOST_AUTO_TEST_CASE(MatchesKnownVectors) {
  const std::string digits = "123456789";
  BOOST_TEST(crc32c::Value(digits.data(), digits.size()) == 0xe3069283u);
  const std::string zeros(32, '\0');
  BOOST_TEST(crc32c::Value(zeros.data(), zeros.size()) == 0x8a9136aau);
  const std::string ones(32, '\xff');
  BOOST_TEST(crc32c::Value(ones.data(), ones.size()) == 0x62a8ab43u);
  BOOST_TEST(crc32c::Value(nullptr, 0) == 0u);
}

BOOST_AUTO_TEST_CASE(ExtendComposesAtEverySplitPoint) {
  const std::string data = "hello world, this is corodb checksumming 1234567890!";
  const uint32_t whole = crc32c::Value(data.data(), data.size());
  for (size_t split = 0; split <= data.size(); ++split) {
    const uint32_t head = crc32c::Value(data.data(), split);
    BOOST_TEST(crc32c::Extend(head, data.data() + split, data.size() - split) == whole);
  }
}

BOOST_AUTO_TEST_CASE(AcceleratedAndPortablePathsAgree) {
  BOOST_TEST_MESSAGE("crc32c implementation: " << crc32c::Implementation());
  Random rnd(301);
  std::string buf(4096 + 17, '\0');
  for (char& c : buf) c = static_cast<char>(rnd.Uniform(256));
  // Different lengths and misalignments exercise the 8-byte and byte loops;
  // non-zero seeds exercise Extend's continuation.
  int mismatches = 0;
  std::string first_mismatch;
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t len : {0u, 1u, 7u, 8u, 9u, 63u, 64u, 1000u, 4096u}) {
      for (uint32_t seed : {0u, 1u, rnd.Next()}) {
        const uint32_t fast = crc32c::Extend(seed, buf.data() + offset, len);
        const uint32_t portable = crc32c::ExtendPortable(seed, buf.data() + offset, len);
        if (fast != portable && mismatches++ == 0) {
          first_mismatch = "seed " + std::to_string(seed) + " offset " +
                           std::to_string(offset) + " len " + std::to_string(len) + ": " +
                           std::to_string(fast) + " != " + std::to_string(portable);
        }
      }
    }
  }
  BOOST_TEST(mismatches == 0, mismatches << " mismatches, first: " << first_mismatch);
  const std::string digits = "123456789";
  BOOST_TEST(crc32c::ExtendPortable(0, digits.data(), digits.size()) == 0xe3069283u);
}

BOOST_AUTO_TEST_CASE(MaskRoundTripsAndChangesTheValue) {
  const std::string foo = "foo";
  const uint32_t crc = crc32c::Value(foo.data(), foo.size());
  BOOST_TEST(crc32c::Mask(crc) != crc);
  BOOST_TEST(crc32c::Mask(crc32c::Mask(crc)) != crc);
  BOOST_TEST(crc32c::Unmask(crc32c::Mask(crc)) == crc);
  BOOST_TEST(crc32c::Unmask(crc32c::Unmask(crc32c::Mask(crc32c::Mask(crc)))) == crc);
  Random rnd(7);
  for (int i = 0; i < 1000; ++i) {
    const uint32_t v = rnd.Next() ^ (rnd.Next() << 1);
    BOOST_TEST(crc32c::Unmask(crc32c::Mask(v)) == v);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb

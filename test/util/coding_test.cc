#include "util/coding.h"

#include <boost/test/unit_test.hpp>
#include <limits>
#include <vector>

namespace corodb {
namespace {

BOOST_AUTO_TEST_SUITE(CodingTest)

BOOST_AUTO_TEST_CASE(FixedRoundTripIsLittleEndian) {
  std::string s;
  PutFixed32(&s, 0x04030201u);
  PutFixed64(&s, 0x0807060504030201ull);
  BOOST_TEST(s == std::string("\x01\x02\x03\x04\x01\x02\x03\x04\x05\x06\x07\x08", 12));
  BOOST_TEST(DecodeFixed32(s.data()) == 0x04030201u);
  BOOST_TEST(DecodeFixed64(s.data() + 4) == 0x0807060504030201ull);
}

BOOST_AUTO_TEST_CASE(Varint64RoundTripsBoundaryValues) {
  std::vector<uint64_t> values = {0, 1, 127, 128, 255, 16383, 16384, (1ull << 32) - 1, 1ull << 32,
                                  std::numeric_limits<uint64_t>::max()};
  for (int shift = 0; shift < 64; ++shift) values.push_back((1ull << shift) + 1);
  std::string s;
  for (uint64_t v : values) PutVarint64(&s, v);
  Slice in(s);
  for (uint64_t v : values) {
    uint64_t got = 0;
    const size_t before = in.size();
    BOOST_REQUIRE(GetVarint64(&in, &got));
    BOOST_TEST(got == v);
    BOOST_TEST(before - in.size() == static_cast<size_t>(VarintLength(v)));
  }
  BOOST_TEST(in.empty());
}

BOOST_AUTO_TEST_CASE(Varint32RejectsOverflowAndTruncation) {
  std::string s;
  PutVarint64(&s, 1ull << 32);
  Slice in(s);
  uint32_t v = 0;
  BOOST_TEST(!GetVarint32(&in, &v));
  std::string t;
  PutVarint32(&t, 1u << 30);
  t.pop_back();
  Slice truncated(t);
  BOOST_TEST(!GetVarint32(&truncated, &v));
}

// GetVarint32Ptr decodes one-byte values inline and the rest out of line:
// both paths, at the edges of the range they may read.
BOOST_AUTO_TEST_CASE(Varint32RoundTripsAndStopsAtItsLimit) {
  const std::vector<uint32_t> values = {0, 1, 127, 128, 255, 16383, 16384, (1u << 21) - 1,
                                        1u << 21, (1u << 28) - 1, 1u << 28,
                                        std::numeric_limits<uint32_t>::max()};
  for (uint32_t value : values) {
    std::string s;
    PutVarint32(&s, value);
    const char* begin = s.data();
    const char* end = begin + s.size();
    uint32_t got = 0;
    BOOST_TEST(GetVarint32Ptr(begin, end, &got) == end, "value " << value);
    BOOST_TEST(got == value);
    // One byte short of its end: truncated, on either path.
    BOOST_TEST(GetVarint32Ptr(begin, end - 1, &got) == nullptr, "value " << value);
  }
  // An empty range, and one that ends before its start, hold no varint.
  const char byte = 5;
  uint32_t got = 99;
  BOOST_TEST(GetVarint32Ptr(&byte, &byte, &got) == nullptr);
  const std::string two = "\x81\x01";  // 129, two bytes
  BOOST_TEST(GetVarint32Ptr(two.data() + 1, two.data(), &got) == nullptr);
  BOOST_TEST(GetVarint32Ptr(two.data(), two.data() + 1, &got) == nullptr);
  BOOST_TEST(got == 99u);
  Slice empty;
  BOOST_TEST(!GetVarint32(&empty, &got));
  // A length prefix longer than what follows it.
  std::string s;
  PutVarint32(&s, 3);
  s += "ab";
  Slice in(s), out;
  BOOST_TEST(!GetLengthPrefixedSlice(&in, &out));
}

BOOST_AUTO_TEST_CASE(LengthPrefixedSliceRoundTripsBinary) {
  std::string s;
  const std::string binary("\0a\xff\0", 4);
  PutLengthPrefixedSlice(&s, binary);
  PutLengthPrefixedSlice(&s, "");
  Slice in(s), a, b;
  BOOST_REQUIRE(GetLengthPrefixedSlice(&in, &a));
  BOOST_REQUIRE(GetLengthPrefixedSlice(&in, &b));
  BOOST_TEST(a == binary);
  BOOST_TEST(b.empty());
  s.pop_back();  // cut into the first slice's body when re-read
  const std::string prefix = s.substr(0, 3);
  Slice cut(prefix);
  BOOST_TEST(!GetLengthPrefixedSlice(&cut, &a));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb

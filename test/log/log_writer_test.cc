#include "log/log_writer.h"

#include <boost/test/unit_test.hpp>
#include <string>

#include "log/log_test_util.h"
#include "util/coding.h"
#include "util/crc32c.h"

namespace corodb::log {
namespace {

struct Fragment {
  uint32_t masked_crc;
  size_t length;
  int type;
  std::string payload;
};

// Decodes the fragment header at `offset`.
Fragment FragmentAt(const std::string& log, size_t offset) {
  BOOST_REQUIRE(offset + kHeaderSize <= log.size());
  Fragment f;
  f.masked_crc = DecodeFixed32(log.data() + offset);
  f.length = static_cast<uint8_t>(log[offset + 4]) |
             (static_cast<uint8_t>(log[offset + 5]) << 8);
  f.type = static_cast<uint8_t>(log[offset + 6]);
  BOOST_REQUIRE(offset + kHeaderSize + f.length <= log.size());
  f.payload = log.substr(offset + kHeaderSize, f.length);
  return f;
}

uint32_t ExpectedMaskedCrc(int type, const std::string& payload) {
  std::string covered(1, static_cast<char>(type));
  covered += payload;
  return crc32c::Mask(crc32c::Value(covered.data(), covered.size()));
}

BOOST_AUTO_TEST_SUITE(LogWriterTest)

BOOST_AUTO_TEST_CASE(SmallRecordIsOneFullFragmentWithMaskedCrcOfTypeAndPayload) {
  Writer writer;
  std::string out;
  writer.AddRecord("hello", &out);
  BOOST_REQUIRE(out.size() == kHeaderSize + 5);
  const Fragment f = FragmentAt(out, 0);
  BOOST_TEST(f.type == kFullType);
  BOOST_TEST(f.length == 5u);
  BOOST_TEST(f.payload == "hello");
  BOOST_TEST(f.masked_crc == ExpectedMaskedCrc(kFullType, "hello"));
  // Known bytes: crc32c(0x01 "hello") masked, little-endian; length 5; type 1.
  BOOST_TEST(out.substr(4, 3) == std::string("\x05\x00\x01", 3));
}

BOOST_AUTO_TEST_CASE(EmptyRecordIsAZeroLengthFullFragment) {
  Writer writer;
  std::string out;
  writer.AddRecord("", &out);
  BOOST_REQUIRE(out.size() == kHeaderSize);
  const Fragment f = FragmentAt(out, 0);
  BOOST_TEST(f.type == kFullType);
  BOOST_TEST(f.length == 0u);
  BOOST_TEST(f.masked_crc == ExpectedMaskedCrc(kFullType, ""));
}

BOOST_AUTO_TEST_CASE(RecordExactlyFillingABlockLeavesNoTrailer) {
  Writer writer;
  std::string out;
  const std::string fill(kBlockSize - kHeaderSize, 'f');
  writer.AddRecord(fill, &out);
  BOOST_TEST(out.size() == kBlockSize);
  BOOST_TEST(FragmentAt(out, 0).type == kFullType);
  writer.AddRecord("next", &out);
  BOOST_TEST(out.size() == kBlockSize + kHeaderSize + 4);
  BOOST_TEST(FragmentAt(out, kBlockSize).payload == "next");
}

BOOST_AUTO_TEST_CASE(TrailersOfZeroToSixBytesAreZeroFilled) {
  for (size_t trailer = 0; trailer < kHeaderSize; ++trailer) {
    Writer writer;
    std::string out;
    writer.AddRecord(std::string(kBlockSize - kHeaderSize - trailer, 'a'), &out);
    BOOST_REQUIRE(out.size() == kBlockSize - trailer);
    writer.AddRecord("b", &out);
    BOOST_REQUIRE(out.size() == kBlockSize + kHeaderSize + 1);
    BOOST_TEST(out.substr(kBlockSize - trailer, trailer) == std::string(trailer, '\0'));
    const Fragment f = FragmentAt(out, kBlockSize);
    BOOST_TEST(f.type == kFullType);
    BOOST_TEST(f.payload == "b");
  }
}

BOOST_AUTO_TEST_CASE(SevenBytesLeftGetAnEmptyFirstFragment) {
  Writer writer;
  std::string out;
  writer.AddRecord(std::string(kBlockSize - 2 * kHeaderSize, 'a'), &out);
  BOOST_REQUIRE(out.size() == kBlockSize - kHeaderSize);
  writer.AddRecord("xyz", &out);
  const Fragment first = FragmentAt(out, kBlockSize - kHeaderSize);
  BOOST_TEST(first.type == kFirstType);
  BOOST_TEST(first.length == 0u);
  const Fragment last = FragmentAt(out, kBlockSize);
  BOOST_TEST(last.type == kLastType);
  BOOST_TEST(last.payload == "xyz");
  // An empty record there fits as a zero-length FULL.
  Writer w2;
  std::string out2;
  w2.AddRecord(std::string(kBlockSize - 2 * kHeaderSize, 'a'), &out2);
  w2.AddRecord("", &out2);
  BOOST_TEST(out2.size() == kBlockSize);
  BOOST_TEST(FragmentAt(out2, kBlockSize - kHeaderSize).type == kFullType);
}

BOOST_AUTO_TEST_CASE(LargeRecordIsSplitFirstMiddleLast) {
  Random rnd(5);
  const std::string big = testing::RandomString(100000, &rnd);
  Writer writer;
  std::string out;
  writer.AddRecord("a", &out);
  writer.AddRecord(big, &out);
  const size_t per_block = kBlockSize - kHeaderSize;
  std::vector<int> types;
  std::string joined;
  size_t offset = kHeaderSize + 1;
  while (offset < out.size()) {
    const Fragment f = FragmentAt(out, offset);
    types.push_back(f.type);
    joined += f.payload;
    if (f.type != kLastType) {
      // Every fragment but the last runs to the end of its block.
      BOOST_TEST((offset + kHeaderSize + f.length) % kBlockSize == 0u);
    }
    BOOST_TEST(f.masked_crc == ExpectedMaskedCrc(f.type, f.payload));
    offset += kHeaderSize + f.length;
  }
  BOOST_TEST(joined == big);
  BOOST_TEST(types ==
             (std::vector<int>{kFirstType, kMiddleType, kMiddleType, kLastType}));
  BOOST_TEST(FragmentAt(out, kBlockSize).length == per_block);
}

BOOST_AUTO_TEST_CASE(WriterContinuingALogMidBlockProducesTheSameBytes) {
  Random rnd(9);
  std::vector<std::string> records;
  for (int i = 0; i < 40; ++i)
    records.push_back(testing::RandomString(rnd.Skewed(16), &rnd));
  const std::string whole = testing::Encode(records);
  // Stop after every prefix, then continue with a new writer from the length.
  for (size_t split = 0; split <= records.size(); ++split) {
    Writer first;
    std::string out;
    for (size_t i = 0; i < split; ++i) first.AddRecord(records[i], &out);
    Writer second(out.size());
    for (size_t i = split; i < records.size(); ++i) second.AddRecord(records[i], &out);
    BOOST_REQUIRE(out == whole);
    BOOST_TEST(second.length() == whole.size());
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::log

// Block builder and reader, block handles and footer, filter block.
#include "table/block.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <new>

#include "corodb/filter_policy.h"
#include "table/block_builder.h"
#include "table/filter_block.h"
#include "table/format.h"
#include "table_test_util.h"
#include "util/coding.h"
#include "util/crc32c.h"

namespace corodb::table {
namespace {

using testing::Model;
using testing::RandomBytes;

Block BuildBlock(const Model& model, int restart_interval) {
  BlockBuilder builder(restart_interval);
  for (const auto& [k, v] : model) builder.Add(k, v);
  Result<Block> block = Block::Parse(std::string(builder.Finish()));
  BOOST_REQUIRE(block.ok());
  return std::move(block).value();
}

Model RandomModel(Random* rnd, size_t n, size_t max_key, size_t max_value) {
  Model m(testing::ComparatorLess{BytewiseComparator()});
  while (m.size() < n) {
    m[RandomBytes(rnd, rnd->Uniform(static_cast<uint32_t>(max_key) + 1))] =
        RandomBytes(rnd, rnd->Uniform(static_cast<uint32_t>(max_value) + 1));
  }
  return m;
}

// Checks forward and backward scans and random seeks against the model.
void CheckBlockAgainstModel(const Block& block, const Model& model, Random* rnd) {
  BlockIter it(&block, BytewiseComparator());
  it.SeekToFirst();
  for (const auto& [k, v] : model) {
    BOOST_REQUIRE(it.Valid());
    BOOST_REQUIRE(it.key() == k);
    BOOST_REQUIRE(it.value() == v);
    it.Next();
  }
  BOOST_REQUIRE(!it.Valid());
  BOOST_REQUIRE(it.status().ok());

  it.SeekToLast();
  for (auto rit = model.rbegin(); rit != model.rend(); ++rit) {
    BOOST_REQUIRE(it.Valid());
    BOOST_REQUIRE(it.key() == rit->first);
    it.Prev();
  }
  BOOST_REQUIRE(!it.Valid());

  for (int i = 0; i < 200; ++i) {
    const std::string target = RandomBytes(rnd, rnd->Uniform(12));
    it.Seek(target);
    auto expected = model.lower_bound(target);
    if (expected == model.end()) {
      BOOST_REQUIRE(!it.Valid());
      continue;
    }
    BOOST_REQUIRE(it.Valid());
    BOOST_REQUIRE(it.key() == expected->first);
    // A step in each direction agrees too.
    it.Prev();
    if (expected == model.begin()) {
      BOOST_REQUIRE(!it.Valid());
    } else {
      BOOST_REQUIRE(it.Valid());
      BOOST_REQUIRE(it.key() == std::prev(expected)->first);
    }
  }
  BOOST_REQUIRE(it.status().ok());
}

BOOST_AUTO_TEST_SUITE(BlockTest)

BOOST_AUTO_TEST_CASE(EmptyBlockHasOneRestartAndNoEntries) {
  BlockBuilder builder(16);
  const std::string contents(builder.Finish());
  BOOST_TEST(contents.size() == 8u);
  Result<Block> block = Block::Parse(contents);
  BOOST_REQUIRE(block.ok());
  BlockIter it(&*block, BytewiseComparator());
  it.SeekToFirst();
  BOOST_TEST(!it.Valid());
  it.Seek("a");
  BOOST_TEST(!it.Valid());
  BOOST_TEST(it.status().ok());
}

BOOST_AUTO_TEST_CASE(LayoutIsPrefixCompressedWithRestarts) {
  BlockBuilder builder(2);
  builder.Add("apple", "1");
  builder.Add("apricot", "22");
  builder.Add("banana", "");
  const std::string contents(builder.Finish());
  std::string expected;
  expected += std::string("\x00\x05\x01", 3) + "apple" + "1";
  expected += std::string("\x02\x05\x02", 3) + "ricot" + "22";
  expected += std::string("\x00\x06\x00", 3) + "banana";
  PutFixed32(&expected, 0);
  PutFixed32(&expected, 9 + 10);
  PutFixed32(&expected, 2);
  BOOST_TEST(contents == expected);
}

BOOST_AUTO_TEST_CASE(IteratorAgreesWithModelForEveryRestartInterval) {
  Random rnd(301);
  for (int interval : {1, 2, 3, 16, 1000}) {
    for (size_t n : {1u, 2u, 17u, 300u}) {
      const Model model = RandomModel(&rnd, n, 10, 20);
      CheckBlockAgainstModel(BuildBlock(model, interval), model, &rnd);
    }
  }
}

// Prev steps back through the entries its last walk recorded; any mix of
// moves must still agree with the model: intervals longer than the record
// holds, keys too long for its key bytes, and moves that leave the record
// (Next, Seek) before the next Prev.
BOOST_AUTO_TEST_CASE(BackwardStepsAgreeWithTheModelUnderAnyMixOfMoves) {
  Random rnd(404);
  for (int interval : {1, 4, 16, 17, 40}) {
    for (size_t max_key : {10u, 120u}) {
      const Model model = RandomModel(&rnd, 400, max_key, 30);
      const std::vector<std::pair<std::string, std::string>> seq(model.begin(), model.end());
      const Block block = BuildBlock(model, interval);
      BlockIter it(&block, BytewiseComparator());
      PrevRecord record;
      it.UsePrevRecord(&record);
      const auto n = static_cast<ptrdiff_t>(seq.size());
      ptrdiff_t pos = n - 1;
      it.SeekToLast();
      for (int step = 0; step < 4000; ++step) {
        BOOST_TEST_CONTEXT("interval " << interval << ", keys up to " << max_key << ", step "
                                       << step << ", position " << pos) {
          BOOST_REQUIRE(it.status().ok());
          BOOST_REQUIRE_EQUAL(it.Valid(), pos >= 0 && pos < n);
          if (pos >= 0 && pos < n) {
            BOOST_REQUIRE(it.key() == seq[static_cast<size_t>(pos)].first);
            BOOST_REQUIRE(it.value() == seq[static_cast<size_t>(pos)].second);
          }
        }
        const uint32_t r = rnd.Uniform(20);
        if (pos < 0 || pos >= n || r == 0) {
          it.SeekToLast();
          pos = n - 1;
        } else if (r < 13) {  // mostly backward runs
          it.Prev();
          --pos;
        } else if (r < 17) {
          it.Next();
          ++pos;
        } else {
          const std::string& target = seq[rnd.Uniform(static_cast<uint32_t>(n))].first;
          it.Seek(target);
          pos = std::lower_bound(seq.begin(), seq.end(), target,
                                 [](const auto& e, const std::string& t) { return e.first < t; }) -
                seq.begin();
        }
      }
      if (interval <= 16 && max_key == 10) {  // a walk the record holds
        it.SeekToLast();
        it.Prev();
        BOOST_TEST(record.count > 0u, "the walk was not recorded");
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(EmptyAndLongKeysAndValues) {
  Random rnd(7);
  Model model(testing::ComparatorLess{BytewiseComparator()});
  model[""] = "empty key";
  model["k"] = "";
  model[std::string(5000, 'x')] = RandomBytes(&rnd, 70000);
  model[std::string("\0\xff", 2)] = std::string("\0", 1);
  CheckBlockAgainstModel(BuildBlock(model, 16), model, &rnd);
}

BOOST_AUTO_TEST_CASE(DamagedBlocksNeverCrashOrReadOutOfBounds) {
  Random rnd(99);
  const Model model = RandomModel(&rnd, 60, 12, 12);
  BlockBuilder builder(4);
  for (const auto& [k, v] : model) builder.Add(k, v);
  const std::string good(builder.Finish());
  BOOST_TEST(!Block::Parse(std::string("abc")).ok());
  for (size_t pos = 0; pos < good.size(); ++pos) {
    for (int bit : {0, 7}) {
      std::string bad = good;
      bad[pos] = static_cast<char>(bad[pos] ^ (1 << bit));
      Result<Block> block = Block::Parse(bad);
      if (!block.ok()) continue;
      BlockIter it(&*block, BytewiseComparator());
      int steps = 0;
      for (it.SeekToFirst(); it.Valid() && steps < 1000; it.Next()) ++steps;
      for (it.SeekToLast(); it.Valid() && steps < 2000; it.Prev()) ++steps;
      it.Seek(model.begin()->first);
      it.Seek("\xff\xff");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(FormatTest)

// A block of internal keys holding one too short for its tag: the iterator
// stops with Corruption before comparing or returning it (no out-of-bounds
// read of the missing tag), in scans and in both phases of Seek.
BOOST_AUTO_TEST_CASE(ShortInternalKeyIsCorruptionWhenInternalKeysAreRequired) {
  const InternalKeyComparator icmp(BytewiseComparator());
  const std::string a = testing::IKey("a", 1), c = testing::IKey("c", 1);
  for (int restart_interval : {1, 16}) {
    BlockBuilder builder(restart_interval);
    builder.Add(a, "va");
    builder.Add("b", "vb");  // bytewise between a's and c's internal keys
    builder.Add(c, "vc");
    Result<Block> block = Block::Parse(std::string(builder.Finish()));
    BOOST_REQUIRE(block.ok());
    BOOST_TEST_CONTEXT("restart interval " << restart_interval) {
      BlockIter it(&*block, &icmp, /*internal_keys=*/true);
      it.SeekToFirst();
      BOOST_REQUIRE(it.Valid());
      BOOST_TEST(it.key() == a);
      it.Next();
      BOOST_TEST(!it.Valid());
      BOOST_TEST(it.status().IsCorruption());
      BOOST_TEST(it.status().ToString().find("bad internal key (1 bytes)") != std::string::npos,
                 it.status().ToString());
      it.Seek(c);
      BOOST_TEST(!it.Valid());
      BOOST_TEST(it.status().IsCorruption());
      // Backwards: c is reached (directly when it is a restart point), then b.
      it.SeekToLast();
      if (it.Valid()) {
        BOOST_TEST(restart_interval == 1);
        BOOST_TEST(it.key() == c);
        it.Prev();
      }
      BOOST_TEST(!it.Valid());
      BOOST_TEST(it.status().IsCorruption());
      // Bytewise and without the check, the same block reads back whole.
      BlockIter raw(&*block, BytewiseComparator());
      int n = 0;
      for (raw.SeekToFirst(); raw.Valid(); raw.Next()) ++n;
      BOOST_TEST(n == 3);
    }
  }
}

BOOST_AUTO_TEST_CASE(BlockHandleRoundTrips) {
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 1ull << 40, ~0ull}) {
    BlockHandle h(v, v / 3);
    std::string enc = h.Encode();
    Slice in(enc);
    BlockHandle d;
    BOOST_REQUIRE(d.DecodeFrom(&in));
    BOOST_TEST(d.offset() == v);
    BOOST_TEST(d.size() == v / 3);
    BOOST_TEST(in.empty());
  }
}

BOOST_AUTO_TEST_CASE(FooterIs48BytesWithMagicAndZeroPadding) {
  Footer f(BlockHandle(1000, 20), BlockHandle(1025, 300));
  std::string enc;
  f.EncodeTo(&enc);
  BOOST_REQUIRE(enc.size() == 48u);
  BOOST_TEST(DecodeFixed64(enc.data() + 40) == 0xdb4775248b80fb57ull);
  Footer d;
  BOOST_REQUIRE(d.DecodeFrom(enc).ok());
  BOOST_TEST(d.index_handle().offset() == 1025u);
  BOOST_TEST(d.metaindex_handle().size() == 20u);
  for (size_t pos = 0; pos < enc.size(); ++pos) {
    std::string bad = enc;
    bad[pos] ^= 0x10;
    Footer x;
    Status s = x.DecodeFrom(bad);
    // Any change is either detected here or changes a handle (caught later
    // by range and checksum checks).
    if (s.ok()) {
      BOOST_TEST((x.index_handle().offset() != 1025u || x.index_handle().size() != 300u ||
                  x.metaindex_handle().offset() != 1000u || x.metaindex_handle().size() != 20u));
    } else {
      BOOST_TEST(s.IsCorruption());
    }
  }
}

BOOST_AUTO_TEST_CASE(TrailerHoldsTypeAndMaskedCrcOfContentsAndType) {
  std::string out;
  AppendBlockWithTrailer("hello", CompressionType::kNoCompression, &out);
  BOOST_REQUIRE(out.size() == 10u);
  BOOST_TEST(out[5] == '\0');
  const uint32_t crc = crc32c::Value(out.data(), 6);
  BOOST_TEST(crc32c::Unmask(DecodeFixed32(out.data() + 6)) == crc);

  std::string raw = out;
  Result<std::string> decoded = DecodeBlock(&raw, BlockHandle(0, 5), true, "f.ldb");
  BOOST_REQUIRE(decoded.ok());
  BOOST_TEST(*decoded == "hello");
  std::string bad = out;
  bad[2] ^= 1;
  decoded = DecodeBlock(&bad, BlockHandle(0, 5), true, "f.ldb");
  BOOST_REQUIRE(!decoded.ok());
  BOOST_TEST(decoded.status().IsCorruption());
  BOOST_TEST(std::string(decoded.status().message()).find("f.ldb") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(SnappyKeptOnlyWhenItSavesAnEighth) {
  std::string scratch;
  CompressionType type;
  const std::string compressible(4096, 'a');
  Slice out = MaybeCompress(compressible, CompressionType::kSnappyCompression, &scratch, &type);
  BOOST_TEST((type == CompressionType::kSnappyCompression));
  BOOST_TEST(out.size() < compressible.size() / 8);
  Random rnd(5);
  const std::string random = RandomBytes(&rnd, 4096);
  out = MaybeCompress(random, CompressionType::kSnappyCompression, &scratch, &type);
  BOOST_TEST((type == CompressionType::kNoCompression));
  BOOST_TEST(out.data() == random.data());
  // Round trip through the trailer and decoder.
  std::string framed;
  out = MaybeCompress(compressible, CompressionType::kSnappyCompression, &scratch, &type);
  AppendBlockWithTrailer(out, type, &framed);
  Result<std::string> decoded = DecodeBlock(&framed, BlockHandle(0, out.size()), true, "x");
  BOOST_REQUIRE(decoded.ok());
  BOOST_TEST(*decoded == compressible);
}

// A damaged snappy header can claim any length up to kMaxBlockSize; one that
// no block of this size can decode to is refused before the buffer is made.
// The child process may allocate only 64 MiB more than it has: with the claim
// allocated first (1 GiB), it dies of bad_alloc instead of reporting damage.
BOOST_AUTO_TEST_CASE(ClaimedLengthPastSnappysExpansionIsRefusedBeforeAllocating) {
  // Snappy stream: varint length 2^30 - 1, then one literal "ab".
  std::string body;
  PutVarint32(&body, (1u << 30) - 1);
  body.push_back('\x04');  // literal tag, length 2
  body += "ab";
  std::string framed;
  AppendBlockWithTrailer(body, CompressionType::kSnappyCompression, &framed);

  const auto decode_both = [&] {
    std::string copy = framed;
    Result<std::string> s = DecodeBlock(&copy, BlockHandle(0, body.size()), true, "d.ldb");
    Result<BlockContents> c = DecodeBlock(Slice(framed), BlockHandle(0, body.size()), true, "d.ldb");
    return !s.ok() && s.status().IsCorruption() && !c.ok() && c.status().IsCorruption() &&
           std::string(s.status().message()).find("d.ldb") != std::string::npos;
  };
  const pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    uint64_t data_kib = 0;
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmData:", 0) == 0) data_kib = std::stoull(line.substr(7));
    }
    const rlim_t limit = (data_kib + 64 * 1024) * 1024;
    const struct rlimit r = {limit, limit};
    if (data_kib == 0 || setrlimit(RLIMIT_DATA, &r) != 0) _exit(3);
    try {
      _exit(decode_both() ? 0 : 1);
    } catch (const std::bad_alloc&) {
      _exit(2);
    }
  }
  int status = 0;
  BOOST_REQUIRE(waitpid(pid, &status, 0) == pid);
  BOOST_REQUIRE_MESSAGE(WIFEXITED(status), "the child died of signal " << WTERMSIG(status));
  BOOST_TEST(WEXITSTATUS(status) == 0,
             "child exit " << WEXITSTATUS(status)
                           << " (1: not Corruption naming the file, 2: the claim was allocated, "
                              "3: no limit set)");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(FilterBlockTest)

// Records the keys of each filter as "k1,k2," so the layout can be checked.
class TestPolicy final : public FilterPolicy {
 public:
  const char* Name() const override { return "test"; }
  void CreateFilter(std::span<const Slice> keys, std::string* dst) const override {
    for (Slice k : keys) {
      dst->append(k);
      dst->push_back(',');
    }
  }
  bool KeyMayMatch(Slice key, Slice filter) const override {
    return filter.find(std::string(key) + ",") != Slice::npos;
  }
};

BOOST_AUTO_TEST_CASE(EmptyBuilderWritesOnlyTheTrailer) {
  FilterBlockBuilder builder(std::make_shared<TestPolicy>());
  const std::string block(builder.Finish());
  BOOST_TEST(block == std::string("\0\0\0\0\x0b", 5));
  Result<FilterBlockReader> reader = FilterBlockReader::Parse(std::make_shared<TestPolicy>(), block);
  BOOST_REQUIRE(reader.ok());
  BOOST_TEST(reader->KeyMayMatch(0, "foo"));
  BOOST_TEST(reader->KeyMayMatch(100000, "foo"));
}

BOOST_AUTO_TEST_CASE(OneFilterPer2KiBOfBlockOffsets) {
  auto policy = std::make_shared<TestPolicy>();
  FilterBlockBuilder builder(policy);
  builder.StartBlock(0);
  builder.AddKey("foo");
  builder.StartBlock(2000);
  builder.AddKey("bar");
  builder.StartBlock(3100);  // second filter range [2048, 4096)
  builder.AddKey("box");
  builder.StartBlock(9000);  // skips ranges 2 and 3 (empty filters)
  builder.AddKey("hello");
  const std::string block(builder.Finish());
  std::string expected = "foo,bar,box,hello,";
  PutFixed32(&expected, 0);
  PutFixed32(&expected, 8);
  PutFixed32(&expected, 12);
  PutFixed32(&expected, 12);
  PutFixed32(&expected, 12);
  PutFixed32(&expected, 18);
  expected.push_back(11);
  BOOST_TEST(block == expected);

  Result<FilterBlockReader> reader = FilterBlockReader::Parse(policy, block);
  BOOST_REQUIRE(reader.ok());
  BOOST_TEST(reader->KeyMayMatch(0, "foo"));
  BOOST_TEST(reader->KeyMayMatch(2000, "bar"));
  BOOST_TEST(!reader->KeyMayMatch(0, "box"));
  BOOST_TEST(reader->KeyMayMatch(3100, "box"));
  BOOST_TEST(!reader->KeyMayMatch(4100, "box"));  // empty filter
  BOOST_TEST(!reader->KeyMayMatch(6200, "hello"));
  BOOST_TEST(reader->KeyMayMatch(9000, "hello"));
  BOOST_TEST(!reader->KeyMayMatch(9000, "foo"));
}

BOOST_AUTO_TEST_CASE(DamagedOffsetsAreRejected) {
  auto policy = std::make_shared<TestPolicy>();
  FilterBlockBuilder builder(policy);
  builder.StartBlock(0);
  builder.AddKey("foo");
  builder.StartBlock(5000);
  builder.AddKey("bar");
  const std::string good(builder.Finish());
  BOOST_REQUIRE(FilterBlockReader::Parse(policy, good).ok());
  BOOST_TEST(!FilterBlockReader::Parse(policy, good.substr(0, 4)).ok());
  std::string bad = good;
  bad[good.size() - 5] = 100;  // array offset past the end
  BOOST_TEST(!FilterBlockReader::Parse(policy, bad).ok());
  bad = good;
  bad[8] = 50;  // first filter offset beyond the second
  BOOST_TEST(!FilterBlockReader::Parse(policy, bad).ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::table

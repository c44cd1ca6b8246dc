// SnappyStream (a Snappy decoder that stops where its reader has enough)
// against libsnappy, and BlockIter over a LazyBlock (a block decoded only
// as far as the iterator moves) against BlockIter over the whole block.
#include "table/snappy_stream.h"

#include <snappy.h>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "format/dbformat.h"
#include "table/block.h"
#include "table/block_builder.h"
#include "table_test_util.h"
#include "util/coding.h"
#include "util/random.h"

namespace corodb::table {
namespace {

namespace bdata = boost::unit_test::data;
using testing::IKey;
using testing::RandomBytes;

std::string Compress(Slice raw) {
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

// Inputs that exercise every element Snappy's compressor writes: literals
// of every length class, copies with offsets below 8, 8..15 and 16 on,
// long runs, and incompressible stretches.
std::vector<std::string> SampleInputs(Random* rnd) {
  std::vector<std::string> inputs = {"", "a", std::string(16, 'x'), std::string(17, 'y'),
                                     std::string(100000, '\0')};
  for (size_t n : {15, 16, 17, 59, 60, 61, 255, 256, 257, 4096, 65535, 65536, 70000}) {
    inputs.push_back(RandomBytes(rnd, n));
  }
  for (size_t period = 1; period <= 40; ++period) {
    const std::string unit = RandomBytes(rnd, period);
    std::string s;
    while (s.size() < 3000) s += unit;
    inputs.push_back(s);
  }
  // Half-compressible values, as the benchmark's (random runs, repeated).
  for (int i = 0; i < 20; ++i) {
    std::string s;
    while (s.size() < 8000) {
      const std::string piece = RandomBytes(rnd, 1 + rnd->Uniform(40));
      s += piece;
      s += piece.substr(0, rnd->Uniform(static_cast<uint32_t>(piece.size()) + 1));
    }
    inputs.push_back(s);
  }
  return inputs;
}

// The stream of `compressed` decoded in steps of random size, checking after
// each that the promised prefix is out and equals `raw`'s.
void DecodeInSteps(const std::string& compressed, const std::string& raw, Random* rnd) {
  // An exactly sized copy, so a read past the input is an ASan report.
  std::unique_ptr<char[]> input(new char[compressed.size()]);
  std::memcpy(input.get(), compressed.data(), compressed.size());
  SnappyStream stream;
  BOOST_REQUIRE(stream.Init(Slice(input.get(), compressed.size()), 1u << 30));
  BOOST_REQUIRE_EQUAL(stream.length(), raw.size());
  std::unique_ptr<char[]> out(new char[stream.length() + SnappyStream::kSlop]);
  stream.SetOutput(out.get());
  size_t want = 0;
  while (!stream.finished()) {
    want += 1 + rnd->Uniform(rnd->OneIn(4) ? 4000 : 100);
    BOOST_REQUIRE(stream.DecodeTo(want));
    BOOST_REQUIRE_GE(stream.produced(), std::min(want, raw.size()));
    BOOST_REQUIRE(std::memcmp(stream.output(), raw.data(), stream.produced()) == 0);
  }
  BOOST_TEST(stream.produced() == raw.size());
}

// libsnappy's verdict on `compressed`: the decoded bytes, or nullopt.
std::optional<std::string> LibsnappyDecode(const std::string& compressed) {
  size_t n = 0;
  // A length no input of this size can decode to is refused before the
  // allocation (a damaged preamble may claim a GiB).
  if (!snappy::GetUncompressedLength(compressed.data(), compressed.size(), &n) ||
      n > (1u << 30) || static_cast<uint64_t>(n) * 3 > static_cast<uint64_t>(compressed.size()) * 64) {
    return std::nullopt;
  }
  std::string out(n, '\0');
  if (!snappy::RawUncompress(compressed.data(), compressed.size(), out.data())) {
    return std::nullopt;
  }
  return out;
}

// SnappyStream's verdict, decoding all at once.
std::optional<std::string> StreamDecode(const std::string& compressed) {
  // Exactly sized, so a read past the input is an ASan report.
  std::unique_ptr<char[]> input(new char[compressed.size()]);
  std::memcpy(input.get(), compressed.data(), compressed.size());
  SnappyStream stream;
  if (!stream.Init(Slice(input.get(), compressed.size()), 1u << 30)) return std::nullopt;
  std::unique_ptr<char[]> out(new char[stream.length() + SnappyStream::kSlop]);
  stream.SetOutput(out.get());
  if (!stream.DecodeTo(stream.length()) || !stream.finished()) {
    BOOST_REQUIRE(stream.failed() || !stream.finished());
    return std::nullopt;
  }
  return std::string(out.get(), stream.length());
}

BOOST_AUTO_TEST_SUITE(SnappyStreamTest)

BOOST_AUTO_TEST_CASE(DecodesWhatSnappyCompressedInAnySteps) {
  Random rnd(301);
  for (const std::string& raw : SampleInputs(&rnd)) {
    BOOST_TEST_CONTEXT("input of " << raw.size() << " bytes") {
      const std::string compressed = Compress(raw);
      for (int round = 0; round < 4; ++round) DecodeInSteps(compressed, raw, &rnd);
      const std::optional<std::string> whole = StreamDecode(compressed);
      BOOST_REQUIRE(whole.has_value());
      BOOST_TEST(*whole == raw);
    }
  }
}

// Elements libsnappy's compressor never writes but its format allows (and
// its decoder reads): literal lengths in three and four bytes, copies with
// a 4-byte offset, a copy that overlaps itself.
BOOST_AUTO_TEST_CASE(DecodesEveryElementTheFormatAllows) {
  Random rnd(7);
  const std::string body = RandomBytes(&rnd, 70000);
  // Literal of 70000 bytes, length in three bytes (tag 62 << 2).
  std::string elements;
  elements.push_back(static_cast<char>(62 << 2));
  const uint32_t n3 = 70000 - 1;
  elements.push_back(static_cast<char>(n3 & 0xff));
  elements.push_back(static_cast<char>((n3 >> 8) & 0xff));
  elements.push_back(static_cast<char>((n3 >> 16) & 0xff));
  elements += body;
  // Literal of 3 bytes, length in four bytes (tag 63 << 2).
  elements.push_back(static_cast<char>(63 << 2));
  elements.append("\x02\x00\x00\x00", 4);
  elements += "xyz";
  // Copy of 64 bytes from 69000 back: 4-byte offset (type 3).
  elements.push_back(static_cast<char>((63 << 2) | 3));
  elements.append("\x88\x0d\x01\x00", 4);  // 69000 = 0x10D88
  // Copy of 40 bytes from 3 back (overlapping itself): 2-byte offset.
  elements.push_back(static_cast<char>((39 << 2) | 2));
  elements.append("\x03\x00", 2);
  // Copy of 11 bytes from 9 back: 1-byte offset (type 1, len 4 + 7).
  elements.push_back(static_cast<char>((7 << 2) | 1));
  elements.push_back(static_cast<char>(9));
  const size_t total = 70000 + 3 + 64 + 40 + 11;
  std::string stream;
  for (uint32_t v = total; ; v >>= 7) {
    if (v < 128) {
      stream.push_back(static_cast<char>(v));
      break;
    }
    stream.push_back(static_cast<char>(v | 128));
  }
  stream += elements;
  const std::optional<std::string> expected = LibsnappyDecode(stream);
  BOOST_REQUIRE(expected.has_value());
  BOOST_REQUIRE_EQUAL(expected->size(), total);
  const std::optional<std::string> got = StreamDecode(stream);
  BOOST_REQUIRE(got.has_value());
  BOOST_TEST(*got == *expected);
  DecodeInSteps(stream, *expected, &rnd);
}

// Damaged streams (bytes changed, cut short, lengthened): the stream stays
// within its buffers (ASan) and agrees with libsnappy on which decode, and
// on what they decode to.
BOOST_AUTO_TEST_CASE(AgreesWithLibsnappyOnDamagedStreams) {
  Random rnd(1234);
  const std::vector<std::string> inputs = SampleInputs(&rnd);
  int valid = 0, invalid = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string& raw = inputs[rnd.Uniform(static_cast<uint32_t>(inputs.size()))];
    if (raw.size() > 10000) continue;
    std::string damaged = Compress(raw);
    switch (rnd.Uniform(4)) {
      case 0:
        damaged.resize(rnd.Uniform(static_cast<uint32_t>(damaged.size()) + 1));
        break;
      case 1:
        damaged += RandomBytes(&rnd, 1 + rnd.Uniform(8));
        break;
      default:
        for (int k = 1 + rnd.Uniform(3); k > 0 && !damaged.empty(); --k) {
          damaged[rnd.Uniform(static_cast<uint32_t>(damaged.size()))] =
              static_cast<char>(rnd.Uniform(256));
        }
        break;
    }
    const std::optional<std::string> expected = LibsnappyDecode(damaged);
    const std::optional<std::string> got = StreamDecode(damaged);
    BOOST_REQUIRE_EQUAL(got.has_value(), expected.has_value());
    if (got.has_value()) {
      BOOST_REQUIRE(*got == *expected);
      ++valid;
    } else {
      ++invalid;
    }
  }
  // Both kinds were met (a change to a literal's bytes still decodes).
  BOOST_TEST(valid > 100);
  BOOST_TEST(invalid > 100);
}

BOOST_AUTO_TEST_CASE(RefusesAStatedLengthTheInputCannotHold) {
  SnappyStream stream;
  // 1,000,000 stated in a 4-byte input.
  const std::string s = "\xc0\x84\x3d\x00";
  BOOST_TEST(!stream.Init(s, 1u << 30));
  SnappyStream limited;
  const std::string ok = Compress(std::string(1000, 'a'));
  BOOST_TEST(!limited.Init(ok, 999));
}

BOOST_AUTO_TEST_SUITE_END()

// A data block of internal keys: user keys of 0..`max_key` random bytes
// (sorted, unique), values of 0..`max_value` bytes, every `restart_interval`
// entries a restart point.
struct TestBlock {
  std::vector<std::pair<std::string, std::string>> entries;
  std::string raw;         // the block as built
  std::string compressed;  // its Snappy form
};

TestBlock MakeBlock(Random* rnd, size_t n, size_t max_key, size_t max_value, int restart_interval) {
  std::set<std::string> user_keys;
  while (user_keys.size() < n) {
    user_keys.insert(RandomBytes(rnd, rnd->Uniform(static_cast<uint32_t>(max_key) + 1)));
  }
  TestBlock block;
  BlockBuilder builder(restart_interval);
  for (const std::string& u : user_keys) {
    // Some user keys twice, newer first, as a table holds overwrites.
    const int versions = rnd->OneIn(5) ? 2 : 1;
    for (int v = versions; v > 0; --v) {
      std::string key = IKey(u, 100 + v, rnd->OneIn(6) ? kTypeDeletion : kTypeValue);
      std::string value = RandomBytes(rnd, rnd->Uniform(static_cast<uint32_t>(max_value) + 1));
      builder.Add(key, value);
      block.entries.emplace_back(std::move(key), std::move(value));
    }
  }
  block.raw = std::string(builder.Finish());
  block.compressed = Compress(block.raw);
  return block;
}

// A lazy iterator (over the block's Snappy stream) and an iterator over
// the whole decoded block, moved alike.
struct IterPair {
  IterPair(const TestBlock& block, const InternalKeyComparator* icmp) : whole_block(Parse(block.raw)) {
    BOOST_REQUIRE(lazy_block.Reset(block.compressed, 1u << 30));
    lazy.emplace(lazy_block.stream(), icmp);
    whole.emplace(&whole_block, icmp, /*internal_keys=*/true);
  }
  static Block Parse(const std::string& raw) {
    Result<Block> b = Block::Parse(raw);
    BOOST_REQUIRE(b.ok());
    return std::move(b).value();
  }
  // Both at the same entry (or both invalid), both without error.
  void CheckSame(const char* after) const {
    BOOST_TEST_CONTEXT("after " << after) {
      BOOST_REQUIRE_MESSAGE(lazy->status().ok(), lazy->status().ToString());
      BOOST_REQUIRE(whole->status().ok());
      BOOST_REQUIRE_EQUAL(lazy->Valid(), whole->Valid());
      if (whole->Valid()) {
        BOOST_REQUIRE(lazy->key() == whole->key());
        BOOST_REQUIRE(lazy->value() == whole->value());
      }
    }
  }
  Block whole_block;
  LazyBlock lazy_block;
  std::optional<BlockIter> lazy;
  std::optional<BlockIter> whole;
};

std::string SeekTarget(Random* rnd, const TestBlock& block) {
  const auto& [key, value] = block.entries[rnd->Uniform(static_cast<uint32_t>(block.entries.size()))];
  const Slice user = ExtractUserKey(key);
  switch (rnd->Uniform(6)) {
    case 0:
      return IKey(user, kMaxSequenceNumber, kValueTypeForSeek);
    case 1:
      return IKey(user, 0, kTypeDeletion);  // after its versions
    case 2:
      return IKey(std::string(user) + '\0', kMaxSequenceNumber, kValueTypeForSeek);
    case 3:
      return IKey(std::string(30, '\xff'), 0, kTypeDeletion);  // past the block
    case 4:
      return IKey("", kMaxSequenceNumber, kValueTypeForSeek);  // before it
    default:
      return key;
  }
}

BOOST_AUTO_TEST_SUITE(LazyBlockIterTest)

// Every target a lookup can ask for: Seek over the stream lands where Seek
// over the whole block does, also past the last entry (invalid, no error).
BOOST_AUTO_TEST_CASE(SeekFindsWhatTheWholeBlockFinds) {
  const InternalKeyComparator icmp(BytewiseComparator());
  Random rnd(99);
  for (int restart_interval : {1, 2, 16}) {
    for (size_t max_value : {0, 20, 200, 3000}) {  // 200: two-byte varints
      BOOST_TEST_CONTEXT("restart interval " << restart_interval << ", values up to "
                                             << max_value) {
        const TestBlock block = MakeBlock(&rnd, 1 + rnd.Uniform(60), 24, max_value,
                                          restart_interval);
        for (int i = 0; i < 200; ++i) {
          IterPair its(block, &icmp);  // fresh: nothing decoded yet
          const std::string target = SeekTarget(&rnd, block);
          its.lazy->Seek(target);
          its.whole->Seek(target);
          its.CheckSame("Seek");
        }
      }
    }
  }
}

// Random interleavings of every move, including direction changes (which
// decode the rest of the block mid-walk) and AtLast/AtFirst, against the
// whole block.
BOOST_AUTO_TEST_CASE(RandomMovesAgreeWithTheWholeBlock) {
  const InternalKeyComparator icmp(BytewiseComparator());
  Random rnd(31);
  for (int round = 0; round < 300; ++round) {
    const TestBlock block = MakeBlock(&rnd, 1 + rnd.Uniform(50), 16, rnd.OneIn(3) ? 300 : 40,
                                      rnd.OneIn(2) ? 16 : 1 + static_cast<int>(rnd.Uniform(4)));
    IterPair its(block, &icmp);
    for (int step = 0; step < 60; ++step) {
      const uint32_t op = rnd.Uniform(10);
      if (!its.whole->Valid() || op == 0) {
        switch (rnd.Uniform(3)) {
          case 0:
            its.lazy->SeekToFirst();
            its.whole->SeekToFirst();
            its.CheckSame("SeekToFirst");
            break;
          case 1:
            its.lazy->SeekToLast();
            its.whole->SeekToLast();
            its.CheckSame("SeekToLast");
            break;
          default: {
            const std::string target = SeekTarget(&rnd, block);
            its.lazy->Seek(target);
            its.whole->Seek(target);
            its.CheckSame("Seek");
          }
        }
      } else if (op < 3) {
        BOOST_REQUIRE_EQUAL(its.lazy->AtLast(), its.whole->AtLast());
        BOOST_REQUIRE_EQUAL(its.lazy->AtFirst(), its.whole->AtFirst());
        its.CheckSame("AtLast");
      } else if (op < 7) {
        its.lazy->Next();
        its.whole->Next();
        its.CheckSame("Next");
      } else {
        its.lazy->Prev();
        its.whole->Prev();
        its.CheckSame("Prev");
      }
    }
  }
}

// A whole forward walk (SeekToFirst, then Next while AtLast says more
// follow) sees every entry, and a block whose stream libsnappy refuses
// never ends cleanly: the walk reports Corruption where it meets the
// damage, and reads only bytes already decoded (ASan). The same for a
// block a scan decodes whole at once (LazyBlock::Reset's `whole`), whose
// stored bytes are freed before the walk: it never reads them again.
BOOST_DATA_TEST_CASE(ForwardWalksSeeEveryEntryAndEveryDamagedStream, bdata::make({false, true}),
                     whole) {
  const InternalKeyComparator icmp(BytewiseComparator());
  Random rnd(5);
  int clean = 0, damaged_streams = 0, corrupt_entries = 0;
  for (int i = 0; i < 3000; ++i) {
    const TestBlock block = MakeBlock(&rnd, 1 + rnd.Uniform(40), 16, 120, 16);
    std::string stream = block.compressed;
    bool raw_damaged = false;
    switch (rnd.Uniform(3)) {
      case 0:
        break;
      case 1:
        stream[rnd.Uniform(static_cast<uint32_t>(stream.size()))] ^=
            static_cast<char>(1 + rnd.Uniform(255));
        break;
      default: {
        std::string raw = block.raw;  // damage inside the decoded entries
        raw[rnd.Uniform(static_cast<uint32_t>(raw.size()))] ^= static_cast<char>(1 + rnd.Uniform(255));
        stream = Compress(raw);
        raw_damaged = true;
      }
    }
    const bool stream_valid = LibsnappyDecode(stream).has_value();
    std::unique_ptr<char[]> input(new char[stream.size()]);  // exactly sized: ASan sees overreads
    std::memcpy(input.get(), stream.data(), stream.size());
    LazyBlock lazy_block;
    if (!lazy_block.Reset(Slice(input.get(), stream.size()), 1u << 20, whole)) {
      BOOST_REQUIRE(!stream_valid);
      continue;
    }
    if (whole) {
      const SnappyStream& decoded = *lazy_block.stream();
      BOOST_REQUIRE(decoded.finished() || decoded.failed());
      input.reset();
    }
    BlockIter it(lazy_block.stream(), &icmp);
    size_t n = 0;
    for (it.SeekToFirst(); it.Valid(); it.Next()) {
      BOOST_REQUIRE_GE(it.key().size(), 8u);
      if (stream == block.compressed) {
        BOOST_REQUIRE(it.key() == block.entries[n].first);
        BOOST_REQUIRE(it.value() == block.entries[n].second);
      }
      ++n;
      if (it.AtLast()) {
        if (!it.status().ok()) break;
        it.Next();
        BOOST_REQUIRE(!it.Valid());
        break;
      }
    }
    if (stream == block.compressed) {
      BOOST_REQUIRE_MESSAGE(it.status().ok(), it.status().ToString());
      BOOST_REQUIRE_EQUAL(n, block.entries.size());
      ++clean;
    } else if (!stream_valid) {
      BOOST_REQUIRE(it.status().IsCorruption());
      ++damaged_streams;
    } else if (raw_damaged && !it.status().ok()) {
      ++corrupt_entries;
    }
  }
  BOOST_TEST(clean > 100);
  BOOST_TEST(damaged_streams > 20);
  BOOST_TEST(corrupt_entries > 20);
}

// A forward walk as TableIterator makes it: Next while AtLast says more
// follow. The entries seen, and the status it ends with.
std::vector<std::pair<std::string, std::string>> WalkForward(BlockIter* it, Status* status) {
  std::vector<std::pair<std::string, std::string>> seen;
  for (it->SeekToFirst(); it->Valid();) {
    seen.emplace_back(std::string(it->key()), std::string(it->value()));
    if (it->AtLast()) {
      if (it->status().ok()) it->Next();
      break;
    }
    it->Next();
  }
  *status = it->status();
  return seen;
}

// Damage inside a block's entries (its Snappy stream intact): the lazy
// walk sees what the walk over the whole block sees, and where that one
// ends in Corruption so does the lazy one (it may return entries the
// whole block's bound refuses first, never a clean end). Found by review:
// an entry running into the restart array was a clean end.
BOOST_AUTO_TEST_CASE(DamagedEntriesEndInCorruptionAsOverTheWholeBlock) {
  const InternalKeyComparator icmp(BytewiseComparator());
  Random rnd(77);
  int clean = 0, corrupt = 0;
  for (int i = 0; i < 4000; ++i) {
    const TestBlock block = MakeBlock(&rnd, 1 + rnd.Uniform(30), 16, rnd.OneIn(2) ? 20 : 200, 16);
    std::string raw = block.raw;
    const uint32_t restarts_at = static_cast<uint32_t>(
        raw.size() - 4 * (1 + DecodeFixed32(raw.data() + raw.size() - 4)));
    for (int k = 1 + rnd.Uniform(2); k > 0; --k) {
      raw[rnd.Uniform(restarts_at)] ^= static_cast<char>(1 << rnd.Uniform(8));
    }
    Result<Block> whole_block = Block::Parse(raw);
    BOOST_REQUIRE(whole_block.ok());  // the restart array is untouched
    BlockIter whole(&*whole_block, &icmp, /*internal_keys=*/true);
    Status whole_status;
    const auto whole_seen = WalkForward(&whole, &whole_status);

    LazyBlock lazy_block;
    BOOST_REQUIRE(lazy_block.Reset(Compress(raw), 1u << 30));
    BlockIter lazy(lazy_block.stream(), &icmp);
    Status lazy_status;
    const auto lazy_seen = WalkForward(&lazy, &lazy_status);
    if (whole_status.ok()) {
      BOOST_REQUIRE_MESSAGE(lazy_status.ok(), lazy_status.ToString());
      BOOST_REQUIRE(lazy_seen == whole_seen);
      ++clean;
    } else {
      BOOST_REQUIRE_MESSAGE(lazy_status.IsCorruption(),
                            "the whole block said " << whole_status.ToString() << "; the lazy walk ended "
                                                    << lazy_status.ToString() << " after "
                                                    << lazy_seen.size() << " entries");
      ++corrupt;
    }
  }
  BOOST_TEST(clean > 100);
  BOOST_TEST(corrupt > 100);
}

// A restart count that claims more restart points than the block has: an
// entry found by the front walk then lies past the restart array's start.
// AtLast and Prev (which read the restart array) report Corruption, never
// an invalid iterator with an OK status or a restart index out of range
// (an assert in debug and sanitizer builds). Found by review.
BOOST_AUTO_TEST_CASE(DamagedRestartCountIsCorruptionAtTheRestartArray) {
  const InternalKeyComparator icmp(BytewiseComparator());
  Random rnd(78);
  int corrupt = 0;
  for (int i = 0; i < 300; ++i) {
    const TestBlock block = MakeBlock(&rnd, 2 + rnd.Uniform(30), 16, 40, 16);
    std::string raw = block.raw;
    const uint32_t restarts = DecodeFixed32(raw.data() + raw.size() - 4);
    const uint32_t room = static_cast<uint32_t>(raw.size() / 4) - restarts - 1;  // still fits
    const uint32_t claimed = restarts + 1 + rnd.Uniform(std::max<uint32_t>(room, 1));
    EncodeFixed32(raw.data() + raw.size() - 4, claimed);
    const std::string stream = Compress(raw);
    for (const auto& [key, value] : block.entries) {
      for (int move = 0; move < 2; ++move) {
        LazyBlock lazy_block;
        BOOST_REQUIRE(lazy_block.Reset(stream, 1u << 30));
        BlockIter it(lazy_block.stream(), &icmp);
        it.Seek(key);
        BOOST_REQUIRE(it.Valid());  // the walk finds it before reading the restarts
        if (move == 0) {
          it.AtLast();
        } else {
          it.Prev();
        }
        if (!it.status().ok()) {
          BOOST_REQUIRE(it.status().IsCorruption());
          BOOST_REQUIRE(!it.Valid());
          ++corrupt;
        } else if (move == 0) {
          BOOST_REQUIRE(it.Valid());  // AtLast does not move
        }
      }
    }
  }
  BOOST_TEST(corrupt > 100);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::table

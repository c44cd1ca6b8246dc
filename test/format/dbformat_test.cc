#include "format/dbformat.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace corodb {
namespace {

std::string IKey(const std::string& user_key, SequenceNumber seq, ValueType type) {
  std::string encoded;
  AppendInternalKey(&encoded, ParsedInternalKey(user_key, seq, type));
  return encoded;
}

std::string Shorten(const std::string& start, const std::string& limit) {
  InternalKeyComparator cmp(BytewiseComparator());
  std::string result = start;
  cmp.FindShortestSeparator(&result, limit);
  return result;
}

std::string Successor(const std::string& key) {
  InternalKeyComparator cmp(BytewiseComparator());
  std::string result = key;
  cmp.FindShortSuccessor(&result);
  return result;
}

BOOST_AUTO_TEST_SUITE(DbFormatTest)

BOOST_AUTO_TEST_CASE(InternalKeyEncodingIsUserKeyThenPackedTag) {
  const std::string k = IKey("foo", 0x0102030405, kTypeValue);
  BOOST_TEST(k ==
             std::string("foo") + std::string("\x01\x05\x04\x03\x02\x01\x00\x00", 8));
  BOOST_TEST(InternalKeyEncodingLength(ParsedInternalKey("foo", 1, kTypeValue)) == 11u);
  BOOST_TEST(ExtractUserKey(k) == "foo");
}

BOOST_AUTO_TEST_CASE(EncodeParseRoundTripsKeysSequencesAndTypes) {
  const std::vector<std::string> keys = {"", "k", "hello", "longggggggggggggggggggggg",
                                         std::string("\0\xff", 2)};
  const std::vector<SequenceNumber> seqs = {
      0, 1, 2, 10, 1ull << 8, (1ull << 32) - 1, 1ull << 40, kMaxSequenceNumber};
  for (const auto& key : keys) {
    for (SequenceNumber seq : seqs) {
      for (ValueType type : {kTypeValue, kTypeDeletion}) {
        const std::string encoded = IKey(key, seq, type);
        ParsedInternalKey parsed;
        BOOST_REQUIRE(ParseInternalKey(encoded, &parsed));
        BOOST_TEST(parsed.user_key == key);
        BOOST_TEST(parsed.sequence == seq);
        BOOST_TEST(parsed.type == type);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(ParseRejectsShortKeysAndUnknownTypes) {
  ParsedInternalKey parsed;
  BOOST_TEST(!ParseInternalKey(Slice("1234567"), &parsed));
  BOOST_TEST(!ParseInternalKey(Slice(), &parsed));
  std::string bad = IKey("foo", 5, kTypeValue);
  bad[3] = 0x02;  // type byte
  BOOST_TEST(!ParseInternalKey(bad, &parsed));
  BOOST_TEST(ParseInternalKey(IKey("", 3, kTypeValue), &parsed));  // empty user key
  BOOST_TEST(parsed.user_key.empty());
}

BOOST_AUTO_TEST_CASE(OrdersByUserKeyThenNewestSequenceThenType) {
  InternalKeyComparator cmp(BytewiseComparator());
  // Expected order, smallest first.
  const std::vector<std::string> ordered = {
      IKey("a", 100, kTypeValue),     IKey("a", 99, kTypeValue),
      IKey("a", 99, kTypeDeletion),   IKey("a", 0, kTypeValue),
      IKey("a\x01", 200, kTypeValue), IKey("b", kMaxSequenceNumber, kTypeValue),
      IKey("b", 1, kTypeDeletion),    IKey("\xff", 5, kTypeValue)};
  for (size_t i = 0; i < ordered.size(); ++i) {
    for (size_t j = 0; j < ordered.size(); ++j) {
      const int r = cmp.Compare(ordered[i], ordered[j]);
      const int want = i < j ? -1 : (i > j ? 1 : 0);
      BOOST_TEST((r < 0 ? -1 : (r > 0 ? 1 : 0)) == want, "i=" << i << " j=" << j);
    }
  }
  BOOST_TEST(std::string(cmp.Name()) == "leveldb.BytewiseComparator");
}

BOOST_AUTO_TEST_CASE(ShortestSeparatorShortensOnlyWhenSafe) {
  // Same user key: unchanged.
  BOOST_TEST(Shorten(IKey("foo", 100, kTypeValue), IKey("foo", 99, kTypeValue)) ==
             IKey("foo", 100, kTypeValue));
  BOOST_TEST(Shorten(IKey("foo", 100, kTypeValue), IKey("foo", 101, kTypeValue)) ==
             IKey("foo", 100, kTypeValue));
  // Misordered user keys: unchanged.
  BOOST_TEST(Shorten(IKey("foo", 100, kTypeValue), IKey("bar", 99, kTypeValue)) ==
             IKey("foo", 100, kTypeValue));
  // Shortened: a short user key between them, tagged to sort first.
  BOOST_TEST(Shorten(IKey("foo", 100, kTypeValue), IKey("hello", 200, kTypeValue)) ==
             IKey("g", kMaxSequenceNumber, kValueTypeForSeek));
  // One user key a prefix of the other: unchanged.
  BOOST_TEST(Shorten(IKey("foo", 100, kTypeValue), IKey("foobar", 200, kTypeValue)) ==
             IKey("foo", 100, kTypeValue));
  BOOST_TEST(Shorten(IKey("foobar", 100, kTypeValue), IKey("foo", 200, kTypeValue)) ==
             IKey("foobar", 100, kTypeValue));
  // Adjacent bytes cannot be separated.
  BOOST_TEST(Shorten(IKey("fa", 1, kTypeValue), IKey("fb", 1, kTypeValue)) ==
             IKey("fa", 1, kTypeValue));
}

BOOST_AUTO_TEST_CASE(ShortSuccessorIsShortAndNotSmaller) {
  InternalKeyComparator cmp(BytewiseComparator());
  const std::string foo = IKey("foo", 100, kTypeValue);
  BOOST_TEST(Successor(foo) == IKey("g", kMaxSequenceNumber, kValueTypeForSeek));
  BOOST_TEST(cmp.Compare(foo, Successor(foo)) < 0);
  const std::string ff = IKey("\xff\xff", 100, kTypeValue);
  BOOST_TEST(Successor(ff) == ff);
}

BOOST_AUTO_TEST_CASE(LookupKeyExposesMemtableInternalAndUserKeys) {
  const LookupKey lk("user", 77);
  BOOST_TEST(lk.user_key() == "user");
  BOOST_TEST(lk.internal_key() == IKey("user", 77, kValueTypeForSeek));
  std::string memtable_key;
  PutVarint32(&memtable_key, 12);
  memtable_key += IKey("user", 77, kValueTypeForSeek);
  BOOST_TEST(lk.memtable_key() == memtable_key);
  // A user key of 200 bytes needs a two-byte varint prefix.
  const std::string big(200, 'z');
  const LookupKey lk2(big, 1);
  BOOST_TEST(lk2.memtable_key().size() == 2u + 208u);
  BOOST_TEST(lk2.user_key() == big);
}

BOOST_AUTO_TEST_CASE(InternalKeyClassRoundTripsAndPrintsDebugString) {
  InternalKey key("k\x01", 9, kTypeDeletion);
  BOOST_TEST(key.user_key() == "k\x01");
  InternalKey copy;
  BOOST_TEST(copy.empty());
  BOOST_TEST(copy.DecodeFrom(key.Encode()));
  BOOST_TEST(copy.Encode() == key.Encode());
  BOOST_TEST(key.DebugString() == "'k\\x01' @ 9 : 0");
}

// What a MANIFEST or table hands in is checked when decoded: the comparator
// reads the last 8 bytes of every key it is given.
BOOST_AUTO_TEST_CASE(InternalKeyDecodeRejectsShortKeysAndUnknownTypes) {
  InternalKey key;
  BOOST_TEST(!key.DecodeFrom("abc"));
  BOOST_TEST(key.empty());
  BOOST_TEST(!key.DecodeFrom(""));
  BOOST_TEST(!key.DecodeFrom(std::string(7, 'x')));
  std::string bad_type = IKey("user", 5, kTypeValue);
  bad_type[bad_type.size() - 8] = 0x07;
  BOOST_TEST(!key.DecodeFrom(bad_type));
  BOOST_TEST(key.empty());
  BOOST_TEST(key.DecodeFrom(IKey("", 1, kTypeDeletion)));  // an empty user key is fine
  BOOST_TEST(key.user_key() == "");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb

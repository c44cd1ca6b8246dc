#include "memtable/memtable.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "format/dbformat.h"

namespace corodb {
namespace {

std::shared_ptr<MemTable> NewMemTable() {
  static const InternalKeyComparator cmp(BytewiseComparator());
  return MemTable::Create(cmp);
}

// Looks `key` up at `seq`: "NOT_IN_MEMTABLE", "DELETED", or the value.
std::string Lookup(const MemTable& mem, const std::string& key, SequenceNumber seq) {
  std::string value;
  Status s;
  if (!mem.Get(LookupKey(key, seq), &value, &s)) return "NOT_IN_MEMTABLE";
  if (s.IsNotFound()) return "DELETED";
  BOOST_REQUIRE(s.ok());
  return value;
}

std::string IKey(const std::string& user_key, SequenceNumber seq, ValueType type) {
  std::string encoded;
  AppendInternalKey(&encoded, ParsedInternalKey(user_key, seq, type));
  return encoded;
}

BOOST_AUTO_TEST_SUITE(MemTableTest)

BOOST_AUTO_TEST_CASE(GetReturnsNewestVisibleVersionAndDeletions) {
  auto mem = NewMemTable();
  mem->Add(1, kTypeValue, "a", "a1");
  mem->Add(2, kTypeValue, "b", "b2");
  mem->Add(3, kTypeValue, "a", "a3");
  mem->Add(4, kTypeDeletion, "a", "");
  mem->Add(5, kTypeValue, "a", "a5");
  mem->Add(6, kTypeDeletion, "c", "");

  BOOST_TEST(Lookup(*mem, "a", 0) == "NOT_IN_MEMTABLE");
  BOOST_TEST(Lookup(*mem, "a", 1) == "a1");
  BOOST_TEST(Lookup(*mem, "a", 2) == "a1");
  BOOST_TEST(Lookup(*mem, "a", 3) == "a3");
  BOOST_TEST(Lookup(*mem, "a", 4) == "DELETED");
  BOOST_TEST(Lookup(*mem, "a", 5) == "a5");
  BOOST_TEST(Lookup(*mem, "a", kMaxSequenceNumber) == "a5");
  BOOST_TEST(Lookup(*mem, "b", 1) == "NOT_IN_MEMTABLE");
  BOOST_TEST(Lookup(*mem, "b", 100) == "b2");
  BOOST_TEST(Lookup(*mem, "c", 100) == "DELETED");
  BOOST_TEST(Lookup(*mem, "c", 5) == "NOT_IN_MEMTABLE");
  // Neighbours and prefixes are different keys.
  BOOST_TEST(Lookup(*mem, "", 100) == "NOT_IN_MEMTABLE");
  BOOST_TEST(Lookup(*mem, "aa", 100) == "NOT_IN_MEMTABLE");
  BOOST_TEST(Lookup(*mem, "d", 100) == "NOT_IN_MEMTABLE");
}

BOOST_AUTO_TEST_CASE(EmptyAndBinaryKeysAndValuesRoundTrip) {
  auto mem = NewMemTable();
  const std::string binary_key("\0\xff\x00k", 4);
  const std::string big_value(100000, 'v');
  mem->Add(1, kTypeValue, "", "empty-key");
  mem->Add(2, kTypeValue, binary_key, "");
  mem->Add(3, kTypeValue, "big", big_value);
  BOOST_TEST(Lookup(*mem, "", 10) == "empty-key");
  BOOST_TEST(Lookup(*mem, binary_key, 10) == "");
  BOOST_TEST(Lookup(*mem, "big", 10) == big_value);
}

BOOST_AUTO_TEST_CASE(IteratorWalksInternalKeysInOrder) {
  auto mem = NewMemTable();
  mem->Add(10, kTypeValue, "b", "b10");
  mem->Add(11, kTypeDeletion, "b", "");
  mem->Add(12, kTypeValue, "a", "a12");
  mem->Add(13, kTypeValue, "c", "c13");
  const std::vector<std::pair<std::string, std::string>> want = {
      {IKey("a", 12, kTypeValue), "a12"},
      {IKey("b", 11, kTypeDeletion), ""},
      {IKey("b", 10, kTypeValue), "b10"},
      {IKey("c", 13, kTypeValue), "c13"}};

  auto iter = mem->NewIterator();
  iter->SeekToFirst();
  for (const auto& [key, value] : want) {
    BOOST_REQUIRE(iter->Valid());
    BOOST_TEST(iter->key() == key);
    BOOST_TEST(iter->value() == value);
    iter->Next();
  }
  BOOST_TEST(!iter->Valid());

  iter->SeekToLast();
  for (auto it = want.rbegin(); it != want.rend(); ++it) {
    BOOST_REQUIRE(iter->Valid());
    BOOST_TEST(iter->key() == it->first);
    iter->Prev();
  }
  BOOST_TEST(!iter->Valid());

  // Seek to "b" as of sequence 10 skips the newer deletion.
  iter->Seek(IKey("b", 10, kValueTypeForSeek));
  BOOST_REQUIRE(iter->Valid());
  BOOST_TEST(iter->key() == IKey("b", 10, kTypeValue));
  iter->Seek(IKey("bb", kMaxSequenceNumber, kValueTypeForSeek));
  BOOST_REQUIRE(iter->Valid());
  BOOST_TEST(iter->key() == IKey("c", 13, kTypeValue));
  iter->Seek(IKey("d", kMaxSequenceNumber, kValueTypeForSeek));
  BOOST_TEST(!iter->Valid());
  BOOST_TEST(iter->status().ok());
}

BOOST_AUTO_TEST_CASE(IteratorKeepsMemTableAlive) {
  auto mem = NewMemTable();
  mem->Add(1, kTypeValue, "k", "v");
  auto iter = mem->NewIterator();
  std::weak_ptr<MemTable> weak = mem;
  mem.reset();
  BOOST_TEST(!weak.expired());
  iter->SeekToFirst();
  BOOST_REQUIRE(iter->Valid());
  BOOST_TEST(iter->value() == "v");
  iter.reset();
  BOOST_TEST(weak.expired());
}

BOOST_AUTO_TEST_CASE(MemoryUsageGrowsWithEntries) {
  auto mem = NewMemTable();
  const size_t empty = mem->ApproximateMemoryUsage();
  const std::string value(1000, 'x');
  for (int i = 0; i < 1000; ++i)
    mem->Add(i + 1, kTypeValue, "key" + std::to_string(i), value);
  BOOST_TEST(mem->ApproximateMemoryUsage() >= empty + 1000u * 1000u);
  BOOST_TEST(mem->ApproximateMemoryUsage() <= empty + 3u * 1000u * 1000u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb

#include "memtable/skiplist.h"

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "util/arena.h"
#include "util/random.h"

namespace corodb {
namespace {

using Key = uint64_t;

struct U64Comparator {
  int operator()(const Key& a, const Key& b) const {
    return a < b ? -1 : (a > b ? 1 : 0);
  }
};
using IntList = SkipList<Key, U64Comparator>;

// `n` distinct random 62-bit keys, in the order drawn.
std::vector<uint64_t> DistinctRandomKeys(size_t n, uint32_t seed) {
  Random rnd(seed);
  std::set<uint64_t> seen;
  std::vector<uint64_t> keys;
  while (keys.size() < n) {
    const uint64_t k = (static_cast<uint64_t>(rnd.Next()) << 31) | rnd.Next();
    if (seen.insert(k).second) keys.push_back(k);
  }
  return keys;
}

BOOST_AUTO_TEST_SUITE(SkipListTest)

BOOST_AUTO_TEST_CASE(EmptyListHasNothing) {
  Arena arena;
  IntList list(U64Comparator(), &arena);
  BOOST_TEST(!list.Contains(10));
  IntList::Iterator iter(&list);
  BOOST_TEST(!iter.Valid());
  iter.SeekToFirst();
  BOOST_TEST(!iter.Valid());
  iter.Seek(100);
  BOOST_TEST(!iter.Valid());
  iter.SeekToLast();
  BOOST_TEST(!iter.Valid());
}

BOOST_AUTO_TEST_CASE(InsertContainsAndIterateMatchStdSet) {
  constexpr int kN = 2000;
  constexpr Key kRange = 5000;
  Random rnd(1000);
  std::set<Key> model;
  Arena arena;
  IntList list(U64Comparator(), &arena);
  for (int i = 0; i < kN; ++i) {
    const Key key = rnd.Uniform(kRange);
    if (model.insert(key).second) list.Insert(key);
  }
  for (Key k = 0; k < kRange; ++k) {
    BOOST_REQUIRE_EQUAL(list.Contains(k), model.count(k) == 1);
  }

  // Forward iteration.
  IntList::Iterator iter(&list);
  iter.SeekToFirst();
  for (Key want : model) {
    BOOST_REQUIRE(iter.Valid());
    BOOST_REQUIRE_EQUAL(iter.key(), want);
    iter.Next();
  }
  BOOST_TEST(!iter.Valid());

  // Seek lands on the first key >= target.
  for (Key target = 0; target < kRange + 10; target += 7) {
    iter.Seek(target);
    auto it = model.lower_bound(target);
    if (it == model.end()) {
      BOOST_REQUIRE(!iter.Valid());
    } else {
      BOOST_REQUIRE(iter.Valid());
      BOOST_REQUIRE_EQUAL(iter.key(), *it);
    }
  }

  // Backward iteration.
  iter.SeekToLast();
  for (auto it = model.rbegin(); it != model.rend(); ++it) {
    BOOST_REQUIRE(iter.Valid());
    BOOST_REQUIRE_EQUAL(iter.key(), *it);
    iter.Prev();
  }
  BOOST_TEST(!iter.Valid());
}

// One writer inserts keys[0..n) in a random order and publishes the count of
// completed inserts; readers check, while it runs, that every published key is
// found, that iteration is strictly ascending, and that it never sees fewer
// keys than were published before it started.
BOOST_AUTO_TEST_CASE(ReadersSeeConsistentListWhileOneWriterInserts) {
  constexpr int kKeys = 20000;
  constexpr int kReaders = 3;
  const std::vector<Key> keys = DistinctRandomKeys(kKeys, 42);
  Arena arena;
  IntList list(U64Comparator(), &arena);
  std::atomic<int> published{0};
  std::atomic<bool> failed{false};
  std::atomic<int> reader_passes{0};

  auto reader = [&](uint32_t seed) {
    Random rnd(seed);
    while (!failed.load()) {
      const int n = published.load(std::memory_order_acquire);
      // Spot-check published keys.
      for (int i = 0; i < 50 && n > 0; ++i) {
        if (!list.Contains(keys[rnd.Uniform(static_cast<uint32_t>(n))]))
          failed.store(true);
      }
      // Full scan: ascending, and at least n entries.
      IntList::Iterator iter(&list);
      int count = 0;
      bool have_prev = false;
      Key prev = 0;
      for (iter.SeekToFirst(); iter.Valid(); iter.Next()) {
        if (have_prev && !(prev < iter.key())) failed.store(true);
        prev = iter.key();
        have_prev = true;
        ++count;
      }
      if (count < n) failed.store(true);
      reader_passes.fetch_add(1);
      if (n == kKeys) break;
    }
  };

  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) readers.emplace_back(reader, 100 + r);
  for (int i = 0; i < kKeys; ++i) {
    list.Insert(keys[i]);
    published.store(i + 1, std::memory_order_release);
  }
  for (auto& t : readers) t.join();
  BOOST_TEST(!failed.load());
  BOOST_TEST(reader_passes.load() >= kReaders);
  for (Key k : keys) BOOST_REQUIRE(list.Contains(k));
}

// Keys inserted with InsertInline live in their nodes. Each payload holds
// its key (8 bytes), its ~key (8), its size (4) and then a pattern of its
// key; sizes run from 20 bytes to past the arena's own-block threshold
// (1 KiB) and its block size (4 KiB). Readers racing the writer must find
// every published key whole (a payload is written before its node is
// published), by scans and by point lookups, in order; at the end every
// byte of every payload must be as written (no payload overlaps another).
struct InlineComparator {
  static uint64_t Decode(const char* p) {
    uint64_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
  int operator()(const char* a, const char* b) const {
    const uint64_t x = Decode(a), y = Decode(b);
    return x < y ? -1 : (x > y ? 1 : 0);
  }
};
using InlineList = SkipList<const char*, InlineComparator>;

constexpr uint32_t kInlineHeader = 20;

uint32_t InlinePayloadSize(uint64_t key) { return kInlineHeader + static_cast<uint32_t>(key % 5000); }

char InlinePatternByte(uint64_t key, uint32_t i) { return static_cast<char>((key >> (i % 56)) + i); }

// Whether `payload` holds `key`'s header; with `whole`, its pattern too.
bool InlinePayloadIntact(const char* payload, uint64_t key, bool whole) {
  uint32_t size;
  std::memcpy(&size, payload + 16, sizeof(size));
  if (InlineComparator::Decode(payload) != key || InlineComparator::Decode(payload + 8) != ~key ||
      size != InlinePayloadSize(key)) {
    return false;
  }
  for (uint32_t i = kInlineHeader; whole && i < size; ++i) {
    if (payload[i] != InlinePatternByte(key, i)) return false;
  }
  return true;
}

BOOST_AUTO_TEST_CASE(InlineKeysAreFoundWholeWhileOneWriterInserts) {
  constexpr int kKeys = 20000;
  const std::vector<uint64_t> keys = DistinctRandomKeys(kKeys, 7);
  Arena arena;
  InlineList list(InlineComparator(), &arena);
  std::atomic<int> published{0};
  std::atomic<bool> failed{false};

  auto scanner = [&] {
    for (;;) {
      const int n = published.load(std::memory_order_acquire);
      InlineList::Iterator iter(&list);
      int count = 0;
      uint64_t prev = 0;
      for (iter.SeekToFirst(); iter.Valid(); iter.Next()) {
        const uint64_t k = InlineComparator::Decode(iter.key());
        if (!InlinePayloadIntact(iter.key(), k, false)) failed.store(true);  // torn
        if (count > 0 && !(prev < k)) failed.store(true);
        prev = k;
        ++count;
      }
      if (count < n) failed.store(true);
      if (n == kKeys || failed.load()) break;
    }
  };
  auto prober = [&] {
    Random rnd(11);
    for (;;) {
      const int n = published.load(std::memory_order_acquire);
      for (int i = 0; i < 64 && n > 0; ++i) {
        const uint64_t k = keys[rnd.Uniform(static_cast<uint32_t>(n))];
        char probe[8];
        std::memcpy(probe, &k, sizeof(k));
        InlineList::Iterator iter(&list);
        iter.Seek(probe);
        if (!list.Contains(probe) || !iter.Valid() || !InlinePayloadIntact(iter.key(), k, false)) {
          failed.store(true);
        }
      }
      if (n == kKeys || failed.load()) break;
    }
  };
  std::thread scan(scanner);
  std::thread probe(prober);
  for (int i = 0; i < kKeys; ++i) {
    const uint64_t k = keys[i];
    const uint32_t size = InlinePayloadSize(k);
    list.InsertInline(size, [k, size](char* payload) -> const char* {
      const uint64_t inverse = ~k;
      std::memcpy(payload, &k, 8);
      std::memcpy(payload + 8, &inverse, 8);
      std::memcpy(payload + 16, &size, 4);
      for (uint32_t j = kInlineHeader; j < size; ++j) payload[j] = InlinePatternByte(k, j);
      return payload;
    });
    published.store(i + 1, std::memory_order_release);
  }
  scan.join();
  probe.join();
  BOOST_TEST(!failed.load());

  // Every key is found, every byte as written, in the model's order.
  std::set<uint64_t> model(keys.begin(), keys.end());
  InlineList::Iterator iter(&list);
  iter.SeekToFirst();
  for (const uint64_t want : model) {
    BOOST_REQUIRE(iter.Valid());
    BOOST_REQUIRE(InlinePayloadIntact(iter.key(), want, true));
    iter.Next();
  }
  BOOST_TEST(!iter.Valid());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb

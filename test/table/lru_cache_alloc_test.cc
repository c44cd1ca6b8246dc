// The sharded LRU cache when an allocation fails inside Insert: the cache
// is left as it was (no entry half inserted, usage equal to the charges of
// the resident entries). Its own executable: it replaces operator new
// (support/failing_new.h).
#include <new>

#include <boost/test/unit_test.hpp>

#include "support/failing_new.h"
#include "table/lru_cache.h"

namespace corodb::table {
namespace {

using Cache = ShardedLruCache<int>;

CacheKey K(uint64_t i) { return CacheKey{1, i}; }

BOOST_AUTO_TEST_SUITE(LruCacheAllocTest)

// rev4: HashTable::Add links the entry into its bucket and counts it before
// Grow allocates the bigger bucket array; when that allocation throws,
// InsertLocked has not yet added the charge or put the entry on a list, so
// a resident entry is left that usage does not count (evicting it later
// wraps usage below zero).
BOOST_AUTO_TEST_CASE(InsertWhoseTableGrowthFailsLeavesTheCacheAsItWas) {
  Cache cache(1000, /*num_shards=*/1);
  for (uint64_t i = 0; i < 16; ++i) cache.Insert(K(i), 1, 1).Reset();  // 16 buckets, full
  BOOST_REQUIRE(cache.Size() == 16u);
  BOOST_REQUIRE(cache.TotalCharge() == 16u);
  bool threw = false;
  test::FailAllocationAfter(1);  // the entry is allocated; the 32-bucket array is not
  try {
    Cache::Handle h = cache.Insert(K(16), 1, 1);
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  test::StopFailingAllocations();
  BOOST_REQUIRE(threw);
  BOOST_TEST(cache.Size() == cache.TotalCharge());
  BOOST_TEST(!cache.Lookup(K(16)));
  cache.Prune();
  BOOST_TEST(cache.Size() == 0u);
  BOOST_TEST(cache.TotalCharge() == 0u);  // not wrapped below zero
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::table

// The sharded LRU cache when an allocation fails inside Insert: the cache
// is left as it was (no entry half inserted, usage equal to the charges of
// the resident entries). Its own executable: it replaces operator new.
#include <cstdlib>
#include <new>

#include <boost/test/unit_test.hpp>

#include "table/lru_cache.h"

namespace {
// When > 0: the allocation that brings it to 0 throws bad_alloc.
thread_local int fail_in = 0;
}  // namespace

void* operator new(std::size_t n) {
  if (fail_in > 0 && --fail_in == 0) throw std::bad_alloc();
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return ::operator new(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept {
  return ::operator new(n, t);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

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
  fail_in = 2;  // the entry is allocated; the 32-bucket array is not
  try {
    Cache::Handle h = cache.Insert(K(16), 1, 1);
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  fail_in = 0;
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

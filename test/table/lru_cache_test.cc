// The sharded LRU cache: capacity, eviction order, pinning, single flight.
#include "table/lru_cache.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

namespace corodb::table {
namespace {

namespace asio = boost::asio;

// Counts live values, to observe when the cache destroys them.
struct Tracked {
  static inline std::atomic<int> live{0};
  int v;
  explicit Tracked(int x) : v(x) { ++live; }
  Tracked(Tracked&& o) noexcept : v(o.v) { ++live; }
  ~Tracked() { --live; }
};

using Cache = ShardedLruCache<Tracked>;

CacheKey K(uint64_t i) { return CacheKey{1, i}; }

BOOST_AUTO_TEST_SUITE(LruCacheTest)

BOOST_AUTO_TEST_CASE(EvictionKeepsUsageWithinCapacityAndDropsLeastRecentlyUsed) {
  {
    Cache cache(10, 1);
    for (uint64_t i = 0; i < 10; ++i) cache.Insert(K(i), Tracked(int(i)), 1).Reset();
    BOOST_TEST(cache.TotalCharge() == 10u);
    // Touch 0 so that 1 is now the least recently used.
    BOOST_TEST(static_cast<bool>(cache.Lookup(K(0))));
    cache.Insert(K(10), Tracked(10), 1).Reset();
    BOOST_TEST(cache.TotalCharge() == 10u);
    BOOST_TEST(static_cast<bool>(cache.Lookup(K(0))));
    BOOST_TEST(!cache.Lookup(K(1)));
    for (uint64_t i = 11; i < 100; ++i) {
      cache.Insert(K(i), Tracked(int(i)), 1).Reset();
      BOOST_REQUIRE(cache.TotalCharge() <= 10u);
    }
    BOOST_TEST(Tracked::live.load() == 10);
    // Byte charges: one big entry pushes out several small ones.
    cache.Insert(K(1000), Tracked(1000), 7).Reset();
    BOOST_TEST(cache.TotalCharge() <= 10u);
    BOOST_TEST(cache.Size() <= 4u);
    BOOST_TEST(cache.Lookup(K(1000))->v == 1000);
  }
  BOOST_TEST(Tracked::live.load() == 0);
}

// The shard's hash table grows from 16 buckets as entries arrive, and an
// erase unlinks from the middle of bucket chains: every resident key is
// found with its own value, every erased one is gone, nothing leaks.
BOOST_AUTO_TEST_CASE(EntriesStayFindableAsTheTableGrowsAndShrinks) {
  const int before = Tracked::live.load();
  {
    Cache cache(1 << 20, 4);
    constexpr int kN = 20000;
    for (int i = 0; i < kN; ++i) {
      cache.Insert(CacheKey{uint64_t(i % 7), uint64_t(i)}, Tracked(i), 1).Reset();
    }
    BOOST_TEST(cache.Size() == size_t(kN));
    for (int i = 0; i < kN; i += 3) cache.Erase(CacheKey{uint64_t(i % 7), uint64_t(i)});
    int wrong = 0;
    for (int i = 0; i < kN; ++i) {
      Cache::Handle h = cache.Lookup(CacheKey{uint64_t(i % 7), uint64_t(i)});
      if (i % 3 == 0 ? static_cast<bool>(h) : (!h || h->v != i)) ++wrong;
      // The same offset under another id is another key.
      if (cache.Lookup(CacheKey{uint64_t(i % 7) + 100, uint64_t(i)})) ++wrong;
    }
    BOOST_TEST(wrong == 0);
    BOOST_TEST(cache.Size() == size_t(kN - (kN + 2) / 3));
    BOOST_TEST(Tracked::live.load() == before + kN - (kN + 2) / 3);
  }
  BOOST_TEST(Tracked::live.load() == before);
}

BOOST_AUTO_TEST_CASE(ShardCapacitiesSumToTheTotal) {
  Cache cache(37, 16);
  for (uint64_t i = 0; i < 1000; ++i) cache.Insert(K(i), Tracked(1), 1).Reset();
  BOOST_TEST(cache.TotalCharge() <= 37u);
  BOOST_TEST(cache.TotalCharge() >= 30u);
}

// Admit(): yes while the shard has room; once it is full, a key is declined
// on its first miss and admitted on its second.
BOOST_AUTO_TEST_CASE(FullShardAdmitsAKeyOnlyOnItsSecondMiss) {
  Cache cache(8, 1, 1);
  for (uint64_t i = 0; i < 8; ++i) {
    BOOST_TEST(cache.Admit(K(i), 1), "a shard with room declined key " << i);
    cache.Insert(K(i), Tracked(int(i)), 1).Reset();
  }
  BOOST_TEST(cache.Counts().declined == 0u);
  BOOST_TEST(!cache.Admit(K(100), 1));
  BOOST_TEST(cache.Counts().declined == 1u);
  BOOST_TEST(!cache.Admit(K(101), 1));
  BOOST_TEST(cache.Admit(K(100), 1), "the second miss of a key was declined");
  BOOST_TEST(cache.Admit(K(101), 1));
  // Admission spends the record: a third miss starts over.
  BOOST_TEST(!cache.Admit(K(100), 1));
  BOOST_TEST(cache.Counts().declined == 3u);
  // Admit only answers; the cache itself is unchanged.
  BOOST_TEST(cache.Size() == 8u);
  BOOST_TEST(!cache.Lookup(K(100)));
}

// Erasing entries gives the shard room again: every key is admitted.
BOOST_AUTO_TEST_CASE(ShardWithRoomAgainAdmitsEveryKey) {
  Cache cache(4, 1, 1);
  for (uint64_t i = 0; i < 4; ++i) cache.Insert(K(i), Tracked(int(i)), 1).Reset();
  BOOST_TEST(!cache.Admit(K(50), 1));
  cache.Erase(K(0));
  BOOST_TEST(cache.Admit(K(60), 1));
  cache.Insert(K(60), Tracked(60), 1).Reset();
  BOOST_TEST(!cache.Admit(K(70), 1));
  cache.Prune();
  BOOST_TEST(cache.Admit(K(70), 1));
}

// A stream of distinct keys (a scan) through a full cache that admits as
// Admit says leaves it exactly as it was, while keys that come back while
// their record is fresh get in.
BOOST_AUTO_TEST_CASE(ScanOfDistinctKeysLeavesAFullCacheAsItWas) {
  Cache cache(64, 4, 1);
  // Enough keys that every shard is full (the hash spreads them unevenly).
  for (uint64_t i = 0; i < 1000; ++i) cache.Insert(K(i), Tracked(int(i)), 1).Reset();
  BOOST_REQUIRE(cache.Size() == 64u);
  std::vector<uint64_t> resident;
  for (uint64_t i = 0; i < 1000; ++i) {
    if (cache.Lookup(K(i))) resident.push_back(i);
  }
  BOOST_REQUIRE(resident.size() == 64u);
  uint64_t inserted = 0;
  for (uint64_t i = 10000; i < 10000 + 5000; ++i) {
    if (cache.Admit(K(i), 1)) {
      cache.Insert(K(i), Tracked(int(i)), 1).Reset();
      ++inserted;
    }
  }
  BOOST_TEST(inserted == 0u);
  for (uint64_t i : resident) BOOST_TEST(static_cast<bool>(cache.Lookup(K(i))));
  // A small set read over and over is admitted on its second round.
  for (int round = 0; round < 2; ++round) {
    for (uint64_t i = 90000; i < 90008; ++i) {
      if (cache.Admit(K(i), 1)) cache.Insert(K(i), Tracked(int(i)), 1).Reset();
    }
  }
  for (uint64_t i = 90000; i < 90008; ++i) {
    BOOST_TEST(static_cast<bool>(cache.Lookup(K(i))), "key " << i << " was never admitted");
  }
}

// Keys that share a set of the recent-miss table are both remembered.
BOOST_AUTO_TEST_CASE(TwoKeysOfOneSetAreBothAdmittedOnTheirSecondMiss) {
  Cache cache(1, 1, 1);  // 64 slots: 32 sets
  cache.Insert(K(0), Tracked(0), 1).Reset();
  // Find two keys whose first Admit lands in the same set: after one key is
  // declined, the next key of its set is the one whose second miss would
  // fail in a direct-mapped table. Probe pairs until one set holds both.
  std::vector<uint64_t> set_of(200);
  for (uint64_t i = 0; i < 200; ++i) {
    set_of[i] = (CacheKeyHash()(K(1000 + i)) >> 8) & 63;  // one slot of a direct-mapped table
  }
  uint64_t a = 0, b = 0;
  for (uint64_t i = 0; i < 200 && b == 0; ++i) {
    for (uint64_t j = i + 1; j < 200; ++j) {
      if (set_of[i] == set_of[j]) {
        a = 1000 + i;
        b = 1000 + j;
        break;
      }
    }
  }
  BOOST_REQUIRE(b != 0);
  BOOST_TEST(!cache.Admit(K(a), 1));
  BOOST_TEST(!cache.Admit(K(b), 1));
  BOOST_TEST(cache.Admit(K(a), 1));
  BOOST_TEST(cache.Admit(K(b), 1));
}

// A set that already holds two older tags still remembers two new keys
// that alternate in it (the newest tags replace the oldest).
BOOST_AUTO_TEST_CASE(AlternatingKeysOfAFullSetAreAdmitted) {
  Cache cache(1, 1, 1);  // 64 slots: 32 sets of two
  cache.Insert(K(0), Tracked(0), 1).Reset();
  // Four keys of one set whose tags agree in every bit but the top ones (a
  // rule that picked a slot by a tag bit would put all four in one slot).
  std::vector<uint64_t> same_set;
  const size_t hash0 = CacheKeyHash()(K(1000));
  for (uint64_t i = 1000; i < 1000000 && same_set.size() < 4; ++i) {
    const size_t h = CacheKeyHash()(K(i));
    if (((h >> 8) & 62) == ((hash0 >> 8) & 62) && ((h >> 32) & 0xff) == ((hash0 >> 32) & 0xff)) {
      same_set.push_back(i);
    }
  }
  BOOST_REQUIRE(same_set.size() == 4u);
  // Two other keys fill the set first.
  BOOST_TEST(!cache.Admit(K(same_set[2]), 1));
  BOOST_TEST(!cache.Admit(K(same_set[3]), 1));
  const uint64_t a = same_set[0], b = same_set[1];
  BOOST_TEST(!cache.Admit(K(a), 1));
  BOOST_TEST(!cache.Admit(K(b), 1));
  BOOST_TEST(cache.Admit(K(a), 1), "a key alternating with another was never admitted");
  BOOST_TEST(cache.Admit(K(b), 1));
}

// Admit races Insert, Erase, Lookup and Prune on other threads (the rule
// reads relaxed atomics; TSan checks there is no other sharing): the
// cache stays within its capacity and every value found is its key's.
BOOST_AUTO_TEST_CASE(AdmitRacesInsertEraseAndPruneFromFourThreads) {
  Cache cache(64, 4, 1);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, &wrong, t] {
      for (uint64_t i = 0; i < 20000; ++i) {
        const uint64_t k = (i * 7919 + static_cast<uint64_t>(t) * 104729) % 500;
        if (Cache::Handle h = cache.Lookup(K(k))) {
          if (h->v != static_cast<int>(k)) ++wrong;
        } else if (cache.Admit(K(k), 1)) {
          cache.Insert(K(k), Tracked(static_cast<int>(k)), 1).Reset();
        }
        if (i % 997 == 0) cache.Erase(K(k));
        if (t == 0 && i % 4999 == 0) cache.Prune();
      }
    });
  }
  for (std::thread& th : threads) th.join();
  BOOST_TEST(wrong.load() == 0);
  BOOST_TEST(cache.TotalCharge() <= 64u);
  BOOST_TEST(cache.Counts().declined > 0u);
}

BOOST_AUTO_TEST_CASE(PinnedEntriesSurviveEvictionUntilReleased) {
  Cache cache(4, 1);
  Cache::Handle pinned = cache.Insert(K(0), Tracked(42), 1);
  for (uint64_t i = 1; i < 50; ++i) cache.Insert(K(i), Tracked(int(i)), 1).Reset();
  BOOST_TEST(pinned.value().v == 42);
  BOOST_TEST(cache.Lookup(K(0))->v == 42);  // still resident: pinned entries are not evicted
  // A pinned entry larger than the whole cache is kept while pinned...
  Cache::Handle big = cache.Insert(K(100), Tracked(100), 100);
  BOOST_TEST(big.value().v == 100);
  BOOST_TEST(cache.TotalCharge() >= 101u);
  // ...and evicted as soon as it is released, since the cache is over capacity.
  big.Reset();
  BOOST_TEST(!cache.Lookup(K(100)));
  BOOST_TEST(cache.TotalCharge() <= 4u);
  pinned.Reset();
  for (uint64_t i = 200; i < 210; ++i) cache.Insert(K(i), Tracked(0), 1).Reset();
  BOOST_TEST(!cache.Lookup(K(0)));
}

BOOST_AUTO_TEST_CASE(ErasedPinnedEntryLivesUntilItsLastHandleGoes) {
  Cache cache(10, 1);
  const int before = Tracked::live.load();
  Cache::Handle a = cache.Insert(K(5), Tracked(5), 1);
  Cache::Handle b = cache.Lookup(K(5));
  cache.Erase(K(5));
  BOOST_TEST(!cache.Lookup(K(5)));
  BOOST_TEST(cache.TotalCharge() == 0u);
  BOOST_TEST(a.value().v == 5);
  a.Reset();
  BOOST_TEST(Tracked::live.load() == before + 1);
  BOOST_TEST(b.value().v == 5);
  b.Reset();
  BOOST_TEST(Tracked::live.load() == before);
  // Replacement behaves the same way.
  Cache::Handle old = cache.Insert(K(6), Tracked(1), 1);
  cache.Insert(K(6), Tracked(2), 1).Reset();
  BOOST_TEST(old.value().v == 1);
  BOOST_TEST(cache.Lookup(K(6))->v == 2);
}

// A loader that takes a while (a timer) and counts its calls.
struct SlowLoader {
  std::atomic<int>* calls;
  int value;
  bool fail;
  asio::awaitable<Result<Loaded<Tracked>>> operator()() const { return Load(calls, value, fail); }
  static asio::awaitable<Result<Loaded<Tracked>>> Load(std::atomic<int>* calls, int value, bool fail) {
    calls->fetch_add(1);
    asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(20));
    co_await timer.async_wait(asio::use_awaitable);
    if (fail) co_return Status::IOError("disk on fire");
    co_return Loaded<Tracked>{Tracked(value), 1};
  }
};

asio::awaitable<void> GetValue(Cache* cache, uint64_t key, SlowLoader loader, std::atomic<int>* sum,
                               std::atomic<int>* errors) {
  Result<Cache::Handle> h = co_await cache->LookupOrLoad(K(key), loader);
  if (!h.ok()) {
    errors->fetch_add(1);
    co_return;
  }
  sum->fetch_add(h->value().v);
}

void Rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

BOOST_AUTO_TEST_CASE(ConcurrentMissesShareOneLoad) {
  Cache cache(100, 4);
  std::atomic<int> calls{0}, sum{0}, errors{0};
  asio::io_context ctx;
  for (int i = 0; i < 50; ++i) {
    asio::co_spawn(ctx, GetValue(&cache, 7, SlowLoader{&calls, 3, false}, &sum, &errors), Rethrow);
  }
  ctx.run();
  BOOST_TEST(calls.load() == 1);
  BOOST_TEST(sum.load() == 150);
  BOOST_TEST(errors.load() == 0);
  BOOST_TEST(cache.Lookup(K(7))->v == 3);
}

BOOST_AUTO_TEST_CASE(ConcurrentMissesFromTwoThreadsShareOneLoad) {
  Cache cache(100, 4);
  std::atomic<int> calls{0}, sum{0}, errors{0};
  asio::io_context a, b;
  for (int i = 0; i < 20; ++i) {
    asio::co_spawn(a, GetValue(&cache, 9, SlowLoader{&calls, 1, false}, &sum, &errors), Rethrow);
    asio::co_spawn(b, GetValue(&cache, 9, SlowLoader{&calls, 1, false}, &sum, &errors), Rethrow);
  }
  std::thread tb([&] { b.run(); });
  a.run();
  tb.join();
  BOOST_TEST(calls.load() == 1);
  BOOST_TEST(sum.load() == 40);
  BOOST_TEST(errors.load() == 0);
}

BOOST_AUTO_TEST_CASE(FailedLoadReachesEveryWaiterAndIsNotCached) {
  Cache cache(100, 1);
  std::atomic<int> calls{0}, sum{0}, errors{0};
  asio::io_context ctx;
  for (int i = 0; i < 10; ++i) {
    asio::co_spawn(ctx, GetValue(&cache, 1, SlowLoader{&calls, 5, true}, &sum, &errors), Rethrow);
  }
  ctx.run();
  BOOST_TEST(calls.load() == 1);
  BOOST_TEST(errors.load() == 10);
  BOOST_TEST(!cache.Lookup(K(1)));
  ctx.restart();
  asio::co_spawn(ctx, GetValue(&cache, 1, SlowLoader{&calls, 5, false}, &sum, &errors), Rethrow);
  ctx.run();
  BOOST_TEST(calls.load() == 2);
  BOOST_TEST(sum.load() == 5);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::table

// ShardedLruCache<V>: a thread-safe LRU cache keyed by (id, offset) pairs,
// with byte (or unit) charges, RAII handles that pin entries, and
// single-flight loading for coroutines.
//
// The block cache keys blocks by (table id, block offset) and charges their
// memory; the table cache keys open tables by (file number, 0) and charges 1.
//
// Semantics:
// - Insert() makes an entry resident and pins it for the returned handle. An
//   entry that is not pinned sits on its shard's LRU list; when the shard's
//   usage exceeds its capacity, the least recently used unpinned entries are
//   destroyed. Pinned entries are never destroyed: they count towards usage
//   and survive until their last handle is released (then, if still over
//   capacity, they are evicted at once).
// - Erase() and replacement by Insert() make an entry non-resident at once;
//   if pinned, its value lives on until the last handle is released.
// - LookupOrLoad(): when several coroutines (on any executors) miss the same
//   key while it is being loaded, only the first runs the loader; the others
//   wait and receive a handle to the loaded entry (or its error).
// - Admit() is the admission rule for callers that may keep a missed value
//   without caching it (the block cache's synchronous reads): yes while the
//   key's shard has room for it; once it is full, yes only for a key that missed
//   before among the shard's recent misses (a two-way set-associative table
//   of key tags: twice as many slots as the shard holds entries of
//   `admission_unit` charge, at least 64, a power of two; a third key in a
//   set forgets the oldest). A value read once is then
//   not cached and evicts nothing: a scan, or uniform random reads over
//   far more than the cache holds, stop churning it, while a value missed
//   twice within that window is cached from its second miss on.
//   Insert() itself always inserts.
//
// Invariants / thread safety: every method may be called from any thread.
// Each shard has one mutex guarding its table, lists, usage and pin counts;
// it is never held across a co_await, and values are destroyed outside it.
// Admit() takes no lock: it reads a relaxed copy of the shard's usage and
// relaxed tags, so racing callers may both admit or both decline a key
// (an admission rule may be approximate; the cache's state is never torn).
// `usage` is the sum of the charges of resident entries. An entry is in the
// shard's hash table iff it is resident; it is on the LRU list iff resident
// and unpinned, on the in-use list iff resident and pinned, and on the
// orphans list iff non-resident and pinned. The cache must outlive its
// handles and finish its loads before it is destroyed.
//
// The hash table and the lists are intrusive (an entry is one allocation),
// and entries leaving a shard are chained for destruction after its mutex is
// released, so a lookup, an insert and an eviction allocate nothing but the
// inserted entry itself.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "corodb/status.h"
#include "corodb/result.h"

namespace corodb::table {

struct CacheKey {
  uint64_t id = 0;      // table id (block cache) or file number (table cache)
  uint64_t offset = 0;  // block offset (block cache); 0 in the table cache
  bool operator==(const CacheKey&) const = default;
};

struct CacheKeyHash {
  size_t operator()(const CacheKey& k) const {
    // A 64-bit finalizer mix of both halves, so shards and buckets spread well.
    uint64_t h = k.id * 0x9e3779b97f4a7c15ull ^ (k.offset + 0x632be59bd9b4e019ull);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return static_cast<size_t>(h);
  }
};

// What a loader produces: the value and its charge.
template <typename V>
struct Loaded {
  V value;
  size_t charge;
};

template <typename V>
class ShardedLruCache {
  struct Links {
    Links* prev = this;
    Links* next = this;
  };
  struct Entry : Links {
    Entry(const CacheKey& k, size_t h, V v, size_t c)
        : key(k), hash(h), value(std::move(v)), charge(c) {}
    CacheKey key;
    size_t hash;  // CacheKeyHash of key
    V value;
    size_t charge;
    uint32_t pins = 0;
    bool resident = true;
    // The next entry of its hash bucket while resident; of its Doomed list
    // once it has left the shard.
    Entry* chain = nullptr;
  };
  // Entries taken out of a shard under its mutex; the destructor destroys
  // them (and their values), after the mutex is released: declare it before
  // the lock guard.
  class Doomed {
   public:
    Doomed() = default;
    Doomed(const Doomed&) = delete;
    Doomed& operator=(const Doomed&) = delete;
    ~Doomed() {
      while (head_ != nullptr) delete std::exchange(head_, head_->chain);
    }
    void Add(Entry* e) { e->chain = std::exchange(head_, e); }

   private:
    Entry* head_ = nullptr;
  };
  // Resident entries by key: chained buckets, a power of two of them, at
  // most one entry per bucket on average. Bucket bits are taken from the
  // top of the hash, since the low bits choose the shard.
  class HashTable {
   public:
    HashTable() : buckets_(16, nullptr) {}
    HashTable(const HashTable&) = delete;
    HashTable& operator=(const HashTable&) = delete;
    ~HashTable() {
      for (Entry* head : buckets_) {
        while (head != nullptr) delete std::exchange(head, head->chain);
      }
    }
    size_t size() const { return size_; }
    Entry* Find(const CacheKey& key, size_t hash) const {
      Entry* e = buckets_[Bucket(hash)];
      while (e != nullptr && !(e->hash == hash && e->key == key)) e = e->chain;
      return e;
    }
    // REQUIRES: no entry with e's key is in the table. On bad_alloc (from
    // growing) the table is unchanged and `e` not linked.
    void Add(Entry* e) {
      if (size_ + 1 > buckets_.size()) Grow();
      Entry*& head = buckets_[Bucket(e->hash)];
      e->chain = std::exchange(head, e);
      ++size_;
    }
    // Takes the entry for `key` out of the table; nullptr when absent.
    Entry* Remove(const CacheKey& key, size_t hash) {
      Entry** slot = &buckets_[Bucket(hash)];
      while (*slot != nullptr && !((*slot)->hash == hash && (*slot)->key == key)) {
        slot = &(*slot)->chain;
      }
      Entry* e = *slot;
      if (e != nullptr) {
        *slot = e->chain;
        e->chain = nullptr;
        --size_;
      }
      return e;
    }

   private:
    size_t Bucket(size_t hash) const { return std::rotr(hash, 32) & (buckets_.size() - 1); }
    void Grow() {
      std::vector<Entry*> old(buckets_.size() * 2, nullptr);
      old.swap(buckets_);
      for (Entry* head : old) {
        while (head != nullptr) {
          Entry* e = std::exchange(head, head->chain);
          Entry*& slot = buckets_[Bucket(e->hash)];
          e->chain = std::exchange(slot, e);
        }
      }
    }

    std::vector<Entry*> buckets_;
    size_t size_ = 0;
  };
  struct Shard;
  class LoadGuard;

 public:
  // A pin on one entry. Empty when default-constructed or moved from.
  class Handle {
   public:
    Handle() = default;
    Handle(Handle&& other) noexcept
        : shard_(std::exchange(other.shard_, nullptr)), entry_(std::exchange(other.entry_, nullptr)) {}
    Handle& operator=(Handle&& other) noexcept {
      if (this != &other) {
        Reset();
        shard_ = std::exchange(other.shard_, nullptr);
        entry_ = std::exchange(other.entry_, nullptr);
      }
      return *this;
    }
    ~Handle() { Reset(); }

    explicit operator bool() const { return entry_ != nullptr; }
    // Another pin on the same entry (empty when this handle is).
    Handle Clone() const {
      if (entry_ == nullptr) return {};
      std::lock_guard lock(shard_->mu);
      return shard_->PinLocked(entry_);
    }
    // REQUIRES: not empty.
    const V& value() const { return entry_->value; }
    const V* operator->() const { return &entry_->value; }
    const CacheKey& key() const { return entry_->key; }
    // Unpins now (destroying the value if it was evicted or erased meanwhile).
    void Reset() {
      if (entry_ != nullptr) std::exchange(shard_, nullptr)->Unpin(std::exchange(entry_, nullptr));
    }

   private:
    friend class ShardedLruCache;
    friend struct Shard;
    friend class LoadGuard;
    Handle(Shard* shard, Entry* entry) : shard_(shard), entry_(entry) {}
    Shard* shard_ = nullptr;
    Entry* entry_ = nullptr;
  };

  // `capacity` is split evenly over `num_shards` (>= 1) shards, so the sum
  // of the shard capacities is exactly `capacity`. `admission_unit` is the
  // typical charge of an entry, which sizes Admit()'s table of recent
  // misses (a table block's 4 KiB by default).
  explicit ShardedLruCache(size_t capacity, size_t num_shards = 16,
                           size_t admission_unit = 4096)
      : capacity_(capacity), shards_(std::max<size_t>(num_shards, 1)) {
    for (size_t i = 0; i < shards_.size(); ++i) {
      Shard& s = shards_[i];
      s.capacity = capacity / shards_.size() + (i < capacity % shards_.size() ? 1 : 0);
      const size_t entries = s.capacity / std::max<size_t>(admission_unit, 1);
      const size_t slots = std::bit_ceil(std::max<size_t>(2 * entries, kMinRecentMisses));
      s.recent_misses = std::make_unique<std::atomic<uint32_t>[]>(slots);
      s.recent_mask = slots - 1;
    }
  }
  ShardedLruCache(const ShardedLruCache&) = delete;
  ShardedLruCache& operator=(const ShardedLruCache&) = delete;

  // A fresh id for a new user of the key space (e.g. each opened table).
  uint64_t NewId() { return next_id_.fetch_add(1, std::memory_order_relaxed) + 1; }

  // Returns a pinned handle, or an empty one when `key` is not resident.
  // Never suspends.
  Handle Lookup(const CacheKey& key) {
    const size_t hash = CacheKeyHash()(key);
    Shard& s = ShardFor(hash);
    std::lock_guard lock(s.mu);
    Entry* e = s.table.Find(key, hash);
    if (e == nullptr) {
      ++s.misses;
      return {};
    }
    ++s.hits;
    return s.PinLocked(e);
  }

  // Whether a value for `key`, which just missed and would be charged about
  // `charge`, should be inserted (see Admit() above): true while the key's
  // shard has room for it, or when the key missed recently (its tag is then
  // cleared); otherwise records the miss and returns false. Never blocks.
  bool Admit(const CacheKey& key, size_t charge) {
    const size_t hash = CacheKeyHash()(key);
    Shard& s = ShardFor(hash);
    if (s.usage_hint.load(std::memory_order_relaxed) + charge <= s.capacity) return true;
    // Two-way sets: a pair of slots chosen by bits above the shard's, tags
    // from the other half of the hash; a zero tag marks an empty slot, so
    // tags are odd. Slot 0 holds the newer tag: a new one moves it to slot
    // 1 (forgetting the older), so two keys that share a set are both
    // remembered whatever the set held before.
    const size_t set = (hash >> 8) & s.recent_mask & ~size_t{1};
    std::atomic<uint32_t>* pair = &s.recent_misses[set];
    const uint32_t tag = static_cast<uint32_t>(hash >> 32) | 1u;
    for (int way = 0; way < 2; ++way) {
      if (pair[way].load(std::memory_order_relaxed) == tag) {
        pair[way].store(0, std::memory_order_relaxed);
        return true;
      }
    }
    pair[1].store(pair[0].load(std::memory_order_relaxed), std::memory_order_relaxed);
    pair[0].store(tag, std::memory_order_relaxed);
    s.declined.fetch_add(1, std::memory_order_relaxed);
    return false;
  }

  // Makes `value` resident under `key` (replacing an older entry) and returns
  // it pinned. May evict unpinned entries to make room.
  Handle Insert(const CacheKey& key, V value, size_t charge) {
    const size_t hash = CacheKeyHash()(key);
    Shard& s = ShardFor(hash);
    Doomed doomed;
    Handle h;
    {
      std::lock_guard lock(s.mu);
      h = s.InsertLocked(key, hash, std::move(value), charge, &doomed);
    }
    return h;  // `doomed` values are destroyed here, outside the lock
  }

  // Makes the entry for `key` non-resident (destroyed once unpinned).
  void Erase(const CacheKey& key) {
    const size_t hash = CacheKeyHash()(key);
    Shard& s = ShardFor(hash);
    Doomed doomed;
    std::lock_guard lock(s.mu);
    s.EraseLocked(key, hash, &doomed);
  }

  // Destroys every resident entry that is not pinned.
  void Prune() {
    for (Shard& s : shards_) {
      Doomed doomed;
      std::lock_guard lock(s.mu);
      while (s.lru.next != &s.lru) s.EvictOldestLocked(&doomed);
    }
  }

  // Sum of the charges of resident entries (pinned ones included).
  size_t TotalCharge() const {
    size_t total = 0;
    for (const Shard& s : shards_) {
      std::lock_guard lock(s.mu);
      total += s.usage;
    }
    return total;
  }
  // Number of resident entries.
  size_t Size() const {
    size_t total = 0;
    for (const Shard& s : shards_) {
      std::lock_guard lock(s.mu);
      total += s.table.size();
    }
    return total;
  }
  size_t capacity() const { return capacity_; }
  // Lookups that found their key resident, and lookups that did not (a
  // LookupOrLoad counts once per load; its waiters for the same load are
  // counted in neither).
  // `declined`: Admit() calls that returned false.
  struct HitCounts {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t declined = 0;
  };
  HitCounts Counts() const {
    HitCounts c;
    for (const Shard& s : shards_) {
      std::lock_guard lock(s.mu);
      c.hits += s.hits;
      c.misses += s.misses;
      c.declined += s.declined.load(std::memory_order_relaxed);
    }
    return c;
  }

  // Returns the entry for `key`, loading it with `load()` on a miss. `load`
  // is a callable returning boost::asio::awaitable<Result<Loaded<V>>>; it is
  // called at most once per miss, by the first coroutine to miss, while the
  // others that miss the same key meanwhile wait for its outcome: they all
  // get a pin on the same entry, or all get the loader's error (errors are
  // not cached). A resident key completes without suspending.
  // SUSPENDS: while loading (the loader's I/O) or waiting for another
  //           coroutine's load. Waiters resume on their own executors.
  template <typename LoadFn>
  boost::asio::awaitable<Result<Handle>> LookupOrLoad(CacheKey key, LoadFn load) {
    const size_t hash = CacheKeyHash()(key);
    Shard& s = ShardFor(hash);
    for (;;) {
      std::shared_ptr<Pending> pending;
      bool leader = false;
      Handle hit;
      {
        std::lock_guard lock(s.mu);
        if (Entry* e = s.table.Find(key, hash); e != nullptr) {
          ++s.hits;
          hit = s.PinLocked(e);
        } else if (auto it = s.pending.find(key); it != s.pending.end()) {
          pending = it->second;
        } else {
          ++s.misses;
          pending = std::make_shared<Pending>();
          s.pending.emplace(key, pending);
          leader = true;
        }
      }
      if (hit) co_return std::move(hit);
      if (leader) {
        LoadGuard guard(&s, key, std::move(pending));
        Result<Loaded<V>> loaded = co_await load();
        co_return guard.Complete(std::move(loaded));
      }
      const boost::asio::any_io_executor ex = co_await boost::asio::this_coro::executor;
      // A named initiation: GCC 12 mishandles non-trivial temporaries that
      // live across a co_await (destroying them twice).
      WaitInitiation initiation{&s, std::move(pending), ex};
      WaitOutcome outcome = co_await boost::asio::async_initiate<
          const boost::asio::use_awaitable_t<>, void(WaitOutcome)>(std::move(initiation),
                                                                   boost::asio::use_awaitable);
      if (outcome.result.has_value()) co_return std::move(*outcome.result);
      // The load finished between our miss and our registration: look again.
    }
  }

 private:
  // What a waiter receives: a result, or nullopt for "look again".
  struct WaitOutcome {
    std::optional<Result<Handle>> result;
  };
  using WaitHandler = boost::asio::any_completion_handler<void(WaitOutcome)>;
  struct Waiter {
    boost::asio::any_io_executor executor;  // tracks work: keeps the context running
    WaitHandler handler;
  };
  struct Pending {
    bool done = false;  // guarded by the shard mutex
    std::vector<Waiter> waiters;
  };

  static void Resume(Waiter waiter, WaitOutcome outcome) {
    auto ex = waiter.executor;
    boost::asio::post(ex, [h = std::move(waiter.handler), o = std::move(outcome)]() mutable {
      std::move(h)(std::move(o));
    });
  }

  struct Shard {
    mutable std::mutex mu;
    size_t capacity = 0;
    size_t usage = 0;
    uint64_t hits = 0;    // Lookup/LookupOrLoad found the key resident
    uint64_t misses = 0;  // Lookup found nothing / LookupOrLoad loaded
    // Admit(): `usage` as of its last change (written under mu, read without),
    // the tags of recent declined misses (0: empty), and the declines.
    std::atomic<size_t> usage_hint{0};
    std::unique_ptr<std::atomic<uint32_t>[]> recent_misses;
    size_t recent_mask = 0;
    std::atomic<uint64_t> declined{0};
    Links lru;      // resident, unpinned; lru.next is the oldest
    Links in_use;   // resident, pinned
    Links orphans;  // non-resident, pinned
    HashTable table;
    std::unordered_map<CacheKey, std::shared_ptr<Pending>, CacheKeyHash> pending;

    Shard() = default;
    Shard(const Shard&) = delete;
    Shard& operator=(const Shard&) = delete;
    ~Shard() {
      // Orphans outliving the cache are a contract violation; free them
      // anyway rather than leak. Resident entries go with the table.
      while (orphans.next != &orphans) {
        auto* e = static_cast<Entry*>(orphans.next);
        Unlink(e);
        delete e;
      }
    }

    static void Unlink(Links* e) {
      e->prev->next = e->next;
      e->next->prev = e->prev;
      e->prev = e->next = e;
    }
    static void Append(Links* list, Links* e) {  // as the newest
      e->next = list;
      e->prev = list->prev;
      e->prev->next = e;
      list->prev = e;
    }

    Handle PinLocked(Entry* e) {
      if (e->pins++ == 0 && e->resident) {
        Unlink(e);
        Append(&in_use, e);
      }
      return Handle(this, e);
    }

    void Unpin(Entry* e) {
      Doomed doomed;
      std::lock_guard lock(mu);
      if (--e->pins > 0) return;
      Unlink(e);
      if (e->resident) {
        Append(&lru, e);
        EvictWhileOverLocked(&doomed);
      } else {
        doomed.Add(e);
      }
    }

    void EvictOldestLocked(Doomed* doomed) {
      auto* oldest = static_cast<Entry*>(lru.next);
      EraseLocked(oldest->key, oldest->hash, doomed);
    }
    void EvictWhileOverLocked(Doomed* doomed) {
      while (usage > capacity && lru.next != &lru) EvictOldestLocked(doomed);
    }

    void EraseLocked(const CacheKey& key, size_t hash, Doomed* doomed) {
      Entry* e = table.Remove(key, hash);
      if (e == nullptr) return;
      Unlink(e);
      e->resident = false;
      usage -= e->charge;
      usage_hint.store(usage, std::memory_order_relaxed);
      if (e->pins > 0) {
        Append(&orphans, e);
      } else {
        doomed->Add(e);
      }
    }

    Handle InsertLocked(const CacheKey& key, size_t hash, V value, size_t charge,
                        Doomed* doomed) {
      EraseLocked(key, hash, doomed);
      auto owned = std::make_unique<Entry>(key, hash, std::move(value), charge);
      table.Add(owned.get());  // may throw bad_alloc: then nothing changed
      Entry* e = owned.release();
      usage += charge;
      Append(&lru, e);
      Handle h = PinLocked(e);
      EvictWhileOverLocked(doomed);
      usage_hint.store(usage, std::memory_order_relaxed);
      return h;
    }
  };

  // Registers a waiter on `pending`, or resumes it at once with "look again"
  // when the load already finished.
  struct WaitInitiation {
    Shard* shard;
    std::shared_ptr<Pending> pending;
    boost::asio::any_io_executor executor;

    template <typename Handler>
    void operator()(Handler&& handler) {
      Waiter waiter{boost::asio::prefer(executor, boost::asio::execution::outstanding_work.tracked),
                    WaitHandler(std::forward<Handler>(handler))};
      {
        std::lock_guard lock(shard->mu);
        if (!pending->done) {
          pending->waiters.push_back(std::move(waiter));
          return;
        }
      }
      Resume(std::move(waiter), WaitOutcome{});
    }
  };

  // Owned by the loading coroutine: publishes the outcome to the waiters,
  // also when the loader's frame is destroyed before it finished.
  class LoadGuard {
   public:
    LoadGuard(Shard* shard, CacheKey key, std::shared_ptr<Pending> pending)
        : shard_(shard), key_(key), pending_(std::move(pending)) {}
    LoadGuard(const LoadGuard&) = delete;
    LoadGuard& operator=(const LoadGuard&) = delete;
    ~LoadGuard() {
      if (pending_) {
        Result<Handle> ignored = Complete(Status::IOError("cache load abandoned before it completed"));
      }
    }

    Result<Handle> Complete(Result<Loaded<V>> loaded) {
      Doomed doomed;
      std::vector<Waiter> waiters;
      std::vector<Handle> waiter_handles;
      std::optional<Result<Handle>> mine;
      {
        std::lock_guard lock(shard_->mu);
        auto it = shard_->pending.find(key_);
        if (it != shard_->pending.end() && it->second == pending_) shard_->pending.erase(it);
        pending_->done = true;
        waiters = std::move(pending_->waiters);
        if (loaded.ok()) {
          Handle h = shard_->InsertLocked(key_, CacheKeyHash()(key_), std::move(loaded->value),
                                          loaded->charge, &doomed);
          for (size_t i = 0; i < waiters.size(); ++i) waiter_handles.push_back(shard_->PinLocked(h.entry_));
          mine.emplace(std::move(h));
        } else {
          mine.emplace(loaded.status());
        }
      }
      pending_.reset();
      for (size_t i = 0; i < waiters.size(); ++i) {
        WaitOutcome outcome;
        if (loaded.ok()) {
          outcome.result.emplace(std::move(waiter_handles[i]));
        } else {
          outcome.result.emplace(loaded.status());
        }
        Resume(std::move(waiters[i]), std::move(outcome));
      }
      return std::move(*mine);
    }

   private:
    Shard* shard_;
    CacheKey key_;
    std::shared_ptr<Pending> pending_;
  };

  Shard& ShardFor(size_t hash) { return shards_[hash % shards_.size()]; }

  // Admit()'s table of recent misses has at least this many slots per shard.
  static constexpr size_t kMinRecentMisses = 64;

  const size_t capacity_;
  std::vector<Shard> shards_;
  std::atomic<uint64_t> next_id_{0};
};

}  // namespace corodb::table

// TableOptions: what the table builder and reader need to know, and how a
// database derives them from its Options.
//
// Like LevelDB, the table layer is generic over keys: it orders them with
// `comparator` and filters them with `filter_policy` as they are stored. A
// database stores internal keys (user key + 8-byte tag), so it passes an
// InternalKeyComparator and wraps the user's filter policy in
// InternalFilterPolicy, which filters the USER key: exactly what LevelDB's DB
// writes, so LevelDB reads our filters and we read LevelDB's.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "corodb/comparator.h"
#include "corodb/filter_policy.h"
#include "corodb/options.h"

namespace corodb {
class InternalKeyComparator;
}

namespace corodb::table {

// File reads made by sequential iterators (Table::NewSequentialIterator):
// shared by many iterators, relaxed atomics.
struct SequentialReadCount {
  std::atomic<uint64_t> reads{0};
  std::atomic<uint64_t> bytes{0};
};

class Block;
template <typename V>
class ShardedLruCache;
// Decoded blocks, keyed by (table id, block offset), charged by memory.
using BlockCache = ShardedLruCache<Block>;

struct TableOptions {
  // Key order. Not owned; must outlive builders and tables.
  const Comparator* comparator = BytewiseComparator();
  // nullptr: tables are written without a filter block and read without one.
  std::shared_ptr<const FilterPolicy> filter_policy;
  // Approximate uncompressed size of a data block.
  size_t block_size = 4 * 1024;
  // Entries between restart points in data and metaindex blocks (index
  // blocks always use 1, as LevelDB does).
  int block_restart_interval = 16;
  CompressionType compression = CompressionType::kSnappyCompression;
  // Verify the checksum of every block read, whatever ReadOptions say.
  bool paranoid_checks = false;
  // Keys are internal keys (user key + 8-byte tag), as in a database's
  // tables: every key read from a data or index block is checked (at least
  // 8 bytes, a known value type) before it is compared or returned, and a
  // bad one is Corruption — checksums or not, the comparator never sees it.
  bool internal_keys = false;
  // Shared block cache; not owned, must outlive the tables. nullptr: none.
  BlockCache* block_cache = nullptr;
  // Map each table read-only and read data blocks that miss the block cache
  // from the mapping (Options::mmap_reads). Ignored for O_DIRECT tables.
  bool mmap_reads = false;
  // Without mmap_reads: map each table anyway and read from the mapping the
  // blocks whose pages the page cache holds (table::PageResidency). False
  // (and mmap_reads false): never map (repair: a damaged disk must fail a
  // read, not raise SIGBUS).
  bool map_resident_pages = true;
};

// Filters the user-key part of internal keys with `user_policy`. Name() is
// the user policy's name, so the metaindex key is LevelDB's
// ("filter.leveldb.BuiltinBloomFilter2" for the bloom policy).
class InternalFilterPolicy final : public FilterPolicy {
 public:
  explicit InternalFilterPolicy(std::shared_ptr<const FilterPolicy> user_policy)
      : user_policy_(std::move(user_policy)) {}

  const char* Name() const override { return user_policy_->Name(); }
  // REQUIRES: every key is an internal key (>= 8 bytes).
  void CreateFilter(std::span<const Slice> keys, std::string* dst) const override;
  // A key shorter than 8 bytes is filtered as is.
  bool KeyMayMatch(Slice key, Slice filter) const override;

  const std::shared_ptr<const FilterPolicy>& user_policy() const { return user_policy_; }

 private:
  std::shared_ptr<const FilterPolicy> user_policy_;
};

// TableOptions for a database's tables: `icmp` as the comparator (with
// internal_keys set), the user's filter policy wrapped in
// InternalFilterPolicy, and the block settings,
// compression and paranoid_checks of `options`. `icmp` and `block_cache`
// are not owned.
TableOptions TableOptionsForDb(const Options& options, const InternalKeyComparator* icmp,
                               BlockCache* block_cache);

}  // namespace corodb::table

// TableCache: the open tables of one database directory — each an
// io::File plus its Table reader (footer, index and filter in memory) — for
// up to `max_open_files` tables, least recently used evicted first.
//
// Opening is single-flight: coroutines that need the same unopened table
// while it is being opened share that open. Evict(file_number) drops a table
// whose file is being deleted.
//
// Open files: at most max_open_files tables are kept open once nobody uses
// them. A table in use (a lookup in flight, a live iterator) stays open while
// used even if it no longer fits, as in LevelDB, so the bound can be
// exceeded by the number of tables in use at that moment.
//
// Invariants / thread safety: thread-safe (the cache is sharded and locked;
// Tables are immutable). The TableCache must outlive its handles and the
// iterators it returns, and the block cache and file system must outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "table/iterator.h"
#include "table/lru_cache.h"
#include "table/table.h"
#include "table/table_options.h"

namespace corodb::io {
class FileSystem;
}

namespace corodb::table {

class TableCache {
 public:
  using Cache = ShardedLruCache<std::unique_ptr<Table>>;
  using Handle = Cache::Handle;

  // Tables are the files dbname/NNNNNN.ldb (or .sst), opened on `fs` (not
  // owned), with O_DIRECT when `direct_reads`.
  TableCache(std::string dbname, TableOptions options, const io::FileSystem* fs, int max_open_files,
             bool direct_reads = false);
  TableCache(const TableCache&) = delete;
  TableCache& operator=(const TableCache&) = delete;
  ~TableCache();

  // The open table for `file_number` (of `file_size` bytes), pinned while
  // the handle lives. Errors: the open's IOError (NotFound-like when neither
  // .ldb nor .sst exists) or Corruption; errors are not cached.
  // SUSPENDS: when the table is not open (the reads of Table::Open, or
  //           waiting for another coroutine's open of the same table).
  boost::asio::awaitable<Result<Handle>> FindTable(uint64_t file_number, uint64_t file_size);

  // The table for `file_number` when it is open (pinned while the handle
  // lives); an empty handle otherwise. Never suspends.
  Handle LookupTable(uint64_t file_number);

  // Point lookup in table `file_number` (Table::Get), without I/O: the
  // answer when the table is open and the filter or a cached block answers;
  // nullopt when the caller must co_await Get().
  std::optional<Result<LookupResult>> TryGet(const ReadOptions& options, uint64_t file_number,
                                             Slice key);

  // Point lookup in table `file_number` (Table::Get semantics).
  // SUSPENDS: to open the table and/or read one data block, only when needed.
  boost::asio::awaitable<Result<LookupResult>> Get(ReadOptions options, uint64_t file_number,
                                                   uint64_t file_size, Slice key);

  // An iterator over table `file_number`; it pins the table while it lives.
  // SUSPENDS: when the table must be opened.
  boost::asio::awaitable<Result<std::unique_ptr<AsyncIterator>>> NewIterator(
      ReadOptions options, uint64_t file_number, uint64_t file_size);

  // NewIterator without I/O: nullptr when the table is not open.
  std::unique_ptr<AsyncIterator> TryNewIterator(const ReadOptions& options, uint64_t file_number);

  // Forgets table `file_number`: its file is closed now, or when the last
  // user releases it.
  void Evict(uint64_t file_number);

  // Tables currently kept in the cache (in use or not).
  size_t open_tables() const { return cache_.Size(); }
  // Table opens performed so far (misses), for tests and statistics.
  uint64_t opens() const { return opens_.load(std::memory_order_relaxed); }

 private:
  boost::asio::awaitable<Result<Loaded<std::unique_ptr<Table>>>> OpenTable(uint64_t file_number,
                                                                          uint64_t file_size);

  const std::string dbname_;
  const TableOptions options_;
  const io::FileSystem* fs_;
  const bool direct_reads_;
  Cache cache_;
  std::atomic<uint64_t> opens_{0};
};

}  // namespace corodb::table

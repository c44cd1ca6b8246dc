// BlockBatch: data blocks of several tables, read together (DB::MultiGet).
//
//   BlockBatch batch(options);
//   size_t a = batch.Add(table, handle);   // the same (table, offset) twice
//   size_t b = batch.Add(table, handle);   // gives the same index: a == b
//   co_await batch.ReadAll();              // every block, one batch of reads
//   batch.block(a)                         // the block, or its error
//
// ReadAll reads the blocks with io::File::ReadMany — on io_uring, one
// submission for the whole batch — then decodes each (checksum verified as
// options ask) and inserts it into the block cache when options.fill_cache.
// It does not consult the block cache: callers add the blocks their lookups
// found missing (Table::ProbeWithoutIO). Unlike Table::LoadBlock it does not
// join another coroutine's load of the same block in flight; both read it.
//
// Invariants / thread safety: one coroutine uses a batch. The tables must
// stay open (pinned) until the batch is destroyed; the blocks it holds pin
// their cache entries until then.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "corodb/options.h"
#include "corodb/result.h"
#include "io/file.h"
#include "table/format.h"
#include "table/table.h"

namespace corodb::table {

class BlockBatch {
 public:
  explicit BlockBatch(const ReadOptions& options) : options_(options) {}
  BlockBatch(const BlockBatch&) = delete;
  BlockBatch& operator=(const BlockBatch&) = delete;

  // Adds the data block at `handle` of `table` (once per table and offset)
  // and returns its index. REQUIRES: before ReadAll.
  size_t Add(const Table* table, const BlockHandle& handle);
  size_t size() const { return entries_.size(); }

  // Reads every block added, all at once, and decodes them.
  // SUSPENDS: until every read has completed (one io_uring submission on
  //           the uring backend, see io::File::ReadMany). Call once.
  boost::asio::awaitable<void> ReadAll();

  // After ReadAll: block `index`, or its IOError or Corruption (naming the
  // file and block offset).
  const Result<BlockRef>& block(size_t index) const { return entries_[index].block; }
  // After ReadAll: the file reads it issued (blocks whose handles were not
  // impossible).
  size_t reads() const { return reads_; }

 private:
  struct Entry {
    Entry(const Table* t, const BlockHandle& h) : table(t), handle(h) {}
    const Table* table;
    BlockHandle handle;
    io::AlignedBuffer buf;
    size_t skip = 0;  // where the block starts in buf
    Result<BlockRef> block;
  };
  struct KeyHash {
    size_t operator()(const std::pair<const Table*, uint64_t>& k) const {
      return CacheKeyHash()(CacheKey{reinterpret_cast<uintptr_t>(k.first), k.second});
    }
  };

  const ReadOptions options_;
  std::vector<Entry> entries_;
  std::unordered_map<std::pair<const Table*, uint64_t>, size_t, KeyHash> index_;
  size_t reads_ = 0;
};

}  // namespace corodb::table

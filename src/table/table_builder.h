// TableBuilder: writes a sorted table file in LevelDB's format
// (table/format.h): data blocks of about options.block_size bytes, the filter
// block, the metaindex, the index (one entry per data block, keyed by the
// shortest separator between neighbouring blocks and the short successor of
// the last key), and the footer.
//
// Add() is synchronous: blocks are built and compressed into an in-memory
// output buffer. The buffer goes to the file in large sequential appends
// (kWriteBufferSize and more) when the caller awaits AddAsync()/Flush(), and
// at Finish(). A typical loop:
//
//   for (...) if (Status s = co_await builder.AddAsync(k, v); !s.ok()) co_return s;
//   if (Status s = co_await builder.Finish(); !s.ok()) co_return s;
//
// Invariants / thread safety: one coroutine uses a builder at a time. Keys
// are added in strictly increasing comparator order. After an error every
// later call returns it. offset_ == bytes appended to the file + out_.size().
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "corodb/status.h"
#include "table/block_builder.h"
#include "table/filter_block.h"
#include "table/format.h"
#include "table/table_options.h"

namespace corodb::io {
class File;
}

namespace corodb::table {

class TableBuilder {
 public:
  // Appends go to `file` (not owned; must outlive the builder), starting at
  // its append_offset(), which should be 0 for a new table.
  TableBuilder(const TableOptions& options, io::File* file);
  TableBuilder(const TableBuilder&) = delete;
  TableBuilder& operator=(const TableBuilder&) = delete;
  ~TableBuilder();

  // Output is written once this much is buffered.
  static constexpr size_t kWriteBufferSize = 256 * 1024;

  // Adds an entry; buffers it (no I/O). REQUIRES: not finished; key after
  // every key added before (checked in debug builds). Ignored after an error.
  void Add(Slice key, Slice value);

  // Add(), then Flush() when kWriteBufferSize bytes are buffered.
  // SUSPENDS: only when it flushes (one append).
  boost::asio::awaitable<Status> AddAsync(Slice key, Slice value);

  // Appends every buffered byte (of finished blocks) to the file.
  // SUSPENDS: one append when anything is buffered.
  boost::asio::awaitable<Status> Flush();

  // Finishes the table: last data block, filter, metaindex, index, footer,
  // all appended. Does not sync. REQUIRES: not finished.
  // SUSPENDS: one or two appends.
  boost::asio::awaitable<Status> Finish();

  // Gives up on the table: nothing more is written. REQUIRES: not finished.
  void Abandon();

  // First error seen, or OK.
  const Status& status() const { return status_; }
  uint64_t NumEntries() const { return num_entries_; }
  // Size of the file so far (buffered bytes included); the final file size
  // after Finish().
  uint64_t FileSize() const { return offset_; }

 private:
  void FlushDataBlock();
  // Finishes `block`, compresses it per options and appends it to out_.
  BlockHandle WriteBlock(BlockBuilder* block);
  BlockHandle WriteRawBlock(Slice contents, CompressionType type);

  const TableOptions options_;
  io::File* file_;
  std::string out_;  // finished bytes not yet appended to the file
  uint64_t offset_;
  Status status_;
  BlockBuilder data_block_;
  BlockBuilder index_block_;
  std::string last_key_;
  uint64_t num_entries_ = 0;
  bool closed_ = false;
  std::unique_ptr<FilterBlockBuilder> filter_block_;
  // After a data block is written, its index entry waits for the next key
  // (to pick a short separator) or for Finish().
  bool pending_index_entry_ = false;
  BlockHandle pending_handle_;
  std::string compressed_;  // scratch
};

}  // namespace corodb::table

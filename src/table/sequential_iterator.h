// SequentialIterator: the compaction input iterator over one table
// (Table::NewSequentialIterator). It walks the index block in order and
// reads the data area in large sequential reads instead of one block read
// per data block through the block cache:
//
//   window  a run of consecutive data blocks, as many as fit in `readahead`
//           bytes (at least one: a larger block is read whole), read with
//           one Table::ReadRaw into a buffer the iterator reuses;
//   block   decoded from the window: checksum always verified (a compaction
//           must never carry damage forward silently), uncompressed per its
//           trailer, never inserted into the block cache.
//
// Forward only: SeekToFirst, Next and TryNext. Seek, SeekToLast and Prev
// make the iterator invalid with status NotSupported (a compaction never
// needs them; a DB iterator uses TableIterator).
//
// Errors: Corruption naming the file and the block offset (checksum, bad
// compression, bad block layout or entry, a block cut short by the end of
// the file), Corruption naming the file for a bad index, or the file's
// IOError. The iterator is then invalid; SeekToFirst starts over.
//
// Fast path: TryNext() moves without suspending within the current block
// and into the next block when that block is already in the window.
//
// Invariants / thread safety: one coroutine at a time. index_ is at the
// first data block not in window_; window_[next_ - 1] is the block being
// iterated (block_, data_) once next_ > 0; window_[i] lies in window_bytes_
// at offset window_[i].offset() - window_offset_.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "io/file.h"
#include "table/block.h"
#include "table/iterator.h"
#include "table/table.h"

namespace corodb::table {

class SequentialIterator final : public AsyncIterator {
 public:
  // `table` (and `reads`, when set) must outlive the iterator.
  SequentialIterator(const Table* table, size_t readahead, SequentialReadCount* reads = nullptr);

  bool Valid() const override { return status_.ok() && data_.has_value() && data_->Valid(); }
  Slice key() const override { return data_->key(); }
  Slice value() const override { return data_->value(); }
  Status status() const override { return status_; }

  // SUSPENDS: one read per window.
  boost::asio::awaitable<void> SeekToFirst() override;
  boost::asio::awaitable<void> Next() override;
  bool TryNext() override;

  // Not supported: invalid with NotSupported.
  boost::asio::awaitable<void> SeekToLast() override;
  boost::asio::awaitable<void> Seek(Slice target) override;
  boost::asio::awaitable<void> Prev() override;

 private:
  // Moves to the first entry of the next non-empty block of the window
  // (or an error). False, with nothing changed, when the window has none.
  bool AdvanceInWindow();
  // Reads the next window (the blocks from index_ on). False at the end of
  // the table (the iterator is then invalid) or on an error.
  // SUSPENDS: one file read.
  boost::asio::awaitable<bool> FillWindow();
  // Reads windows until one yields an entry, the table ends or an error.
  boost::asio::awaitable<void> NextBlockFromFile();
  // Records damage met inside the current block; true if there was some.
  bool CheckData();
  void SetError(Status s);
  void Unsupported(const char* what);

  const Table* table_;
  const size_t readahead_;
  SequentialReadCount* const reads_;
  BlockIter index_;
  io::AlignedBuffer buf_;
  Slice window_bytes_;
  uint64_t window_offset_ = 0;
  std::vector<BlockHandle> window_;
  size_t next_ = 0;  // index in window_ of the next block to decode
  BlockHandle block_handle_;
  std::optional<Block> block_;
  std::optional<BlockIter> data_;
  Status status_;
};

}  // namespace corodb::table

// TableIterator: the two-level iterator over a table: an iterator over the
// (in-memory) index block picks data blocks, which are loaded through the
// block cache with awaited reads, and a block iterator walks each.
//
// On an error (a block that cannot be read or decoded) the iterator becomes
// invalid and status() reports it, naming the file; the next Seek*() clears it.
//
// Invariants / thread safety: one coroutine at a time. When data_ is set it
// iterates block_ (or, when block_ is empty, *data_lazy_), the block at
// data_handle_, which index_ points at (or pointed at before index_ ran off
// an end).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "table/block.h"
#include "table/iterator.h"
#include "table/table.h"

namespace corodb::table {

class TableIterator final : public AsyncIterator {
 public:
  // `table` must outlive the iterator.
  TableIterator(const Table* table, const ReadOptions& options);

  bool Valid() const override { return status_.ok() && data_.has_value() && data_->Valid(); }
  Slice key() const override { return data_->key(); }
  Slice value() const override { return data_->value(); }
  Status status() const override;

  boost::asio::awaitable<void> SeekToFirst() override;
  boost::asio::awaitable<void> SeekToLast() override;
  boost::asio::awaitable<void> Seek(Slice target) override;
  boost::asio::awaitable<void> Next() override;
  boost::asio::awaitable<void> Prev() override;
  bool TryNext() override;
  bool TrySeek(Slice target) override;
  bool TryPrev() override;

 private:
  // Makes data_ iterate the block index_ points at (unpositioned), or clears
  // it when index_ is invalid. SUSPENDS: on a block-cache miss.
  boost::asio::awaitable<void> InitDataBlock();
  // InitDataBlock without I/O; false when the block must be read.
  bool TryInitDataBlock();
  boost::asio::awaitable<void> SkipEmptyBlocksForward();
  boost::asio::awaitable<void> SkipEmptyBlocksBackward();
  // TryNext/TryPrev across a block boundary: moves into the neighbouring
  // block when it can be had without I/O (true), or leaves everything as it
  // was (false).
  bool TryCrossBlock(bool forward);
  // True when data_ hit damage; records it as the iterator's error. Inline:
  // every step asks it, and almost always the answer is no.
  bool CheckDataStatus() {
    if (!data_.has_value() || data_->status().ok()) return false;
    RecordDataError();
    return true;
  }
  void RecordDataError();
  void ResetData();
  void SetError(Status s);
  // Makes data_ iterate (unpositioned) `block`, or when it is empty the
  // block `lazy` decodes, the block at `handle` (`encoded` in the index).
  void SetData(BlockRef block, LazyBlock* lazy, std::string encoded, const BlockHandle& handle);
  // A seek: moves into neighbouring blocks count from zero again.
  void EndStreak() {
    crossings_ = 0;
    window_.Restart();
  }
  // Before a backward move: from the first one on, data_ records its
  // backward walks in prev_record_ (BlockIter::UsePrevRecord).
  void StartBackward() {
    if (prev_record_ != nullptr) return;
    prev_record_.reset(new PrevRecord);  // default-initialized: no 1 KiB memset
    if (data_.has_value()) data_->UsePrevRecord(prev_record_.get());
  }
  // The LazyBlock data_ does not use, for loading the next block into.
  LazyBlock* SpareLazy() { return data_lazy_ == &lazy_[0] ? &lazy_[1] : &lazy_[0]; }

  const Table* table_;
  const ReadOptions options_;
  BlockIter index_;
  BlockRef block_;
  // Blocks the cache did not keep, decoded as data_ moves (Table::TryLoadBlock):
  // two, so the next block loads while data_ still reads the current one.
  LazyBlock lazy_[2];
  LazyBlock* data_lazy_ = nullptr;  // the one data_ iterates, or null
  // Moves into a neighbouring block (TryCrossBlock) in direction
  // streak_forward_ since the last seek or turn; from the second on, blocks
  // are read ahead through window_.
  int crossings_ = 0;
  bool streak_forward_ = true;
  ScanWindow window_;
  std::optional<BlockIter> data_;
  std::unique_ptr<PrevRecord> prev_record_;  // made at the first backward move
  std::string data_handle_;  // encoded handle of block_
  BlockHandle data_block_handle_;
  Status status_;
};

}  // namespace corodb::table

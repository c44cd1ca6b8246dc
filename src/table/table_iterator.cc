#include "table/table_iterator.h"

namespace corodb::table {

TableIterator::TableIterator(const Table* table, const ReadOptions& options)
    : table_(table),
      options_(options),
      index_(&table->index_block(), table->comparator(), table->internal_keys()) {}

Status TableIterator::status() const {
  if (!status_.ok()) return status_;
  if (data_.has_value() && !data_->status().ok()) {
    return table_->BlockError(data_block_handle_, data_->status());
  }
  if (!index_.status().ok()) {
    return Status::Corruption(table_->file_name() + ": index block", index_.status().message());
  }
  return Status::OK();
}

void TableIterator::ResetData() {
  data_.reset();
  block_ = BlockRef();
  data_lazy_ = nullptr;
  data_handle_.clear();
}

void TableIterator::SetData(BlockRef block, LazyBlock* lazy, std::string encoded,
                            const BlockHandle& handle) {
  data_.reset();
  block_ = std::move(block);
  data_lazy_ = block_ ? nullptr : lazy;
  if (data_lazy_ != nullptr) {
    data_.emplace(data_lazy_->stream(), table_->comparator());
  } else {
    data_.emplace(block_.get(), table_->comparator(), table_->internal_keys());
  }
  if (prev_record_ != nullptr) data_->UsePrevRecord(prev_record_.get());
  data_handle_ = std::move(encoded);
  data_block_handle_ = handle;
}

void TableIterator::SetError(Status s) {
  ResetData();
  if (status_.ok()) status_ = std::move(s);
}

void TableIterator::RecordDataError() {
  SetError(table_->BlockError(data_block_handle_, data_->status()));
}

boost::asio::awaitable<void> TableIterator::InitDataBlock() {
  if (!index_.Valid()) {
    if (!index_.status().ok()) {
      SetError(Status::Corruption(table_->file_name() + ": index block", index_.status().message()));
    }
    ResetData();
    co_return;
  }
  const Slice handle_bytes = index_.value();
  if (data_.has_value() && handle_bytes == data_handle_) co_return;  // already there
  Result<BlockHandle> handle = table_->DecodeDataHandle(handle_bytes);
  if (!handle.ok()) {
    SetError(handle.status());
    co_return;
  }
  std::string encoded(handle_bytes);
  Result<BlockRef> block = co_await table_->LoadBlock(options_, *handle);
  if (!block.ok()) {
    SetError(block.status());
    co_return;
  }
  SetData(std::move(*block), nullptr, std::move(encoded), *handle);
}

boost::asio::awaitable<void> TableIterator::SkipEmptyBlocksForward() {
  while (status_.ok() && (!data_.has_value() || !data_->Valid())) {
    if (CheckDataStatus()) co_return;
    if (!index_.Valid()) {
      ResetData();
      co_return;
    }
    index_.Next();
    co_await InitDataBlock();
    if (data_.has_value()) data_->SeekToFirst();
  }
  CheckDataStatus();
}

boost::asio::awaitable<void> TableIterator::SkipEmptyBlocksBackward() {
  while (status_.ok() && (!data_.has_value() || !data_->Valid())) {
    if (CheckDataStatus()) co_return;
    if (!index_.Valid()) {
      ResetData();
      co_return;
    }
    index_.Prev();
    co_await InitDataBlock();
    if (data_.has_value()) data_->SeekToLast();
  }
  CheckDataStatus();
}

boost::asio::awaitable<void> TableIterator::SeekToFirst() {
  status_ = Status::OK();
  EndStreak();
  index_.SeekToFirst();
  co_await InitDataBlock();
  if (data_.has_value()) data_->SeekToFirst();
  co_await SkipEmptyBlocksForward();
}

boost::asio::awaitable<void> TableIterator::SeekToLast() {
  StartBackward();
  status_ = Status::OK();
  EndStreak();
  index_.SeekToLast();
  co_await InitDataBlock();
  if (data_.has_value()) data_->SeekToLast();
  co_await SkipEmptyBlocksBackward();
}

boost::asio::awaitable<void> TableIterator::Seek(Slice target) {
  status_ = Status::OK();
  EndStreak();
  index_.Seek(target);
  co_await InitDataBlock();
  if (data_.has_value()) data_->Seek(target);
  co_await SkipEmptyBlocksForward();
}

boost::asio::awaitable<void> TableIterator::Next() {
  data_->Next();
  co_await SkipEmptyBlocksForward();
}

boost::asio::awaitable<void> TableIterator::Prev() {
  StartBackward();
  data_->Prev();
  co_await SkipEmptyBlocksBackward();
}

bool TableIterator::TryInitDataBlock() {
  if (!index_.Valid()) {
    if (!index_.status().ok()) {
      SetError(Status::Corruption(table_->file_name() + ": index block", index_.status().message()));
    }
    ResetData();
    return true;
  }
  const Slice handle_bytes = index_.value();
  if (data_.has_value() && handle_bytes == data_handle_) return true;  // already there
  Result<BlockHandle> handle = table_->DecodeDataHandle(handle_bytes);
  if (!handle.ok()) {
    SetError(handle.status());
    return true;
  }
  LazyBlock* lazy = SpareLazy();
  std::optional<Result<BlockRef>> block = table_->TryLoadBlock(options_, *handle, lazy);
  if (!block.has_value()) return false;
  if (!block->ok()) {
    SetError(block->status());
    return true;
  }
  SetData(std::move(block->value()), lazy, std::string(handle_bytes), *handle);
  return true;
}

bool TableIterator::TrySeek(Slice target) {
  status_ = Status::OK();
  EndStreak();
  index_.Seek(target);
  if (!TryInitDataBlock()) return false;
  if (data_.has_value()) data_->Seek(target);
  // As SkipEmptyBlocksForward, without I/O.
  while (status_.ok() && (!data_.has_value() || !data_->Valid())) {
    if (CheckDataStatus()) return true;
    if (!index_.Valid()) {
      ResetData();
      return true;
    }
    index_.Next();
    if (!TryInitDataBlock()) return false;
    if (data_.has_value()) data_->SeekToFirst();
  }
  CheckDataStatus();
  return true;
}

bool TableIterator::TryNext() {
  const bool last = data_->AtLast();  // may decode the rest of a lazy block
  if (CheckDataStatus()) return true;
  if (last) return TryCrossBlock(/*forward=*/true);
  data_->Next();
  CheckDataStatus();
  return true;
}

bool TableIterator::TryPrev() {
  StartBackward();
  if (data_->AtFirst()) return TryCrossBlock(/*forward=*/false);
  data_->Prev();
  CheckDataStatus();
  return true;
}

bool TableIterator::TryCrossBlock(bool forward) {
  auto undo = [&] {
    if (forward) {
      index_.Prev();
    } else {
      index_.Next();
    }
  };
  // At the table's last (first) entry, running off the end is the caller's
  // business (a concatenating iterator moves on to the next file).
  if (forward ? index_.AtLast() : index_.AtFirst()) return false;
  if (forward) {
    index_.Next();
  } else {
    index_.Prev();
  }
  if (!index_.Valid()) {
    if (!index_.status().ok()) {
      SetError(Status::Corruption(table_->file_name() + ": index block", index_.status().message()));
    } else {
      SetError(Status::Corruption(table_->file_name() + ": index block", "ended before its last entry"));
    }
    return true;
  }
  const Slice handle_bytes = index_.value();
  Result<BlockHandle> handle = table_->DecodeDataHandle(handle_bytes);
  if (!handle.ok()) {
    SetError(handle.status());
    return true;
  }
  LazyBlock* lazy = SpareLazy();
  // From the second move into a neighbour in one direction on, a scan:
  // its blocks come from a window read ahead.
  const bool scanning = crossings_ > 0 && streak_forward_ == forward;
  std::optional<Result<BlockRef>> block =
      table_->TryLoadBlock(options_, *handle, lazy, scanning ? &window_ : nullptr, forward);
  if (!block.has_value()) {
    undo();
    return false;  // a read is needed: the awaited move does it
  }
  if (!block->ok()) {
    SetError(block->status());
    return true;
  }
  BlockIter probe = block->value()
                        ? BlockIter(block->value().get(), table_->comparator(), table_->internal_keys())
                        : BlockIter(lazy->stream(), table_->comparator());
  if (forward) {
    probe.SeekToFirst();
  } else {
    probe.SeekToLast();
  }
  if (!probe.Valid()) {
    if (!probe.status().ok()) {
      SetError(table_->BlockError(*handle, probe.status()));
      return true;
    }
    undo();
    return false;  // an empty block: the awaited move skips it
  }
  SetData(std::move(block->value()), lazy, std::string(handle_bytes), *handle);
  crossings_ = streak_forward_ == forward ? crossings_ + 1 : 1;
  streak_forward_ = forward;
  if (forward) {
    data_->SeekToFirst();
  } else {
    data_->SeekToLast();
  }
  return true;
}

}  // namespace corodb::table

#include "table/sequential_iterator.h"

#include <algorithm>

#include "table/format.h"

namespace corodb::table {
namespace {

uint64_t BlockEnd(const BlockHandle& h) { return h.offset() + h.size() + kBlockTrailerSize; }

}  // namespace

SequentialIterator::SequentialIterator(const Table* table, size_t readahead,
                                       SequentialReadCount* reads)
    : table_(table),
      readahead_(readahead),
      reads_(reads),
      index_(&table->index_block(), table->comparator(), table->internal_keys()),
      buf_(0) {}

void SequentialIterator::SetError(Status s) {
  data_.reset();
  block_.reset();
  window_.clear();
  next_ = 0;
  if (status_.ok()) status_ = std::move(s);
}

void SequentialIterator::Unsupported(const char* what) {
  SetError(Status::NotSupported(table_->file_name() + ": sequential table iterator", what));
}

bool SequentialIterator::CheckData() {
  if (data_->status().ok()) return false;
  SetError(table_->BlockError(block_handle_, data_->status()));
  return true;
}

bool SequentialIterator::AdvanceInWindow() {
  for (size_t i = next_; i < window_.size(); ++i) {
    const BlockHandle& handle = window_[i];
    const uint64_t at = handle.offset() - window_offset_;
    // A window cut short by the end of the file leaves later blocks short
    // or empty; DecodeBlock reports them as truncated.
    const Slice raw = at <= window_bytes_.size()
                          ? window_bytes_.substr(at, handle.size() + kBlockTrailerSize)
                          : Slice();
    Result<Block> block = table_->DecodeDataBlock(raw, handle);
    if (!block.ok()) {
      SetError(block.status());
      return true;
    }
    if (block->empty()) continue;
    next_ = i + 1;
    block_handle_ = handle;
    data_.reset();
    block_.emplace(std::move(*block));
    data_.emplace(&*block_, table_->comparator(), table_->internal_keys());
    data_->SeekToFirst();
    CheckData();
    return true;
  }
  return false;
}

boost::asio::awaitable<bool> SequentialIterator::FillWindow() {
  window_.clear();
  next_ = 0;
  if (!index_.Valid()) {
    if (!index_.status().ok()) {
      SetError(Status::Corruption(table_->file_name() + ": index block", index_.status().message()));
    } else {
      data_.reset();
      block_.reset();
    }
    co_return false;
  }
  Result<BlockHandle> first = table_->DecodeDataHandle(index_.value());
  if (!first.ok()) {
    SetError(first.status());
    co_return false;
  }
  window_.push_back(*first);
  uint64_t end = BlockEnd(*first);
  // Consecutive blocks join the window while it stays within readahead_. A
  // bad handle ends it; the next window starts with it and reports it.
  for (index_.Next(); index_.Valid(); index_.Next()) {
    Result<BlockHandle> h = table_->DecodeDataHandle(index_.value());
    if (!h.ok() || h->offset() != end || BlockEnd(*h) - first->offset() > readahead_) break;
    window_.push_back(*h);
    end = BlockEnd(*h);
  }
  const size_t n = static_cast<size_t>(end - first->offset());
  // More windows follow: size the buffer for a full one now, once.
  if (index_.Valid() && buf_.size() < readahead_) {
    buf_ = io::AlignedBuffer(std::max(n, readahead_) + 2 * io::AlignedBuffer::kAlignment);
  }
  Result<Slice> got = co_await table_->ReadRaw(first->offset(), n, &buf_);
  if (reads_ != nullptr) {
    reads_->reads.fetch_add(1, std::memory_order_relaxed);
    reads_->bytes.fetch_add(n, std::memory_order_relaxed);
  }
  if (!got.ok()) {
    SetError(got.status());
    co_return false;
  }
  window_bytes_ = *got;
  window_offset_ = first->offset();
  co_return true;
}

boost::asio::awaitable<void> SequentialIterator::NextBlockFromFile() {
  while (true) {
    const bool filled = co_await FillWindow();  // not inside the condition: g++ 12
    if (!filled || AdvanceInWindow()) co_return;
  }
}

boost::asio::awaitable<void> SequentialIterator::SeekToFirst() {
  status_ = Status::OK();
  data_.reset();
  block_.reset();
  window_.clear();
  next_ = 0;
  index_.SeekToFirst();
  co_await NextBlockFromFile();
}

boost::asio::awaitable<void> SequentialIterator::Next() {
  if (TryNext()) co_return;
  co_await NextBlockFromFile();
}

bool SequentialIterator::TryNext() {
  if (!data_->AtLast()) {
    data_->Next();
    CheckData();
    return true;
  }
  return AdvanceInWindow();
}

boost::asio::awaitable<void> SequentialIterator::SeekToLast() {
  Unsupported("SeekToLast is not supported (forward only)");
  co_return;
}

boost::asio::awaitable<void> SequentialIterator::Seek(Slice /*target*/) {
  Unsupported("Seek is not supported (forward only)");
  co_return;
}

boost::asio::awaitable<void> SequentialIterator::Prev() {
  Unsupported("Prev is not supported (forward only)");
  co_return;
}

}  // namespace corodb::table

#include "table/table_builder.h"

#include <cassert>

#include "io/file.h"
#include "util/coding.h"

namespace corodb::table {

TableBuilder::TableBuilder(const TableOptions& options, io::File* file)
    : options_(options),
      file_(file),
      offset_(file->append_offset()),
      data_block_(options.block_restart_interval),
      index_block_(1) {
  if (options_.filter_policy) {
    filter_block_ = std::make_unique<FilterBlockBuilder>(options_.filter_policy);
    filter_block_->StartBlock(offset_);
  }
}

TableBuilder::~TableBuilder() = default;

void TableBuilder::Add(Slice key, Slice value) {
  assert(!closed_);
  if (!status_.ok()) return;
  assert(num_entries_ == 0 || options_.comparator->Compare(key, last_key_) > 0);
  if (pending_index_entry_) {
    assert(data_block_.empty());
    options_.comparator->FindShortestSeparator(&last_key_, key);
    index_block_.Add(last_key_, pending_handle_.Encode());
    pending_index_entry_ = false;
  }
  if (filter_block_) filter_block_->AddKey(key);
  last_key_.assign(key.data(), key.size());
  ++num_entries_;
  data_block_.Add(key, value);
  if (data_block_.CurrentSizeEstimate() >= options_.block_size) FlushDataBlock();
}

boost::asio::awaitable<Status> TableBuilder::AddAsync(Slice key, Slice value) {
  Add(key, value);
  if (status_.ok() && out_.size() >= kWriteBufferSize) co_return co_await Flush();
  co_return status_;
}

void TableBuilder::FlushDataBlock() {
  if (data_block_.empty()) return;
  assert(!pending_index_entry_);
  pending_handle_ = WriteBlock(&data_block_);
  pending_index_entry_ = true;
  if (filter_block_) filter_block_->StartBlock(offset_);
}

BlockHandle TableBuilder::WriteBlock(BlockBuilder* block) {
  const Slice raw = block->Finish();
  CompressionType type = CompressionType::kNoCompression;
  const Slice contents = MaybeCompress(raw, options_.compression, &compressed_, &type);
  BlockHandle handle = WriteRawBlock(contents, type);
  compressed_.clear();
  block->Reset();
  return handle;
}

BlockHandle TableBuilder::WriteRawBlock(Slice contents, CompressionType type) {
  BlockHandle handle(offset_, contents.size());
  AppendBlockWithTrailer(contents, type, &out_);
  offset_ += contents.size() + kBlockTrailerSize;
  return handle;
}

boost::asio::awaitable<Status> TableBuilder::Flush() {
  if (!status_.ok() || out_.empty()) co_return status_;
  status_ = co_await file_->Append(std::span<const char>(out_.data(), out_.size()));
  out_.clear();
  co_return status_;
}

boost::asio::awaitable<Status> TableBuilder::Finish() {
  assert(!closed_);
  FlushDataBlock();
  closed_ = true;
  if (!status_.ok()) co_return status_;

  BlockBuilder metaindex(options_.block_restart_interval);
  if (filter_block_) {
    const BlockHandle filter_handle =
        WriteRawBlock(filter_block_->Finish(), CompressionType::kNoCompression);
    metaindex.Add(std::string("filter.") + options_.filter_policy->Name(), filter_handle.Encode());
  }
  const BlockHandle metaindex_handle = WriteBlock(&metaindex);

  if (pending_index_entry_) {
    options_.comparator->FindShortSuccessor(&last_key_);
    index_block_.Add(last_key_, pending_handle_.Encode());
    pending_index_entry_ = false;
  }
  const BlockHandle index_handle = WriteBlock(&index_block_);

  Footer(metaindex_handle, index_handle).EncodeTo(&out_);
  offset_ += Footer::kEncodedLength;
  co_return co_await Flush();
}

void TableBuilder::Abandon() {
  assert(!closed_);
  closed_ = true;
  out_.clear();
}

}  // namespace corodb::table

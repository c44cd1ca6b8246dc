#include "table/block_batch.h"

#include <algorithm>

namespace corodb::table {

size_t BlockBatch::Add(const Table* table, const BlockHandle& handle) {
  const auto [it, added] = index_.try_emplace({table, handle.offset()}, entries_.size());
  if (added) entries_.emplace_back(table, handle);
  return it->second;
}

boost::asio::awaitable<void> BlockBatch::ReadAll() {
  std::vector<io::BatchRead> reads;
  std::vector<size_t> read_entry;  // the entry each read is for
  reads.reserve(entries_.size());
  read_entry.reserve(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) {
    Entry& e = entries_[i];
    Result<io::BatchRead> read = e.table->BlockRead(e.handle, &e.buf, &e.skip);
    if (!read.ok()) {
      e.block = read.status();
      continue;
    }
    reads.push_back(*read);
    read_entry.push_back(i);
  }
  reads_ = reads.size();
  const std::vector<Result<size_t>> got = co_await io::File::ReadMany(reads);
  for (size_t r = 0; r < reads.size(); ++r) {
    Entry& e = entries_[read_entry[r]];
    if (!got[r].ok()) {
      e.block = got[r].status();
      continue;
    }
    const size_t avail = *got[r] > e.skip ? *got[r] - e.skip : 0;
    e.block = e.table->AdoptBlock(options_, e.handle, Slice(e.buf.data() + e.skip, avail));
  }
}

}  // namespace corodb::table

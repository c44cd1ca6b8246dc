#include "table/filter_block.h"

#include <cassert>

#include "util/coding.h"

namespace corodb::table {

FilterBlockBuilder::FilterBlockBuilder(std::shared_ptr<const FilterPolicy> policy)
    : policy_(std::move(policy)) {}

void FilterBlockBuilder::StartBlock(uint64_t block_offset) {
  const uint64_t filter_index = block_offset / kFilterBase;
  assert(filter_index >= filter_offsets_.size());
  // Close every filter range before this block's: the first with the keys
  // gathered so far, the rest empty.
  while (filter_index > filter_offsets_.size()) GenerateFilter();
}

void FilterBlockBuilder::AddKey(Slice key) {
  key_starts_.push_back(keys_.size());
  keys_.append(key.data(), key.size());
}

Slice FilterBlockBuilder::Finish() {
  if (!key_starts_.empty()) GenerateFilter();
  const auto array_offset = static_cast<uint32_t>(result_.size());
  for (uint32_t offset : filter_offsets_) PutFixed32(&result_, offset);
  PutFixed32(&result_, array_offset);
  result_.push_back(static_cast<char>(kFilterBaseLg));
  return result_;
}

void FilterBlockBuilder::GenerateFilter() {
  filter_offsets_.push_back(static_cast<uint32_t>(result_.size()));
  if (key_starts_.empty()) return;  // an empty filter
  scratch_keys_.clear();
  for (size_t i = 0; i < key_starts_.size(); ++i) {
    const size_t end = i + 1 < key_starts_.size() ? key_starts_[i + 1] : keys_.size();
    scratch_keys_.emplace_back(keys_.data() + key_starts_[i], end - key_starts_[i]);
  }
  policy_->CreateFilter(scratch_keys_, &result_);
  keys_.clear();
  key_starts_.clear();
}

Result<FilterBlockReader> FilterBlockReader::Parse(std::shared_ptr<const FilterPolicy> policy,
                                                   std::string contents) {
  const size_t n = contents.size();
  if (n < 5) return Status::Corruption("filter block too short");
  const int base_lg = static_cast<unsigned char>(contents[n - 1]);
  const uint32_t array_offset = DecodeFixed32(contents.data() + n - 5);
  if (array_offset > n - 5 || (n - 5 - array_offset) % 4 != 0 || base_lg >= 64) {
    return Status::Corruption("bad filter block trailer");
  }
  const size_t num = (n - 5 - array_offset) / 4;
  // Offsets must be non-decreasing and end at the array (the array offset
  // itself serves as the end of the last filter).
  uint32_t prev = 0;
  for (size_t i = 0; i <= num; ++i) {
    const uint32_t offset = DecodeFixed32(contents.data() + array_offset + 4 * i);
    if (offset < prev || offset > array_offset) return Status::Corruption("bad filter offsets");
    prev = offset;
  }
  return FilterBlockReader(std::move(policy), std::move(contents), array_offset, num, base_lg);
}

bool FilterBlockReader::KeyMayMatch(uint64_t block_offset, Slice key) const {
  const uint64_t index = block_offset >> base_lg_;
  if (index >= num_) return true;  // not covered: cannot rule anything out
  const char* array = data_.data() + array_offset_;
  const uint32_t start = DecodeFixed32(array + 4 * index);
  const uint32_t limit = DecodeFixed32(array + 4 * index + 4);
  if (start == limit) return false;  // no keys in this range
  return policy_->KeyMayMatch(key, Slice(data_.data() + start, limit - start));
}

}  // namespace corodb::table

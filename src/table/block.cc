#include "table/block.h"

#include <cassert>

#include "format/dbformat.h"
#include "util/coding.h"

namespace corodb::table {
namespace {

// Decodes the entry header at p (before `limit`): shared, non_shared and
// value length. Returns a pointer to the key delta, or nullptr when the
// header is malformed or the entry does not fit before `limit`.
const char* DecodeEntry(const char* p, const char* limit, uint32_t* shared, uint32_t* non_shared,
                        uint32_t* value_length) {
  if (limit - p < 3) return nullptr;
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  *shared = u[0];
  *non_shared = u[1];
  *value_length = u[2];
  if ((*shared | *non_shared | *value_length) < 128) {
    p += 3;  // all three fit in one byte each: the common case
  } else {
    if ((p = GetVarint32Ptr(p, limit, shared)) == nullptr) return nullptr;
    if ((p = GetVarint32Ptr(p, limit, non_shared)) == nullptr) return nullptr;
    if ((p = GetVarint32Ptr(p, limit, value_length)) == nullptr) return nullptr;
  }
  if (static_cast<uint64_t>(limit - p) < static_cast<uint64_t>(*non_shared) + *value_length) {
    return nullptr;
  }
  return p;
}

}  // namespace

Result<Block> Block::Parse(BlockContents contents) {
  if (contents.size() < sizeof(uint32_t)) return Status::Corruption("block too short");
  const size_t size = contents.size();
  const uint32_t num_restarts = DecodeFixed32(contents.data() + size - sizeof(uint32_t));
  const size_t max_restarts = (size - sizeof(uint32_t)) / sizeof(uint32_t);
  if (num_restarts > max_restarts) return Status::Corruption("bad restart count in block");
  const auto restart_offset =
      static_cast<uint32_t>(size - (1 + static_cast<size_t>(num_restarts)) * sizeof(uint32_t));
  return Block(std::move(contents), restart_offset, num_restarts);
}

BlockIter::BlockIter(const Block* block, const Comparator* comparator, bool internal_keys)
    : comparator_(comparator),
      internal_keys_(internal_keys),
      bytewise_internal_(internal_keys && IsBytewiseInternalComparator(comparator)),
      data_(block->data_.data()),
      restarts_(block->restart_offset_),
      num_restarts_(block->num_restarts_),
      current_(restarts_),
      restart_index_(num_restarts_),
      value_(data_ + restarts_, 0) {}

uint32_t BlockIter::RestartPoint(uint32_t index) const {
  assert(index < num_restarts_);
  return DecodeFixed32(data_ + restarts_ + index * sizeof(uint32_t));
}

void BlockIter::SeekToRestartPoint(uint32_t index) {
  key_.clear();
  restart_index_ = index;
  // ParseNextKey() starts at NextEntryOffset(), i.e. at the end of value_.
  uint32_t offset = RestartPoint(index);
  if (offset > restarts_) offset = restarts_;  // damaged: ParseNextKey reports the end
  value_ = Slice(data_ + offset, 0);
}

void BlockIter::MarkInvalid() {
  current_ = restarts_;
  restart_index_ = num_restarts_;
  key_.clear();
  value_ = Slice(data_ + restarts_, 0);
}

void BlockIter::MarkCorrupted(std::string what) {
  MarkInvalid();
  status_ = Status::Corruption(what);
}

bool BlockIter::KeyIsBad(Slice key, uint32_t offset, const char* where) {
  ParsedInternalKey parsed;
  if (ParseInternalKey(key, &parsed)) return true;  // CheckKey's test, kept in step
  MarkCorrupted(std::string("bad internal key (") + std::to_string(key.size()) + " bytes) " +
                where + " at offset " + std::to_string(offset) + " in block");
  return false;
}

bool BlockIter::ParseNextKey() {
  current_ = NextEntryOffset();
  const char* p = data_ + current_;
  const char* limit = data_ + restarts_;
  if (p >= limit) {
    MarkInvalid();
    return false;
  }
  uint32_t shared = 0, non_shared = 0, value_length = 0;
  p = DecodeEntry(p, limit, &shared, &non_shared, &value_length);
  if (p == nullptr || key_.size() < shared) {
    MarkCorrupted("bad entry in block");
    return false;
  }
  key_.truncate(shared);
  key_.append(p, non_shared);
  if (!CheckKey(key_, current_, "in an entry")) return false;
  value_ = Slice(p + non_shared, value_length);
  while (restart_index_ + 1 < num_restarts_ && RestartPoint(restart_index_ + 1) < current_) {
    ++restart_index_;
  }
  return true;
}

void BlockIter::SeekToFirst() {
  if (num_restarts_ == 0) return MarkInvalid();
  SeekToRestartPoint(0);
  ParseNextKey();
}

void BlockIter::SeekToLast() {
  if (num_restarts_ == 0) return MarkInvalid();
  SeekToRestartPoint(num_restarts_ - 1);
  while (ParseNextKey() && NextEntryOffset() < restarts_) {
  }
}

void BlockIter::Seek(Slice target) {
  if (num_restarts_ == 0) return MarkInvalid();
  // Binary search for the last restart point whose key is < target; the
  // answer is at or after it and before the next one.
  uint32_t left = 0;
  uint32_t right = num_restarts_ - 1;
  const char* limit = data_ + restarts_;
  while (left < right) {
    const uint32_t mid = left + (right - left + 1) / 2;
    const uint32_t offset = RestartPoint(mid);
    uint32_t shared = 0, non_shared = 0, value_length = 0;
    const char* key_ptr = offset < restarts_
                              ? DecodeEntry(data_ + offset, limit, &shared, &non_shared, &value_length)
                              : nullptr;
    if (key_ptr == nullptr || shared != 0) {
      return MarkCorrupted("bad restart point in block");
    }
    if (!CheckKey(Slice(key_ptr, non_shared), offset, "at a restart point")) return;
    if (Compare(Slice(key_ptr, non_shared), target) < 0) {
      left = mid;
    } else {
      right = mid - 1;
    }
  }
  SeekToRestartPoint(left);
  while (ParseNextKey()) {
    if (Compare(key_, target) >= 0) return;
  }
}

void BlockIter::Next() {
  assert(Valid());
  ParseNextKey();
}

void BlockIter::Prev() {
  assert(Valid());
  // Back up to a restart point before the current entry, then walk forward
  // to the entry just before it.
  const uint32_t original = current_;
  while (RestartPoint(restart_index_) >= original) {
    if (restart_index_ == 0) return MarkInvalid();
    --restart_index_;
  }
  SeekToRestartPoint(restart_index_);
  while (ParseNextKey() && NextEntryOffset() < original) {
  }
}

}  // namespace corodb::table

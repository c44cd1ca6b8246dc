// BlockBuilder: builds one table block (data, index or metaindex) in
// LevelDB's layout:
//
//   entry       := varint32 shared + varint32 non_shared + varint32 value_size
//                  + key[shared, shared + non_shared) + value
//   block       := entry* + fixed32 restart_offset* + fixed32 num_restarts
//
// Each key shares a prefix with the key before it, except at restart points
// (every `restart_interval` entries, the first included), which store the
// whole key so that readers can binary-search them.
//
// Invariants: keys are added in strictly increasing comparator order (checked
// in debug builds by the table builder, which knows the comparator);
// restarts_ is never empty; after Finish() only Reset() may be called.
// Not thread-safe: one builder per user.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "corodb/slice.h"

namespace corodb::table {

class BlockBuilder {
 public:
  // REQUIRES: restart_interval >= 1.
  explicit BlockBuilder(int restart_interval);
  BlockBuilder(const BlockBuilder&) = delete;
  BlockBuilder& operator=(const BlockBuilder&) = delete;

  // Starts a new, empty block.
  void Reset();

  // Appends an entry. REQUIRES: not finished; key > every key added since Reset().
  void Add(Slice key, Slice value);

  // Appends the restart array and returns the whole block, valid until the
  // next Reset() or destruction.
  Slice Finish();

  // Size of the block Finish() would return now.
  size_t CurrentSizeEstimate() const {
    return buffer_.size() + (restarts_.size() + 1) * sizeof(uint32_t);
  }
  bool empty() const { return buffer_.empty(); }
  // The last key added (empty after Reset()).
  Slice last_key() const { return last_key_; }

 private:
  const int restart_interval_;
  std::string buffer_;
  std::vector<uint32_t> restarts_;
  int counter_ = 0;  // entries since the last restart point
  bool finished_ = false;
  std::string last_key_;
};

}  // namespace corodb::table

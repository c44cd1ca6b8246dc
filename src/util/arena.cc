#include "util/arena.h"

#include <cstdint>

namespace corodb {

char* Arena::AllocateFallback(size_t bytes) {
  if (bytes > kBlockSize / 4) {
    // Large objects get their own block so the current block's tail is not wasted.
    return NewBlock(bytes);
  }
  ptr_ = NewBlock(kBlockSize);
  remaining_ = kBlockSize;
  char* out = ptr_;
  ptr_ += bytes;
  remaining_ -= bytes;
  return out;
}

char* Arena::AllocateAligned(size_t bytes) {
  constexpr size_t kAlign = alignof(std::max_align_t) > 8 ? alignof(std::max_align_t) : 8;
  const size_t misalign = reinterpret_cast<uintptr_t>(ptr_) & (kAlign - 1);
  const size_t slop = misalign == 0 ? 0 : kAlign - misalign;
  if (bytes + slop <= remaining_) {
    char* out = ptr_ + slop;
    ptr_ += bytes + slop;
    remaining_ -= bytes + slop;
    return out;
  }
  // New blocks come from operator new[], which is aligned for max_align_t.
  return AllocateFallback(bytes);
}

char* Arena::NewBlock(size_t bytes) {
  // Not zero-filled: every byte is written before it is read, and a large
  // entry gets a block of its own that zeroing would cost a second pass over.
  blocks_.push_back(std::make_unique_for_overwrite<char[]>(bytes));
  usage_.fetch_add(bytes + sizeof(char*), std::memory_order_relaxed);
  return blocks_.back().get();
}

}  // namespace corodb

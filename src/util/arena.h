// Arena: bump allocator for memtable entries. Memory lives until the arena dies.
//
// Thread safety: Allocate* must be called by one thread at a time (the
// memtable's single writer). MemoryUsage() may be read from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

namespace corodb {

class Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Returns `bytes` (> 0) of uninitialized memory.
  char* Allocate(size_t bytes) {
    if (bytes <= remaining_) {
      char* out = ptr_;
      ptr_ += bytes;
      remaining_ -= bytes;
      return out;
    }
    return AllocateFallback(bytes);
  }

  // Like Allocate, aligned to alignof(std::max_align_t) (at least 8).
  char* AllocateAligned(size_t bytes);

  // Bytes reserved from the system so far, including block headers.
  size_t MemoryUsage() const { return usage_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kBlockSize = 4096;

  char* AllocateFallback(size_t bytes);
  char* NewBlock(size_t bytes);

  char* ptr_ = nullptr;
  size_t remaining_ = 0;
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::atomic<size_t> usage_{0};
};

}  // namespace corodb

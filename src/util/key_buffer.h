// KeyBuffer: a key's bytes kept inline up to a size that holds typical
// internal keys, on the heap beyond it, so positioning an iterator (a block's,
// a memtable's, the database's) allocates nothing for such keys. Once grown
// it keeps its heap buffer until destroyed or moved from.
//
// Invariants / thread safety: move-only (a copy would leave data_ pointing
// into the source); one user at a time.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <utility>

#include "corodb/slice.h"

namespace corodb {

class KeyBuffer {
 public:
  KeyBuffer() = default;
  KeyBuffer(const KeyBuffer&) = delete;
  KeyBuffer& operator=(const KeyBuffer&) = delete;
  KeyBuffer(KeyBuffer&& other) noexcept { *this = std::move(other); }
  KeyBuffer& operator=(KeyBuffer&& other) noexcept {
    if (this != &other) {
      heap_ = std::move(other.heap_);
      capacity_ = std::exchange(other.capacity_, kInline);
      size_ = std::exchange(other.size_, 0);
      if (heap_) {
        data_ = heap_.get();
      } else {
        std::memcpy(inline_, other.inline_, size_);
        data_ = inline_;
      }
      other.data_ = other.inline_;
    }
    return *this;
  }

  const char* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear() { size_ = 0; }
  // REQUIRES: n <= size().
  void truncate(size_t n) { size_ = n; }
  // REQUIRES: [p, p + n) does not lie in this buffer (a growth frees it).
  void append(const char* p, size_t n) {
    if (n == 0) return;  // p may be null (an empty Slice{}): no memcpy from it
    if (size_ + n > capacity_) Grow(size_ + n);
    std::memcpy(data_ + size_, p, n);
    size_ += n;
  }
  void append(Slice s) { append(s.data(), s.size()); }
  // REQUIRES: `s` does not lie in this buffer.
  void assign(Slice s) {
    size_ = 0;
    append(s.data(), s.size());
  }
  operator Slice() const { return Slice(data_, size_); }

 private:
  static constexpr size_t kInline = 48;
  void Grow(size_t need) {
    const size_t capacity = std::max(need, 2 * capacity_);
    std::unique_ptr<char[]> bigger(new char[capacity]);
    std::memcpy(bigger.get(), data_, size_);
    heap_ = std::move(bigger);
    data_ = heap_.get();
    capacity_ = capacity;
  }

  char inline_[kInline];
  std::unique_ptr<char[]> heap_;
  char* data_ = inline_;
  size_t size_ = 0;
  size_t capacity_ = kInline;
};

}  // namespace corodb

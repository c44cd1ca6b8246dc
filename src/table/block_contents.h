// BlockContents: the decoded bytes of one table block, move-only. It either
// adopts a std::string, holds a buffer allocated without being zero-filled
// first, for the read path that fills every byte at once (a copy or a
// Snappy decompression), or is a view of bytes someone else keeps (a block
// searched once and dropped, decoded into a per-thread buffer).
//
// Invariants / thread safety: immutable once filled; data() is stable for
// the object's life and across moves of a heap buffer or a view (not of an
// adopted string: take data() again after a move). A view owns nothing: the
// bytes it names must outlive it and stay unchanged.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

namespace corodb::table {

class BlockContents {
 public:
  BlockContents() = default;
  explicit BlockContents(std::string bytes) : str_(std::move(bytes)), size_(str_.size()) {}
  // `n` bytes left uninitialized: the caller fills them through
  // mutable_data() before anyone reads them.
  static BlockContents Uninitialized(size_t n) {
    BlockContents c;
    c.heap_.reset(new char[n]);  // default-initialized: no zero fill
    c.size_ = n;
    return c;
  }

  // A view of the `n` bytes at `data`, which the caller keeps (and may fill
  // through mutable_data() before anyone reads them).
  static BlockContents View(char* data, size_t n) {
    BlockContents c;
    c.view_ = data;
    c.size_ = n;
    return c;
  }

  // A moved-from object is empty (size 0).
  BlockContents(BlockContents&& other) noexcept
      : str_(std::move(other.str_)),
        heap_(std::move(other.heap_)),
        view_(std::exchange(other.view_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}
  BlockContents& operator=(BlockContents&& other) noexcept {
    str_ = std::move(other.str_);
    heap_ = std::move(other.heap_);
    view_ = std::exchange(other.view_, nullptr);
    size_ = std::exchange(other.size_, 0);
    return *this;
  }

  const char* data() const { return heap_ ? heap_.get() : view_ != nullptr ? view_ : str_.data(); }
  char* mutable_data() { return heap_ ? heap_.get() : view_ != nullptr ? view_ : str_.data(); }
  size_t size() const { return size_; }
  bool is_view() const { return view_ != nullptr; }
  // Bytes of memory held, for cache charges (0 for a view).
  size_t capacity() const { return heap_ ? size_ : view_ != nullptr ? 0 : str_.capacity(); }

 private:
  std::string str_;
  std::unique_ptr<char[]> heap_;
  char* view_ = nullptr;
  size_t size_ = 0;
};

}  // namespace corodb::table

// AsyncIterator: a position in a sorted sequence of entries whose moves may
// suspend (a table iterator loads data blocks with awaited reads).
//
// Contract, as LevelDB's Iterator: key()/value() are valid while Valid() and
// until the iterator moves; status() reports the first error met (and the
// iterator is then !Valid()). Seek(target) positions at the first entry >=
// target. Callers that iterate tightly use the fast paths: TryNext()/TryPrev()
// move without suspending when the neighbour is already in memory, and
// return false (without moving) when the caller must co_await Next()/Prev().
//
// Thread safety: one coroutine at a time; never move an iterator while one of
// its moves is suspended.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "corodb/slice.h"
#include "corodb/status.h"

namespace corodb::table {

class AsyncIterator {
 public:
  AsyncIterator() = default;
  AsyncIterator(const AsyncIterator&) = delete;
  AsyncIterator& operator=(const AsyncIterator&) = delete;
  // Held resources are released last-held first.
  virtual ~AsyncIterator() {
    while (held_ != nullptr) {
      std::unique_ptr<HeldBase> next = std::move(held_->next);  // out of the node first
      held_ = std::move(next);
    }
  }

  virtual bool Valid() const = 0;
  // REQUIRES: Valid().
  virtual Slice key() const = 0;
  virtual Slice value() const = 0;
  virtual Status status() const = 0;

  // SUSPENDS: each may read blocks. `target` must stay alive until Seek completes.
  virtual boost::asio::awaitable<void> SeekToFirst() = 0;
  virtual boost::asio::awaitable<void> SeekToLast() = 0;
  virtual boost::asio::awaitable<void> Seek(Slice target) = 0;
  // REQUIRES: Valid().
  virtual boost::asio::awaitable<void> Next() = 0;
  virtual boost::asio::awaitable<void> Prev() = 0;

  // REQUIRES: Valid(). Moves like Next()/Prev() and returns true when that
  // needs no I/O; otherwise returns false and does not move.
  virtual bool TryNext() { return false; }
  virtual bool TryPrev() { return false; }
  // Seek(target) without I/O: true when done. false: the position is
  // unspecified until the caller co_awaits Seek(target).
  virtual bool TrySeek(Slice /*target*/) { return false; }

  // A list, newest first: one allocation per resource (an iterator per
  // seek holds a table handle, so this is on seekrandom's path).
  struct HeldBase {
    virtual ~HeldBase() = default;
    std::unique_ptr<HeldBase> next;
  };
  // A resource in the node that will hold it: for one whose address must be
  // known before the iterator exists (Hold(std::unique_ptr<Held<T>>)).
  template <typename T>
  struct Held final : HeldBase {
    template <typename... Args>
    explicit Held(Args&&... args) : value(std::forward<Args>(args)...) {}
    T value;
  };

  // Keeps `resource` (e.g. a cache handle pinning the table read) alive
  // until the iterator is destroyed.
  template <typename T>
  void Hold(T resource) {
    Hold(std::make_unique<Held<T>>(std::move(resource)));
  }
  template <typename T>
  void Hold(std::unique_ptr<Held<T>> held) {
    held->next = std::move(held_);
    held_ = std::move(held);
  }

 private:
  std::unique_ptr<HeldBase> held_;
};

}  // namespace corodb::table

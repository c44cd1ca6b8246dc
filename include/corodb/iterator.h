// Iterator: a position in the database's keys, in order, as of one read
// point (the ReadOptions::snapshot it was created with, or the newest
// visible write then). It sees user keys only: for each key the newest
// version visible at its read point, deleted keys hidden.
//
//   std::unique_ptr<corodb::Iterator> it = db->NewIterator({});
//   for (co_await it->SeekToFirst(); it->Valid();) {
//     use(it->key(), it->value());
//     if (!it->TryNext()) co_await it->Next();   // no suspension when in memory
//   }
//   if (!it->status().ok()) ...;
//
// Moves that need a table block not in memory suspend; the Try* forms make
// a move that needs no I/O cost no coroutine at all. So that a scan over
// memory does not hold its thread, the move that ends a read turn on its
// thread (200 µs or 4096 reads, Try* forms included; db.h) first yields to
// the caller's executor: a Try* form then returns false and
// co_await Next()/Prev() makes the move. The iterator pins the
// memtables and table files it reads: flushes and compactions that replace
// them meanwhile do not change what it sees.
//
// Errors: status() reports the first error since the last seek (a damaged
// table names the file and offset), and the iterator is then !Valid(). Misuse
// — Next()/Prev() on an iterator that is not Valid() — sets InvalidArgument
// instead of crashing; key()/value() of an invalid iterator are empty. A
// seek starts over: it clears the error and positions the iterator anew.
//
// Thread safety: one coroutine at a time, never a move while another move of
// the same iterator is suspended. It may be moved on any thread. It may
// outlive the DB object (it keeps the caches its blocks live in), but must
// not be moved after the DB is destroyed.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "corodb/slice.h"
#include "corodb/status.h"

namespace corodb {

class Iterator {
 public:
  Iterator() = default;
  Iterator(const Iterator&) = delete;
  Iterator& operator=(const Iterator&) = delete;
  virtual ~Iterator() = default;

  virtual bool Valid() const = 0;
  // The current key and value; valid until the iterator moves or dies.
  virtual Slice key() const = 0;
  virtual Slice value() const = 0;
  virtual Status status() const = 0;

  // SUSPENDS: to read table blocks that are not in memory, and at the end of
  // a read turn on its thread to yield to the caller's executor (a post). `target`
  // must stay alive until Seek completes (as it does with co_await).
  virtual boost::asio::awaitable<void> SeekToFirst() = 0;
  virtual boost::asio::awaitable<void> SeekToLast() = 0;
  // The first key >= target.
  virtual boost::asio::awaitable<void> Seek(Slice target) = 0;
  // REQUIRES: Valid() (otherwise status() becomes InvalidArgument).
  virtual boost::asio::awaitable<void> Next() = 0;
  virtual boost::asio::awaitable<void> Prev() = 0;

  // Next()/Prev() without a coroutine: true when the move completed without
  // I/O. false: the move needs a read, or it is this thread's turn to yield;
  // the caller must co_await Next() (or Prev(), the same direction), which
  // completes this same move. Until then the iterator has no position
  // (key()/value() must not be used).
  virtual bool TryNext() = 0;
  virtual bool TryPrev() = 0;
  // Seek(target) without a coroutine: true when the seek completed without
  // I/O. false: it needs a read, or it is this thread's turn to yield; the
  // caller then co_awaits Seek(target) (or another seek), which starts over.
  // Until then the iterator is not Valid() and a Next()/Prev() is misuse.
  // Iterators that have no such path return false.
  virtual bool TrySeek(Slice /*target*/) { return false; }
};

}  // namespace corodb

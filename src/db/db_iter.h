// DBIter: the public Iterator over a DB, built on a merging iterator of
// internal keys (memtables and tables). It resolves each user key to its
// newest version at or below the read's sequence and hides deletions, in
// both directions (LevelDB's DBIter rules).
//
// Every move is written as resumable steps: a synchronous part that moves
// the internal iterator with its TryNext()/TryPrev() fast paths, and, when
// one of those needs I/O, a recorded pending internal move plus the phase
// to resume after it. The awaitable moves run the same steps and await the
// pending internal moves; TryNext()/TryPrev() run them without a coroutine.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "corodb/comparator.h"
#include "corodb/iterator.h"
#include "format/dbformat.h"
#include "table/iterator.h"

namespace corodb {

// Called with an internal key about every 1 MiB of data read (LevelDB's
// read sampling for seek compactions).
using ReadSampler = std::function<void(Slice internal_key)>;

// A DB's spare internal iterator: the merging iterator (memtables, tables,
// and what it pins) that a destroyed DB iterator leaves behind, kept for
// the next NewIterator over the same view with the same options, which then
// builds only the DB iterator on top. An iterator per seek (seekrandom)
// otherwise builds and tears down the whole tree each time.
//
// At most one is kept, and only while its view is the DB's current one: a
// new view (SetCurrent) hands the kept one back, so it never keeps files or
// memtables alive past the view that holds them. An internal iterator with
// an error, or left in the middle of a move, is not kept. Whoever gets an
// iterator back from Put, SetCurrent or Close destroys it, outside its own
// locks (destroying one releases table and cache handles).
//
// Thread safety: every method may be called from any thread; the handoff
// through the mutex orders one user's moves before the next user's.
class IteratorRecycler {
 public:
  // What a kept iterator was built for. `view` identifies the DB's view; the
  // kept iterator pins it, so no other view can share its address meanwhile.
  struct Key {
    const void* view = nullptr;
    bool verify_checksums = false;
    bool fill_cache = true;
    // Built without the view's memtable, which was empty then. A memtable
    // never empties again, so a tree built with it is never taken for one
    // that is empty, nor one built without it once it holds entries.
    bool without_mem = false;
    bool operator==(const Key&) const = default;
  };

  // The kept iterator when it was built for `key` (unpositioned for the
  // caller: its first move must be a seek), else nullptr.
  std::unique_ptr<table::AsyncIterator> Take(const Key& key);
  // Keeps `it` when `key.view` is the current view and the DB is open;
  // returns what is to be destroyed (`it`, or the one it replaces).
  [[nodiscard]] std::unique_ptr<table::AsyncIterator> Put(const Key& key,
                                                          std::unique_ptr<table::AsyncIterator> it);
  // The DB's view is now `view`: returns the kept iterator if it was over
  // another one.
  [[nodiscard]] std::unique_ptr<table::AsyncIterator> SetCurrent(const void* view);
  // The DB closes: keeps nothing from now on; returns what it kept.
  [[nodiscard]] std::unique_ptr<table::AsyncIterator> Close();

 private:
  std::mutex mu_;
  const void* current_ = nullptr;  // guarded by mu_
  bool closed_ = false;            // guarded by mu_
  Key kept_key_;                   // guarded by mu_
  std::unique_ptr<table::AsyncIterator> kept_;  // guarded by mu_
};

// `internal`: over internal keys, unpositioned, holding what it reads.
// `ucmp` must outlive the iterator. With a `recycler`, the destroyed
// iterator offers `internal` to it under `key`.
std::unique_ptr<Iterator> NewDBIterator(const Comparator* ucmp,
                                        std::unique_ptr<table::AsyncIterator> internal,
                                        SequenceNumber sequence, ReadSampler sampler,
                                        uint32_t seed,
                                        std::shared_ptr<IteratorRecycler> recycler = nullptr,
                                        IteratorRecycler::Key key = {});

}  // namespace corodb

namespace corodb {
// An iterator that is never Valid() and reports `status`.
std::unique_ptr<Iterator> NewErrorIterator(Status status);
}  // namespace corodb

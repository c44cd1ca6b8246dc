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

#include "corodb/comparator.h"
#include "corodb/iterator.h"
#include "format/dbformat.h"
#include "table/iterator.h"

namespace corodb {

// Called with an internal key about every 1 MiB of data read (LevelDB's
// read sampling for seek compactions).
using ReadSampler = std::function<void(Slice internal_key)>;

// `internal`: over internal keys, unpositioned, holding what it reads.
// `ucmp` must outlive the iterator.
std::unique_ptr<Iterator> NewDBIterator(const Comparator* ucmp,
                                        std::unique_ptr<table::AsyncIterator> internal,
                                        SequenceNumber sequence, ReadSampler sampler,
                                        uint32_t seed);

}  // namespace corodb

namespace corodb {
// An iterator that is never Valid() and reports `status`.
std::unique_ptr<Iterator> NewErrorIterator(Status status);
}  // namespace corodb

// The merging iterator: one sorted sequence made of several (the memtables
// and tables of a DB read, the inputs of a compaction).
//
// It yields the union of its children's entries in comparator order, every
// duplicate included; entries with equal keys come in child order (the
// child with the lower index first: callers pass the newest source first).
// Keys within one child are expected to be distinct, as internal keys are.
// It moves in both directions and may change direction anywhere: the other
// children are then repositioned around key() (awaited seeks).
//
// Errors: when a child reports an error (it turned invalid with a non-OK
// status), the merging iterator turns invalid too — a merge that silently
// left out one source could resurrect deleted keys — and status() reports
// the first non-OK child status, in child order. The next Seek*() clears it
// as far as the children's Seek*() clear theirs.
//
// Seek(target): `target` must not point into this iterator's own key() (the
// children move one after the other while they seek); copy it first.
//
// Fast paths: TryNext()/TryPrev() move without suspending when the child at
// the current entry moves without suspending (its own TryNext()/TryPrev()
// returned true) and no change of direction is needed; otherwise they move
// nothing and return false.
//
// Invariants / thread safety: one coroutine at a time (as every
// AsyncIterator). heap_ holds exactly the valid children, each with its
// current key, ordered for direction_; heap_.front() is the current entry.
// No memory is allocated per step.
#pragma once

#include <memory>
#include <vector>

#include "corodb/comparator.h"
#include "table/iterator.h"

namespace corodb::table {

// An iterator over the union of `children` ordered by `cmp` (not owned; must
// outlive the iterator). Takes the children over. With no children it is
// always invalid (status OK); with one it may be that child itself.
std::unique_ptr<AsyncIterator> NewMergingIterator(
    const Comparator* cmp, std::vector<std::unique_ptr<AsyncIterator>> children);

}  // namespace corodb::table

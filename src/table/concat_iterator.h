// The concatenating iterator: one sorted run of disjoint files (an LSM level
// >= 1) iterated as one sequence, opening each file only when it is reached.
//
// Seek(target) picks, by binary search over the files' largest keys, the
// first file whose largest key is >= target and seeks in it; Next()/Prev()
// cross into the neighbouring file (opened through the factory, which for a
// DB goes through the table cache) when the current one runs out, skipping
// files with no entries. Only the file being iterated is kept open: moving
// to another file releases the previous file's iterator first.
//
// Seek(target): `target` must not point into this iterator's own key() (the
// current file's iterator may be released before the seek); copy it first.
//
// Errors: a file that cannot be opened (the factory's status, which names
// the file) or a file iterator's error turns the iterator invalid, and
// status() reports it until the next Seek*().
//
// Fast paths: TryNext()/TryPrev() are the current file iterator's; they
// return false at a file boundary (moving into another file may need I/O).
//
// Invariants / thread safety: one coroutine at a time. file_ is the
// iterator of files_[index_] (or null, index_ == files_.size()).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "corodb/comparator.h"
#include "corodb/result.h"
#include "table/iterator.h"

namespace corodb::table {

// One file of the run. `smallest` and `largest` are encoded keys in the
// iterator's comparator order (internal keys for a DB level).
// The bounds are not copied: they must outlive the iterator (a DB iterator
// holds the Version whose FileInfo keys they point to).
struct ConcatFile {
  uint64_t number = 0;
  uint64_t size = 0;
  Slice smallest;
  Slice largest;
};

// Opens an iterator over one file (unpositioned). The ConcatFile lives as
// long as the concatenating iterator, so the awaitable may refer to it.
// Errors should name the file. The file iterators' TryNext()/TryPrev() must
// not run off their file's ends (return false at the last/first entry, as
// TableIterator does): crossing into the next file is the concatenating
// iterator's business.
using FileIteratorFactory = std::function<boost::asio::awaitable<Result<std::unique_ptr<AsyncIterator>>>(
    const ConcatFile&)>;

// Opens an iterator over one file without I/O (the table is already open),
// or returns nullptr. Optional.
using FileIteratorTryFactory = std::function<std::unique_ptr<AsyncIterator>(const ConcatFile&)>;

// An iterator over `files`, which are sorted by `cmp` (not owned; must
// outlive the iterator) and disjoint. SUSPENDS (its moves): in `open` when a
// file is reached, and in the file iterators' moves.
std::unique_ptr<AsyncIterator> NewConcatenatingIterator(const Comparator* cmp,
                                                        std::vector<ConcatFile> files,
                                                        FileIteratorFactory open,
                                                        FileIteratorTryFactory try_open = nullptr);

}  // namespace corodb::table

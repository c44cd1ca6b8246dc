// Comparator: the total order of user keys. Its Name() is written to the
// MANIFEST; a database must be reopened with a comparator of the same name.
//
// Thread safety: implementations must be safe to call from many threads.
#pragma once

#include <string>

#include "corodb/slice.h"

namespace corodb {

class Comparator {
 public:
  virtual ~Comparator() = default;

  // <0, 0, >0 as a is before, equal to, after b.
  virtual int Compare(Slice a, Slice b) const = 0;

  // Stable name, e.g. "leveldb.BytewiseComparator".
  virtual const char* Name() const = 0;

  // If *start < limit, may shorten *start to a key in [*start, limit).
  // Used to keep index blocks small. Doing nothing is correct.
  virtual void FindShortestSeparator(std::string* start, Slice limit) const = 0;

  // May change *key to a short key >= *key. Doing nothing is correct.
  virtual void FindShortSuccessor(std::string* key) const = 0;
};

// The default order: lexicographic by unsigned bytes. Named
// "leveldb.BytewiseComparator" so LevelDB directories interoperate.
// The returned object is a singleton that lives for the whole program.
const Comparator* BytewiseComparator();

}  // namespace corodb

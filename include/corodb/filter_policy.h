// FilterPolicy: a compact summary of a set of keys that answers "may this key
// be in the set?" with no false negatives. Tables store one filter per 2 KiB
// of data-block offsets, so a point lookup can skip a block read when the
// filter says no.
//
// The built-in bloom policy writes LevelDB's "leveldb.BuiltinBloomFilter2"
// format byte for byte (same hash, same probe count, same layout), so tables
// written by corodb and by LevelDB read each other's filters.
//
// Thread safety: implementations must be safe to call from many threads
// (policies are immutable after construction).
#pragma once

#include <memory>
#include <span>
#include <string>

#include "corodb/slice.h"

namespace corodb {

class FilterPolicy {
 public:
  virtual ~FilterPolicy() = default;

  // Stable name, stored in every table's metaindex as "filter." + Name().
  // Change it whenever the encoding changes, or old filters are misread.
  virtual const char* Name() const = 0;

  // Appends to *dst a filter that summarizes `keys` (in table order; may
  // contain duplicates). Must not modify the existing contents of *dst.
  virtual void CreateFilter(std::span<const Slice> keys, std::string* dst) const = 0;

  // True when `key` may be in the set `filter` was built from; false means
  // it certainly is not. `filter` is what CreateFilter appended (possibly
  // corrupt: implementations must not read outside it).
  virtual bool KeyMayMatch(Slice key, Slice filter) const = 0;
};

// A bloom filter with about `bits_per_key` bits per key (10 gives ~1% false
// positives), compatible with LevelDB's NewBloomFilterPolicy(bits_per_key).
// Note for users of a custom policy with a DB: tables built by the DB filter
// user keys, as LevelDB does.
std::shared_ptr<const FilterPolicy> NewBloomFilterPolicy(int bits_per_key);

}  // namespace corodb

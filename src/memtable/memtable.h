// MemTable: the in-memory table of recent writes, a skiplist of entries in
// LevelDB's memtable encoding:
//
//   entry := varint32(internal_key.size()) + internal_key
//            + varint32(value.size()) + value
//
// ordered by the InternalKeyComparator (user key ascending, then sequence
// descending), so the newest entry for a user key comes first.
//
// Invariants / thread safety:
// - Add() is called by one writer at a time (the commit loop on the engine
//   executor). Get(), iterators and ApproximateMemoryUsage() may run on any
//   thread at the same time, without locks (see skiplist.h).
// - A memtable is shared between the DB and its readers through
//   std::shared_ptr: Create() is the only way to make one, and every iterator
//   holds a reference, so the memtable lives until the last user drops it.
// - Entries are never removed or changed; memory is freed with the memtable.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "corodb/slice.h"
#include "corodb/status.h"
#include "format/dbformat.h"
#include "memtable/skiplist.h"
#include "util/arena.h"
#include "util/key_buffer.h"

namespace corodb {

class MemTable : public std::enable_shared_from_this<MemTable> {
 private:
  // Orders entries (pointers to their varint32 length prefix) by internal key.
  struct KeyComparator {
    explicit KeyComparator(const InternalKeyComparator& c)
        : comparator(c), bytewise(IsBytewiseInternalComparator(&comparator)) {}
    InternalKeyComparator comparator;
    // The user comparator is BytewiseComparator(): compared inline
    // (CompareBytewiseInternalKeys), not through two virtual calls.
    bool bytewise;
    int operator()(const char* a, const char* b) const;
  };
  using Table = SkipList<const char*, KeyComparator>;

 public:
  // `comparator`'s user comparator must outlive the memtable.
  static std::shared_ptr<MemTable> Create(const InternalKeyComparator& comparator);

  MemTable(const MemTable&) = delete;
  MemTable& operator=(const MemTable&) = delete;

  // Adds an entry mapping `key` at `seq` to `value` (empty for a deletion).
  // REQUIRES: one writer at a time; (key, seq) not already present.
  void Add(SequenceNumber seq, ValueType type, Slice key, Slice value);

  // Looks up the newest entry for key.user_key() with sequence <=
  // key's sequence. Returns true when there is one: for a value, stores it in
  // *value (and leaves *s alone); for a deletion, sets *s to NotFound. Returns
  // false when the memtable knows nothing about the key. Any thread.
  bool Get(const LookupKey& key, std::string* value, Status* s) const;

  // Whether nothing was added. Any thread.
  bool Empty() const {
    Table::Iterator it(&table_);
    it.SeekToFirst();
    return !it.Valid();
  }

  // Bytes of memory the memtable holds (arena blocks). Any thread.
  size_t ApproximateMemoryUsage() const { return arena_.MemoryUsage(); }

  // Iterates internal keys in order. Holds a reference to the memtable, so it
  // stays usable after the DB has dropped its own. Any thread; one thread per
  // iterator at a time.
  class Iterator {
   public:
    explicit Iterator(std::shared_ptr<const MemTable> mem);

    bool Valid() const { return iter_.Valid(); }
    // Positions at the first entry whose internal key >= `internal_key`.
    void Seek(Slice internal_key);
    void SeekToFirst() { iter_.SeekToFirst(); }
    void SeekToLast() { iter_.SeekToLast(); }
    // REQUIRES: Valid() for the four below.
    void Next() { iter_.Next(); }
    void Prev() { iter_.Prev(); }
    // The internal key; valid while the memtable lives.
    Slice key() const;
    Slice value() const;
    // Always OK: a memtable cannot be corrupt. (For a uniform iterator API.)
    Status status() const { return Status::OK(); }

   private:
    std::shared_ptr<const MemTable> mem_;
    Table::Iterator iter_;
    KeyBuffer seek_key_;  // scratch for Seek's memtable key
  };

  std::unique_ptr<Iterator> NewIterator() const {
    return std::make_unique<Iterator>(shared_from_this());
  }

 private:
  explicit MemTable(const InternalKeyComparator& comparator);

  KeyComparator comparator_;
  Arena arena_;
  Table table_;
};

}  // namespace corodb

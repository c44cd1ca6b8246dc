// Block: one decoded (uncompressed) table block, and BlockIter, which walks
// its entries in both directions (layout in table/block_builder.h).
//
// Damage never crashes a reader: every length and restart offset is checked
// against the block's bounds (and, for blocks of internal keys, every key's
// form), and a bad entry turns the iterator invalid with a Corruption status.
//
// Invariants / thread safety: a Block is immutable once built, so any number
// of iterators on any threads may read it at once; it must outlive them. A
// BlockIter is used by one thread at a time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "corodb/comparator.h"
#include "corodb/slice.h"
#include "corodb/status.h"
#include "corodb/result.h"
#include "format/dbformat.h"
#include "table/block_contents.h"
#include "table/snappy_stream.h"
#include "util/key_buffer.h"

namespace corodb::table {

class Block {
 public:
  // Takes the block's contents. Corruption (without a file name; callers add
  // it) when the restart array does not fit.
  static Result<Block> Parse(BlockContents contents);
  static Result<Block> Parse(std::string contents) {
    return Parse(BlockContents(std::move(contents)));
  }

  Block(Block&&) noexcept = default;
  Block& operator=(Block&&) noexcept = default;

  // Bytes of memory the block holds, for cache charges.
  size_t charge() const { return ChargeFor(data_.capacity()); }
  // The charge of a block whose contents hold `bytes` of memory.
  static size_t ChargeFor(size_t bytes) { return bytes + sizeof(Block); }
  size_t size() const { return data_.size(); }
  uint32_t num_restarts() const { return num_restarts_; }
  // True when the block holds no entries (only its restart array).
  bool empty() const { return restart_offset_ == 0; }

 private:
  friend class BlockIter;
  Block(BlockContents data, uint32_t restart_offset, uint32_t num_restarts)
      : data_(std::move(data)), restart_offset_(restart_offset), num_restarts_(num_restarts) {}

  BlockContents data_;
  uint32_t restart_offset_;  // start of the restart array
  uint32_t num_restarts_;
};

// This thread's pool of buffers up to 256 KiB (LazyBlock's, ScanWindow's):
// one of at least `need` bytes (its size in *capacity), or null when none
// fits. Return one of `capacity` bytes when done; it is freed when the pool
// is full, gone (thread exit) or it is larger. Under ASan a pooled buffer
// is poisoned.
std::unique_ptr<char[]> TakePooledBuffer(size_t need, size_t* capacity);
void ReturnPooledBuffer(std::unique_ptr<char[]> buf, size_t capacity);

// A data block kept in its stored (Snappy) form and decoded as a BlockIter
// over it moves forward (BlockIter's second constructor). It keeps its own
// copy of the stored bytes, and one buffer across Resets, so an iterator
// that moves through many blocks allocates once. Buffers of ordinary size
// outlive their LazyBlock in a small per-thread pool: an iterator made per
// seek (seekrandom) takes one back instead of allocating.
//
// Invariants / thread safety: one user at a time; it may be destroyed on
// another thread than the one it was used on (its buffer joins that
// thread's pool).
class LazyBlock {
 public:
  LazyBlock() = default;
  LazyBlock(const LazyBlock&) = delete;
  LazyBlock& operator=(const LazyBlock&) = delete;
  ~LazyBlock();

  // Starts decoding a copy of `stored`, the block's Snappy bytes without
  // trailer (the caller may reuse them at once). False when its stated
  // length is impossible or above `max_length`; then the caller decodes
  // the block as usual (which reports the damage).
  // `whole`: for a scan, which reads every entry anyway — the stream is
  // decoded to its end (or its damage) at once, straight from `stored`,
  // with no copy and no decode step per few entries. The stream then never
  // reads its input again, and its reader meets damage where it would have
  // met it decoding as it went.
  bool Reset(Slice stored, size_t max_length, bool whole = false);
  SnappyStream* stream() { return &stream_; }

 private:
  SnappyStream stream_;
  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;
};

// What a BlockIter's backward walk passed (BlockIter::Prev): the entries
// from a restart point up to the current one, up to kEntries of them with
// their keys copied, so that the Prevs after the walk step back through
// them without walking again: a backward scan decodes each entry once, not
// half a restart interval's worth per step. Owned by the iterator's user
// (a TableIterator keeps one across its blocks, made at its first backward
// move), so a BlockIter itself stays small.
struct PrevRecord {
  struct Entry {
    uint32_t offset;
    uint32_t key_at;  // in keys
    uint32_t key_size;
    uint32_t value_at;  // in the block
    uint32_t value_size;
  };
  static constexpr uint32_t kEntries = 16;  // LevelDB's restart interval
  static constexpr uint32_t kKeyBytes = 768;
  uint32_t count = 0;  // entries recorded; 0: none
  uint32_t pos = 0;    // entries[pos] is the current entry while the record applies
  Entry entries[kEntries];
  char keys[kKeyBytes];
};

class BlockIter {
 public:
  // `block` and `comparator` must outlive the iterator. Starts invalid.
  // With `internal_keys`, every key decoded must be a well-formed internal
  // key (ParseInternalKey) before it is compared or returned; one that is
  // not is Corruption (TableOptions::internal_keys).
  BlockIter(const Block* block, const Comparator* comparator, bool internal_keys = false);
  // Iterates the block `stream` decodes, decoding only as far as the moves
  // need: SeekToFirst, Seek (a walk from the block's front, not a binary
  // search: the restart array at the end is not decoded yet) and Next read
  // up to the entry they reach, half a block on average; SeekToLast, Prev
  // and AtLast at the last entry decode the rest and go on as over a Block.
  // A damaged stream or restart array is Corruption when a move reaches it.
  // The block holds internal keys (checked as with `internal_keys`): the
  // walk recognizes the restart array by its first offset, 0, which reads
  // as an entry with an empty key. REQUIRES: `stream` was set up (Init,
  // SetOutput) and nothing decoded yet or only by iterators like this one;
  // it outlives the iterator.
  BlockIter(SnappyStream* stream, const Comparator* comparator);

  bool Valid() const { return current_ < restarts_; }
  // OK, or Corruption after a damaged entry was met (then !Valid()).
  const Status& status() const { return status_; }
  // REQUIRES: Valid(). Valid until the iterator moves.
  Slice key() const { return key_; }
  Slice value() const { return value_; }

  void SeekToFirst();
  void SeekToLast();
  // Positions at the first entry with key >= target (invalid if none).
  void Seek(Slice target);
  // REQUIRES: Valid().
  void Next();
  void Prev();

  // REQUIRES: Valid(). Whether the current entry is the block's last / first.
  // Over a stream, AtLast decodes the next entry's first bytes (and, at
  // the last entry, the rest of the block); check status() after it.
  bool AtLast() {
    if (stream_ != nullptr && !LazyEntryFollows()) DecodeRest();
    return NextEntryOffset() >= restarts_;
  }
  bool AtFirst() const { return current_ == 0; }

  // Records backward walks in *record (emptied now: it may hold another
  // block's entries), which must outlive this iterator's use of it; null
  // stops recording. Without a record every Prev walks.
  void UsePrevRecord(PrevRecord* record) {
    record_ = record;
    if (record_ != nullptr) record_->count = 0;
  }

 private:
  uint32_t NextEntryOffset() const {
    return static_cast<uint32_t>(value_.data() + value_.size() - data_);
  }
  uint32_t RestartPoint(uint32_t index) const;
  void SeekToRestartPoint(uint32_t index);
  // Decodes the entry at NextEntryOffset(); false at the end or on damage.
  bool ParseNextKey();
  // ParseNextKey over a stream still decoding.
  bool ParseNextKeyLazily();
  // Over a stream: decodes the rest of the block and reads its restart
  // array, after which the iterator works as over a Block (stream_ null).
  // False (and Corruption) when the stream or the restart array is damaged.
  bool DecodeRest();
  // Over a stream: true when bytes of another entry follow the current
  // one (whether it parses is Next's business), false when the block's
  // end or its restart array does.
  bool LazyEntryFollows();
  void MarkInvalid();
  void MarkCorrupted(std::string what);
  // False (and the iterator marked corrupted) when internal keys are
  // required and `key`, decoded at `offset`, is not one.
  bool CheckKey(Slice key, uint32_t offset, const char* where) {
    // ParseInternalKey's test, inline: the 8-byte tag, a known type.
    if (!internal_keys_ ||
        (key.size() >= 8 && static_cast<unsigned char>(key[key.size() - 8]) <= kTypeValue)) {
      return true;
    }
    return KeyIsBad(key, offset, where);
  }
  bool KeyIsBad(Slice key, uint32_t offset, const char* where);
  int Compare(Slice a, Slice b) const {
    return bytewise_internal_ ? CompareBytewiseInternalKeys(a, b) : comparator_->Compare(a, b);
  }

  // Prev through the record; false when it does not apply.
  bool PrevFromRecord();

  const Comparator* comparator_;
  const bool internal_keys_;
  // Checked keys in InternalKeyComparator-over-bytewise order: compared
  // inline (CompareBytewiseInternalKeys), not through two virtual calls.
  const bool bytewise_internal_;
  const char* data_;
  uint32_t restarts_;       // offset of the restart array; also "past the end"
  uint32_t num_restarts_;
  uint32_t current_;        // offset of the current entry; restarts_ when invalid
  uint32_t restart_index_;  // restart point at or before current_
  KeyBuffer key_;
  Slice value_;
  Status status_;
  // The stream still decoding the block (then restarts_ is its length,
  // an upper bound, and num_restarts_ 0), or null.
  SnappyStream* stream_ = nullptr;
  PrevRecord* record_ = nullptr;  // where Prev records its walks, or null
};

}  // namespace corodb::table

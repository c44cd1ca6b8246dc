#include "table/block.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include <algorithm>
#include <cassert>
#include <cstring>

#include "format/dbformat.h"
#include "util/coding.h"

namespace corodb::table {
namespace {

// Decoded ahead of a lazy iterator per call: a few entries' worth, so a
// call's cost is spread and little is decoded past where the moves stop.
constexpr size_t kLazyStep = 256;
// The longest entry header: three 5-byte varints.
constexpr size_t kMaxEntryHeader = 15;

// Decodes the entry header at p (before `limit`): shared, non_shared and
// value length. Returns a pointer to the key delta, or nullptr when the
// header is malformed or the entry does not fit before `limit`.
const char* DecodeEntry(const char* p, const char* limit, uint32_t* shared, uint32_t* non_shared,
                        uint32_t* value_length) {
  if (limit - p < 3) return nullptr;
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  *shared = u[0];
  *non_shared = u[1];
  *value_length = u[2];
  if ((*shared | *non_shared | *value_length) < 128) {
    p += 3;  // all three fit in one byte each: the common case
  } else {
    if ((p = GetVarint32Ptr(p, limit, shared)) == nullptr) return nullptr;
    if ((p = GetVarint32Ptr(p, limit, non_shared)) == nullptr) return nullptr;
    if ((p = GetVarint32Ptr(p, limit, value_length)) == nullptr) return nullptr;
  }
  if (static_cast<uint64_t>(limit - p) < static_cast<uint64_t>(*non_shared) + *value_length) {
    return nullptr;
  }
  return p;
}

}  // namespace

Result<Block> Block::Parse(BlockContents contents) {
  if (contents.size() < sizeof(uint32_t)) return Status::Corruption("block too short");
  const size_t size = contents.size();
  const uint32_t num_restarts = DecodeFixed32(contents.data() + size - sizeof(uint32_t));
  const size_t max_restarts = (size - sizeof(uint32_t)) / sizeof(uint32_t);
  if (num_restarts > max_restarts) return Status::Corruption("bad restart count in block");
  const auto restart_offset =
      static_cast<uint32_t>(size - (1 + static_cast<size_t>(num_restarts)) * sizeof(uint32_t));
  return Block(std::move(contents), restart_offset, num_restarts);
}

namespace {

// LazyBlock buffers up to this size are kept: across Resets, and in the pool.
constexpr size_t kKeepBuffer = 256 << 10;

// Buffers of LazyBlocks (and ScanWindows) destroyed on this thread, for the
// next ones made on it. Bounded: a thread keeps at most kSlots buffers (3 MiB at worst).
// Under ASan a pooled buffer is poisoned, so a reader that outlived its
// LazyBlock still fails as it would on freed memory.
class LazyBufferPool {
 public:
  LazyBufferPool() = default;
  LazyBufferPool(const LazyBufferPool&) = delete;
  LazyBufferPool& operator=(const LazyBufferPool&) = delete;
  ~LazyBufferPool() {
    for (size_t i = 0; i < count_; ++i) Unpoison(slots_[i]);
  }

  // A buffer of at least `need` bytes (its size in *capacity), or null.
  std::unique_ptr<char[]> Take(size_t need, size_t* capacity) {
    for (size_t i = count_; i-- > 0;) {
      if (slots_[i].capacity < need) continue;
      Unpoison(slots_[i]);
      *capacity = slots_[i].capacity;
      std::unique_ptr<char[]> buf = std::move(slots_[i].buf);
      if (i != count_ - 1) slots_[i] = std::move(slots_[count_ - 1]);
      --count_;
      return buf;
    }
    return nullptr;
  }
  // Keeps `buf` (of `capacity` bytes) if there is room; frees it otherwise.
  void Put(std::unique_ptr<char[]> buf, size_t capacity) {
    if (buf == nullptr || count_ == kSlots) return;
    slots_[count_].buf = std::move(buf);
    slots_[count_].capacity = capacity;
#if defined(__SANITIZE_ADDRESS__)
    ASAN_POISON_MEMORY_REGION(slots_[count_].buf.get(), capacity);
#endif
    ++count_;
  }

 private:
  static constexpr size_t kSlots = 12;
  struct Slot {
    std::unique_ptr<char[]> buf;
    size_t capacity = 0;
  };
  static void Unpoison(const Slot& slot) {
#if defined(__SANITIZE_ADDRESS__)
    ASAN_UNPOISON_MEMORY_REGION(slot.buf.get(), slot.capacity);
#else
    (void)slot;
#endif
  }
  Slot slots_[kSlots];
  size_t count_ = 0;
};

// Set when this thread's pool is gone (thread exit): a LazyBlock destroyed
// later (in another thread_local's destructor) frees its buffer instead.
thread_local bool t_pool_gone = false;

struct PoolSlot {
  LazyBufferPool pool;
  ~PoolSlot() { t_pool_gone = true; }
};

// This thread's pool, or null once it is gone.
LazyBufferPool* ThreadLazyBufferPool() {
  if (t_pool_gone) return nullptr;
  thread_local PoolSlot slot;
  return &slot.pool;
}

}  // namespace

std::unique_ptr<char[]> TakePooledBuffer(size_t need, size_t* capacity) {
  LazyBufferPool* pool = need <= kKeepBuffer ? ThreadLazyBufferPool() : nullptr;
  return pool != nullptr ? pool->Take(need, capacity) : nullptr;
}

void ReturnPooledBuffer(std::unique_ptr<char[]> buf, size_t capacity) {
  if (capacity > kKeepBuffer) return;
  if (LazyBufferPool* pool = ThreadLazyBufferPool()) pool->Put(std::move(buf), capacity);
}

LazyBlock::~LazyBlock() {
  if (buf_ == nullptr || capacity_ > kKeepBuffer) return;
  if (LazyBufferPool* pool = ThreadLazyBufferPool()) pool->Put(std::move(buf_), capacity_);
}

bool LazyBlock::Reset(Slice stored, size_t max_length, bool whole) {
  stream_ = SnappyStream();
  if (!stream_.Init(stored, max_length)) return false;
  // The decoded bytes, then (unless decoded whole now) a copy of the stored
  // ones: the block is decoded as its iterator moves, maybe long after this
  // call, and the stored bytes may be a mapping whose pages the kernel
  // evicts meanwhile (a blocking fault then) or a buffer the next read
  // overwrites.
  const size_t out = stream_.length() + SnappyStream::kSlop;
  const size_t need = out + (whole ? 0 : stored.size());
  // Kept across blocks; an unusually large one is not kept for good.
  if (need > capacity_ || (capacity_ > kKeepBuffer && need <= kKeepBuffer)) {
    LazyBufferPool* pool = ThreadLazyBufferPool();
    if (pool != nullptr && capacity_ <= kKeepBuffer) pool->Put(std::move(buf_), capacity_);
    buf_.reset();
    capacity_ = 0;
    if (pool != nullptr && need <= kKeepBuffer) buf_ = pool->Take(need, &capacity_);
    if (buf_ == nullptr) {
      const size_t want = need <= kKeepBuffer ? std::max<size_t>(need, 12 << 10) : need;
      buf_.reset(new char[want]);
      capacity_ = want;
    }
  }
  if (whole) {
    stream_.SetOutput(buf_.get());
    stream_.DecodeTo(stream_.length());  // a failure stays in the stream
    return true;
  }
  std::memcpy(buf_.get() + out, stored.data(), stored.size());
  stream_ = SnappyStream();
  const bool ok = stream_.Init(Slice(buf_.get() + out, stored.size()), max_length);
  assert(ok);  // the same bytes as above
  (void)ok;
  stream_.SetOutput(buf_.get());
  return true;
}

BlockIter::BlockIter(SnappyStream* stream, const Comparator* comparator)
    : comparator_(comparator),
      internal_keys_(true),
      bytewise_internal_(IsBytewiseInternalComparator(comparator)),
      data_(stream->output()),
      restarts_(static_cast<uint32_t>(stream->length())),
      num_restarts_(0),
      current_(restarts_),
      restart_index_(0),
      value_(data_, 0),  // nothing consumed yet (DecodeRest checks what was)
      stream_(stream) {}

BlockIter::BlockIter(const Block* block, const Comparator* comparator, bool internal_keys)
    : comparator_(comparator),
      internal_keys_(internal_keys),
      bytewise_internal_(internal_keys && IsBytewiseInternalComparator(comparator)),
      data_(block->data_.data()),
      restarts_(block->restart_offset_),
      num_restarts_(block->num_restarts_),
      current_(restarts_),
      restart_index_(num_restarts_),
      value_(data_ + restarts_, 0) {}

uint32_t BlockIter::RestartPoint(uint32_t index) const {
  assert(index < num_restarts_);
  return DecodeFixed32(data_ + restarts_ + index * sizeof(uint32_t));
}

void BlockIter::SeekToRestartPoint(uint32_t index) {
  key_.clear();
  restart_index_ = index;
  // ParseNextKey() starts at NextEntryOffset(), i.e. at the end of value_.
  uint32_t offset = RestartPoint(index);
  if (offset > restarts_) offset = restarts_;  // damaged: ParseNextKey reports the end
  value_ = Slice(data_ + offset, 0);
}

void BlockIter::MarkInvalid() {
  current_ = restarts_;
  restart_index_ = num_restarts_;
  key_.clear();
  // Over a stream still decoding, nothing counts as consumed (DecodeRest).
  value_ = Slice(stream_ != nullptr ? data_ : data_ + restarts_, 0);
}

void BlockIter::MarkCorrupted(std::string what) {
  MarkInvalid();
  status_ = Status::Corruption(what);
}

bool BlockIter::KeyIsBad(Slice key, uint32_t offset, const char* where) {
  ParsedInternalKey parsed;
  if (ParseInternalKey(key, &parsed)) return true;  // CheckKey's test, kept in step
  MarkCorrupted(std::string("bad internal key (") + std::to_string(key.size()) + " bytes) " +
                where + " at offset " + std::to_string(offset) + " in block");
  return false;
}

bool BlockIter::DecodeRest() {
  SnappyStream* stream = std::exchange(stream_, nullptr);
  if (!stream->DecodeTo(stream->length()) || !stream->finished()) {
    MarkCorrupted("corrupted compressed block");
    return false;
  }
  // The restart array, checked as Block::Parse checks it.
  const size_t size = stream->length();
  const uint32_t num_restarts =
      size < sizeof(uint32_t) ? 0 : DecodeFixed32(data_ + size - sizeof(uint32_t));
  if (size < sizeof(uint32_t) || num_restarts > (size - sizeof(uint32_t)) / sizeof(uint32_t)) {
    MarkCorrupted(size < sizeof(uint32_t) ? "block too short" : "bad restart count in block");
    return false;
  }
  const uint32_t consumed = NextEntryOffset();  // the end of the entries walked
  restarts_ = static_cast<uint32_t>(size - (1 + static_cast<size_t>(num_restarts)) * sizeof(uint32_t));
  num_restarts_ = num_restarts;
  // The walk was bounded by the stream's length, not by the restart array
  // it could not see yet: entries that ran into it are damage (over a
  // Block, ParseNextKey's bound reports them).
  if (consumed > restarts_) {
    MarkCorrupted("bad entry in block");
    return false;
  }
  if (current_ >= restarts_) {
    // Past the entries (or the walk never started): nothing is current.
    current_ = restarts_;
    restart_index_ = num_restarts_;
    return true;
  }
  if (num_restarts_ == 0) {  // entries were read, but no restart points them
    MarkCorrupted("bad restart count in block");
    return false;
  }
  // The last restart point at or before the current entry, for Prev.
  uint32_t left = 0;
  uint32_t right = num_restarts_;
  while (right - left > 1) {
    const uint32_t mid = left + (right - left) / 2;
    if (RestartPoint(mid) <= current_) {
      left = mid;
    } else {
      right = mid;
    }
  }
  restart_index_ = left;
  return true;
}

bool BlockIter::LazyEntryFollows() {
  const uint32_t next = NextEntryOffset();
  if (stream_->produced() < size_t{next} + 3 && !stream_->DecodeTo(next + kLazyStep)) {
    return false;  // damaged: DecodeRest reports it
  }
  if (stream_->produced() < size_t{next} + 3) return false;  // the block ends
  // An entry's header is never three zero bytes (an empty key is no
  // internal key); the restart array's first offset is.
  const char* p = data_ + next;
  return (p[0] | p[1] | p[2]) != 0;
}

bool BlockIter::ParseNextKeyLazily() {
  current_ = NextEntryOffset();
  if (stream_->produced() < size_t{current_} + kMaxEntryHeader &&
      !stream_->DecodeTo(current_ + kLazyStep)) {
    return DecodeRest() && ParseNextKey();  // reports the damage
  }
  // Now the header is decoded in full unless the block ends first, so one
  // that does not decode is the end or damage: the whole block tells.
  const char* p = data_ + current_;
  const char* limit = data_ + stream_->produced();
  uint32_t shared = 0, non_shared = 0, value_length = 0;
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  if (limit - p >= 3 && (u[0] | u[1] | u[2]) < 128) {
    shared = u[0];
    non_shared = u[1];
    value_length = u[2];
    p += 3;
  } else if (p >= limit || (p = GetVarint32Ptr(p, limit, &shared)) == nullptr ||
             (p = GetVarint32Ptr(p, limit, &non_shared)) == nullptr ||
             (p = GetVarint32Ptr(p, limit, &value_length)) == nullptr) {
    return DecodeRest() && ParseNextKey();
  }
  const uint64_t end = static_cast<uint64_t>(p - data_) + non_shared + value_length;
  if (end > stream_->produced() &&
      (end > stream_->length() || !stream_->DecodeTo(static_cast<size_t>(end)))) {
    return DecodeRest() && ParseNextKey();
  }
  // shared = non_shared = 0: the restart array's first offset (or damage,
  // which the whole block shows as such).
  if (shared > key_.size() || shared + non_shared == 0) return DecodeRest() && ParseNextKey();
  key_.truncate(shared);
  key_.append(p, non_shared);
  if (!CheckKey(key_, current_, "in an entry")) return false;
  value_ = Slice(p + non_shared, value_length);
  return true;
}

bool BlockIter::ParseNextKey() {
  if (stream_ != nullptr) return ParseNextKeyLazily();
  current_ = NextEntryOffset();
  const char* p = data_ + current_;
  const char* limit = data_ + restarts_;
  if (p >= limit) {
    MarkInvalid();
    return false;
  }
  uint32_t shared = 0, non_shared = 0, value_length = 0;
  p = DecodeEntry(p, limit, &shared, &non_shared, &value_length);
  if (p == nullptr || key_.size() < shared) {
    MarkCorrupted("bad entry in block");
    return false;
  }
  key_.truncate(shared);
  key_.append(p, non_shared);
  if (!CheckKey(key_, current_, "in an entry")) return false;
  value_ = Slice(p + non_shared, value_length);
  while (restart_index_ + 1 < num_restarts_ && RestartPoint(restart_index_ + 1) < current_) {
    ++restart_index_;
  }
  return true;
}

void BlockIter::SeekToFirst() {
  if (stream_ != nullptr) {
    key_.clear();
    value_ = Slice(data_, 0);  // the walk starts at offset 0
    ParseNextKey();
    return;
  }
  if (num_restarts_ == 0) return MarkInvalid();
  SeekToRestartPoint(0);
  ParseNextKey();
}

void BlockIter::SeekToLast() {
  if (stream_ != nullptr && !DecodeRest()) return;
  if (num_restarts_ == 0) return MarkInvalid();
  SeekToRestartPoint(num_restarts_ - 1);
  while (ParseNextKey() && NextEntryOffset() < restarts_) {
  }
}

void BlockIter::Seek(Slice target) {
  if (stream_ != nullptr) {
    // From the front, entry by entry, decoding as the walk goes.
    key_.clear();
    value_ = Slice(data_, 0);
    while (ParseNextKey()) {
      if (Compare(key_, target) >= 0) return;
    }
    return;
  }
  if (num_restarts_ == 0) return MarkInvalid();
  // Binary search for the last restart point whose key is < target; the
  // answer is at or after it and before the next one.
  uint32_t left = 0;
  uint32_t right = num_restarts_ - 1;
  const char* limit = data_ + restarts_;
  while (left < right) {
    const uint32_t mid = left + (right - left + 1) / 2;
    const uint32_t offset = RestartPoint(mid);
    uint32_t shared = 0, non_shared = 0, value_length = 0;
    const char* key_ptr = offset < restarts_
                              ? DecodeEntry(data_ + offset, limit, &shared, &non_shared, &value_length)
                              : nullptr;
    if (key_ptr == nullptr || shared != 0) {
      return MarkCorrupted("bad restart point in block");
    }
    if (!CheckKey(Slice(key_ptr, non_shared), offset, "at a restart point")) return;
    if (Compare(Slice(key_ptr, non_shared), target) < 0) {
      left = mid;
    } else {
      right = mid - 1;
    }
  }
  SeekToRestartPoint(left);
  while (ParseNextKey()) {
    if (Compare(key_, target) >= 0) return;
  }
}

void BlockIter::Next() {
  assert(Valid());
  ParseNextKey();
}

bool BlockIter::PrevFromRecord() {
  PrevRecord* r = record_;
  if (r == nullptr || r->pos == 0 || r->pos >= r->count || r->entries[r->pos].offset != current_) {
    return false;
  }
  const PrevRecord::Entry& e = r->entries[--r->pos];
  current_ = e.offset;
  key_.assign(Slice(r->keys + e.key_at, e.key_size));
  value_ = Slice(data_ + e.value_at, e.value_size);
  return true;
}

void BlockIter::Prev() {
  assert(Valid());
  if (stream_ != nullptr && (!DecodeRest() || !Valid())) return;
  if (PrevFromRecord()) return;
  // Back up to a restart point before the current entry, then walk forward
  // to the entry just before it, recording the entries passed.
  const uint32_t original = current_;
  while (RestartPoint(restart_index_) >= original) {
    if (restart_index_ == 0) return MarkInvalid();
    --restart_index_;
  }
  SeekToRestartPoint(restart_index_);
  PrevRecord* r = record_;
  if (r != nullptr) r->count = 0;
  uint32_t key_bytes = 0;
  for (;;) {
    if (!ParseNextKey()) {  // damage: the iterator is invalid now
      if (r != nullptr) r->count = 0;
      return;
    }
    if (r != nullptr) {
      const auto key_size = static_cast<uint32_t>(key_.size());
      if (r->count < PrevRecord::kEntries && key_size <= PrevRecord::kKeyBytes - key_bytes) {
        r->entries[r->count++] = PrevRecord::Entry{current_, key_bytes, key_size,
                                                   static_cast<uint32_t>(value_.data() - data_),
                                                   static_cast<uint32_t>(value_.size())};
        std::memcpy(r->keys + key_bytes, key_.data(), key_size);
        key_bytes += key_size;
      } else {
        r->count = 0;  // more than the record holds: the next Prev walks again
        r = nullptr;
      }
    }
    if (NextEntryOffset() >= original) break;
  }
  if (r != nullptr) r->pos = r->count > 0 ? r->count - 1 : 0;
}

}  // namespace corodb::table

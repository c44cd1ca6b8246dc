// Internal keys: how the engine tags every user key with a sequence number
// and a value type, in LevelDB's exact encoding:
//
//   internal key := user_key + fixed64((sequence << 8) | type)
//
// Internal keys sort by user key ascending (user comparator), then sequence
// descending, then type descending — so the newest entry for a key comes first.
#pragma once

#include <cassert>
#include <cstdint>
#include <string>

#include "corodb/comparator.h"
#include "corodb/slice.h"
#include "util/coding.h"
#include "util/key_buffer.h"

namespace corodb {

// Stored in the low byte of the tag; values are part of the on-disk format.
enum ValueType : uint8_t { kTypeDeletion = 0x0, kTypeValue = 0x1 };
// The type used when seeking: sorts before every entry with the same
// sequence number (types are ordered descending).
constexpr ValueType kValueTypeForSeek = kTypeValue;

using SequenceNumber = uint64_t;
// Sequence numbers take 56 bits, leaving 8 for the type.
constexpr SequenceNumber kMaxSequenceNumber = (1ull << 56) - 1;

inline uint64_t PackSequenceAndType(SequenceNumber seq, ValueType t) {
  return (seq << 8) | t;
}

struct ParsedInternalKey {
  Slice user_key;
  SequenceNumber sequence = 0;
  ValueType type = kTypeValue;

  ParsedInternalKey() = default;
  ParsedInternalKey(Slice u, SequenceNumber seq, ValueType t)
      : user_key(u), sequence(seq), type(t) {}
  // "'<escaped user key>' @ <seq> : <type>", for messages and tools.
  std::string DebugString() const;
};

inline size_t InternalKeyEncodingLength(const ParsedInternalKey& key) {
  return key.user_key.size() + 8;
}

// Appends the encoding of `key` to *result.
void AppendInternalKey(std::string* result, const ParsedInternalKey& key);
void AppendInternalKey(KeyBuffer* result, const ParsedInternalKey& key);

// Parses an internal key; false when it is shorter than 8 bytes or its type
// byte is not a known ValueType.
bool ParseInternalKey(Slice internal_key, ParsedInternalKey* result);

// REQUIRES: internal_key.size() >= 8.
inline Slice ExtractUserKey(Slice internal_key) {
  return internal_key.substr(0, internal_key.size() - 8);
}

// Orders internal keys as described above, on top of a user comparator.
// Its Name() is the user comparator's name (the MANIFEST stores that).
class InternalKeyComparator final : public Comparator {
 public:
  explicit InternalKeyComparator(const Comparator* user) : user_(user) {}

  const char* Name() const override { return user_->Name(); }
  // REQUIRES: a.size() >= 8 and b.size() >= 8 — keys read from files are
  // checked where they are decoded (InternalKey::DecodeFrom, table blocks
  // read with TableOptions::internal_keys); this reads each key's last 8 bytes.
  int Compare(Slice a, Slice b) const override;
  void FindShortestSeparator(std::string* start, Slice limit) const override;
  void FindShortSuccessor(std::string* key) const override;

  const Comparator* user_comparator() const { return user_; }

 private:
  const Comparator* user_;
};

// InternalKeyComparator's order over BytewiseComparator, without its two
// virtual calls: for the hot loops of block searches. REQUIRES: both keys
// at least 8 bytes.
inline int CompareBytewiseInternalKeys(Slice a, Slice b) {
  assert(a.size() >= 8 && b.size() >= 8);
  const int r = ExtractUserKey(a).compare(ExtractUserKey(b));
  if (r != 0) return r;
  const uint64_t atag = DecodeFixed64(a.data() + a.size() - 8);
  const uint64_t btag = DecodeFixed64(b.data() + b.size() - 8);
  return atag > btag ? -1 : (atag < btag ? +1 : 0);
}

// True when `c` is an InternalKeyComparator over BytewiseComparator(), so
// CompareBytewiseInternalKeys gives its order.
bool IsBytewiseInternalComparator(const Comparator* c);

// An owned, encoded internal key.
class InternalKey {
 public:
  InternalKey() = default;  // empty means invalid
  InternalKey(Slice user_key, SequenceNumber s, ValueType t) {
    AppendInternalKey(&rep_, ParsedInternalKey(user_key, s, t));
  }
  // Takes `s` if it is a well-formed internal key (ParseInternalKey: at
  // least the 8-byte tag, a known type); otherwise returns false and is
  // left empty. Keys read from files (MANIFEST, tables) go through here, so
  // the comparator never sees a key too short for its tag.
  bool DecodeFrom(Slice s) {
    ParsedInternalKey parsed;
    if (!ParseInternalKey(s, &parsed)) {
      rep_.clear();
      return false;
    }
    rep_.assign(s.data(), s.size());
    return true;
  }
  Slice Encode() const { return rep_; }
  Slice user_key() const { return ExtractUserKey(rep_); }
  void Clear() { rep_.clear(); }
  bool empty() const { return rep_.empty(); }
  std::string DebugString() const;

 private:
  std::string rep_;
};

// The key a point lookup searches a memtable or table with:
//
//   varint32(user_key.size() + 8) + user_key + fixed64(pack(sequence, kValueTypeForSeek))
//
// memtable_key() is the whole thing (memtable entries start with that length),
// internal_key() drops the length prefix, user_key() is just the user key.
class LookupKey {
 public:
  LookupKey(Slice user_key, SequenceNumber sequence);
  LookupKey(const LookupKey&) = delete;
  LookupKey& operator=(const LookupKey&) = delete;

  Slice memtable_key() const { return Slice(rep_.data(), rep_.size()); }
  Slice internal_key() const { return Slice(rep_.data() + key_start_, rep_.size() - key_start_); }
  Slice user_key() const {
    return Slice(rep_.data() + key_start_, rep_.size() - key_start_ - 8);
  }

 private:
  std::string rep_;
  size_t key_start_ = 0;
};

}  // namespace corodb

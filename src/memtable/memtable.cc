#include "memtable/memtable.h"

#include <cassert>
#include <cstring>

#include "util/coding.h"

namespace corodb {
namespace {

// Decodes the length-prefixed slice an entry starts with. Entries are written
// by Add(), so the varint is known to be well formed.
Slice GetLengthPrefixed(const char* p) {
  uint32_t len = 0;
  const char* q = GetVarint32Ptr(p, p + kMaxVarint32Length, &len);
  assert(q != nullptr);
  return Slice(q, len);
}

}  // namespace

int MemTable::KeyComparator::operator()(const char* a, const char* b) const {
  const Slice ka = GetLengthPrefixed(a);
  const Slice kb = GetLengthPrefixed(b);
  return bytewise ? CompareBytewiseInternalKeys(ka, kb) : comparator.Compare(ka, kb);
}

std::shared_ptr<MemTable> MemTable::Create(const InternalKeyComparator& comparator) {
  return std::shared_ptr<MemTable>(new MemTable(comparator));
}

MemTable::MemTable(const InternalKeyComparator& comparator)
    : comparator_{comparator}, table_(comparator_, &arena_) {}

void MemTable::Add(SequenceNumber seq, ValueType type, Slice key, Slice value) {
  const size_t internal_key_size = key.size() + 8;
  const size_t encoded_len = VarintLength(internal_key_size) + internal_key_size +
                             VarintLength(value.size()) + value.size();
  // The entry sits in its skiplist node, right after the links: a search
  // reads a node's key from the lines it loaded for the node.
  table_.InsertInline(encoded_len, [&](char* buf) -> const char* {
    char* p = EncodeVarint32(buf, static_cast<uint32_t>(internal_key_size));
    if (!key.empty()) std::memcpy(p, key.data(), key.size());
    p += key.size();
    EncodeFixed64(p, PackSequenceAndType(seq, type));
    p += 8;
    p = EncodeVarint32(p, static_cast<uint32_t>(value.size()));
    if (!value.empty()) std::memcpy(p, value.data(), value.size());
    assert(p + value.size() == buf + encoded_len);
    return buf;
  });
}

bool MemTable::Get(const LookupKey& key, std::string* value, Status* s) const {
  Table::Iterator iter(&table_);
  iter.Seek(key.memtable_key().data());
  if (!iter.Valid()) return false;
  // The first entry >= the lookup key: the newest one visible at the lookup
  // sequence if it has the same user key.
  const Slice internal_key = GetLengthPrefixed(iter.key());
  const Comparator* user = comparator_.comparator.user_comparator();
  if (user->Compare(ExtractUserKey(internal_key), key.user_key()) != 0) return false;
  const uint64_t tag = DecodeFixed64(internal_key.data() + internal_key.size() - 8);
  switch (static_cast<ValueType>(tag & 0xff)) {
    case kTypeValue: {
      const Slice v = GetLengthPrefixed(internal_key.data() + internal_key.size());
      value->assign(v.data(), v.size());
      return true;
    }
    case kTypeDeletion:
      *s = Status::NotFound(Slice());
      return true;
  }
  return false;
}

MemTable::Iterator::Iterator(std::shared_ptr<const MemTable> mem)
    : mem_(std::move(mem)), iter_(&mem_->table_) {}

void MemTable::Iterator::Seek(Slice internal_key) {
  char length[5];
  const char* end = EncodeVarint32(length, static_cast<uint32_t>(internal_key.size()));
  seek_key_.assign(Slice(length, static_cast<size_t>(end - length)));
  seek_key_.append(internal_key);
  iter_.Seek(seek_key_.data());
}

Slice MemTable::Iterator::key() const { return GetLengthPrefixed(iter_.key()); }

Slice MemTable::Iterator::value() const {
  const Slice k = key();
  return GetLengthPrefixed(k.data() + k.size());
}

}  // namespace corodb

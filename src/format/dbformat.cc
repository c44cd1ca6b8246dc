#include "format/dbformat.h"

#include <cassert>
#include <cstdio>
#include <typeinfo>

namespace corodb {
namespace {

std::string EscapeForDebug(Slice s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= ' ' && c <= '~' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out.append(buf);
    }
  }
  return out;
}

}  // namespace

std::string ParsedInternalKey::DebugString() const {
  return "'" + EscapeForDebug(user_key) + "' @ " + std::to_string(sequence) + " : " +
         std::to_string(static_cast<int>(type));
}

std::string InternalKey::DebugString() const {
  ParsedInternalKey parsed;
  if (ParseInternalKey(rep_, &parsed)) return parsed.DebugString();
  return "(bad)" + EscapeForDebug(rep_);
}

void AppendInternalKey(std::string* result, const ParsedInternalKey& key) {
  result->append(key.user_key.data(), key.user_key.size());
  PutFixed64(result, PackSequenceAndType(key.sequence, key.type));
}

void AppendInternalKey(KeyBuffer* result, const ParsedInternalKey& key) {
  char tag[8];
  EncodeFixed64(tag, PackSequenceAndType(key.sequence, key.type));
  result->append(key.user_key);
  result->append(tag, sizeof(tag));
}

bool ParseInternalKey(Slice internal_key, ParsedInternalKey* result) {
  if (internal_key.size() < 8) return false;
  const uint64_t tag = DecodeFixed64(internal_key.data() + internal_key.size() - 8);
  const auto type = static_cast<uint8_t>(tag & 0xff);
  if (type > kTypeValue) return false;
  result->user_key = ExtractUserKey(internal_key);
  result->sequence = tag >> 8;
  result->type = static_cast<ValueType>(type);
  return true;
}

bool IsBytewiseInternalComparator(const Comparator* c) {
  // typeid, not dynamic_cast: the class is final, and this runs for every
  // block iterator made.
  return c != nullptr && typeid(*c) == typeid(InternalKeyComparator) &&
         static_cast<const InternalKeyComparator*>(c)->user_comparator() == BytewiseComparator();
}

int InternalKeyComparator::Compare(Slice a, Slice b) const {
  assert(a.size() >= 8 && b.size() >= 8);
  int r = user_->Compare(ExtractUserKey(a), ExtractUserKey(b));
  if (r != 0) return r;
  const uint64_t atag = DecodeFixed64(a.data() + a.size() - 8);
  const uint64_t btag = DecodeFixed64(b.data() + b.size() - 8);
  if (atag > btag) return -1;
  if (atag < btag) return +1;
  return 0;
}

void InternalKeyComparator::FindShortestSeparator(std::string* start, Slice limit) const {
  Slice user_start = ExtractUserKey(*start);
  Slice user_limit = ExtractUserKey(limit);
  std::string tmp(user_start);
  user_->FindShortestSeparator(&tmp, user_limit);
  if (tmp.size() < user_start.size() && user_->Compare(user_start, tmp) < 0) {
    // The user key got shorter but larger: tag it with the earliest possible
    // entry for it so it still sorts before `limit`.
    PutFixed64(&tmp, PackSequenceAndType(kMaxSequenceNumber, kValueTypeForSeek));
    *start = std::move(tmp);
  }
}

void InternalKeyComparator::FindShortSuccessor(std::string* key) const {
  Slice user_key = ExtractUserKey(*key);
  std::string tmp(user_key);
  user_->FindShortSuccessor(&tmp);
  if (tmp.size() < user_key.size() && user_->Compare(user_key, tmp) < 0) {
    PutFixed64(&tmp, PackSequenceAndType(kMaxSequenceNumber, kValueTypeForSeek));
    *key = std::move(tmp);
  }
}

LookupKey::LookupKey(Slice user_key, SequenceNumber sequence) {
  rep_.reserve(user_key.size() + 13);
  PutVarint32(&rep_, static_cast<uint32_t>(user_key.size() + 8));
  key_start_ = rep_.size();
  rep_.append(user_key.data(), user_key.size());
  PutFixed64(&rep_, PackSequenceAndType(sequence, kValueTypeForSeek));
}

}  // namespace corodb

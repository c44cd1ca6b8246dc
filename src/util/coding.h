// Little-endian fixed-width and varint encodings, as LevelDB writes them.
//
// Put* append to a std::string. Decode* read from raw memory the caller has
// checked is long enough. Get* consume from the front of a Slice and return
// false (leaving the input unspecified) when it is truncated or malformed.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "corodb/slice.h"

namespace corodb {

inline void EncodeFixed32(char* dst, uint32_t v) {
  for (int i = 0; i < 4; ++i) dst[i] = static_cast<char>(v >> (8 * i));
}
inline void EncodeFixed64(char* dst, uint64_t v) {
  for (int i = 0; i < 8; ++i) dst[i] = static_cast<char>(v >> (8 * i));
}
inline uint32_t DecodeFixed32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(u[0]) | (static_cast<uint32_t>(u[1]) << 8) |
         (static_cast<uint32_t>(u[2]) << 16) | (static_cast<uint32_t>(u[3]) << 24);
}
inline uint64_t DecodeFixed64(const char* p) {
  return static_cast<uint64_t>(DecodeFixed32(p)) |
         (static_cast<uint64_t>(DecodeFixed32(p + 4)) << 32);
}

inline void PutFixed32(std::string* dst, uint32_t v) {
  char buf[4];
  EncodeFixed32(buf, v);
  dst->append(buf, 4);
}
inline void PutFixed64(std::string* dst, uint64_t v) {
  char buf[8];
  EncodeFixed64(buf, v);
  dst->append(buf, 8);
}

constexpr int kMaxVarint32Length = 5;
constexpr int kMaxVarint64Length = 10;

// Writes the varint of `v` at `dst` (room for kMaxVarint64Length bytes) and
// returns the byte after it.
inline char* EncodeVarint64(char* dst, uint64_t v) {
  auto* p = reinterpret_cast<unsigned char*>(dst);
  while (v >= 128) {
    *p++ = static_cast<unsigned char>(v | 128);
    v >>= 7;
  }
  *p++ = static_cast<unsigned char>(v);
  return reinterpret_cast<char*>(p);
}
inline char* EncodeVarint32(char* dst, uint32_t v) { return EncodeVarint64(dst, v); }

inline void PutVarint32(std::string* dst, uint32_t v) {
  char buf[kMaxVarint32Length];
  dst->append(buf, EncodeVarint32(buf, v) - buf);
}
inline void PutVarint64(std::string* dst, uint64_t v) {
  char buf[kMaxVarint64Length];
  dst->append(buf, EncodeVarint64(buf, v) - buf);
}
// Appends varint32(value.size()) followed by the bytes of `value`.
inline void PutLengthPrefixedSlice(std::string* dst, Slice value) {
  PutVarint32(dst, static_cast<uint32_t>(value.size()));
  dst->append(value.data(), value.size());
}

// Number of bytes the varint encoding of `v` takes.
inline int VarintLength(uint64_t v) {
  int len = 1;
  while (v >= 128) {
    v >>= 7;
    ++len;
  }
  return len;
}

// Parses a varint in [p, limit). Returns the byte after it, or nullptr if the
// encoding is truncated or too long (a varint32 also when its value does not
// fit 32 bits).
const char* GetVarint64Ptr(const char* p, const char* limit, uint64_t* v);
// GetVarint32Ptr's path for values of more than one byte (out of line).
const char* GetVarint32PtrSlow(const char* p, const char* limit, uint32_t* v);
// Inline for the one-byte case: lengths in memtable entries, batches and
// block headers are nearly always below 128, and this runs several times per
// memtable comparison.
inline const char* GetVarint32Ptr(const char* p, const char* limit, uint32_t* v) {
  if (p < limit) {
    const auto byte = static_cast<uint32_t>(static_cast<unsigned char>(*p));
    if ((byte & 128) == 0) {
      *v = byte;
      return p + 1;
    }
  }
  return GetVarint32PtrSlow(p, limit, v);
}

inline bool GetVarint32(Slice* input, uint32_t* v) {
  const char* p = input->data();
  const char* end = GetVarint32Ptr(p, p + input->size(), v);
  if (end == nullptr) return false;
  input->remove_prefix(static_cast<size_t>(end - p));
  return true;
}
bool GetVarint64(Slice* input, uint64_t* v);
bool GetFixed32(Slice* input, uint32_t* v);
bool GetFixed64(Slice* input, uint64_t* v);
inline bool GetLengthPrefixedSlice(Slice* input, Slice* result) {
  uint32_t len = 0;
  if (!GetVarint32(input, &len) || input->size() < len) return false;
  *result = input->substr(0, len);
  input->remove_prefix(len);
  return true;
}

}  // namespace corodb

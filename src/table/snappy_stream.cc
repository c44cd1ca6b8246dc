#include "table/snappy_stream.h"

#include <algorithm>
#include <cstring>

#include "util/coding.h"

namespace corodb::table {
namespace {

// The `n` (1..4) bytes at p as a little-endian number.
inline size_t LoadLittleEndian(const char* p, size_t n) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  size_t v = 0;
  for (size_t i = n; i-- > 0;) v = (v << 8) | u[i];
  return v;
}

}  // namespace

bool SnappyStream::Init(Slice input, size_t max_length) {
  uint32_t length = 0;
  const char* p = GetVarint32Ptr(input.data(), input.data() + input.size(), &length);
  if (p == nullptr || length > max_length ||
      static_cast<uint64_t>(length) * 3 > static_cast<uint64_t>(input.size()) * 64) {
    failed_ = true;
    return false;
  }
  ip_ = p;
  ip_end_ = input.data() + input.size();
  length_ = length;
  return true;
}

bool SnappyStream::DecodeTo(size_t want) {
  if (failed_) return false;
  char* const limit = out_ + length_;
  char* const target = out_ + std::min(want, length_);
  const char* ip = ip_;
  char* op = op_;
  bool ok = true;
  while (op < target) {
    if (ip >= ip_end_) {  // the input ends before the stated length
      ok = false;
      break;
    }
    const unsigned tag = static_cast<unsigned char>(*ip++);
    const auto in_left = static_cast<size_t>(ip_end_ - ip);
    const auto out_left = static_cast<size_t>(limit - op);
    if ((tag & 3) == 0) {  // a literal: its length, then its bytes
      size_t len = (tag >> 2) + 1;
      if (len > 60) {  // the length follows in len - 60 bytes
        const size_t extra = len - 60;
        if (in_left < extra) {
          ok = false;
          break;
        }
        len = LoadLittleEndian(ip, extra) + 1;
        ip += extra;
      }
      const auto left = static_cast<size_t>(ip_end_ - ip);
      if (len > left || len > out_left) {
        ok = false;
        break;
      }
      // In 16-byte pieces while the input has them: the last piece may
      // write up to 15 bytes past len, into kSlop or output that later
      // elements overwrite (a call to memcpy costs more for such short ones).
      if (len <= 64 && left >= ((len + 15) & ~size_t{15})) {
        for (size_t i = 0; i < len; i += 16) std::memcpy(op + i, ip + i, 16);
      } else {
        std::memcpy(op, ip, len);
      }
      op += len;
      ip += len;
      continue;
    }
    size_t len = 0;
    size_t offset = 0;
    if ((tag & 3) == 1) {  // 4..11 bytes, an 11-bit offset
      if (in_left < 1) {
        ok = false;
        break;
      }
      len = 4 + ((tag >> 2) & 7);
      offset = (static_cast<size_t>(tag >> 5) << 8) | static_cast<unsigned char>(*ip);
      ip += 1;
    } else if ((tag & 3) == 2) {  // 1..64 bytes, a 16-bit offset
      if (in_left < 2) {
        ok = false;
        break;
      }
      len = (tag >> 2) + 1;
      offset = LoadLittleEndian(ip, 2);
      ip += 2;
    } else {  // 1..64 bytes, a 32-bit offset
      if (in_left < 4) {
        ok = false;
        break;
      }
      len = (tag >> 2) + 1;
      offset = DecodeFixed32(ip);
      ip += 4;
    }
    if (offset == 0 || offset > static_cast<size_t>(op - out_) || len > out_left) {
      ok = false;
      break;
    }
    const char* src = op - offset;
    // Chunks no wider than the offset read only bytes already written; the
    // last chunk may write up to 15 bytes past len (into kSlop or output
    // that later elements overwrite).
    if (offset >= 16) {
      for (size_t i = 0; i < len; i += 16) std::memcpy(op + i, src + i, 16);
    } else if (offset >= 8) {
      for (size_t i = 0; i < len; i += 8) std::memcpy(op + i, src + i, 8);
    } else {
      for (size_t i = 0; i < len; ++i) op[i] = src[i];
    }
    op += len;
  }
  ip_ = ip;
  op_ = op;
  if (!ok) return Fail();
  if (op == limit && ip != ip_end_) return Fail();  // input left after the last byte
  return true;
}

}  // namespace corodb::table

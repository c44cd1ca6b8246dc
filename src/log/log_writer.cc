#include "log/log_writer.h"

#include <algorithm>
#include <cassert>

#include "util/coding.h"
#include "util/crc32c.h"

namespace corodb::log {

Writer::Writer(uint64_t dest_length)
    : block_offset_(static_cast<size_t>(dest_length % kBlockSize)), length_(dest_length) {
  for (int t = 0; t <= kMaxRecordType; ++t) {
    const char byte = static_cast<char>(t);
    type_crc_[t] = crc32c::Value(&byte, 1);
  }
}

void Writer::AddRecord(Slice record, std::string* out) {
  const char* data = record.data();
  size_t left = record.size();
  bool first = true;
  // An empty record still produces one (FULL, zero-length) fragment.
  do {
    const size_t room = kBlockSize - block_offset_;
    if (room < kHeaderSize) {
      // Too small for a header: zero-fill the trailer, start a new block.
      out->append(room, '\0');
      length_ += room;
      block_offset_ = 0;
    }
    const size_t available = kBlockSize - block_offset_ - kHeaderSize;
    const size_t n = std::min(left, available);
    const bool last = (n == left);
    RecordType type;
    if (first && last) {
      type = kFullType;
    } else if (first) {
      // With exactly kHeaderSize bytes left this is an empty FIRST fragment.
      type = kFirstType;
    } else if (last) {
      type = kLastType;
    } else {
      type = kMiddleType;
    }
    EmitFragment(type, data, n, out);
    data += n;
    left -= n;
    first = false;
  } while (left > 0);
}

void Writer::EmitFragment(RecordType type, const char* data, size_t n, std::string* out) {
  assert(n <= 0xffff);
  assert(block_offset_ + kHeaderSize + n <= kBlockSize);
  char header[kHeaderSize];
  const uint32_t crc = crc32c::Extend(type_crc_[type], data, n);
  EncodeFixed32(header, crc32c::Mask(crc));
  header[4] = static_cast<char>(n & 0xff);
  header[5] = static_cast<char>(n >> 8);
  header[6] = static_cast<char>(type);
  out->append(header, kHeaderSize);
  out->append(data, n);
  block_offset_ += kHeaderSize + n;
  length_ += kHeaderSize + n;
}

}  // namespace corodb::log

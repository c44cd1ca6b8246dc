// log::Writer: encodes records into the log's physical format. It performs no
// I/O: AddRecord() appends the exact bytes to a caller-owned string, which the
// DB then hands to io::File::Append / AppendAndSync. That keeps the encoding
// synchronous, testable on its own, and lets the commit loop batch bytes.
//
// Invariants / thread safety: block_offset_ is the position inside the
// current 32 KiB block of the next byte the writer will produce, i.e. the
// log's length modulo kBlockSize — provided every byte handed out was
// written, in order. One thread at a time (the commit loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "corodb/slice.h"
#include "log/log_format.h"

namespace corodb::log {

class Writer {
 public:
  // A writer that continues a log whose current length is `dest_length`
  // (0 for a new log); it may start in the middle of a block.
  explicit Writer(uint64_t dest_length = 0);
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Appends the encoding of `record` (any size, empty included) to *out:
  // fragment headers with masked crc32c, FIRST/MIDDLE/LAST splitting, and
  // zero trailers where fewer than kHeaderSize bytes remain in a block.
  // Never fails. If the bytes are not all written to the file, this writer no
  // longer matches it: build a new one from the file's real length.
  void AddRecord(Slice record, std::string* out);

  // The log length after all bytes handed out so far were written.
  uint64_t length() const { return length_; }

 private:
  void EmitFragment(RecordType type, const char* data, size_t n, std::string* out);

  size_t block_offset_;
  uint64_t length_;
  // crc32c of each one-byte type, the prefix of every fragment checksum.
  uint32_t type_crc_[kMaxRecordType + 1];
};

}  // namespace corodb::log

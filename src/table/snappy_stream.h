// SnappyStream: decodes a raw Snappy stream (the uncompressed length as a
// varint, then literal and copy elements) a piece at a time, so a reader
// that needs only the front of a block stops decoding there. A point lookup
// needs the block's entries up to the first one at or after its key, half a
// block on average; decoding the rest was a third of a lookup's work.
//
// Written from Snappy's format description (format_description.txt): a tag
// byte's low two bits give the element type; a literal carries its bytes, a
// copy repeats `length` bytes from `offset` bytes back in the output.
//
// Damage never reads or writes out of bounds: every length and offset is
// checked against the input left, the output so far and the stated length,
// and a bad element stops the stream (failed()). A stream that decodes to
// its stated length with input left over is damaged too (as libsnappy's
// RawUncompress treats it).
//
// Invariants / thread safety: one user at a time. The input must stay alive
// and unchanged while the stream decodes; the output buffer belongs to the
// caller and holds length() + kSlop bytes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "corodb/slice.h"

namespace corodb::table {

class SnappyStream {
 public:
  // Bytes past length() that Decode may write into (its copies move 16
  // bytes at a time); their contents are unspecified.
  static constexpr size_t kSlop = 16;

  // Reads the stream's stated uncompressed length from the front of
  // `input`. False when it is not a varint, or claims more than
  // `max_length` bytes or more than `input` could expand to (a Snappy
  // element makes at most 64 bytes from 3, so 64/3 of the input). Then the
  // stream must not be used.
  bool Init(Slice input, size_t max_length);

  // The uncompressed length the stream states. REQUIRES: Init returned true.
  size_t length() const { return length_; }

  // Where the stream writes. REQUIRES: Init returned true, before any
  // DecodeTo; `out` holds length() + kSlop bytes and outlives the stream.
  void SetOutput(char* out) {
    out_ = out;
    op_ = out;
  }

  // Decodes whole elements until at least min(want, length()) bytes are
  // out. False when the stream is damaged (then failed(), and produced()
  // bytes are all that may be read); true otherwise, also when the input
  // ends early only in the sense that the stream has finished.
  bool DecodeTo(size_t want);

  // Bytes decoded so far, at output()[0, produced()).
  size_t produced() const { return static_cast<size_t>(op_ - out_); }
  const char* output() const { return out_; }
  // True once the whole stream decoded to exactly length() bytes and used
  // its input exactly.
  bool finished() const { return !failed_ && produced() == length_ && ip_ == ip_end_; }
  bool failed() const { return failed_; }

 private:
  bool Fail() {
    failed_ = true;
    return false;
  }

  const char* ip_ = nullptr;      // next input byte
  const char* ip_end_ = nullptr;  // end of the input
  char* out_ = nullptr;
  char* op_ = nullptr;            // next output byte
  size_t length_ = 0;
  bool failed_ = false;
};

}  // namespace corodb::table

// log::Reader: reads records back from a log file, checking checksums,
// reassembling FIRST/MIDDLE/LAST fragments and skipping damage.
//
// Two layers:
// - RecordParser, a synchronous state machine fed one 32 KiB block at a
//   time. It holds all the format logic and is unit-tested on memory.
// - Reader, a thin coroutine layer that feeds the parser with
//   co_await file.ReadAt(...).
//
// What counts as what:
// - Damage inside the log (checksum mismatch, impossible length, fragments
//   out of order, unknown type) drops bytes: the Reporter hears how many and
//   why, with the file name and offset, and reading resumes with the next
//   good record (at worst at the next block boundary).
// - A torn tail — the last record cut by a crash, as a partial header, a
//   partial payload, or a FIRST/MIDDLE without its LAST at end of file — and
//   zero-filled space are the normal end of a log: reading stops quietly.
//
// Invariants / thread safety: a reader is used by one coroutine at a time.
// end_of_buffer_offset_ is the file offset just past the bytes fed so far;
// buffer_ is the unread tail of the current block.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "corodb/slice.h"
#include "corodb/status.h"
#include "io/file.h"
#include "log/log_format.h"
#include "util/result.h"

namespace corodb::log {

// Told about dropped bytes. Called synchronously from inside the reader.
class Reporter {
 public:
  virtual ~Reporter() = default;
  // `bytes` starting at file offset `offset` were skipped because of
  // `status` (a Corruption whose message reads "<file name>: offset
  // <offset>: <reason>"). Drops are reported as they are found, which is not
  // always in file order: a fragmented record is reported (from its first
  // fragment) after the damaged fragment that ended it.
  virtual void Corruption(uint64_t offset, size_t bytes, const Status& status) = 0;
};

class RecordParser {
 public:
  enum class Step {
    kRecord,     // a record was stored in *record
    kNeedBlock,  // feed the block at NextBlockOffset(), then call Next again
    kEndOfLog,   // no more records (clean end or torn tail)
  };

  // `file_name` is used in corruption messages. `reporter` may be null and
  // must outlive the parser. With `checksum` off, fragment checksums are not
  // verified. Records that start before `initial_offset` are skipped.
  RecordParser(std::string file_name, Reporter* reporter, bool checksum,
               uint64_t initial_offset = 0);
  RecordParser(const RecordParser&) = delete;
  RecordParser& operator=(const RecordParser&) = delete;

  // Advances to the next record. *record is overwritten only on kRecord.
  Step Next(std::string* record);

  // Where the block the parser needs starts in the file.
  uint64_t NextBlockOffset() const { return end_of_buffer_offset_; }
  // Room for the next block (kBlockSize bytes), to read into directly...
  std::span<char> BlockBuffer() { return {block_.get(), kBlockSize}; }
  // ...followed by this, with the number of bytes read. Fewer than
  // kBlockSize means the file ends after them.
  void BlockFilled(size_t n);
  // Copies `block` (at most kBlockSize bytes) in and calls BlockFilled.
  void FeedBlock(Slice block);

  // File offset of the first byte of the last record returned.
  uint64_t LastRecordOffset() const { return last_record_offset_; }
  // File offset just past the last fragment of the last record returned
  // (initial_offset before any): where a writer may continue after a torn
  // tail, once the file is truncated there.
  uint64_t EndOfLastRecord() const { return end_of_last_record_; }

 private:
  // ReadFragment's results besides a fragment's type byte: outside a byte's
  // range, so that no type byte read from the file (an unknown type is
  // damage to report) can be taken for one of them.
  static constexpr int kEof = 0x100;
  static constexpr int kBadFragment = 0x101;
  static constexpr int kNeedBlock = 0x102;

  // Reads one physical fragment from buffer_; returns its type (and sets
  // *fragment and *offset), or kEof / kBadFragment / kNeedBlock.
  int ReadFragment(Slice* fragment, uint64_t* offset);
  void ReportDrop(uint64_t offset, size_t bytes, std::string_view reason);

  const std::string file_name_;
  Reporter* const reporter_;
  const bool checksum_;
  const uint64_t initial_offset_;

  std::unique_ptr<char[]> block_;
  Slice buffer_;
  bool eof_ = false;
  uint64_t end_of_buffer_offset_;

  // Fragments of the record being assembled.
  std::string scratch_;
  bool in_fragmented_record_ = false;
  uint64_t record_start_ = 0;
  // Skipping MIDDLE/LAST fragments of a record that began before initial_offset_.
  bool resyncing_;

  uint64_t last_record_offset_ = 0;
  uint64_t end_of_last_record_;
};

class Reader {
 public:
  // Reads `file` (which must outlive the reader) from `initial_offset`;
  // other parameters as RecordParser's.
  Reader(io::File& file, Reporter* reporter, bool checksum, uint64_t initial_offset = 0);

  // The next record into *record (caller-owned; it must stay alive until the
  // awaitable completes). Returns true for a record, false at the end of the
  // log, or the IOError of a failed read (calling again retries that read).
  // SUSPENDS: one file read per 32 KiB block consumed; none while the current
  // block still holds the record.
  boost::asio::awaitable<Result<bool>> ReadRecord(std::string* record);

  uint64_t LastRecordOffset() const { return parser_.LastRecordOffset(); }
  uint64_t EndOfLastRecord() const { return parser_.EndOfLastRecord(); }

 private:
  io::File& file_;
  RecordParser parser_;
};

// Whether `file`, from `offset` on, holds nothing but one record cut short
// by a crash during a write into zero-filled (preallocated) log space, and
// zeros after it: a torn tail, which is the normal end of such a log.
//
// `offset` is where a Reader first dropped bytes (the smallest offset its
// Reporter heard); the caller must also have read on to the end of the log
// and seen no record returned after the drop — damage followed by a good
// record is never a torn tail, and this function does not check for that.
//
// The record at `offset` is followed through its fragment headers, each only
// within its own block: a length that reaches past its block, or a FIRST or
// MIDDLE fragment that does not fill its block, is damage (a crash only ever
// zeroes bytes, which shortens a length). A zero header ends the record (the
// rest of it never reached the disk). After the record's end there must be
// zero-filled space — at least one byte, any number of them — up to the end
// of the file: a damaged last record with nothing after it is not in
// preallocated space, and is damage.
// SUSPENDS: reads of the fragment headers and of everything after them.
boost::asio::awaitable<Result<bool>> IsTornRecordBeforeZeros(io::File& file, uint64_t offset);

}  // namespace corodb::log

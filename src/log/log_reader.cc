#include "log/log_reader.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "util/coding.h"
#include "util/crc32c.h"

namespace corodb::log {
namespace {

// The block holding `offset`, or the next one when `offset` falls inside a
// trailer (no record can start there).
uint64_t FirstBlockFor(uint64_t offset) {
  const uint64_t in_block = offset % kBlockSize;
  uint64_t block = offset - in_block;
  if (in_block > kBlockSize - kHeaderSize) block += kBlockSize;
  return block;
}

// A fragment header as stored. Any kHeaderSize bytes decode; whether the
// header is sane is for the caller to judge.
struct FragmentHeader {
  uint32_t masked_crc;
  size_t length;
  uint8_t type;
};

FragmentHeader DecodeFragmentHeader(const char* header) {
  const auto byte = [header](size_t i) { return static_cast<uint8_t>(header[i]); };
  return {DecodeFixed32(header + kChecksumOffset),
          static_cast<size_t>(byte(kLengthOffset) | (byte(kLengthOffset + 1) << 8)),
          byte(kTypeOffset)};
}

// Bytes from `offset` to the end of its block.
uint64_t BlockLeft(uint64_t offset) { return kBlockSize - offset % kBlockSize; }

}  // namespace

RecordParser::RecordParser(std::string file_name, Reporter* reporter, bool checksum,
                           uint64_t initial_offset)
    : file_name_(std::move(file_name)),
      reporter_(reporter),
      checksum_(checksum),
      initial_offset_(initial_offset),
      block_(new char[kBlockSize]),
      end_of_buffer_offset_(FirstBlockFor(initial_offset)),
      resyncing_(initial_offset > 0),
      end_of_last_record_(initial_offset) {}

void RecordParser::BlockFilled(size_t n) {
  assert(n <= kBlockSize);
  assert(buffer_.empty());
  buffer_ = Slice(block_.get(), n);
  end_of_buffer_offset_ += n;
  if (n < kBlockSize) eof_ = true;
}

void RecordParser::FeedBlock(Slice block) {
  assert(block.size() <= kBlockSize);
  if (!block.empty()) std::memcpy(block_.get(), block.data(), block.size());
  BlockFilled(block.size());
}

void RecordParser::ReportDrop(uint64_t offset, size_t bytes, std::string_view reason) {
  if (reporter_ == nullptr || bytes == 0 || offset < initial_offset_) return;
  reporter_->Corruption(
      offset, bytes,
      Status::Corruption(file_name_ + ": offset " + std::to_string(offset), reason));
}

int RecordParser::ReadFragment(Slice* fragment, uint64_t* offset) {
  if (buffer_.size() < kHeaderSize) {
    // What is left is a block trailer, or nothing; at end of file, a
    // partial header is one cut by a crash.
    buffer_ = Slice();
    return eof_ ? kEof : kNeedBlock;
  }
  const uint64_t start = end_of_buffer_offset_ - buffer_.size();
  const char* header = buffer_.data();
  const FragmentHeader decoded = DecodeFragmentHeader(header);
  const size_t length = decoded.length;
  const uint8_t type = decoded.type;
  if (kHeaderSize + length > buffer_.size()) {
    const size_t dropped = buffer_.size();
    buffer_ = Slice();
    // At end of file, a fragment that would still fit in its block had its
    // payload cut by a crash (torn tail), which is not damage. One reaching
    // past its block is: the writer never lets a fragment cross a block.
    if (eof_ && kHeaderSize + length <= BlockLeft(start)) return kEof;
    ReportDrop(start, dropped, "bad record length");
    return kBadFragment;
  }
  if (type == kZeroType && length == 0) {
    // Zero-filled (preallocated or never written) space: skip the rest of the
    // block without complaint.
    buffer_ = Slice();
    return kBadFragment;
  }
  if (checksum_) {
    const uint32_t expected = crc32c::Unmask(decoded.masked_crc);
    const uint32_t actual = crc32c::Value(header + kTypeOffset, 1 + length);
    if (expected != actual) {
      // The length may be the damaged field, so nothing after this point in
      // the block can be trusted: drop the whole rest of the block.
      const size_t dropped = buffer_.size();
      buffer_ = Slice();
      ReportDrop(start, dropped, "checksum mismatch");
      return kBadFragment;
    }
  }
  buffer_.remove_prefix(kHeaderSize + length);
  if (start < initial_offset_)
    return kBadFragment;  // before the requested start: skip quietly
  *fragment = Slice(header + kHeaderSize, length);
  *offset = start;
  return type;
}

RecordParser::Step RecordParser::Next(std::string* record) {
  for (;;) {
    Slice fragment;
    uint64_t offset = 0;
    const int type = ReadFragment(&fragment, &offset);
    if (resyncing_) {
      // Starting mid-log: the tail of a record that began before
      // initial_offset_ is not ours. Fragments skipped as before the start
      // (kBadFragment) do not end the skip: the tail may follow them.
      if (type == kMiddleType) continue;
      if (type == kLastType) {
        resyncing_ = false;
        continue;
      }
      if (type != kBadFragment && type != kNeedBlock) resyncing_ = false;
    }
    switch (type) {
      case kFullType:
        // An earlier writer could leave an empty FIRST at a block's end
        // followed by a FULL; only a FIRST that carried data is a loss.
        if (in_fragmented_record_ && !scratch_.empty()) {
          ReportDrop(record_start_, scratch_.size(), "partial record without end (FULL)");
        }
        in_fragmented_record_ = false;
        scratch_.clear();
        record->assign(fragment.data(), fragment.size());
        last_record_offset_ = offset;
        end_of_last_record_ = offset + kHeaderSize + fragment.size();
        return Step::kRecord;

      case kFirstType:
        if (in_fragmented_record_ && !scratch_.empty()) {
          ReportDrop(record_start_, scratch_.size(),
                     "partial record without end (FIRST)");
        }
        in_fragmented_record_ = true;
        record_start_ = offset;
        scratch_.assign(fragment.data(), fragment.size());
        break;

      case kMiddleType:
        if (!in_fragmented_record_) {
          ReportDrop(offset, fragment.size(),
                     "missing start of fragmented record (MIDDLE)");
        } else {
          scratch_.append(fragment.data(), fragment.size());
        }
        break;

      case kLastType:
        if (!in_fragmented_record_) {
          ReportDrop(offset, fragment.size(),
                     "missing start of fragmented record (LAST)");
          break;
        }
        scratch_.append(fragment.data(), fragment.size());
        record->swap(scratch_);
        scratch_.clear();
        in_fragmented_record_ = false;
        last_record_offset_ = record_start_;
        end_of_last_record_ = offset + kHeaderSize + fragment.size();
        return Step::kRecord;

      case kNeedBlock:
        return Step::kNeedBlock;

      case kEof:
        // A record still being assembled was cut by the end of the file: the
        // writer died before finishing it. That is a torn tail, not damage.
        in_fragmented_record_ = false;
        scratch_.clear();
        return Step::kEndOfLog;

      case kBadFragment:
        if (in_fragmented_record_) {
          ReportDrop(record_start_, scratch_.size(), "error in middle of record");
          in_fragmented_record_ = false;
          scratch_.clear();
        }
        break;

      default: {
        const size_t dropped =
            fragment.size() + (in_fragmented_record_ ? scratch_.size() : 0);
        ReportDrop(in_fragmented_record_ ? record_start_ : offset, dropped,
                   "unknown record type " + std::to_string(type));
        in_fragmented_record_ = false;
        scratch_.clear();
        break;
      }
    }
  }
}

Reader::Reader(io::File& file, Reporter* reporter, bool checksum, uint64_t initial_offset)
    : file_(file), parser_(file.path(), reporter, checksum, initial_offset) {}

boost::asio::awaitable<Result<bool>> Reader::ReadRecord(std::string* record) {
  for (;;) {
    switch (parser_.Next(record)) {
      case RecordParser::Step::kRecord:
        co_return true;
      case RecordParser::Step::kEndOfLog:
        co_return false;
      case RecordParser::Step::kNeedBlock: {
        Result<size_t> n =
            co_await file_.ReadAt(parser_.NextBlockOffset(), parser_.BlockBuffer());
        if (!n.ok()) co_return n.status();
        parser_.BlockFilled(*n);
        break;
      }
    }
  }
}

boost::asio::awaitable<Result<bool>> IsTornRecordBeforeZeros(io::File& file, uint64_t offset) {
  const Result<uint64_t> size = file.Size();
  if (!size.ok()) co_return size.status();
  // Follow the record's fragments to where its headers say it ends.
  uint64_t pos = offset;
  for (;;) {
    const uint64_t block_left = BlockLeft(pos);
    if (block_left < kHeaderSize) {
      pos += block_left;  // a block trailer
      continue;
    }
    if (pos + kHeaderSize > *size) co_return false;  // no zero-filled space after it
    char header[kHeaderSize];
    Result<size_t> n = co_await file.ReadAt(pos, std::span<char>(header, kHeaderSize));
    if (!n.ok()) co_return n.status();
    if (*n < kHeaderSize) co_return false;
    if (std::all_of(header, header + kHeaderSize, [](char c) { return c == 0; })) {
      break;  // the rest of the record never reached the disk
    }
    const FragmentHeader fragment = DecodeFragmentHeader(header);
    if (kHeaderSize + fragment.length > block_left) co_return false;  // a damaged length
    pos += kHeaderSize + fragment.length;
    if (fragment.type != kFirstType && fragment.type != kMiddleType) break;  // FULL, LAST, unknown
    if (pos % kBlockSize != 0) co_return false;  // FIRST and MIDDLE fill their block
  }
  if (pos >= *size) co_return false;
  // Zero-filled space from the record's end to the end of the file.
  std::string buf(kBlockSize, '\0');
  for (uint64_t at = pos; at < *size;) {
    const auto want = static_cast<size_t>(std::min<uint64_t>(buf.size(), *size - at));
    Result<size_t> n = co_await file.ReadAt(at, std::span<char>(buf.data(), want));
    if (!n.ok()) co_return n.status();
    if (*n == 0) break;  // the file shrank meanwhile: nothing more to look at
    if (!std::all_of(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n),
                     [](char c) { return c == 0; })) {
      co_return false;
    }
    at += *n;
  }
  co_return true;
}

}  // namespace corodb::log

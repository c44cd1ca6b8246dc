// VersionEdit: one MANIFEST record, in LevelDB's encoding. A MANIFEST is a log
// file (log format) whose records are encoded edits; replaying them in order
// rebuilds the set of live files and the counters.
//
// Encoding: a sequence of (varint32 tag, fields):
//   1 comparator name (length-prefixed)   2 log number (varint64)
//   3 next file number (varint64)         4 last sequence (varint64)
//   5 compact pointer: level varint32, internal key (length-prefixed)
//   6 deleted file: level varint32, file number varint64
//   7 new file: level varint32, number, size (varint64), smallest, largest
//     (length-prefixed internal keys)
//   9 previous log number (varint64)
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "corodb/status.h"
#include "format/dbformat.h"

namespace corodb {

constexpr int kNumLevels = 7;

struct FileMetaData {
  uint64_t number = 0;
  uint64_t file_size = 0;
  InternalKey smallest;
  InternalKey largest;
};

class VersionEdit {
 public:
  void Clear() { *this = VersionEdit(); }

  void SetComparatorName(std::string_view name) { comparator_ = std::string(name); }
  void SetLogNumber(uint64_t n) { log_number_ = n; }
  void SetPrevLogNumber(uint64_t n) { prev_log_number_ = n; }
  void SetNextFile(uint64_t n) { next_file_number_ = n; }
  void SetLastSequence(SequenceNumber s) { last_sequence_ = s; }
  void SetCompactPointer(int level, const InternalKey& key) {
    compact_pointers_.emplace_back(level, key);
  }
  void AddFile(int level, FileMetaData meta) { new_files_.emplace_back(level, std::move(meta)); }
  void RemoveFile(int level, uint64_t number) { deleted_files_.emplace(level, number); }

  const std::optional<std::string>& comparator() const { return comparator_; }
  const std::optional<uint64_t>& log_number() const { return log_number_; }
  const std::optional<uint64_t>& prev_log_number() const { return prev_log_number_; }
  const std::optional<uint64_t>& next_file_number() const { return next_file_number_; }
  const std::optional<SequenceNumber>& last_sequence() const { return last_sequence_; }
  const std::vector<std::pair<int, InternalKey>>& compact_pointers() const {
    return compact_pointers_;
  }
  const std::set<std::pair<int, uint64_t>>& deleted_files() const { return deleted_files_; }
  const std::vector<std::pair<int, FileMetaData>>& new_files() const { return new_files_; }

  // Appends the encoding to *dst.
  void EncodeTo(std::string* dst) const;
  // Replaces this edit with the decoding of `src`; Corruption naming the
  // failing field when `src` is malformed (then the edit is left empty).
  // Every key (file bounds, compaction pointers) must be a well-formed
  // internal key: at least its 8-byte tag, of a known type.
  Status DecodeFrom(Slice src);

  std::string DebugString() const;

 private:
  std::optional<std::string> comparator_;
  std::optional<uint64_t> log_number_;
  std::optional<uint64_t> prev_log_number_;
  std::optional<uint64_t> next_file_number_;
  std::optional<SequenceNumber> last_sequence_;
  std::vector<std::pair<int, InternalKey>> compact_pointers_;
  std::set<std::pair<int, uint64_t>> deleted_files_;
  std::vector<std::pair<int, FileMetaData>> new_files_;
};

}  // namespace corodb

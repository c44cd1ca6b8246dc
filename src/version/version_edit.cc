#include "version/version_edit.h"

#include "util/coding.h"

namespace corodb {
namespace {

enum Tag : uint32_t {
  kComparator = 1,
  kLogNumber = 2,
  kNextFileNumber = 3,
  kLastSequence = 4,
  kCompactPointer = 5,
  kDeletedFile = 6,
  kNewFile = 7,
  // 8 was used by an old LevelDB for large value references.
  kPrevLogNumber = 9,
};

bool GetLevel(Slice* input, int* level) {
  uint32_t v;
  if (!GetVarint32(input, &v) || v >= static_cast<uint32_t>(kNumLevels)) return false;
  *level = static_cast<int>(v);
  return true;
}

// Reads a length-prefixed internal key. Fails with `what` when the bytes
// run out, or with a message naming the key when it is malformed (shorter
// than its 8-byte tag, or of an unknown type).
Status GetInternalKey(Slice* input, InternalKey* key, const std::string& what) {
  Slice s;
  if (!GetLengthPrefixedSlice(input, &s)) return Status::Corruption("VersionEdit", what);
  if (!key->DecodeFrom(s)) {
    return Status::Corruption("VersionEdit", what + " is not an internal key (" +
                                                  std::to_string(s.size()) + " bytes)");
  }
  return Status::OK();
}

}  // namespace

void VersionEdit::EncodeTo(std::string* dst) const {
  if (comparator_) {
    PutVarint32(dst, kComparator);
    PutLengthPrefixedSlice(dst, *comparator_);
  }
  if (log_number_) {
    PutVarint32(dst, kLogNumber);
    PutVarint64(dst, *log_number_);
  }
  if (prev_log_number_) {
    PutVarint32(dst, kPrevLogNumber);
    PutVarint64(dst, *prev_log_number_);
  }
  if (next_file_number_) {
    PutVarint32(dst, kNextFileNumber);
    PutVarint64(dst, *next_file_number_);
  }
  if (last_sequence_) {
    PutVarint32(dst, kLastSequence);
    PutVarint64(dst, *last_sequence_);
  }
  for (const auto& [level, key] : compact_pointers_) {
    PutVarint32(dst, kCompactPointer);
    PutVarint32(dst, static_cast<uint32_t>(level));
    PutLengthPrefixedSlice(dst, key.Encode());
  }
  for (const auto& [level, number] : deleted_files_) {
    PutVarint32(dst, kDeletedFile);
    PutVarint32(dst, static_cast<uint32_t>(level));
    PutVarint64(dst, number);
  }
  for (const auto& [level, f] : new_files_) {
    PutVarint32(dst, kNewFile);
    PutVarint32(dst, static_cast<uint32_t>(level));
    PutVarint64(dst, f.number);
    PutVarint64(dst, f.file_size);
    PutLengthPrefixedSlice(dst, f.smallest.Encode());
    PutLengthPrefixedSlice(dst, f.largest.Encode());
  }
}

Status VersionEdit::DecodeFrom(Slice src) {
  Clear();
  Slice input = src;
  const char* error = nullptr;
  uint32_t tag;
  while (error == nullptr && !input.empty()) {
    if (!GetVarint32(&input, &tag)) {
      error = "tag";
      break;
    }
    uint64_t n;
    int level;
    Slice str;
    InternalKey key;
    switch (tag) {
      case kComparator:
        if (GetLengthPrefixedSlice(&input, &str)) {
          comparator_ = std::string(str);
        } else {
          error = "comparator name";
        }
        break;
      case kLogNumber:
        if (GetVarint64(&input, &n)) {
          log_number_ = n;
        } else {
          error = "log number";
        }
        break;
      case kPrevLogNumber:
        if (GetVarint64(&input, &n)) {
          prev_log_number_ = n;
        } else {
          error = "previous log number";
        }
        break;
      case kNextFileNumber:
        if (GetVarint64(&input, &n)) {
          next_file_number_ = n;
        } else {
          error = "next file number";
        }
        break;
      case kLastSequence:
        if (GetVarint64(&input, &n)) {
          last_sequence_ = n;
        } else {
          error = "last sequence number";
        }
        break;
      case kCompactPointer:
        if (!GetLevel(&input, &level)) {
          error = "compaction pointer";
        } else if (Status s = GetInternalKey(&input, &key, "compaction pointer"); !s.ok()) {
          Clear();
          return s;
        } else {
          compact_pointers_.emplace_back(level, std::move(key));
        }
        break;
      case kDeletedFile:
        if (GetLevel(&input, &level) && GetVarint64(&input, &n)) {
          deleted_files_.emplace(level, n);
        } else {
          error = "deleted file";
        }
        break;
      case kNewFile: {
        FileMetaData f;
        if (!GetLevel(&input, &level) || !GetVarint64(&input, &f.number) ||
            !GetVarint64(&input, &f.file_size)) {
          error = "new-file entry";
          break;
        }
        const std::string file = "new-file entry: file " + std::to_string(f.number);
        if (Status s = GetInternalKey(&input, &f.smallest, file + " smallest key"); !s.ok()) {
          Clear();
          return s;
        }
        if (Status s = GetInternalKey(&input, &f.largest, file + " largest key"); !s.ok()) {
          Clear();
          return s;
        }
        new_files_.emplace_back(level, std::move(f));
        break;
      }
      default:
        error = "unknown tag";
        break;
    }
  }
  if (error != nullptr) {
    Clear();
    return Status::Corruption("VersionEdit", error);
  }
  return Status::OK();
}

std::string VersionEdit::DebugString() const {
  std::string r = "VersionEdit {";
  if (comparator_) r += "\n  Comparator: " + *comparator_;
  if (log_number_) r += "\n  LogNumber: " + std::to_string(*log_number_);
  if (prev_log_number_) r += "\n  PrevLogNumber: " + std::to_string(*prev_log_number_);
  if (next_file_number_) r += "\n  NextFile: " + std::to_string(*next_file_number_);
  if (last_sequence_) r += "\n  LastSeq: " + std::to_string(*last_sequence_);
  for (const auto& [level, key] : compact_pointers_) {
    r += "\n  CompactPointer: " + std::to_string(level) + " " + key.DebugString();
  }
  for (const auto& [level, number] : deleted_files_) {
    r += "\n  RemoveFile: " + std::to_string(level) + " " + std::to_string(number);
  }
  for (const auto& [level, f] : new_files_) {
    r += "\n  AddFile: " + std::to_string(level) + " " + std::to_string(f.number) + " " +
         std::to_string(f.file_size) + " " + f.smallest.DebugString() + " .. " +
         f.largest.DebugString();
  }
  r += "\n}\n";
  return r;
}

}  // namespace corodb

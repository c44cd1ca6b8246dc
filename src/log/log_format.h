// The write-ahead log's physical format (LevelDB's log_format.md):
//
//   file   := block* (the last block may be partial)
//   block  := record* trailer?          (kBlockSize bytes)
//   record := checksum: fixed32   masked crc32c of type + data
//             length:   fixed16   (little-endian)
//             type:     uint8     one of RecordType
//             data:     uint8[length]
//
// A record never starts in the last kHeaderSize - 1 bytes of a block; those
// bytes are a zero-filled trailer. A user record that does not fit in the rest
// of a block is split into FIRST, MIDDLE*, LAST fragments.
#pragma once

#include <cstddef>
#include <cstdint>

namespace corodb::log {

enum RecordType : uint8_t {
  // Preallocated (zero-filled) space; never written as a real record.
  kZeroType = 0,
  kFullType = 1,
  // Fragments of a record that spans blocks.
  kFirstType = 2,
  kMiddleType = 3,
  kLastType = 4,
};
constexpr int kMaxRecordType = kLastType;

constexpr size_t kBlockSize = 32768;

// checksum (4) + length (2) + type (1)
constexpr size_t kHeaderSize = 4 + 2 + 1;
// Where each field of a header starts.
constexpr size_t kChecksumOffset = 0;
constexpr size_t kLengthOffset = 4;
constexpr size_t kTypeOffset = 6;

}  // namespace corodb::log

// The table file's framing, in LevelDB's layout:
//
//   block handle := varint64 offset + varint64 size        (size excludes the trailer)
//   block        := contents (size bytes) + trailer
//   trailer      := type (1 byte: 0 none, 1 snappy) + fixed32 masked crc32c(contents + type)
//   footer       := metaindex handle + index handle + zero padding to 40 bytes
//                   + fixed64 magic 0xdb4775248b80fb57                 (48 bytes)
//
// The footer sits at the very end of the file; the metaindex block maps
// "filter.<policy name>" to the filter block's handle; the index block maps a
// separator key (>= every key of a data block, < every key of the next) to
// that data block's handle.
#pragma once

#include <cstdint>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "corodb/options.h"
#include "corodb/slice.h"
#include "corodb/result.h"
#include "table/block_contents.h"

namespace corodb::io {
class AlignedBuffer;
class File;
}

namespace corodb::table {

constexpr uint64_t kTableMagicNumber = 0xdb4775248b80fb57ull;
// Type byte + fixed32 crc.
constexpr size_t kBlockTrailerSize = 5;
// Blocks are a few KiB; a handle claiming more than this is damage.
constexpr uint64_t kMaxBlockSize = 1ull << 30;

class BlockHandle {
 public:
  // Two varint64s.
  static constexpr size_t kMaxEncodedLength = 10 + 10;

  BlockHandle() = default;
  BlockHandle(uint64_t offset, uint64_t size) : offset_(offset), size_(size) {}

  uint64_t offset() const { return offset_; }
  uint64_t size() const { return size_; }
  void set_offset(uint64_t offset) { offset_ = offset; }
  void set_size(uint64_t size) { size_ = size; }

  void EncodeTo(std::string* dst) const;
  std::string Encode() const {
    std::string s;
    EncodeTo(&s);
    return s;
  }
  // Consumes a handle from the front of *input; false when it is malformed.
  bool DecodeFrom(Slice* input);

 private:
  uint64_t offset_ = 0;
  uint64_t size_ = 0;
};

class Footer {
 public:
  static constexpr size_t kEncodedLength = 2 * BlockHandle::kMaxEncodedLength + 8;

  Footer() = default;
  Footer(const BlockHandle& metaindex, const BlockHandle& index)
      : metaindex_handle_(metaindex), index_handle_(index) {}

  const BlockHandle& metaindex_handle() const { return metaindex_handle_; }
  const BlockHandle& index_handle() const { return index_handle_; }

  // Appends exactly kEncodedLength bytes.
  void EncodeTo(std::string* dst) const;
  // Parses kEncodedLength bytes. Corruption (message without a file name)
  // when the magic number is wrong, a handle is malformed or the padding is
  // not zero (LevelDB always writes zeros there, so a non-zero byte is damage).
  Status DecodeFrom(Slice input);

 private:
  BlockHandle metaindex_handle_;
  BlockHandle index_handle_;
};

// Appends `contents` and its trailer (type + masked crc32c) to *dst.
void AppendBlockWithTrailer(Slice contents, CompressionType type, std::string* dst);

// Compresses `raw` as `type` asks, following LevelDB's rule: Snappy output is
// kept only when it is at least 12.5% smaller. Returns the bytes to store and
// sets *stored_type to the type actually used. The result points into `raw`
// or into *scratch.
Slice MaybeCompress(Slice raw, CompressionType type, std::string* scratch,
                    CompressionType* stored_type);

// Checks and decodes one block as read from disk: `raw` holds contents +
// trailer (handle.size() + kBlockTrailerSize bytes). With `verify_checksum`
// the crc is checked first. Returns the uncompressed contents; moves out of
// *raw (which it may reuse) when the block is stored uncompressed.
// Corruption names `file_name` and the block offset: checksum mismatch,
// unknown compression type, undecodable Snappy data.
Result<std::string> DecodeBlock(std::string* raw, const BlockHandle& handle,
                                bool verify_checksum, const std::string& file_name);

// The same for a block whose bytes (contents + trailer) lie in a buffer the
// caller keeps: the contents are always copied (or uncompressed) out of `raw`,
// into a buffer that is not zero-filled first.
Result<BlockContents> DecodeBlock(Slice raw, const BlockHandle& handle, bool verify_checksum,
                                  const std::string& file_name);

// DecodeBlock for a block that is searched once and dropped: a block stored
// uncompressed is a view of `raw` itself, a compressed one is uncompressed
// into the bytes `scratch(n)` returns (at least n, kept by the caller, and
// not overlapping `raw`) and is a view of them. Valid while those bytes are
// unchanged. Checks and errors as DecodeBlock.
Result<BlockContents> DecodeBlockView(Slice raw, const BlockHandle& handle, bool verify_checksum,
                                      const std::string& file_name, char* (*scratch)(size_t n));

// Checks the size of one block as read from disk (`raw`: contents + trailer)
// and, with `verify_checksum`, its crc, as DecodeBlock does, and returns the
// compression type byte stored in its trailer, whatever its value (0 none,
// 1 snappy; DecodeBlock refuses any other as damage): for tools that show
// blocks as stored (`corodb dump-table`). Corruption naming `file_name` and
// the block offset: truncated block, checksum mismatch.
Result<unsigned char> StoredBlockType(Slice raw, const BlockHandle& handle, bool verify_checksum,
                                      const std::string& file_name);

// Reads the block `handle` points to from `file` and decodes it (DecodeBlock).
// `direct` means the file was opened with O_DIRECT: the aligned range that
// covers the block is read into an io::AlignedBuffer. Fails with the file's
// IOError, or Corruption (naming the file) for a truncated or damaged block.
// SUSPENDS: one file read. `file` must outlive the awaitable.
boost::asio::awaitable<Result<std::string>> ReadBlock(io::File& file, bool direct,
                                                      BlockHandle handle, bool verify_checksum);

// Reads [offset, offset + n) from `file` into a string (aligned read when
// `direct`). Fewer bytes than n only at end of file.
// SUSPENDS: one file read.
boost::asio::awaitable<Result<std::string>> ReadRange(io::File& file, bool direct, uint64_t offset,
                                                      size_t n);

// The file range a read of [offset, offset + n) covers: the range rounded
// out to multiples of `alignment` (an O_DIRECT file's
// io::File::direct_alignment(); 1 reads exactly the range). `skip`: where
// `offset` lies in it.
struct FileRange {
  uint64_t offset = 0;
  size_t length = 0;
  size_t skip = 0;
};
FileRange RangeToRead(uint64_t offset, size_t n, size_t alignment);

// Reads [offset, offset + n) from `file` into *buf, which is replaced by a
// larger one when too small, and returns a view of the bytes read (fewer
// than n only at end of file), valid until *buf is next used or replaced.
// When `direct`, the aligned range covering them is read. For readers that
// reuse one buffer across many reads.
// SUSPENDS: one file read. `file` and `buf` must outlive the awaitable.
boost::asio::awaitable<Result<Slice>> ReadRangeInto(io::File& file, bool direct, uint64_t offset,
                                                    size_t n, io::AlignedBuffer* buf);

}  // namespace corodb::table

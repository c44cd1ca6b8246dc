#include "table/format.h"

#include <snappy.h>

#include <algorithm>
#include <cstring>

#include "io/file.h"
#include "util/coding.h"
#include "util/crc32c.h"

namespace corodb::table {
namespace {

std::string BlockWhere(const std::string& file_name, const BlockHandle& handle) {
  return file_name + ": block at offset " + std::to_string(handle.offset());
}

}  // namespace

void BlockHandle::EncodeTo(std::string* dst) const {
  PutVarint64(dst, offset_);
  PutVarint64(dst, size_);
}

bool BlockHandle::DecodeFrom(Slice* input) {
  return GetVarint64(input, &offset_) && GetVarint64(input, &size_);
}

void Footer::EncodeTo(std::string* dst) const {
  const size_t start = dst->size();
  metaindex_handle_.EncodeTo(dst);
  index_handle_.EncodeTo(dst);
  dst->resize(start + 2 * BlockHandle::kMaxEncodedLength, '\0');
  PutFixed64(dst, kTableMagicNumber);
}

Status Footer::DecodeFrom(Slice input) {
  if (input.size() != kEncodedLength) return Status::Corruption("footer has the wrong size");
  if (DecodeFixed64(input.data() + kEncodedLength - 8) != kTableMagicNumber) {
    return Status::Corruption("not an sstable (bad magic number)");
  }
  Slice handles = input.substr(0, 2 * BlockHandle::kMaxEncodedLength);
  if (!metaindex_handle_.DecodeFrom(&handles) || !index_handle_.DecodeFrom(&handles)) {
    return Status::Corruption("bad block handle in footer");
  }
  if (std::any_of(handles.begin(), handles.end(), [](char c) { return c != '\0'; })) {
    return Status::Corruption("footer padding is not zero");
  }
  return Status::OK();
}

void AppendBlockWithTrailer(Slice contents, CompressionType type, std::string* dst) {
  dst->append(contents.data(), contents.size());
  const char type_byte = static_cast<char>(type);
  uint32_t crc = crc32c::Value(contents.data(), contents.size());
  crc = crc32c::Extend(crc, &type_byte, 1);
  dst->push_back(type_byte);
  PutFixed32(dst, crc32c::Mask(crc));
}

Slice MaybeCompress(Slice raw, CompressionType type, std::string* scratch,
                    CompressionType* stored_type) {
  *stored_type = CompressionType::kNoCompression;
  if (type != CompressionType::kSnappyCompression) return raw;
  scratch->resize(snappy::MaxCompressedLength(raw.size()));
  size_t out_len = 0;
  snappy::RawCompress(raw.data(), raw.size(), scratch->data(), &out_len);
  scratch->resize(out_len);
  if (out_len >= raw.size() - raw.size() / 8) return raw;  // saves less than 12.5%
  *stored_type = CompressionType::kSnappyCompression;
  return *scratch;
}

Result<unsigned char> StoredBlockType(Slice raw, const BlockHandle& handle, bool verify_checksum,
                                      const std::string& file_name) {
  const size_t n = static_cast<size_t>(handle.size());
  if (raw.size() != n + kBlockTrailerSize) {
    return Status::Corruption(BlockWhere(file_name, handle), "truncated block read");
  }
  const char* data = raw.data();
  if (verify_checksum) {
    const uint32_t expected = crc32c::Unmask(DecodeFixed32(data + n + 1));
    const uint32_t actual = crc32c::Value(data, n + 1);
    if (expected != actual) {
      return Status::Corruption(BlockWhere(file_name, handle), "block checksum mismatch");
    }
  }
  return static_cast<unsigned char>(data[n]);
}

namespace {

char* WritableData(std::string& s) { return s.data(); }
char* WritableData(BlockContents& c) { return c.mutable_data(); }

// The uncompressed form of `contents`, stored as `type` (not kNoCompression),
// in an Out (std::string or BlockContents) made by `make(length)`.
template <typename Out, typename Make>
Result<Out> Uncompress(Slice contents, unsigned char type, const BlockHandle& handle,
                       const std::string& file_name, Make make) {
  if (type != static_cast<unsigned char>(CompressionType::kSnappyCompression)) {
    return Status::Corruption(BlockWhere(file_name, handle), "bad block type");
  }
  size_t ulength = 0;
  // Snappy expands at most 64/3-fold (a 3-byte copy element makes at most 64
  // bytes; literals and other copies make fewer per byte). A length claimed
  // past that cannot decode, so it is damage, refused before allocating it:
  // otherwise a few damaged bytes of a small block ask for up to a GiB.
  if (!snappy::GetUncompressedLength(contents.data(), contents.size(), &ulength) ||
      ulength > kMaxBlockSize ||
      static_cast<uint64_t>(ulength) * 3 > static_cast<uint64_t>(contents.size()) * 64) {
    return Status::Corruption(BlockWhere(file_name, handle), "corrupted compressed block");
  }
  Out out = make(ulength);
  if (!snappy::RawUncompress(contents.data(), contents.size(), WritableData(out))) {
    return Status::Corruption(BlockWhere(file_name, handle), "corrupted compressed block");
  }
  return out;
}

std::string ZeroedString(size_t n) { return std::string(n, '\0'); }

constexpr unsigned char kStoredRaw = static_cast<unsigned char>(CompressionType::kNoCompression);

}  // namespace

Result<std::string> DecodeBlock(std::string* raw, const BlockHandle& handle,
                                bool verify_checksum, const std::string& file_name) {
  Result<unsigned char> type = StoredBlockType(*raw, handle, verify_checksum, file_name);
  if (!type.ok()) return type.status();
  const size_t n = static_cast<size_t>(handle.size());
  if (*type == kStoredRaw) {
    raw->resize(n);
    return std::move(*raw);
  }
  return Uncompress<std::string>(Slice(*raw).substr(0, n), *type, handle, file_name, ZeroedString);
}

Result<BlockContents> DecodeBlock(Slice raw, const BlockHandle& handle, bool verify_checksum,
                                  const std::string& file_name) {
  Result<unsigned char> type = StoredBlockType(raw, handle, verify_checksum, file_name);
  if (!type.ok()) return type.status();
  const Slice contents = raw.substr(0, static_cast<size_t>(handle.size()));
  if (*type == kStoredRaw) {
    BlockContents out = BlockContents::Uninitialized(contents.size());
    std::memcpy(out.mutable_data(), contents.data(), contents.size());
    return out;
  }
  return Uncompress<BlockContents>(contents, *type, handle, file_name,
                                   BlockContents::Uninitialized);
}

Result<BlockContents> DecodeBlockView(Slice raw, const BlockHandle& handle, bool verify_checksum,
                                      const std::string& file_name, char* (*scratch)(size_t n)) {
  Result<unsigned char> type = StoredBlockType(raw, handle, verify_checksum, file_name);
  if (!type.ok()) return type.status();
  const Slice contents = raw.substr(0, static_cast<size_t>(handle.size()));
  if (*type == kStoredRaw) {
    // Never written through: the view only lets Block read the bytes.
    return BlockContents::View(const_cast<char*>(contents.data()), contents.size());
  }
  return Uncompress<BlockContents>(contents, *type, handle, file_name, [scratch](size_t n) {
    return BlockContents::View(scratch(n), n);
  });
}

boost::asio::awaitable<Result<std::string>> ReadRange(io::File& file, bool direct, uint64_t offset,
                                                      size_t n) {
  if (!direct) {
    std::string buf(n, '\0');
    Result<size_t> got = co_await file.ReadAt(offset, std::span<char>(buf.data(), n));
    if (!got.ok()) co_return got.status();
    buf.resize(*got);
    co_return buf;
  }
  io::AlignedBuffer buf(n + 2 * io::AlignedBuffer::kAlignment);  // covers the aligned range
  Result<Slice> got = co_await ReadRangeInto(file, direct, offset, n, &buf);
  if (!got.ok()) co_return got.status();
  co_return std::string(*got);
}

FileRange RangeToRead(uint64_t offset, size_t n, size_t alignment) {
  const uint64_t align = std::max<uint64_t>(alignment, 1);
  const uint64_t start = offset / align * align;
  const uint64_t end = (offset + n + align - 1) / align * align;
  return FileRange{start, static_cast<size_t>(end - start), static_cast<size_t>(offset - start)};
}

boost::asio::awaitable<Result<Slice>> ReadRangeInto(io::File& file, bool direct, uint64_t offset,
                                                    size_t n, io::AlignedBuffer* buf) {
  const FileRange range = RangeToRead(offset, n, direct ? file.direct_alignment() : 1);
  if (buf->size() < range.length) *buf = io::AlignedBuffer(range.length);
  Result<size_t> got =
      co_await file.ReadAt(range.offset, std::span<char>(buf->data(), range.length));
  if (!got.ok()) co_return got.status();
  const size_t avail = *got > range.skip ? *got - range.skip : 0;
  co_return Slice(buf->data() + range.skip, std::min(n, avail));
}

boost::asio::awaitable<Result<std::string>> ReadBlock(io::File& file, bool direct,
                                                      BlockHandle handle, bool verify_checksum) {
  if (handle.size() > kMaxBlockSize) {
    co_return Status::Corruption(BlockWhere(file.path(), handle), "block size out of range");
  }
  Result<std::string> raw = co_await ReadRange(file, direct, handle.offset(),
                                               static_cast<size_t>(handle.size()) + kBlockTrailerSize);
  if (!raw.ok()) co_return raw.status();
  co_return DecodeBlock(&*raw, handle, verify_checksum, file.path());
}

}  // namespace corodb::table

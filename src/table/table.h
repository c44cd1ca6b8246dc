// Table: an open, immutable sorted table file, read with awaited block reads
// through the block cache.
//
//   co_await Table::Open(...)    footer, index block, metaindex and filter
//                                block are read (checksums always verified:
//                                they are read once per open)
//   TryGet(...)                  point lookup, synchronous part: answers when
//                                the filter rules the key out or the data
//                                block is in the block cache or the page
//                                cache (RWF_NOWAIT read); never suspends.
//                                A block the cache declines (Admit) is
//                                decoded into a per-thread buffer, searched
//                                and dropped
//   co_await Get(...)            point lookup; suspends only for a block read
//   ProbeWithoutIO, BlockRead,   a point lookup in steps, for lookups that
//   AdoptBlock, SearchBlock      read their blocks in batches (BlockBatch)
//   NewIterator(...)             two-level iterator over index and data blocks
//   NewSequentialIterator(...)   forward-only scan for compactions: data blocks
//                                in large sequential reads, always verified,
//                                never through the block cache
//
// Data blocks are checksum-verified when ReadOptions::verify_checksums or
// TableOptions::paranoid_checks is set. Every Corruption names the file.
//
// Invariants / thread safety: a Table is immutable after Open(); any number of
// coroutines on any threads may use it at once (the block cache is
// thread-safe and block_reads_ is atomic). It owns its file.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "corodb/options.h"
#include "table/block.h"
#include "table/block_cache.h"
#include "table/filter_block.h"
#include "table/format.h"
#include "table/iterator.h"
#include "table/table_options.h"
#include "corodb/result.h"

namespace corodb::io {
class AlignedBuffer;
class File;
struct BatchRead;
}

namespace corodb::table {

class PageResidency;

// Bytes a sequential (compaction input) iterator reads at once, by default:
// a few reads per table of the default 2 MiB, each long enough that a disk's
// positioning time is small against its transfer time.
inline constexpr size_t kDefaultSequentialReadahead = size_t{1} << 20;

// The outcome of a point lookup in one table: the first entry at or after
// the key in the data block the index points to (LevelDB's InternalGet), or
// nothing. The caller decides whether that entry is a match (same user key).
struct LookupResult {
  bool found = false;
  std::string key;
  std::string value;
};

// A data block in use: pinned in the block cache, or owned (not cached).
class BlockRef {
 public:
  BlockRef() = default;
  explicit BlockRef(BlockCache::Handle handle) : handle_(std::move(handle)) {}
  explicit BlockRef(std::unique_ptr<const Block> owned) : owned_(std::move(owned)) {}
  const Block* get() const { return handle_ ? &handle_.value() : owned_.get(); }
  explicit operator bool() const { return get() != nullptr; }

 private:
  BlockCache::Handle handle_;
  std::unique_ptr<const Block> owned_;
};

// A window of a table file's bytes, read ahead of a scan: once a scan has
// moved into neighbouring blocks twice in one direction, TryLoadBlock takes
// the stored bytes of the blocks it enters from here, refilled from the
// block entered onward in the scan's direction with one page-cache read
// (never the disk) of 16 KiB, doubling per refill up to 64 KiB. A scan so
// costs a system call per window instead of a first-touch fault per page
// of the mapping (decisions.md, "Scans read ahead in windows"). A refill
// the page cache cannot serve turns the window off for the next
// kRefusedSkips blocks (the scan reads them as without a window).
//
// Invariants / thread safety: one user at a time. Holds bytes of one file
// (a TableIterator's own). Its buffer (at least kMaxRead bytes) comes from
// and returns to the per-thread pool LazyBlocks use (TakePooledBuffer).
class ScanWindow {
 public:
  static constexpr size_t kFirstRead = 16 << 10;
  static constexpr size_t kMaxRead = 64 << 10;
  static constexpr int kRefusedSkips = 8;

  ScanWindow() = default;
  ScanWindow(const ScanWindow&) = delete;
  ScanWindow& operator=(const ScanWindow&) = delete;
  ~ScanWindow();

  // A seek: the next refill starts small again (the bytes held stay valid).
  void Restart() {
    next_read_ = kFirstRead;
    skips_ = 0;
  }

 private:
  friend class Table;
  bool Holds(uint64_t offset, uint64_t n) const {
    return offset >= offset_ && n <= length_ && offset - offset_ <= length_ - n;
  }

  std::unique_ptr<char[]> buf_;  // at least kMaxRead bytes once allocated
  size_t capacity_ = 0;          // buf_'s size
  uint64_t offset_ = 0;          // file offset of buf_[0]
  size_t length_ = 0;            // bytes held
  size_t next_read_ = kFirstRead;
  int skips_ = 0;  // blocks still to read without the window
};

class Table {
  struct PrivateTag {};

 public:
  // Opens the table in `file` (taken over), which is `file_size` bytes long.
  // `direct`: the file was opened with O_DIRECT (reads are then aligned).
  // Fails with Corruption naming the file when the footer, index, metaindex
  // or filter block is damaged, or with the file's IOError.
  // SUSPENDS: three or four reads.
  static boost::asio::awaitable<Result<std::unique_ptr<Table>>> Open(
      TableOptions options, std::unique_ptr<io::File> file, uint64_t file_size, bool direct = false);

  ~Table();
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  // Point lookup without waiting for the disk: the answer when the filter
  // excludes `key` or the data block is in the block cache or the page cache
  // (copied with one non-blocking read); nullopt when a disk read is needed
  // (then co_await Get()). Errors: Corruption naming the file.
  std::optional<Result<LookupResult>> TryGet(const ReadOptions& options, Slice key) const;

  // Point lookup: consults the filter, then the data block (cache, else an
  // awaited read, shared with concurrent readers of the same block).
  // SUSPENDS: at most one block read, and only on a cache miss.
  boost::asio::awaitable<Result<LookupResult>> Get(ReadOptions options, Slice key) const;

  // The synchronous part of a point lookup (TryGet's): `answer` when the
  // filter, the block cache or the page cache answers; otherwise `handle`
  // names the data block to read, then search with SearchBlock. For
  // lookups that read their blocks in batches (BlockBatch).
  struct Probe {
    std::optional<Result<LookupResult>> answer;
    BlockHandle handle;
  };
  Probe ProbeWithoutIO(const ReadOptions& options, Slice key) const;
  // The first entry at or after `key` in `block` (the data block at
  // `handle`), as Get answers. Corruption naming the file and block.
  Result<LookupResult> SearchBlock(const Block& block, const BlockHandle& handle, Slice key) const;

  // Batched reads of data blocks (BlockBatch), in two steps. BlockRead
  // returns the read that brings the block at `handle` with its trailer
  // into *buf (made large enough; an aligned range when the file is
  // O_DIRECT) and sets *skip to where the block starts in *buf; it counts
  // in block_reads(). Corruption when the handle claims an impossible size.
  // AdoptBlock then checks and decodes the bytes read (`raw`, from the
  // block's start; short at end of file), verifying the checksum when
  // options.verify_checksums or paranoid_checks asks, and inserts the
  // block into the block cache when options.fill_cache (as LoadBlock: a
  // block that needed a read is kept without asking Admit).
  // Corruption names the file and block offset.
  Result<io::BatchRead> BlockRead(const BlockHandle& handle, io::AlignedBuffer* buf,
                                  size_t* skip) const;
  Result<BlockRef> AdoptBlock(const ReadOptions& options, const BlockHandle& handle,
                              Slice raw) const;

  // An iterator over every entry. The table must outlive it.
  std::unique_ptr<AsyncIterator> NewIterator(const ReadOptions& options) const;

  // A forward-only iterator over every entry, for compaction inputs
  // (table/sequential_iterator.h): consecutive data blocks are read together,
  // up to `readahead` bytes per read (a larger block is read whole), each
  // block's checksum is verified, and the block cache is neither consulted
  // nor filled. Supports SeekToFirst, Next and TryNext; Seek, SeekToLast and
  // Prev make it invalid with NotSupported. The table must outlive it.
  // `reads`, when set, counts its file reads and their bytes (shared by
  // many iterators: relaxed atomics).
  std::unique_ptr<AsyncIterator> NewSequentialIterator(
      size_t readahead = kDefaultSequentialReadahead, SequentialReadCount* reads = nullptr) const;

  // Approximate file offset where the data for `key` begins (or would).
  uint64_t ApproximateOffsetOf(Slice key) const;

  const std::string& file_name() const;
  uint64_t file_size() const { return file_size_; }
  // The footer read by Open: where the metaindex and index blocks are.
  const Footer& footer() const { return footer_; }
  bool has_filter() const { return filter_.has_value(); }

  // One entry of the metaindex block: a meta block's name (LevelDB writes
  // only "filter.<policy name>") and where the block is.
  struct MetaBlock {
    std::string name;
    BlockHandle handle;
  };
  // Every entry of the metaindex block, in order, read again from the file
  // (checksum verified), whatever filter policy the table was opened with:
  // for tools that show what a table holds (`corodb dump-table`). Errors:
  // Corruption naming the file for a damaged block or an entry whose handle
  // is malformed or lies outside the file; the file's IOError.
  // SUSPENDS: one block read.
  boost::asio::awaitable<Result<std::vector<MetaBlock>>> ReadMetaIndex() const;
  // Data-block reads issued so far (cache misses that went to the file).
  uint64_t block_reads() const { return block_reads_.load(std::memory_order_relaxed); }
  // Filter checks that ruled a key out without touching its data block.
  uint64_t filter_negatives() const { return filter_negatives_.load(std::memory_order_relaxed); }
  // File reads issued by sequential iterators (ReadRaw).
  uint64_t sequential_reads() const { return sequential_reads_.load(std::memory_order_relaxed); }
  // Of block_reads(), those decoded straight from the mapping.
  uint64_t mapped_block_reads() const {
    return mapped_block_reads_.load(std::memory_order_relaxed);
  }
  // File reads that refilled a scan's ScanWindow.
  uint64_t window_reads() const { return window_reads_.load(std::memory_order_relaxed); }
  // Of block_reads(), those the cache did not keep that went to a LazyBlock
  // (a BlockIter over a SnappyStream): decoded only as far as their reader
  // went, or, a scan's, whole at once without a copy.
  uint64_t partial_decodes() const { return partial_decodes_.load(std::memory_order_relaxed); }
  // Whether the file is mapped (see map_ below).
  bool mapped() const { return map_ != nullptr; }
  // Tests: retakes the page-cache residency picture now (nothing to do when
  // the table is not mapped or mmap_reads reads every block from the map).
  void RefreshResidencyForTesting() const;
  // At most this many tables of the process are mapped at once (later ones
  // are read with system calls only).
  static constexpr int kMaxMappedTables = 1000;
  // Tests: sets that limit; returns the old one.
  static int SetMappedTableLimitForTesting(int limit);

  // For the iterator: the data block at `handle`, from the cache or the file
  // (inserted into the cache when options.fill_cache). Checksums are checked
  // on reads from the file only: a cached block, or one whose in-flight load
  // this call joins, was checked as its first reader asked (as in LevelDB).
  // SUSPENDS: one block read on a cache miss.
  boost::asio::awaitable<Result<BlockRef>> LoadBlock(ReadOptions options, BlockHandle handle) const;
  // LoadBlock without I/O: from the block cache, the mapping or the page
  // cache; nullopt when the block must be read (co_await LoadBlock).
  std::optional<Result<BlockRef>> TryLoadBlock(const ReadOptions& options,
                                               const BlockHandle& handle) const;
  // TryLoadBlock, except that a Snappy block the block cache does not keep
  // (declined, or fill_cache false) is not decoded: *lazy is Reset with a
  // copy of its stored bytes, to decode them as an iterator over it moves
  // (BlockIter over lazy->stream()), and the BlockRef returned is empty.
  // With `window` (a scan moving `forward` or back that reads ahead), a
  // block the block cache does not hold comes from *window, refilled when
  // it does not hold the block; when the page cache does not hold the
  // refill, the block is read as without a window. A scan's *lazy is
  // decoded whole at once (LazyBlock::Reset's `whole`): it reads every entry.
  std::optional<Result<BlockRef>> TryLoadBlock(const ReadOptions& options,
                                               const BlockHandle& handle, LazyBlock* lazy,
                                               ScanWindow* window = nullptr,
                                               bool forward = true) const;
  // Decodes an index entry's value; Corruption naming the file when bad or
  // pointing outside the data area.
  Result<BlockHandle> DecodeDataHandle(Slice index_value) const;
  const Block& index_block() const { return index_block_; }
  const Comparator* comparator() const { return options_.comparator; }
  bool internal_keys() const { return options_.internal_keys; }
  // Prefixes a block-level error with the file name and block offset.
  Status BlockError(const BlockHandle& handle, const Status& s) const;

  // For the sequential iterator: reads [offset, offset + n) of the file into
  // *buf (ReadRangeInto: aligned when the file is O_DIRECT); the view is
  // shorter than n only at end of file. Errors: the file's IOError.
  // SUSPENDS: one file read. `buf` must outlive the awaitable.
  boost::asio::awaitable<Result<Slice>> ReadRaw(uint64_t offset, size_t n,
                                                io::AlignedBuffer* buf) const;
  // For the sequential iterator: the data block `handle` from its bytes as
  // stored (`raw`: contents + trailer), checksum always verified.
  // Corruption naming the file and the block offset.
  Result<Block> DecodeDataBlock(Slice raw, const BlockHandle& handle) const;

 // Use Open(). Public only for std::make_unique.
  Table(PrivateTag, TableOptions options, std::unique_ptr<io::File> file, uint64_t file_size,
        bool direct, Footer footer, Block index_block);

 private:
  // Seeks `it` (over the data block at `handle`) to `key` and answers as
  // SearchBlock does.
  Result<LookupResult> SeekAnswer(BlockIter* it, const BlockHandle& handle, Slice key) const;
  // The data block at `handle` when the page cache holds all of it (copied
  // on this thread with RWF_NOWAIT, decoded, kept as KeepBlock does);
  // nullopt when it would need the disk (or the file is O_DIRECT). Never
  // suspends.
  std::optional<Result<BlockRef>> TryReadCachedBlock(const ReadOptions& options,
                                                     const BlockHandle& handle,
                                                     LazyBlock* lazy = nullptr,
                                                     ScanWindow* window = nullptr,
                                                     bool forward = true) const;
  // The stored bytes (contents + trailer) of the block at `handle` from
  // *window, refilled (a page-cache read of the file, RWF_NOWAIT) when it
  // does not hold them; nullopt when the page cache does not hold them all.
  // Valid until the window's next refill. Counts the read in block_reads().
  // Never suspends.
  std::optional<Result<Slice>> TryWindowBytes(const BlockHandle& handle, ScanWindow* window,
                                              bool forward) const;
  // The stored bytes (contents + trailer) of the block at `handle` when the
  // mapping or the page cache holds all of them: a view of the mapping, or
  // a copy in this thread's read buffer (valid until the thread's next such
  // read); nullopt when the disk is needed (or the file is O_DIRECT).
  // Counts the read in block_reads(). Corruption when the handle points
  // past the end of a mapped file. Never suspends.
  std::optional<Result<Slice>> TryCachedBytes(const BlockHandle& handle) const;
  // Asks the CPU for the first lines and the trailer of the block at
  // `handle` in the mapping (nothing when not mapped), so that reading it
  // after other work finds them on the way. Never faults, never blocks.
  void PrefetchMapped(const BlockHandle& handle) const;
  // Counts this table among the process's mapped ones; false at the limit.
  static bool TakeMapSlot();

  boost::asio::awaitable<Result<Loaded<Block>>> ReadDataBlock(BlockHandle handle, bool verify) const;
  boost::asio::awaitable<Status> ReadFilter(BlockHandle metaindex_handle);
  // Parses decoded block contents; a bad layout is Corruption naming the block.
  Result<Block> ParseDataBlock(BlockContents contents, const BlockHandle& handle) const;
  // The decoded data block `contents` as a BlockRef: inserted into the block
  // cache when there is one, options.fill_cache is set and the cache admits
  // it (ShardedLruCache::Admit), else owned.
  Result<BlockRef> KeepBlock(const ReadOptions& options, const BlockHandle& handle,
                             Result<BlockContents> contents) const;
  // The decoded data block `contents`, inserted into the block cache (a
  // view is copied first). REQUIRES: options_.block_cache.
  Result<BlockRef> CacheBlock(const BlockHandle& handle, Result<BlockContents> contents) const;

  const TableOptions options_;
  std::unique_ptr<io::File> file_;
  const uint64_t file_size_;
  const bool direct_;
  const Footer footer_;
  const Block index_block_;
  std::optional<FilterBlockReader> filter_;
  const uint64_t cache_id_;  // this table's id in the block cache (0: no cache)
  // A block the cache declines may be decoded only as far as a read needs
  // (BlockIter over a SnappyStream): the table holds internal keys.
  const bool front_search_;
  // The file mapped read-only, or nullptr (O_DIRECT, empty, or the map
  // failed). With TableOptions::mmap_reads every block-cache miss decodes
  // from it; without, only blocks whose pages residency_ says the page cache
  // holds (the others are read with RWF_NOWAIT, then through the ring).
  const char* map_ = nullptr;
  std::unique_ptr<PageResidency> residency_;
  mutable std::atomic<uint64_t> block_reads_{0};
  mutable std::atomic<uint64_t> mapped_block_reads_{0};
  mutable std::atomic<uint64_t> partial_decodes_{0};
  mutable std::atomic<uint64_t> window_reads_{0};
  mutable std::atomic<uint64_t> filter_negatives_{0};
  mutable std::atomic<uint64_t> sequential_reads_{0};
};

}  // namespace corodb::table

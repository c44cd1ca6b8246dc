#include "table/table.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <span>

#include "io/file.h"
#include "table/page_residency.h"
#include "table/sequential_iterator.h"
#include "table/snappy_stream.h"
#include "table/table_iterator.h"

namespace corodb::table {
namespace {

Status Named(const std::string& file_name, std::string_view what, const Status& s) {
  if (s.ok()) return s;
  if (!s.IsCorruption()) return s;
  return Status::Corruption(file_name + ": " + std::string(what), s.message());
}

// A buffer of `n` bytes for this thread's use until its next call with the
// same `kWhich` (contents unspecified). Blocks are at most a few KiB in
// practice; an unusually large one gets its own buffer, released at the
// next call, so no thread keeps megabytes for good.
template <int kWhich>
std::span<char> PerThreadBuffer(size_t n) {
  constexpr size_t kKeep = 256 << 10;
  thread_local std::unique_ptr<char[]> buf;
  thread_local size_t capacity = 0;
  if (n > capacity || (capacity > kKeep && n <= kKeep)) {
    const size_t want = n <= kKeep ? std::max<size_t>(n, 16 << 10) : n;
    buf.reset(new char[want]);
    capacity = want;
  }
  return std::span<char>(buf.get(), n);
}

// Lines of a mapped data block ProbeWithoutIO prefetches.
constexpr int kPrefetchLines = 8;

// The stored bytes of a block read with a system call.
std::span<char> ScratchBuffer(size_t n) { return PerThreadBuffer<0>(n); }

// A block decoded only to be searched once (the read buffer may hold its
// stored bytes meanwhile).
char* DecodeScratch(size_t n) { return PerThreadBuffer<1>(n).data(); }

// True when [handle.offset, +size + trailer) lies within the first `limit` bytes.
bool HandleWithin(const BlockHandle& handle, uint64_t limit) {
  return handle.offset() <= limit && handle.size() <= limit &&
         handle.offset() + handle.size() + kBlockTrailerSize <= limit;
}

// Tables of this process mapped now, and how many may be.
std::atomic<int> mapped_tables{0};
std::atomic<int> mapped_table_limit{Table::kMaxMappedTables};

}  // namespace

Table::Table(PrivateTag, TableOptions options, std::unique_ptr<io::File> file, uint64_t file_size,
             bool direct, Footer footer, Block index_block)
    : options_(std::move(options)),
      file_(std::move(file)),
      file_size_(file_size),
      direct_(direct),
      footer_(footer),
      index_block_(std::move(index_block)),
      cache_id_(options_.block_cache != nullptr ? options_.block_cache->NewId() : 0),
      front_search_(options_.internal_keys) {
  // Without mmap_reads the mapping is read only where the page cache holds
  // it (decisions.md, "Reads from the page cache on the caller's thread"),
  // so only where mincore tells this process the truth (asked last: it costs
  // system calls).
  const bool wanted =
      !direct_ && file_size_ > 0 &&
      (options_.mmap_reads ||
       (options_.map_resident_pages && PageResidency::Reported(file_->fd(), file_->path())));
  if (wanted && TakeMapSlot()) {
    // A table is immutable once written, so the mapping stays valid. A
    // failed map only costs the fast path.
    void* p = ::mmap(nullptr, file_size_, PROT_READ, MAP_SHARED, file_->fd(), 0);
    if (p != MAP_FAILED) {
      map_ = static_cast<const char*>(p);
      if (!options_.mmap_reads) residency_ = std::make_unique<PageResidency>(map_, file_size_);
    } else {
      mapped_tables.fetch_sub(1, std::memory_order_relaxed);
    }
  }
}

Table::~Table() {
  if (map_ != nullptr) {
    ::munmap(const_cast<char*>(map_), file_size_);
    mapped_tables.fetch_sub(1, std::memory_order_relaxed);
  }
}

bool Table::TakeMapSlot() {
  // One mapping per table, up to a limit per process (as LevelDB's 1000):
  // mappings count against vm.max_map_count, and past it every mmap of the
  // process fails, malloc's and thread stacks' included.
  int n = mapped_tables.load(std::memory_order_relaxed);
  do {
    if (n >= mapped_table_limit.load(std::memory_order_relaxed)) return false;
  } while (!mapped_tables.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
  return true;
}

int Table::SetMappedTableLimitForTesting(int limit) {
  return mapped_table_limit.exchange(limit, std::memory_order_relaxed);
}

const std::string& Table::file_name() const { return file_->path(); }

void Table::RefreshResidencyForTesting() const {
  if (residency_ != nullptr) residency_->RefreshForTesting();
}

boost::asio::awaitable<Result<std::unique_ptr<Table>>> Table::Open(TableOptions options,
                                                                   std::unique_ptr<io::File> file,
                                                                   uint64_t file_size, bool direct) {
  const std::string& name = file->path();
  if (file_size < Footer::kEncodedLength) {
    co_return Status::Corruption(name, "file is too short to be an sstable");
  }
  const uint64_t footer_offset = file_size - Footer::kEncodedLength;
  Result<std::string> footer_bytes =
      co_await ReadRange(*file, direct, footer_offset, Footer::kEncodedLength);
  if (!footer_bytes.ok()) co_return footer_bytes.status();
  if (footer_bytes->size() != Footer::kEncodedLength) {
    co_return Status::Corruption(name, "truncated footer read");
  }
  Footer footer;
  if (Status s = footer.DecodeFrom(*footer_bytes); !s.ok()) co_return Named(name, "footer", s);
  if (!HandleWithin(footer.index_handle(), footer_offset) ||
      !HandleWithin(footer.metaindex_handle(), footer_offset)) {
    co_return Status::Corruption(name, "footer: block handle out of range");
  }

  // Index, metaindex and filter are read once per open: always verified.
  Result<std::string> index_contents =
      co_await ReadBlock(*file, direct, footer.index_handle(), /*verify_checksum=*/true);
  if (!index_contents.ok()) co_return index_contents.status();
  Result<Block> index_block = Block::Parse(std::move(*index_contents));
  if (!index_block.ok()) co_return Named(name, "index block", index_block.status());

  auto table = std::make_unique<Table>(PrivateTag{}, std::move(options), std::move(file), file_size,
                                       direct, footer, std::move(*index_block));
  if (Status s = co_await table->ReadFilter(footer.metaindex_handle()); !s.ok()) co_return s;
  co_return std::move(table);
}

boost::asio::awaitable<Status> Table::ReadFilter(BlockHandle metaindex_handle) {
  const std::string& name = file_->path();
  Result<std::string> contents =
      co_await ReadBlock(*file_, direct_, metaindex_handle, /*verify_checksum=*/true);
  if (!contents.ok()) co_return contents.status();
  Result<Block> metaindex = Block::Parse(std::move(*contents));
  if (!metaindex.ok()) co_return Named(name, "metaindex block", metaindex.status());
  if (!options_.filter_policy) co_return Status::OK();

  const std::string filter_key = std::string("filter.") + options_.filter_policy->Name();
  BlockIter it(&*metaindex, BytewiseComparator());
  it.Seek(filter_key);
  if (!it.status().ok()) co_return Named(name, "metaindex block", it.status());
  if (!it.Valid() || it.key() != filter_key) co_return Status::OK();  // table has no such filter

  BlockHandle filter_handle;
  Slice v = it.value();
  if (!filter_handle.DecodeFrom(&v) || !HandleWithin(filter_handle, footer_.metaindex_handle().offset())) {
    co_return Status::Corruption(name, "metaindex block: bad filter handle");
  }
  Result<std::string> filter_contents =
      co_await ReadBlock(*file_, direct_, filter_handle, /*verify_checksum=*/true);
  if (!filter_contents.ok()) co_return filter_contents.status();
  Result<FilterBlockReader> filter =
      FilterBlockReader::Parse(options_.filter_policy, std::move(*filter_contents));
  if (!filter.ok()) co_return Named(name, "filter block", filter.status());
  filter_.emplace(std::move(*filter));
  co_return Status::OK();
}

boost::asio::awaitable<Result<std::vector<Table::MetaBlock>>> Table::ReadMetaIndex() const {
  const std::string& name = file_->path();
  Result<std::string> contents =
      co_await ReadBlock(*file_, direct_, footer_.metaindex_handle(), /*verify_checksum=*/true);
  if (!contents.ok()) co_return contents.status();
  Result<Block> metaindex = Block::Parse(std::move(*contents));
  if (!metaindex.ok()) co_return Named(name, "metaindex block", metaindex.status());
  std::vector<MetaBlock> entries;
  BlockIter it(&*metaindex, BytewiseComparator());
  for (it.SeekToFirst(); it.Valid(); it.Next()) {
    MetaBlock entry{std::string(it.key()), BlockHandle()};
    Slice v = it.value();
    if (!entry.handle.DecodeFrom(&v) ||
        !HandleWithin(entry.handle, footer_.metaindex_handle().offset())) {
      co_return Status::Corruption(name, "metaindex block: bad handle for '" + entry.name + "'");
    }
    entries.push_back(std::move(entry));
  }
  if (!it.status().ok()) co_return Named(name, "metaindex block", it.status());
  co_return entries;
}

Status Table::BlockError(const BlockHandle& handle, const Status& s) const {
  return Named(file_->path(), "block at offset " + std::to_string(handle.offset()), s);
}

Result<BlockHandle> Table::DecodeDataHandle(Slice index_value) const {
  BlockHandle handle;
  if (!handle.DecodeFrom(&index_value) ||
      !HandleWithin(handle, file_size_ - Footer::kEncodedLength)) {
    return Status::Corruption(file_->path(), "index block: bad block handle");
  }
  return handle;
}

Table::Probe Table::ProbeWithoutIO(const ReadOptions& options, Slice key) const {
  Probe probe;
  BlockIter index(&index_block_, options_.comparator, options_.internal_keys);
  index.Seek(key);
  if (!index.Valid()) {
    if (!index.status().ok()) {
      probe.answer.emplace(Named(file_->path(), "index block", index.status()));
    } else {
      probe.answer.emplace(LookupResult{});  // past the last key
    }
    return probe;
  }
  Result<BlockHandle> handle = DecodeDataHandle(index.value());
  if (!handle.ok()) {
    probe.answer.emplace(handle.status());
    return probe;
  }
  probe.handle = *handle;
  if (filter_.has_value() && !filter_->KeyMayMatch(handle->offset(), key)) {
    filter_negatives_.fetch_add(1, std::memory_order_relaxed);
    probe.answer.emplace(LookupResult{});
    return probe;
  }
  // Read below after the block cache lookup: the misses overlap.
  PrefetchMapped(*handle);
  if (options_.block_cache != nullptr) {
    if (BlockCache::Handle cached = options_.block_cache->Lookup({cache_id_, handle->offset()})) {
      probe.answer.emplace(SearchBlock(cached.value(), *handle, key));
      return probe;
    }
  }
  // Not in the block cache: a block the mapping or the page cache holds is
  // decoded on this thread.
  std::optional<Result<Slice>> raw = TryCachedBytes(*handle);
  if (!raw.has_value()) return probe;  // the disk is needed: co_await Get
  if (!raw->ok()) {
    probe.answer.emplace(raw->status());
    return probe;
  }
  bool verify = options.verify_checksums || options_.paranoid_checks;
  const bool may_cache = options_.block_cache != nullptr && options.fill_cache;
  std::optional<bool> admitted;  // the block cache's answer, once asked
  if (front_search_) {
    // A Snappy block the cache declines is decoded only up to the answer
    // (decisions.md, "A declined block is decoded only as far as its
    // reader goes").
    Result<unsigned char> type = StoredBlockType(**raw, *handle, verify, file_->path());
    if (!type.ok()) {
      probe.answer.emplace(type.status());
      return probe;
    }
    verify = false;  // done once
    SnappyStream stream;
    if (*type == static_cast<unsigned char>(CompressionType::kSnappyCompression) &&
        stream.Init((**raw).substr(0, static_cast<size_t>(handle->size())), kMaxBlockSize)) {
      admitted = may_cache && options_.block_cache->Admit({cache_id_, handle->offset()},
                                                          Block::ChargeFor(stream.length()));
      if (!*admitted) {
        partial_decodes_.fetch_add(1, std::memory_order_relaxed);
        stream.SetOutput(DecodeScratch(stream.length() + SnappyStream::kSlop));
        BlockIter it(&stream, options_.comparator);
        probe.answer.emplace(SeekAnswer(&it, *handle, key));
        return probe;
      }
    }
  }
  // Decoded into this thread's buffer first: the block cache's admission
  // rule needs the decoded size, and a block it declines is searched there
  // and dropped, so the lookup allocates nothing and evicts nothing.
  Result<BlockContents> view = DecodeBlockView(**raw, *handle, verify, file_->path(), DecodeScratch);
  if (!view.ok()) {
    probe.answer.emplace(view.status());
    return probe;
  }
  if (!admitted.has_value()) {
    admitted = may_cache && options_.block_cache->Admit({cache_id_, handle->offset()},
                                                        Block::ChargeFor(view->size()));
  }
  if (*admitted) {  // an owned copy's charge, asked above
    Result<BlockRef> block = CacheBlock(*handle, std::move(view));
    probe.answer.emplace(block.ok() ? SearchBlock(*block->get(), *handle, key)
                                    : Result<LookupResult>(block.status()));
    return probe;
  }
  Result<Block> block = ParseDataBlock(std::move(*view), *handle);
  probe.answer.emplace(block.ok() ? SearchBlock(*block, *handle, key)
                                  : Result<LookupResult>(block.status()));
  return probe;
}

ScanWindow::~ScanWindow() {
  if (buf_ != nullptr) ReturnPooledBuffer(std::move(buf_), capacity_);
}

std::optional<Result<Slice>> Table::TryWindowBytes(const BlockHandle& handle, ScanWindow* window,
                                                   bool forward) const {
  // mmap_reads asks for every read through the mapping; O_DIRECT files
  // have no page cache to read ahead from; a backend that must see every
  // read (fault injection) sees this one too, held bytes included.
  const uint64_t n = handle.size() + kBlockTrailerSize;
  if (direct_ || options_.mmap_reads || n > ScanWindow::kMaxRead ||
      !file_->AllowsCachedReads()) {
    return std::nullopt;
  }
  if (handle.offset() > file_size_ || n > file_size_ - handle.offset()) {
    return Result<Slice>(
        BlockError(handle, Status::Corruption("block handle past the end of the file")));
  }
  if (!window->Holds(handle.offset(), n)) {
    if (window->skips_ > 0) {  // a refill failed lately: not yet again
      --window->skips_;
      return std::nullopt;
    }
    // From the block onward in the scan's direction: forward from its
    // start, backward ending at its end.
    const size_t want = std::max<size_t>(window->next_read_, static_cast<size_t>(n));
    uint64_t start = handle.offset();
    if (!forward) start = handle.offset() + n > want ? handle.offset() + n - want : 0;
    const size_t length = static_cast<size_t>(std::min<uint64_t>(want, file_size_ - start));
    if (window->buf_ == nullptr) {
      // A scan makes a new table iterator per file: a fresh buffer each
      // time would fault its pages in again.
      window->buf_ = TakePooledBuffer(ScanWindow::kMaxRead, &window->capacity_);
      if (window->buf_ == nullptr) {
        window->buf_.reset(new char[ScanWindow::kMaxRead]);
        window->capacity_ = ScanWindow::kMaxRead;
      }
    }
    window->length_ = 0;  // until the read below lands
    std::optional<Result<size_t>> got =
        file_->TryReadCached(start, std::span<char>(window->buf_.get(), length));
    // Not cached, or an error reading bytes that may not be the block's
    // own (a backward window starts before it): the block is read as
    // without a window, which reports its own errors.
    if (!got.has_value() || !got->ok()) {
      window->skips_ = ScanWindow::kRefusedSkips;
      return std::nullopt;
    }
    window_reads_.fetch_add(1, std::memory_order_relaxed);
    window->offset_ = start;
    window->length_ = **got;  // short when the page cache holds only a front part
    window->next_read_ = std::min(window->next_read_ * 2, ScanWindow::kMaxRead);
    if (residency_ != nullptr && **got > 0) residency_->MarkResident(start, **got);
    if (!window->Holds(handle.offset(), n)) {
      window->skips_ = ScanWindow::kRefusedSkips;
      return std::nullopt;
    }
  }
  block_reads_.fetch_add(1, std::memory_order_relaxed);
  return Result<Slice>(Slice(window->buf_.get() + (handle.offset() - window->offset_),
                             static_cast<size_t>(n)));
}

std::optional<Result<BlockRef>> Table::TryReadCachedBlock(const ReadOptions& options,
                                                          const BlockHandle& handle,
                                                          LazyBlock* lazy, ScanWindow* window,
                                                          bool forward) const {
  std::optional<Result<Slice>> raw;
  if (window != nullptr) raw = TryWindowBytes(handle, window, forward);
  if (!raw.has_value()) raw = TryCachedBytes(handle);
  if (!raw.has_value()) return std::nullopt;
  if (!raw->ok()) return Result<BlockRef>(raw->status());
  bool verify = options.verify_checksums || options_.paranoid_checks;
  if (lazy != nullptr && front_search_) {
    Result<unsigned char> type = StoredBlockType(**raw, handle, verify, file_->path());
    if (!type.ok()) return Result<BlockRef>(type.status());
    verify = false;  // done once
    const Slice stored = (**raw).substr(0, static_cast<size_t>(handle.size()));
    SnappyStream stated;  // reads only the stated length, for Admit
    if (*type == static_cast<unsigned char>(CompressionType::kSnappyCompression) &&
        stated.Init(stored, kMaxBlockSize)) {
      const bool admitted = options_.block_cache != nullptr && options.fill_cache &&
                            options_.block_cache->Admit({cache_id_, handle.offset()},
                                                        Block::ChargeFor(stated.length()));
      if (admitted) return CacheBlock(handle, DecodeBlock(**raw, handle, verify, file_->path()));
      // Copied into *lazy only now: an admitted block needs no copy.
      // A scan (it reads through a window) decodes the block whole at once.
      if (lazy->Reset(stored, kMaxBlockSize, /*whole=*/window != nullptr)) {
        partial_decodes_.fetch_add(1, std::memory_order_relaxed);
        return Result<BlockRef>(BlockRef());  // the iterator reads it from *lazy
      }
    }
  }
  return KeepBlock(options, handle, DecodeBlock(**raw, handle, verify, file_->path()));
}

std::optional<Result<Slice>> Table::TryCachedBytes(const BlockHandle& handle) const {
  if (direct_) return std::nullopt;
  const uint64_t n = handle.size() + kBlockTrailerSize;
  if (map_ != nullptr) {
    // Handles come from the verified index block, but an entry may still
    // point past the end: that is Corruption, never a read past the mapping.
    if (handle.offset() > file_size_ || n > file_size_ - handle.offset()) {
      return Result<Slice>(
          BlockError(handle, Status::Corruption("block handle past the end of the file")));
    }
  }
  // A backend that must see every read (fault injection) sees this one too.
  if (map_ != nullptr && (residency_ == nullptr || residency_->Resident(handle.offset(), n)) &&
      file_->AllowsCachedReads()) {
    block_reads_.fetch_add(1, std::memory_order_relaxed);
    mapped_block_reads_.fetch_add(1, std::memory_order_relaxed);
    return Result<Slice>(Slice(map_ + handle.offset(), static_cast<size_t>(n)));
  }
  // The stored bytes only pass through: a per-thread buffer, reused, so a
  // block-cache miss allocates (and fills) nothing but the decoded block.
  std::span<char> raw = ScratchBuffer(static_cast<size_t>(n));
  std::optional<Result<size_t>> got = file_->TryReadCached(handle.offset(), raw);
  if (!got.has_value()) return std::nullopt;
  if (!got->ok()) return Result<Slice>(got->status());
  if (**got != raw.size()) return std::nullopt;  // partly cached: the awaited read does it
  if (residency_ != nullptr) residency_->MarkResident(handle.offset(), n);
  block_reads_.fetch_add(1, std::memory_order_relaxed);
  return Result<Slice>(Slice(raw.data(), raw.size()));
}

Result<BlockRef> Table::KeepBlock(const ReadOptions& options, const BlockHandle& handle,
                                  Result<BlockContents> contents) const {
  if (!contents.ok()) return contents.status();
  Result<Block> block = ParseDataBlock(std::move(*contents), handle);
  if (!block.ok()) return block.status();
  const size_t charge = block->charge();
  if (options_.block_cache != nullptr && options.fill_cache &&
      options_.block_cache->Admit({cache_id_, handle.offset()}, charge)) {
    return BlockRef(
        options_.block_cache->Insert({cache_id_, handle.offset()}, std::move(*block), charge));
  }
  return BlockRef(std::make_unique<const Block>(std::move(*block)));
}

Result<BlockRef> Table::CacheBlock(const BlockHandle& handle,
                                   Result<BlockContents> contents) const {
  if (!contents.ok()) return contents.status();
  if (contents->is_view()) {
    // The cache outlives whatever a view points into: keep a copy.
    BlockContents owned = BlockContents::Uninitialized(contents->size());
    std::memcpy(owned.mutable_data(), contents->data(), contents->size());
    *contents = std::move(owned);
  }
  Result<Block> block = ParseDataBlock(std::move(*contents), handle);
  if (!block.ok()) return block.status();
  const size_t charge = block->charge();
  return BlockRef(
      options_.block_cache->Insert({cache_id_, handle.offset()}, std::move(*block), charge));
}

Result<io::BatchRead> Table::BlockRead(const BlockHandle& handle, io::AlignedBuffer* buf,
                                       size_t* skip) const {
  if (handle.size() > kMaxBlockSize) {
    return BlockError(handle, Status::Corruption("block size out of range"));
  }
  const FileRange range =
      RangeToRead(handle.offset(), static_cast<size_t>(handle.size()) + kBlockTrailerSize,
                  direct_ ? file_->direct_alignment() : 1);
  if (buf->size() < range.length) *buf = io::AlignedBuffer(range.length);
  *skip = range.skip;
  block_reads_.fetch_add(1, std::memory_order_relaxed);
  return io::BatchRead{file_.get(), range.offset, std::span<char>(buf->data(), range.length)};
}

Result<BlockRef> Table::AdoptBlock(const ReadOptions& options, const BlockHandle& handle,
                                   Slice raw) const {
  const bool verify = options.verify_checksums || options_.paranoid_checks;
  const size_t n = static_cast<size_t>(handle.size()) + kBlockTrailerSize;
  const Slice block = raw.substr(0, std::min(raw.size(), n));
  // A buffered read (MultiGet's batch) leaves the block's pages cached.
  if (residency_ != nullptr && block.size() == n) residency_->MarkResident(handle.offset(), n);
  // An awaited read is kept whenever fill_cache asks, as LoadBlock's are:
  // only blocks that cost no wait go through the admission rule.
  if (options_.block_cache != nullptr && options.fill_cache) {
    return CacheBlock(handle, DecodeBlock(block, handle, verify, file_->path()));
  }
  return KeepBlock(options, handle, DecodeBlock(block, handle, verify, file_->path()));
}

std::optional<Result<LookupResult>> Table::TryGet(const ReadOptions& options, Slice key) const {
  return ProbeWithoutIO(options, key).answer;
}

boost::asio::awaitable<Result<LookupResult>> Table::Get(ReadOptions options, Slice key) const {
  Probe probe = ProbeWithoutIO(options, key);
  if (probe.answer.has_value()) co_return std::move(*probe.answer);
  Result<BlockRef> block = co_await LoadBlock(options, probe.handle);
  if (!block.ok()) co_return block.status();
  co_return SearchBlock(*block->get(), probe.handle, key);
}

Result<LookupResult> Table::SearchBlock(const Block& block, const BlockHandle& handle,
                                        Slice key) const {
  BlockIter it(&block, options_.comparator, options_.internal_keys);
  return SeekAnswer(&it, handle, key);
}

Result<LookupResult> Table::SeekAnswer(BlockIter* it, const BlockHandle& handle, Slice key) const {
  it->Seek(key);
  LookupResult result;
  if (it->Valid()) {
    result.found = true;
    result.key.assign(it->key());
    result.value.assign(it->value());
  } else if (!it->status().ok()) {
    return BlockError(handle, it->status());
  }
  return result;
}

void Table::PrefetchMapped(const BlockHandle& handle) const {
  if (map_ == nullptr || handle.offset() >= file_size_) return;
  // Eight lines measured best on readrandom (benchmarks.md, "Prefetching
  // the data block"): two were 5 % slower, the whole block 5 % slower
  // again. The hardware follows the rest as Snappy reads it.
  const char* start = map_ + handle.offset();
  const uint64_t left = file_size_ - handle.offset();  // > 0: within the mapping
  for (uint64_t at = 0; at < std::min<uint64_t>(left, kPrefetchLines * 64); at += 64) {
    __builtin_prefetch(start + at);
  }
  __builtin_prefetch(start + std::min<uint64_t>(handle.size(), left - 1));
}

std::optional<Result<BlockRef>> Table::TryLoadBlock(const ReadOptions& options,
                                                    const BlockHandle& handle) const {
  return TryLoadBlock(options, handle, nullptr);
}

std::optional<Result<BlockRef>> Table::TryLoadBlock(const ReadOptions& options,
                                                    const BlockHandle& handle, LazyBlock* lazy,
                                                    ScanWindow* window, bool forward) const {
  // Read below, after the block cache lookup (a window reads a copy).
  if (window == nullptr) PrefetchMapped(handle);
  if (options_.block_cache != nullptr) {
    if (BlockCache::Handle cached = options_.block_cache->Lookup({cache_id_, handle.offset()})) {
      return Result<BlockRef>(BlockRef(std::move(cached)));
    }
  }
  return TryReadCachedBlock(options, handle, lazy, window, forward);
}

boost::asio::awaitable<Result<BlockRef>> Table::LoadBlock(ReadOptions options,
                                                          BlockHandle handle) const {
  const bool verify = options.verify_checksums || options_.paranoid_checks;
  BlockCache* cache = options_.block_cache;
  if (cache != nullptr) {
    const CacheKey key{cache_id_, handle.offset()};
    if (BlockCache::Handle cached = cache->Lookup(key)) co_return BlockRef(std::move(cached));
  }
  if (std::optional<Result<BlockRef>> block = TryReadCachedBlock(options, handle)) {
    co_return std::move(*block);
  }
  if (cache != nullptr) {
    const CacheKey key{cache_id_, handle.offset()};
    if (options.fill_cache) {
      Result<BlockCache::Handle> loaded = co_await cache->LookupOrLoad(
          key, [this, handle, verify] { return ReadDataBlock(handle, verify); });
      if (!loaded.ok()) co_return loaded.status();
      co_return BlockRef(std::move(*loaded));
    }
  }
  Result<Loaded<Block>> loaded = co_await ReadDataBlock(handle, verify);
  if (!loaded.ok()) co_return loaded.status();
  co_return BlockRef(std::make_unique<const Block>(std::move(loaded->value)));
}

boost::asio::awaitable<Result<Loaded<Block>>> Table::ReadDataBlock(BlockHandle handle,
                                                                   bool verify) const {
  block_reads_.fetch_add(1, std::memory_order_relaxed);
  Result<std::string> contents = co_await ReadBlock(*file_, direct_, handle, verify);
  if (!contents.ok()) co_return contents.status();
  // A buffered read leaves the block's pages in the page cache.
  if (residency_ != nullptr) residency_->MarkResident(handle.offset(), handle.size() + kBlockTrailerSize);
  Result<Block> block = ParseDataBlock(BlockContents(std::move(*contents)), handle);
  if (!block.ok()) co_return block.status();
  const size_t charge = block->charge();
  co_return Loaded<Block>{std::move(*block), charge};
}

Result<Block> Table::ParseDataBlock(BlockContents contents, const BlockHandle& handle) const {
  Result<Block> block = Block::Parse(std::move(contents));
  if (!block.ok()) return BlockError(handle, block.status());
  return block;
}

boost::asio::awaitable<Result<Slice>> Table::ReadRaw(uint64_t offset, size_t n,
                                                     io::AlignedBuffer* buf) const {
  sequential_reads_.fetch_add(1, std::memory_order_relaxed);
  co_return co_await ReadRangeInto(*file_, direct_, offset, n, buf);
}

Result<Block> Table::DecodeDataBlock(Slice raw, const BlockHandle& handle) const {
  Result<BlockContents> contents =
      DecodeBlock(raw, handle, /*verify_checksum=*/true, file_->path());
  if (!contents.ok()) return contents.status();
  return ParseDataBlock(std::move(*contents), handle);
}

std::unique_ptr<AsyncIterator> Table::NewIterator(const ReadOptions& options) const {
  return std::make_unique<TableIterator>(this, options);
}

std::unique_ptr<AsyncIterator> Table::NewSequentialIterator(size_t readahead,
                                                            SequentialReadCount* reads) const {
  return std::make_unique<SequentialIterator>(this, readahead, reads);
}

uint64_t Table::ApproximateOffsetOf(Slice key) const {
  BlockIter index(&index_block_, options_.comparator, options_.internal_keys);
  index.Seek(key);
  if (index.Valid()) {
    BlockHandle handle;
    Slice v = index.value();
    if (handle.DecodeFrom(&v)) return handle.offset();
  }
  // Past the last key (or a damaged index): the metaindex is near the end.
  return footer_.metaindex_handle().offset();
}

}  // namespace corodb::table

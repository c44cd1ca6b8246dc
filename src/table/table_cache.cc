#include "table/table_cache.h"

#include <algorithm>

#include "io/file_names.h"
#include "io/file_system.h"

namespace corodb::table {
namespace {

// Few shards for small caches, so that each shard keeps a useful number of
// tables; the sum of shard capacities is max_open_files either way.
size_t ShardsFor(int max_open_files) {
  return static_cast<size_t>(std::clamp(max_open_files / 64, 1, 16));
}

}  // namespace

TableCache::TableCache(std::string dbname, TableOptions options, const io::FileSystem* fs,
                       int max_open_files, bool direct_reads)
    : dbname_(std::move(dbname)),
      options_(std::move(options)),
      fs_(fs),
      direct_reads_(direct_reads),
      cache_(static_cast<size_t>(std::max(max_open_files, 1)), ShardsFor(max_open_files)) {}

TableCache::~TableCache() = default;

boost::asio::awaitable<Result<Loaded<std::unique_ptr<Table>>>> TableCache::OpenTable(
    uint64_t file_number, uint64_t file_size) {
  opens_.fetch_add(1, std::memory_order_relaxed);
  Result<std::unique_ptr<io::File>> file =
      fs_->Open(io::TableFileName(dbname_, file_number), io::OpenMode::kRead, direct_reads_);
  if (!file.ok()) {
    Result<std::unique_ptr<io::File>> sst =
        fs_->Open(io::SSTTableFileName(dbname_, file_number), io::OpenMode::kRead, direct_reads_);
    if (!sst.ok()) {
      // A table the version names is gone (removed by another process: a
      // writer beside a read-only open; or lost). Never NotFound, which a
      // caller would take for "no such key".
      if (file.status().IsNotFound()) {
        co_return Status::IOError(io::TableFileName(dbname_, file_number),
                                  "table file named by the version is missing");
      }
      co_return file.status();  // report the preferred name
    }
    file = std::move(sst);
  }
  Result<std::unique_ptr<Table>> table =
      co_await Table::Open(options_, std::move(*file), file_size, direct_reads_);
  if (!table.ok()) co_return table.status();
  co_return Loaded<std::unique_ptr<Table>>{std::move(*table), 1};
}

boost::asio::awaitable<Result<TableCache::Handle>> TableCache::FindTable(uint64_t file_number,
                                                                        uint64_t file_size) {
  const CacheKey key{file_number, 0};
  if (Handle h = cache_.Lookup(key)) co_return std::move(h);
  co_return co_await cache_.LookupOrLoad(
      key, [this, file_number, file_size] { return OpenTable(file_number, file_size); });
}

TableCache::Handle TableCache::LookupTable(uint64_t file_number) {
  return cache_.Lookup(CacheKey{file_number, 0});
}

std::optional<Result<LookupResult>> TableCache::TryGet(const ReadOptions& options,
                                                       uint64_t file_number, Slice key) {
  Handle h = LookupTable(file_number);
  if (!h) return std::nullopt;
  return h.value()->TryGet(options, key);
}

boost::asio::awaitable<Result<LookupResult>> TableCache::Get(ReadOptions options,
                                                             uint64_t file_number,
                                                             uint64_t file_size, Slice key) {
  Result<Handle> h = co_await FindTable(file_number, file_size);
  if (!h.ok()) co_return h.status();
  co_return co_await h->value()->Get(options, key);
}

boost::asio::awaitable<Result<std::unique_ptr<AsyncIterator>>> TableCache::NewIterator(
    ReadOptions options, uint64_t file_number, uint64_t file_size) {
  Result<Handle> h = co_await FindTable(file_number, file_size);
  if (!h.ok()) co_return h.status();
  std::unique_ptr<AsyncIterator> it = h->value()->NewIterator(options);
  it->Hold(std::move(*h));
  co_return std::move(it);
}

std::unique_ptr<AsyncIterator> TableCache::TryNewIterator(const ReadOptions& options,
                                                         uint64_t file_number) {
  Handle h = cache_.Lookup(CacheKey{file_number, 0});
  if (!h) return nullptr;
  std::unique_ptr<AsyncIterator> it = h.value()->NewIterator(options);
  it->Hold(std::move(h));
  return it;
}

void TableCache::Evict(uint64_t file_number) { cache_.Erase(CacheKey{file_number, 0}); }

}  // namespace corodb::table

// DBImpl's iterators and snapshots.
#include <utility>
#include <vector>

#include "db/db_impl.h"
#include "db/db_iter.h"
#include "table/concat_iterator.h"
#include "table/merging_iterator.h"
#include "table/table_cache.h"

namespace corodb {
namespace asio = boost::asio;

namespace {

// A memtable's iterator as an AsyncIterator: every move is in memory.
class MemTableIterator final : public table::AsyncIterator {
 public:
  explicit MemTableIterator(std::shared_ptr<const MemTable> mem) : it_(std::move(mem)) {}

  bool Valid() const override { return it_.Valid(); }
  Slice key() const override { return it_.key(); }
  Slice value() const override { return it_.value(); }
  Status status() const override { return Status::OK(); }

  asio::awaitable<void> SeekToFirst() override {
    it_.SeekToFirst();
    co_return;
  }
  asio::awaitable<void> SeekToLast() override {
    it_.SeekToLast();
    co_return;
  }
  asio::awaitable<void> Seek(Slice target) override {
    it_.Seek(target);
    co_return;
  }
  asio::awaitable<void> Next() override {
    it_.Next();
    co_return;
  }
  asio::awaitable<void> Prev() override {
    it_.Prev();
    co_return;
  }
  bool TryNext() override {
    it_.Next();
    return true;
  }
  bool TryPrev() override {
    it_.Prev();
    return true;
  }

 private:
  MemTable::Iterator it_;
};

table::ConcatFile ToConcatFile(const FileRef& f) {
  return table::ConcatFile{f->number, f->file_size, std::string(f->smallest.Encode()),
                           std::string(f->largest.Encode())};
}

}  // namespace

std::unique_ptr<Iterator> DBImpl::NewIterator(const ReadOptions& options) {
  SequenceNumber sequence;
  Result<std::shared_ptr<const ReadView>> point = ReadPoint(options, &sequence);
  if (!point.ok()) return NewErrorIterator(point.status());
  std::shared_ptr<const ReadView> view = std::move(point).value();

  std::vector<std::unique_ptr<table::AsyncIterator>> children;
  children.push_back(std::make_unique<MemTableIterator>(view->mem));
  for (const auto& imm : view->imms) children.push_back(std::make_unique<MemTableIterator>(imm));
  if (view->version) {
    // Tables are opened by the moves that reach them (a concatenating
    // iterator opens its files lazily), so creating an iterator reads nothing.
    ReadOptions table_options = options;
    table_options.snapshot = nullptr;
    table::FileIteratorFactory open = [cache = table_cache_.get(), table_options](
                                          const table::ConcatFile& f) {
      return cache->NewIterator(table_options, f.number, f.size);
    };
    for (const FileRef& f : view->version->files(0)) {
      std::vector<table::ConcatFile> one{ToConcatFile(f)};
      children.push_back(table::NewConcatenatingIterator(&icmp_, std::move(one), open));
    }
    for (int level = 1; level < kNumLevels; ++level) {
      const std::vector<FileRef>& files = view->version->files(level);
      if (files.empty()) continue;
      std::vector<table::ConcatFile> run;
      run.reserve(files.size());
      for (const FileRef& f : files) run.push_back(ToConcatFile(f));
      children.push_back(table::NewConcatenatingIterator(&icmp_, std::move(run), open));
    }
  }
  std::unique_ptr<table::AsyncIterator> merged = table::NewMergingIterator(&icmp_, std::move(children));
  ReadSampler sampler;
  if (view->version) {
    sampler = [this, version = view->version](Slice internal_key) {
      if (version->RecordReadSample(internal_key)) MaybeScheduleBackground();
    };
  }
  // The iterator pins the memtables and the Version (and so its files), and
  // keeps the caches its handles point into: it may outlive the DB.
  merged->Hold(std::move(view));
  merged->Hold(table_cache_);
  merged->Hold(owned_block_cache_);
  merged->Hold(options_.block_cache);
  return NewDBIterator(icmp_.user_comparator(), std::move(merged), sequence, std::move(sampler),
                       iterator_seed_.fetch_add(1, std::memory_order_relaxed) + 1);
}

SnapshotHandle DBImpl::GetSnapshot() { return snapshots_->Take(); }

}  // namespace corodb

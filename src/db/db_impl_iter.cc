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
  bool TrySeek(Slice target) override {
    it_.Seek(target);
    return true;
  }

 private:
  MemTable::Iterator it_;
};

table::ConcatFile ToConcatFile(const FileRef& f) {
  return table::ConcatFile{f->number, f->file_size, f->smallest.Encode(), f->largest.Encode()};
}

}  // namespace

std::unique_ptr<Iterator> DBImpl::NewIterator(const ReadOptions& options) {
  SequenceNumber sequence;
  Result<std::shared_ptr<const ReadView>> point = ReadPoint(options, &sequence);
  if (!point.ok()) return NewErrorIterator(point.status());
  // An empty memtable is left out of the merge (one child fewer on every
  // step; over a compacted level alone there is then nothing to merge).
  // Sound because the sequence was taken first: every entry at or below it
  // was added to the memtable before that sequence was published, so an
  // empty memtable now holds nothing this read may see, and what is added
  // later is above the sequence. (A snapshot's sequence is older still.)
  const bool without_mem = (*point)->mem->Empty();
  const IteratorRecycler::Key key{point->get(), options.verify_checksums, options.fill_cache,
                                  without_mem};
  const Version* version = (*point)->version.get();  // the merged iterator pins it
  std::unique_ptr<table::AsyncIterator> merged = recycler_->Take(key);
  if (merged == nullptr) {
    merged = NewInternalIterator(options, std::move(point).value(), without_mem);
  } else {
    stats_.iterator_reuses.fetch_add(1, std::memory_order_relaxed);
  }
  ReadSampler sampler;
  if (version != nullptr) {
    sampler = [this, version](Slice internal_key) {
      if (version->RecordReadSample(internal_key)) MaybeScheduleBackground();
    };
  }
  return NewDBIterator(icmp_.user_comparator(), std::move(merged), sequence, std::move(sampler),
                       iterator_seed_.fetch_add(1, std::memory_order_relaxed) + 1, recycler_, key);
}

std::unique_ptr<table::AsyncIterator> DBImpl::NewInternalIterator(
    const ReadOptions& options, std::shared_ptr<const ReadView> point, bool without_mem) {
  // What the iterator pins while it lives: the memtables and the Version
  // (and so its files), and the caches its handles point into, so it may be
  // destroyed after the DB. Members are released in reverse order: the
  // view, then the table cache (its tables may release blocks into the
  // block cache), then the block caches. One allocation for all of them
  // (the node the merging iterator holds them in), and the factories below
  // capture only pointers into it, which std::function keeps without
  // allocating (seekrandom makes an iterator per seek: each allocation was
  // a measurable part of it, before the recycler kept the whole tree).
  struct Pins {
    std::shared_ptr<Cache> user_block_cache;
    std::shared_ptr<table::ShardedLruCache<table::Block>> owned_block_cache;
    std::shared_ptr<table::TableCache> table_cache;
    std::shared_ptr<const ReadView> view;
    ReadOptions table_options;
  };
  auto held = std::make_unique<table::AsyncIterator::Held<Pins>>();
  Pins* pins = &held->value;
  pins->user_block_cache = options_.block_cache;
  pins->owned_block_cache = owned_block_cache_;
  pins->table_cache = table_cache_;
  pins->view = std::move(point);
  pins->table_options = options;
  pins->table_options.snapshot = nullptr;
  const ReadView& view = *pins->view;

  std::vector<std::unique_ptr<table::AsyncIterator>> children;
  children.reserve(1 + view.imms.size() + (view.version ? view.version->files(0).size() + kNumLevels : 0));
  if (!without_mem) children.push_back(std::make_unique<MemTableIterator>(view.mem));
  for (const auto& imm : view.imms) children.push_back(std::make_unique<MemTableIterator>(imm));
  if (view.version) {
    // Tables are opened by the moves that reach them (a concatenating
    // iterator opens its files lazily), so creating an iterator reads nothing.
    table::FileIteratorFactory open = [cache = table_cache_.get(),
                                       table_options = &pins->table_options](
                                          const table::ConcatFile& f) {
      return cache->NewIterator(*table_options, f.number, f.size);
    };
    table::FileIteratorTryFactory try_open = [cache = table_cache_.get(),
                                              table_options = &pins->table_options](
                                                 const table::ConcatFile& f) {
      return cache->TryNewIterator(*table_options, f.number);
    };
    for (const FileRef& f : view.version->files(0)) {
      std::vector<table::ConcatFile> one{ToConcatFile(f)};
      children.push_back(table::NewConcatenatingIterator(&icmp_, std::move(one), open, try_open));
    }
    for (int level = 1; level < kNumLevels; ++level) {
      const std::vector<FileRef>& files = view.version->files(level);
      if (files.empty()) continue;
      std::vector<table::ConcatFile> run;
      run.reserve(files.size());
      for (const FileRef& f : files) run.push_back(ToConcatFile(f));
      children.push_back(table::NewConcatenatingIterator(&icmp_, std::move(run), open, try_open));
    }
  }
  std::unique_ptr<table::AsyncIterator> merged = table::NewMergingIterator(&icmp_, std::move(children));
  merged->Hold(std::move(held));
  return merged;
}

SnapshotHandle DBImpl::GetSnapshot() { return snapshots_->Take(); }

}  // namespace corodb

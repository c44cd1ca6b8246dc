#include "version/batch_get.h"

#include <exception>
#include <map>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "table/block_batch.h"

namespace corodb {
namespace asio = boost::asio;

BatchGet::BatchGet(const Version& version, const ReadOptions& options)
    : version_(version), options_(options) {}

void BatchGet::Add(const LookupKey& key, GetStats* stats) {
  lookups_.emplace_back(version_, key, stats);
}

BatchGet::Step BatchGet::Advance(Lookup& l) {
  for (;;) {
    if (l.file == nullptr) {
      int level;
      l.file = l.files.Next(&level);
      if (l.file == nullptr) {
        l.answer.emplace(VersionGetResult{});
        return Step::kAnswered;
      }
      l.charger.Consult(*l.file, level);
      l.table = version_.table_cache_->LookupTable((*l.file)->number);
    }
    if (!l.table) return Step::kNeedsTable;
    table::Table::Probe probe = l.table.value()->ProbeWithoutIO(options_, l.key->internal_key());
    if (!probe.answer.has_value()) {
      l.block = probe.handle;
      return Step::kNeedsBlock;
    }
    if (Settle(l, std::move(*probe.answer))) return Step::kAnswered;
  }
}

bool BatchGet::Settle(Lookup& l, Result<table::LookupResult> r) {
  std::optional<Result<VersionGetResult>> answer = Interpret(
      std::move(r), l.key->user_key(), version_.icmp_->user_comparator(), (*l.file)->number);
  l.table.Reset();
  if (answer.has_value()) {
    l.answer = std::move(answer);
    return true;
  }
  l.file = nullptr;
  return false;
}

asio::awaitable<void> BatchGet::OpenTables(const std::vector<size_t>& waiting) {
  // Each table once: file number -> (its size, the lookups waiting for it).
  std::map<uint64_t, std::pair<uint64_t, std::vector<size_t>>> tables;
  for (size_t i : waiting) {
    const FileInfo& f = **lookups_[i].file;
    auto& entry = tables[f.number];
    entry.first = f.file_size;
    entry.second.push_back(i);
  }
  table::TableCache* cache = version_.table_cache_;
  std::vector<Result<table::TableCache::Handle>> opened;
  if (tables.size() == 1) {
    const auto& [number, entry] = *tables.begin();
    opened.push_back(co_await cache->FindTable(number, entry.first));
  } else {
    const asio::any_io_executor ex = co_await asio::this_coro::executor;
    using Open = decltype(asio::co_spawn(ex, cache->FindTable(0, 0), asio::deferred));
    std::vector<Open> opens;
    opens.reserve(tables.size());
    for (const auto& [number, entry] : tables) {
      opens.push_back(asio::co_spawn(ex, cache->FindTable(number, entry.first), asio::deferred));
    }
    auto group = asio::experimental::make_parallel_group(std::move(opens));
    auto [order, errors, results] =
        co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    for (const std::exception_ptr& e : errors) {
      if (e) std::rethrow_exception(e);  // a bug (or bad_alloc), as in any coroutine
    }
    opened = std::move(results);
  }
  size_t t = 0;
  for (auto& [number, entry] : tables) {
    Result<table::TableCache::Handle>& h = opened[t++];
    for (size_t i : entry.second) {
      Lookup& l = lookups_[i];
      if (h.ok()) {
        l.table = h->Clone();
      } else {
        Settle(l, h.status());  // an error answers the key
      }
    }
  }
}

asio::awaitable<std::vector<Result<VersionGetResult>>> BatchGet::Run() {
  std::vector<size_t> looking(lookups_.size());
  for (size_t i = 0; i < looking.size(); ++i) looking[i] = i;
  while (!looking.empty()) {
    // Steps 1 and 2: every key to an answer or a block to read.
    std::vector<size_t> reading;
    while (!looking.empty()) {
      std::vector<size_t> opening;
      for (size_t i : looking) {
        switch (Advance(lookups_[i])) {
          case Step::kAnswered:
            break;
          case Step::kNeedsTable:
            opening.push_back(i);
            break;
          case Step::kNeedsBlock:
            reading.push_back(i);
            break;
        }
      }
      looking.clear();
      if (opening.empty()) break;
      co_await OpenTables(opening);
      for (size_t i : opening) {
        if (!lookups_[i].answer.has_value()) looking.push_back(i);
      }
    }
    if (reading.empty()) break;
    // Step 3: the round's blocks, read together.
    table::BlockBatch batch(options_);
    for (size_t i : reading) {
      Lookup& l = lookups_[i];
      l.block_index = batch.Add(l.table.value().get(), l.block);
    }
    co_await batch.ReadAll();
    block_reads_ += batch.reads();
    if (batch.reads() > 0) ++read_rounds_;
    for (size_t i : reading) {
      Lookup& l = lookups_[i];
      const Result<table::BlockRef>& block = batch.block(l.block_index);
      Result<table::LookupResult> r =
          block.ok() ? l.table.value()->SearchBlock(*block->get(), l.block, l.key->internal_key())
                     : Result<table::LookupResult>(block.status());
      if (!Settle(l, std::move(r))) looking.push_back(i);
    }
  }
  std::vector<Result<VersionGetResult>> answers;
  answers.reserve(lookups_.size());
  for (Lookup& l : lookups_) answers.push_back(std::move(*l.answer));
  co_return answers;
}

}  // namespace corodb

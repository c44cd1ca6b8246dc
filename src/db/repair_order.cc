#include "db/repair_order.h"

#include <algorithm>
#include <memory>
#include <set>
#include <utility>

#include "io/file_names.h"
#include "table/table.h"
#include "util/logging.h"

namespace corodb {
namespace asio = boost::asio;

namespace {

using Cursor = TableOrder::Cursor;

// Heap order: the cursor at the smaller internal key first; on a tie (one
// entry in two tables) the lower index.
class Later {
 public:
  Later(const InternalKeyComparator& icmp,
        const std::vector<std::unique_ptr<Cursor>>& cursors)
      : icmp_(&icmp), cursors_(&cursors) {}
  bool operator()(size_t a, size_t b) const {
    const int r = icmp_->Compare((*cursors_)[a]->it->key(), (*cursors_)[b]->it->key());
    return r != 0 ? r > 0 : a > b;
  }

 private:
  const InternalKeyComparator* icmp_;
  const std::vector<std::unique_ptr<Cursor>>* cursors_;
};

}  // namespace

// Opens table `number` and positions a sequential iterator at its first
// entry (invalid when the table has none).
asio::awaitable<Result<std::unique_ptr<Cursor>>> TableOrder::OpenCursor(uint64_t number) {
  std::string path = io::TableFileName(dbname_, number);
  if (!io::FileExists(path)) path = io::SSTTableFileName(dbname_, number);
  const Result<uint64_t> size = io::GetFileSize(path);
  if (!size.ok()) co_return size.status();
  auto file = fs_.Open(path, io::OpenMode::kRead);
  if (!file.ok()) co_return file.status();
  Result<std::unique_ptr<table::Table>> table =
      co_await table::Table::Open(options_, std::move(file).value(), *size);
  if (!table.ok()) co_return table.status();
  auto cursor = std::make_unique<Cursor>();
  cursor->table = std::move(table).value();
  cursor->it = cursor->table->NewSequentialIterator();
  co_await cursor->it->SeekToFirst();
  if (!cursor->it->Valid() && !cursor->it->status().ok()) co_return cursor->it->status();
  co_return cursor;
}

asio::awaitable<Result<std::vector<size_t>>> TableOrder::Compute(
    const std::vector<RepairedTable>& tables) {
  conflicts_ = 0;
  Result<std::set<std::pair<size_t, size_t>>> edges = co_await CollectConstraints(tables);
  if (!edges.ok()) co_return edges.status();
  std::vector<size_t> order = SortTopologically(tables, *edges);
  CORODB_LOG(logger_, "repair: level-0 order of %zu tables from %zu constraints",
             tables.size(), edges->size());
  co_return order;
}

asio::awaitable<Result<std::set<std::pair<size_t, size_t>>>>
TableOrder::CollectConstraints(const std::vector<RepairedTable>& tables) {
  const size_t n = tables.size();
  std::vector<size_t> by_smallest(n);
  for (size_t i = 0; i < n; ++i) by_smallest[i] = i;
  std::sort(by_smallest.begin(), by_smallest.end(), [&](size_t a, size_t b) {
    const int r =
        icmp_.Compare(tables[a].meta.smallest.Encode(), tables[b].meta.smallest.Encode());
    return r != 0 ? r < 0 : a < b;
  });

  // (newer, older): table `newer` must outrank table `older`.
  std::set<std::pair<size_t, size_t>> edges;
  std::vector<std::unique_ptr<Cursor>> cursors(n);
  std::vector<size_t> heap;
  const Later later(icmp_, cursors);
  const Comparator* ucmp = icmp_.user_comparator();
  std::string user_key;  // the user key whose entries are being merged
  bool have_key = false;
  size_t newest = 0;  // the table with its newest version
  SequenceNumber newest_sequence = 0;
  std::vector<size_t> seen;  // tables that hold it
  size_t next = 0;           // in by_smallest: the next table to open
  for (;;) {
    // A table joins the merge once the merge reaches its smallest key.
    while (next < n && (heap.empty() ||
                        icmp_.Compare(tables[by_smallest[next]].meta.smallest.Encode(),
                                      cursors[heap.front()]->it->key()) <= 0)) {
      const size_t i = by_smallest[next++];
      Result<std::unique_ptr<Cursor>> cursor = co_await OpenCursor(tables[i].meta.number);
      if (!cursor.ok()) co_return cursor.status();
      if (!(*cursor)->it->Valid()) continue;  // no entries
      cursors[i] = std::move(cursor).value();
      heap.push_back(i);
      std::push_heap(heap.begin(), heap.end(), later);
    }
    if (heap.empty()) break;
    std::pop_heap(heap.begin(), heap.end(), later);
    const size_t i = heap.back();
    heap.pop_back();
    table::AsyncIterator& it = *cursors[i]->it;
    ParsedInternalKey parsed;
    if (!ParseInternalKey(it.key(), &parsed)) {
      co_return Status::Corruption(cursors[i]->table->file_name(), "bad internal key");
    }
    if (!have_key || ucmp->Compare(parsed.user_key, user_key) != 0) {
      // Internal-key order: the first entry of a user key is its newest.
      user_key.assign(parsed.user_key);
      have_key = true;
      newest = i;
      newest_sequence = parsed.sequence;
      seen.assign(1, i);
    } else if (std::find(seen.begin(), seen.end(), i) == seen.end()) {
      seen.push_back(i);
      // The same entry in two tables (equal sequence) orders nothing.
      if (parsed.sequence < newest_sequence) edges.emplace(newest, i);
    }
    if (!it.TryNext()) co_await it.Next();
    if (it.Valid()) {
      heap.push_back(i);
      std::push_heap(heap.begin(), heap.end(), later);
    } else {
      if (!it.status().ok()) co_return it.status();
      cursors[i].reset();
    }
  }
  co_return edges;
}

std::vector<size_t> TableOrder::SortTopologically(
    const std::vector<RepairedTable>& tables,
    const std::set<std::pair<size_t, size_t>>& edges) {
  // A table is placed once every table it must outrank is placed; among
  // those ready, the lowest number first.
  const size_t n = tables.size();
  std::vector<size_t> must_outrank(n, 0);  // tables not yet placed it must outrank
  std::vector<std::vector<size_t>> newer_than(n);
  for (const auto& [newer, older] : edges) {
    ++must_outrank[newer];
    newer_than[older].push_back(newer);
  }
  std::set<std::pair<uint64_t, size_t>> ready;
  std::set<std::pair<uint64_t, size_t>> remaining;
  for (size_t i = 0; i < n; ++i) {
    remaining.emplace(tables[i].meta.number, i);
    if (must_outrank[i] == 0) ready.emplace(tables[i].meta.number, i);
  }
  std::vector<bool> placed(n, false);
  std::vector<size_t> order;
  order.reserve(n);
  while (!remaining.empty()) {
    std::pair<uint64_t, size_t> pick;
    if (!ready.empty()) {
      pick = *ready.begin();
      ready.erase(ready.begin());
    } else {
      pick = *remaining.begin();
      ++conflicts_;
      CORODB_LOG(
          logger_,
          "repair: tables disagree about which holds the newest versions of some keys "
          "(a cycle); placing #%llu next: lookups of those keys may see an older "
          "version until a compaction merges the tables",
          static_cast<unsigned long long>(pick.first));
    }
    remaining.erase(pick);
    const size_t i = pick.second;
    placed[i] = true;
    order.push_back(i);
    for (size_t newer : newer_than[i]) {
      if (!placed[newer] && --must_outrank[newer] == 0) {
        ready.emplace(tables[newer].meta.number, newer);
      }
    }
  }
  return order;
}

}  // namespace corodb

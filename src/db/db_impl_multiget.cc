// DBImpl::MultiGet: the memtables answer what they hold; the tables answer
// the rest through one BatchGet, whose block reads go out together.
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "db/db_impl.h"

#include <algorithm>
#include "db/read_yield.h"
#include "version/batch_get.h"

namespace corodb {
namespace asio = boost::asio;

namespace {

// The memtables' answer for `lookup` — the active one, then the immutable
// ones newest first — or nullopt when none of them holds the key.
std::optional<Result<std::string>> GetFromMemTables(
    const MemTable& mem, const std::vector<std::shared_ptr<MemTable>>& imms,
    const LookupKey& lookup) {
  std::string value;
  Status s;
  bool found = mem.Get(lookup, &value, &s);
  for (size_t i = 0; !found && i < imms.size(); ++i) found = imms[i]->Get(lookup, &value, &s);
  if (!found) return std::nullopt;
  if (!s.ok()) return Result<std::string>(s);
  return Result<std::string>(std::move(value));
}

}  // namespace

asio::awaitable<std::vector<Result<std::string>>> DBImpl::MultiGet(const ReadOptions& options,
                                                                   std::span<const Slice> keys) {
  // A batch counts as many reads as it has keys.
  if (ReadTurnOver(static_cast<uint32_t>(std::clamp<size_t>(keys.size(), 1, kMaxReadsPerTurn)))) {
    co_await YieldToExecutor();
  }
  stats_.multigets.fetch_add(1, std::memory_order_relaxed);
  stats_.multiget_keys.fetch_add(keys.size(), std::memory_order_relaxed);
  std::vector<Result<std::string>> results(keys.size());
  // One read point for the whole batch.
  SequenceNumber sequence;
  Result<std::shared_ptr<const ReadView>> point = ReadPoint(options, &sequence);
  if (!point.ok()) {
    for (Result<std::string>& r : results) r = point.status();
    co_return results;
  }
  const std::shared_ptr<const ReadView> view = std::move(point).value();

  std::deque<LookupKey> lookups;  // stable addresses: BatchGet keeps pointers
  std::vector<size_t> in_tables;  // indexes of the keys the memtables did not answer
  for (size_t i = 0; i < keys.size(); ++i) {
    const LookupKey& lookup = lookups.emplace_back(keys[i], sequence);
    if (std::optional<Result<std::string>> found =
            GetFromMemTables(*view->mem, view->imms, lookup)) {
      results[i] = std::move(*found);
    } else if (!view->version) {
      results[i] = Status::NotFound("");
    } else {
      in_tables.push_back(i);
    }
  }
  if (in_tables.empty()) co_return results;

  std::vector<GetStats> stats(in_tables.size());
  BatchGet batch(*view->version, options);
  for (size_t j = 0; j < in_tables.size(); ++j) batch.Add(lookups[in_tables[j]], &stats[j]);
  std::vector<Result<VersionGetResult>> found = co_await batch.Run();
  stats_.multiget_block_reads.fetch_add(batch.block_reads(), std::memory_order_relaxed);
  stats_.multiget_read_rounds.fetch_add(batch.read_rounds(), std::memory_order_relaxed);
  for (size_t j = 0; j < in_tables.size(); ++j) {
    ChargeSeek(*view, stats[j]);
    Result<std::string>& r = results[in_tables[j]];
    if (!found[j].ok()) {
      r = found[j].status();
    } else if (found[j]->kind != VersionGetResult::kFound) {
      r = Status::NotFound("");
    } else {
      r = std::move(found[j]->value);
    }
  }
  co_return results;
}

}  // namespace corodb

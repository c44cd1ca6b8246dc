// TableOrder: the level-0 order of the tables a repair keeps.
//
// Repair lists every table at level 0, where a lookup returns the newest
// version of a key found in the highest-numbered table that holds the key
// (LevelDB's rule, which corodb keeps). So for every user key, the table
// holding its newest version (highest sequence number) must have a higher
// number than every other table holding that key. File numbers alone do not
// give that: a compaction output gets a number above level-0 tables that
// hold newer versions of its keys, and a leftover log converted to a table
// gets the highest number of all. TableOrder merges all tables (forward
// sequential reads, opening a table only once the merge reaches its
// smallest key, so few are open at once), collects for each user key the
// constraint "the table with the newest version outranks the others that
// hold the key", and sorts the tables topologically, oldest first, taking
// the lowest file number whenever there is a choice (so tables already in a
// valid order keep it). Constraints that contradict each other (a cycle:
// leftover files of different generations) are broken by taking the lowest
// number, and counted: lookups of the keys involved may see an older
// version until a compaction merges the tables.
//
// Thread safety: one coroutine at a time.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "corodb/result.h"
#include "format/dbformat.h"
#include "io/file_system.h"
#include "table/iterator.h"
#include "table/table.h"
#include "table/table_options.h"
#include "version/version_edit.h"

namespace corodb {

class Logger;

// A table the repaired MANIFEST names.
struct RepairedTable {
  FileMetaData meta;  // number, size, smallest and largest internal key
  SequenceNumber max_sequence = 0;
  uint64_t entries = 0;
};

class TableOrder {
 public:
  // Tables are dbname/NNNNNN.ldb (or .sst), read with `options`, whose
  // comparator is `icmp`. `fs`, `icmp`, `options` and `logger` (may be
  // null) must outlive the object.
  TableOrder(const io::FileSystem& fs, std::string dbname,
             const InternalKeyComparator& icmp, const table::TableOptions& options,
             Logger* logger)
      : fs_(fs),
        dbname_(std::move(dbname)),
        icmp_(icmp),
        options_(options),
        logger_(logger) {}

  // Indexes into `tables`, oldest first (ascending rank), as described above.
  // Fails with the first error reading a table (every table must read
  // whole: repair scanned them before).
  // SUSPENDS: reads every table once.
  boost::asio::awaitable<Result<std::vector<size_t>>> Compute(
      const std::vector<RepairedTable>& tables);

  // Cycles broken by the last Compute.
  uint64_t conflicts() const { return conflicts_; }

  // One table in the merge.
  struct Cursor {
    std::unique_ptr<table::Table> table;
    std::unique_ptr<table::AsyncIterator> it;  // over *table: destroyed first
  };

 private:
  // SUSPENDS: the table's open and its first read.
  boost::asio::awaitable<Result<std::unique_ptr<Cursor>>> OpenCursor(uint64_t number);
  // The merge: pairs (newer, older) of indexes into `tables`, each saying
  // that table `newer` holds the newest version of a key `older` also holds.
  // SUSPENDS: reads every table once.
  boost::asio::awaitable<Result<std::set<std::pair<size_t, size_t>>>> CollectConstraints(
      const std::vector<RepairedTable>& tables);
  // The tables oldest first, obeying `edges` (cycles broken and counted).
  std::vector<size_t> SortTopologically(const std::vector<RepairedTable>& tables,
                                        const std::set<std::pair<size_t, size_t>>& edges);

  const io::FileSystem& fs_;
  const std::string dbname_;
  const InternalKeyComparator& icmp_;
  const table::TableOptions& options_;
  Logger* const logger_;
  uint64_t conflicts_ = 0;
};

}  // namespace corodb

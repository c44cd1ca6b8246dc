// BatchGet: point lookups of many keys in one Version's tables, with the
// data blocks they need read together (the table part of DB::MultiGet).
//
//   BatchGet batch(version, options);
//   batch.Add(key_a, &stats_a);
//   batch.Add(key_b, &stats_b);
//   std::vector<Result<VersionGetResult>> answers = co_await batch.Run();
//
// Each key walks the files Version::Get would, in the same order, and gets
// the same answer and seek statistics. Run() works in rounds:
//   1. every key still looking goes through its files without I/O (open
//      tables: filter, block cache, page cache) until it is answered, needs
//      a table that is not open, or needs a data block from the file;
//   2. the tables needed are opened, concurrently, and step 1 goes on;
//   3. the data blocks needed — each (table, block offset) once — are read
//      in one table::BlockBatch (one submission on io_uring), and each key
//      waiting for one is answered from it or moves on to its next file,
//      which the next round looks at.
//
// Invariants / thread safety: one coroutine uses a BatchGet. The Version,
// the keys and the stats must outlive it.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "corodb/options.h"
#include "corodb/result.h"
#include "format/dbformat.h"
#include "table/table_cache.h"
#include "version/lookup.h"
#include "version/version_set.h"

namespace corodb {

class BatchGet {
 public:
  BatchGet(const Version& version, const ReadOptions& options);
  BatchGet(const BatchGet&) = delete;
  BatchGet& operator=(const BatchGet&) = delete;

  // Adds a lookup of `key` (at its sequence). `*stats` is reset, then filled
  // in as Version::Get fills it. REQUIRES: before Run.
  void Add(const LookupKey& key, GetStats* stats);

  // The answers, in the order the keys were added, each as Version::Get's
  // (errors name the file: a table that cannot be opened, a damaged block).
  // SUSPENDS: table opens and rounds of block reads, only when needed.
  //           Call once.
  boost::asio::awaitable<std::vector<Result<VersionGetResult>>> Run();

  // After Run: data-block reads issued to files, and the rounds they went
  // out in (a round with no read does not count).
  uint64_t block_reads() const { return block_reads_; }
  uint64_t read_rounds() const { return read_rounds_; }

 private:
  struct Lookup {
    Lookup(const Version& v, const LookupKey& k, GetStats* stats)
        : key(&k), files(v, *v.icmp_, k.internal_key()), charger(stats) {}
    const LookupKey* key;
    Candidates files;
    SeekCharger charger;
    const FileRef* file = nullptr;    // the file being consulted, not yet answered
    table::TableCache::Handle table;  // file's table once it is open
    table::BlockHandle block;         // the data block of `table` it waits for
    size_t block_index = 0;           // that block's index in the round's batch
    std::optional<Result<VersionGetResult>> answer;
  };
  enum class Step { kAnswered, kNeedsTable, kNeedsBlock };

  // Step 1 for one key.
  Step Advance(Lookup& l);
  // Takes the current file's answer: true when it answers the key; false
  // when the key goes on with its next file.
  bool Settle(Lookup& l, Result<table::LookupResult> r);
  // Step 2: opens the tables the lookups `waiting` need (each once, at the
  // same time) and gives each lookup its table or the open's error.
  boost::asio::awaitable<void> OpenTables(const std::vector<size_t>& waiting);

  const Version& version_;
  const ReadOptions options_;
  std::vector<Lookup> lookups_;
  uint64_t block_reads_ = 0;
  uint64_t read_rounds_ = 0;
};

}  // namespace corodb

// Recovery: rebuilds a database's in-memory state when it is opened.
//
// Reads CURRENT and the MANIFEST it names (VersionEdit records), then replays
// every live log (number >= the MANIFEST's log number, or its previous log
// number) in order into memtables. A torn tail — the end of a log cut by a
// crash mid-write — ends that log quietly (noted in LOG). So does one torn
// record in front of preallocated zeros (log::IsTornRecordBeforeZeros,
// checked from the first byte the reader dropped). Any other damage — above
// all, dropped bytes followed by a good record — fails with Corruption naming
// the file and offset when paranoid_checks is set; otherwise the damaged
// records are skipped and the bytes dropped are logged.
//
// Also creates a new database (MANIFEST-000001 + CURRENT, as LevelDB does).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "corodb/options.h"
#include "corodb/result.h"
#include "format/dbformat.h"
#include "io/file_system.h"
#include "memtable/memtable.h"

namespace corodb {

class Logger;

struct RecoveredState {
  SequenceNumber last_sequence = 0;
  // Smallest file number not used by any file of the database.
  uint64_t next_file_number = 2;
  // Memtables rebuilt from the logs, oldest first (the last one may be empty).
  std::vector<std::shared_ptr<MemTable>> memtables;
  // Live log files replayed, oldest first.
  std::vector<uint64_t> log_numbers;
  uint64_t records_replayed = 0;
};

class Recovery {
 public:
  Recovery(const Options& options, std::string dbname, const io::FileSystem& fs,
           const InternalKeyComparator& icmp, Logger* logger)
      : options_(options), dbname_(std::move(dbname)), fs_(fs), icmp_(icmp), logger_(logger) {}

  // Writes an empty database: MANIFEST-000001 and CURRENT.
  // SUSPENDS: writes and syncs.
  boost::asio::awaitable<Status> CreateNew();

  // Reads the MANIFEST and replays the logs.
  // SUSPENDS: file reads.
  boost::asio::awaitable<Result<RecoveredState>> Run();

 private:
  struct ManifestState {
    uint64_t log_number = 0;
    uint64_t prev_log_number = 0;
    uint64_t next_file_number = 2;
    SequenceNumber last_sequence = 0;
  };
  boost::asio::awaitable<Result<ManifestState>> ReadManifest();
  boost::asio::awaitable<Status> ReplayLog(uint64_t number, RecoveredState* state);

  const Options& options_;
  const std::string dbname_;
  const io::FileSystem& fs_;
  const InternalKeyComparator& icmp_;
  Logger* const logger_;
};

// Writes `contents` to `dbname`/CURRENT atomically (temp file, sync, rename, dir sync).
boost::asio::awaitable<Status> SetCurrentFile(const io::FileSystem& fs, const std::string& dbname,
                                              uint64_t manifest_number);

}  // namespace corodb

// Recovery: rebuilds a database's in-memory state when it is opened.
//
// VersionSet::Recover reads CURRENT and the MANIFEST it names (the live
// tables per level and the counters); then every live log (number >= the
// MANIFEST's log number, or its previous log number) is replayed in order
// into memtables. A torn tail — the end of a log cut by a crash mid-write —
// ends that log quietly (noted in LOG). So does one torn record in front of
// preallocated zeros (log::IsTornRecordBeforeZeros, checked from the first
// byte the reader dropped). Any other damage — above all, dropped bytes
// followed by a good record — fails with Corruption naming the file and
// offset when paranoid_checks is set; otherwise the damaged records are
// skipped and the bytes dropped are logged. A table the MANIFEST names that
// is missing from the directory is Corruption.
//
// Replay rule: within one recovery, logs are replayed in number order and
// records in file order, and a batch whose sequence numbers were all
// replayed already is skipped. Sequence numbers only grow along a database's
// log series, so such a batch can only be a copy (earlier versions of corodb
// copied replayed records into the next log). A batch overlapping the
// replayed numbers only in part is damage.
//
// Open then flushes the recovered memtables to level-0 tables and logs them
// with a new MANIFEST (DBImpl::OpenOnEngine), so no acknowledged write
// depends on an old log that may exist only in the page cache.
//
// Also creates a new database (MANIFEST-000001 + CURRENT, as LevelDB does).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "corodb/options.h"
#include "corodb/result.h"
#include "format/dbformat.h"
#include "io/file_system.h"
#include "log/log_writer.h"
#include "memtable/memtable.h"

namespace corodb {

class Logger;
class VersionSet;

struct RecoveredState {
  SequenceNumber last_sequence = 0;
  // Smallest file number not used by any file of the database.
  uint64_t next_file_number = 2;
  // Memtables rebuilt from the logs, oldest first (the last one may be empty).
  std::vector<std::shared_ptr<MemTable>> memtables;
  // Live log files replayed, oldest first.
  std::vector<uint64_t> log_numbers;
  // The highest sequence number replayed from the logs (0: none). Not the
  // MANIFEST's last sequence, which may lie above records still in a live log.
  SequenceNumber max_replayed_sequence = 0;
  uint64_t records_replayed = 0;
  // Copies of batches replayed already (see the replay rule above).
  uint64_t copies_skipped = 0;
};

class Recovery {
 public:
  // `versions` receives the MANIFEST's state (Run).
  Recovery(const Options& options, std::string dbname, const io::FileSystem& fs,
           const InternalKeyComparator& icmp, VersionSet* versions, Logger* logger)
      : options_(options), dbname_(std::move(dbname)), fs_(fs), icmp_(icmp), versions_(versions),
        logger_(logger) {}

  // Writes an empty database: MANIFEST-000001 and CURRENT.
  // SUSPENDS: writes and syncs.
  boost::asio::awaitable<Status> CreateNew();

  // Recovers the version set from the MANIFEST and replays the live logs.
  // SUSPENDS: file reads.
  boost::asio::awaitable<Result<RecoveredState>> Run();

  // Tests: called in Run after the MANIFEST was read, before the directory
  // is listed (where a writer beside a read-only open can change it).
  std::function<void()> after_manifest_read_for_testing;

 private:
  boost::asio::awaitable<Status> ReplayLog(uint64_t number, RecoveredState* state);
  // Writes and syncs MANIFEST-`number` holding one edit with these counters.
  boost::asio::awaitable<Status> WriteManifest(uint64_t number, uint64_t log_number,
                                               uint64_t next_file_number,
                                               SequenceNumber last_sequence);
  const Options& options_;
  const std::string dbname_;
  const io::FileSystem& fs_;
  const InternalKeyComparator& icmp_;
  VersionSet* const versions_;
  Logger* const logger_;
};

}  // namespace corodb

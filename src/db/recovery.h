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
// Replay rule: within one recovery, logs are replayed in number order and
// records in file order, and a batch whose sequence numbers were all
// replayed already is skipped. Sequence numbers only grow along a database's
// log series (each batch gets numbers above every batch logged before it, in
// any log), so such a batch can only be a copy: one that MakeReplayDurable
// wrote into a newer log at an earlier Open that crashed before CURRENT
// switched. A batch overlapping the replayed numbers only in part is damage.
//
// Once Run() has replayed, MakeReplayDurable copies what it replayed into the
// new log Open starts, syncs it, and switches to a new MANIFEST that makes
// the old logs obsolete — so nothing Open serves exists only in the page
// cache. (Interim: the memtable flush to a table, with the version set,
// replaces it.)
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
#include "log/log_writer.h"
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
  // The WriteBatch contents replayed, in replay order, byte for byte (each
  // holds its own sequence numbers): what MakeReplayDurable copies.
  std::vector<std::string> replayed_batches;
  // The highest sequence number replayed from the logs (0: none). Not the
  // MANIFEST's last sequence, which may lie above records still in a live log.
  SequenceNumber max_replayed_sequence = 0;
  uint64_t records_replayed = 0;
  // Copies of batches replayed already (see the replay rule above).
  uint64_t copies_skipped = 0;
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

  // Makes what Run() replayed durable without the logs it came from (they
  // may exist only in the page cache: never synced, or their sync failed).
  // In order: appends every replayed batch, byte for byte, to `log` — the
  // new log numbered `log_number` that Open has just created, through its
  // `writer` — then fdatasyncs it and syncs the directory; writes
  // MANIFEST-`manifest_number` (comparator, log number `log_number`, next
  // file `next_file_number`, last sequence) and points CURRENT at it; then
  // deletes the logs and MANIFESTs that made obsolete. Does nothing when
  // nothing was replayed.
  // A crash anywhere loses nothing and applies nothing twice: before CURRENT
  // switches, the old MANIFEST names the old logs, which are replayed with
  // the new log (whose copies are skipped); after it, the new log holds it all.
  // Fails with the first write, sync or rename error; a later Open retries.
  // REQUIRES: nothing else appends to `log` meanwhile.
  // SUSPENDS: appends and syncs of the log, MANIFEST and CURRENT.
  boost::asio::awaitable<Status> MakeReplayDurable(const RecoveredState& state,
                                                   uint64_t log_number, io::File& log,
                                                   log::Writer& writer, uint64_t manifest_number,
                                                   uint64_t next_file_number);

 private:
  struct ManifestState {
    uint64_t log_number = 0;
    uint64_t prev_log_number = 0;
    uint64_t next_file_number = 2;
    SequenceNumber last_sequence = 0;
  };
  boost::asio::awaitable<Result<ManifestState>> ReadManifest();
  boost::asio::awaitable<Status> ReplayLog(uint64_t number, RecoveredState* state);
  // Writes and syncs MANIFEST-`number` holding one edit with these counters.
  boost::asio::awaitable<Status> WriteManifest(uint64_t number, uint64_t log_number,
                                               uint64_t next_file_number,
                                               SequenceNumber last_sequence);
  // Removes the logs numbered below `log_number` and the MANIFESTs below
  // `manifest_number` (obsolete once CURRENT names that MANIFEST). Failures
  // are logged: a leftover file is garbage, not damage.
  void RemoveObsoleteFiles(uint64_t log_number, uint64_t manifest_number);

  const Options& options_;
  const std::string dbname_;
  const io::FileSystem& fs_;
  const InternalKeyComparator& icmp_;
  Logger* const logger_;
};

}  // namespace corodb

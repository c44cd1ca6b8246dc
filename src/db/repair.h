// Repair: rebuilds a database's MANIFEST from the logs and tables left in its
// directory (RepairDB, include/corodb/db.h), with LevelDB's algorithm:
//
//  1. Lock the directory (an open DB makes repair fail), open a fresh LOG.
//  2. Find every log (NNNNNN.log), table (.ldb, .sst) and MANIFEST.
//  3. Convert each log, oldest first, into level-0 tables: its records are
//     replayed into memtables (a new one after write_buffer_size bytes).
//     A record that fails its checksum, does not parse as a batch, or whose
//     sequence numbers do not follow those before it in the log is skipped
//     and counted; reading goes on with the next good record. A log that
//     cannot be opened, or whose reading ends with an error (what came
//     before it is kept), is to go to `lost/`.
//  4. Scan every table, data block by data block, checksums verified,
//     keeping what reads: a table whose footer, index or metaindex is
//     damaged, or that holds no readable entry, is to go to `lost/`; a
//     table with damage (a block that fails its checksum or does not
//     decode, a bad or out-of-order key, a damaged filter) has its readable
//     entries copied into a new table and is to go to `lost/`; an intact
//     table stays as it is (fdatasync'ed: its writer may have died before
//     its own sync). Each kept table's smallest and largest key and
//     largest sequence number are recorded. Only Corruption is damage: an
//     I/O error opening or reading a table stops the repair.
//  5. Order the tables (beyond LevelDB, see docs/decisions.md "Repair"):
//     every table lands at level 0, where a lookup takes the newest version
//     of a key from the highest-numbered table holding it. A merge of all
//     tables finds, for each user key, the table with its newest version;
//     that table must outrank every other table holding the key. Tables
//     that break this order (compaction outputs with older versions than a
//     lower-numbered level-0 table, a converted leftover log) get new,
//     higher numbers (renamed), oldest first.
//  6. Sync the directory (new and renamed tables' entries), then move the
//     damaged and unreadable tables and the logs not read to their end to
//     `lost/` and sync `lost/` and the directory; write a new MANIFEST (a
//     number above every file's) holding one edit — comparator name, every
//     table at level 0, next file number, last sequence = the largest seen,
//     log number = the first number no file had before the repair (so no
//     old log is ever replayed on top of the tables made from it) — sync
//     it, and point CURRENT at it.
//  7. Only then move the old MANIFESTs and the logs read to their end to
//     `lost/`.
//
// Nothing goes to `lost/` before step 6: a repair that fails earlier
// leaves every file where it was (but renumbered tables). Until CURRENT
// switches, the old files stay in place (but for damaged and unreadable
// tables and logs, already in `lost/`): a repair that fails or crashes
// leaves a directory that repair can run on again. Everything recovered
// and lost is reported in the LOG.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>

#include "corodb/options.h"
#include "corodb/status.h"

namespace boost::asio {
class io_context;
}

namespace corodb {
namespace io {
class Backend;
}

// Repairs the database in `dbname` (the steps above). Uses `backend` when
// given (tests: fault injection); otherwise creates its I/O backend per
// options.io_backend on the calling thread; with io_uring, I/O from
// executors that are not an io_context goes to `ctx`'s ring.
// Returns OK once CURRENT names the new MANIFEST (also when data was lost:
// the LOG says what); the lock's IOError when the DB is open; otherwise the
// first error that stopped it before CURRENT switched — among them an I/O
// error opening or reading a table (naming the file), which is not damage.
// REQUIRES: runs on `ctx`, which outlives the call.
// SUSPENDS: reads every log and table; writes and syncs tables, the
//           MANIFEST and CURRENT.
boost::asio::awaitable<Status> RunRepair(std::string dbname, Options options,
                                         boost::asio::io_context* ctx,
                                         std::shared_ptr<io::Backend> backend = nullptr);

}  // namespace corodb

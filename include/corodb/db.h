// DB: a persistent, ordered map from keys to values, with LevelDB's on-disk
// format. Every operation is a Boost.Asio awaitable.
//
//   auto db = co_await corodb::DB::Open(options, "/path/to/db");
//   if (!db.ok()) ...;
//   Status s = co_await (*db)->Put({}, "key", "value");
//   Result<std::string> v = co_await (*db)->Get({}, "key");
//
// Thread safety: a DB may be used concurrently from any number of coroutines,
// threads and io_contexts. Writes are group-committed to the write-ahead log
// by the writers' own threads (an uncontended write commits on its caller's
// thread without suspending; writers that arrive meanwhile join the next
// group and are resumed on their own executors); the engine executor runs
// the slow steps (memtable and log switches, log growth). Reads run on the
// caller's executor and complete without suspending when the data is in
// memory, except that once 200 µs (or 4096 reads) have passed since a
// thread's reads last yielded, the next read first yields to its executor
// (a post), so a loop of reads never holds a thread (and the engine work
// queued on it) for long.
//
// Arguments passed as Slice (keys, values) and references (batches, options)
// must stay alive until the awaitable completes — as they do with `co_await`.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "corodb/iterator.h"
#include "corodb/options.h"
#include "corodb/result.h"
#include "corodb/slice.h"
#include "corodb/snapshot.h"
#include "corodb/status.h"
#include "corodb/write_batch.h"

namespace corodb {

class DB {
 public:
  // Opens the database in directory `name`, recovering it from its logs.
  // Fails with InvalidArgument when it is missing and !create_if_missing, or
  // exists and error_if_exists; IOError when another process (or another DB
  // object in this process) has it open; Corruption naming file and offset
  // when a log is damaged before its tail and paranoid_checks is set.
  // SUSPENDS: recovery reads the logs.
  static boost::asio::awaitable<Result<std::unique_ptr<DB>>> Open(const Options& options,
                                                                  const std::string& name);

  DB() = default;
  DB(const DB&) = delete;
  DB& operator=(const DB&) = delete;
  // Closes the DB if Close() was not awaited, blocking until writes queued
  // before it finish — also when called from a writer's continuation. No
  // other write, read or iterator move may still be in progress on the DB
  // (a coroutine awaiting one — even a read answered from memory, which may
  // be yielding — would use a destroyed object), and the executors that
  // writes and the engine run on must keep running until it returns.
  virtual ~DB() = default;

  // Sets key to value. A non-sync write completes once its log record has
  // been handed to the kernel (it survives a process crash); a sync write
  // once the log is fdatasync'ed (it survives a power cut).
  // SUSPENDS: until the write's group is committed.
  virtual boost::asio::awaitable<Status> Put(const WriteOptions& options, Slice key,
                                             Slice value) = 0;

  // Removes key (not an error when it is absent).
  virtual boost::asio::awaitable<Status> Delete(const WriteOptions& options, Slice key) = 0;

  // Applies every update of `batch` atomically.
  virtual boost::asio::awaitable<Status> Write(const WriteOptions& options,
                                               const WriteBatch& batch) = 0;

  // The value for key, or NotFound.
  // SUSPENDS: when a table block must be read from disk, and at the end of a
  // read turn on its thread (see above) to yield to the caller's executor.
  virtual boost::asio::awaitable<Result<std::string>> Get(const ReadOptions& options,
                                                          Slice key) = 0;

  // The values of `keys`, one result per key and in their order, each what
  // Get would return (NotFound for a key that is absent or deleted). Every
  // key is read at one read point: options.snapshot, or the newest visible
  // write when the call starts. Keys found in memory are answered first;
  // the table blocks the others need — each block once, however many keys
  // need it — are read together: on io_uring, one submission per round
  // (a key that is not in the block its level pointed to moves on to the
  // next level in a next round). An error (a damaged block, a table that
  // cannot be opened) is the result of the keys that needed it only; a
  // snapshot that is not live fails every key.
  // SUSPENDS: when table blocks (or tables) must be read from disk, and as
  // Get to yield (a batch counts as many reads as it has keys, 1 to 4096).
  virtual boost::asio::awaitable<std::vector<Result<std::string>>> MultiGet(
      const ReadOptions& options, std::span<const Slice> keys) = 0;

  // An iterator over the database as of options.snapshot (or, without one,
  // the newest visible write now). Unpositioned: seek it first. Does not
  // suspend (tables are opened by the moves that reach them).
  virtual std::unique_ptr<Iterator> NewIterator(const ReadOptions& options) = 0;

  // A snapshot of the current state (see snapshot.h). Any thread; does not
  // suspend.
  virtual SnapshotHandle GetSnapshot() = 0;
  // LevelDB's spelling of snapshot.reset().
  void ReleaseSnapshot(SnapshotHandle& snapshot) { snapshot.reset(); }

  // Compacts the key range [*begin, *end] (nullptr: unbounded on that side)
  // as LevelDB's CompactRange: the memtable is flushed, then every level
  // that overlaps the range is compacted into the next one, so deleted and
  // overwritten entries in the range are dropped (unless a snapshot needs
  // them). Returns the first flush or compaction failure.
  // SUSPENDS: until the compactions are done (they run on the background
  // executor; the caller's thread is not blocked).
  virtual boost::asio::awaitable<Status> CompactRange(const Slice* begin, const Slice* end) = 0;

  // The approximate file bytes used by the keys of each range [start, limit)
  // (LevelDB's GetApproximateSizes: table bytes from the index blocks; data
  // still in memtables is not counted). One result per range.
  // SUSPENDS: when a table must be opened.
  struct Range {
    Slice start;
    Slice limit;
  };
  virtual boost::asio::awaitable<std::vector<uint64_t>> GetApproximateSizes(
      std::span<const Range> ranges) = 0;

  // Finishes pending writes, refuses new ones (InvalidArgument "closed") and
  // closes the log. Idempotent. Reads keep working until the DB is destroyed.
  virtual boost::asio::awaitable<Status> Close() = 0;

  // Properties, as LevelDB names them: "leveldb.stats" (LevelDB's table:
  // per level files, size, compaction time, MB read and written),
  // "leveldb.num-files-at-level<N>", "leveldb.sstables",
  // "leveldb.approximate-memory-usage"; and "corodb.stats" (writes, WAL
  // groups and syncs, stalls, flushes, compactions per level, block and
  // table cache hit rates, blocks the block cache declined, write
  // amplification, MultiGet counts),
  // "corodb.io-backend". Returns false for unknown properties. Any thread;
  // does not suspend.
  virtual bool GetProperty(Slice property, std::string* value) = 0;

  // The engine executor (where the commit loop runs).
  virtual boost::asio::any_io_executor engine_executor() = 0;
};

// Deletes the contents of a database directory (LevelDB's DestroyDB). Fails
// if the DB is open.
Status DestroyDB(const std::string& name, const Options& options);

// Rebuilds the database in directory `name` from the logs and tables it still
// has, when it cannot be opened (a lost or damaged MANIFEST or CURRENT,
// damaged tables), as LevelDB's RepairDB does. Every log is converted to a
// table, skipping damaged records; every table is read through, keeping the
// entries that read (a damaged table's readable entries are copied to a new
// table); a new MANIFEST lists them all at level 0, and CURRENT names it.
// What is left behind — unreadable and damaged tables, the old MANIFESTs and
// the converted logs — is moved to `name`/lost/; the LOG says what was
// recovered and what was lost. Some data may be lost, and a write whose log
// record is damaged may be missing while later ones are present.
// Uses options.comparator (which must be the one the database was written
// with), options.io_backend, write_buffer_size (to split large logs), and
// the table settings (block size, compression, filter policy) for the tables
// it writes; paranoid_checks is ignored (repair always verifies).
// Returns OK once the new MANIFEST is in place (also when data was lost);
// IOError when the database is open (the lock) or a file cannot be written;
// then the old MANIFEST and the logs are still where they were.
// SUSPENDS: runs on Options::engine_context, or on a thread of its own for
//           the duration of the call; reads every file, writes and syncs the
//           new tables, the MANIFEST and CURRENT.
boost::asio::awaitable<Status> RepairDB(const std::string& name, const Options& options);

}  // namespace corodb

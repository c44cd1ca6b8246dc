// DBImpl: the engine behind DB.
//
// Invariants / thread safety:
// - Write state — log_file_, log_writer_, log_sync_files_,
//   log_background_sync_file_, log_writeback_start_, next_sequence_,
//   bg_error_, log_error_, mem_ and memtable insertion — belongs to whoever
//   holds WriteQueue's commit role (a writer's thread, a sync completion, the
//   room task's Kick). The role is handed over under the queue's mutex, so
//   each holder sees the previous one's writes. Functions that need it say
//   "REQUIRES: holds the commit role".
// - The room task (MakeRoom: memtable/log switch, log growth) runs on the
//   engine executor while no group can begin; it touches the log state and
//   mem_ but never bg_error_ or the statistics (groups may end meanwhile).
//   It and OpenOnEngine say "REQUIRES: on engine executor". The engine
//   executor may be run by several threads: nothing relies on it being one.
// - Readers take the current ReadView (memtable, immutable memtables newest
//   first, and the current Version) under `state_mu_`, a short lock never
//   held across co_await, and the visible sequence from `last_sequence_`.
//   A view is replaced as a whole (read-modify-write under state_mu_) by a
//   memtable switch (room task) and by the background worker after a flush
//   (imm dropped + new Version, in one step: a reader never sees the table
//   without the memtable or neither) or a compaction (new Version).
// - Background work (flush, compaction, obsolete-file deletion) runs as one
//   coroutine chain at a time on the background context (bg_ctx_), started
//   by MaybeScheduleBackground. Only that chain calls VersionSet's mutators,
//   so MANIFEST writes are serialized. A pending flush pre-empts a running
//   compaction: the compaction checks `imm_pending_` between keys and runs
//   the flush itself (LevelDB's rule), on the same chain.
// - Background failures go to bg_failure_ (under bg_mu_, flagged by the
//   atomic bg_failed_); BeginGroup refuses groups once it is set. Reads keep
//   working. A group is inserted into the
//   memtable in BeginGroup (while its fdatasync runs) but last_sequence_ is
//   release-stored only in EndGroup, in log order, after the sync: a reader
//   sees whole, durable-as-asked groups or nothing.
// - Statistics are relaxed atomics, readable from any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <set>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "corodb/db.h"
#include "db/db_iter.h"
#include "db/snapshot_list.h"
#include "db/write_queue.h"
#include "format/dbformat.h"
#include "io/file_system.h"
#include "io/lock_file.h"
#include "log/log_writer.h"
#include "memtable/memtable.h"
#include "table/table_options.h"
#include "util/logging.h"
#include "version/version_set.h"

namespace corodb::table {
class AsyncIterator;
class TableCache;
template <typename V>
class ShardedLruCache;
class Block;
}  // namespace corodb::table

namespace corodb {

class DBImpl final : public DB, private CommitTarget {
 public:
  // Starts the engine (a thread running an owned io_context, unless
  // Options::engine_context is set). Nothing is opened yet: see OpenOnEngine.
  // `backend`, when set, replaces the backend Options::io_backend would pick
  // (tests wrap a real backend in a FaultInjectionBackend).
  DBImpl(const Options& options, std::string name, std::shared_ptr<io::Backend> backend = nullptr);
  ~DBImpl() override;

  // Locks, creates or recovers the database and starts a new log.
  // REQUIRES: on engine executor.
  boost::asio::awaitable<Status> OpenOnEngine();
  // Tests: run by a read-only open between reading the MANIFEST and
  // listing the directory. Set before OpenOnEngine.
  std::function<void()> read_only_recovery_hook_for_testing;
  // OpenOnEngine with Options::read_only: recovers into memory only.
  boost::asio::awaitable<Status> OpenReadOnly();
  // The I/O backend, the caches and the (empty) version set.
  Status OpenFilesAndCaches();
  // NotSupported: the DB was opened read-only.
  Status ReadOnlyError() const;
  // What a writer changes when it logs an edit: CURRENT's contents and the
  // size of the MANIFEST it names.
  std::string ManifestStamp() const;

  boost::asio::awaitable<Status> Put(const WriteOptions& options, Slice key,
                                     Slice value) override;
  boost::asio::awaitable<Status> Delete(const WriteOptions& options, Slice key) override;
  boost::asio::awaitable<Status> Write(const WriteOptions& options,
                                       const WriteBatch& batch) override;
  boost::asio::awaitable<Result<std::string>> Get(const ReadOptions& options, Slice key) override;
  // In db_impl_multiget.cc.
  boost::asio::awaitable<std::vector<Result<std::string>>> MultiGet(
      const ReadOptions& options, std::span<const Slice> keys) override;
  boost::asio::awaitable<Status> Close() override;
  bool GetProperty(Slice property, std::string* value) override;
  std::unique_ptr<Iterator> NewIterator(const ReadOptions& options) override;
  SnapshotHandle GetSnapshot() override;
  boost::asio::awaitable<Status> CompactRange(const Slice* begin, const Slice* end) override;
  boost::asio::awaitable<std::vector<uint64_t>> GetApproximateSizes(
      std::span<const Range> ranges) override;
  boost::asio::any_io_executor engine_executor() override { return engine_->get_executor(); }

  // The blocking facade's fast paths (SyncDB), the same code the coroutines
  // run first. TryWriteNow commits an uncontended non-sync batch on this
  // thread; TryGetNow answers a read that needs no I/O. nullopt: do it
  // through the coroutine instead (nothing happened).
  std::optional<Status> TryWriteNow(const WriteOptions& options, const WriteBatch& batch);
  std::optional<Result<std::string>> TryGetNow(const ReadOptions& options, Slice key);

  // Tests: runs inside BeginGroup after the group was logged, before it is
  // applied (e.g. to throw std::bad_alloc there). Set before writing.
  void SetBeginGroupHookForTesting(std::function<void()> hook) { begin_hook_ = std::move(hook); }
  // Tests: while held, the background chain does no new flush or
  // compaction step (it waits on an event; no thread sleeps). A step already
  // running finishes.
  void HoldBackgroundForTesting(bool hold);
  // Tests: waits until no flush is pending and no compaction is needed (or
  // a background error stopped the work); returns the background error.
  boost::asio::awaitable<Status> WaitForBackgroundIdleForTesting();
  // Tests: the number of the current Version's files at `level`.
  int NumLevelFilesForTesting(int level) const;
  // Tests: writers queued and not yet in a group.
  size_t QueuedWritersForTesting() { return write_queue_.QueuedForTesting(); }
  // The file descriptor groups append to. REQUIRES: no write in flight.
  int LogFdForTesting() const { return log_file_ ? log_file_->fd() : -1; }
  size_t SuspendedQueuedWritersForTesting() { return write_queue_.SuspendedQueuedForTesting(); }
  uint64_t SoloCommitsForTesting() const { return write_queue_.SoloCommitsForTesting(); }

 private:
  // What a reader consults: the memtables, newest first, then the tables of
  // `version`. Immutable once published.
  struct ReadView {
    std::shared_ptr<MemTable> mem;
    std::vector<std::shared_ptr<MemTable>> imms;  // newest first
    std::shared_ptr<const Version> version;
  };
  // An immutable memtable waiting for its flush: once its table is in the
  // MANIFEST, logs below `next_log` are obsolete.
  struct PendingFlush {
    std::shared_ptr<MemTable> mem;
    uint64_t next_log = 0;               // the log started when it was frozen
    SequenceNumber last_sequence = 0;    // no entry of it is above this
  };

  // CommitTarget.
  bool NeedsRoom(size_t bytes, bool sync) override;
  boost::asio::awaitable<void> MakeRoom(size_t bytes, bool sync) override;
  boost::asio::awaitable<void> MakeRoomSteps(size_t bytes, bool sync);
  // Whether mem_ has reached write_buffer_size. An empty memtable never
  // has: a switch would only make another one (a write buffer smaller than
  // an empty memtable's arena once waited forever for room).
  bool MemtableFull() const {
    return mem_->ApproximateMemoryUsage() >= options_.write_buffer_size && !mem_->Empty();
  }
  void BeginGroup(WriteBatch& group, GroupCommit* commit,
                  const boost::asio::any_io_executor& ex) override;
  void OnBeginFailure(const Status& status) override;
  // Starts a background fdatasync of the log's non-sync bytes unless one is
  // in flight; its failure fails the groups that begin after it.
  // REQUIRES: holds the commit role.
  void StartBackgroundLogSync();
  // Returns once no background log sync is in flight. REQUIRES: no group
  // can begin (the log is closed), so none starts meanwhile.
  boost::asio::awaitable<void> AwaitBackgroundLogSync();
  Status EndGroup(GroupCommit& commit) override;
  void OnCommitLoopFailure(const Status& status) override;
  Status CloseLog() override;

  // Freezes the memtable and starts a new log. The old log's bytes are made
  // durable first, so no group of the new log can end (and survive a power
  // cut) while an earlier group of the old log could be lost.
  // REQUIRES: on engine executor, in the room task.
  // SUSPENDS: fdatasync of the old log, creation of the new one.
  boost::asio::awaitable<Status> SwitchMemtable();
  // Makes sure the log has zero-filled, synced space up to `end` (rounded up
  // to config::kWalPreallocChunk), so a sync group's fdatasync overwrites in
  // place. ENOSPC/EDQUOT/EFBIG while writing the zeros turn preallocation off
  // for this log (appends still work); other failures are returned.
  // REQUIRES: on engine executor, in the room task.
  // SUSPENDS: a zero write + fdatasync.
  boost::asio::awaitable<Status> PreallocateLog(uint64_t end);
  // Creates log `number` and makes it the one groups append to.
  // REQUIRES: on engine executor (Open or the room task).
  boost::asio::awaitable<Status> StartNewLog(uint64_t number);
  // Upper bound of the log bytes a group of `batch_bytes` takes.
  static uint64_t MaxRecordBytes(size_t batch_bytes);
  std::shared_ptr<const ReadView> CurrentState() const;
  // The view and the visible sequence, read together (under state_mu_): a
  // view published after a compaction comes with a sequence at least the
  // one the compaction dropped shadowed entries below.
  std::shared_ptr<const ReadView> ReadSnapshot(SequenceNumber* sequence) const;
  // The view and sequence a read with `options` uses: ReadSnapshot(), or the
  // current view at options.snapshot's sequence. InvalidArgument when the
  // snapshot is not a live snapshot of this DB.
  Result<std::shared_ptr<const ReadView>> ReadPoint(const ReadOptions& options,
                                                    SequenceNumber* sequence) const;
  void PublishState(std::shared_ptr<const ReadView> state);
  // The merging iterator NewIterator puts a DB iterator on: over `view`'s
  // memtables and tables, pinning them (and the caches) while it lives.
  // `without_mem`: leave out view->mem, which must have been empty after the
  // read's sequence was taken (so it holds nothing the read may see).
  std::unique_ptr<table::AsyncIterator> NewInternalIterator(const ReadOptions& options,
                                                            std::shared_ptr<const ReadView> view,
                                                            bool without_mem);
  // Makes `next` the current view. REQUIRES: holds state_mu_. Returns the
  // spare iterator (recycler_) the change made stale: the caller destroys it
  // after unlocking.
  [[nodiscard]] std::unique_ptr<table::AsyncIterator> SetStateLocked(
      std::shared_ptr<const ReadView> next);
  // Memtables, then tables, without I/O (nullopt: a table read is needed).
  std::optional<Result<std::string>> GetFromView(const ReadView& view, const ReadOptions& options,
                                                 const LookupKey& lookup, GetStats* stats);
  // Charges the seek of a Get that consulted more than one table.
  void ChargeSeek(const ReadView& view, const GetStats& stats);

  // --- Background work (db_impl_bg.cc) ---
  // Starts the background chain when there is work and none runs. Any thread.
  void MaybeScheduleBackground();
  // The chain: flushes, then compactions, while there is work.
  boost::asio::awaitable<void> BackgroundWork();
  // Flushes the oldest pending immutable memtable. `running`: the compaction
  // this flush interrupts (its table then stays at L0 when it falls in the
  // compaction's key range). REQUIRES: on the chain.
  boost::asio::awaitable<Status> FlushImmutable(const Compaction* running);
  // Writes `mem` to a new table (no file when it is empty) and fills *meta.
  // REQUIRES: on the chain (or Open). SUSPENDS: appends + fdatasync.
  boost::asio::awaitable<Status> WriteTable(const MemTable& mem, FileMetaData* meta);
  // Runs one compaction (trivial move or merge). REQUIRES: on the chain.
  boost::asio::awaitable<Status> RunCompaction(Compaction* c);
  boost::asio::awaitable<Status> DoCompactionWork(Compaction* c);
  // A compaction input: table `number` read front to back in large reads.
  boost::asio::awaitable<Result<std::unique_ptr<table::AsyncIterator>>> OpenCompactionInput(
      uint64_t number, uint64_t file_size);
  // Yields to the background context, and sleeps (a timer) while the
  // compaction is ahead of Options::compaction_rate_limit.
  boost::asio::awaitable<void> PaceCompaction(std::chrono::steady_clock::time_point start,
                                              uint64_t bytes_written);
  // The oldest sequence any reader may still read at: the oldest live
  // snapshot's, or the last visible one.
  SequenceNumber SmallestSnapshot() const;
  // A CompactRange request for one level, run by the background chain.
  struct ManualCompaction {
    int level = 0;
    std::optional<InternalKey> begin;  // advances as the chain works through the range
    std::optional<InternalKey> end;
    bool done = false;                 // guarded by bg_mu_
    Status status;                     // guarded by bg_mu_
  };
  // One step of manual_ (a compaction of part of its range). REQUIRES: on
  // the chain, manual_ set.
  boost::asio::awaitable<Status> ManualCompactionStep(ManualCompaction* m);
  // Compacts `level`'s files in [begin, end] into level + 1 through the
  // chain, waiting until done.
  boost::asio::awaitable<Status> CompactLevelRange(int level, const Slice* begin, const Slice* end);
  // Freezes the memtable (if it holds anything) and waits until every
  // frozen memtable is flushed.
  boost::asio::awaitable<Status> FlushMemTable();
  // Deletes files no live Version, pending output or current log needs.
  // REQUIRES: on the chain (or Open).
  void DeleteObsoleteFiles();
  void SetBackgroundFailure(const Status& s);
  Status BackgroundFailure() const;
  // Wakes room tasks waiting for background progress. Any thread.
  void NotifyBackgroundProgress();
  // Waits until NotifyBackgroundProgress is called after `seen` was read
  // from bg_progress_ (returns at once if it was already).
  boost::asio::awaitable<void> AwaitBackgroundProgress(uint64_t seen);
  // Publishes a view with `version` (and without the flushed memtable).
  void InstallView(std::shared_ptr<const Version> version, const MemTable* flushed);
  // Stops the background chain and waits for it. Not from the chain.
  boost::asio::awaitable<void> StopBackground();
  // leveldb.stats: LevelDB's table (level, files, size MB, compaction
  // seconds, MB read, MB written).
  std::string LevelDbStatsString() const;
  std::string StatsString() const;
  // Records the first write failure; later writes fail with it.
  // REQUIRES: on engine executor.
  void SetBackgroundError(const Status& s);

  const Options options_;
  const std::string name_;
  const InternalKeyComparator icmp_;

  // Engine executor.
  std::unique_ptr<boost::asio::io_context> owned_engine_;
  boost::asio::io_context* engine_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> engine_work_;
  std::thread engine_thread_;

  std::shared_ptr<io::Backend> backend_override_;
  std::unique_ptr<Logger> info_log_;
  std::unique_ptr<io::LockFile> lock_;
  std::unique_ptr<io::FileSystem> fs_;
  // Shared with iterators, which may be destroyed after the DB (their
  // table and block handles are released into caches that still exist).
  std::shared_ptr<table::ShardedLruCache<table::Block>> owned_block_cache_;
  std::shared_ptr<table::TableCache> table_cache_;
  table::TableOptions table_options_;  // for the tables flushes and compactions write
  std::unique_ptr<VersionSet> versions_;
  WriteQueue write_queue_;

  // Background context (flushes and compactions) and its threads.
  std::unique_ptr<boost::asio::io_context> bg_ctx_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> bg_work_;
  std::vector<std::thread> bg_threads_;
  mutable std::mutex bg_mu_;
  std::condition_variable bg_cv_;       // the chain stopped (StopBackground)
  bool bg_scheduled_ = false;           // guarded by bg_mu_
  bool bg_stopping_ = false;            // guarded by bg_mu_
  Status bg_failure_;                   // guarded by bg_mu_
  std::atomic<bool> bg_failed_{false};
  std::deque<PendingFlush> pending_flushes_;  // guarded by bg_mu_, oldest first
  std::atomic<bool> imm_pending_{false};
  std::atomic<bool> bg_stop_requested_{false};
  std::atomic<bool> bg_hold_{false};
  std::set<uint64_t> pending_outputs_;  // guarded by bg_mu_
  ManualCompaction* manual_ = nullptr;  // guarded by bg_mu_; owned by the CompactRange caller
  bool manual_running_ = false;         // guarded by bg_mu_: the chain is in a step of manual_
  // Set by FlushMemTable: the next room task freezes a non-empty memtable.
  std::atomic<bool> force_switch_{false};
  // Background progress events for room tasks waiting on a stall.
  uint64_t bg_progress_ = 0;            // guarded by bg_mu_
  struct ProgressWaiter {
    boost::asio::any_io_executor ex;  // where the waiter resumes
    // Outstanding work on `ex` until the post that resumes the waiter has
    // returned: the waiter's context (e.g. the one Close runs on in the
    // destructor) cannot finish and be destroyed under the posting thread.
    boost::asio::any_io_executor work;
    boost::asio::any_completion_handler<void()> handler;
  };
  std::vector<ProgressWaiter> progress_waiters_;  // guarded by bg_mu_
  // Posts each waiter's resumption to its executor, then drops its work.
  static void ResumeWaiters(std::vector<ProgressWaiter>& waiters);
  std::atomic<int> l0_files_{0};        // files at L0 in the current view
  bool slowdown_paid_ = false;          // commit role: this group was delayed once

  // Commit-role state (see the top of this file).
  std::shared_ptr<io::File> log_file_;  // the current log; appends go through it
  // More open file descriptions of the current log, used only for its
  // fdatasyncs, one per group that may be in flight, taken in turn. Since
  // Linux 4.13 a writeback error is reported once per file description: two
  // fdatasyncs in flight on one description could both cover a failed page
  // and only one of them would see the error. In turn, a description is
  // reused only after the group that last synced through it has ended.
  // Shared with syncs in flight (a log switch may drop them meanwhile).
  std::vector<std::shared_ptr<io::File>> log_sync_files_;
  size_t next_sync_file_ = 0;
  std::unique_ptr<log::Writer> log_writer_;
  uint64_t log_number_ = 0;
  uint64_t log_prealloc_end_ = 0;  // the log is zero-filled and synced up to here
  bool log_prealloc_ok_ = true;    // false after ENOSPC/EDQUOT/EFBIG growing this log
  // Background fdatasyncs of non-sync log bytes (every kWalWritebackChunk),
  // through a file description of their own: opened with the log, before
  // its first write, so a writeback error reaches it as well as the
  // appending description (which the switch's sync uses) and log_sync_files_.
  std::shared_ptr<io::File> log_background_sync_file_;
  uint64_t log_writeback_start_ = 0;   // where the next background sync's bytes begin
  // Shared with the background syncs' completions: whether one is in
  // flight, the first that failed, and Close() waiting for the last one.
  struct BackgroundLogSync {
    std::atomic<bool> in_flight{false};
    std::atomic<bool> failed{false};
    std::mutex mu;
    Status failure;  // guarded by mu; set once, before `failed`
    std::vector<ProgressWaiter> waiters;  // guarded by mu: woken when none is in flight
    // The sync ended (or never started): wakes the waiters.
    void Finish();
  };
  const std::shared_ptr<BackgroundLogSync> log_background_sync_ =
      std::make_shared<BackgroundLogSync>();
  MemTable* mem_ = nullptr;        // state_->mem: what groups are inserted into
  SequenceNumber next_sequence_ = 1;  // the next group's first sequence number
  Status bg_error_;
  // The first failure while beginning a group (log write, growth, switch, or
  // an exception): later groups are refused when they begin. It becomes
  // bg_error_ when the failing group ends, in order — groups ahead of it
  // still end normally.
  Status log_error_;
  std::string record_buf_;
  std::function<void()> begin_hook_;

  std::atomic<bool> opened_{false};
  std::atomic<bool> closed_{false};
  std::atomic<SequenceNumber> last_sequence_{0};
  // Live snapshots; handles share it, so one may outlive the DB.
  const std::shared_ptr<internal::SnapshotList> snapshots_ =
      std::make_shared<internal::SnapshotList>(&last_sequence_);
  std::atomic<uint32_t> iterator_seed_{0};
  mutable std::mutex state_mu_;
  std::shared_ptr<const ReadView> state_;  // guarded by state_mu_
  // The spare internal iterator of the current view (db_iter.h); iterators
  // share it, so one may outlive the DB.
  const std::shared_ptr<IteratorRecycler> recycler_ = std::make_shared<IteratorRecycler>();

  struct Stats {
    std::atomic<uint64_t> writes{0};       // writers committed (successfully or not)
    std::atomic<uint64_t> groups{0};       // WAL records written
    std::atomic<uint64_t> max_group{0};    // most writers in one group
    std::atomic<uint64_t> syncs{0};        // fdatasyncs of the WAL
    std::atomic<uint64_t> wal_bytes{0};    // bytes appended to WALs
    std::atomic<uint64_t> wal_mapped_bytes{0};  // of those, copied through a log's mapping
    std::atomic<uint64_t> updates{0};      // puts + deletes applied
    std::atomic<uint64_t> memtable_switches{0};
    std::atomic<uint64_t> wal_background_syncs{0};
    std::atomic<uint64_t> room_tasks{0};         // memtable/log switches and log growths
    std::atomic<uint64_t> write_stall_micros{0}; // time no group could begin (room tasks)
    std::atomic<uint64_t> slowdowns{0};          // 1 ms delays (L0 slowdown trigger)
    std::atomic<uint64_t> stops{0};              // waits for background work (full memtable, L0 stop)
    std::atomic<uint64_t> stop_micros{0};
    std::atomic<uint64_t> flushes{0};
    std::atomic<uint64_t> flush_bytes{0};
    std::atomic<uint64_t> compactions{0};
    std::atomic<uint64_t> trivial_moves{0};
    std::atomic<uint64_t> seek_compactions{0};
    std::atomic<uint64_t> compaction_bytes_read{0};
    table::SequentialReadCount compaction_input_reads;  // file reads of compaction inputs
    std::atomic<uint64_t> compaction_bytes_written{0};
    std::atomic<uint64_t> compaction_micros{0};
    std::atomic<uint64_t> flush_preemptions{0};  // flushes run from inside a compaction
    // MultiGet (any thread: fetch_add). Block reads are data blocks read
    // from table files (page-cache copies not included), each round's sent
    // together (one io_uring submission per round).
    std::atomic<uint64_t> multigets{0};
    std::atomic<uint64_t> multiget_keys{0};
    std::atomic<uint64_t> multiget_block_reads{0};
    std::atomic<uint64_t> multiget_read_rounds{0};
    std::atomic<uint64_t> iterator_reuses{0};  // NewIterator took the spare (recycler_)
    // Per output level, as LevelDB's leveldb.stats: flushes count at the
    // level their table went to (bytes written), compactions at level + 1
    // (bytes read = input table sizes, bytes written = output table sizes).
    // Trivial moves are not counted.
    struct Level {
      std::atomic<uint64_t> count{0};
      std::atomic<uint64_t> micros{0};
      std::atomic<uint64_t> bytes_read{0};
      std::atomic<uint64_t> bytes_written{0};
    };
    std::array<Level, kNumLevels> levels;
  } stats_;
};

// DB::Open with a given I/O backend (tests: fault injection).
boost::asio::awaitable<Result<std::unique_ptr<DB>>> OpenDBWithBackend(
    const Options& options, const std::string& name, std::shared_ptr<io::Backend> backend);

// RepairDB with a given I/O backend (tests: fault injection).
boost::asio::awaitable<Status> RepairDBWithBackend(const std::string& name,
                                                   const Options& options,
                                                   std::shared_ptr<io::Backend> backend);

}  // namespace corodb

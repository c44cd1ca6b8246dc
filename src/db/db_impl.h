// DBImpl: the engine behind DB.
//
// Invariants / thread safety:
// - The engine executor is a single-threaded io_context (owned, run by
//   engine_thread_, or the caller's Options::engine_context). Everything the
//   commit loop touches — log_file_, log_writer_, bg_error_, next_file_number_,
//   memtable insertion and switches — belongs to it. Functions that must run
//   there say "REQUIRES: on engine executor".
// - Readers take the current MemState (memtable + immutable memtables, newest
//   first) under `state_mu_`, a short lock never held across co_await, and
//   the visible sequence from `last_sequence_`. A group is inserted into the
//   memtable in BeginGroup (while its fdatasync runs) but last_sequence_ is
//   release-stored only in EndGroup, in log order, after the sync: a reader
//   sees whole, durable-as-asked groups or nothing.
// - Statistics are relaxed atomics, readable from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "corodb/db.h"
#include "db/write_queue.h"
#include "format/dbformat.h"
#include "io/file_system.h"
#include "io/lock_file.h"
#include "log/log_writer.h"
#include "memtable/memtable.h"
#include "util/logging.h"

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

  boost::asio::awaitable<Status> Put(const WriteOptions& options, Slice key,
                                     Slice value) override;
  boost::asio::awaitable<Status> Delete(const WriteOptions& options, Slice key) override;
  boost::asio::awaitable<Status> Write(const WriteOptions& options,
                                       const WriteBatch& batch) override;
  boost::asio::awaitable<Result<std::string>> Get(const ReadOptions& options, Slice key) override;
  boost::asio::awaitable<Status> Close() override;
  bool GetProperty(Slice property, std::string* value) override;
  boost::asio::any_io_executor engine_executor() override { return engine_->get_executor(); }

 private:
  // The memtables a reader consults, newest first. Immutable once published.
  struct MemState {
    std::shared_ptr<MemTable> mem;
    std::vector<std::shared_ptr<MemTable>> imms;  // newest first
  };

  boost::asio::awaitable<void> BeginGroup(WriteBatch& group, GroupCommit* commit) override;
  Status EndGroup(GroupCommit& commit) override;
  void OnCommitLoopFailure(const Status& status) override;
  boost::asio::awaitable<Status> CloseLog() override;

  // Switches to a fresh memtable and log when the current one is full.
  // REQUIRES: on engine executor.
  boost::asio::awaitable<Status> MakeRoomForWrite();
  // Makes sure the log has zero-filled, synced space up to `end` (rounded up
  // to config::kWalPreallocChunk), so a sync group's fdatasync overwrites in
  // place; the fdatasync goes through `sync_file` (the group's description).
  // REQUIRES: on engine executor. SUSPENDS: a zero write + fdatasync.
  boost::asio::awaitable<Status> PreallocateLog(uint64_t end, io::File& sync_file);
  // Creates log `number` and makes it the one the commit loop appends to.
  // REQUIRES: on engine executor.
  boost::asio::awaitable<Status> StartNewLog(uint64_t number);
  std::shared_ptr<const MemState> CurrentState() const;
  void PublishState(std::shared_ptr<const MemState> state);
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
  const size_t groups_in_flight_;  // config::kMaxGroupsInFlight unless overridden
  WriteQueue write_queue_;

  // Engine-executor state.
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
  uint64_t next_file_number_ = 2;
  SequenceNumber next_sequence_ = 1;  // the next group's first sequence number
  Status bg_error_;
  // The first failure while beginning a group (log write, growth or switch):
  // later groups are refused when they begin. It becomes bg_error_ when the
  // failing group ends, in order — groups ahead of it still end normally.
  Status log_error_;
  std::string record_buf_;

  std::atomic<bool> opened_{false};
  std::atomic<bool> closed_{false};
  std::atomic<SequenceNumber> last_sequence_{0};
  mutable std::mutex state_mu_;
  std::shared_ptr<const MemState> state_;  // guarded by state_mu_

  struct Stats {
    std::atomic<uint64_t> writes{0};       // writers committed (successfully or not)
    std::atomic<uint64_t> groups{0};       // WAL records written
    std::atomic<uint64_t> max_group{0};    // most writers in one group
    std::atomic<uint64_t> syncs{0};        // fdatasyncs of the WAL
    std::atomic<uint64_t> wal_bytes{0};    // bytes appended to WALs
    std::atomic<uint64_t> updates{0};      // puts + deletes applied
    std::atomic<uint64_t> memtable_switches{0};
  } stats_;
};

// DB::Open with a given I/O backend (tests: fault injection).
boost::asio::awaitable<Result<std::unique_ptr<DB>>> OpenDBWithBackend(
    const Options& options, const std::string& name, std::shared_ptr<io::Backend> backend);

}  // namespace corodb

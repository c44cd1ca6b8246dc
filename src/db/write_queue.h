// WriteQueue: group commit, pipelined, driven by the writers' own threads.
//
// Writers from any thread or executor queue up. There is no commit thread:
// the *commit role* (`driving_`) is taken by whichever thread has work for it
// — a writer arriving when nobody holds it, the completion of a group's
// fdatasync, the end of a room task — and that thread runs the commit steps
// synchronously, then hands the role back. An uncontended non-sync write
// therefore costs what LevelDB's does: a lock, a pwrite, a memtable insert,
// on the caller's thread, without suspending. Writers that arrive while the
// role is held join the next group and are resumed on their own executors
// — never while the role is held (a resumed writer may destroy the DB), but
// right after the holder lets go; writes that writers resumed inline queue
// meanwhile become one group, begun once all are resumed. Only the writer
// resumed last may still take the non-sync fast path (nobody is left to
// resume behind it), so a lone writer resumed inline once keeps it; not in a
// resumption nested in another of the same queue (bounded stack).
//
// Steps (CommitTarget does the work): take a group (LevelDB's rules: at most
// 1 MiB, or the first batch's size + 128 KiB when the first is at most
// 128 KiB; a sync write never joins a group led by a non-sync write), *begin*
// it (sequence numbers, log record with pwrite, fdatasync started for a sync
// group, applied invisibly), and *end* it once ready (visible, members
// resumed). Up to `max_in_flight` groups are between begin and end at once —
// so the next group is logged and applied while the previous group's
// fdatasync runs, once it has as many writers as the group ahead (see
// MayBeginBehindLocked) — and groups end strictly in the order they began.
//
// Slow preparation (a memtable/log switch, growing the log; later, write
// stalls) is never done by a writer's thread: it runs as a *room task*, a
// coroutine on the engine executor. While it runs no group begins; groups in
// flight still end.
//
// Invariants / thread safety: Submit() and Barrier() may be called from any
// thread. `mu_` guards `queue_`, `inflight_` (the container and each flight's
// `sync_done`/`sync_status`), `driving_`, `room_busy_` and every Writer's
// completion fields. The role holder alone calls BeginGroup/EndGroup/CloseLog
// and touches `combined_`; the room task alone calls MakeRoom, and only while
// `room_busy_` (so never concurrently with BeginGroup). mu_ is never held
// while target code runs or a writer is resumed. A queued writer lives on its
// awaiting coroutine's frame.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "corodb/status.h"
#include "corodb/write_batch.h"

namespace corodb {

class WriteQueue;

// One group between its begin and its end.
struct GroupCommit {
  size_t members = 0;
  bool sync = false;  // some member asked for sync (then the leader did)
  // Set by BeginGroup: the group's failure (nothing of it became visible).
  Status status;
  // Set by BeginGroup when it started an fdatasync whose completion must
  // call WriteQueue::SyncDone(this, ...).
  bool sync_started = false;
  // The target's bookkeeping for EndGroup.
  uint64_t last_sequence = 0;
  uint64_t count = 0;
  uint64_t bytes = 0;

  // WriteQueue's, under its mu_.
  bool begun = false;
  bool sync_done = false;
  Status sync_status;
};

// What the commit steps do (the DB).
class CommitTarget {
 public:
  virtual ~CommitTarget() = default;
  // True when a group of `bytes` (sync or not) cannot be logged before slow
  // preparation (MakeRoom). Cheap.
  // REQUIRES: holds the commit role; no room task runs.
  virtual bool NeedsRoom(size_t bytes, bool sync) = 0;
  // Prepares room for such a group: switches memtable and log, grows the
  // log. Afterwards NeedsRoom(bytes, sync) is false, or a failure was
  // recorded that makes BeginGroup fail the group.
  // REQUIRES: on engine executor; only the room task calls this.
  // SUSPENDS: file creation, syncs.
  virtual boost::asio::awaitable<void> MakeRoom(size_t bytes, bool sync) = 0;
  // Begins `group` (all members' updates, in queue order): assigns its
  // sequence numbers, writes it to the log, starts the fdatasync when
  // commit->sync (setting commit->sync_started; its completion, on `ex`,
  // calls queue.SyncDone), and applies it without making it visible. A
  // failure goes to commit->status. Does not suspend; blocks for a pwrite.
  // REQUIRES: holds the commit role; !NeedsRoom(group size, sync).
  virtual void BeginGroup(WriteBatch& group, GroupCommit* commit,
                          const boost::asio::any_io_executor& ex) = 0;
  // A group's begin threw (a bug or bad_alloc): no later group may be
  // logged; the error is promoted when this group ends (EndGroup).
  // REQUIRES: holds the commit role.
  virtual void OnBeginFailure(const Status& status) = 0;
  // Ends a ready group: makes it visible, or records its failure. Returns the
  // status every member gets. Called in BeginGroup order.
  // REQUIRES: holds the commit role.
  virtual Status EndGroup(GroupCommit& commit) = 0;
  // An exception escaped a commit step (a bug); record it as the background error.
  virtual void OnCommitLoopFailure(const Status& status) = 0;
  // Closes the log (no group in flight; later groups must be refused by
  // BeginGroup). Blocks for a truncate and fdatasync.
  // REQUIRES: holds the commit role.
  virtual Status CloseLog() = 0;
};

class WriteQueue {
 public:
  static constexpr size_t kMaxGroupBytes = 1 << 20;
  static constexpr size_t kSmallBatchBytes = 128 << 10;

  // `engine` runs room tasks.
  WriteQueue(boost::asio::any_io_executor engine, CommitTarget* target, size_t max_in_flight);
  ~WriteQueue();

  // Queues `batch` and waits for its group's end. `batch` must stay alive
  // until the awaitable completes. When nobody holds the commit role the
  // calling thread commits. (Callers try TryCommitNow first.)
  // SUSPENDS: until the group containing `batch` has ended, if not already.
  boost::asio::awaitable<Status> Submit(const WriteBatch& batch, bool sync);

  // The fast path of Submit, callable without a coroutine: when nothing is
  // queued or in flight and no preparation is due, commits non-sync `batch`
  // on this thread at once and returns its status; otherwise nullopt (and
  // nothing happened). Writers that queued meanwhile are then committed
  // too, their syncs started on `ex`, which must be running.
  std::optional<Status> TryCommitNow(const WriteBatch& batch, bool sync,
                                     const boost::asio::any_io_executor& ex);

  // Waits until every write queued before this call has completed; with
  // `close_log`, then has the target close its log and returns that status.
  boost::asio::awaitable<Status> Barrier(bool close_log);

  // A group's fdatasync completed. Runs the commit steps on the calling
  // thread if nobody holds the role. `ex` is the executor it runs on.
  void SyncDone(GroupCommit* commit, const Status& status,
                const boost::asio::any_io_executor& ex);

  // Blocks until no thread holds the commit role, no room task runs and no
  // sync started by a group is outstanding (for the DB's destructor, after
  // a closing barrier).
  void WaitIdle();

  // The DB is being destroyed on this thread, possibly by a writer this
  // thread is resuming: the resuming code must not touch the queue again.
  void ForgetResumingThread();

  // Writers queued and not yet in a group, and how many of those have
  // suspended (tests synchronize on them).
  size_t QueuedForTesting();
  size_t SuspendedQueuedForTesting();
  // Writes TryCommitNow took (the fast path; failed ones too), since construction.
  uint64_t SoloCommitsForTesting() const { return solo_commits_.load(std::memory_order_relaxed); }

 private:
  struct Writer {
    const WriteBatch* batch = nullptr;  // nullptr: a barrier
    bool sync = false;
    bool close_log = false;  // barriers only
    // The writer's coroutine's executor: a group's fdatasync completes on
    // its leader's (the leader is suspended, with work on it, until then).
    boost::asio::any_io_executor ex;
    // Completion, under mu_.
    bool done = false;
    Status status;
    std::optional<boost::asio::any_completion_handler<void(Status)>> handler;
    boost::asio::any_io_executor work;
  };

  struct InFlight {
    std::vector<Writer*> members;
    GroupCommit commit;
  };

  // A writer to resume once the role is let go (never while holding it: the
  // writer may destroy the DB).
  struct Resumption {
    Resumption(boost::asio::any_completion_handler<void(Status)>&& h,
               boost::asio::any_io_executor&& w, const Status& s)
        : handler(std::move(h)), work(std::move(w)), status(s) {}
    boost::asio::any_completion_handler<void(Status)> handler;
    boost::asio::any_io_executor work;
    Status status;
  };

  boost::asio::awaitable<Status> Enqueue(const WriteBatch* batch, bool sync, bool close_log);
  // Begins and ends a non-sync group of one batch at once, with nothing in
  // flight or queued (no ordering to keep). Returns the writer's status.
  // REQUIRES: holds the role; !NeedsRoom for it.
  Status CommitSolo(const WriteBatch& batch, const boost::asio::any_io_executor& ex);
  // Combines `batches` (in order) and has the target begin them; an
  // exception fails the group (OnBeginFailure), promoted when it ends.
  // REQUIRES: holds the role.
  void BeginCombined(std::span<const WriteBatch* const> batches, GroupCommit* commit,
                     const boost::asio::any_io_executor& ex);
  // EndGroup, with an exception turned into the group's status.
  Status EndCaught(GroupCommit& commit);
  // Runs commit steps until none is possible, lets go of the role, then
  // resumes the writers whose groups ended. REQUIRES: holds the role.
  // `self`: the writer whose thread this is (completed, not resumed), or
  // nullptr. `ex`: this thread's executor.
  void Drive(const boost::asio::any_io_executor& ex, Writer* self);
  // One step; false when nothing could be done (the role has been let go).
  bool Step(Writer* self, std::vector<Resumption>& resume);
  // Resumes `resume` (the role is free; this thread counts in resumers_).
  // Returns true when it took the role again for work that arrived meanwhile
  // (writes queued by writers resumed inline).
  bool ResumeAll(std::vector<Resumption>& resume, const boost::asio::any_io_executor& ex);
  // While resuming writers (role free, `remaining` still to resume): takes
  // the role and begins the queued writers' group if nothing is in flight
  // and at least `remaining` writers wait; lets go of the role again.
  void BeginIfAsManyWait(size_t remaining);
  // Whether the front's group may begin now as far as batching goes: always
  // when nothing is in flight or the group is not a sync group; behind a
  // group in flight, a sync group waits until as many writers are queued as
  // that group has, or until that group ends. (With more than two groups in
  // flight, the group compared with could be a non-sync one; with two it
  // cannot: a begun non-sync group is ready and ends first.) A
  // thin group begun early saves its writers part of one sync's latency
  // but costs a whole fdatasync (0.1-0.2 ms of CPU here, with io_uring's
  // worker); when writers arrive more slowly than syncs complete, waiting
  // makes fewer, fuller groups. Writers that wait idle (a closed loop of N
  // writers) fill it at once, so their pipelining is unchanged.
  // REQUIRES: mu_ held, queue_ front is a batch.
  bool MayBeginBehindLocked() const;
  // Moves the next group from the queue's front into a new flight at the
  // back of inflight_ when it may begin now and returns it; or starts a
  // room task (unlocking) and returns nullptr.
  // REQUIRES: mu_ held via `lock`, role held, queue_ front is a batch.
  InFlight* TakeGroupLocked(std::unique_lock<std::mutex>& lock);
  // Combines the flight's batches and begins it.
  void BeginOne(InFlight* flight);
  // Ends `head` (just taken off inflight_); its members join `resume`.
  void EndOne(std::unique_ptr<InFlight> head, Writer* self, std::vector<Resumption>& resume);
  // Completes `w` with `status`: marks it done and, if it is suspended
  // (never `self`), adds it to `resume`.
  void Complete(Writer* w, const Status& status, Writer* self, std::vector<Resumption>& resume);
  boost::asio::awaitable<void> RoomTask(size_t bytes, bool sync);
  // A commit step threw (a bug): fails every writer held or queued.
  // REQUIRES: holds the role.
  void AfterStepFailure(const Status& s, Writer* self, std::vector<Resumption>& resume);
  bool IsReadyLocked(const InFlight& f) const {
    return f.commit.begun && (!f.commit.sync_started || f.commit.sync_done);
  }

  const boost::asio::any_io_executor engine_;
  CommitTarget* const target_;
  const size_t max_in_flight_;

  std::mutex mu_;
  std::condition_variable idle_cv_;
  std::deque<Writer*> queue_;
  std::deque<std::unique_ptr<InFlight>> inflight_;  // oldest first
  bool driving_ = false;    // the commit role is held
  bool room_busy_ = false;  // a room task runs; no group begins
  int syncs_pending_ = 0;   // syncs started by groups and not completed
  int resumers_ = 0;        // threads resuming writers after letting go of the role
  std::atomic<uint64_t> solo_commits_{0};
  std::vector<std::unique_ptr<InFlight>> dead_;  // failed while a sync was in flight

  // Role holder only.
  WriteBatch combined_;
};

}  // namespace corodb

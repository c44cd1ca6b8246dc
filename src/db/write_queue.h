// WriteQueue: group commit, pipelined. Writers from any executor queue up;
// one commit loop on the engine executor takes a group at a time (LevelDB's
// rules: at most 1 MiB, or the first batch's size + 128 KiB when the first is
// at most 128 KiB; a sync write never joins a group led by a non-sync write)
// and has the CommitTarget begin it: log it, start its fdatasync, apply it
// invisibly. Up to `max_in_flight` groups may be between begin and end at
// once — so the next group is logged and applied while the previous group's
// fdatasync runs — and groups end strictly in the order they began: each
// becomes visible and resumes its members with its status only after every
// earlier group did.
//
// Invariants / thread safety: Submit() and Barrier() may be called from any
// thread. `mu_` guards `queue_`, `loop_active_` and `waiting_`; at most one
// commit loop runs at a time, always on the engine executor, and it alone
// touches `inflight_` and `combined_`. A barrier starts only when no group is
// in flight. A queued writer lives on its awaiting coroutine's frame and holds
// outstanding work on the writer's executor, so that executor's run() keeps
// going until the writer resumes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "corodb/status.h"
#include "corodb/write_batch.h"

namespace corodb {

// One group between its begin and its end.
struct GroupCommit {
  size_t members = 0;
  bool sync = false;  // some member asked for sync (then the leader did)
  // Set by the target: true once the group is logged, applied and — for a
  // sync group — synced (or failed). The target then calls WriteQueue::Wake()
  // if that happened after BeginGroup returned.
  bool ready = false;
  // Set by the target while an fdatasync it started for the group runs (its
  // completion then sets `ready`).
  bool sync_in_flight = false;
  Status status;  // the first failure of the group's log write, sync or apply
  // The target's bookkeeping for EndGroup.
  uint64_t last_sequence = 0;
  uint64_t count = 0;
  uint64_t bytes = 0;
};

// What the commit loop commits groups into (the DB).
class CommitTarget {
 public:
  virtual ~CommitTarget() = default;
  // Begins `group` (all members' updates, in queue order): assigns its
  // sequence numbers, writes it to the log, starts the fdatasync when
  // commit->sync, and applies it without making it visible. Sets
  // commit->ready now or when the sync completes.
  // REQUIRES: on engine executor; only the commit loop calls this.
  // SUSPENDS: only to switch or grow the log.
  virtual boost::asio::awaitable<void> BeginGroup(WriteBatch& group, GroupCommit* commit) = 0;
  // Ends a ready group: makes it visible, or records its failure. Returns the
  // status every member gets. Called in BeginGroup order.
  // REQUIRES: on engine executor; commit.ready.
  virtual Status EndGroup(GroupCommit& commit) = 0;
  // An exception escaped the commit loop (a bug); record it as the background error.
  virtual void OnCommitLoopFailure(const Status& status) = 0;
  // Closes the log. Runs inside the commit loop with no group in flight;
  // later groups must be refused by BeginGroup.
  // REQUIRES: on engine executor; only the commit loop calls this.
  virtual boost::asio::awaitable<Status> CloseLog() = 0;
};

class WriteQueue {
 public:
  static constexpr size_t kMaxGroupBytes = 1 << 20;
  static constexpr size_t kSmallBatchBytes = 128 << 10;

  WriteQueue(boost::asio::io_context& engine, CommitTarget* target, size_t max_in_flight);

  // Queues `batch` and waits for its group's commit. `batch` must stay alive
  // until the awaitable completes.
  // SUSPENDS: until the group containing `batch` has ended.
  boost::asio::awaitable<Status> Submit(const WriteBatch& batch, bool sync);

  // Waits until every write queued before this call has completed; with
  // `close_log`, then has the target close its log inside the commit loop and
  // returns that status.
  boost::asio::awaitable<Status> Barrier(bool close_log);

  // Tells the commit loop that a group in flight became ready.
  // REQUIRES: on engine executor.
  void Wake() { wake_->Set(); }

 private:
  struct Writer {
    const WriteBatch* batch = nullptr;  // nullptr: a barrier
    bool sync = false;
    bool close_log = false;             // barriers only
    std::optional<boost::asio::any_completion_handler<void(Status)>> handler;
    boost::asio::any_io_executor work;
  };

  struct InFlight {
    std::vector<Writer*> members;
    GroupCommit commit;
  };

  // A wake-up flag the commit loop sleeps on. Engine executor only. Shared
  // with posted Set() calls, which may outlive the queue.
  class WakeEvent {
   public:
    explicit WakeEvent(boost::asio::io_context& engine) : engine_(engine) {}
    // Completes at once if Set() was called since the last Wait().
    boost::asio::awaitable<void> Wait();
    // Resumes the waiter inline, or marks the event set.
    // REQUIRES: on the engine thread, not inside the waiting coroutine.
    void Set();

   private:
    boost::asio::io_context& engine_;
    bool set_ = false;
    std::optional<boost::asio::any_completion_handler<void()>> waiter_;
  };

  boost::asio::awaitable<Status> Enqueue(Writer& w);
  void Push(Writer* w);
  boost::asio::awaitable<void> CommitLoop();
  // Moves the next group from the front of queue_ into *group. REQUIRES: mu_
  // held, queue_ not empty.
  void TakeGroupLocked(std::vector<Writer*>* group);
  // Combines `group`'s batches and begins it; it joins inflight_.
  boost::asio::awaitable<void> BeginOne(std::vector<Writer*> group);
  // Ends the oldest group in flight and resumes its members.
  boost::asio::awaitable<void> EndHead();
  // Resumes `w` with `status` on its executor (inline when that is the
  // current thread's).
  static void Resume(Writer* w, const Status& status);
  // The commit loop died of an exception (a bug): fails the writers it held
  // and the queued ones, and lets the next writer start a new loop.
  // REQUIRES: on engine executor.
  void AfterLoopFailure(const Status& s);

  boost::asio::io_context& engine_;
  CommitTarget* const target_;
  const size_t max_in_flight_;
  const std::shared_ptr<WakeEvent> wake_;

  std::mutex mu_;
  std::deque<Writer*> queue_;
  bool loop_active_ = false;
  bool waiting_ = false;  // the commit loop sleeps on wake_ and wants new writers

  // Commit loop only.
  std::deque<std::unique_ptr<InFlight>> inflight_;  // oldest first
  std::vector<std::unique_ptr<InFlight>> dead_;      // held by a dead loop (kept for their syncs)
  WriteBatch combined_;
};

}  // namespace corodb

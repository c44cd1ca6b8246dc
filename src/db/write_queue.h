// WriteQueue: group commit. Writers from any executor queue up; one commit
// loop on the engine executor takes a group at a time (LevelDB's rules: at
// most 1 MiB, or the first batch's size + 128 KiB when the first is at most
// 128 KiB; a sync write never joins a group led by a non-sync write), has the
// CommitTarget write it as one log record, and resumes every member with the
// group's status. Writers arriving while a group's I/O is in flight form the
// next group.
//
// Invariants / thread safety: Submit() and Barrier() may be called from any
// thread. `mu_` guards `queue_` and `loop_active_`; at most one commit loop
// runs at a time, always on the engine executor. A queued writer lives on
// its awaiting coroutine's frame and holds outstanding work on the writer's
// executor, so that executor's run() keeps going until the writer resumes.
#pragma once

#include <cstddef>
#include <deque>
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

// What the commit loop commits groups into (the DB).
class CommitTarget {
 public:
  virtual ~CommitTarget() = default;
  // Assigns sequence numbers to `group` (all members' updates, in queue
  // order), logs it (fdatasync'ed when `sync`) and applies it.
  // REQUIRES: on engine executor; only the commit loop calls this.
  // SUSPENDS: the log write (+ linked fdatasync).
  virtual boost::asio::awaitable<Status> CommitGroup(WriteBatch& group, bool sync,
                                                     size_t members) = 0;
  // An exception escaped the commit loop (a bug); record it as the background error.
  virtual void OnCommitLoopFailure(const Status& status) = 0;
  // Closes the log. Runs inside the commit loop, so no group is in flight;
  // later groups must be refused by CommitGroup.
  // REQUIRES: on engine executor; only the commit loop calls this.
  virtual boost::asio::awaitable<Status> CloseLog() = 0;
};

class WriteQueue {
 public:
  static constexpr size_t kMaxGroupBytes = 1 << 20;
  static constexpr size_t kSmallBatchBytes = 128 << 10;

  WriteQueue(boost::asio::io_context& engine, CommitTarget* target)
      : engine_(engine), target_(target) {}

  // Queues `batch` and waits for its group's commit. `batch` must stay alive
  // until the awaitable completes.
  // SUSPENDS: until the group containing `batch` is committed.
  boost::asio::awaitable<Status> Submit(const WriteBatch& batch, bool sync);

  // Waits until every write queued before this call has completed; with
  // `close_log`, then has the target close its log inside the commit loop and
  // returns that status.
  boost::asio::awaitable<Status> Barrier(bool close_log);

 private:
  struct Writer {
    const WriteBatch* batch = nullptr;  // nullptr: a barrier
    bool sync = false;
    bool close_log = false;             // barriers only
    std::optional<boost::asio::any_completion_handler<void(Status)>> handler;
    boost::asio::any_io_executor work;
  };

  boost::asio::awaitable<Status> Enqueue(Writer& w);
  void Push(Writer* w);
  boost::asio::awaitable<void> CommitLoop();
  // Moves the next group from the front of queue_ into *group. REQUIRES: mu_ held.
  void TakeGroupLocked(std::vector<Writer*>* group);
  static void Resume(Writer* w, const Status& status);

  boost::asio::io_context& engine_;
  CommitTarget* const target_;

  std::mutex mu_;
  std::deque<Writer*> queue_;
  bool loop_active_ = false;
};

}  // namespace corodb

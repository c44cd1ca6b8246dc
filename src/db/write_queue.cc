#include "db/write_queue.h"

#include <utility>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "db/write_batch_internal.h"

namespace corodb {
namespace asio = boost::asio;

namespace {

Status FromException(const char* what_failed, std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return Status::IOError(what_failed, ex.what());
  } catch (...) {
    return Status::IOError(what_failed, "unknown exception");
  }
}

}  // namespace

WriteQueue::WriteQueue(asio::any_io_executor engine, CommitTarget* target, size_t max_in_flight)
    : engine_(std::move(engine)),
      target_(target),
      max_in_flight_(max_in_flight < 1 ? 1 : max_in_flight) {}

WriteQueue::~WriteQueue() = default;

asio::awaitable<Status> WriteQueue::Submit(const WriteBatch& batch, bool sync) {
  return Enqueue(&batch, sync, /*close_log=*/false);
}

asio::awaitable<Status> WriteQueue::Barrier(bool close_log) {
  return Enqueue(nullptr, /*sync=*/false, close_log);
}

std::optional<Status> WriteQueue::TryCommitNow(const WriteBatch& batch, bool sync,
                                               const asio::any_io_executor& ex) {
  if (sync) return std::nullopt;
  {
    std::lock_guard lock(mu_);
    if (driving_ || !queue_.empty() || !inflight_.empty() || room_busy_ ||
        target_->NeedsRoom(WriteBatchInternal::ByteSize(batch), false)) {
      return std::nullopt;
    }
    driving_ = true;  // nothing ahead of it: a group of one, now
  }
  const Status s = CommitSolo(batch, ex);
  Drive(ex, nullptr);  // writers that queued meanwhile, or let go of the role
  return s;
}

asio::awaitable<Status> WriteQueue::Enqueue(const WriteBatch* batch, bool sync, bool close_log) {
  const asio::any_io_executor ex = co_await asio::this_coro::executor;
  if (batch != nullptr) {
    if (std::optional<Status> s = TryCommitNow(*batch, sync, ex)) co_return *s;
  }
  Writer w;
  w.batch = batch;
  w.sync = sync;
  w.close_log = close_log;
  bool drive = false;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(&w);
    if (!driving_) driving_ = drive = true;
  }
  if (drive) {
    Drive(ex, &w);
    // Uncontended, the write's group has ended already: no suspension.
    std::lock_guard lock(mu_);
    if (w.done) co_return w.status;
  }
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(Status)>(
      [this, &w](auto handler) {
        std::unique_lock lock(mu_);
        if (w.done) {  // ended between the check above and this suspension
          const Status status = w.status;
          lock.unlock();
          const auto handler_ex = asio::get_associated_executor(handler);
          asio::post(handler_ex, asio::append(std::move(handler), status));
          return;
        }
        w.work = asio::prefer(asio::get_associated_executor(handler),
                              asio::execution::outstanding_work.tracked);
        w.handler.emplace(std::move(handler));  // constructed in place, never assigned
      },
      asio::use_awaitable);
}

Status WriteQueue::CommitSolo(const WriteBatch& batch, const asio::any_io_executor& ex) {
  GroupCommit commit;
  commit.members = 1;
  try {
    combined_ = batch;
    target_->BeginGroup(combined_, &commit, ex);
  } catch (...) {
    const Status s = FromException("commit failed", std::current_exception());
    target_->OnBeginFailure(s);
    if (commit.status.ok()) commit.status = s;
  }
  try {
    return target_->EndGroup(commit);
  } catch (...) {
    const Status s = FromException("commit failed", std::current_exception());
    target_->OnCommitLoopFailure(s);
    return s;
  }
}

void WriteQueue::SyncDone(GroupCommit* commit, const Status& status,
                          const asio::any_io_executor& ex) {
  {
    std::lock_guard lock(mu_);
    commit->sync_done = true;
    commit->sync_status = status;
  }
  // Resumed inline from the sync's completion: the group ends, its writers
  // resume and the next group begins (its fdatasync submitted) before the
  // ring decides whether its eventfd wait is still needed.
  Kick(ex);
}

void WriteQueue::Kick(const asio::any_io_executor& ex) {
  {
    std::lock_guard lock(mu_);
    if (driving_) return;  // the holder sees the change before it lets go
    driving_ = true;
  }
  Drive(ex, nullptr);
}

void WriteQueue::Drive(const asio::any_io_executor& ex, Writer* self) {
  for (;;) {
    bool more = true;
    try {
      more = Step(ex, self);
    } catch (...) {
      AfterStepFailure(FromException("commit failed", std::current_exception()), self);
    }
    // Once Step let go of the role, `this` may be gone (the DB's destructor
    // waits only for the role to be free).
    if (!more) return;
  }
}

bool WriteQueue::Step(const asio::any_io_executor& ex, Writer* self) {
  std::unique_lock lock(mu_);
  if (!inflight_.empty() && IsReadyLocked(*inflight_.front())) {
    std::unique_ptr<InFlight> head = std::move(inflight_.front());
    inflight_.pop_front();
    lock.unlock();
    EndOne(ex, std::move(head), self);
    return true;
  }
  if (!room_busy_ && !queue_.empty()) {
    Writer* front = queue_.front();
    if (front->batch == nullptr) {
      if (inflight_.empty()) {  // a barrier waits for the groups ahead of it
        queue_.pop_front();
        lock.unlock();
        Status s;
        if (front->close_log) {
          try {
            s = target_->CloseLog();
          } catch (...) {
            s = FromException("close failed", std::current_exception());
          }
        }
        Complete(front, s, self);
        return true;
      }
    } else if (inflight_.size() < max_in_flight_) {
      std::vector<Writer*> group;
      if (TakeGroupLocked(lock, &group)) {
        lock.unlock();
        BeginOne(ex, std::move(group));
        return true;
      }
      if (!lock.owns_lock()) return true;  // a room task was started
    }
  }
  // Nothing to do: let go of the role. After this, do not touch `this`.
  std::exception_ptr escaped = std::exchange(escaped_, nullptr);
  driving_ = false;
  idle_cv_.notify_all();
  lock.unlock();
  if (escaped) {
    // A writer resumed inline on this thread threw from its handler: it
    // leaves this thread's run() (Asio's rule), not the commit steps.
    asio::post(ex, [escaped] { std::rethrow_exception(escaped); });
  }
  return false;
}

bool WriteQueue::TakeGroupLocked(std::unique_lock<std::mutex>& lock, std::vector<Writer*>* group) {
  Writer* first = queue_.front();
  size_t size = WriteBatchInternal::ByteSize(*first->batch);
  const size_t max_size = size <= kSmallBatchBytes ? size + kSmallBatchBytes : kMaxGroupBytes;
  size_t n = 1;
  for (; n < queue_.size(); ++n) {
    const Writer* w = queue_[n];
    if (w->batch == nullptr) break;
    if (w->sync && !first->sync) break;  // a sync write never rides in a non-sync group
    const size_t next = size + WriteBatchInternal::ByteSize(*w->batch);
    if (next > max_size) break;
    size = next;
  }
  if (target_->NeedsRoom(size, first->sync)) {
    room_busy_ = true;
    const bool sync = first->sync;
    lock.unlock();
    asio::co_spawn(engine_, RoomTask(size, sync), [](std::exception_ptr e) {
      // RoomTask catches everything; this only rethrows a bug in that.
      if (e) std::rethrow_exception(e);
    });
    return false;
  }
  group->assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  return true;
}

asio::awaitable<void> WriteQueue::RoomTask(size_t bytes, bool sync) {
  try {
    co_await target_->MakeRoom(bytes, sync);
  } catch (...) {
    target_->OnBeginFailure(FromException("making room failed", std::current_exception()));
  }
  {
    std::lock_guard lock(mu_);
    room_busy_ = false;
    idle_cv_.notify_all();
  }
  Kick(engine_);
}

void WriteQueue::BeginOne(const asio::any_io_executor& ex, std::vector<Writer*> group) {
  auto flight = std::make_unique<InFlight>();
  flight->members = std::move(group);
  flight->commit.members = flight->members.size();
  flight->commit.sync = flight->members.front()->sync;
  InFlight* raw = flight.get();
  {
    std::lock_guard lock(mu_);
    inflight_.push_back(std::move(flight));
  }
  try {
    combined_ = *raw->members.front()->batch;
    for (size_t i = 1; i < raw->members.size(); ++i) {
      WriteBatchInternal::Append(&combined_, *raw->members[i]->batch);
    }
    target_->BeginGroup(combined_, &raw->commit, ex);
  } catch (...) {
    // bad_alloc or a bug: this group fails and no later group is logged, but
    // the error is promoted only when this group ends — in log order — so
    // groups ahead of it still end as their syncs say.
    const Status s = FromException("commit failed", std::current_exception());
    target_->OnBeginFailure(s);
    if (raw->commit.status.ok()) raw->commit.status = s;
  }
  std::lock_guard lock(mu_);
  raw->commit.begun = true;
}

void WriteQueue::EndOne(const asio::any_io_executor& ex, std::unique_ptr<InFlight> head,
                        Writer* self) {
  Status s;
  try {
    s = target_->EndGroup(head->commit);
  } catch (...) {
    s = FromException("commit failed", std::current_exception());
    target_->OnCommitLoopFailure(s);
  }
  const std::vector<Writer*>& members = head->members;
  for (size_t i = 0; i < members.size(); ++i) {
    Complete(members[i], s, self);  // may run the writer, which may queue its next write
    // Keep the disk busy: when nothing else is in flight and as many writers
    // wait as are still to be resumed, begin their group now instead of after
    // the last resume, so its fdatasync overlaps the rest of this loop.
    const size_t remaining = members.size() - i - 1;
    if (remaining == 0) continue;
    std::vector<Writer*> next;
    {
      std::unique_lock lock(mu_);
      if (!inflight_.empty() || room_busy_ || queue_.size() < remaining ||
          queue_.front()->batch == nullptr) {
        continue;
      }
      if (!TakeGroupLocked(lock, &next)) continue;  // a room task was started
    }
    BeginOne(ex, std::move(next));
  }
}

void WriteQueue::Complete(Writer* w, const Status& status, Writer* self) {
  if (w == self) {
    std::lock_guard lock(mu_);
    w->done = true;
    w->status = status;
    return;
  }
  std::optional<asio::any_completion_handler<void(Status)>> handler;
  asio::any_io_executor work;
  {
    std::lock_guard lock(mu_);
    w->done = true;
    w->status = status;
    if (w->handler) {
      handler.emplace(std::move(*w->handler));
      work = std::move(w->work);
    }
  }
  // `w` lives on the writer's frame: do not touch it from here on.
  if (!handler) return;  // not suspended yet: it sees `done` itself
  try {
    asio::dispatch(work, asio::append(std::move(*handler), status));
  } catch (...) {
    if (!escaped_) escaped_ = std::current_exception();
  }
}

void WriteQueue::AfterStepFailure(const Status& s, Writer* self) {
  target_->OnCommitLoopFailure(s);
  std::vector<Writer*> stranded;
  {
    std::lock_guard lock(mu_);
    for (auto& flight : inflight_) {
      stranded.insert(stranded.end(), flight->members.begin(), flight->members.end());
      dead_.push_back(std::move(flight));  // a sync in flight still reports to it
    }
    inflight_.clear();
    stranded.insert(stranded.end(), queue_.begin(), queue_.end());
    queue_.clear();
  }
  for (Writer* w : stranded) Complete(w, s, self);
}

void WriteQueue::WaitIdle() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return !driving_ && !room_busy_; });
}

size_t WriteQueue::QueuedForTesting() {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace corodb

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

// Resumptions in progress on this thread, innermost first (a resumed writer
// may write to another DB, whose holder resumes its writers nested). While
// one is alive for a queue, writers resumed inline that write to it again
// only queue: the resuming thread begins their group once all are resumed.
// The one exception is TryCommitNow's solo commit, allowed once no other
// writer is left to resume (see SoloCommitRefusedHere). The DB's destructor
// marks its frames dead, so the resuming code never touches the queue again.
struct ResumeFrame {
  const WriteQueue* queue;
  bool alive;
  bool others_pending;  // writers after the one being resumed still wait for it
  ResumeFrame* outer;
};
thread_local ResumeFrame* t_frames = nullptr;

bool ResumingHere(const WriteQueue* queue) {
  for (const ResumeFrame* f = t_frames; f != nullptr; f = f->outer) {
    if (f->queue == queue && f->alive) return true;
  }
  return false;
}

// Whether a writer on this thread must not commit solo (TryCommitNow) because
// of resumptions of `queue` in progress here. It may when at most one frame of
// `queue` is alive on this thread and that frame resumes its last writer: a
// lone writer resumed inline once (after a memtable switch, say) otherwise
// queued and suspended on every later write, never taking the fast path
// again. Refused while writers are still to be resumed after the current one
// (committing ahead of them would hold them until this coroutine suspends),
// and inside a nested frame: a solo commit's Drive can resume, inline, a
// writer another thread queued meanwhile; if that one committed solo too, it
// could pull in the next, one stack level per writer (an executor run by
// several threads). So nesting stops at two frames.
bool SoloCommitRefusedHere(const WriteQueue* queue) {
  int frames = 0;
  for (const ResumeFrame* f = t_frames; f != nullptr; f = f->outer) {
    if (f->queue != queue || !f->alive) continue;
    if (f->others_pending || ++frames > 1) return true;
  }
  return false;
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
  if (sync || SoloCommitRefusedHere(this)) return std::nullopt;
  {
    std::lock_guard lock(mu_);
    if (driving_ || !queue_.empty() || !inflight_.empty() || room_busy_ ||
        target_->NeedsRoom(WriteBatchInternal::ByteSize(batch), false)) {
      return std::nullopt;
    }
    driving_ = true;  // nothing ahead of it: a group of one, now
  }
  const Status s = CommitSolo(batch, ex);
  solo_commits_.fetch_add(1, std::memory_order_relaxed);
  Drive(ex, nullptr);  // writers that queued meanwhile, or let go of the role
  return s;
}

asio::awaitable<Status> WriteQueue::Enqueue(const WriteBatch* batch, bool sync, bool close_log) {
  const asio::any_io_executor ex = co_await asio::this_coro::executor;
  Writer w;
  w.batch = batch;
  w.sync = sync;
  w.close_log = close_log;
  w.ex = ex;
  bool drive = false;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(&w);
    // While this thread resumes writers, it begins their group afterwards.
    if (!driving_ && !ResumingHere(this)) driving_ = drive = true;
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
  const WriteBatch* const one = &batch;
  BeginCombined({&one, 1}, &commit, ex);
  return EndCaught(commit);
}

void WriteQueue::BeginCombined(std::span<const WriteBatch* const> batches, GroupCommit* commit,
                               const asio::any_io_executor& ex) {
  try {
    combined_ = *batches.front();
    for (size_t i = 1; i < batches.size(); ++i) WriteBatchInternal::Append(&combined_, *batches[i]);
    target_->BeginGroup(combined_, commit, ex);
  } catch (...) {
    // bad_alloc or a bug: this group fails and no later group is logged, but
    // the error is promoted only when this group ends — in log order — so
    // groups ahead of it still end as their syncs say.
    const Status s = FromException("commit failed", std::current_exception());
    target_->OnBeginFailure(s);
    if (commit->status.ok()) commit->status = s;
  }
}

Status WriteQueue::EndCaught(GroupCommit& commit) {
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
    --syncs_pending_;
    // Taken in the same critical section: once this lock is released without
    // the role, the holder ends the group and `this` may be gone.
    if (driving_ || ResumingHere(this)) {
      idle_cv_.notify_all();
      return;
    }
    driving_ = true;
  }
  // The group ends and its writers are resumed on this thread, inside the
  // sync's completion: the next group begins (its fdatasync submitted) before
  // the ring decides whether its eventfd wait is still needed.
  Drive(ex, nullptr);
}

void WriteQueue::Drive(const asio::any_io_executor& ex, Writer* self) {
  for (;;) {
    std::vector<Resumption> resume;
    for (;;) {
      bool more = true;
      try {
        more = Step(self, resume);
      } catch (...) {
        AfterStepFailure(FromException("commit failed", std::current_exception()), self, resume);
      }
      if (!more) break;
    }
    // The role is free (Step counted this thread in resumers_ if `resume`
    // is not empty). A loop, not a recursion: writers resumed inline that
    // write again make the next round.
    if (resume.empty() || !ResumeAll(resume, ex)) return;
    self = nullptr;
  }
}

bool WriteQueue::ResumeAll(std::vector<Resumption>& resume, const asio::any_io_executor& ex) {
  ResumeFrame frame{this, true, true, t_frames};
  t_frames = &frame;
  std::exception_ptr escaped;
  for (size_t i = 0; i < resume.size(); ++i) {
    Resumption& r = resume[i];
    frame.others_pending = i + 1 < resume.size();
    try {
      // Inline when the writer's executor runs on this thread.
      asio::dispatch(r.work, asio::append(std::move(r.handler), r.status));
    } catch (...) {
      // Thrown by a writer's handler resumed inline: it leaves this thread's
      // run() (Asio's rule), after the other writers are resumed.
      if (!escaped) escaped = std::current_exception();
    }
    if (frame.alive && i + 1 < resume.size()) BeginIfAsManyWait(resume.size() - i - 1);
  }
  t_frames = frame.outer;
  if (escaped) asio::post(ex, [escaped] { std::rethrow_exception(escaped); });
  if (!frame.alive) return false;  // a resumed writer destroyed the DB
  std::lock_guard lock(mu_);
  --resumers_;
  // Writers resumed inline may have queued their next writes, or a sync
  // completed meanwhile: take the role again (in this critical section:
  // without it, `this` may be gone once the lock is released).
  const bool work = !queue_.empty() || (!inflight_.empty() && IsReadyLocked(*inflight_.front()));
  if (!driving_ && work) {
    driving_ = true;
    return true;
  }
  idle_cv_.notify_all();
  return false;
}

void WriteQueue::BeginIfAsManyWait(size_t remaining) {
  InFlight* flight = nullptr;
  {
    std::unique_lock lock(mu_);
    // Keep the disk busy: with nothing in flight, once as many writers wait
    // as are still to be resumed, their group begins now, so its fdatasync
    // overlaps the rest of the resumption (one thread, 64 writers: two
    // groups of 32 in flight instead of one of 64).
    if (driving_ || room_busy_ || !inflight_.empty() || queue_.size() < remaining ||
        queue_.front()->batch == nullptr) {
      return;
    }
    driving_ = true;
    flight = TakeGroupLocked(lock);  // may start a room task instead (unlocks)
  }
  if (flight != nullptr) {
    try {
      BeginOne(flight);
    } catch (...) {  // BeginOne catches what BeginGroup throws; only its lock remains
    }
  }
  // A group that became ready meanwhile is ended by the resuming thread
  // once it has resumed everyone (ResumeAll takes the role for it).
  std::lock_guard lock(mu_);
  driving_ = false;
  idle_cv_.notify_all();
}

void WriteQueue::ForgetResumingThread() {
  for (ResumeFrame* f = t_frames; f != nullptr; f = f->outer) {
    if (f->queue != this || !f->alive) continue;
    f->alive = false;
    std::lock_guard lock(mu_);
    --resumers_;
  }
}

bool WriteQueue::Step(Writer* self, std::vector<Resumption>& resume) {
  std::unique_lock lock(mu_);
  if (!inflight_.empty() && IsReadyLocked(*inflight_.front())) {
    std::unique_ptr<InFlight> head = std::move(inflight_.front());
    inflight_.pop_front();
    lock.unlock();
    EndOne(std::move(head), self, resume);
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
        Complete(front, s, self, resume);
        return true;
      }
    } else if (inflight_.size() < max_in_flight_ && MayBeginBehindLocked()) {
      if (InFlight* flight = TakeGroupLocked(lock)) {
        lock.unlock();
        BeginOne(flight);
        return true;
      }
      if (!lock.owns_lock()) return true;  // a room task was started
    }
  }
  // Nothing to do: let go of the role. After this, do not touch `this`
  // (unless counted as a resumer: the destructor waits for those).
  driving_ = false;
  if (!resume.empty()) ++resumers_;
  idle_cv_.notify_all();
  return false;
}

bool WriteQueue::MayBeginBehindLocked() const {
  if (inflight_.empty() || !queue_.front()->sync) return true;
  // O(1): every arriving writer asks. Writers the group cannot take (behind
  // a barrier, past the size limit) count too: then it begins with what it
  // can take, as it would have before.
  return queue_.size() >= inflight_.back()->commit.members;
}

WriteQueue::InFlight* WriteQueue::TakeGroupLocked(std::unique_lock<std::mutex>& lock) {
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
    return nullptr;
  }
  // Allocate before the writers leave the queue: a bad_alloc here leaves
  // them queued, for AfterStepFailure to fail.
  auto flight = std::make_unique<InFlight>();
  flight->members.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  flight->commit.members = n;
  flight->commit.sync = first->sync;
  InFlight* raw = flight.get();
  inflight_.push_back(std::move(flight));
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  return raw;
}

asio::awaitable<void> WriteQueue::RoomTask(size_t bytes, bool sync) {
  const asio::any_io_executor ex = engine_;
  try {
    co_await target_->MakeRoom(bytes, sync);
  } catch (...) {
    target_->OnBeginFailure(FromException("making room failed", std::current_exception()));
  }
  {
    std::lock_guard lock(mu_);
    room_busy_ = false;
    idle_cv_.notify_all();
    // In the same critical section: without the role, `this` may be gone
    // once the lock is released (the holder goes on without the room task).
    if (driving_) co_return;
    driving_ = true;
  }
  Drive(ex, nullptr);
}

void WriteQueue::BeginOne(InFlight* flight) {
  std::vector<const WriteBatch*> batches;
  batches.reserve(flight->members.size());
  for (const Writer* w : flight->members) batches.push_back(w->batch);
  // The group's fdatasync completes on its leader's executor: the leader is
  // suspended until the group ends, holding work on it, so it keeps running.
  BeginCombined(batches, &flight->commit, flight->members.front()->ex);
  std::lock_guard lock(mu_);
  flight->commit.begun = true;
  if (flight->commit.sync_started) ++syncs_pending_;
}

void WriteQueue::EndOne(std::unique_ptr<InFlight> head, Writer* self,
                        std::vector<Resumption>& resume) {
  const Status s = EndCaught(head->commit);
  resume.reserve(resume.size() + head->members.size());
  for (Writer* w : head->members) Complete(w, s, self, resume);
}

void WriteQueue::Complete(Writer* w, const Status& status, Writer* self,
                          std::vector<Resumption>& resume) {
  std::lock_guard lock(mu_);
  w->done = true;
  w->status = status;
  // Not suspended yet (or `self`): it sees `done` itself.
  if (w == self || !w->handler) return;
  // `w` lives on the writer's frame: its handler is moved out now, and it
  // is resumed only after the role is let go.
  resume.emplace_back(std::move(*w->handler), std::move(w->work), status);
}

void WriteQueue::AfterStepFailure(const Status& s, Writer* self, std::vector<Resumption>& resume) {
  try {
    target_->OnCommitLoopFailure(s);
  } catch (...) {  // logging failed: the writers are failed all the same
  }
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
  resume.reserve(resume.size() + stranded.size());
  for (Writer* w : stranded) Complete(w, s, self, resume);
}

void WriteQueue::WaitIdle() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] {
    return !driving_ && !room_busy_ && syncs_pending_ <= 0 && resumers_ == 0;
  });
}

size_t WriteQueue::QueuedForTesting() {
  std::lock_guard lock(mu_);
  return queue_.size();
}

size_t WriteQueue::SuspendedQueuedForTesting() {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const Writer* w : queue_) n += w->handler ? 1 : 0;
  return n;
}

}  // namespace corodb

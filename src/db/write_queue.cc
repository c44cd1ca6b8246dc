#include "db/write_queue.h"

#include <exception>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "db/write_batch_internal.h"

namespace corodb {
namespace asio = boost::asio;

WriteQueue::WriteQueue(asio::io_context& engine, CommitTarget* target, size_t max_in_flight)
    : engine_(engine),
      target_(target),
      max_in_flight_(max_in_flight < 1 ? 1 : max_in_flight),
      wake_(std::make_shared<WakeEvent>(engine)) {}

asio::awaitable<void> WriteQueue::WakeEvent::Wait() {
  if (set_) {
    set_ = false;
    co_return;
  }
  co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
      [this](auto handler) { waiter_.emplace(std::move(handler)); }, asio::use_awaitable);
  set_ = false;
}

void WriteQueue::WakeEvent::Set() {
  if (!waiter_) {
    set_ = true;
    return;
  }
  asio::any_completion_handler<void()> handler = std::move(*waiter_);
  waiter_.reset();
  // On the engine thread this resumes the loop inline, inside the sync's
  // completion: the loop then begins the next group, and its fdatasync is
  // submitted before the ring decides whether its eventfd wait is still
  // needed (deferring cost an epoll_ctl cancel + re-arm per group: ~10 µs of
  // CPU and p50 latency at --concurrency=1).
  asio::dispatch(engine_.get_executor(), std::move(handler));
}

asio::awaitable<Status> WriteQueue::Submit(const WriteBatch& batch, bool sync) {
  Writer w;
  w.batch = &batch;
  w.sync = sync;
  co_return co_await Enqueue(w);
}

asio::awaitable<Status> WriteQueue::Barrier(bool close_log) {
  Writer w;
  w.close_log = close_log;
  co_return co_await Enqueue(w);
}

asio::awaitable<Status> WriteQueue::Enqueue(Writer& w) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(Status)>(
      [this, &w](auto handler) {
        w.work = asio::prefer(asio::get_associated_executor(handler),
                              asio::execution::outstanding_work.tracked);
        w.handler.emplace(std::move(handler));  // constructed in place, never assigned
        Push(&w);
      },
      asio::use_awaitable);
}

void WriteQueue::Push(Writer* w) {
  bool wake = false;
  bool spawn = false;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(w);
    if (loop_active_) {
      wake = waiting_;
      waiting_ = false;
    } else {
      loop_active_ = spawn = true;
    }
  }
  if (wake) {
    // The loop sleeps with groups in flight; let it begin this writer's group.
    asio::post(engine_, [event = wake_] { event->Set(); });
  }
  if (!spawn) return;
  asio::co_spawn(engine_, CommitLoop(), [this](std::exception_ptr e) {
    if (!e) return;
    Status s;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      s = Status::IOError("commit loop failed", ex.what());
    } catch (...) {
      s = Status::IOError("commit loop failed");
    }
    target_->OnCommitLoopFailure(s);
    AfterLoopFailure(s);
  });
}

void WriteQueue::AfterLoopFailure(const Status& s) {
  std::vector<Writer*> stranded;
  for (auto& flight : inflight_) {
    stranded.insert(stranded.end(), flight->members.begin(), flight->members.end());
    dead_.push_back(std::move(flight));  // a sync in flight may still set its `ready`
  }
  inflight_.clear();
  {
    std::lock_guard lock(mu_);
    stranded.insert(stranded.end(), queue_.begin(), queue_.end());
    queue_.clear();
    loop_active_ = false;  // the next writer starts a new loop (which refuses it)
    waiting_ = false;
  }
  for (Writer* w : stranded) Resume(w, s);
}

void WriteQueue::TakeGroupLocked(std::vector<Writer*>* group) {
  Writer* first = queue_.front();
  queue_.pop_front();
  group->push_back(first);
  if (first->batch == nullptr) return;  // barriers travel alone
  size_t size = WriteBatchInternal::ByteSize(*first->batch);
  const size_t max_size = size <= kSmallBatchBytes ? size + kSmallBatchBytes : kMaxGroupBytes;
  while (!queue_.empty()) {
    Writer* w = queue_.front();
    if (w->batch == nullptr) break;
    if (w->sync && !first->sync) break;  // a sync write never rides in a non-sync group
    const size_t next = size + WriteBatchInternal::ByteSize(*w->batch);
    if (next > max_size) break;
    size = next;
    group->push_back(w);
    queue_.pop_front();
  }
}

void WriteQueue::Resume(Writer* w, const Status& status) {
  asio::any_io_executor work = std::move(w->work);
  asio::any_completion_handler<void(Status)> handler = std::move(*w->handler);
  // `w` lives on the writer's frame: do not touch it after this dispatch.
  // (Writers are awaitable handlers: an exception in a writer's coroutine
  // goes to its awaiter or its co_spawn handler, which Asio posts, so
  // nothing thrown reaches this loop.)
  asio::dispatch(work, asio::append(std::move(handler), status));
}

asio::awaitable<void> WriteQueue::BeginOne(std::vector<Writer*> group) {
  auto flight = std::make_unique<InFlight>();
  flight->members = std::move(group);
  flight->commit.members = flight->members.size();
  flight->commit.sync = flight->members.front()->sync;
  combined_ = *flight->members.front()->batch;
  for (size_t i = 1; i < flight->members.size(); ++i) {
    WriteBatchInternal::Append(&combined_, *flight->members[i]->batch);
  }
  GroupCommit* commit = &flight->commit;
  inflight_.push_back(std::move(flight));
  try {
    co_await target_->BeginGroup(combined_, commit);
  } catch (const std::exception& ex) {
    // A bug, not an expected failure: fail this group and every later write.
    const Status s = Status::IOError("commit failed", ex.what());
    target_->OnCommitLoopFailure(s);
    if (commit->status.ok()) commit->status = s;
    // A sync it started still owns `commit` and will set ready itself.
    if (!commit->sync_in_flight) commit->ready = true;
  }
}

asio::awaitable<void> WriteQueue::EndHead() {
  const std::unique_ptr<InFlight> head = std::move(inflight_.front());
  inflight_.pop_front();
  const Status s = target_->EndGroup(head->commit);
  const std::vector<Writer*>& members = head->members;
  for (size_t i = 0; i < members.size(); ++i) {
    Resume(members[i], s);  // may run the writer, which may queue its next write
    // Keep the disk busy: when nothing else is in flight and as many writers
    // wait as are still to be resumed, begin their group now instead of after
    // the last resume, so its fdatasync overlaps the rest of this loop.
    const size_t remaining = members.size() - i - 1;
    if (remaining == 0 || !inflight_.empty()) continue;
    std::vector<Writer*> next;
    {
      std::lock_guard lock(mu_);
      if (queue_.size() < remaining || queue_.front()->batch == nullptr) continue;
      TakeGroupLocked(&next);
    }
    co_await BeginOne(std::move(next));
  }
}

asio::awaitable<void> WriteQueue::CommitLoop() {
  for (;;) {
    if (!inflight_.empty() && inflight_.front()->commit.ready) {
      co_await EndHead();
      continue;
    }
    std::vector<Writer*> group;
    {
      std::lock_guard lock(mu_);
      waiting_ = false;
      const bool can_begin = !queue_.empty() && inflight_.size() < max_in_flight_ &&
                             (queue_.front()->batch != nullptr || inflight_.empty());
      if (can_begin) {
        TakeGroupLocked(&group);
      } else if (queue_.empty() && inflight_.empty()) {
        loop_active_ = false;
        co_return;
      } else {
        waiting_ = true;
      }
    }
    if (group.empty()) {
      co_await wake_->Wait();  // a group became ready, or a writer arrived
      continue;
    }
    if (group.front()->batch == nullptr) {
      // A barrier, with nothing in flight.
      Status s;
      if (group.front()->close_log) s = co_await target_->CloseLog();
      Resume(group.front(), s);
      continue;
    }
    co_await BeginOne(std::move(group));
  }
}

}  // namespace corodb

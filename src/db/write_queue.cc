#include "db/write_queue.h"

#include <exception>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "db/write_batch_internal.h"

namespace corodb {
namespace asio = boost::asio;

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
  {
    std::lock_guard lock(mu_);
    queue_.push_back(w);
    if (loop_active_) return;
    loop_active_ = true;
  }
  asio::co_spawn(engine_, CommitLoop(), [this](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      target_->OnCommitLoopFailure(Status::IOError("commit loop failed", ex.what()));
    } catch (...) {
      target_->OnCommitLoopFailure(Status::IOError("commit loop failed"));
    }
  });
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
  asio::dispatch(work, asio::append(std::move(handler), status));
}

asio::awaitable<void> WriteQueue::CommitLoop() {
  std::vector<Writer*> group;
  WriteBatch combined;
  for (;;) {
    group.clear();
    {
      std::lock_guard lock(mu_);
      if (queue_.empty()) {
        loop_active_ = false;
        co_return;
      }
      TakeGroupLocked(&group);
    }
    if (group.front()->batch == nullptr) {
      Status s;
      if (group.front()->close_log) s = co_await target_->CloseLog();
      Resume(group.front(), s);
      continue;
    }
    combined = *group.front()->batch;
    for (size_t i = 1; i < group.size(); ++i) {
      WriteBatchInternal::Append(&combined, *group[i]->batch);
    }
    Status s;
    try {
      s = co_await target_->CommitGroup(combined, group.front()->sync, group.size());
    } catch (const std::exception& ex) {
      // A bug, not an expected failure: fail this group and every later write.
      s = Status::IOError("commit failed", ex.what());
      target_->OnCommitLoopFailure(s);
    }
    for (Writer* w : group) Resume(w, s);
  }
}

}  // namespace corodb

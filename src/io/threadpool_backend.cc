#include "io/threadpool_backend.h"

#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <memory>
#include <mutex>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

namespace corodb::io {
namespace asio = boost::asio;

namespace {

// Counts a context's operations that are inside a blocking syscall; the
// context's shutdown waits for them (their buffers belong to handlers the
// context is about to destroy).
class InflightService final : public asio::execution_context::service {
 public:
  static inline asio::execution_context::id id;

  explicit InflightService(asio::execution_context& ctx) : service(ctx) {}

  void Add() {
    std::lock_guard lock(mu_);
    ++inflight_;
  }
  void Done() {
    std::lock_guard lock(mu_);
    if (--inflight_ == 0) idle_.notify_all();  // under the lock: `this` may die right after
  }

 private:
  void shutdown() override {
    std::unique_lock lock(mu_);
    idle_.wait(lock, [this] { return inflight_ == 0; });
  }

  std::mutex mu_;
  std::condition_variable idle_;
  int inflight_ = 0;
};


int32_t ResultOf(ssize_t r) { return r < 0 ? -errno : static_cast<int32_t>(r); }

}  // namespace

IoCompletion RunBlocking(const IoRequest& req) {
  IoCompletion c;
  auto write_all_once = [&req]() -> int32_t {
    ssize_t r;
    do {
      r = ::pwrite(req.fd, req.buf, req.len, static_cast<off_t>(req.offset));
    } while (r < 0 && errno == EINTR);
    return ResultOf(r);
  };
  auto datasync = [&req]() -> int32_t {
    int r;
    do {
      r = ::fdatasync(req.fd);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
  };
  switch (req.opcode) {
    case IoOpcode::kRead: {
      ssize_t r;
      do {
        r = ::pread(req.fd, req.buf, req.len, static_cast<off_t>(req.offset));
      } while (r < 0 && errno == EINTR);
      c.res = ResultOf(r);
      break;
    }
    case IoOpcode::kWrite:
      c.res = write_all_once();
      break;
    case IoOpcode::kFdatasync:
      c.res = datasync();
      break;
    case IoOpcode::kFsync: {
      int r;
      do {
        r = ::fsync(req.fd);
      } while (r < 0 && errno == EINTR);
      c.res = r < 0 ? -errno : 0;
      break;
    }
    case IoOpcode::kWriteThenFdatasync:
      c.res = write_all_once();
      // Same contract as a linked SQE chain: a short or failed write cancels the sync.
      c.sync_res = c.res == static_cast<int32_t>(req.len) ? datasync() : -ECANCELED;
      break;
  }
  return c;
}

ThreadPoolBackend::ThreadPoolBackend(int threads) : threads_(threads > 0 ? threads : 1) {}

ThreadPoolBackend::~ThreadPoolBackend() {
  if (pool_) pool_->join();
}

asio::thread_pool& ThreadPoolBackend::Pool() {
  std::call_once(pool_once_, [this] { pool_ = std::make_unique<asio::thread_pool>(threads_); });
  return *pool_;
}

namespace {

// One operation from Start() until its handler is posted. The pool task and
// a cancellation race for it under `mu`: whichever moves it out of kQueued
// owns the handler.
struct PoolOp {
  enum class State { kQueued, kRunning, kDone };

  PoolOp(const IoRequest& r, IoHandler&& h, asio::any_io_executor w, InflightService* s)
      : req(r), handler(std::move(h)), work(std::move(w)), inflight(s) {}

  // Posts the handler with `c` and releases the work guard, then lets the
  // context's shutdown go on (once Done() runs, the context may be destroyed).
  void Finish(IoCompletion c) {
    {
      auto owner = std::move(work);
      asio::post(owner, asio::append(std::move(handler), c));
    }
    inflight->Done();
  }

  std::mutex mu;
  State state = State::kQueued;
  IoRequest req;
  IoHandler handler;
  asio::any_io_executor work;  // the handler's executor, tracking outstanding work
  InflightService* inflight;
};

// Installed in the awaiting coroutine's cancellation slot: an operation still
// queued completes at once with -ECANCELED; a running syscall is left to finish.
struct PoolCancel {
  std::weak_ptr<PoolOp> op;
  void operator()(asio::cancellation_type_t type) const {
    if (type == asio::cancellation_type::none) return;
    const std::shared_ptr<PoolOp> p = op.lock();
    if (!p) return;
    {
      std::lock_guard lock(p->mu);
      if (p->state != PoolOp::State::kQueued) return;
      p->state = PoolOp::State::kDone;
    }
    p->Finish(IoCompletion{-ECANCELED, -ECANCELED});
  }
};

}  // namespace

void ThreadPoolBackend::Start(const asio::any_io_executor& ex, const IoRequest& req,
                              IoHandler handler) {
  auto& inflight = asio::use_service<InflightService>(asio::query(ex, asio::execution::context));
  asio::thread_pool& pool = Pool();
  auto op = std::make_shared<PoolOp>(req, std::move(handler),
                                     asio::prefer(ex, asio::execution::outstanding_work.tracked),
                                     &inflight);
  asio::cancellation_slot slot = asio::get_associated_cancellation_slot(op->handler);
  // A Start that throws (bad_alloc) has started nothing: its handler is
  // destroyed uncalled and nothing stays counted for shutdown to wait for.
  inflight.Add();
  try {
    // Connected before the pool can see the operation (and complete it).
    if (slot.is_connected()) slot.template emplace<PoolCancel>(PoolCancel{op});
    asio::post(pool, [op] {
      {
        std::lock_guard lock(op->mu);
        if (op->state != PoolOp::State::kQueued) return;  // cancelled while queued
        op->state = PoolOp::State::kRunning;
      }
      const IoCompletion c = RunBlocking(op->req);
      {
        std::lock_guard lock(op->mu);
        op->state = PoolOp::State::kDone;
      }
      op->Finish(c);
    });
  } catch (...) {
    if (slot.is_connected()) slot.clear();
    inflight.Done();
    throw;
  }
}

void ThreadPoolBackend::PostForTesting(std::function<void()> task) {
  asio::post(Pool(), std::move(task));
}

}  // namespace corodb::io

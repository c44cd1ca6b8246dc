#include "io/uring_backend.h"

#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <vector>

#include <boost/asio/append.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "util/logging.h"

namespace corodb::io {
namespace asio = boost::asio;

namespace {

std::atomic<int> g_setup_error_for_testing{0};

int InitRing(io_uring* ring, const UringConfig& config) {
  if (const int err = g_setup_error_for_testing.load(); err != 0) return -err;
  io_uring_params params{};
  params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
  params.cq_entries = config.cq_entries;
  return io_uring_queue_init_params(config.sq_entries, ring, &params);
}

// One backend operation from Start() to its completion.
// (Handlers are only ever move-constructed: Boost 1.81's
// any_completion_handler move-assignment recurses without end.)
struct UringOp {
  UringOp(const IoRequest& r, IoHandler&& h, asio::any_io_executor w)
      : req(r), handler(std::move(h)), work(std::move(w)) {}

  IoRequest req;
  IoHandler handler;
  asio::any_io_executor work;  // the handler's executor, tracking outstanding work
  IoCompletion result;
  int pending_cqes = 0;
};

// The low bit of a CQE's user_data marks the linked fdatasync of a
// kWriteThenFdatasync; the rest is the UringOp pointer (aligned, so bit 0 is free).
constexpr uint64_t kSyncPartTag = 1;
// user_data of the SQE that resets the eventfd counter (see RingService). No
// UringOp lives at this address.
constexpr uint64_t kEventResetData = 2;
// CQ slots kept free for the failure CQE of an eventfd-reset SQE (it posts
// none on success).
constexpr unsigned kReservedCqes = 1;

class RingService;
// The ring whose waiters this thread is resuming (RingService::Complete), if any.
thread_local RingService* t_completing = nullptr;

// The ring of one io_context.
//
// Invariants / thread safety: every member below mu_ is guarded by mu_; the
// lock is never held while a handler runs. `cqes_pending_` counts CQEs owed
// by prepared or submitted SQEs and never exceeds the CQ size, so the kernel
// never has to drop or overflow completions. The eventfd wait is armed
// exactly while CQEs are pending (so an idle ring does not keep
// io_context::run() from returning).
//
// Per-operation syscalls (qd 1 is dominated by them). The eventfd counter is
// not read when the wait fires: it is reset by an eventfd read SQE that goes
// out with the next io_uring_submit (IOSQE_CQE_SKIP_SUCCESS: the kernel posts
// no CQE, so does not tick the eventfd again), or by a plain read() when
// there is nothing to submit. Either way it is reset before the wait is armed
// again (arming re-polls the eventfd, which fires at once while the counter
// is non-zero), and every reset is followed by a look at the CQ after arming,
// so a CQE whose tick the reset swallowed is not missed. Operations started
// by the waiters this ring resumes (inline, on the same thread) are submitted
// right after those waiters return instead of by a deferred Flush, which
// would cost the scheduler an extra epoll_wait before it runs.
class RingService final : public asio::execution_context::service {
 public:
  static inline asio::execution_context::id id;

  explicit RingService(asio::execution_context& ctx)
      : service(ctx), ioc_(static_cast<asio::io_context&>(ctx)) {}

  ~RingService() override {
    if (ring_ready_) io_uring_queue_exit(&ring_);
  }

  // Queues `op` on this context's ring. Returns false (and leaves `op`
  // untouched) when the ring could not be set up; the caller falls back.
  bool Start(std::unique_ptr<UringOp>& op, const UringConfig& config, Logger* logger) {
    std::lock_guard lock(mu_);
    if (!setup_done_) SetupLocked(config, logger);
    // After shutdown began nothing would submit the operation: fall back.
    if (!ring_ready_ || shutting_down_) return false;
    UringOp* raw = op.release();
    const bool submit_now = raw->req.submit_now;
    if (!parked_.empty() || !TryPrepareLocked(raw)) {
      parked_.push_back(raw);
    } else if (submit_now) {
      SubmitLocked();  // the flush below (or FinishTurnLocked) still arms the wait and reaps
    }
    // A waiter being resumed by Complete() on this thread: FinishTurnLocked()
    // submits, arms and looks at the CQ once the waiters have returned.
    if (t_completing != this) ScheduleFlushLocked();
    return true;
  }

 private:
  void SetupLocked(const UringConfig& config, Logger* logger) {
    setup_done_ = true;
    int r = InitRing(&ring_, config);
    if (r < 0) {
      CORODB_LOG(logger, "io_uring: ring setup failed for an io_context (%s); its I/O uses the thread pool",
                 std::strerror(-r));
      return;
    }
    event_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (event_fd_ < 0 || (r = io_uring_register_eventfd(&ring_, event_fd_)) < 0) {
      const int err = event_fd_ < 0 ? errno : -r;
      CORODB_LOG(logger, "io_uring: eventfd setup failed (%s); this io_context uses the thread pool",
                 std::strerror(err));
      if (event_fd_ >= 0) ::close(event_fd_);
      io_uring_queue_exit(&ring_);
      return;
    }
    event_desc_ = std::make_unique<asio::posix::stream_descriptor>(ioc_, event_fd_);
    cq_capacity_ = ring_.cq.ring_entries;
    can_skip_cqes_ = (ring_.features & IORING_FEAT_CQE_SKIP) != 0;
    ring_ready_ = true;
  }

  bool TryPrepareLocked(UringOp* op) {
    const IoRequest& req = op->req;
    const unsigned need = req.opcode == IoOpcode::kWriteThenFdatasync ? 2 : 1;
    if (cqes_pending_ + need + kReservedCqes > cq_capacity_ ||
        io_uring_sq_space_left(&ring_) < need) {
      return false;
    }
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    switch (req.opcode) {
      case IoOpcode::kRead:
        io_uring_prep_read(sqe, req.fd, req.buf, req.len, req.offset);
        break;
      case IoOpcode::kWrite:
      case IoOpcode::kWriteThenFdatasync:
        io_uring_prep_write(sqe, req.fd, req.buf, req.len, req.offset);
        break;
      case IoOpcode::kFdatasync:
        io_uring_prep_fsync(sqe, req.fd, IORING_FSYNC_DATASYNC);
        break;
      case IoOpcode::kFsync:
        io_uring_prep_fsync(sqe, req.fd, 0);
        break;
    }
    io_uring_sqe_set_data64(sqe, reinterpret_cast<uint64_t>(op));
    if (req.opcode == IoOpcode::kWriteThenFdatasync) {
      sqe->flags |= IOSQE_IO_LINK;
      io_uring_sqe* sync = io_uring_get_sqe(&ring_);
      io_uring_prep_fsync(sync, req.fd, IORING_FSYNC_DATASYNC);
      io_uring_sqe_set_data64(sync, reinterpret_cast<uint64_t>(op) | kSyncPartTag);
    }
    op->pending_cqes = static_cast<int>(need);
    cqes_pending_ += need;
    unsubmitted_ += need;
    return true;
  }

  void ScheduleFlushLocked() {
    if (flush_scheduled_) return;
    flush_scheduled_ = true;
    // Runs after the handlers already queued on this turn, so everything they
    // prepare goes out in the same io_uring_submit. defer, not post: from the
    // context's own thread it queues without interrupting the reactor
    // (post costs an epoll_ctl on the scheduler's interrupter per call).
    asio::defer(ioc_, [this] { Flush(); });
  }

  void Flush() {
    std::vector<UringOp*> done;
    {
      std::lock_guard lock(mu_);
      flush_scheduled_ = false;
      if (shutting_down_) return;
      done.swap(unfinished_);  // left by a handler that threw
      SubmitLocked(/*with_reset=*/true);
      if (cqes_pending_ > 0) ResetEventLocked();
      // Arm before reaping: Asio's reactor forgets an eventfd edge that
      // arrives while no wait is queued (another thread of a multi-threaded
      // context may be in epoll_wait), so a CQE posted between the reap and
      // the arm would never be noticed.
      ArmIfPendingLocked();
      // Completions already there (page-cache hits) are reaped now rather
      // than after an eventfd round trip.
      ReapLocked(&done);
    }
    CompleteThenFinish(done);
  }

  // Resumes the waiters, then submits what they started and arms or drops
  // the eventfd wait. Deciding after the waiters ran keeps the wait armed
  // when they start new operations (the common case), instead of cancelling
  // it and arming it again.
  void CompleteThenFinish(std::vector<UringOp*>& done) {
    if (!done.empty()) Complete(done);
    std::lock_guard lock(mu_);
    if (!shutting_down_) FinishTurnLocked();
  }

  // Submits the operations prepared by the waiters just resumed (with the
  // eventfd reset when one is due), arms or drops the wait, and leaves
  // completions already in the CQ to a deferred Flush (not reaped here, so a
  // stream of instant completions cannot keep this thread from the rest of
  // its io_context's work).
  void FinishTurnLocked() {
    SubmitLocked(/*with_reset=*/true);
    if (cqes_pending_ > 0) ResetEventLocked();
    ArmOrDisarmLocked();
    if (io_uring_cq_ready(&ring_) > 0) ScheduleFlushLocked();
  }

  // Submits every prepared SQE. With `with_reset`, an eventfd-reset SQE goes
  // last when a reset is due. Every caller is followed, before this thread
  // leaves the ring, by FinishTurnLocked()'s look at the CQ after arming (a
  // reset may swallow the tick of a CQE posted before it).
  void SubmitLocked(bool with_reset = false) {
    bool reset_prepared = false;
    if (with_reset && reset_due_ && !reset_in_sq_ && can_skip_cqes_ && unsubmitted_ > 0 &&
        io_uring_sq_space_left(&ring_) > 0) {
      io_uring_sqe* reset = io_uring_get_sqe(&ring_);
      io_uring_prep_read(reset, event_fd_, &reset_buf_, sizeof(reset_buf_), 0);
      // RWF_NOWAIT: on a zero counter the read must fail (-EAGAIN, one CQE,
      // ignored) rather than wait in the kernel and swallow a later tick.
      reset->rw_flags = RWF_NOWAIT;
      reset->flags |= IOSQE_CQE_SKIP_SUCCESS;
      io_uring_sqe_set_data64(reset, kEventResetData);
      reset_sqe_ = reset;
      ++unsubmitted_;
      reset_in_sq_ = true;
      reset_pos_ = unsubmitted_;
      // Due no more: if it does not go out now, ResetEventLocked() reads
      // instead, and the SQE, still an eventfd reset, goes with a later submit.
      reset_due_ = false;
      reset_prepared = true;
    }
    while (unsubmitted_ > 0) {
      const int r = io_uring_submit(&ring_);
      if (r > 0) {
        // The kernel consumes SQEs in order.
        const auto n = std::min<unsigned>(unsubmitted_, static_cast<unsigned>(r));
        unsubmitted_ -= n;
        if (reset_in_sq_) {
          if (n >= reset_pos_) {
            reset_in_sq_ = false;
          } else {
            reset_pos_ -= n;
          }
        }
        continue;
      }
      if (r == -EINTR) continue;
      // EAGAIN/EBUSY: the kernel is short of resources; try again on the next turn.
      ScheduleFlushLocked();
      break;
    }
    // A reset prepared above that did not go out: fall back to read(), and
    // turn the stranded SQE into a no-op (no CQE) for whenever it goes out.
    if (reset_prepared && reset_in_sq_) {
      reset_due_ = true;
      io_uring_prep_nop(reset_sqe_);
      reset_sqe_->flags |= IOSQE_CQE_SKIP_SUCCESS;
      io_uring_sqe_set_data64(reset_sqe_, kEventResetData);
    }
  }

  // Resets the eventfd counter with read() if it is still due (nothing was
  // submitted to carry the reset SQE).
  void ResetEventLocked() {
    if (!reset_due_) return;
    reset_due_ = false;
    uint64_t ticks;
    [[maybe_unused]] ssize_t n = ::read(event_fd_, &ticks, sizeof(ticks));
  }

  void ReapLocked(std::vector<UringOp*>* done) {
    unsigned head;
    unsigned seen = 0;
    unsigned ignored = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      const uint64_t data = io_uring_cqe_get_data64(cqe);
      if (data == kEventResetData) {
        // A failed eventfd reset (the counter was already 0); nothing owed it.
        ++ignored;
        continue;
      }
      auto* op = reinterpret_cast<UringOp*>(data & ~kSyncPartTag);
      if (data & kSyncPartTag) {
        op->result.sync_res = cqe->res;
      } else {
        op->result.res = cqe->res;
      }
      if (--op->pending_cqes == 0) done->push_back(op);
    }
    if (seen == 0) return;
    io_uring_cq_advance(&ring_, seen);
    cqes_pending_ -= seen - ignored;
    // Room in the queues again: move parked operations in (not during
    // shutdown, which abandons them).
    if (shutting_down_) return;
    bool prepared = false;
    while (!parked_.empty() && TryPrepareLocked(parked_.front())) {
      parked_.pop_front();
      prepared = true;
    }
    if (prepared) SubmitLocked();
  }

  // Arms the eventfd wait when CQEs are owed; never cancels it. The counter
  // must have been reset (reset_due_ false).
  void ArmIfPendingLocked() {
    if (cqes_pending_ > 0 && !wait_armed_) ArmLocked();
  }

  void ArmLocked() {
    wait_armed_ = true;
    event_desc_->async_wait(asio::posix::descriptor_base::wait_read,
                            [this](const boost::system::error_code& ec) { OnWake(ec); });
  }

  void ArmOrDisarmLocked() {
    if (cqes_pending_ > 0 && !wait_armed_) {
      ArmLocked();
    } else if (cqes_pending_ == 0 && wait_armed_ && !cancel_requested_) {
      // Idle: drop the wait so run() can return; OnWake re-arms if work arrived.
      cancel_requested_ = true;
      event_desc_->cancel();
    }
  }

  // The eventfd became readable, or the wait was cancelled.
  void OnWake(const boost::system::error_code& ec) {
    std::vector<UringOp*> done;
    {
      std::lock_guard lock(mu_);
      wait_armed_ = false;
      cancel_requested_ = false;
      if (shutting_down_) return;
      // The counter is non-zero: reset it before the wait is armed again
      // (FinishTurnLocked), not now: the reset usually rides on the
      // submission of the next operation.
      if (!ec) reset_due_ = true;
      ReapLocked(&done);
    }
    CompleteThenFinish(done);
  }

  // Resumes the waiters of completed operations, after the drain, unlocked.
  // Operations they start on this ring meanwhile are submitted by the caller
  // (FinishTurnLocked); if a waiter throws, the rest are left to a Flush.
  void Complete(std::vector<UringOp*>& done) {
    struct Scope {
      RingService* self;
      std::vector<UringOp*>& done;
      size_t next = 0;  // the first operation whose handler has not been called
      RingService* saved = t_completing;
      int exceptions = std::uncaught_exceptions();
      Scope(RingService* s, std::vector<UringOp*>& d) : self(s), done(d) { t_completing = s; }
      ~Scope() {
        t_completing = saved;
        if (std::uncaught_exceptions() > exceptions) {
          // A handler threw (out of run()): the operations after it are
          // completed by the next Flush, not lost.
          std::lock_guard lock(self->mu_);
          self->unfinished_.insert(self->unfinished_.end(), done.begin() + next, done.end());
          if (!self->shutting_down_) self->ScheduleFlushLocked();
        }
      }
    } scope(this, done);
    for (UringOp* op : done) {
      ++scope.next;
      std::unique_ptr<UringOp> owned(op);
      asio::any_io_executor work = std::move(owned->work);
      IoHandler handler = std::move(owned->handler);
      const IoCompletion result = owned->result;
      owned.reset();
      asio::dispatch(work, asio::append(std::move(handler), result));
    }
  }

  void shutdown() override {
    std::vector<UringOp*> abandoned;
    {
      std::lock_guard lock(mu_);
      shutting_down_ = true;
      if (ring_ready_) {
        SubmitLocked();
        // Operations still unsubmitted never reach the kernel (an eventfd
        // reset among them owes no CQE).
        cqes_pending_ -= unsubmitted_ - (reset_in_sq_ ? 1 : 0);
        // Wait for every submitted operation to leave the kernel before its
        // handler (which owns the buffer) is destroyed.
        while (cqes_pending_ > 0) {
          io_uring_cqe* cqe = nullptr;
          const int r = io_uring_wait_cqe(&ring_, &cqe);
          if (r == -EINTR) continue;
          if (r < 0) break;
          ReapLocked(&abandoned);
        }
        event_desc_.reset();  // closes the eventfd while the reactor still exists
      }
      abandoned.insert(abandoned.end(), parked_.begin(), parked_.end());
      abandoned.insert(abandoned.end(), unfinished_.begin(), unfinished_.end());
      unfinished_.clear();
      parked_.clear();
    }
    // Asio's rule at shutdown: handlers are destroyed, not invoked.
    for (UringOp* op : abandoned) delete op;
  }

  asio::io_context& ioc_;
  std::mutex mu_;
  bool setup_done_ = false;
  bool ring_ready_ = false;
  io_uring ring_{};
  int event_fd_ = -1;
  std::unique_ptr<asio::posix::stream_descriptor> event_desc_;
  unsigned cq_capacity_ = 0;
  unsigned cqes_pending_ = 0;
  unsigned unsubmitted_ = 0;
  bool flush_scheduled_ = false;
  bool wait_armed_ = false;
  bool cancel_requested_ = false;
  bool shutting_down_ = false;
  bool can_skip_cqes_ = false;  // IORING_FEAT_CQE_SKIP: eventfd resets may ride on submits
  bool reset_due_ = false;     // the eventfd counter must be reset before arming
  bool reset_in_sq_ = false;   // an eventfd-reset SQE is prepared but not submitted
  unsigned reset_pos_ = 0;     // SQEs to consume (from the SQ head) to include it
  uint64_t reset_buf_ = 0;     // target of the eventfd-reset SQEs
  io_uring_sqe* reset_sqe_ = nullptr;  // the last reset SQE prepared (valid while reset_in_sq_)
  std::deque<UringOp*> parked_;
  std::vector<UringOp*> unfinished_;  // completed, handler not yet called (a handler threw)
};

// The io_context behind `ex`, or nullptr when `ex` is not an io_context
// executor (plain, work-tracking or a strand over one).
asio::io_context* IoContextOf(const asio::any_io_executor& ex) {
  using Plain = asio::io_context::executor_type;
  using Tracked = asio::io_context::basic_executor_type<std::allocator<void>, 4>;
  if (const auto* e = ex.target<Plain>()) return &e->context();
  if (const auto* e = ex.target<Tracked>()) return &e->context();
  if (const auto* s = ex.target<asio::strand<Plain>>()) return &s->get_inner_executor().context();
  if (const auto* s = ex.target<asio::strand<Tracked>>()) return &s->get_inner_executor().context();
  return nullptr;
}

}  // namespace

int ProbeUring(const UringConfig& config) {
  io_uring ring{};
  const int r = InitRing(&ring, config);
  if (r < 0) return r;
  io_uring_queue_exit(&ring);
  return 0;
}

void SetUringSetupErrorForTesting(int err) { g_setup_error_for_testing.store(err); }

UringBackend::UringBackend(UringConfig config, std::shared_ptr<Backend> fallback, Logger* logger)
    : config_(config), fallback_(std::move(fallback)), logger_(logger) {}

UringBackend::~UringBackend() = default;

void UringBackend::SetDefaultContext(asio::io_context* ctx) { default_ctx_.store(ctx); }

void UringBackend::Start(const asio::any_io_executor& ex, const IoRequest& req,
                         IoHandler handler) {
  asio::io_context* ioc = IoContextOf(ex);
  if (ioc == nullptr) ioc = default_ctx_.load();
  if (ioc != nullptr) {
    auto op = std::make_unique<UringOp>(
        req, std::move(handler), asio::prefer(ex, asio::execution::outstanding_work.tracked));
    RingService& ring = asio::use_service<RingService>(static_cast<asio::execution_context&>(*ioc));
    if (ring.Start(op, config_, logger_)) return;
    fallback_->Start(ex, req, std::move(op->handler));
    return;
  }
  fallback_->Start(ex, req, std::move(handler));
}

}  // namespace corodb::io

#include "io/uring_backend.h"

#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <new>
#include <typeinfo>
#include <unordered_map>
#include <vector>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "io/uring_diagnosis.h"
#include "io/uring_setup.h"
#include "util/logging.h"

namespace corodb::io {
namespace asio = boost::asio;

namespace {

std::atomic<int> g_submit_error_for_testing{0};
std::atomic<int> g_wait_error_for_testing{0};
// Operation ids (cancellation keys), unique in the process.
std::atomic<uint64_t> g_next_op_id{1};

// Operations leaked on purpose at shutdown (the kernel may still write into
// their buffers). Reachable from here, so leak checkers do not flag them.
std::mutex g_kept_mu;
std::vector<void*>* g_kept_for_kernel = nullptr;
std::atomic<uint64_t> g_kept_count{0};

// EAGAIN/EBUSY from io_uring_enter: tries after the first, each after twice
// the previous delay (1, 2, 4, 8, 16 ms), before the operations fail.
constexpr int kMaxSubmitRetries = 5;
// Failures of io_uring_wait_cqe in a row (EINTR aside) after which shutdown
// stops waiting and keeps the owed operations alive.
constexpr int kMaxWaitFailures = 3;

// One backend operation from Start() to its completion.
// (Handlers are only ever move-constructed: Boost 1.81's
// any_completion_handler move-assignment recurses without end.)
struct UringOp {
  UringOp(const IoRequest& r, IoHandler&& h, asio::any_io_executor w, Logger* l)
      : req(r), handler(std::move(h)), work(std::move(w)), logger(l) {}

  IoRequest req;
  IoHandler handler;
  asio::any_io_executor work;  // the handler's executor, tracking outstanding work
  Logger* logger;              // the starting backend's
  const uint64_t id = g_next_op_id.fetch_add(1, std::memory_order_relaxed);
  IoCompletion result;
  int pending_cqes = 0;         // CQEs still owed (while its SQEs are prepared or in the kernel)
  bool cancel_sent = false;     // IORING_OP_ASYNC_CANCEL prepared for it
};

// The low bit of a CQE's user_data marks the linked fdatasync of a
// kWriteThenFdatasync; the rest is the UringOp pointer (aligned, so bit 0 is free).
constexpr uint64_t kSyncPartTag = 1;
// user_data of the SQE that resets the eventfd counter (see RingService). No
// UringOp lives at this address.
constexpr uint64_t kEventResetData = 2;
// user_data of IORING_OP_ASYNC_CANCEL SQEs (one CQE each: 0, -ENOENT or -EALREADY).
constexpr uint64_t kCancelData = 4;
static_assert(alignof(UringOp) >= 8);
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
// io_context::run() from returning). `live_` holds every operation with
// prepared or submitted SQEs; `unsubmitted_` counts the SQEs between the
// kernel's SQ head and liburing's tail. Only io_uring_enter, called under
// mu_, consumes SQEs (no SQPOLL), so SQEs not yet consumed can be taken back.
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
    if (ring_ready_) ExitRing(&ring_);
  }

  // Queues `op` on this context's ring. Returns false (and leaves `op`
  // untouched) when the ring could not be set up; the caller falls back.
  // Throws (bad_alloc) only before `op` is published, leaving it untouched.
  bool Start(std::unique_ptr<UringOp>& op, const UringConfig& config, Logger* logger) {
    std::lock_guard lock(mu_);
    if (!setup_done_) SetupLocked(config, logger);
    // After shutdown began nothing would submit the operation: fall back.
    if (!ring_ready_ || shutting_down_) return false;
    // What may throw (bad_alloc) comes before the operation is published, so
    // that a Start that throws has started nothing. A waiter being resumed
    // by Complete() on this thread: FinishTurnLocked() submits, arms and
    // looks at the CQ once the waiters have returned.
    if (t_completing != this) ScheduleFlushLocked();
    UringOp* raw = op.get();
    const bool prepared = parked_.empty() && TryPrepareLocked(raw);
    if (!prepared) parked_.push_back(raw);
    op.release();  // published: the ring owns it
    ++stats_.started;
    if (!prepared) {
      ++stats_.parked;
    } else if (raw->req.submit_now) {
      // The flush (or FinishTurnLocked) still arms the wait and reaps.
      try {
        SubmitLocked();
      } catch (const std::bad_alloc&) {
        // A retry timer or an error's bookkeeping could not be allocated;
        // SubmitLocked left its SQEs queued, and the flush scheduled above
        // (or FinishTurnLocked) submits them. The operation is started.
      }
    }
    return true;
  }

  // A cancellation signal for the operation `op_id` (any thread). A parked
  // operation completes with -ECANCELED (from a Flush, never inline); one
  // with SQEs gets IORING_OP_ASYNC_CANCEL and completes with its own CQE. An
  // operation already completed is left alone.
  void Cancel(uint64_t op_id) {
    std::lock_guard lock(mu_);
    if (!ring_ready_ || shutting_down_) return;
    if (auto it = live_.find(op_id); it != live_.end()) {
      UringOp* op = it->second;
      if (op->cancel_sent || (features_ & kUringAsyncCancel) == 0) return;
      if (!TryPrepareCancelLocked(op)) {
        cancel_backlog_.push_back(op_id);  // sent once the queues have room
        return;
      }
    } else {
      auto p = std::find_if(parked_.begin(), parked_.end(),
                            [op_id](const UringOp* o) { return o->id == op_id; });
      if (p == parked_.end()) return;
      UringOp* op = *p;
      parked_.erase(p);
      op->result = IoCompletion{-ECANCELED, -ECANCELED};
      unfinished_.push_back(op);
    }
    if (t_completing != this) ScheduleFlushLocked();
  }

  UringRingStats Stats() {
    std::lock_guard lock(mu_);
    UringRingStats s = stats_;
    s.ready = ring_ready_;
    s.features = features_;
    return s;
  }

 private:
  void SetupLocked(const UringConfig& config, Logger* logger) {
    setup_done_ = true;
    int r = InitRing(&ring_, config, &features_);
    if (r < 0) {
      // Rings worked when the backend was chosen and fail now (a seccomp
      // filter or kernel.io_uring_disabled since, or a memlock limit): the
      // next backend choice probes again instead of trusting its memory.
      ForgetUringProbe();
      const UringFacts facts = GatherUringFacts(r, 0);
      CORODB_LOG(logger,
                 "io_uring: ring setup failed for an io_context (%s: %s %s); its I/O uses the "
                 "thread pool",
                 std::strerror(-r), VerdictName(ClassifyUring(facts)),
                 ExplainUringVerdict(facts).c_str());
      return;
    }
    event_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (event_fd_ < 0 || (r = io_uring_register_eventfd(&ring_, event_fd_)) < 0) {
      const int err = event_fd_ < 0 ? errno : -r;
      CORODB_LOG(logger, "io_uring: eventfd setup failed (%s); this io_context uses the thread pool",
                 std::strerror(err));
      if (event_fd_ >= 0) ::close(event_fd_);
      ExitRing(&ring_);
      return;
    }
    event_desc_ = std::make_unique<asio::posix::stream_descriptor>(ioc_, event_fd_);
    retry_timer_ = std::make_unique<asio::steady_timer>(ioc_);
    cq_capacity_ = ring_.cq.ring_entries;
    live_.reserve(cq_capacity_);
    ring_ready_ = true;
  }

  bool TryPrepareLocked(UringOp* op) {
    const IoRequest& req = op->req;
    const unsigned need = req.opcode == IoOpcode::kWriteThenFdatasync ? 2 : 1;
    if (cqes_pending_ + need + kReservedCqes > cq_capacity_ ||
        io_uring_sq_space_left(&ring_) < need) {
      return false;
    }
    // First, as it may throw (bad_alloc): nothing is prepared yet.
    live_.emplace(op->id, op);
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

  // Prepares IORING_OP_ASYNC_CANCEL for each SQE of `op` (the write and the
  // sync of a linked pair); false when the queues have no room for them.
  bool TryPrepareCancelLocked(UringOp* op) {
    const bool linked = op->req.opcode == IoOpcode::kWriteThenFdatasync;
    const unsigned need = linked ? 2 : 1;
    if (cqes_pending_ + need + kReservedCqes > cq_capacity_ ||
        io_uring_sq_space_left(&ring_) < need) {
      return false;
    }
    const auto target = reinterpret_cast<uint64_t>(op);
    for (unsigned i = 0; i < need; ++i) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      io_uring_prep_cancel64(sqe, i == 0 ? target : target | kSyncPartTag, 0);
      io_uring_sqe_set_data64(sqe, kCancelData);
    }
    cqes_pending_ += need;
    unsubmitted_ += need;
    op->cancel_sent = true;
    ++stats_.cancels;
    return true;
  }

  void ScheduleFlushLocked() {
    if (flush_scheduled_) return;
    // Runs after the handlers already queued on this turn, so everything they
    // prepare goes out in the same io_uring_submit. defer, not post: from the
    // context's own thread it queues without interrupting the reactor
    // (post costs an epoll_ctl on the scheduler's interrupter per call).
    // Under mu_, which Flush takes first: marked after defer could throw.
    asio::defer(ioc_, [this] { Flush(); });
    flush_scheduled_ = true;
  }

  void Flush() {
    std::vector<UringOp*> done;
    {
      std::lock_guard lock(mu_);
      flush_scheduled_ = false;
      if (shutting_down_) return;
      SubmitLocked(/*with_reset=*/true);
      // Left by a handler that threw, failed to submit, or cancelled while parked.
      done.swap(unfinished_);
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
    if (io_uring_cq_ready(&ring_) > 0 || !unfinished_.empty()) ScheduleFlushLocked();
  }

  int SubmitToKernelLocked() {
    ++stats_.submits;
    if (const int err = g_submit_error_for_testing.load(); err != 0) return -err;
    return io_uring_submit(&ring_);
  }

  // Submits every prepared SQE. With `with_reset`, an eventfd-reset SQE goes
  // last when a reset is due. Every caller is followed, before this thread
  // leaves the ring, by FinishTurnLocked()'s look at the CQ after arming (a
  // reset may swallow the tick of a CQE posted before it). On EAGAIN/EBUSY
  // the SQEs stay for a retry timer (while it runs, nothing is submitted);
  // when retries are used up, on another error, or during shutdown, the
  // operations not submitted move to unfinished_ with the error.
  void SubmitLocked(bool with_reset = false) {
    if (retry_armed_ && !shutting_down_) return;
    bool reset_prepared = false;
    if (with_reset && reset_due_ && !reset_in_sq_ && (features_ & kUringCqeSkip) != 0 &&
        unsubmitted_ > 0 && io_uring_sq_space_left(&ring_) > 0) {
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
    // A reset prepared above that did not go out: fall back to read(), and
    // turn the stranded SQE into a no-op (no CQE) for whenever it goes out.
    // Also when a retry timer or a failure's bookkeeping throws (bad_alloc).
    auto strand_reset = [this, reset_prepared] {
      if (reset_prepared && reset_in_sq_) {
        reset_due_ = true;
        io_uring_prep_nop(reset_sqe_);
        reset_sqe_->flags |= IOSQE_CQE_SKIP_SUCCESS;
        io_uring_sqe_set_data64(reset_sqe_, kEventResetData);
      }
    };
    try {
      SubmitQueuedLocked();
    } catch (const std::bad_alloc&) {
      strand_reset();
      throw;
    }
    strand_reset();
  }

  // SubmitLocked's loop: submits until the SQ is empty, a retry is armed or
  // the unsubmitted operations have failed.
  void SubmitQueuedLocked() {
    while (unsubmitted_ > 0) {
      const int r = SubmitToKernelLocked();
      if (r > 0) {
        submit_failures_ = 0;
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
      // EAGAIN: the kernel could not allocate requests; EBUSY: it has CQEs
      // it could not post. Both pass; try again after a delay, a few times.
      const bool transient = r == 0 || r == -EAGAIN || r == -EBUSY;
      if (transient && !shutting_down_ && submit_failures_ < kMaxSubmitRetries) {
        ArmRetryLocked(submit_failures_ + 1);
        ++submit_failures_;  // once armed: a retry that threw did not wait
        break;
      }
      submit_failures_ = 0;
      FailUnsubmittedLocked(r == 0 ? -EAGAIN : r);
      if (!shutting_down_) ScheduleFlushLocked();
      break;
    }
  }

  // Retry `attempt` (1, 2, ...) after 2^(attempt-1) ms. A bad_alloc leaves
  // the SQEs queued and no timer armed (a later flush submits them).
  void ArmRetryLocked(int attempt) {
    retry_timer_->expires_after(std::chrono::milliseconds(1 << (attempt - 1)));
    retry_timer_->async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      {
        std::lock_guard lock(mu_);
        retry_armed_ = false;
      }
      Flush();
    });
    retry_armed_ = true;  // under mu_, which the timer's handler takes first
  }

  // Takes every SQE the kernel has not consumed back out of the submission
  // queue and completes its operation's part with `neg_errno` (operations
  // with nothing left owed move to unfinished_). The kernel consumes SQEs
  // only inside io_uring_enter, which is called under mu_ (no SQPOLL), so
  // between calls the entries from its head to liburing's tail are ours:
  // both the tail the kernel sees and liburing's are moved back to the head.
  void FailUnsubmittedLocked(int neg_errno) {
    io_uring_sq& sq = ring_.sq;
    const unsigned head = *sq.khead;
    assert(sq.sqe_tail - head == unsubmitted_);
    // The one allocation, before anything changes: a bad_alloc leaves the
    // SQEs queued for a later flush.
    unfinished_.reserve(unfinished_.size() + unsubmitted_);
    size_t failed = 0;
    UringOp* first_failed = nullptr;
    for (unsigned pos = head; pos != sq.sqe_tail; ++pos) {
      const uint64_t data = sq.sqes[pos & sq.ring_mask].user_data;
      if (data == kEventResetData) {
        reset_due_ = true;  // owes no CQE; read() resets instead
        continue;
      }
      --cqes_pending_;
      if (data == kCancelData) continue;  // the operation completes by itself
      auto* op = reinterpret_cast<UringOp*>(data & ~kSyncPartTag);
      if (data & kSyncPartTag) {
        op->result.sync_res = neg_errno;
      } else {
        op->result.res = neg_errno;
      }
      if (--op->pending_cqes == 0) {
        live_.erase(op->id);
        unfinished_.push_back(op);  // reserved above
        if (failed++ == 0) first_failed = op;
      }
    }
    sq.sqe_head = sq.sqe_tail = head;
    io_uring_smp_store_release(sq.ktail, head);
    unsubmitted_ = 0;
    reset_in_sq_ = false;
    if (failed > 0) {
      try {
        CORODB_LOG(first_failed->logger,
                   "io_uring: io_uring_enter failed (%s); %zu operations not submitted fail with it",
                   std::strerror(-neg_errno), failed);
      } catch (const std::bad_alloc&) {
        // The operations fail with the error all the same.
      }
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
    // Room for every CQE there, before any is consumed: a bad_alloc in the
    // loop would leave CQEs counted but not advanced, reaped again later.
    // (Those posted meanwhile wait for the next reap, as if posted after it.)
    const unsigned ready = io_uring_cq_ready(&ring_);
    done->reserve(done->size() + ready);
    unsigned head;
    unsigned seen = 0;
    unsigned ignored = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      if (seen == ready) break;
      ++seen;
      const uint64_t data = io_uring_cqe_get_data64(cqe);
      if (data == kEventResetData) {
        // A failed eventfd reset (the counter was already 0); nothing owed it.
        ++ignored;
        continue;
      }
      if (data == kCancelData) continue;  // an ASYNC_CANCEL's own result
      auto* op = reinterpret_cast<UringOp*>(data & ~kSyncPartTag);
      if (data & kSyncPartTag) {
        op->result.sync_res = cqe->res;
      } else {
        op->result.res = cqe->res;
      }
      if (--op->pending_cqes == 0) {
        live_.erase(op->id);
        ++stats_.completed;
        done->push_back(op);  // reserved above
      }
    }
    if (seen == 0) return;
    io_uring_cq_advance(&ring_, seen);
    cqes_pending_ -= seen - ignored;
    // Room in the queues again: send waiting cancellations, then move parked
    // operations in (not during shutdown, which abandons them).
    if (shutting_down_) return;
    bool prepared = false;
    while (!cancel_backlog_.empty()) {
      auto it = live_.find(cancel_backlog_.front());
      if (it != live_.end() && !it->second->cancel_sent) {
        if (!TryPrepareCancelLocked(it->second)) break;
        prepared = true;
      }
      cancel_backlog_.pop_front();
    }
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

  int WaitForCqeLocked() {
    if (const int err = g_wait_error_for_testing.load(); err != 0) return -err;
    io_uring_cqe* cqe = nullptr;
    return io_uring_wait_cqe(&ring_, &cqe);
  }

  // Asks the kernel to cancel every operation it still holds (a read of an
  // empty pipe would otherwise never complete), as far as the queues have room.
  void CancelAllLocked() {
    if ((features_ & kUringAsyncCancel) == 0) return;
    for (auto& [op_id, op] : live_) {
      if (!op->cancel_sent && !TryPrepareCancelLocked(op)) break;
    }
  }

  void shutdown() override {
    std::vector<UringOp*> abandoned;
    std::vector<UringOp*> kept;  // the kernel may still write into their buffers
    int wait_error = 0;
    {
      std::lock_guard lock(mu_);
      shutting_down_ = true;
      if (ring_ready_) {
        // Operations whose SQEs cannot be submitted now never reach the
        // kernel: they are taken back and destroyed below.
        SubmitLocked();
        // Wait for every operation in the kernel to leave it before its
        // handler (which owns the buffer) is destroyed.
        int failures = 0;
        while (cqes_pending_ > 0) {
          CancelAllLocked();
          SubmitLocked();
          if (cqes_pending_ == 0) break;
          const int r = WaitForCqeLocked();
          if (r == -EINTR) continue;
          if (r < 0) {
            wait_error = r;
            if (++failures >= kMaxWaitFailures) break;
            continue;
          }
          failures = 0;
          ReapLocked(&abandoned);
        }
        if (cqes_pending_ > 0) {
          ReapLocked(&abandoned);  // what arrived all the same
          for (auto& [op_id, op] : live_) kept.push_back(op);
          live_.clear();
        }
        retry_timer_.reset();
        event_desc_.reset();  // closes the eventfd while the reactor still exists
      }
      abandoned.insert(abandoned.end(), parked_.begin(), parked_.end());
      abandoned.insert(abandoned.end(), unfinished_.begin(), unfinished_.end());
      unfinished_.clear();
      parked_.clear();
    }
    if (!kept.empty()) {
      CORODB_LOG(kept.front()->logger,
                 "io_uring: waiting for completions failed (%s) while an io_context shut down; "
                 "keeping %zu operations and their buffers alive (leaked), as the kernel may "
                 "still write into them",
                 std::strerror(-wait_error), kept.size());
      std::lock_guard lock(g_kept_mu);
      if (g_kept_for_kernel == nullptr) g_kept_for_kernel = new std::vector<void*>;
      g_kept_for_kernel->insert(g_kept_for_kernel->end(), kept.begin(), kept.end());
      g_kept_count.fetch_add(kept.size());
    }
    // Asio's rule at shutdown: handlers are destroyed, not invoked.
    for (UringOp* op : abandoned) delete op;
  }

  asio::io_context& ioc_;
  std::mutex mu_;
  bool setup_done_ = false;
  bool ring_ready_ = false;
  io_uring ring_{};
  unsigned features_ = 0;  // UringFeature bits in use
  int event_fd_ = -1;
  std::unique_ptr<asio::posix::stream_descriptor> event_desc_;
  std::unique_ptr<asio::steady_timer> retry_timer_;  // submit retries after EAGAIN/EBUSY
  unsigned cq_capacity_ = 0;
  unsigned cqes_pending_ = 0;
  unsigned unsubmitted_ = 0;
  int submit_failures_ = 0;    // EAGAIN/EBUSY in a row
  bool retry_armed_ = false;   // retry_timer_ will submit; nothing else does meanwhile
  bool flush_scheduled_ = false;
  bool wait_armed_ = false;
  bool cancel_requested_ = false;
  bool shutting_down_ = false;
  bool reset_due_ = false;     // the eventfd counter must be reset before arming
  bool reset_in_sq_ = false;   // an eventfd-reset SQE is prepared but not submitted
  unsigned reset_pos_ = 0;     // SQEs to consume (from the SQ head) to include it
  uint64_t reset_buf_ = 0;     // target of the eventfd-reset SQEs
  io_uring_sqe* reset_sqe_ = nullptr;  // the last reset SQE prepared (valid while reset_in_sq_)
  std::unordered_map<uint64_t, UringOp*> live_;  // by id: operations with SQEs
  std::deque<UringOp*> parked_;
  std::deque<uint64_t> cancel_backlog_;  // ids of live operations to cancel when there is room
  std::vector<UringOp*> unfinished_;  // completed, handler not yet called
  UringRingStats stats_;
};

// The handler a ring operation installs in its awaiting coroutine's
// cancellation slot. It names the operation by id, never by pointer: it may
// outlive the operation.
struct RingCancel {
  RingService* ring;
  uint64_t op_id;
  void operator()(asio::cancellation_type_t type) const {
    if (type != asio::cancellation_type::none) ring->Cancel(op_id);
  }
};

// Mangled-name prefix that every instance of a class template shares,
// computed from two instances whose first template arguments mangle
// differently (a standard-library type, "S...", and one of ours, "N...").
std::string CommonPrefix(const char* a, const char* b) {
  size_t n = 0;
  while (a[n] != '\0' && a[n] == b[n]) ++n;
  return std::string(a, n);
}

struct OtherAllocator : std::allocator<char> {};

// Whether an executor of type `type` has an io_context as its context:
// io_context::basic_executor_type<Allocator, Bits> for any allocator and
// properties, or an asio::strand over one.
// execution_context has no virtual functions, so dynamic_cast cannot tell an
// io_context from a thread_pool behind asio::query(ex, execution::context);
// the executor's type can.
bool IsIoContextExecutorType(const std::type_info& type) {
  using Plain = asio::io_context::executor_type;
  using Other = asio::io_context::basic_executor_type<OtherAllocator, 0>;
  static const std::string executor_prefix =
      CommonPrefix(typeid(Plain).name(), typeid(Other).name());
  static const std::string strand_prefix =
      CommonPrefix(typeid(asio::strand<Plain>).name(), typeid(asio::strand<Other>).name());
  const char* name = type.name();
  return std::strncmp(name, executor_prefix.data(), executor_prefix.size()) == 0 ||
         std::strncmp(name, strand_prefix.data(), strand_prefix.size()) == 0;
}

// The io_context behind `ex`, or nullptr when `ex`'s context is not one.
asio::io_context* IoContextOf(const asio::any_io_executor& ex) {
  if (!ex) return nullptr;
  // make_strand(any_io_executor) and friends: look at the wrapped executor.
  if (const auto* s = ex.target<asio::strand<asio::any_io_executor>>()) {
    return IoContextOf(s->get_inner_executor());
  }
  if (!IsIoContextExecutorType(ex.target_type())) return nullptr;
  return &static_cast<asio::io_context&>(asio::query(ex, asio::execution::context));
}

}  // namespace

void SetUringCallErrorForTesting(UringCall call, int err) {
  (call == UringCall::kSubmit ? g_submit_error_for_testing : g_wait_error_for_testing).store(err);
}

UringRingStats RingStatsOf(asio::io_context& ctx) {
  if (!asio::has_service<RingService>(ctx)) return {};
  return asio::use_service<RingService>(static_cast<asio::execution_context&>(ctx)).Stats();
}

uint64_t UringOperationsKeptForKernel() { return g_kept_count.load(); }

UringBackend::UringBackend(UringConfig config, std::shared_ptr<Backend> fallback, Logger* logger)
    : config_(config), fallback_(std::move(fallback)), logger_(logger) {}

UringBackend::~UringBackend() = default;

void UringBackend::SetDefaultContext(asio::io_context* ctx) { default_ctx_.store(ctx); }

void UringBackend::Start(const asio::any_io_executor& ex, const IoRequest& req,
                         IoHandler handler) {
  asio::io_context* ioc = IoContextOf(ex);
  if (ioc == nullptr) ioc = default_ctx_.load();
  if (ioc == nullptr) {
    fallback_->Start(ex, req, std::move(handler));
    return;
  }
  auto op = std::make_unique<UringOp>(
      req, std::move(handler), asio::prefer(ex, asio::execution::outstanding_work.tracked),
      logger_);
  RingService& ring = asio::use_service<RingService>(static_cast<asio::execution_context&>(*ioc));
  // Connected before the operation is published: once the ring has it, it
  // may complete (and its waiter move on to reuse the slot) on another thread.
  asio::cancellation_slot slot = asio::get_associated_cancellation_slot(op->handler);
  if (slot.is_connected()) slot.template emplace<RingCancel>(RingCancel{&ring, op->id});
  bool started;
  try {
    started = ring.Start(op, config_, logger_);
  } catch (...) {
    // Nothing was started (bad_alloc): `op` and its handler go unrun.
    if (slot.is_connected()) slot.clear();
    throw;
  }
  if (started) return;
  if (slot.is_connected()) slot.clear();
  fallback_->Start(ex, req, std::move(op->handler));
}

}  // namespace corodb::io

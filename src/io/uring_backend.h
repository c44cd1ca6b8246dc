// UringBackend: positional I/O through io_uring, one ring per io_context.
//
// Rings follow executors: an operation started by a coroutine whose executor
// belongs to an io_context — plain, work-tracking, with other properties
// (relationship, allocator), a strand over one, or an any_io_executor holding
// any of these — goes to that context's ring, created on first use as an
// Asio service (RingService, in the .cc) on the thread that runs the context.
// Operations from executors that are not an io_context go to the default
// context's ring (SetDefaultContext; the engine's), or, when none is set, to
// the fallback backend. When a ring cannot be created for a context (e.g.
// ENOMEM from locked-memory limits) that context's operations use the
// fallback backend, and the reason is logged once.
//
// Each ring: an eventfd registered with the ring and watched by a
// posix::stream_descriptor; the reaper drains every completion, then resumes
// the waiters. Operations prepared during one turn of the executor go out in
// one io_uring_submit (those started by the waiters the reaper resumes, right
// after they return); completions already present after a submit are reaped
// without waiting for the eventfd. A full submission queue (or as many
// operations in flight as the completion queue holds) parks operations; they
// are never failed for it.
//
// Submit errors: EINTR is retried at once; EAGAIN and EBUSY a few times with
// a growing delay (a timer, never a spin); after that, or on any other error,
// the operations whose SQEs were not submitted are taken back out of the
// submission queue and complete with the error (-errno).
//
// Cancellation: a signal on the handler's cancellation slot (Backend::Start)
// parks nothing: a parked operation completes at once with -ECANCELED; one in
// the kernel gets an IORING_OP_ASYNC_CANCEL for its user_data and completes
// when its own CQE arrives (-ECANCELED, or its real result if it won the
// race). Its buffer stays with the operation until then.
//
// Shutdown of an io_context cancels its ring's operations in the kernel and
// waits for all of their completions before their handlers (and the buffers
// they own) are destroyed; operations never submitted are destroyed. If
// waiting fails persistently, the operations still owed by the kernel are
// leaked on purpose (and logged), never freed under it.
//
// This file and its .cc are the only users of liburing.h.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "io/backend.h"

namespace boost::asio {
class io_context;
}

namespace corodb::io {

// Ring geometry used by every ring, including the probe.
struct UringConfig {
  unsigned sq_entries = 256;
  unsigned cq_entries = 1024;
};

// Optional kernel features, as bits. Every ring uses those the kernel has and
// works without them (docs/decisions.md says what each missing one costs).
// Required: IORING_SETUP_CQSIZE, the READ, WRITE, FSYNC and NOP opcodes,
// IOSQE_IO_LINK and eventfd registration (Linux 5.6).
enum UringFeature : unsigned {
  kUringSubmitAll = 1u << 0,    // IORING_SETUP_SUBMIT_ALL (5.18)
  kUringCqeSkip = 1u << 1,      // IORING_FEAT_CQE_SKIP (5.17)
  kUringAsyncCancel = 1u << 2,  // IORING_OP_ASYNC_CANCEL (5.5)
  kUringAllFeatures = kUringSubmitAll | kUringCqeSkip | kUringAsyncCancel,
};

// "SUBMIT_ALL CQE_SKIP ASYNC_CANCEL" for the bits set in `features`, or "none".
std::string DescribeUringFeatures(unsigned features);

// Creates and destroys a ring with the real setup flags on the calling thread.
// Returns 0 and stores the UringFeature bits the kernel has in `*features`
// (when not null), or -errno: from io_uring_setup (EPERM under seccomp or
// kernel.io_uring_disabled, ENOSYS, ENOMEM, ...), or EOPNOTSUPP when a
// required opcode is missing. A success is remembered for the process (the
// ring size last probed), except under a testing override below.
int ProbeUring(const UringConfig& config = {}, unsigned* features = nullptr);
// ProbeUring answered from its remembered success for this ring size,
// without a ring; a real probe when none is remembered or a testing
// override is set. For IoBackendKind::kAuto only: the answer can be stale
// (a seccomp filter installed on this thread since, io_uring disabled by
// sysctl since), which kAuto survives (each io_context whose ring then
// fails uses the thread pool, and forgets the answer) but kUring's promise
// to fail the open would not.
int ProbeUringRemembered(const UringConfig& config = {}, unsigned* features = nullptr);
// Drops the remembered success (an io_context's ring setup failed).
void ForgetUringProbe();
// Tests: rings set up so far in this process (probes and io_contexts').
uint64_t UringRingsSetUpForTesting();

// Tests: while non-zero, every ring setup (and the probe) fails with -err.
void SetUringSetupErrorForTesting(int err);
// Tests: rings are set up as on a kernel without the UringFeature bits in
// `features` (setup with SUBMIT_ALL fails with EINVAL, CQE_SKIP is not
// reported, the opcode probe lacks ASYNC_CANCEL). 0 restores the real kernel.
void SetUringMissingFeaturesForTesting(unsigned features);

// The ring system calls a test can make fail.
enum class UringCall { kSubmit, kWaitCqe };
// Tests: while non-zero, every io_uring_submit (kSubmit) or, in a ring's
// shutdown, io_uring_wait_cqe (kWaitCqe) on any ring fails with -err without
// entering the kernel.
void SetUringCallErrorForTesting(UringCall call, int err);

// Counters of one io_context's ring.
struct UringRingStats {
  bool ready = false;      // the ring was set up (false: none, or setup failed)
  unsigned features = 0;   // UringFeature bits it uses
  uint64_t started = 0;    // operations it accepted
  uint64_t parked = 0;     // of those, how many waited for room in the queues
  uint64_t completed = 0;  // operations whose last CQE arrived
  uint64_t cancels = 0;    // operations for which IORING_OP_ASYNC_CANCEL was prepared
  uint64_t submits = 0;    // io_uring_submit calls with SQEs to hand over (one io_uring_enter each)
};

// The counters of `ctx`'s ring; all zero when `ctx` has no ring. Thread-safe.
UringRingStats RingStatsOf(boost::asio::io_context& ctx);

// Operations deliberately leaked, process-wide: an io_context was shut down
// while the kernel still owed their completions and waiting for them failed,
// so their buffers (owned by their handlers) were kept alive rather than
// freed under the kernel.
uint64_t UringOperationsKeptForKernel();

class UringBackend final : public Backend {
 public:
  UringBackend(UringConfig config, std::shared_ptr<Backend> fallback, Logger* logger);
  ~UringBackend() override;

  std::string_view Name() const override { return "uring"; }
  bool AllowsMappedWrites() const override { return true; }
  void Start(const boost::asio::any_io_executor& ex, const IoRequest& req,
             IoHandler handler) override;

  // Ring for operations whose executor is not an io_context (nullptr: the
  // fallback backend). The context must be run by someone (the engine thread)
  // and be reset to nullptr before it is destroyed.
  void SetDefaultContext(boost::asio::io_context* ctx);

 private:
  UringConfig config_;
  std::shared_ptr<Backend> fallback_;
  Logger* logger_;
  std::atomic<boost::asio::io_context*> default_ctx_{nullptr};
};

}  // namespace corodb::io

// UringBackend: positional I/O through io_uring, one ring per io_context.
//
// Rings follow executors: an operation started by a coroutine whose executor
// belongs to an io_context goes to that context's ring, created on first use
// as an Asio service (RingService, in the .cc) on the thread that runs the
// context. Operations from executors that are not an io_context go to the
// default context's ring (SetDefaultContext; the engine's), or, when none is
// set, to the fallback backend. When a ring cannot be created for a context
// (e.g. ENOMEM from locked-memory limits) that context's operations use the
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
// Shutdown of an io_context waits for its ring's in-flight operations to
// complete before their handlers (and the buffers they own) are destroyed.
//
// This file and its .cc are the only users of liburing.h.
#pragma once

#include <atomic>
#include <memory>

#include "io/backend.h"

namespace boost::asio {
class io_context;
}

namespace corodb::io {

// Ring geometry and flags used by every ring, including the probe.
struct UringConfig {
  unsigned sq_entries = 256;
  unsigned cq_entries = 1024;
};

// Creates and destroys a ring with the real setup flags on the calling thread.
// Returns 0, or -errno from io_uring_setup (EPERM under seccomp or
// kernel.io_uring_disabled, ENOSYS, ENOMEM, ...).
int ProbeUring(const UringConfig& config = {});

// Tests: while non-zero, every ring setup (and the probe) fails with -err.
void SetUringSetupErrorForTesting(int err);

class UringBackend final : public Backend {
 public:
  UringBackend(UringConfig config, std::shared_ptr<Backend> fallback, Logger* logger);
  ~UringBackend() override;

  std::string_view Name() const override { return "uring"; }
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

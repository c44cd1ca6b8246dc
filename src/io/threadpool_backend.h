// ThreadPoolBackend: positional I/O as blocking syscalls (pread, pwrite,
// fdatasync, fsync) on an Asio thread pool; completions are posted to the
// handler's executor. Used where io_uring is unavailable or not chosen.
//
// Invariants / thread safety: Start() is thread-safe. Each io_context (or
// other execution context) that has operations in flight owns an in-flight
// counter service; destroying that context waits for its operations to
// leave the kernel before its handlers are destroyed, so no buffer is freed
// under a running syscall. The pool joins its threads on destruction.
//
// Cancellation (best effort): a signal on the handler's cancellation slot
// completes an operation that no pool thread has started with -ECANCELED at
// once; a syscall already running is not interrupted and completes normally.
#pragma once

#include <functional>
#include <memory>
#include <mutex>

#include "io/backend.h"

namespace boost::asio {
class thread_pool;
}

namespace corodb::io {

class ThreadPoolBackend final : public Backend {
 public:
  explicit ThreadPoolBackend(int threads);
  ~ThreadPoolBackend() override;

  std::string_view Name() const override { return "threadpool"; }
  bool AllowsMappedWrites() const override { return true; }
  void Start(const boost::asio::any_io_executor& ex, const IoRequest& req,
             IoHandler handler) override;

  // Tests: runs `task` on a pool thread, queued behind the operations already
  // started (e.g. to keep the pool busy while an operation waits its turn).
  void PostForTesting(std::function<void()> task);

 private:
  // The pool starts on first use: a uring DB keeps one only as a fallback.
  boost::asio::thread_pool& Pool();

  int threads_;
  std::once_flag pool_once_;
  std::unique_ptr<boost::asio::thread_pool> pool_;
};

}  // namespace corodb::io

// The I/O backend interface: one positional read, write or sync at a time,
// completed through an Asio completion handler.
//
// Backends: UringBackend (io_uring, one ring per io_context), ThreadPoolBackend
// (blocking syscalls on a thread pool) and FaultInjectionBackend (tests). File
// (io/file.h) builds the awaitable primitives — short transfers completed,
// errors mapped to Status — on top of Start().
//
// Thread safety: Start() may be called from any thread, concurrently. A
// cancellation signal may arrive on any thread that runs the awaiting
// coroutine, concurrently with the operation completing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>

#include "corodb/options.h"
#include "util/result.h"

namespace corodb {
class Logger;
}

namespace corodb::io {

enum class IoOpcode : uint8_t {
  kRead,
  kWrite,
  kFdatasync,
  kFsync,
  // A write linked to an fdatasync (IOSQE_IO_LINK): the sync runs only after
  // the whole write succeeded; a short or failed write cancels it (-ECANCELED).
  kWriteThenFdatasync,
};

struct IoRequest {
  IoOpcode opcode = IoOpcode::kRead;
  int fd = -1;
  // Data to write or room to read into; unused by syncs. Owned by the caller
  // and must stay valid until the completion handler has run.
  char* buf = nullptr;
  uint32_t len = 0;
  uint64_t offset = 0;
  // Hand the operation to the kernel before Start() returns, instead of at
  // the end of the executor's current turn (the uring backend batches
  // submissions per turn). For an operation whose starter keeps its thread
  // busy afterwards — the WAL's fdatasync, overlapped with memtable
  // insertion. Other backends start every operation at once anyway.
  bool submit_now = false;
};

struct IoCompletion {
  // Bytes transferred (>= 0) or -errno. For syncs, 0 or -errno.
  int32_t res = 0;
  // kWriteThenFdatasync only: the sync's result, -ECANCELED when the write
  // was short or failed.
  int32_t sync_res = 0;
};

using IoHandler = boost::asio::any_completion_handler<void(IoCompletion)>;

class Backend {
 public:
  virtual ~Backend() = default;

  // "uring", "threadpool", or a wrapper's name.
  virtual std::string_view Name() const = 0;

  // Starts `req` for a handler whose associated executor is `ex` (the
  // awaiting coroutine's executor; the type-erased handler cannot tell its
  // context). `handler` runs exactly once, on `ex`, with the kernel's result;
  // never inline inside Start(). The operation keeps `ex`'s context alive
  // (outstanding work) until then. Destroying that context waits for the
  // operation to leave the kernel and then destroys the handler unrun.
  // A Start() that throws (std::bad_alloc) started nothing: the handler is
  // destroyed unrun and nothing is left for the context to wait for.
  //
  // Cancellation: when the cancellation slot associated with `handler`
  // (asio::get_associated_cancellation_slot; an IoHandler keeps the slot of
  // the handler it was made from, so File passes the awaiting coroutine's)
  // is connected, Start() installs its own handler there before the
  // operation can complete. A signal on it (any cancellation type, from the
  // thread that runs the awaiting coroutine) asks the backend to cancel; the
  // handler still runs exactly once, with -ECANCELED if the operation was
  // cancelled, or with its real result if it completed first. Until then the
  // operation keeps `req.buf` in use, cancelled or not. What is cancelled:
  // uring — a parked operation at once, one in the kernel through
  // IORING_OP_ASYNC_CANCEL (a read blocked on a pipe or socket is
  // interrupted; a write or sync already running in the kernel is not);
  // threadpool — only an operation no pool thread has started. A write or
  // sync that completes with -ECANCELED may still have happened in part.
  // Wrappers that forward the handler keep the slot (bind it to their own
  // completion handler if they wrap it).
  virtual void Start(const boost::asio::any_io_executor& ex, const IoRequest& req,
                     IoHandler handler) = 0;

  // Runs `req` with blocking syscalls on the calling thread and returns the
  // result. For operations cheaper than a ring round trip: small appends that
  // only copy into the page cache (the WAL). Wrappers (fault injection) see
  // these operations too.
  virtual IoCompletion RunInline(const IoRequest& req);

  // Hooks for backends that track files by name (fault injection). Called by
  // FileSystem when a file is opened or closed.
  virtual void OnOpen(int /*fd*/, const std::string& /*path*/) {}
  virtual void OnClose(int /*fd*/) {}

  // Hooks for fault injection. BeforeOpen: called by FileSystem::Open before
  // it opens `path`; 0 lets the open go on, an errno fails it with that
  // error instead (BeforeRename below likewise). AllowsCachedReads: false while every read must go through
  // Start() (File::TryReadCached then declines, so no read bypasses it).
  virtual int BeforeOpen(const std::string& /*path*/) { return 0; }
  // BeforeRename: called by FileSystem::Rename before it renames `from` to
  // `to`; 0 lets the rename go on, an errno fails it with that error (and
  // renames nothing).
  virtual int BeforeRename(const std::string& /*from*/, const std::string& /*to*/) {
    return 0;
  }
  virtual bool AllowsCachedReads() const { return true; }
  // Whether a file's appends may bypass the backend by a copy into a shared
  // mapping of the file (File::MapForAppend). False unless a backend says
  // otherwise: one that must see every write (fault injection, whose power
  // cuts roll back what it saw; a test's wrapper around it) must not be
  // bypassed. The io_uring and thread-pool backends allow it.
  virtual bool AllowsMappedWrites() const { return false; }
};

// Runs `req` with blocking syscalls (pread, pwrite, fdatasync, fsync; EINTR
// retried) on the calling thread.
IoCompletion RunBlocking(const IoRequest& req);

// Chooses and creates the backend for `kind`, honouring CORODB_IO_BACKEND.
// kAuto probes io_uring on the calling thread (which should be the thread that
// will drive the ring) and falls back to the thread pool, logging why once.
// kUring fails with NotSupported when io_uring cannot be set up.
Result<std::shared_ptr<Backend>> MakeBackend(IoBackendKind kind, int io_threads,
                                             Logger* logger);

// Parses "uring" / "threadpool" / "auto"; false when `name` is none of them.
bool ParseBackendKind(std::string_view name, IoBackendKind* kind);

}  // namespace corodb::io

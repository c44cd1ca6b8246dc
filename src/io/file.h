// File: an open file with awaitable positional I/O over an io::Backend.
//
// Every primitive completes short transfers internally (a read returns fewer
// bytes than asked only at end of file) and maps -errno to
// Status::IOError("<path>: <op> at offset <n>: <strerror>"), or for a sync
// (which covers the whole file) "<path>: fdatasync: <strerror>".
//
// Buffers: the caller owns them; they must stay valid until the awaitable
// completes (the coroutine that awaits is suspended meanwhile, so buffers on
// its frame are fine). O_DIRECT files need buffers, offsets and lengths
// aligned to 4096 (see AlignedBuffer).
//
// Cancellation: each awaitable primitive honours the awaiting coroutine's
// cancellation slot (e.g. `co_await (f.ReadAt(...) || timer.async_wait(...))`,
// or co_spawn with bind_cancellation_slot): the backend operation in flight
// is cancelled (io/backend.h says how far per backend) and the primitive
// returns IOError("...: Operation canceled") once that operation completes —
// never earlier, since until then the kernel may still use the buffer. An
// operation that completed before the signal returns its real result.
// Meaning per operation: a cancelled read has read nothing the caller may
// rely on; a cancelled write, append or sync may still have happened, wholly
// or in part (re-read, or write and sync again, to know).
//
// Thread safety: distinct operations on one File may run concurrently from
// any thread, except Append/AppendAndSync, which one writer at a time uses
// (they advance append_offset()). Executors: the completion resumes the
// awaiting coroutine on its own executor; with the uring backend an
// io_context's coroutines use that io_context's ring.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "io/backend.h"
#include "util/result.h"

namespace corodb::io {

class File;

// One read of File::ReadMany: up to buf.size() bytes of `file` at `offset`
// (aligned for an O_DIRECT file). The caller owns the file and the buffer.
struct BatchRead {
  File* file = nullptr;
  uint64_t offset = 0;
  std::span<char> buf;
};

class File {
 public:
  // Takes ownership of `fd`. `append_offset` is where Append() writes next.
  // `direct`: the descriptor has O_DIRECT (a short read then means end of file).
  File(std::shared_ptr<Backend> backend, int fd, std::string path, uint64_t append_offset,
       bool direct = false);
  ~File();  // closes the descriptor (blocking close(2))
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::string& path() const { return path_; }
  int fd() const { return fd_; }
  // The alignment an O_DIRECT read needs for its offset and length: the
  // file's own (statx STATX_DIOALIGN, often the device's 512-byte logical
  // block; io/direct_alignment.h), or 4096 where the kernel does not say; 1
  // without O_DIRECT. Buffers stay AlignedBuffers (4096-aligned), which meets
  // every memory alignment a kernel reports up to a page; a device that
  // needs more fails the reads with EINVAL (an IOError naming the file).
  size_t direct_alignment() const { return direct_alignment_; }
  uint64_t append_offset() const { return append_offset_; }

  // Reads up to buf.size() bytes at `offset`. Returns the count read, which is
  // smaller than buf.size() only at end of file.
  // SUSPENDS: one or more backend reads.
  boost::asio::awaitable<Result<size_t>> ReadAt(uint64_t offset, std::span<char> buf);

  // Reads several ranges, of one file or of several, together: every read
  // is handed to its file's backend in this one call, before any completes,
  // so on io_uring they go out in one io_uring_submit (the ring submits what
  // one turn of the executor prepared; reads started by a waiter the ring
  // is resuming go out right after it returns). The thread pool runs them
  // in parallel. Returns, per read and in order, what ReadAt would: the
  // count read (short only at end of file) or IOError naming the file. A
  // short transfer, EINTR or EAGAIN is continued by that read alone.
  // Cancellation: a signal on the awaiting coroutine's slot is passed on to
  // every read in flight (as ReadAt's); the batch completes once they all
  // have. On a ring with more reads than free queue entries, or one shared
  // by the threads of a multi-threaded io_context, the reads may go out in
  // more than one submission.
  // SUSPENDS: until every read has completed. The files and buffers must
  //           stay alive until the awaitable completes.
  static boost::asio::awaitable<std::vector<Result<size_t>>> ReadMany(
      std::span<const BatchRead> reads);

  // Reads buf.size() bytes at `offset` if the kernel can copy them from the
  // page cache without waiting for the disk (preadv2 with RWF_NOWAIT, on
  // this thread). Returns the count read — short when only a prefix is
  // cached or at end of file — or nullopt when nothing can be read that way
  // (the data is not cached: EAGAIN; an O_DIRECT file; a kernel without
  // RWF_NOWAIT; a backend that must see every read). Errors: IOError naming the file. Does not suspend; costs
  // one syscall (measured 2.1 µs for a 4 KiB hit here, against ~11 µs
  // through the ring).
  std::optional<Result<size_t>> TryReadCached(uint64_t offset, std::span<char> buf);
  // Whether reads may bypass the backend (the page cache through
  // TryReadCached, or a mapping of the file): false for O_DIRECT files and
  // while the backend must see every read (fault injection).
  bool AllowsCachedReads() const;

  // Writes all of `data` at `offset`.
  // SUSPENDS: one or more backend writes.
  boost::asio::awaitable<Status> WriteAt(uint64_t offset, std::span<const char> data);

  // One write of up to data.size() bytes at `offset`, without completing a
  // short transfer: the backend's result (bytes written or -errno), for
  // callers that treat some errors (ENOSPC, EFBIG) as expected.
  // SUSPENDS: one backend write.
  boost::asio::awaitable<IoCompletion> WriteAtRaw(uint64_t offset, std::span<const char> data);

  // Status::IOError("<path>: <op> at offset <n>: <strerror>").
  Status ErrorStatus(const char* op, uint64_t offset, int neg_errno) const;

  // Writes `data` at append_offset() and advances it (only on success).
  // SUSPENDS: as WriteAt.
  boost::asio::awaitable<Status> Append(std::span<const char> data);

  // Appends `data` and makes it durable with fdatasync, as one linked
  // submission (IOSQE_IO_LINK on io_uring). A short write cancels the linked
  // sync; the rest is then written and synced separately.
  // SUSPENDS: one linked write+sync in the common case.
  boost::asio::awaitable<Status> AppendAndSync(std::span<const char> data);

  // Appends `data` with pwrite on the calling thread (through the backend's
  // RunInline, so fault injection sees it) and advances append_offset().
  // For small buffered appends — the WAL — where copying into the page cache
  // costs less than a ring round trip (measured: docs/decisions.md).
  // Does not suspend; blocks the thread for the copy (longer if the kernel
  // throttles writeback).
  Status AppendInline(std::span<const char> data);

  // Makes appends up to `length` bytes into the file possible without a
  // system call (the WAL: a pwrite costs 1.6-3.0 µs here, a copy into the
  // page cache through a mapping about 0.2; corodb-append-cost): from here on, appends are
  // copied into a window of kAppendWindow bytes of the file, mapped shared
  // and writable, that moves on as appends pass its end. Copies go only into
  // bytes the file already has: zeros pwritten kAppendZeroChunk at a time
  // ahead of the appends (so the file's size runs up to a chunk past them,
  // zeros, as preallocation leaves them). Never into a hole or fallocated
  // (unwritten) blocks: a write fault that had to allocate or convert a
  // block could fail only as a SIGBUS. Only a window is mapped: writeback of
  // a page still mapped clears its page-table entry and flushes the TLB of
  // every CPU running this process's threads (an IPI per page; a mapping of
  // the whole log spent a quarter of a fill's CPU time there); a page no longer mapped costs nothing.
  // Bytes copied through the mapping are in the page cache at once, as a
  // pwrite's are: they survive the process's death, and an fdatasync of the
  // file (through any of its descriptions) makes them durable.
  // Returns whether the first window is mapped. False on a backend that
  // must see every write (Backend::AllowsMappedWrites), an O_DIRECT file, a
  // file with bytes past append_offset(), or a filesystem on which a write
  // fault into a written page can still need space (only ext4, XFS and
  // tmpfs are trusted: on a copy-on-write filesystem such as btrfs a full
  // disk would be a SIGBUS, not an error), or a failed mmap.
  // Thread safety: MapForAppend, TryAppendMapped, AppendInline, Append and
  // Truncate are for one writer at a time.
  bool MapForAppend(uint64_t length);
  // Copies `data` to append_offset() through the mapping and advances
  // append_offset(), moving the window and writing the next chunk of zeros
  // first when needed; else writes nothing and returns false (the caller
  // appends with AppendInline): past `length`, a record larger than a
  // window, no mapping (refused, or given up after a failed zero write —
  // ENOSPC, EIO, RLIMIT_FSIZE — or mmap). Does not suspend; no system call
  // except a page fault when the copy enters a page first or again after
  // writeback cleaned it, and every chunk (fstat, getrlimit, pwrite of
  // zeros) and window (munmap, mmap).
  bool TryAppendMapped(std::span<const char> data);
  static constexpr uint64_t kAppendWindow = 256 << 10;
  // Zeros are written this far ahead: what an fdatasync may write back of
  // them before the records overwrite them is at most this much.
  static constexpr uint64_t kAppendZeroChunk = 64 << 10;
  // Bytes appended through the mapping so far.
  uint64_t mapped_append_bytes() const { return mapped_append_bytes_; }

  // fdatasync(2) on the calling thread (through the backend's RunInline).
  // Blocks for the whole sync: only for threads that have nothing else to do.
  Status SyncInline();

  // fdatasync(2): file data (and the size) durable.
  boost::asio::awaitable<Status> Sync();

  using SyncHandler = boost::asio::any_completion_handler<void(Status)>;
  // fdatasync(2), handed to the kernel before this returns (Sync() submits
  // only once the caller suspends); `done` runs on `ex` with the status, never
  // inside this call. For a caller that keeps its thread busy while the sync
  // runs (the WAL: memtable insertion overlaps the sync). The File must stay
  // alive until `done` has run.
  void StartSync(const boost::asio::any_io_executor& ex, SyncHandler done);
  // fsync(2): data and all metadata durable.
  boost::asio::awaitable<Status> FullSync();

  // Current size from fstat (blocking, cheap).
  Result<uint64_t> Size() const;
  // ftruncate (blocking); also moves append_offset() to `size` when beyond it.
  // Unmaps the append window first when `size` cuts into it (the next mapped
  // append maps and zeroes anew).
  Status Truncate(uint64_t size);

 private:
  boost::asio::awaitable<IoCompletion> Submit(IoRequest req);

  std::shared_ptr<Backend> backend_;
  int fd_;
  std::string path_;
  uint64_t append_offset_;
  bool direct_;
  size_t direct_alignment_;
  bool MapAppendWindow(uint64_t offset);
  bool ZeroAhead(uint64_t end);
  void StopMappedAppends();

  // MapForAppend: appends may be mapped up to append_limit_ (0: none); the
  // file has written bytes up to append_zeroed_ at least; the window maps
  // [append_map_start_, +append_map_length_) at append_map_.
  uint64_t append_limit_ = 0;
  uint64_t append_zeroed_ = 0;
  char* append_map_ = nullptr;
  uint64_t append_map_start_ = 0;
  uint64_t append_map_length_ = 0;
  uint64_t mapped_append_bytes_ = 0;
};

// A heap buffer aligned for O_DIRECT (4096 bytes).
class AlignedBuffer {
 public:
  static constexpr size_t kAlignment = 4096;
  // An empty buffer (no memory; data() is null).
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t size);
  ~AlignedBuffer();
  AlignedBuffer(AlignedBuffer&& other) noexcept;
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  char* data() { return data_; }
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<char> span() { return {data_, size_}; }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace corodb::io

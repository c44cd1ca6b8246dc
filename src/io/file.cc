#include "io/file.h"

#include <sys/uio.h>

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "io/direct_alignment.h"

namespace corodb::io {
namespace asio = boost::asio;

namespace {
// Largest single transfer handed to the backend (io_uring takes 32-bit lengths).
constexpr size_t kMaxChunk = size_t{1} << 30;
// EAGAIN results retried in a row before an operation fails with it (a ring
// that cannot submit reports EAGAIN after retrying itself).
constexpr int kMaxAgainRetries = 3;

bool Cancelled(const asio::cancellation_state& state) {
  return state.cancelled() != asio::cancellation_type::none;
}

// The operations of one File::ReadMany. Each read's completion lands in its
// slot; the last one to arrive completes the batch (on the batch's
// executor, where the backend runs every read's handler).
// (Its handler is only ever move-constructed: Boost 1.81's
// any_completion_handler move-assignment recurses without end.)
struct ReadManyState {
  using Handler = asio::any_completion_handler<void(std::vector<IoCompletion>)>;
  ReadManyState(size_t n, Handler&& h)
      : completions(n), remaining(n), signals(n), handler(std::move(h)) {}
  std::vector<IoCompletion> completions;
  std::atomic<size_t> remaining;
  // One per read: the awaiting coroutine's cancellation reaches every read.
  std::vector<asio::cancellation_signal> signals;
  asio::cancellation_slot awaiting_slot;  // the coroutine's, while connected
  Handler handler;
};

// Installed in the awaiting coroutine's slot: passes a signal on to every
// read. It holds the state weakly: the state owns the coroutine's handler,
// which owns the slot.
struct ForwardCancellation {
  std::weak_ptr<ReadManyState> state;
  void operator()(asio::cancellation_type_t type) const {
    if (const std::shared_ptr<ReadManyState> s = state.lock()) {
      for (asio::cancellation_signal& signal : s->signals) signal.emit(type);
    }
  }
};

// One read's completion handler.
struct ReadManyDone {
  std::shared_ptr<ReadManyState> state;
  size_t index;
  void operator()(IoCompletion c) const {
    state->completions[index] = c;
    if (state->remaining.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (state->awaiting_slot.is_connected()) state->awaiting_slot.clear();
    auto handler = std::move(state->handler);
    std::move(handler)(std::move(state->completions));
  }
};

// Starts every read in one call (a named initiation: GCC 12 mishandles
// non-trivial temporaries that live across a co_await).
struct ReadManyInitiation {
  std::vector<std::pair<Backend*, IoRequest>> ops;

  template <typename Handler>
  void operator()(Handler&& handler) {
    // Moved out first: once the last read is started, another thread may
    // complete the batch and resume the coroutine, destroying the frame
    // that holds this initiation while this call still runs.
    const std::vector<std::pair<Backend*, IoRequest>> starts = std::move(ops);
    const asio::any_io_executor ex = asio::get_associated_executor(handler);
    asio::cancellation_slot slot = asio::get_associated_cancellation_slot(handler);
    auto state = std::make_shared<ReadManyState>(
        starts.size(), ReadManyState::Handler(std::forward<Handler>(handler)));
    if (slot.is_connected()) {
      state->awaiting_slot = slot;
      slot.template emplace<ForwardCancellation>(ForwardCancellation{state});
    }
    for (size_t i = 0; i < starts.size(); ++i) {
      starts[i].first->Start(ex, starts[i].second,
                             IoHandler(asio::bind_cancellation_slot(state->signals[i].slot(),
                                                                    ReadManyDone{state, i})));
    }
  }
};
}  // namespace

size_t ChooseDirectAlignment(bool reported, uint32_t offset_align) {
  constexpr uint32_t kMaxAlign = 1u << 20;
  const bool power_of_two = offset_align != 0 && (offset_align & (offset_align - 1)) == 0;
  if (!reported || !power_of_two || offset_align > kMaxAlign) return AlignedBuffer::kAlignment;
  return offset_align;
}

namespace {

size_t DirectAlignment(int fd) {
  struct statx st;
  const bool reported =
      ::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &st) == 0 && (st.stx_mask & STATX_DIOALIGN) != 0;
  return ChooseDirectAlignment(reported, reported ? st.stx_dio_offset_align : 0);
}

}  // namespace

File::File(std::shared_ptr<Backend> backend, int fd, std::string path, uint64_t append_offset,
           bool direct)
    : backend_(std::move(backend)),
      fd_(fd),
      path_(std::move(path)),
      append_offset_(append_offset),
      direct_(direct),
      direct_alignment_(direct ? DirectAlignment(fd) : 1) {}

File::~File() {
  if (append_map_ != nullptr) ::munmap(append_map_, append_map_length_);
  if (fd_ >= 0) {
    backend_->OnClose(fd_);
    ::close(fd_);
  }
}

// The completion handler carries the awaiting coroutine's cancellation slot
// (asio::get_associated_cancellation_slot(handler)); IoHandler keeps it and
// Backend::Start connects it, so a cancelled coroutine's operation is
// cancelled in the backend and completes with -ECANCELED.
asio::awaitable<IoCompletion> File::Submit(IoRequest req) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(IoCompletion)>(
      [backend = backend_.get()](auto handler, IoRequest r) {
        const asio::any_io_executor ex = asio::get_associated_executor(handler);
        backend->Start(ex, r, IoHandler(std::move(handler)));
      },
      asio::use_awaitable, req);
}

bool File::AllowsCachedReads() const { return !direct_ && backend_->AllowsCachedReads(); }

std::optional<Result<size_t>> File::TryReadCached(uint64_t offset, std::span<char> buf) {
  if (buf.empty() || !AllowsCachedReads()) return std::nullopt;
  struct iovec iov {
    buf.data(), buf.size()
  };
  for (;;) {
    // The system call itself: glibc's preadv2 wraps it as a cancellation
    // point (two extra calls around it), a measurable part of a block-cache
    // miss served from the page cache. On 64-bit Linux the offset's high
    // half argument is ignored.
    static_assert(sizeof(long) == 8, "the offset is passed as one 64-bit argument");
    const ssize_t n = ::syscall(SYS_preadv2, static_cast<long>(fd_), &iov, 1L,
                                static_cast<long>(offset), 0L, static_cast<long>(RWF_NOWAIT));
    if (n >= 0) {
      if (n == 0) {
        const Result<uint64_t> size = Size();
        if (size.ok() && offset < *size) return std::nullopt;  // nothing cached
      }
      return Result<size_t>(static_cast<size_t>(n));
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL) {
      return std::nullopt;
    }
    return Result<size_t>(ErrorStatus("read", offset, -errno));
  }
}

namespace {

// A sync covers the whole file, and the description it ran on may have
// appended nothing (a log's sync-only descriptions): no offset is named.
Status SyncError(const std::string& path, const char* op, int neg_errno) {
  return Status::IOError(path, std::string(op) + ": " + std::strerror(-neg_errno));
}

}  // namespace

Status File::ErrorStatus(const char* op, uint64_t offset, int neg_errno) const {
  std::string detail(op);
  detail += " at offset " + std::to_string(offset) + ": " + std::strerror(-neg_errno);
  return Status::IOError(path_, detail);
}

asio::awaitable<Result<size_t>> File::ReadAt(uint64_t offset, std::span<char> buf) {
  size_t done = 0;
  int again = 0;
  while (done < buf.size()) {
    // Cancelled between two submissions: a Status, not co_await's exception.
    if (Cancelled(co_await asio::this_coro::cancellation_state)) {
      co_return ErrorStatus("read", offset + done, -ECANCELED);
    }
    const auto chunk = static_cast<uint32_t>(std::min(buf.size() - done, kMaxChunk));
    const IoCompletion c =
        co_await Submit({IoOpcode::kRead, fd_, buf.data() + done, chunk, offset + done});
    if (c.res == -EINTR || (c.res == -EAGAIN && ++again <= kMaxAgainRetries)) continue;
    again = 0;
    if (c.res < 0) co_return ErrorStatus("read", offset + done, c.res);
    if (c.res == 0) break;  // end of file
    done += static_cast<size_t>(c.res);
    // With O_DIRECT a short read ends at end of file; the next offset would be unaligned.
    if (direct_ && static_cast<uint32_t>(c.res) < chunk) break;
  }
  co_return done;
}

asio::awaitable<std::vector<Result<size_t>>> File::ReadMany(std::span<const BatchRead> reads) {
  std::vector<Result<size_t>> results;
  results.reserve(reads.size());
  if (reads.empty()) co_return results;
  ReadManyInitiation initiation;
  initiation.ops.reserve(reads.size());
  for (const BatchRead& r : reads) {
    const auto chunk = static_cast<uint32_t>(std::min(r.buf.size(), kMaxChunk));
    initiation.ops.emplace_back(
        r.file->backend_.get(),
        IoRequest{IoOpcode::kRead, r.file->fd_, r.buf.data(), chunk, r.offset});
  }
  using Signature = void(std::vector<IoCompletion>);
  const std::vector<IoCompletion> first =
      co_await asio::async_initiate<const asio::use_awaitable_t<>&, Signature>(
          std::move(initiation), asio::use_awaitable);
  for (size_t i = 0; i < reads.size(); ++i) {
    const BatchRead& r = reads[i];
    const int32_t res = first[i].res;
    size_t got = 0;
    if (res >= 0) {
      got = static_cast<size_t>(res);
      // Done: all of it, end of file, or (O_DIRECT) a short read at its end.
      if (got == r.buf.size() || res == 0 ||
          (r.file->direct_ && got < std::min(r.buf.size(), kMaxChunk))) {
        results.emplace_back(got);
        continue;
      }
    } else if (res != -EINTR && res != -EAGAIN) {
      results.emplace_back(r.file->ErrorStatus("read", r.offset, res));
      continue;
    }
    // The rest as ReadAt reads it (rare: a short transfer or an interrupted read).
    // Cancelled meanwhile: a Status, as ReadAt returns between two
    // submissions (co_await in a cancelled coroutine would throw).
    if (Cancelled(co_await asio::this_coro::cancellation_state)) {
      results.emplace_back(r.file->ErrorStatus("read", r.offset + got, -ECANCELED));
      continue;
    }
    Result<size_t> rest = co_await r.file->ReadAt(r.offset + got, r.buf.subspan(got));
    if (!rest.ok()) {
      results.emplace_back(rest.status());
    } else {
      results.emplace_back(got + *rest);
    }
  }
  co_return results;
}

asio::awaitable<IoCompletion> File::WriteAtRaw(uint64_t offset, std::span<const char> data) {
  const auto len = static_cast<uint32_t>(std::min(data.size(), kMaxChunk));
  co_return co_await Submit({IoOpcode::kWrite, fd_, const_cast<char*>(data.data()), len, offset});
}

asio::awaitable<Status> File::WriteAt(uint64_t offset, std::span<const char> data) {
  size_t done = 0;
  int again = 0;
  while (done < data.size()) {
    if (Cancelled(co_await asio::this_coro::cancellation_state)) {
      co_return ErrorStatus("write", offset + done, -ECANCELED);
    }
    const auto chunk = static_cast<uint32_t>(std::min(data.size() - done, kMaxChunk));
    const IoCompletion c = co_await Submit(
        {IoOpcode::kWrite, fd_, const_cast<char*>(data.data()) + done, chunk, offset + done});
    if (c.res == -EINTR || (c.res == -EAGAIN && ++again <= kMaxAgainRetries)) continue;
    again = 0;
    if (c.res < 0) co_return ErrorStatus("write", offset + done, c.res);
    if (c.res == 0) co_return ErrorStatus("write", offset + done, -ENOSPC);
    done += static_cast<size_t>(c.res);
  }
  co_return Status::OK();
}

asio::awaitable<Status> File::Append(std::span<const char> data) {
  Status s = co_await WriteAt(append_offset_, data);
  if (s.ok()) append_offset_ += data.size();
  co_return s;
}

Status File::AppendInline(std::span<const char> data) {
  size_t done = 0;
  while (done < data.size()) {
    const auto chunk = static_cast<uint32_t>(std::min(data.size() - done, kMaxChunk));
    const IoCompletion c = backend_->RunInline({IoOpcode::kWrite, fd_,
                                                const_cast<char*>(data.data()) + done, chunk,
                                                append_offset_ + done});
    if (c.res == -EINTR || c.res == -EAGAIN) continue;
    if (c.res < 0) return ErrorStatus("write", append_offset_ + done, c.res);
    if (c.res == 0) return ErrorStatus("write", append_offset_ + done, -ENOSPC);
    done += static_cast<size_t>(c.res);
  }
  append_offset_ += data.size();
  return Status::OK();
}

asio::awaitable<Status> File::AppendAndSync(std::span<const char> data) {
  if (data.empty() || data.size() > kMaxChunk) {
    if (Status s = co_await Append(data); !s.ok()) co_return s;
    co_return co_await Sync();
  }
  const IoCompletion c = co_await Submit({IoOpcode::kWriteThenFdatasync, fd_,
                                          const_cast<char*>(data.data()),
                                          static_cast<uint32_t>(data.size()), append_offset_});
  if (c.res < 0 && c.res != -EINTR) co_return ErrorStatus("write", append_offset_, c.res);
  const size_t written = c.res > 0 ? static_cast<size_t>(c.res) : 0;
  if (written == data.size()) {
    if (c.sync_res < 0) co_return SyncError(path_, "fdatasync", c.sync_res);
    append_offset_ += written;
    co_return Status::OK();
  }
  // Short write: the kernel cancelled the linked sync (-ECANCELED). Finish the
  // write, then sync on its own (unless the caller was cancelled meanwhile).
  if (Cancelled(co_await asio::this_coro::cancellation_state)) {
    co_return ErrorStatus("write", append_offset_ + written, -ECANCELED);
  }
  if (Status s = co_await WriteAt(append_offset_ + written, data.subspan(written)); !s.ok()) {
    co_return s;
  }
  append_offset_ += data.size();
  co_return co_await Sync();
}

Status File::SyncInline() {
  for (;;) {
    const IoCompletion c = backend_->RunInline({IoOpcode::kFdatasync, fd_, nullptr, 0, 0});
    if (c.res == -EINTR) continue;
    if (c.res < 0) return SyncError(path_, "fdatasync", c.res);
    return Status::OK();
  }
}

asio::awaitable<Status> File::Sync() {
  for (;;) {
    if (Cancelled(co_await asio::this_coro::cancellation_state)) {
      co_return SyncError(path_, "fdatasync", -ECANCELED);
    }
    const IoCompletion c = co_await Submit({IoOpcode::kFdatasync, fd_, nullptr, 0, 0});
    if (c.res == -EINTR) continue;
    if (c.res < 0) co_return SyncError(path_, "fdatasync", c.res);
    co_return Status::OK();
  }
}

void File::StartSync(const asio::any_io_executor& ex, SyncHandler done) {
  IoRequest req{IoOpcode::kFdatasync, fd_, nullptr, 0, 0};
  req.submit_now = true;
  backend_->Start(ex, req,
                  IoHandler([this, ex, done = std::move(done)](IoCompletion c) mutable {
                    if (c.res == -EINTR) {
                      StartSync(ex, std::move(done));
                      return;
                    }
                    std::move(done)(c.res < 0 ? SyncError(path_, "fdatasync", c.res)
                                              : Status::OK());
                  }));
}

asio::awaitable<Status> File::FullSync() {
  for (;;) {
    if (Cancelled(co_await asio::this_coro::cancellation_state)) {
      co_return SyncError(path_, "fsync", -ECANCELED);
    }
    const IoCompletion c = co_await Submit({IoOpcode::kFsync, fd_, nullptr, 0, 0});
    if (c.res == -EINTR) continue;
    if (c.res < 0) co_return SyncError(path_, "fsync", c.res);
    co_return Status::OK();
  }
}

Result<uint64_t> File::Size() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return Status::IOError(path_, std::strerror(errno));
  return static_cast<uint64_t>(st.st_size);
}

namespace {

// Filesystems on which a write fault into a page that a pwrite already
// wrote (and so reserved or allocated its block) has nothing to allocate,
// so cannot fail for want of space. Not copy-on-write filesystems (btrfs),
// where every rewrite of a page needs new space at its fault.
bool TrustsMappedWrites(int fd) {
  struct statfs fs;
  if (::fstatfs(fd, &fs) != 0) return false;
  switch (static_cast<unsigned long>(fs.f_type)) {
    case EXT4_SUPER_MAGIC:  // also ext2/3
    case XFS_SUPER_MAGIC:
    case TMPFS_MAGIC:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool File::MapForAppend(uint64_t length) {
  if (append_limit_ != 0 || direct_ || length <= append_offset_ ||
      !backend_->AllowsMappedWrites() || !TrustsMappedWrites(fd_)) {
    return false;
  }
  struct stat st;
  if (::fstat(fd_, &st) != 0 || static_cast<uint64_t>(st.st_size) > append_offset_) return false;
  append_limit_ = length;
  append_zeroed_ = static_cast<uint64_t>(st.st_size);
  return MapAppendWindow(append_offset_);  // false: given up, as after any failure
}

void File::StopMappedAppends() {
  if (append_map_ != nullptr) ::munmap(append_map_, append_map_length_);
  append_map_ = nullptr;
  append_limit_ = 0;
}

bool File::MapAppendWindow(uint64_t offset) {
  if (append_map_ != nullptr) {
    ::munmap(append_map_, append_map_length_);
    append_map_ = nullptr;
  }
  static const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t start = offset / page * page;
  const uint64_t length = std::min(kAppendWindow, append_limit_ - start);
  // The window may reach past the end of the file: only bytes below
  // append_zeroed_ (inside the file) are ever touched.
  void* p = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd_,
                   static_cast<off_t>(start));
  if (p == MAP_FAILED) {
    StopMappedAppends();
    return false;
  }
  append_map_ = static_cast<char*>(p);
  append_map_start_ = start;
  append_map_length_ = length;
  return true;
}

bool File::ZeroAhead(uint64_t end) {
  static const std::string zeros(kAppendZeroChunk, '\0');
  struct stat st;
  if (::fstat(fd_, &st) != 0) {
    StopMappedAppends();
    return false;
  }
  // Bytes below the file's size exist already (records, or zeros a sync
  // group's preallocation wrote).
  uint64_t at = std::max(append_offset_, static_cast<uint64_t>(st.st_size));
  if (at >= end) {
    append_zeroed_ = at;
    return true;
  }
  // Up to the next chunk boundary, within the window and the limit, and
  // under RLIMIT_FSIZE (a write past it would raise SIGXFSZ).
  uint64_t target = std::min({(end + kAppendZeroChunk - 1) / kAppendZeroChunk * kAppendZeroChunk,
                              append_map_start_ + append_map_length_, append_limit_});
  struct rlimit fsize;
  if (::getrlimit(RLIMIT_FSIZE, &fsize) == 0 && fsize.rlim_cur != RLIM_INFINITY) {
    target = std::min<uint64_t>(target, fsize.rlim_cur);
  }
  if (target < end) {
    StopMappedAppends();
    return false;
  }
  while (at < target) {
    const auto n = static_cast<uint32_t>(std::min<uint64_t>(target - at, zeros.size()));
    const IoCompletion c =
        backend_->RunInline({IoOpcode::kWrite, fd_, const_cast<char*>(zeros.data()), n, at});
    if (c.res == -EINTR || c.res == -EAGAIN) continue;
    if (c.res <= 0) {
      // ENOSPC, EDQUOT, EFBIG, EIO: no more mapping for this file; the
      // record goes out with pwrite, which reports its own error. Zeros
      // written so far are truncated at the switch or a clean close.
      StopMappedAppends();
      return false;
    }
    at += static_cast<uint64_t>(c.res);
  }
  append_zeroed_ = target;
  return true;
}

bool File::TryAppendMapped(std::span<const char> data) {
  if (append_limit_ == 0 || append_offset_ > append_limit_ ||
      data.size() > append_limit_ - append_offset_) {
    return false;
  }
  const uint64_t end = append_offset_ + data.size();
  if (append_map_ == nullptr || append_offset_ < append_map_start_ ||
      end > append_map_start_ + append_map_length_) {
    // The window moves to the page holding append_offset(); a record that
    // would not fit in it (larger than a window) goes out with pwrite.
    static const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    if (append_offset_ % page + data.size() > kAppendWindow) return false;
    if (!MapAppendWindow(append_offset_)) return false;
  }
  // Only into bytes the file has: pwritten zeros, never a hole or past the
  // end (blocks a write fault would have to allocate, or a SIGBUS).
  if (end > append_zeroed_ && !ZeroAhead(end)) return false;
  std::memcpy(append_map_ + (append_offset_ - append_map_start_), data.data(), data.size());
  append_offset_ = end;
  mapped_append_bytes_ += data.size();
  return true;
}

Status File::Truncate(uint64_t size) {
  if (append_map_ != nullptr && size < append_map_start_ + append_map_length_) {
    ::munmap(append_map_, append_map_length_);  // the next mapped append maps anew
    append_map_ = nullptr;
  }
  if (size < append_zeroed_) append_zeroed_ = size;
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    return Status::IOError(path_, std::string("ftruncate: ") + std::strerror(errno));
  }
  if (append_offset_ > size) append_offset_ = size;
  return Status::OK();
}

AlignedBuffer::AlignedBuffer(size_t size) : size_(size) {
  const size_t rounded = (size + kAlignment - 1) / kAlignment * kAlignment;
  data_ = static_cast<char*>(std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded));
  if (data_ == nullptr) throw std::bad_alloc();
}

AlignedBuffer::~AlignedBuffer() { std::free(data_); }

AlignedBuffer::AlignedBuffer(AlignedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& other) noexcept {
  if (this != &other) {
    std::free(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

}  // namespace corodb::io

// DB::Open, DestroyDB, RepairDB and the SyncDB facade.
#include <exception>
#include <optional>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "corodb/sync_db.h"
#include "db/block_cache_holder.h"
#include "db/db_impl.h"
#include "db/repair.h"
#include "io/file_names.h"
#include "io/file_system.h"
#include "io/lock_file.h"

namespace corodb {
namespace asio = boost::asio;

asio::awaitable<Result<std::unique_ptr<DB>>> DB::Open(const Options& options,
                                                      const std::string& name) {
  co_return co_await OpenDBWithBackend(options, name, nullptr);
}

namespace {

// Options that cannot work are refused with the field's name.
Status CheckOptions(const Options& o) {
  if (o.write_buffer_size == 0) return Status::InvalidArgument("write_buffer_size", "must be > 0");
  if (o.max_file_size == 0) return Status::InvalidArgument("max_file_size", "must be > 0");
  if (o.block_size == 0) return Status::InvalidArgument("block_size", "must be > 0");
  if (o.block_restart_interval < 1) {
    return Status::InvalidArgument("block_restart_interval", "must be >= 1");
  }
  if (o.background_threads < 1) return Status::InvalidArgument("background_threads", "must be >= 1");
  if (o.compaction_readahead_size > (size_t{1} << 30)) {
    return Status::InvalidArgument("compaction_readahead_size", "must be <= 1 GiB");
  }
  if (o.block_cache != nullptr && BlockCacheOf(*o.block_cache) == nullptr) {
    return Status::InvalidArgument("block_cache", "must come from corodb::NewLRUCache");
  }
  return Status::OK();
}

}  // namespace

asio::awaitable<Result<std::unique_ptr<DB>>> OpenDBWithBackend(
    const Options& options, const std::string& name, std::shared_ptr<io::Backend> backend) {
  if (Status s = CheckOptions(options); !s.ok()) co_return s;
  auto impl = std::make_unique<DBImpl>(options, name, std::move(backend));
  // Recovery runs on the engine executor: its ring and thread do the I/O.
  Status s = co_await asio::co_spawn(impl->engine_executor(), impl->OpenOnEngine(),
                                     asio::use_awaitable);
  if (!s.ok()) co_return s;
  co_return std::unique_ptr<DB>(std::move(impl));
}

Status DestroyDB(const std::string& name, const Options& /*options*/) {
  auto names = io::ListDir(name);
  if (!names.ok()) return names.status().IsNotFound() ? Status::OK() : names.status();
  const std::string lock_path = io::LockFileName(name);
  auto lock = io::LockFile::Acquire(lock_path);
  if (!lock.ok()) return lock.status();
  Status result;
  for (const std::string& file : *names) {
    uint64_t number;
    io::FileType type;
    if (io::ParseFileName(file, &number, &type) && type != io::FileType::kDBLockFile) {
      if (Status s = io::RemoveFile(name + "/" + file); !s.ok() && result.ok()) result = s;
    }
  }
  lock->reset();
  (void)io::RemoveFile(lock_path);
  (void)io::RemoveDir(name);  // fails harmlessly when foreign files remain
  return result;
}

namespace {

// Where a repair runs: Options::engine_context, as a DB would use it, or an
// io_context of its own run by a thread of its own until the repair is done
// (repair reads and rewrites whole files: not on the caller's executor).
class RepairExecutor {
 public:
  explicit RepairExecutor(asio::io_context* given) : ctx_(given) {
    if (ctx_ != nullptr) return;
    owned_ = std::make_unique<asio::io_context>(1);
    ctx_ = owned_.get();
    work_.emplace(ctx_->get_executor());
    thread_ = std::thread([ctx = ctx_] { ctx->run(); });
  }
  ~RepairExecutor() {
    if (!owned_) return;
    work_.reset();
    thread_.join();  // the repair is done: only its completion was left
  }
  RepairExecutor(const RepairExecutor&) = delete;
  RepairExecutor& operator=(const RepairExecutor&) = delete;

  asio::io_context* context() const { return ctx_; }

 private:
  std::unique_ptr<asio::io_context> owned_;
  asio::io_context* ctx_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
};

}  // namespace

asio::awaitable<Status> RepairDB(const std::string& name, const Options& options) {
  co_return co_await RepairDBWithBackend(name, options, nullptr);
}

asio::awaitable<Status> RepairDBWithBackend(const std::string& name, const Options& options,
                                            std::shared_ptr<io::Backend> backend) {
  if (Status s = CheckOptions(options); !s.ok()) co_return s;
  RepairExecutor executor(options.engine_context);
  co_return co_await asio::co_spawn(
      *executor.context(), RunRepair(name, options, executor.context(), std::move(backend)),
      asio::use_awaitable);
}

namespace {

// Runs `aw` on the calling thread, on a context of this thread's own, until it
// completes: the write commits here when nobody else holds the commit role,
// a read never waits behind the commit loop, and an I/O the coroutine awaits
// goes through this thread's ring. (One context per thread, reused: its ring
// is set up once.)
template <typename T>
T RunOnThisThread(asio::awaitable<T> aw) {
  thread_local asio::io_context ctx(1);
  std::optional<T> result;
  std::exception_ptr error;
  asio::co_spawn(ctx, std::move(aw), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) result.emplace(std::move(value));
  });
  ctx.restart();
  ctx.run();  // returns when the call and every I/O it started are done
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

}  // namespace

Result<std::unique_ptr<SyncDB>> SyncDB::Open(const Options& options, const std::string& name) {
  Result<std::unique_ptr<DB>> db = RunOnThisThread(DB::Open(options, name));
  if (!db.ok()) return db.status();
  return std::make_unique<SyncDB>(std::move(db).value());
}

Status SyncDB::Repair(const std::string& name, const Options& options) {
  return RunOnThisThread(RepairDB(name, options));
}

SyncDB::SyncDB(std::unique_ptr<DB> db) : db_(std::move(db)), impl_(dynamic_cast<DBImpl*>(db_.get())) {}

SyncDB::~SyncDB() = default;

// Each method first tries the DB's fast path on this thread (the same code
// the coroutine runs first), then runs the coroutine.
Status SyncDB::Put(const WriteOptions& o, Slice key, Slice value) {
  WriteBatch batch;
  batch.Put(key, value);
  return Write(o, batch);
}
Status SyncDB::Delete(const WriteOptions& o, Slice key) {
  WriteBatch batch;
  batch.Delete(key);
  return Write(o, batch);
}
Status SyncDB::Write(const WriteOptions& o, const WriteBatch& batch) {
  if (impl_ != nullptr) {
    if (std::optional<Status> s = impl_->TryWriteNow(o, batch)) return *s;
  }
  return RunOnThisThread(db_->Write(o, batch));
}
Result<std::string> SyncDB::Get(const ReadOptions& o, Slice key) {
  if (impl_ != nullptr) {
    if (std::optional<Result<std::string>> r = impl_->TryGetNow(o, key)) return std::move(*r);
  }
  return RunOnThisThread(db_->Get(o, key));
}
std::vector<Result<std::string>> SyncDB::MultiGet(const ReadOptions& o,
                                                  std::span<const Slice> keys) {
  return RunOnThisThread(db_->MultiGet(o, keys));
}
Status SyncDB::Close() { return RunOnThisThread(db_->Close()); }
Status SyncDB::CompactRange(const Slice* begin, const Slice* end) {
  return RunOnThisThread(db_->CompactRange(begin, end));
}
std::vector<uint64_t> SyncDB::GetApproximateSizes(std::span<const DB::Range> ranges) {
  return RunOnThisThread(db_->GetApproximateSizes(ranges));
}

namespace {
// RunOnThisThread for the awaitable<void> of an iterator move.
void RunMove(asio::awaitable<void> move) {
  RunOnThisThread([](asio::awaitable<void> m) -> asio::awaitable<bool> {
    co_await std::move(m);
    co_return true;
  }(std::move(move)));
}
}  // namespace

void SyncIterator::SeekToFirst() { RunMove(it_->SeekToFirst()); }
void SyncIterator::SeekToLast() { RunMove(it_->SeekToLast()); }
// A declined TrySeek is not tried again (unlike Next below): after one
// declined for a read, a second try would repeat the seek's work before
// declining for the same read; one declined at a read turn's end costs the
// Seek's yield, which is what the turn asks for.
void SyncIterator::Seek(Slice target) {
  if (!it_->TrySeek(target)) RunMove(it_->Seek(target));
}
// A Try* move also declines when it is the thread's turn to yield to its
// executor; this thread runs nothing else meanwhile, so the move is tried
// once more before paying for a coroutine (a move that needs I/O declines
// again at once).
void SyncIterator::Next() {
  if (!it_->TryNext() && !it_->TryNext()) RunMove(it_->Next());
}
void SyncIterator::Prev() {
  if (!it_->TryPrev() && !it_->TryPrev()) RunMove(it_->Prev());
}

}  // namespace corodb

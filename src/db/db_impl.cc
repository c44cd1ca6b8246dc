#include "db/db_impl.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <future>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "db/config.h"
#include "db/recovery.h"
#include "db/write_batch_internal.h"
#include "io/file_names.h"
#include "io/uring_backend.h"
#include "log/log_format.h"

namespace corodb {
namespace asio = boost::asio;

namespace {

// Runs `aw` on a private io_context on the calling thread until it is done.
template <typename T>
T RunHere(asio::awaitable<T> aw) {
  asio::io_context ctx(1);
  std::future<T> result = asio::co_spawn(ctx, std::move(aw), asio::use_future);
  ctx.run();
  return result.get();
}

}  // namespace

// Adds to a statistic only the commit role holder writes (so no atomic
// read-modify-write is needed; readers on other threads load it relaxed).
static void AddStat(std::atomic<uint64_t>& stat, uint64_t n) {
  stat.store(stat.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// Debug builds check "REQUIRES: on engine executor".
#define CORODB_ASSERT_ON_ENGINE() assert(engine_->get_executor().running_in_this_thread())

DBImpl::DBImpl(const Options& options, std::string name, std::shared_ptr<io::Backend> backend)
    : options_(options),
      name_(std::move(name)),
      icmp_(options.comparator != nullptr ? options.comparator : BytewiseComparator()),
      owned_engine_(options.engine_context == nullptr ? std::make_unique<asio::io_context>()
                                                      : nullptr),
      engine_(options.engine_context != nullptr ? options.engine_context : owned_engine_.get()),
      backend_override_(std::move(backend)),
      write_queue_(engine_->get_executor(), this, config::kMaxGroupsInFlight) {
  if (owned_engine_) {
    engine_work_.emplace(engine_->get_executor());
    engine_thread_ = std::thread([this] { engine_->run(); });
  }
  auto state = std::make_shared<MemState>();
  state->mem = MemTable::Create(icmp_);
  mem_ = state->mem.get();
  state_ = std::move(state);
}

DBImpl::~DBImpl() {
  // A writer this thread is resuming may be what destroys the DB: the
  // resuming code must not touch the queue afterwards.
  write_queue_.ForgetResumingThread();
  if (opened_.load() && !closed_.load()) {
    // Finish pending writes and close the log: the closing barrier runs on
    // this thread (a room task still needs the engine executor to run).
    Status ignored = RunHere(Close());
  }
  // Sync completions and room tasks hold `this`: none is left once the
  // commit role is free after the closing barrier.
  write_queue_.WaitIdle();
  if (auto* uring = fs_ ? dynamic_cast<io::UringBackend*>(&fs_->backend()) : nullptr) {
    uring->SetDefaultContext(nullptr);  // the engine context is going away
  }
  if (owned_engine_) {
    engine_work_.reset();
    engine_thread_.join();
  }
  log_file_.reset();
  log_sync_files_.clear();
  if (owned_engine_) owned_engine_.reset();  // ring shutdown: nothing is in flight any more
}

asio::awaitable<Status> DBImpl::OpenOnEngine() {
  CORODB_ASSERT_ON_ENGINE();
  if (!options_.create_if_missing && !io::FileExists(io::CurrentFileName(name_))) {
    co_return Status::InvalidArgument(name_, "does not exist (create_if_missing is false)");
  }
  if (options_.create_if_missing) {
    if (Status s = io::CreateDir(name_); !s.ok()) co_return s;
  }
  auto lock = io::LockFile::Acquire(io::LockFileName(name_));
  if (!lock.ok()) co_return lock.status();
  lock_ = std::move(lock).value();

  auto logger = Logger::OpenInDirectory(name_);
  if (!logger.ok()) co_return logger.status();
  info_log_ = std::move(logger).value();

  std::shared_ptr<io::Backend> backend = backend_override_;
  if (!backend) {
    auto made = io::MakeBackend(options_.io_backend, options_.io_threads, info_log_.get());
    if (!made.ok()) co_return made.status();
    backend = std::move(made).value();
  }
  if (auto* uring = dynamic_cast<io::UringBackend*>(backend.get())) {
    uring->SetDefaultContext(engine_);
  }
  CORODB_LOG(info_log_.get(), "io backend: %s", std::string(backend->Name()).c_str());
  fs_ = std::make_unique<io::FileSystem>(std::move(backend));

  Recovery recovery(options_, name_, *fs_, icmp_, info_log_.get());
  const bool exists = io::FileExists(io::CurrentFileName(name_));
  if (exists && options_.error_if_exists) {
    co_return Status::InvalidArgument(name_, "exists (error_if_exists is true)");
  }
  if (!exists) {
    if (!options_.create_if_missing) {
      co_return Status::InvalidArgument(name_, "does not exist (create_if_missing is false)");
    }
    CORODB_LOG(info_log_.get(), "creating new database %s", name_.c_str());
    if (Status s = co_await recovery.CreateNew(); !s.ok()) co_return s;
  }
  Result<RecoveredState> recovered = co_await recovery.Run();
  if (!recovered.ok()) co_return recovered.status();

  auto state = std::make_shared<MemState>();
  state->mem = recovered->memtables.back();
  for (size_t i = recovered->memtables.size() - 1; i-- > 0;) {
    state->imms.push_back(recovered->memtables[i]);  // newest first
  }
  mem_ = state->mem.get();
  PublishState(std::move(state));
  last_sequence_.store(recovered->last_sequence, std::memory_order_release);
  next_sequence_ = recovered->last_sequence + 1;
  next_file_number_ = recovered->next_file_number;
  CORODB_LOG(info_log_.get(), "recovered %llu records from %zu logs; last sequence %llu",
             static_cast<unsigned long long>(recovered->records_replayed),
             recovered->log_numbers.size(),
             static_cast<unsigned long long>(recovered->last_sequence));

  if (Status s = co_await StartNewLog(next_file_number_++); !s.ok()) co_return s;
  // What was replayed may exist only in the page cache: copy it into the new
  // log and make the old logs obsolete before anyone can read it.
  if (!recovered->replayed_batches.empty()) {
    const uint64_t manifest_number = next_file_number_++;
    if (Status s = co_await recovery.MakeReplayDurable(*recovered, log_number_, *log_file_,
                                                       *log_writer_, manifest_number,
                                                       next_file_number_);
        !s.ok()) {
      co_return s;
    }
  }
  opened_.store(true);
  co_return Status::OK();
}

asio::awaitable<Status> DBImpl::StartNewLog(uint64_t number) {
  auto file = fs_->Open(io::LogFileName(name_, number), io::OpenMode::kCreate);
  if (!file.ok()) co_return file.status();
  // The new log's directory entry must be durable before sync writes rely on it.
  if (Status s = co_await fs_->SyncDir(name_); !s.ok()) co_return s;
  std::vector<std::shared_ptr<io::File>> sync_files;
  for (size_t i = 0; i < config::kMaxGroupsInFlight; ++i) {
    auto handle = fs_->Open(io::LogFileName(name_, number), io::OpenMode::kReadWrite);
    if (!handle.ok()) co_return handle.status();
    sync_files.push_back(std::move(handle).value());
  }
  log_file_ = std::move(file).value();
  log_sync_files_ = std::move(sync_files);
  next_sync_file_ = 0;
  log_writer_ = std::make_unique<log::Writer>();
  log_number_ = number;
  log_prealloc_end_ = 0;
  log_prealloc_ok_ = true;
  log_writeback_start_ = 0;
  co_return Status::OK();
}

asio::awaitable<Status> DBImpl::PreallocateLog(uint64_t end) {
  CORODB_ASSERT_ON_ENGINE();
  static const std::string kZeros(config::kWalPreallocChunk, '\0');
  const uint64_t chunk = config::kWalPreallocChunk;
  const uint64_t start = std::max(log_file_->append_offset(), log_prealloc_end_);
  const uint64_t target = (end + chunk - 1) / chunk * chunk;
  for (uint64_t at = start; at < target;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(target - at, kZeros.size()));
    const io::IoCompletion c =
        co_await log_file_->WriteAtRaw(at, std::span<const char>(kZeros.data(), n));
    if (c.res == -EINTR || c.res == -EAGAIN) continue;
    if (c.res == 0 || c.res == -ENOSPC || c.res == -EDQUOT || c.res == -EFBIG) {
      // No room for a whole chunk, but a record may still fit: append
      // without preallocation (each sync then also commits the new size).
      log_prealloc_ok_ = false;
      CORODB_LOG(info_log_.get(), "log %llu: cannot preallocate (%s); appending without it",
                 static_cast<unsigned long long>(log_number_),
                 std::strerror(c.res == 0 ? ENOSPC : -c.res));
      co_return Status::OK();
    }
    if (c.res < 0) co_return log_file_->ErrorStatus("write", at, c.res);
    at += static_cast<uint64_t>(c.res);
  }
  if (Status s = co_await log_file_->Sync(); !s.ok()) co_return s;
  log_prealloc_end_ = target;
  co_return Status::OK();
}

std::shared_ptr<const DBImpl::MemState> DBImpl::CurrentState() const {
  std::lock_guard lock(state_mu_);
  return state_;
}

void DBImpl::PublishState(std::shared_ptr<const MemState> state) {
  std::lock_guard lock(state_mu_);
  state_ = std::move(state);
}

asio::awaitable<Status> DBImpl::Put(const WriteOptions& options, Slice key, Slice value) {
  WriteBatch batch;
  batch.Put(key, value);
  co_return co_await Write(options, batch);
}

asio::awaitable<Status> DBImpl::Delete(const WriteOptions& options, Slice key) {
  WriteBatch batch;
  batch.Delete(key);
  co_return co_await Write(options, batch);
}

asio::awaitable<Status> DBImpl::Write(const WriteOptions& options, const WriteBatch& batch) {
  if (closed_.load()) co_return Status::InvalidArgument(name_, "the database is closed");
  // The fast path first, without another coroutine frame.
  const asio::any_io_executor ex = co_await asio::this_coro::executor;
  if (std::optional<Status> s = write_queue_.TryCommitNow(batch, options.sync, ex)) co_return *s;
  co_return co_await write_queue_.Submit(batch, options.sync);
}

std::optional<Status> DBImpl::TryWriteNow(const WriteOptions& options, const WriteBatch& batch) {
  if (closed_.load()) return Status::InvalidArgument(name_, "the database is closed");
  // Writers that queue meanwhile are committed too, by this thread; their
  // syncs complete on their own executors.
  return write_queue_.TryCommitNow(batch, options.sync, engine_->get_executor());
}

std::optional<Result<std::string>> DBImpl::TryGetNow(const ReadOptions& /*options*/, Slice key) {
  // Load the sequence first: every entry at or below it is already in one of
  // the memtables of any state published afterwards.
  const SequenceNumber sequence = last_sequence_.load(std::memory_order_acquire);
  const std::shared_ptr<const MemState> state = CurrentState();
  const LookupKey lookup(key, sequence);
  std::string value;
  Status s;
  if (state->mem->Get(lookup, &value, &s)) {
    if (!s.ok()) return Result<std::string>(s);
    return Result<std::string>(std::move(value));
  }
  for (const auto& imm : state->imms) {
    if (imm->Get(lookup, &value, &s)) {
      if (!s.ok()) return Result<std::string>(s);
      return Result<std::string>(std::move(value));
    }
  }
  // No tables yet: what no memtable has does not exist.
  return Result<std::string>(Status::NotFound(""));
}

asio::awaitable<Result<std::string>> DBImpl::Get(const ReadOptions& options, Slice key) {
  if (std::optional<Result<std::string>> found = TryGetNow(options, key)) co_return std::move(*found);
  co_return Status::NotSupported(name_, "reading tables");  // not reached before tables exist
}

uint64_t DBImpl::MaxRecordBytes(size_t batch_bytes) {
  // A fragment header per started block, and a block trailer of padding.
  const uint64_t per_block = log::kBlockSize - log::kHeaderSize;
  return batch_bytes + (batch_bytes / per_block + 2) * log::kHeaderSize + log::kHeaderSize;
}

bool DBImpl::NeedsRoom(size_t bytes, bool sync) {
  // A closed or failed log: BeginGroup refuses the group.
  if (!log_file_ || !bg_error_.ok() || !log_error_.ok()) return false;
  if (mem_->ApproximateMemoryUsage() >= options_.write_buffer_size) return true;
  return sync && log_prealloc_ok_ && !options_.paranoid_checks &&
         log_file_->append_offset() + MaxRecordBytes(bytes) > log_prealloc_end_;
}

asio::awaitable<void> DBImpl::MakeRoom(size_t bytes, bool sync) {
  CORODB_ASSERT_ON_ENGINE();
  const auto start = std::chrono::steady_clock::now();
  co_await MakeRoomSteps(bytes, sync);
  stats_.room_tasks.fetch_add(1, std::memory_order_relaxed);
  stats_.write_stall_micros.fetch_add(
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count()),
      std::memory_order_relaxed);
}

asio::awaitable<void> DBImpl::MakeRoomSteps(size_t bytes, bool sync) {
  if (!log_file_ || !log_error_.ok()) co_return;
  if (mem_->ApproximateMemoryUsage() >= options_.write_buffer_size) {
    if (Status s = co_await SwitchMemtable(); !s.ok()) {
      log_error_ = s;
      co_return;
    }
  }
  if (sync && log_prealloc_ok_ && !options_.paranoid_checks &&
      log_file_->append_offset() + MaxRecordBytes(bytes) > log_prealloc_end_) {
    if (Status s = co_await PreallocateLog(log_file_->append_offset() + MaxRecordBytes(bytes));
        !s.ok()) {
      log_error_ = s;
    }
  }
}

asio::awaitable<Status> DBImpl::SwitchMemtable() {
  CORODB_ASSERT_ON_ENGINE();
  // Groups of the new log may end before the syncs of the old log's groups
  // in flight complete (those are earlier in the write order and end first),
  // but not before the old log's non-sync bytes are durable: otherwise a
  // power cut could keep a later group and lose an earlier one.
  // The old log's fdatasync and the new log's creation (a directory fsync)
  // run at once.
  // Always, even when a group's sync covering the whole log was started: it
  // may still be in flight and fail after a group of the new log ended. This
  // one goes through the appending description, which sees that error too.
  const std::shared_ptr<io::File> old_log = log_file_;
  {
    using namespace asio::experimental::awaitable_operators;
    auto [synced, created] = co_await (old_log->Sync() && StartNewLog(next_file_number_++));
    if (!synced.ok()) co_return synced;
    if (!created.ok()) co_return created;
  }
  // Until flushes exist (version set), frozen memtables stay in memory and
  // their logs stay live.
  const std::shared_ptr<const MemState> current = CurrentState();
  auto next = std::make_shared<MemState>();
  next->mem = MemTable::Create(icmp_);
  next->imms.reserve(current->imms.size() + 1);
  next->imms.push_back(current->mem);
  next->imms.insert(next->imms.end(), current->imms.begin(), current->imms.end());
  mem_ = next->mem.get();
  PublishState(std::move(next));
  stats_.memtable_switches.fetch_add(1, std::memory_order_relaxed);
  co_return Status::OK();
}

void DBImpl::BeginGroup(WriteBatch& group, GroupCommit* commit, const asio::any_io_executor& ex) {
  AddStat(stats_.writes, commit->members);
  if (!log_file_) {
    commit->status = Status::InvalidArgument(name_, "the database is closed");
    return;
  }
  if (!bg_error_.ok()) {
    commit->status = bg_error_;
    return;
  }
  if (!log_error_.ok()) {
    commit->status = log_error_;
    return;
  }
  const bool sync = commit->sync;
  const SequenceNumber first = next_sequence_;
  WriteBatchInternal::SetSequence(&group, first);
  const uint32_t count = WriteBatchInternal::Count(group);

  record_buf_.clear();
  log_writer_->AddRecord(WriteBatchInternal::Contents(group), &record_buf_);
  const std::span<const char> bytes(record_buf_);
  // The record goes to the page cache with pwrite on this thread (measured
  // faster than a ring write, which the kernel punts to a worker).
  if (Status s = log_file_->AppendInline(bytes); !s.ok()) {
    // This group fails, and no later group may be logged: the log may now
    // hold a partial record. Groups ahead of it (their syncs in flight) still
    // end normally; EndGroup turns this into the background error.
    log_error_ = s;
    commit->status = s;
    return;
  }
  if (!sync && log_file_->append_offset() - log_writeback_start_ >= config::kWalWritebackChunk) {
    log_file_->StartWriteback(log_writeback_start_, log_file_->append_offset() - log_writeback_start_);
    log_writeback_start_ = log_file_->append_offset();
  }
  next_sequence_ = first + count;
  commit->last_sequence = first + count - 1;
  commit->count = count;
  commit->bytes = bytes.size();
  if (sync) {
    // Started before the memtable insertion below, which it overlaps; its
    // completion runs on `ex`, never inside StartSync. It holds its file
    // description open: a log switch may drop it meanwhile.
    std::shared_ptr<io::File> sync_file = log_sync_files_[next_sync_file_];
    next_sync_file_ = (next_sync_file_ + 1) % log_sync_files_.size();
    sync_file->StartSync(ex, [this, commit, file = sync_file, ex](Status synced) {
      write_queue_.SyncDone(commit, synced, ex);
    });
    // Only once started (StartSync may throw bad_alloc): a started sync's
    // completion is what the group then waits for.
    commit->sync_started = true;
  }
  if (begin_hook_) begin_hook_();
  // Invisible until EndGroup publishes last_sequence_: readers look up at the
  // published sequence, which is below every entry inserted here.
  if (Status s = WriteBatchInternal::InsertInto(group, mem_); !s.ok() && commit->status.ok()) {
    commit->status = s;
  }
}

void DBImpl::OnBeginFailure(const Status& status) {
  if (log_error_.ok()) log_error_ = status;
}

Status DBImpl::EndGroup(GroupCommit& commit) {
  const Status s = !commit.status.ok() ? commit.status : commit.sync_status;
  if (!s.ok()) {
    SetBackgroundError(s);
    return s;
  }
  // An earlier group failed after this one began: this one's records follow
  // a failed write or sync in the log, so it is not acknowledged either.
  if (!bg_error_.ok()) return bg_error_;
  last_sequence_.store(commit.last_sequence, std::memory_order_release);

  AddStat(stats_.groups, 1);
  AddStat(stats_.updates, commit.count);
  AddStat(stats_.wal_bytes, commit.bytes);
  if (commit.sync) AddStat(stats_.syncs, 1);
  if (commit.members > stats_.max_group.load(std::memory_order_relaxed)) {
    stats_.max_group.store(commit.members, std::memory_order_relaxed);
  }
  return Status::OK();
}

void DBImpl::SetBackgroundError(const Status& s) {
  if (!bg_error_.ok()) return;
  bg_error_ = s;
  CORODB_LOG(info_log_.get(), "write error, database is now read-only: %s", s.ToString().c_str());
}

void DBImpl::OnCommitLoopFailure(const Status& status) {
  SetBackgroundError(status);
  CORODB_LOG(info_log_.get(), "commit failure: %s", status.ToString().c_str());
}

asio::awaitable<Status> DBImpl::Close() {
  if (closed_.exchange(true)) co_return Status::OK();
  // Every write queued before Close() finishes; then the commit loop itself
  // closes the log, so no group can be using it; later groups are refused.
  co_return co_await write_queue_.Barrier(/*close_log=*/true);
}

Status DBImpl::CloseLog() {
  Status s = bg_error_;
  if (log_file_ && log_error_.ok()) {
    // No zero tail after a clean close (LevelDB's paranoid recovery would
    // call it corruption), and everything logged is durable.
    // (Zeros may lie beyond the last record even when preallocation failed
    // part-way: the file's size decides.)
    Status closed;
    const Result<uint64_t> size = log_file_->Size();
    if (!size.ok()) {
      closed = size.status();
    } else if (*size > log_file_->append_offset()) {
      closed = log_file_->Truncate(log_file_->append_offset());
    }
    if (closed.ok()) closed = log_file_->SyncInline();
    if (!closed.ok()) {
      CORODB_LOG(info_log_.get(), "closing the log: %s", closed.ToString().c_str());
      if (s.ok()) s = closed;
    }
  }
  log_file_.reset();
  log_sync_files_.clear();
  log_writer_.reset();
  CORODB_LOG(info_log_.get(), "closed; %s", StatsString().c_str());
  return s;
}

std::string DBImpl::StatsString() const {
  const uint64_t writes = stats_.writes.load();
  const uint64_t groups = stats_.groups.load();
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "writes: %llu\nwal_groups: %llu\navg_group_size: %.2f\nmax_group_size: %llu\n"
                "wal_syncs: %llu\nwal_bytes: %llu\nupdates: %llu\nmemtable_switches: %llu\n"
                "room_tasks: %llu\nwrite_stall_micros: %llu\n",
                static_cast<unsigned long long>(writes), static_cast<unsigned long long>(groups),
                groups == 0 ? 0.0 : static_cast<double>(writes) / static_cast<double>(groups),
                static_cast<unsigned long long>(stats_.max_group.load()),
                static_cast<unsigned long long>(stats_.syncs.load()),
                static_cast<unsigned long long>(stats_.wal_bytes.load()),
                static_cast<unsigned long long>(stats_.updates.load()),
                static_cast<unsigned long long>(stats_.memtable_switches.load()),
                static_cast<unsigned long long>(stats_.room_tasks.load()),
                static_cast<unsigned long long>(stats_.write_stall_micros.load()));
  return buf;
}

bool DBImpl::GetProperty(Slice property, std::string* value) {
  if (property == "corodb.stats" || property == "leveldb.stats") {
    *value = StatsString();
    return true;
  }
  if (property == "corodb.io-backend") {
    *value = fs_ ? std::string(fs_->backend().Name()) : std::string("none");
    return true;
  }
  if (property == "leveldb.approximate-memory-usage" ||
      property == "corodb.approximate-memory-usage") {
    const auto state = CurrentState();
    size_t total = state->mem->ApproximateMemoryUsage();
    for (const auto& imm : state->imms) total += imm->ApproximateMemoryUsage();
    *value = std::to_string(total);
    return true;
  }
  return false;
}

}  // namespace corodb

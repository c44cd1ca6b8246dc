#include "db/db_impl.h"

#include <algorithm>
#include <cassert>
#include <chrono>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "db/config.h"
#include "db/write_batch_internal.h"
#include "io/file_names.h"
#include "log/log_format.h"

// The write path's side of DBImpl: the log (creation, preallocation, close),
// room for a group (memtable switches, level-0 slowdowns and stops), and the
// commit loop's BeginGroup/EndGroup hooks (db/write_queue.h drives them).

namespace corodb {
namespace asio = boost::asio;

// Adds to a statistic only the commit role holder writes (so no atomic
// read-modify-write is needed; readers on other threads load it relaxed).
static void AddStat(std::atomic<uint64_t>& stat, uint64_t n) {
  stat.store(stat.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// Debug builds check "REQUIRES: on engine executor".
#define CORODB_ASSERT_ON_ENGINE() assert(engine_->get_executor().running_in_this_thread())

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
  auto background = fs_->Open(io::LogFileName(name_, number), io::OpenMode::kReadWrite);
  if (!background.ok()) co_return background.status();
  log_file_ = std::move(file).value();
  // Groups copy their records into a mapping of the log where the backend
  // and the filesystem allow it (config::kWalMapSlack; File::MapForAppend
  // says where not). Not with paranoid_checks, which also goes without
  // preallocation: no zero tail is ever left for its recovery.
  if (!options_.paranoid_checks) {
    const uint64_t mib = uint64_t{1} << 20;
    const uint64_t want = std::min<uint64_t>(
        (options_.write_buffer_size + config::kWalMapSlack + mib - 1) / mib * mib,
        config::kWalMapMax);
    log_file_->MapForAppend(want);
  }
  log_sync_files_ = std::move(sync_files);
  log_background_sync_file_ = std::move(background).value();
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
  if (options_.read_only) co_return ReadOnlyError();
  // The fast path first, without another coroutine frame.
  const asio::any_io_executor ex = co_await asio::this_coro::executor;
  if (std::optional<Status> s = write_queue_.TryCommitNow(batch, options.sync, ex)) co_return *s;
  co_return co_await write_queue_.Submit(batch, options.sync);
}

std::optional<Status> DBImpl::TryWriteNow(const WriteOptions& options, const WriteBatch& batch) {
  if (closed_.load()) return Status::InvalidArgument(name_, "the database is closed");
  if (options_.read_only) return ReadOnlyError();
  // Writers that queue meanwhile are committed too, by this thread; their
  // syncs complete on their own executors.
  return write_queue_.TryCommitNow(batch, options.sync, engine_->get_executor());
}

uint64_t DBImpl::MaxRecordBytes(size_t batch_bytes) {
  // A fragment header per started block, and a block trailer of padding.
  const uint64_t per_block = log::kBlockSize - log::kHeaderSize;
  return batch_bytes + (batch_bytes / per_block + 2) * log::kHeaderSize + log::kHeaderSize;
}

bool DBImpl::NeedsRoom(size_t bytes, bool sync) {
  // A closed or failed log: BeginGroup refuses the group.
  if (!log_file_ || !bg_error_.ok() || !log_error_.ok() || bg_failed_.load() ||
      log_background_sync_->failed.load(std::memory_order_acquire)) {
    return false;
  }
  if (MemtableFull()) return true;
  if (force_switch_.load(std::memory_order_acquire)) return true;
  const int l0 = l0_files_.load(std::memory_order_relaxed);
  if (l0 >= config::kL0StopWritesTrigger) return true;
  if (l0 >= config::kL0SlowdownWritesTrigger && !slowdown_paid_) return true;
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
  bool allow_delay = !slowdown_paid_;
  for (;;) {
    // The progress count first: whatever the background does after this
    // read (a failure, a smaller L0, a finished flush) notifies again, so
    // the wait below cannot miss it.
    uint64_t seen;
    bool flush_pending;
    {
      std::lock_guard lock(bg_mu_);
      seen = bg_progress_;
      flush_pending = !pending_flushes_.empty();
    }
    if (!log_file_ || !log_error_.ok() || bg_failed_.load() ||
        log_background_sync_->failed.load(std::memory_order_acquire)) {
      co_return;
    }
    const int l0 = l0_files_.load(std::memory_order_relaxed);
    if (allow_delay && l0 >= config::kL0SlowdownWritesTrigger) {
      // Close to the stop: hand the background 1 ms per group instead of
      // stopping writes for seconds later (LevelDB's slowdown).
      allow_delay = false;
      slowdown_paid_ = true;
      asio::steady_timer timer(engine_->get_executor(), std::chrono::milliseconds(1));
      co_await timer.async_wait(asio::use_awaitable);
      stats_.slowdowns.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    // A requested freeze (FlushMemTable) counts as a full memtable, once.
    const bool forced = force_switch_.exchange(false, std::memory_order_acq_rel) && !mem_->Empty();
    const bool mem_full = forced || MemtableFull();
    if (!mem_full && l0 < config::kL0StopWritesTrigger) break;
    // A wait below (a pending flush, or level 0 at the stop trigger) comes
    // back here: the request must still be there then.
    if (forced && (flush_pending || l0 >= config::kL0StopWritesTrigger)) {
      force_switch_.store(true, std::memory_order_release);
    }
    if ((mem_full && flush_pending) || l0 >= config::kL0StopWritesTrigger) {
      // Wait for the background to flush or compact. This coroutine
      // suspends; the engine thread serves everything else meanwhile.
      const auto start = std::chrono::steady_clock::now();
      MaybeScheduleBackground();
      co_await AwaitBackgroundProgress(seen);
      stats_.stops.fetch_add(1, std::memory_order_relaxed);
      stats_.stop_micros.fetch_add(
          static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                    std::chrono::steady_clock::now() - start)
                                    .count()),
          std::memory_order_relaxed);
      continue;
    }
    // The memtable is full and nothing waits to be flushed: switch.
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
    auto [synced, created] = co_await (old_log->Sync() && StartNewLog(versions_->NewFileNumber()));
    if (!synced.ok()) co_return synced;
    if (!created.ok()) co_return created;
  }
  // The old log's allocated zeros past its records go (a mapped log's last
  // window); the log is only read again by a recovery. A failure costs only
  // the space until the log is deleted.
  if (const Result<uint64_t> size = old_log->Size();
      size.ok() && old_log->append_offset() < *size) {
    if (Status s = old_log->Truncate(old_log->append_offset()); !s.ok()) {
      CORODB_LOG(info_log_.get(), "log switch: %s", s.ToString().c_str());
    }
  }
  // The frozen memtable waits for its flush (the background chain); its log
  // stays live until the flushed table is in the MANIFEST.
  std::shared_ptr<MemTable> frozen;
  std::unique_ptr<table::AsyncIterator> stale;  // destroyed after the lock
  {
    std::lock_guard lock(state_mu_);
    auto next = std::make_shared<ReadView>(*state_);
    frozen = next->mem;
    next->mem = MemTable::Create(icmp_);
    next->imms.insert(next->imms.begin(), frozen);
    mem_ = next->mem.get();
    stale = SetStateLocked(std::move(next));
  }
  stale.reset();
  {
    std::lock_guard lock(bg_mu_);
    pending_flushes_.push_back(PendingFlush{frozen, log_number_, next_sequence_ - 1});
    imm_pending_.store(true);
  }
  stats_.memtable_switches.fetch_add(1, std::memory_order_relaxed);
  MaybeScheduleBackground();
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
  if (bg_failed_.load()) {
    commit->status = BackgroundFailure();
    return;
  }
  if (log_background_sync_->failed.load(std::memory_order_acquire)) {
    // Logged non-sync bytes did not reach the disk: as a failed group sync.
    std::lock_guard lock(log_background_sync_->mu);
    commit->status = log_background_sync_->failure;
    return;
  }
  slowdown_paid_ = false;  // the next group is delayed again while L0 is large
  const bool sync = commit->sync;
  const SequenceNumber first = next_sequence_;
  const uint32_t count = WriteBatchInternal::Count(group);
  if (count > 0 && (first > kMaxSequenceNumber || count - 1 > kMaxSequenceNumber - first)) {
    // Keys carry 56-bit sequences: this group's would wrap, and older values
    // would shadow it. Only a damaged history gets here (2^56 writes); the
    // group is refused and nothing is logged, so later reads stay right.
    commit->status = Status::Corruption(
        name_, "no sequence numbers left: the next is " + std::to_string(first) +
                   " and the largest is " + std::to_string(kMaxSequenceNumber));
    return;
  }
  WriteBatchInternal::SetSequence(&group, first);

  record_buf_.clear();
  log_writer_->AddRecord(WriteBatchInternal::Contents(group), &record_buf_);
  const std::span<const char> bytes(record_buf_);
  // The record goes to the page cache by a copy into the log's mapping, or
  // past it (or without one) with pwrite on this thread (measured faster
  // than a ring write, which the kernel punts to a worker). A sync group
  // always uses pwrite: an fdatasync right after a copy through the mapping
  // measured three times slower (decisions.md, "WAL records are copied
  // through a mapping of the log").
  if (!sync && log_file_->TryAppendMapped(bytes)) {
    AddStat(stats_.wal_mapped_bytes, bytes.size());
  } else if (Status s = log_file_->AppendInline(bytes); !s.ok()) {
    // This group fails, and no later group may be logged: the log may now
    // hold a partial record. Groups ahead of it (their syncs in flight) still
    // end normally; EndGroup turns this into the background error.
    log_error_ = s;
    commit->status = s;
    return;
  }
  if (!sync) {
    const uint64_t unsynced = log_file_->append_offset() - log_writeback_start_;
    // Near the switch (this group's entries counted), when that window is
    // wide enough for a chunk to sync before the switch comes.
    const size_t near_switch =
        std::min(config::kWalPreSwitchRoom, options_.write_buffer_size / 8);
    if (unsynced >= config::kWalWritebackChunk ||
        (unsynced >= config::kWalPreSwitchChunk && near_switch >= 2 * config::kWalPreSwitchChunk &&
         mem_->ApproximateMemoryUsage() + bytes.size() + near_switch >=
             options_.write_buffer_size)) {
      StartBackgroundLogSync();
    }
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
    // It covers every log byte so far: the next background sync's chunk
    // starts here.
    log_writeback_start_ = log_file_->append_offset();
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
  log_background_sync_file_.reset();
  log_writer_.reset();
  CORODB_LOG(info_log_.get(), "closed; %s", StatsString().c_str());
  return s;
}

}  // namespace corodb

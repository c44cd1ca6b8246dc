#include "db/db_impl.h"

#include <algorithm>
#include <cassert>
#include <cstdlib>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "db/config.h"
#include "db/recovery.h"
#include "db/write_batch_internal.h"
#include "io/file_names.h"
#include "io/uring_backend.h"

namespace corodb {
namespace asio = boost::asio;

namespace {
// config::kMaxGroupsInFlight, or CORODB_GROUPS_IN_FLIGHT (a measurement knob).
size_t GroupsInFlight() {
  const char* v = std::getenv("CORODB_GROUPS_IN_FLIGHT");
  const int n = v != nullptr ? std::atoi(v) : 0;
  return n > 0 ? static_cast<size_t>(n) : config::kMaxGroupsInFlight;
}
}  // namespace

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
      groups_in_flight_(GroupsInFlight()),
      write_queue_(*engine_, this, groups_in_flight_) {
  if (owned_engine_) {
    engine_work_.emplace(engine_->get_executor());
    engine_thread_ = std::thread([this] { engine_->run(); });
  }
  auto state = std::make_shared<MemState>();
  state->mem = MemTable::Create(icmp_);
  state_ = std::move(state);
}

DBImpl::~DBImpl() {
  if (opened_.load() && !closed_.load() && owned_engine_) {
    // Finish pending writes and close the log on the engine thread.
    Status ignored = asio::co_spawn(*engine_, Close(), asio::use_future).get();
  }
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
  for (size_t i = 0; i < groups_in_flight_; ++i) {
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
  co_return Status::OK();
}

asio::awaitable<Status> DBImpl::PreallocateLog(uint64_t end, io::File& sync_file) {
  CORODB_ASSERT_ON_ENGINE();
  static const std::string kZeros(config::kWalPreallocChunk, '\0');
  const uint64_t chunk = config::kWalPreallocChunk;
  const uint64_t start = std::max(log_file_->append_offset(), log_prealloc_end_);
  const uint64_t target = (end + chunk - 1) / chunk * chunk;
  for (uint64_t at = start; at < target;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(target - at, kZeros.size()));
    if (Status s = co_await log_file_->WriteAt(at, std::span<const char>(kZeros.data(), n)); !s.ok()) {
      co_return s;
    }
    at += n;
  }
  if (Status s = co_await sync_file.Sync(); !s.ok()) co_return s;
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
  if (closed_.load()) co_return Status::InvalidArgument(name_, "the database is closed");
  WriteBatch batch;
  batch.Put(key, value);
  co_return co_await write_queue_.Submit(batch, options.sync);
}

asio::awaitable<Status> DBImpl::Delete(const WriteOptions& options, Slice key) {
  if (closed_.load()) co_return Status::InvalidArgument(name_, "the database is closed");
  WriteBatch batch;
  batch.Delete(key);
  co_return co_await write_queue_.Submit(batch, options.sync);
}

asio::awaitable<Status> DBImpl::Write(const WriteOptions& options, const WriteBatch& batch) {
  if (closed_.load()) co_return Status::InvalidArgument(name_, "the database is closed");
  co_return co_await write_queue_.Submit(batch, options.sync);
}

asio::awaitable<Result<std::string>> DBImpl::Get(const ReadOptions& /*options*/, Slice key) {
  // Load the sequence first: every entry at or below it is already in one of
  // the memtables of any state published afterwards.
  const SequenceNumber sequence = last_sequence_.load(std::memory_order_acquire);
  const std::shared_ptr<const MemState> state = CurrentState();
  const LookupKey lookup(key, sequence);
  std::string value;
  Status s;
  if (state->mem->Get(lookup, &value, &s)) {
    if (!s.ok()) co_return s;
    co_return value;
  }
  for (const auto& imm : state->imms) {
    if (imm->Get(lookup, &value, &s)) {
      if (!s.ok()) co_return s;
      co_return value;
    }
  }
  co_return Status::NotFound("");
}

asio::awaitable<void> DBImpl::BeginGroup(WriteBatch& group, GroupCommit* commit) {
  CORODB_ASSERT_ON_ENGINE();
  stats_.writes.fetch_add(commit->members, std::memory_order_relaxed);
  // Fails the group now (nothing of it was logged).
  auto fail = [commit](const Status& s) {
    commit->status = s;
    commit->ready = true;
  };
  if (!log_file_) co_return fail(Status::InvalidArgument(name_, "the database is closed"));
  if (!bg_error_.ok()) co_return fail(bg_error_);
  if (!log_error_.ok()) co_return fail(log_error_);
  if (Status s = co_await MakeRoomForWrite(); !s.ok()) {
    log_error_ = s;
    co_return fail(s);
  }
  const bool sync = commit->sync;
  const SequenceNumber first = next_sequence_;
  WriteBatchInternal::SetSequence(&group, first);
  const uint32_t count = WriteBatchInternal::Count(group);

  record_buf_.clear();
  log_writer_->AddRecord(WriteBatchInternal::Contents(group), &record_buf_);
  const std::span<const char> bytes(record_buf_);
  // (Not a ?: between two co_awaits: g++ 12 miscompiles temporaries there.)
  Status s;
  bool sync_started = false;
  static const char* path = std::getenv("CORODB_WAL_PATH");
  const std::string_view mode = path ? path : "inline";
  if (mode == "ring") {
    // Measurement only: one linked write + fdatasync through the backend.
    if (sync) {
      s = co_await log_file_->AppendAndSync(bytes);
    } else {
      s = co_await log_file_->Append(bytes);
    }
  } else if (mode == "blocking") {
    // Measurement only: blocks the engine executor for the fdatasync.
    s = log_file_->AppendInline(bytes);
    if (s.ok() && sync) s = log_file_->SyncInline();
  } else {
    std::shared_ptr<io::File> sync_file;
    if (sync) {
      sync_file = log_sync_files_[next_sync_file_];
      next_sync_file_ = (next_sync_file_ + 1) % log_sync_files_.size();
    }
    if (sync && !options_.paranoid_checks &&
        log_file_->append_offset() + bytes.size() > log_prealloc_end_) {
      s = co_await PreallocateLog(log_file_->append_offset() + bytes.size(), *sync_file);
    }
    if (s.ok()) s = log_file_->AppendInline(bytes);
    if (s.ok() && sync) {
      // Started before the memtable insertion below, which it overlaps. The
      // callback cannot run before this coroutine suspends or returns (it is
      // dispatched to this executor), so it always sees the insertion done.
      // It holds its description open: a log switch may drop it meanwhile.
      commit->sync_in_flight = true;
      sync_file->StartSync(engine_->get_executor(),
                           [this, commit, file = sync_file](Status synced) {
                             if (!synced.ok() && commit->status.ok()) commit->status = synced;
                             commit->sync_in_flight = false;
                             commit->ready = true;
                             write_queue_.Wake();
                           });
      sync_started = true;
    }
  }
  if (!s.ok()) {
    // This group fails, and no later group may be logged: the log may now
    // hold a partial record. Groups ahead of it (their syncs in flight) still
    // end normally; EndGroup turns this into the background error.
    log_error_ = s;
    co_return fail(s);
  }
  next_sequence_ = first + count;
  commit->last_sequence = first + count - 1;
  commit->count = count;
  commit->bytes = bytes.size();
  // Invisible until EndGroup publishes last_sequence_: readers look up at the
  // published sequence, which is below every entry inserted here.
  s = WriteBatchInternal::InsertInto(group, CurrentState()->mem.get());
  if (!s.ok() && commit->status.ok()) commit->status = s;
  if (!sync_started) commit->ready = true;
}

Status DBImpl::EndGroup(GroupCommit& commit) {
  CORODB_ASSERT_ON_ENGINE();
  if (!commit.status.ok()) {
    SetBackgroundError(commit.status);
    return commit.status;
  }
  // An earlier group failed after this one began: this one's records follow
  // a failed write or sync in the log, so it is not acknowledged either.
  if (!bg_error_.ok()) return bg_error_;
  last_sequence_.store(commit.last_sequence, std::memory_order_release);

  stats_.groups.fetch_add(1, std::memory_order_relaxed);
  stats_.updates.fetch_add(commit.count, std::memory_order_relaxed);
  stats_.wal_bytes.fetch_add(commit.bytes, std::memory_order_relaxed);
  if (commit.sync) stats_.syncs.fetch_add(1, std::memory_order_relaxed);
  uint64_t max = stats_.max_group.load(std::memory_order_relaxed);
  while (commit.members > max && !stats_.max_group.compare_exchange_weak(max, commit.members)) {
  }
  return Status::OK();
}

void DBImpl::SetBackgroundError(const Status& s) {
  CORODB_ASSERT_ON_ENGINE();
  if (!bg_error_.ok()) return;
  bg_error_ = s;
  CORODB_LOG(info_log_.get(), "write error, database is now read-only: %s", s.ToString().c_str());
}

asio::awaitable<Status> DBImpl::MakeRoomForWrite() {
  CORODB_ASSERT_ON_ENGINE();
  const std::shared_ptr<const MemState> current = CurrentState();
  if (current->mem->ApproximateMemoryUsage() < options_.write_buffer_size) co_return Status::OK();
  // Freeze the memtable and start a new log. Until flushes exist (version
  // set), frozen memtables stay in memory and their logs stay live.
  if (Status s = co_await StartNewLog(next_file_number_++); !s.ok()) co_return s;
  auto next = std::make_shared<MemState>();
  next->mem = MemTable::Create(icmp_);
  next->imms.reserve(current->imms.size() + 1);
  next->imms.push_back(current->mem);
  next->imms.insert(next->imms.end(), current->imms.begin(), current->imms.end());
  PublishState(std::move(next));
  stats_.memtable_switches.fetch_add(1, std::memory_order_relaxed);
  co_return Status::OK();
}

void DBImpl::OnCommitLoopFailure(const Status& status) {
  // Runs on the engine executor (the commit loop's completion handler).
  if (bg_error_.ok()) bg_error_ = status;
  CORODB_LOG(info_log_.get(), "commit loop failure: %s", status.ToString().c_str());
}

asio::awaitable<Status> DBImpl::Close() {
  if (closed_.exchange(true)) co_return Status::OK();
  // Every write queued before Close() finishes; then the commit loop itself
  // closes the log, so no group can be using it; later groups are refused.
  co_return co_await write_queue_.Barrier(/*close_log=*/true);
}

asio::awaitable<Status> DBImpl::CloseLog() {
  CORODB_ASSERT_ON_ENGINE();
  Status s = bg_error_;
  log_file_.reset();
  log_sync_files_.clear();
  log_writer_.reset();
  CORODB_LOG(info_log_.get(), "closed; %s", StatsString().c_str());
  co_return s;
}

std::string DBImpl::StatsString() const {
  const uint64_t writes = stats_.writes.load();
  const uint64_t groups = stats_.groups.load();
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "writes: %llu\nwal_groups: %llu\navg_group_size: %.2f\nmax_group_size: %llu\n"
                "wal_syncs: %llu\nwal_bytes: %llu\nupdates: %llu\nmemtable_switches: %llu\n",
                static_cast<unsigned long long>(writes), static_cast<unsigned long long>(groups),
                groups == 0 ? 0.0 : static_cast<double>(writes) / static_cast<double>(groups),
                static_cast<unsigned long long>(stats_.max_group.load()),
                static_cast<unsigned long long>(stats_.syncs.load()),
                static_cast<unsigned long long>(stats_.wal_bytes.load()),
                static_cast<unsigned long long>(stats_.updates.load()),
                static_cast<unsigned long long>(stats_.memtable_switches.load()));
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

#include "db/db_impl.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <iterator>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "db/block_cache_holder.h"
#include "db/config.h"
#include "db/read_yield.h"
#include "db/recovery.h"
#include "io/file_names.h"
#include "io/uring_backend.h"
#include "table/block_cache.h"
#include "table/table_cache.h"

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
  bg_ctx_ = std::make_unique<asio::io_context>(options_.background_threads > 1
                                                   ? options_.background_threads
                                                   : 1);
  bg_work_.emplace(bg_ctx_->get_executor());
  for (int i = 0; i < std::max(1, options_.background_threads); ++i) {
    bg_threads_.emplace_back([this] { bg_ctx_->run(); });
  }
  auto state = std::make_shared<ReadView>();
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
  // Close() stopped the background chain (a DB that never opened has none).
  bg_work_.reset();
  for (std::thread& t : bg_threads_) t.join();
  bg_threads_.clear();
  bg_ctx_.reset();  // its ring: nothing is in flight any more
  if (auto* uring = fs_ ? dynamic_cast<io::UringBackend*>(&fs_->backend()) : nullptr) {
    uring->SetDefaultContext(nullptr);  // the engine context is going away
  }
  if (owned_engine_) {
    engine_work_.reset();
    engine_thread_.join();
  }
  log_file_.reset();
  log_sync_files_.clear();
  log_background_sync_file_.reset();
  // The spare iterator pins the view: it goes first.
  std::unique_ptr<table::AsyncIterator> spare = recycler_->Close();
  spare.reset();
  {
    std::lock_guard lock(state_mu_);
    state_.reset();  // the last Version: its tables go before the table cache
  }
  versions_.reset();
  // Iterators still alive keep the caches until they are destroyed.
  table_cache_.reset();
  owned_block_cache_.reset();
  if (owned_engine_) owned_engine_.reset();  // ring shutdown: nothing is in flight any more
}

Status DBImpl::OpenFilesAndCaches() {
  std::shared_ptr<io::Backend> backend = backend_override_;
  if (!backend) {
    auto made = io::MakeBackend(options_.io_backend, options_.io_threads, info_log_.get());
    if (!made.ok()) return made.status();
    backend = std::move(made).value();
  }
  if (auto* uring = dynamic_cast<io::UringBackend*>(backend.get())) {
    uring->SetDefaultContext(engine_);
  }
  CORODB_LOG(info_log_.get(), "io backend: %s", std::string(backend->Name()).c_str());
  fs_ = std::make_unique<io::FileSystem>(std::move(backend));

  if (options_.block_cache == nullptr) {
    // Admit()'s window of recent misses is sized in this DB's blocks.
    owned_block_cache_ = std::make_shared<table::BlockCache>(
        options_.block_cache_capacity, 16, std::max<size_t>(options_.block_size, 1));
  }
  table::BlockCache* block_cache = options_.block_cache != nullptr
                                       ? BlockCacheOf(*options_.block_cache)
                                       : owned_block_cache_.get();
  // LevelDB keeps 10 descriptors for logs, the MANIFEST, LOG and LOCK.
  table_cache_ = std::make_shared<table::TableCache>(
      name_, table::TableOptionsForDb(options_, &icmp_, block_cache), fs_.get(),
      std::max(options_.max_open_files - 10, 10), options_.use_direct_reads);
  table_options_ = table::TableOptionsForDb(options_, &icmp_, block_cache);
  versions_ = std::make_unique<VersionSet>(name_, options_, fs_.get(), table_cache_.get(), &icmp_,
                                           info_log_.get());
  return Status::OK();
}

asio::awaitable<Status> DBImpl::OpenReadOnly() {
  CORODB_ASSERT_ON_ENGINE();
  // Nothing in the directory changes: no LOCK (a writer may hold it), no
  // LOG (info_log_ stays null), no new log or MANIFEST, no flush.
  if (!io::FileExists(io::CurrentFileName(name_))) {
    co_return Status::InvalidArgument(name_, "does not exist (opened read-only)");
  }
  if (options_.error_if_exists) {
    co_return Status::InvalidArgument(name_, "exists (error_if_exists is true)");
  }
  // Without the LOCK, a writer may log an edit (and then delete the logs
  // and tables it made obsolete, or the old MANIFEST) while this recovery
  // reads: a view mixing the MANIFEST before and the directory after could
  // miss acknowledged writes or call a healthy database corrupt. So the
  // recovery is repeated until CURRENT and its MANIFEST did not change
  // while it ran.
  Result<RecoveredState> recovered = Status::IOError(name_, "not recovered");
  for (int attempt = 1;; ++attempt) {
    const std::string before = ManifestStamp();
    versions_.reset();  // a previous attempt's, in the order they refer to each other
    table_cache_.reset();
    fs_.reset();
    if (Status s = OpenFilesAndCaches(); !s.ok()) co_return s;
    Recovery recovery(options_, name_, *fs_, icmp_, versions_.get(), info_log_.get());
    recovery.after_manifest_read_for_testing = read_only_recovery_hook_for_testing;
    recovered = co_await recovery.Run();
    if (ManifestStamp() == before) break;
    if (attempt == 10) {
      co_return Status::IOError(name_, "changed by a writer during each of 10 read-only "
                                       "recoveries; try again");
    }
  }
  if (!recovered.ok()) co_return recovered.status();
  // The replayed memtables stay in memory: the newest is the (never
  // written) mutable one, the older ones are immutable, newest first.
  auto state = std::make_shared<ReadView>();
  std::vector<std::shared_ptr<MemTable>>& mems = recovered->memtables;
  if (mems.empty()) mems.push_back(MemTable::Create(icmp_));
  state->mem = mems.back();
  for (size_t i = mems.size() - 1; i-- > 0;) state->imms.push_back(mems[i]);
  state->version = versions_->current();
  mem_ = state->mem.get();
  l0_files_.store(state->version->NumFiles(0), std::memory_order_relaxed);
  PublishState(std::move(state));
  versions_->SetLastSequence(std::max(versions_->last_sequence(), recovered->last_sequence));
  last_sequence_.store(versions_->last_sequence(), std::memory_order_release);
  next_sequence_ = versions_->last_sequence() + 1;
  opened_.store(true);
  co_return Status::OK();
}

asio::awaitable<Status> DBImpl::OpenOnEngine() {
  CORODB_ASSERT_ON_ENGINE();
  if (options_.read_only) co_return co_await OpenReadOnly();
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
  if (Status s = OpenFilesAndCaches(); !s.ok()) co_return s;

  Recovery recovery(options_, name_, *fs_, icmp_, versions_.get(), info_log_.get());
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
  CORODB_LOG(info_log_.get(), "recovered %llu records from %zu logs; last sequence %llu; %s",
             static_cast<unsigned long long>(recovered->records_replayed),
             recovered->log_numbers.size(),
             static_cast<unsigned long long>(recovered->last_sequence),
             versions_->LevelSummary().c_str());

  // What was replayed may exist only in the page cache: it goes to level-0
  // tables, synced, and a new MANIFEST names them with the new log's number,
  // making the old logs obsolete (LevelDB's behaviour).
  VersionEdit edit;
  for (const std::shared_ptr<MemTable>& mem : recovered->memtables) {
    FileMetaData meta;
    if (Status s = co_await WriteTable(*mem, &meta); !s.ok()) co_return s;
    if (meta.file_size > 0) edit.AddFile(0, meta);
  }
  if (!edit.new_files().empty()) {
    if (Status s = co_await fs_->SyncDir(name_); !s.ok()) co_return s;
  }
  if (Status s = co_await StartNewLog(versions_->NewFileNumber()); !s.ok()) co_return s;
  edit.SetLogNumber(log_number_);
  edit.SetPrevLogNumber(0);
  versions_->SetLastSequence(std::max(versions_->last_sequence(), recovered->last_sequence));
  if (Status s = co_await versions_->LogAndApply(&edit); !s.ok()) co_return s;
  {
    std::lock_guard lock(bg_mu_);
    pending_outputs_.clear();
  }
  recovered->memtables.clear();

  auto state = std::make_shared<ReadView>();
  state->mem = MemTable::Create(icmp_);
  state->version = versions_->current();
  mem_ = state->mem.get();
  l0_files_.store(state->version->NumFiles(0), std::memory_order_relaxed);
  PublishState(std::move(state));
  last_sequence_.store(versions_->last_sequence(), std::memory_order_release);
  next_sequence_ = versions_->last_sequence() + 1;
  DeleteObsoleteFiles();
  opened_.store(true);
  MaybeScheduleBackground();
  co_return Status::OK();
}

std::shared_ptr<const DBImpl::ReadView> DBImpl::CurrentState() const {
  std::lock_guard lock(state_mu_);
  return state_;
}

std::shared_ptr<const DBImpl::ReadView> DBImpl::ReadSnapshot(SequenceNumber* sequence) const {
  std::lock_guard lock(state_mu_);
  // The sequence first: every entry at or below it is in the memtables or
  // tables of this view (a group is inserted before its sequence is
  // published, and a memtable switch is published before later groups begin).
  *sequence = last_sequence_.load(std::memory_order_acquire);
  return state_;
}

void DBImpl::PublishState(std::shared_ptr<const ReadView> state) {
  std::unique_ptr<table::AsyncIterator> stale;  // destroyed after the lock
  std::lock_guard lock(state_mu_);
  stale = SetStateLocked(std::move(state));
}

std::unique_ptr<table::AsyncIterator> DBImpl::SetStateLocked(std::shared_ptr<const ReadView> next) {
  std::unique_ptr<table::AsyncIterator> stale = recycler_->SetCurrent(next.get());
  state_ = std::move(next);
  return stale;
}

std::optional<Result<std::string>> DBImpl::GetFromView(const ReadView& view,
                                                       const ReadOptions& options,
                                                       const LookupKey& lookup, GetStats* stats) {
  std::string value;
  Status s;
  if (view.mem->Get(lookup, &value, &s)) {
    if (!s.ok()) return Result<std::string>(s);
    return Result<std::string>(std::move(value));
  }
  for (const auto& imm : view.imms) {
    if (imm->Get(lookup, &value, &s)) {
      if (!s.ok()) return Result<std::string>(s);
      return Result<std::string>(std::move(value));
    }
  }
  if (!view.version) return Result<std::string>(Status::NotFound(""));
  std::optional<Result<VersionGetResult>> found = view.version->TryGet(options, lookup, stats);
  if (!found) return std::nullopt;
  if (!found->ok()) return Result<std::string>(found->status());
  if ((*found)->kind != VersionGetResult::kFound) return Result<std::string>(Status::NotFound(""));
  return Result<std::string>(std::move((*found)->value));
}

void DBImpl::ChargeSeek(const ReadView& view, const GetStats& stats) {
  if (stats.seek_file && view.version->UpdateStats(stats)) MaybeScheduleBackground();
}

Result<std::shared_ptr<const DBImpl::ReadView>> DBImpl::ReadPoint(const ReadOptions& options,
                                                                 SequenceNumber* sequence) const {
  if (options.snapshot == nullptr) return ReadSnapshot(sequence);
  if (!snapshots_->Owns(options.snapshot)) {
    return Status::InvalidArgument("ReadOptions::snapshot",
                                   "is not a live snapshot of this database");
  }
  // The current view holds every version the snapshot can see: compactions
  // keep them (SmallestSnapshot).
  *sequence = options.snapshot->sequence();
  return CurrentState();
}

std::optional<Result<std::string>> DBImpl::TryGetNow(const ReadOptions& options, Slice key) {
  SequenceNumber sequence;
  Result<std::shared_ptr<const ReadView>> view = ReadPoint(options, &sequence);
  if (!view.ok()) return Result<std::string>(view.status());
  const LookupKey lookup(key, sequence);
  GetStats stats;
  std::optional<Result<std::string>> found = GetFromView(**view, options, lookup, &stats);
  if (found) ChargeSeek(**view, stats);
  return found;
}

asio::awaitable<Result<std::string>> DBImpl::Get(const ReadOptions& options, Slice key) {
  if (ReadTurnOver()) co_await YieldToExecutor();
  SequenceNumber sequence;
  Result<std::shared_ptr<const ReadView>> point = ReadPoint(options, &sequence);
  if (!point.ok()) co_return point.status();
  const std::shared_ptr<const ReadView> view = std::move(point).value();
  const LookupKey lookup(key, sequence);
  GetStats stats;
  if (std::optional<Result<std::string>> found = GetFromView(*view, options, lookup, &stats)) {
    ChargeSeek(*view, stats);
    co_return std::move(*found);
  }
  // A table block must be read: the tables are searched again, awaiting reads.
  stats = GetStats();
  Result<VersionGetResult> found = co_await view->version->Get(options, lookup, &stats);
  ChargeSeek(*view, stats);
  if (!found.ok()) co_return found.status();
  if (found->kind != VersionGetResult::kFound) co_return Status::NotFound("");
  co_return std::move(found->value);
}

std::string DBImpl::ManifestStamp() const {
  std::ifstream in(io::CurrentFileName(name_), std::ios::binary);
  std::string current((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string manifest = current;
  while (!manifest.empty() && manifest.back() == '\n') manifest.pop_back();
  const Result<uint64_t> size = io::GetFileSize(name_ + "/" + manifest);
  return current + "|" + (size.ok() ? std::to_string(*size) : "missing");
}

Status DBImpl::ReadOnlyError() const {
  return Status::NotSupported(name_, "opened read-only (Options::read_only)");
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
  Status s = co_await write_queue_.Barrier(/*close_log=*/true);
  // The log's last background sync ends before Close does: nothing of the
  // DB's is in flight afterwards (CloseLog's own sync covered its bytes).
  co_await AwaitBackgroundLogSync();
  // Then the background chain stops (a compaction is abandoned between
  // keys; a pending flush stays in its log, replayed at the next Open).
  co_await StopBackground();
  if (s.ok()) s = BackgroundFailure();  // a flush or compaction that failed
  co_return s;
}

std::string DBImpl::StatsString() const {
  const uint64_t writes = stats_.writes.load();
  const uint64_t groups = stats_.groups.load();
  auto u = [](const std::atomic<uint64_t>& a) { return static_cast<unsigned long long>(a.load()); };
  char buf[2048];
  std::snprintf(buf, sizeof(buf),
                "writes: %llu\nwal_groups: %llu\navg_group_size: %.2f\nmax_group_size: %llu\n"
                "wal_syncs: %llu\nwal_background_syncs: %llu\nwal_background_sync_running: %d\n"
                "wal_bytes: %llu\nwal_mapped_bytes: %llu\nupdates: %llu\n"
                "memtable_switches: %llu\n"
                "room_tasks: %llu\nwrite_stall_micros: %llu\nslowdowns: %llu\nstops: %llu\n"
                "stop_micros: %llu\nflushes: %llu\nflush_bytes: %llu\ncompactions: %llu\n"
                "trivial_moves: %llu\nseek_compactions: %llu\ncompaction_bytes_read: %llu\n"
                "compaction_input_reads: %llu\ncompaction_input_read_bytes: %llu\n"
                "compaction_bytes_written: %llu\ncompaction_micros: %llu\n"
                "flush_preemptions: %llu\nmultigets: %llu\nmultiget_keys: %llu\n"
                "multiget_block_reads: %llu\nmultiget_read_rounds: %llu\n"
                "iterator_reuses: %llu\n",
                static_cast<unsigned long long>(writes), static_cast<unsigned long long>(groups),
                groups == 0 ? 0.0 : static_cast<double>(writes) / static_cast<double>(groups),
                u(stats_.max_group), u(stats_.syncs), u(stats_.wal_background_syncs),
                log_background_sync_->in_flight.load(std::memory_order_acquire) ? 1 : 0,
                u(stats_.wal_bytes), u(stats_.wal_mapped_bytes), u(stats_.updates),
                u(stats_.memtable_switches), u(stats_.room_tasks), u(stats_.write_stall_micros),
                u(stats_.slowdowns), u(stats_.stops), u(stats_.stop_micros), u(stats_.flushes),
                u(stats_.flush_bytes), u(stats_.compactions), u(stats_.trivial_moves),
                u(stats_.seek_compactions), u(stats_.compaction_bytes_read),
                u(stats_.compaction_input_reads.reads), u(stats_.compaction_input_reads.bytes),
                u(stats_.compaction_bytes_written), u(stats_.compaction_micros),
                u(stats_.flush_preemptions), u(stats_.multigets), u(stats_.multiget_keys),
                u(stats_.multiget_block_reads), u(stats_.multiget_read_rounds),
                u(stats_.iterator_reuses));
  std::string out = buf;
  // Bytes written to files (logs and tables) per byte logged.
  const uint64_t wal = stats_.wal_bytes.load();
  const double amp =
      wal == 0 ? 0.0
               : static_cast<double>(wal + stats_.flush_bytes.load() +
                                     stats_.compaction_bytes_written.load()) /
                     static_cast<double>(wal);
  auto rate = [](uint64_t hits, uint64_t misses) {
    return hits + misses == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(hits + misses);
  };
  table::BlockCache::HitCounts block{};
  if (table_options_.block_cache != nullptr) block = table_options_.block_cache->Counts();
  table::TableCache::Cache::HitCounts tables{};
  if (table_cache_) tables = table_cache_->Counts();
  std::snprintf(buf, sizeof(buf),
                "write_amplification: %.2f\nblock_cache_hits: %llu\nblock_cache_misses: %llu\n"
                "block_cache_hit_rate: %.3f\nblock_cache_declined: %llu\n"
                "table_cache_hits: %llu\ntable_cache_misses: %llu\n"
                "table_cache_hit_rate: %.3f\n",
                amp, static_cast<unsigned long long>(block.hits),
                static_cast<unsigned long long>(block.misses), rate(block.hits, block.misses),
                static_cast<unsigned long long>(block.declined),
                static_cast<unsigned long long>(tables.hits),
                static_cast<unsigned long long>(tables.misses), rate(tables.hits, tables.misses));
  out += buf;
  const auto view = CurrentState();
  out += "level files bytes compactions compaction_micros read_bytes write_bytes\n";
  for (int level = 0; level < kNumLevels; ++level) {
    const Stats::Level& at = stats_.levels[static_cast<size_t>(level)];
    const bool has_version = view && view->version;
    std::snprintf(buf, sizeof(buf), "%d %d %llu %llu %llu %llu %llu\n", level,
                  has_version ? view->version->NumFiles(level) : 0,
                  static_cast<unsigned long long>(has_version ? view->version->NumLevelBytes(level) : 0),
                  u(at.count), u(at.micros), u(at.bytes_read), u(at.bytes_written));
    out += buf;
  }
  return out;
}

std::string DBImpl::LevelDbStatsString() const {
  // LevelDB's layout of leveldb.stats, row for row: a level appears when it
  // has files or compaction time.
  std::string out =
      "                               Compactions\n"
      "Level  Files Size(MB) Time(sec) Read(MB) Write(MB)\n"
      "--------------------------------------------------\n";
  const auto view = CurrentState();
  char buf[200];
  for (int level = 0; level < kNumLevels; ++level) {
    const Stats::Level& at = stats_.levels[static_cast<size_t>(level)];
    const int files = view && view->version ? view->version->NumFiles(level) : 0;
    const uint64_t micros = at.micros.load();
    if (files == 0 && micros == 0) continue;
    const double bytes = view && view->version ? static_cast<double>(view->version->NumLevelBytes(level)) : 0.0;
    std::snprintf(buf, sizeof(buf), "%3d %8d %8.0f %9.0f %8.0f %9.0f\n", level, files,
                  bytes / 1048576.0, static_cast<double>(micros) / 1e6,
                  static_cast<double>(at.bytes_read.load()) / 1048576.0,
                  static_cast<double>(at.bytes_written.load()) / 1048576.0);
    out += buf;
  }
  return out;
}

bool DBImpl::GetProperty(Slice property, std::string* value) {
  if (property == "corodb.stats") {
    *value = StatsString();
    return true;
  }
  if (property == "leveldb.stats") {
    *value = LevelDbStatsString();
    return true;
  }
  if (property == "corodb.io-backend") {
    *value = fs_ ? std::string(fs_->backend().Name()) : std::string("none");
    return true;
  }
  const auto view = CurrentState();
  if (property == "leveldb.approximate-memory-usage" ||
      property == "corodb.approximate-memory-usage") {
    size_t total = view->mem->ApproximateMemoryUsage();
    for (const auto& imm : view->imms) total += imm->ApproximateMemoryUsage();
    if (owned_block_cache_) total += owned_block_cache_->TotalCharge();
    *value = std::to_string(total);
    return true;
  }
  if (!view->version) return false;
  for (const char* prefix : {"leveldb.num-files-at-level", "corodb.num-files-at-level"}) {
    const Slice p(prefix);
    if (property.starts_with(p)) {
      const std::string rest(property.data() + p.size(), property.size() - p.size());
      if (rest.empty() || rest.size() > 1 || rest[0] < '0' || rest[0] >= '0' + kNumLevels) {
        return false;
      }
      *value = std::to_string(view->version->NumFiles(rest[0] - '0'));
      return true;
    }
  }
  if (property == "leveldb.sstables" || property == "corodb.sstables") {
    *value = view->version->DebugString();
    return true;
  }
  if (property == "corodb.level-summary") {
    *value = view->version->LevelSummary();
    return true;
  }
  return false;
}

}  // namespace corodb

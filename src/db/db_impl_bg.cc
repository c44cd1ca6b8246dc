// DBImpl's background work: flushes of immutable memtables, compactions,
// obsolete-file deletion, and the events write stalls wait on.
//
// Who owns what (see db_impl.h): one background chain at a time runs on
// bg_ctx_; it alone calls VersionSet's mutators and publishes new Versions
// into the ReadView. A compaction checks for a pending flush between keys and
// runs it inline, so a flush never waits for a compaction to finish.
#include <algorithm>
#include <chrono>
#include <exception>

#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "db/config.h"
#include "db/db_impl.h"
#include "db/table_output.h"
#include "io/file_names.h"
#include "table/concat_iterator.h"
#include "table/merging_iterator.h"
#include "table/table_builder.h"
#include "table/table_cache.h"

namespace corodb {
namespace asio = boost::asio;

namespace {

uint64_t MicrosSince(std::chrono::steady_clock::time_point start) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                            start)
          .count());
}

// Whether [smallest, largest] (user keys) meets the key range of c's inputs.
bool OverlapsInputs(const Compaction& c, Slice smallest, Slice largest,
                    const InternalKeyComparator& icmp) {
  const Comparator* ucmp = icmp.user_comparator();
  for (int which = 0; which < 2; ++which) {
    for (const FileRef& f : c.inputs(which)) {
      if (ucmp->Compare(largest, f->smallest.user_key()) >= 0 &&
          ucmp->Compare(smallest, f->largest.user_key()) <= 0) {
        return true;
      }
    }
  }
  // Between two inputs counts too: the outputs may span the gap.
  Slice lo, hi;
  bool any = false;
  for (int which = 0; which < 2; ++which) {
    for (const FileRef& f : c.inputs(which)) {
      if (!any || ucmp->Compare(f->smallest.user_key(), lo) < 0) lo = f->smallest.user_key();
      if (!any || ucmp->Compare(f->largest.user_key(), hi) > 0) hi = f->largest.user_key();
      any = true;
    }
  }
  return any && ucmp->Compare(largest, lo) >= 0 && ucmp->Compare(smallest, hi) <= 0;
}

}  // namespace

// --- Events ---

void DBImpl::NotifyBackgroundProgress() {
  std::vector<ProgressWaiter> waiters;
  {
    std::lock_guard lock(bg_mu_);
    ++bg_progress_;
    waiters.swap(progress_waiters_);
  }
  ResumeWaiters(waiters);
}

void DBImpl::ResumeWaiters(std::vector<ProgressWaiter>& waiters) {
  for (ProgressWaiter& w : waiters) {
    asio::post(w.ex, [h = std::move(w.handler)]() mutable { std::move(h)(); });
    w.work = asio::any_io_executor();  // only now may the waiter's context finish
  }
}

asio::awaitable<void> DBImpl::AwaitBackgroundProgress(uint64_t seen) {
  const asio::any_io_executor ex = co_await asio::this_coro::executor;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [this, seen, ex](auto handler) {
        std::unique_lock lock(bg_mu_);
        if (bg_progress_ != seen) {
          lock.unlock();
          asio::post(ex, [h = std::move(handler)]() mutable { std::move(h)(); });
          return;
        }
        progress_waiters_.push_back(ProgressWaiter{
            ex, asio::prefer(ex, asio::execution::outstanding_work.tracked), std::move(handler)});
      },
      asio::use_awaitable);
}

void DBImpl::SetBackgroundFailure(const Status& s) {
  {
    std::lock_guard lock(bg_mu_);
    if (!bg_failure_.ok()) return;
    bg_failure_ = s;
    bg_failed_.store(true);
  }
  CORODB_LOG(info_log_.get(), "background error, writes now fail: %s", s.ToString().c_str());
  NotifyBackgroundProgress();
}

Status DBImpl::BackgroundFailure() const {
  std::lock_guard lock(bg_mu_);
  return bg_failure_;
}

// --- Background log syncs ---

void DBImpl::StartBackgroundLogSync() {
  BackgroundLogSync& state = *log_background_sync_;
  // One at a time: a slow disk gets no queue of syncs (nor a thread pool
  // full of them); the bytes left over go with the next one.
  if (state.in_flight.exchange(true, std::memory_order_acq_rel)) return;
  try {
    // The completion touches only what it holds: the DB may be gone by then.
    log_background_sync_file_->StartSync(
        engine_->get_executor(), [state = log_background_sync_,
                                  file = log_background_sync_file_](Status synced) {
          if (!synced.ok()) {
            std::lock_guard lock(state->mu);
            if (state->failure.ok()) state->failure = std::move(synced);
            state->failed.store(true, std::memory_order_release);
          }
          state->Finish();
        });
  } catch (...) {
    // Nothing was started (bad_alloc): the next group tries again.
    state.Finish();
    return;
  }
  log_writeback_start_ = log_file_->append_offset();
  stats_.wal_background_syncs.fetch_add(1, std::memory_order_relaxed);
}

void DBImpl::BackgroundLogSync::Finish() {
  std::vector<ProgressWaiter> woken;
  {
    std::lock_guard lock(mu);
    in_flight.store(false, std::memory_order_release);
    woken.swap(waiters);
  }
  ResumeWaiters(woken);
}

asio::awaitable<void> DBImpl::AwaitBackgroundLogSync() {
  const asio::any_io_executor ex = co_await asio::this_coro::executor;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      // (No shared_ptr capture: g++ 12 destroyed it twice here.)
      [state = log_background_sync_.get(), ex](auto handler) {
        std::unique_lock lock(state->mu);
        if (!state->in_flight.load(std::memory_order_acquire)) {
          lock.unlock();
          asio::post(ex, [h = std::move(handler)]() mutable { std::move(h)(); });
          return;
        }
        state->waiters.push_back(ProgressWaiter{
            ex, asio::prefer(ex, asio::execution::outstanding_work.tracked), std::move(handler)});
      },
      asio::use_awaitable);
}

// --- The chain ---

void DBImpl::MaybeScheduleBackground() {
  if (options_.read_only) return;  // seek charges schedule nothing
  {
    std::lock_guard lock(bg_mu_);
    if (bg_scheduled_ || bg_stopping_ || !bg_failure_.ok() || !versions_) return;
    if (pending_flushes_.empty() && manual_ == nullptr && !versions_->NeedsCompaction()) return;
    bg_scheduled_ = true;
  }
  asio::co_spawn(*bg_ctx_, BackgroundWork(), asio::detached);
}

void DBImpl::HoldBackgroundForTesting(bool hold) {
  bg_hold_.store(hold);
  if (!hold) {
    NotifyBackgroundProgress();
    MaybeScheduleBackground();
  }
}

int DBImpl::NumLevelFilesForTesting(int level) const {
  const auto view = CurrentState();
  return view->version ? view->version->NumFiles(level) : 0;
}

asio::awaitable<Status> DBImpl::WaitForBackgroundIdleForTesting() {
  for (;;) {
    MaybeScheduleBackground();
    uint64_t seen;
    {
      std::lock_guard lock(bg_mu_);
      if (!bg_failure_.ok()) co_return bg_failure_;
      if (!bg_scheduled_ && pending_flushes_.empty() && manual_ == nullptr &&
          !versions_->NeedsCompaction()) {
        co_return Status::OK();
      }
      seen = bg_progress_;
    }
    co_await AwaitBackgroundProgress(seen);
  }
}

asio::awaitable<void> DBImpl::BackgroundWork() {
  for (;;) {
    while (bg_hold_.load() && !bg_stop_requested_.load()) {
      uint64_t seen;
      {
        std::lock_guard lock(bg_mu_);
        seen = bg_progress_;
      }
      // Both flags again after `seen`: a release or a stop between the loop
      // check and the read above has notified already.
      if (!bg_hold_.load() || bg_stop_requested_.load()) break;
      co_await AwaitBackgroundProgress(seen);
    }
    bool worked = false;
    Status s;
    try {
      if (!bg_stop_requested_.load()) {
        ManualCompaction* manual = nullptr;
        {
          std::lock_guard lock(bg_mu_);
          if (manual_ != nullptr && !manual_->done) {
            manual = manual_;
            manual_running_ = true;
          }
        }
        if (imm_pending_.load()) {
          if (manual != nullptr) {
            std::lock_guard lock(bg_mu_);
            manual_running_ = false;
          }
          worked = true;
          s = co_await FlushImmutable(nullptr);
        } else if (manual != nullptr) {
          worked = true;
          s = co_await ManualCompactionStep(manual);
        } else if (std::unique_ptr<Compaction> c = versions_->PickCompaction()) {
          worked = true;
          s = co_await RunCompaction(c.get());
          // The compaction holds its input Version: its inputs become
          // obsolete only once it is gone.
          c.reset();
          if (s.ok()) DeleteObsoleteFiles();
        }
      }
    } catch (const std::exception& e) {
      worked = true;
      s = Status::IOError("background work", e.what());
    } catch (...) {
      worked = true;
      s = Status::IOError("background work", "failed with an exception");
    }
    if (!s.ok()) SetBackgroundFailure(s);
    if (worked) NotifyBackgroundProgress();
    if (worked && s.ok()) continue;
    {
      std::lock_guard lock(bg_mu_);
      // Work that arrived after the checks above found this chain scheduled.
      if (s.ok() && !bg_stopping_ && !bg_stop_requested_.load() &&
          (!pending_flushes_.empty() || (manual_ != nullptr && !manual_->done) ||
           versions_->NeedsCompaction())) {
        continue;
      }
      bg_scheduled_ = false;
    }
    NotifyBackgroundProgress();  // StopBackground waits for this
    co_return;
  }
}

asio::awaitable<Status> DBImpl::ManualCompactionStep(ManualCompaction* m) {
  // The request's range is the chain's while manual_running_ is set (the
  // requester only reads done/status, under bg_mu_).
  Status s;
  bool done = false;
  try {
    std::unique_ptr<Compaction> c = versions_->CompactRange(
        m->level, m->begin ? &*m->begin : nullptr, m->end ? &*m->end : nullptr);
    if (c == nullptr) {
      done = true;
    } else {
      // The next step starts after this one's inputs (level > 0 inputs are
      // cut at max_file_size), as LevelDB's manual compaction does.
      const InternalKey next = c->inputs(0).back()->largest;
      s = co_await RunCompaction(c.get());
      c.reset();
      if (s.ok()) {
        DeleteObsoleteFiles();
        m->begin = next;
      } else {
        done = true;
      }
    }
  } catch (...) {
    std::lock_guard lock(bg_mu_);
    manual_running_ = false;
    m->done = true;
    m->status = Status::IOError("manual compaction", "failed with an exception");
    throw;
  }
  std::lock_guard lock(bg_mu_);
  manual_running_ = false;
  if (done) {
    m->done = true;
    m->status = s;
  }
  co_return s;
}

asio::awaitable<Status> DBImpl::CompactLevelRange(int level, const Slice* begin, const Slice* end) {
  ManualCompaction m;
  m.level = level;
  if (begin != nullptr) m.begin.emplace(*begin, kMaxSequenceNumber, kValueTypeForSeek);
  if (end != nullptr) m.end.emplace(*end, 0, kTypeDeletion);
  // One request at a time: wait for the slot.
  for (;;) {
    uint64_t seen;
    {
      std::lock_guard lock(bg_mu_);
      if (!bg_failure_.ok()) co_return bg_failure_;
      if (bg_stopping_) co_return Status::InvalidArgument(name_, "the database is closing");
      if (manual_ == nullptr) {
        manual_ = &m;
        break;
      }
      seen = bg_progress_;
    }
    co_await AwaitBackgroundProgress(seen);
  }
  Status result;
  for (;;) {
    MaybeScheduleBackground();
    uint64_t seen;
    {
      std::lock_guard lock(bg_mu_);
      // A failure or a stop ends the wait once the chain is out of m.
      const bool stopped = !bg_failure_.ok() || bg_stopping_ || bg_stop_requested_.load();
      if (m.done || (stopped && !manual_running_)) {
        manual_ = nullptr;
        if (m.done) {
          result = m.status;
        } else if (!bg_failure_.ok()) {
          result = bg_failure_;
        } else {
          result = Status::InvalidArgument(name_, "the database is closing");
        }
        break;
      }
      seen = bg_progress_;
    }
    co_await AwaitBackgroundProgress(seen);
  }
  NotifyBackgroundProgress();  // the slot is free for another request
  co_return result;
}

asio::awaitable<Status> DBImpl::FlushMemTable() {
  force_switch_.store(true, std::memory_order_release);
  // An empty batch runs the room task (which freezes the memtable) and
  // writes nothing.
  if (Status s = co_await Write(WriteOptions(), WriteBatch()); !s.ok()) co_return s;
  for (;;) {
    MaybeScheduleBackground();
    uint64_t seen;
    {
      std::lock_guard lock(bg_mu_);
      if (!bg_failure_.ok()) co_return bg_failure_;
      if (pending_flushes_.empty()) break;
      if (bg_stopping_) co_return Status::InvalidArgument(name_, "the database is closing");
      seen = bg_progress_;
    }
    co_await AwaitBackgroundProgress(seen);
  }
  co_return Status::OK();
}

asio::awaitable<Status> DBImpl::CompactRange(const Slice* begin, const Slice* end) {
  if (closed_.load()) co_return Status::InvalidArgument(name_, "the database is closed");
  if (options_.read_only) co_return ReadOnlyError();
  if (Status s = co_await FlushMemTable(); !s.ok()) co_return s;
  int max_level_with_files = 1;
  {
    const std::shared_ptr<const Version> v = versions_->current();
    for (int level = 1; level < kNumLevels; ++level) {
      if (v->OverlapInLevel(level, begin, end)) max_level_with_files = level;
    }
  }
  for (int level = 0; level < max_level_with_files; ++level) {
    if (Status s = co_await CompactLevelRange(level, begin, end); !s.ok()) co_return s;
  }
  co_return Status::OK();
}

asio::awaitable<std::vector<uint64_t>> DBImpl::GetApproximateSizes(std::span<const Range> ranges) {
  const std::shared_ptr<const Version> v = CurrentState()->version;
  std::vector<uint64_t> sizes;
  sizes.reserve(ranges.size());
  for (const Range& r : ranges) {
    if (!v) {
      sizes.push_back(0);
      continue;
    }
    const InternalKey start(r.start, kMaxSequenceNumber, kValueTypeForSeek);
    const InternalKey limit(r.limit, kMaxSequenceNumber, kValueTypeForSeek);
    const uint64_t a = co_await v->ApproximateOffsetOf(start);
    const uint64_t b = co_await v->ApproximateOffsetOf(limit);
    sizes.push_back(b >= a ? b - a : 0);
  }
  co_return sizes;
}

asio::awaitable<void> DBImpl::StopBackground() {
  bg_stop_requested_.store(true);
  NotifyBackgroundProgress();  // a held chain wakes up and stops
  for (;;) {
    uint64_t seen;
    {
      std::lock_guard lock(bg_mu_);
      bg_stopping_ = true;
      if (!bg_scheduled_) break;
      seen = bg_progress_;
    }
    co_await AwaitBackgroundProgress(seen);
  }
}

void DBImpl::InstallView(std::shared_ptr<const Version> version, const MemTable* flushed) {
  std::unique_ptr<table::AsyncIterator> stale;  // destroyed after the lock
  std::lock_guard lock(state_mu_);
  auto next = std::make_shared<ReadView>(*state_);
  next->version = std::move(version);
  if (flushed != nullptr) {
    std::erase_if(next->imms, [flushed](const std::shared_ptr<MemTable>& m) {
      return m.get() == flushed;
    });
  }
  l0_files_.store(next->version->NumFiles(0), std::memory_order_relaxed);
  stale = SetStateLocked(std::move(next));
}

// --- Flush ---

asio::awaitable<Status> DBImpl::WriteTable(const MemTable& mem, FileMetaData* meta) {
  *meta = FileMetaData();
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<MemTable::Iterator> it = mem.NewIterator();
  it->SeekToFirst();
  if (!it->Valid()) co_return Status::OK();  // nothing to write: no file
  const uint64_t number = versions_->NewFileNumber();
  {
    std::lock_guard lock(bg_mu_);
    pending_outputs_.insert(number);
  }
  TableOutput out(table_options_, *fs_, name_);
  Status s = out.Open(number);
  uint64_t entries = 0;
  for (; s.ok() && it->Valid(); it->Next()) {
    s = co_await out.Add(it->key(), it->value());
    ++entries;
  }
  if (s.ok()) {
    s = co_await out.Finish(meta);
  } else {
    out.Abandon();
  }
  if (s.ok()) {
    // Read it back once: a table the MANIFEST names must open.
    Result<table::TableCache::Handle> opened =
        co_await table_cache_->FindTable(meta->number, meta->file_size);
    if (!opened.ok()) s = opened.status();
  }
  if (!s.ok()) {
    // Never named by a MANIFEST: removing it loses nothing.
    table_cache_->Evict(number);
    (void)io::RemoveFile(io::TableFileName(name_, number));
    {
      std::lock_guard lock(bg_mu_);
      pending_outputs_.erase(number);
    }
    *meta = FileMetaData();
    CORODB_LOG(info_log_.get(), "table #%llu: writing failed: %s",
               static_cast<unsigned long long>(number), s.ToString().c_str());
    co_return s;
  }
  CORODB_LOG(info_log_.get(), "table #%llu: %llu entries, %llu bytes, %llu us",
             static_cast<unsigned long long>(number), static_cast<unsigned long long>(entries),
             static_cast<unsigned long long>(meta->file_size),
             static_cast<unsigned long long>(MicrosSince(start)));
  co_return Status::OK();
}

asio::awaitable<Status> DBImpl::FlushImmutable(const Compaction* running) {
  PendingFlush flush;
  {
    std::lock_guard lock(bg_mu_);
    if (pending_flushes_.empty()) co_return Status::OK();
    flush = pending_flushes_.front();
  }
  const auto flush_start = std::chrono::steady_clock::now();
  int flush_level = 0;
  FileMetaData meta;
  Status s = co_await WriteTable(*flush.mem, &meta);
  VersionEdit edit;
  if (s.ok() && meta.file_size > 0) {
    // The table's directory entry must be durable before the MANIFEST
    // names it.
    s = co_await fs_->SyncDir(name_);
    int level = 0;
    const Slice smallest = meta.smallest.user_key();
    const Slice largest = meta.largest.user_key();
    // While a compaction runs, a table inside its key range stays at L0:
    // the compaction's outputs may span the gap it would be pushed into.
    if (running == nullptr || !OverlapsInputs(*running, smallest, largest, icmp_)) {
      level = versions_->current()->PickLevelForMemTableOutput(smallest, largest,
                                                              options_.max_file_size);
    }
    edit.AddFile(level, meta);
    flush_level = level;
  }
  bool logged = false;  // LogAndApply ran: a MANIFEST may name the table
  if (s.ok()) {
    edit.SetLogNumber(flush.next_log);  // older logs are in tables now
    edit.SetPrevLogNumber(0);
    versions_->SetLastSequence(std::max(versions_->last_sequence(), flush.last_sequence));
    logged = true;
    s = co_await versions_->LogAndApply(&edit);
  }
  if (!s.ok() && !logged && meta.file_size > 0) {
    // Written but never named by a MANIFEST (the directory sync failed).
    table_cache_->Evict(meta.number);
    (void)io::RemoveFile(io::TableFileName(name_, meta.number));
  }
  {
    std::lock_guard lock(bg_mu_);
    pending_outputs_.erase(meta.number);
    if (s.ok()) {
      pending_flushes_.pop_front();
      imm_pending_.store(!pending_flushes_.empty());
    }
  }
  // After a failed LogAndApply the table stays: the MANIFEST may name it
  // after all (the record may be on disk); the next Open removes it if not.
  // Obsolete-file deletion is off after a background failure.
  if (!s.ok()) co_return s;
  // Statistics first: whoever sees the new view sees them too.
  stats_.flushes.fetch_add(1, std::memory_order_relaxed);
  stats_.flush_bytes.fetch_add(meta.file_size, std::memory_order_relaxed);
  {
    Stats::Level& at = stats_.levels[static_cast<size_t>(flush_level)];
    at.count.fetch_add(1, std::memory_order_relaxed);
    at.micros.fetch_add(MicrosSince(flush_start), std::memory_order_relaxed);
    at.bytes_written.fetch_add(meta.file_size, std::memory_order_relaxed);
  }
  InstallView(versions_->current(), flush.mem.get());
  CORODB_LOG(info_log_.get(), "flushed memtable to table #%llu (%llu bytes); %s",
             static_cast<unsigned long long>(meta.number),
             static_cast<unsigned long long>(meta.file_size), versions_->LevelSummary().c_str());
  DeleteObsoleteFiles();
  co_return Status::OK();
}

// --- Compaction ---

asio::awaitable<Status> DBImpl::RunCompaction(Compaction* c) {
  if (c->is_seek()) stats_.seek_compactions.fetch_add(1, std::memory_order_relaxed);
  Status s;
  if (!c->is_manual() && c->IsTrivialMove()) {
    const FileRef& f = c->inputs(0)[0];
    c->edit()->RemoveFile(c->level(), f->number);
    c->edit()->AddFile(c->level() + 1, f->meta());
    s = co_await versions_->LogAndApply(c->edit());
    if (s.ok()) {
      stats_.trivial_moves.fetch_add(1, std::memory_order_relaxed);
      InstallView(versions_->current(), nullptr);
      CORODB_LOG(info_log_.get(), "moved #%llu to level %d (%llu bytes); %s",
                 static_cast<unsigned long long>(f->number), c->level() + 1,
                 static_cast<unsigned long long>(f->file_size), versions_->LevelSummary().c_str());
    }
  } else {
    s = co_await DoCompactionWork(c);
  }
  co_return s;
}

asio::awaitable<Result<std::unique_ptr<table::AsyncIterator>>> DBImpl::OpenCompactionInput(
    uint64_t number, uint64_t file_size) {
  Result<table::TableCache::Handle> table = co_await table_cache_->FindTable(number, file_size);
  if (!table.ok()) co_return table.status();
  std::unique_ptr<table::AsyncIterator> it =
      table->value()->NewSequentialIterator(options_.compaction_readahead_size,
                                           &stats_.compaction_input_reads);
  it->Hold(std::move(table).value());
  co_return it;
}

asio::awaitable<Status> DBImpl::DoCompactionWork(Compaction* c) {
  const auto start = std::chrono::steady_clock::now();
  // Every reader that will use the result loads its sequence after the
  // result is installed, so it sees at least this one, and every snapshot is
  // at least this one: an entry shadowed at or below it is invisible to all
  // of them.
  const SequenceNumber smallest_snapshot = SmallestSnapshot();
  const Comparator* ucmp = icmp_.user_comparator();

  std::vector<std::unique_ptr<table::AsyncIterator>> children;
  for (int which = 0; which < 2; ++which) {
    const std::vector<FileRef>& files = c->inputs(which);
    if (files.empty()) continue;
    if (c->level() + which == 0) {
      for (const FileRef& f : files) {
        Result<std::unique_ptr<table::AsyncIterator>> it =
            co_await OpenCompactionInput(f->number, f->file_size);
        if (!it.ok()) co_return it.status();
        children.push_back(std::move(it).value());
      }
    } else {
      std::vector<table::ConcatFile> run;
      for (const FileRef& f : files) {
        run.push_back(table::ConcatFile{f->number, f->file_size, f->smallest.Encode(),
                                        f->largest.Encode()});
      }
      children.push_back(table::NewConcatenatingIterator(
          &icmp_, std::move(run),
          [this](const table::ConcatFile& f) { return OpenCompactionInput(f.number, f.size); }));
    }
  }
  std::unique_ptr<table::AsyncIterator> input =
      table::NewMergingIterator(&icmp_, std::move(children));

  TableOutput out(table_options_, *fs_, name_);
  std::vector<FileMetaData> outputs;
  std::vector<uint64_t> output_numbers;
  Status s;
  bool abandoned = false;
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  std::string current_user_key;
  bool has_current_user_key = false;
  SequenceNumber last_sequence_for_key = kMaxSequenceNumber;
  int since_yield = 0;
  const auto finish_output = [&]() -> asio::awaitable<Status> {
    FileMetaData meta;
    Status fs = co_await out.Finish(&meta);
    if (fs.ok()) {
      outputs.push_back(meta);
      bytes_written += meta.file_size;
    }
    co_return fs;
  };

  co_await input->SeekToFirst();
  while (input->Valid()) {
    if (bg_stop_requested_.load(std::memory_order_relaxed)) {
      abandoned = true;
      break;
    }
    if (imm_pending_.load(std::memory_order_relaxed)) {
      // A flush never waits for a compaction: run it now, then go on.
      if (s = co_await FlushImmutable(c); !s.ok()) break;
      stats_.flush_preemptions.fetch_add(1, std::memory_order_relaxed);
      NotifyBackgroundProgress();
    }
    if (++since_yield >= config::kCompactionYieldEvery) {
      since_yield = 0;
      co_await PaceCompaction(start, bytes_written + (out.is_open() ? out.FileSize() : 0));
    }
    const Slice key = input->key();
    // Called for every key (it walks the grandparents in key order).
    if (c->ShouldStopBefore(key) && out.is_open()) {
      if (s = co_await finish_output(); !s.ok()) break;
    }
    ParsedInternalKey ikey;
    if (!ParseInternalKey(key, &ikey)) {
      // Never drop what cannot be read: stop with the damage named.
      s = Status::Corruption("compaction input", "bad internal key in level " +
                                                     std::to_string(c->level()) + "/" +
                                                     std::to_string(c->level() + 1) + " inputs");
      break;
    }
    bool drop = false;
    if (!has_current_user_key || ucmp->Compare(ikey.user_key, current_user_key) != 0) {
      current_user_key.assign(ikey.user_key.data(), ikey.user_key.size());
      has_current_user_key = true;
      last_sequence_for_key = kMaxSequenceNumber;
    }
    if (last_sequence_for_key <= smallest_snapshot) {
      drop = true;  // a newer entry for this key is visible to every reader
    } else if (ikey.type == kTypeDeletion && ikey.sequence <= smallest_snapshot &&
               c->IsBaseLevelForKey(ikey.user_key)) {
      // Nothing older can be hidden by this marker below this level, and the
      // older entries of this level are dropped by the rule above.
      drop = true;
    }
    last_sequence_for_key = ikey.sequence;
    const Slice value = input->value();
    bytes_read += key.size() + value.size();
    if (!drop) {
      if (!out.is_open()) {
        const uint64_t number = versions_->NewFileNumber();
        {
          std::lock_guard lock(bg_mu_);
          pending_outputs_.insert(number);
        }
        output_numbers.push_back(number);
        if (s = out.Open(number); !s.ok()) break;
      }
      if (s = co_await out.Add(key, value); !s.ok()) break;
      if (out.FileSize() >= c->MaxOutputFileSize()) {
        if (s = co_await finish_output(); !s.ok()) break;
      }
    }
    if (!input->TryNext()) co_await input->Next();
  }
  if (s.ok() && !abandoned) s = input->status();
  if (s.ok() && !abandoned && out.is_open()) s = co_await finish_output();
  if (out.is_open()) out.Abandon();
  input.reset();

  if (s.ok() && !abandoned) {
    for (const FileMetaData& meta : outputs) {
      Result<table::TableCache::Handle> opened =
          co_await table_cache_->FindTable(meta.number, meta.file_size);
      if (!opened.ok()) {
        s = opened.status();
        break;
      }
    }
  }
  if (s.ok() && !abandoned && !outputs.empty()) s = co_await fs_->SyncDir(name_);
  bool installed = false;
  if (s.ok() && !abandoned) {
    c->AddInputDeletions(c->edit());
    for (const FileMetaData& meta : outputs) c->edit()->AddFile(c->level() + 1, meta);
    s = co_await versions_->LogAndApply(c->edit());
    installed = s.ok();
    if (installed) {
      // Statistics first: whoever sees the new view sees them too.
      stats_.compactions.fetch_add(1, std::memory_order_relaxed);
      stats_.compaction_bytes_read.fetch_add(bytes_read, std::memory_order_relaxed);
      stats_.compaction_bytes_written.fetch_add(bytes_written, std::memory_order_relaxed);
      Stats::Level& at = stats_.levels[static_cast<size_t>(c->level() + 1)];
      uint64_t input_bytes = 0;
      for (int which = 0; which < 2; ++which) {
        for (const FileRef& f : c->inputs(which)) input_bytes += f->file_size;
      }
      at.count.fetch_add(1, std::memory_order_relaxed);
      at.micros.fetch_add(MicrosSince(start), std::memory_order_relaxed);
      at.bytes_read.fetch_add(input_bytes, std::memory_order_relaxed);
      at.bytes_written.fetch_add(bytes_written, std::memory_order_relaxed);
      InstallView(versions_->current(), nullptr);
    }
  }
  // Outputs of a compaction that failed before LogAndApply (or was
  // abandoned) are named by no MANIFEST: remove them. After a failed
  // LogAndApply they stay (the record may be on disk).
  const bool remove_outputs = abandoned || (!s.ok() && !installed && c->edit()->new_files().empty());
  {
    std::lock_guard lock(bg_mu_);
    for (uint64_t number : output_numbers) pending_outputs_.erase(number);
  }
  if (remove_outputs) {
    for (uint64_t number : output_numbers) {
      table_cache_->Evict(number);
      (void)io::RemoveFile(io::TableFileName(name_, number));
    }
  }
  const uint64_t micros = MicrosSince(start);
  if (installed) stats_.compaction_micros.fetch_add(micros, std::memory_order_relaxed);
  CORODB_LOG(info_log_.get(),
             "compacted %d@%d + %d@%d -> %zu files at level %d, %llu bytes read, %llu written, "
             "%llu us: %s; %s",
             c->num_input_files(0), c->level(), c->num_input_files(1), c->level() + 1,
             outputs.size(), c->level() + 1, static_cast<unsigned long long>(bytes_read),
             static_cast<unsigned long long>(bytes_written), static_cast<unsigned long long>(micros),
             abandoned ? "abandoned (closing)" : s.ToString().c_str(),
             versions_->LevelSummary().c_str());
  co_return s;
}

asio::awaitable<void> DBImpl::PaceCompaction(std::chrono::steady_clock::time_point start,
                                             uint64_t bytes_written) {
  const uint64_t rate = options_.compaction_rate_limit;
  if (rate > 0) {
    const auto due = start + std::chrono::microseconds(bytes_written * 1000000 / rate);
    if (due > std::chrono::steady_clock::now()) {
      // In slices of at most 10 ms, so a pending flush or Close waits no
      // longer than that for the compaction to look up.
      asio::steady_timer timer(co_await asio::this_coro::executor);
      while (!imm_pending_.load(std::memory_order_relaxed) &&
             !bg_stop_requested_.load(std::memory_order_relaxed)) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= due) break;
        timer.expires_at(std::min(due, now + std::chrono::milliseconds(10)));
        co_await timer.async_wait(asio::use_awaitable);
      }
      co_return;
    }
  }
  // Let other handlers of the background context run.
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
}

SequenceNumber DBImpl::SmallestSnapshot() const { return snapshots_->Smallest(); }

// --- Obsolete files ---

void DBImpl::DeleteObsoleteFiles() {
  // After a background failure the files on disk may be needed to recover.
  if (bg_failed_.load()) return;
  std::set<uint64_t> live;
  versions_->AddLiveFiles(&live);
  {
    std::lock_guard lock(bg_mu_);
    live.insert(pending_outputs_.begin(), pending_outputs_.end());
  }
  const uint64_t log_number = versions_->log_number();
  const uint64_t prev_log_number = versions_->prev_log_number();
  const uint64_t manifest_number = versions_->manifest_file_number();
  auto names = io::ListDir(name_);
  if (!names.ok()) {
    CORODB_LOG(info_log_.get(), "cannot list obsolete files: %s",
               names.status().ToString().c_str());
    return;
  }
  for (const std::string& name : *names) {
    uint64_t number;
    io::FileType type;
    if (!io::ParseFileName(name, &number, &type)) continue;
    bool keep = true;
    switch (type) {
      case io::FileType::kLogFile:
        keep = number >= log_number || number == prev_log_number;
        break;
      case io::FileType::kDescriptorFile:
        // Only the chain writes MANIFESTs, and it is here: any other one is
        // an old or abandoned one.
        keep = number == manifest_number;
        break;
      case io::FileType::kTableFile:
      case io::FileType::kTempFile:
        keep = live.count(number) > 0;
        break;
      default:
        break;
    }
    if (keep) continue;
    if (type == io::FileType::kTableFile) table_cache_->Evict(number);
    if (Status s = io::RemoveFile(name_ + "/" + name); !s.ok()) {
      CORODB_LOG(info_log_.get(), "cannot remove obsolete %s: %s", name.c_str(),
                 s.ToString().c_str());
    } else {
      CORODB_LOG(info_log_.get(), "removed obsolete %s", name.c_str());
    }
  }
}

}  // namespace corodb

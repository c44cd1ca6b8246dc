// Repair (db/repair.h): the Repairer walks the steps listed there; the
// TableSalvager reads what can be read of one table; TableOrder (in
// db/repair_order.h) decides the level-0 order of the tables kept.
#include "db/repair.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "corodb/comparator.h"
#include "db/repair_order.h"
#include "db/table_output.h"
#include "db/write_batch_internal.h"
#include "format/dbformat.h"
#include "io/file_names.h"
#include "io/file_system.h"
#include "io/lock_file.h"
#include "io/uring_backend.h"
#include "log/log_reader.h"
#include "log/log_writer.h"
#include "memtable/memtable.h"
#include "table/table.h"
#include "table/table_options.h"
#include "util/logging.h"
#include "version/current_file.h"
#include "version/version_edit.h"

namespace corodb {
namespace asio = boost::asio;

namespace {

// Damage reports per table or log written to the LOG one by one; the rest
// only counted (a badly damaged file would flood it).
constexpr int kMaxDamageLines = 10;

// Counts (and logs the first few of) the byte ranges a log reader drops.
class DropCounter final : public log::Reporter {
 public:
  explicit DropCounter(Logger* logger) : logger_(logger) {}
  void Corruption(uint64_t /*offset*/, size_t bytes, const Status& status) override {
    if (++drops <= kMaxDamageLines) {
      CORODB_LOG(logger_, "repair: dropping %zu bytes: %s", bytes,
                 status.ToString().c_str());
    }
    bytes_dropped += bytes;
  }
  uint64_t drops = 0;
  uint64_t bytes_dropped = 0;

 private:
  Logger* logger_;
};

// Walks every entry of one table that can be read, in order: the data
// blocks its index names, one read each, checksums verified, not cached. A
// damaged block (Corruption: a bad checksum, a block that does not decode)
// is skipped; so are the rest of a block after a malformed entry, and an
// entry whose key does not sort after the one before (a table the builder
// wrote never has one). Each skip is counted (the first few are logged). Any
// other error (an I/O error reading a block) is no damage: it ends the walk
// and is kept in error().
//
// Invariants: `table_` outlives the salvager; when data_ is set it walks
// block_, the block at handle_, which index_ points at.
class TableSalvager {
 public:
  // `logger` (may be null) hears the first few skips.
  TableSalvager(const table::Table& table, const InternalKeyComparator& icmp,
                Logger* logger)
      : table_(table),
        icmp_(icmp),
        logger_(logger),
        index_(&table.index_block(), &icmp, /*internal_keys=*/true) {}

  // Moves to the next readable entry (the first, on the first call).
  // False at the end of the table, or when error() is set.
  // SUSPENDS: one read per data block.
  asio::awaitable<bool> Next() {
    if (!error_.ok()) co_return false;
    if (data_ && data_->Valid()) data_->Next();
    for (;;) {
      if (data_) {
        for (; data_->Valid(); data_->Next()) {
          if (last_key_.empty() || icmp_.Compare(data_->key(), last_key_) > 0) {
            last_key_.assign(data_->key());
            co_return true;
          }
          Damage(table_.BlockError(handle_, Status::Corruption("key out of order")));
        }
        if (!data_->status().ok() &&
            !Damage(table_.BlockError(handle_, data_->status()))) {
          co_return false;
        }
        data_.reset();
        block_ = table::BlockRef();
      }
      if (!index_started_) {
        index_.SeekToFirst();
        index_started_ = true;
      } else if (index_.Valid()) {
        index_.Next();
      }
      if (!index_.Valid()) {
        if (!index_.status().ok()) {
          Damage(Status::Corruption(table_.file_name(),
                                    "index block: " + index_.status().ToString()));
        }
        co_return false;
      }
      Result<table::BlockHandle> handle = table_.DecodeDataHandle(index_.value());
      if (!handle.ok()) {
        if (!Damage(handle.status())) co_return false;
        continue;
      }
      Result<table::BlockRef> block = co_await table_.LoadBlock(
          ReadOptions{.verify_checksums = true, .fill_cache = false}, *handle);
      if (!block.ok()) {
        if (!Damage(block.status())) co_return false;
        continue;
      }
      handle_ = *handle;
      block_ = std::move(block).value();
      data_.emplace(block_.get(), &icmp_, /*internal_keys=*/true);
      data_->SeekToFirst();
    }
  }

  // REQUIRES: the last Next() returned true.
  Slice key() const { return data_->key(); }
  Slice value() const { return data_->value(); }

  // Blocks, block tails and entries skipped so far.
  uint64_t damaged() const { return damaged_; }
  // The error that ended the walk (an I/O error, naming the file), or OK.
  const Status& error() const { return error_; }

 private:
  // Counts `s` as damage and returns true when it is Corruption; otherwise
  // keeps it as error_ and returns false (the walk ends).
  bool Damage(const Status& s) {
    if (!s.IsCorruption()) {
      error_ = s;
      return false;
    }
    if (++damaged_ <= kMaxDamageLines) {
      CORODB_LOG(logger_, "repair: skipping what cannot be read: %s",
                 s.ToString().c_str());
    }
    return true;
  }

  const table::Table& table_;
  const InternalKeyComparator& icmp_;
  Logger* const logger_;
  table::BlockIter index_;
  bool index_started_ = false;
  table::BlockHandle handle_;
  table::BlockRef block_;
  std::optional<table::BlockIter> data_;
  std::string last_key_;  // the last key returned ("" before the first)
  uint64_t damaged_ = 0;
  Status error_;
};

// The caller's options, but tables are read with system calls through the
// backend, never through a mapping: a bad sector in a mapped table raises
// SIGBUS, which would kill every repair run instead of failing one read.
Options WithoutMmapReads(Options options) {
  options.mmap_reads = false;
  return options;
}

// A table file found in the directory or written by the repair.
struct TableFile {
  uint64_t number = 0;
  std::string name;  // in the directory: "000005.ldb" or "000005.sst"
};

struct RepairStats {
  uint64_t logs = 0;
  uint64_t log_records = 0;          // batches replayed
  uint64_t log_records_skipped = 0;  // batches that did not parse or apply
  uint64_t log_bytes_dropped = 0;    // bytes the log reader skipped
  uint64_t logs_lost = 0;            // unreadable or not to their end: in lost/
  uint64_t tables_found = 0;         // in the directory before the repair
  uint64_t tables_from_logs = 0;
  uint64_t tables_kept = 0;       // intact, kept as they were
  uint64_t tables_rewritten = 0;  // damaged, readable entries copied
  uint64_t tables_lost = 0;       // unreadable or empty: only in lost/
  uint64_t table_damage = 0;      // blocks, block tails and entries skipped
  uint64_t entries = 0;           // in the tables the MANIFEST names
  uint64_t renumbered = 0;
  uint64_t order_conflicts = 0;
};

class Repairer {
 public:
  Repairer(std::string dbname, Options options, asio::io_context* ctx,
           std::shared_ptr<io::Backend> backend)
      : dbname_(std::move(dbname)),
        options_(WithoutMmapReads(std::move(options))),
        ctx_(ctx),
        given_backend_(std::move(backend)),
        icmp_(options_.comparator != nullptr ? options_.comparator
                                             : BytewiseComparator()),
        write_options_(table::TableOptionsForDb(options_, &icmp_, nullptr)),
        read_options_(write_options_) {
    read_options_.paranoid_checks = true;
    read_options_.map_resident_pages = false;
  }

  ~Repairer() {
    if (auto* uring = fs_ ? dynamic_cast<io::UringBackend*>(&fs_->backend()) : nullptr) {
      uring->SetDefaultContext(nullptr);
    }
  }

  asio::awaitable<Status> Run();

 private:
  // Sorts the directory's files into logs_, tables_ and manifests_, and sets
  // next_number_ above every number in use.
  void FindFiles(const std::vector<std::string>& names);
  // Replays one log into tables. A log that cannot be opened, or whose
  // reading ends with an error, keeps the records read before it and goes
  // to to_lost_ (the MANIFEST's log number is above it: the next Open would
  // delete it); a log read to its end goes to converted_logs_.
  asio::awaitable<Status> ConvertLog(uint64_t number);
  // Replays one log record into `mem` unless it is damaged (Corruption,
  // nothing inserted) or its sequence numbers do not follow *max_sequence,
  // the highest of the log's records before it (then raised).
  static Status ApplyRecord(Slice record, WriteBatch* batch, MemTable* mem,
                            SequenceNumber* max_sequence);
  // Writes `mem` to a new table (none when it is empty), to be scanned.
  asio::awaitable<Status> WriteMemTable(const MemTable& mem);
  // Keeps an intact table as it is (synced: the MANIFEST will name it),
  // copies the readable entries of a damaged one, gives up on one that
  // cannot be opened or holds no readable entry; the last two go to
  // to_lost_.
  asio::awaitable<Status> ScanTable(const TableFile& file);
  // Copies the readable entries of `table` (file `from`) into a new table.
  asio::awaitable<Status> CopyReadable(const table::Table& table, const TableFile& from);
  asio::awaitable<Result<std::unique_ptr<table::Table>>> OpenTable(
      const std::string& name, const table::TableOptions& options) const;
  // Renames the tables that TableOrder says must outrank a higher number.
  asio::awaitable<Status> Renumber();
  // Before the MANIFEST: makes the directory entries of the tables it will
  // name durable (their contents are already: synced when written, or by
  // ScanTable), then moves to_lost_ into lost/, durably.
  asio::awaitable<Status> SyncAndMoveToLost();
  asio::awaitable<Status> WriteManifest(uint64_t number);
  // Once CURRENT names the new MANIFEST: moves the old MANIFESTs and the
  // converted logs to lost/ (failures are logged: nothing needs them; every
  // record of those logs that reads is in tables).
  asio::awaitable<void> ArchiveReplaced();
  // Moves `name` (a file of the directory) into lost/, under a name no file
  // there has yet. REQUIRES: lost/ exists.
  Status Archive(const std::string& name);
  // Makes moves into lost/ durable: lost/ is synced first, so that a crash
  // that kept only one of the two directory changes would leave a moved
  // file under both of its names, never under neither.
  asio::awaitable<Status> SyncMoves();
  void LogSummary(uint64_t manifest_number) const;

  const std::string dbname_;
  const Options options_;
  asio::io_context* const ctx_;
  std::shared_ptr<io::Backend> given_backend_;  // nullptr: MakeBackend
  const InternalKeyComparator icmp_;
  const table::TableOptions write_options_;
  table::TableOptions read_options_;  // all blocks verified

  std::unique_ptr<Logger> logger_;
  std::unique_ptr<io::FileSystem> fs_;

  std::vector<uint64_t> logs_;
  std::vector<TableFile> tables_;  // to scan: found, then made from logs
  std::vector<std::string> manifests_;
  std::vector<std::string> duplicates_;  // a second table file with a used number
  // What goes to lost/ before the MANIFEST is written: duplicates, damaged
  // tables, tables and logs that cannot be read (or not to their end).
  std::vector<std::string> to_lost_;
  std::vector<std::string> converted_logs_;  // read to their end: lost/ after CURRENT
  uint64_t next_number_ = 1;
  uint64_t first_new_number_ = 1;  // next_number_ before the repair wrote anything

  std::vector<RepairedTable> kept_;  // what the new MANIFEST names
  RepairStats stats_;
};

asio::awaitable<Status> Repairer::Run() {
  // The lock first: nothing in the directory changes while a DB has it open.
  auto lock = io::LockFile::Acquire(io::LockFileName(dbname_));
  if (!lock.ok()) co_return lock.status();
  auto logger = Logger::OpenInDirectory(dbname_);
  if (!logger.ok()) co_return logger.status();
  logger_ = std::move(logger).value();
  CORODB_LOG(logger_.get(), "repair: starting on %s", dbname_.c_str());

  // The backend as DB::Open picks it (io/backend.h), on the repair's thread.
  Result<std::shared_ptr<io::Backend>> backend =
      given_backend_
          ? Result<std::shared_ptr<io::Backend>>(std::move(given_backend_))
          : io::MakeBackend(options_.io_backend, options_.io_threads, logger_.get());
  if (!backend.ok()) co_return backend.status();
  if (auto* uring = dynamic_cast<io::UringBackend*>(backend->get())) {
    uring->SetDefaultContext(ctx_);
  }
  fs_ = std::make_unique<io::FileSystem>(std::move(backend).value());

  auto names = io::ListDir(dbname_);
  if (!names.ok()) co_return names.status();
  FindFiles(*names);
  CORODB_LOG(logger_.get(), "repair: found %zu logs, %zu tables, %zu MANIFESTs",
             logs_.size(), tables_.size(), manifests_.size());

  for (const std::string& name : duplicates_) {
    CORODB_LOG(logger_.get(), "repair: %s: another table file has its number",
               name.c_str());
    to_lost_.push_back(name);
  }
  for (uint64_t log : logs_) {
    if (Status s = co_await ConvertLog(log); !s.ok()) co_return s;
  }
  for (const TableFile& table : tables_) {  // found, then made from logs
    if (Status s = co_await ScanTable(table); !s.ok()) co_return s;
  }
  if (Status s = co_await Renumber(); !s.ok()) co_return s;

  // Up to here, a failure leaves every file where it was (but for the new
  // tables, which nothing names, and renumbered ones): repair can run again.
  if (Status s = co_await SyncAndMoveToLost(); !s.ok()) co_return s;
  const uint64_t manifest_number = next_number_++;
  if (Status s = co_await WriteManifest(manifest_number); !s.ok()) co_return s;
  if (Status s = co_await SetCurrentFile(*fs_, dbname_, manifest_number); !s.ok())
    co_return s;

  co_await ArchiveReplaced();
  LogSummary(manifest_number);
  co_return Status::OK();
}

asio::awaitable<void> Repairer::ArchiveReplaced() {
  // A log left behind by a failure here is below the MANIFEST's log number:
  // never replayed, deleted by the next Open (its records are in tables).
  std::vector<std::string> names = manifests_;
  names.insert(names.end(), converted_logs_.begin(), converted_logs_.end());
  bool moved = false;
  for (const std::string& name : names) {
    if (Status s = Archive(name); !s.ok()) {
      CORODB_LOG(logger_.get(), "repair: %s", s.ToString().c_str());
    } else {
      moved = true;
    }
  }
  if (!moved) co_return;
  // Best effort: CURRENT is durable already; a move undone by a crash
  // leaves a file the next Open deletes as obsolete.
  if (Status s = co_await SyncMoves(); !s.ok()) {
    CORODB_LOG(logger_.get(), "repair: %s", s.ToString().c_str());
  }
}

asio::awaitable<Status> Repairer::SyncAndMoveToLost() {
  // lost/ is made before anything moves into it, its entry made durable
  // with the tables'.
  if (!to_lost_.empty() || !manifests_.empty() || !logs_.empty()) {
    if (Status s = io::CreateDir(dbname_ + "/lost"); !s.ok()) co_return s;
  }
  // The copy of a damaged table is durable before its original moves.
  if (Status s = co_await fs_->SyncDir(dbname_); !s.ok()) co_return s;
  if (to_lost_.empty()) co_return Status::OK();
  for (const std::string& name : to_lost_) {
    if (Status s = Archive(name); !s.ok()) co_return s;
  }
  co_return co_await SyncMoves();
}

asio::awaitable<Status> Repairer::SyncMoves() {
  if (Status s = co_await fs_->SyncDir(dbname_ + "/lost"); !s.ok()) co_return s;
  co_return co_await fs_->SyncDir(dbname_);
}

void Repairer::FindFiles(const std::vector<std::string>& names) {
  uint64_t max_number = 0;
  std::map<uint64_t, std::string> table_names;
  for (const std::string& name : names) {
    uint64_t number;
    io::FileType type;
    if (!io::ParseFileName(name, &number, &type)) continue;
    max_number = std::max(max_number, number);
    switch (type) {
      case io::FileType::kLogFile:
        logs_.push_back(number);
        break;
      case io::FileType::kTableFile:
        if (auto [it, added] = table_names.emplace(number, name); !added) {
          // NNNNNN.ldb and NNNNNN.sst: a DB opens the .ldb; the other goes.
          std::string other = name;
          if (other.ends_with(".ldb")) std::swap(it->second, other);
          duplicates_.push_back(std::move(other));
        }
        break;
      case io::FileType::kDescriptorFile:
        manifests_.push_back(name);
        break;
      default:
        break;  // CURRENT, LOCK, LOG, LOG.old, temp files
    }
  }
  std::sort(logs_.begin(), logs_.end());
  for (const auto& [number, name] : table_names)
    tables_.push_back(TableFile{number, name});
  stats_.logs = logs_.size();
  stats_.tables_found = tables_.size();
  next_number_ = max_number + 1;
  first_new_number_ = next_number_;
}

Status Repairer::ApplyRecord(Slice record, WriteBatch* batch, MemTable* mem,
                             SequenceNumber* max_sequence) {
  if (Status s = WriteBatchInternal::SetContents(batch, record); !s.ok()) return s;
  const uint32_t count = WriteBatchInternal::Count(*batch);
  if (count == 0) return Status::OK();
  const SequenceNumber first = WriteBatchInternal::Sequence(*batch);
  if (first > kMaxSequenceNumber || count - 1 > kMaxSequenceNumber - first) {
    // As in recovery: keys carry 56-bit sequences, these would wrap.
    return Status::Corruption("sequence numbers from " + std::to_string(first) +
                              " run past the largest (" +
                              std::to_string(kMaxSequenceNumber) + ")");
  }
  const SequenceNumber last = first + count - 1;
  // Sequence numbers grow along a log; a batch that does not continue them
  // is a copy or damage (and could collide with entries in the memtable).
  if (first <= *max_sequence) {
    return Status::Corruption("sequence numbers " + std::to_string(first) + ".." +
                              std::to_string(last) + " do not follow " +
                              std::to_string(*max_sequence));
  }
  *max_sequence = last;
  return WriteBatchInternal::InsertInto(*batch, mem);
}

asio::awaitable<Status> Repairer::ConvertLog(uint64_t number) {
  const std::string path = io::LogFileName(dbname_, number);
  const std::string name = path.substr(dbname_.size() + 1);
  auto file = fs_->Open(path, io::OpenMode::kRead);
  if (!file.ok()) {
    CORODB_LOG(logger_.get(), "repair: cannot read %s, moving it to lost/: %s",
               path.c_str(), file.status().ToString().c_str());
    ++stats_.logs_lost;
    to_lost_.push_back(name);
    co_return Status::OK();
  }
  DropCounter reporter(logger_.get());
  log::Reader reader(**file, &reporter, /*checksum=*/true);
  std::shared_ptr<MemTable> mem = MemTable::Create(icmp_);
  std::string record;
  WriteBatch batch;
  SequenceNumber max_sequence = 0;  // the highest of the records applied so far
  uint64_t records = 0;
  uint64_t skipped = 0;
  const size_t tables_before = tables_.size();
  bool read_to_end = true;
  for (;;) {
    Result<bool> more = co_await reader.ReadRecord(&record);
    if (!more.ok()) {
      CORODB_LOG(logger_.get(),
                 "repair: %s: keeping the records before a read error, moving the log to "
                 "lost/: %s",
                 path.c_str(), more.status().ToString().c_str());
      read_to_end = false;
      break;
    }
    if (!*more) break;
    if (Status s = ApplyRecord(record, &batch, mem.get(), &max_sequence); !s.ok()) {
      if (++skipped <= kMaxDamageLines) {
        CORODB_LOG(logger_.get(), "repair: %s: skipping the record at offset %llu: %s",
                   path.c_str(),
                   static_cast<unsigned long long>(reader.LastRecordOffset()),
                   s.ToString().c_str());
      }
      continue;
    }
    ++records;
    if (mem->ApproximateMemoryUsage() > options_.write_buffer_size) {
      if (Status w = co_await WriteMemTable(*mem); !w.ok()) co_return w;
      mem = MemTable::Create(icmp_);
    }
  }
  if (Status w = co_await WriteMemTable(*mem); !w.ok()) co_return w;
  const Result<uint64_t> size = (*file)->Size();
  const uint64_t tail = size.ok() && *size > reader.EndOfLastRecord()
                            ? *size - reader.EndOfLastRecord()
                            : 0;
  CORODB_LOG(logger_.get(),
             "repair: %s: %llu records into %zu tables; %llu records skipped, %llu bytes "
             "dropped, %llu bytes after the last record (preallocated space, a torn tail "
             "or damage)",
             path.c_str(), static_cast<unsigned long long>(records),
             tables_.size() - tables_before, static_cast<unsigned long long>(skipped),
             static_cast<unsigned long long>(reporter.bytes_dropped),
             static_cast<unsigned long long>(tail));
  stats_.log_records += records;
  stats_.log_records_skipped += skipped;
  stats_.log_bytes_dropped += reporter.bytes_dropped;
  if (read_to_end) {
    converted_logs_.push_back(name);
  } else {
    ++stats_.logs_lost;
    to_lost_.push_back(name);
  }
  co_return Status::OK();
}

asio::awaitable<Status> Repairer::WriteMemTable(const MemTable& mem) {
  std::unique_ptr<MemTable::Iterator> it = mem.NewIterator();
  it->SeekToFirst();
  if (!it->Valid()) co_return Status::OK();
  const uint64_t number = next_number_++;
  TableOutput out(write_options_, *fs_, dbname_);
  Status s = out.Open(number);
  for (; s.ok() && it->Valid(); it->Next()) s = co_await out.Add(it->key(), it->value());
  FileMetaData meta;
  if (s.ok()) {
    s = co_await out.Finish(&meta);
  } else if (out.is_open()) {
    out.Abandon();
  }
  const std::string path = io::TableFileName(dbname_, number);
  if (!s.ok()) {
    (void)io::RemoveFile(path);  // named by nothing
    co_return s;
  }
  tables_.push_back(TableFile{number, path.substr(dbname_.size() + 1)});
  ++stats_.tables_from_logs;
  co_return Status::OK();
}

asio::awaitable<Result<std::unique_ptr<table::Table>>> Repairer::OpenTable(
    const std::string& name, const table::TableOptions& options) const {
  const std::string path = dbname_ + "/" + name;
  const Result<uint64_t> size = io::GetFileSize(path);
  if (!size.ok()) co_return size.status();
  auto file = fs_->Open(path, io::OpenMode::kRead);
  if (!file.ok()) co_return file.status();
  co_return co_await table::Table::Open(options, std::move(file).value(), *size);
}

asio::awaitable<Status> Repairer::ScanTable(const TableFile& file) {
  // Only Corruption is damage. Any other error (EIO, EMFILE, ENOMEM: perhaps
  // passing) stops the repair, before anything is moved or CURRENT switches.
  Result<std::unique_ptr<table::Table>> table =
      co_await OpenTable(file.name, read_options_);
  bool intact = table.ok();
  if (!table.ok() && table.status().IsCorruption() && read_options_.filter_policy) {
    // The entries do not need the filter: without it only the footer, the
    // index and the metaindex must read.
    table::TableOptions without_filter = read_options_;
    without_filter.filter_policy = nullptr;
    Result<std::unique_ptr<table::Table>> again =
        co_await OpenTable(file.name, without_filter);
    if (again.ok()) {
      CORODB_LOG(logger_.get(), "repair: %s: filter unreadable (%s); copying the entries",
                 file.name.c_str(), table.status().ToString().c_str());
      table = std::move(again);
    } else if (!again.status().IsCorruption()) {
      co_return again.status();
    }
  }
  if (!table.ok() && !table.status().IsCorruption()) co_return table.status();
  if (!table.ok()) {
    CORODB_LOG(logger_.get(), "repair: %s cannot be opened, moving it to lost/: %s",
               file.name.c_str(), table.status().ToString().c_str());
    ++stats_.tables_lost;
    to_lost_.push_back(file.name);
    co_return Status::OK();
  }

  TableSalvager walk(**table, icmp_, logger_.get());
  RepairedTable t;
  t.meta.number = file.number;
  uint64_t entries = 0;
  std::string last_key;
  while (co_await walk.Next()) {
    if (entries++ == 0) (void)t.meta.smallest.DecodeFrom(walk.key());
    last_key.assign(walk.key());
    ParsedInternalKey parsed;
    if (ParseInternalKey(walk.key(), &parsed)) {
      t.max_sequence = std::max(t.max_sequence, parsed.sequence);
    }
  }
  if (!walk.error().ok()) co_return walk.error();
  stats_.table_damage += walk.damaged();
  if (entries == 0) {
    CORODB_LOG(logger_.get(),
               "repair: %s holds no readable entry (%llu damaged parts), "
               "moving it to lost/",
               file.name.c_str(), static_cast<unsigned long long>(walk.damaged()));
    ++stats_.tables_lost;
    to_lost_.push_back(file.name);
    co_return Status::OK();
  }
  if (intact && walk.damaged() == 0) {
    (void)t.meta.largest.DecodeFrom(last_key);
    const std::string path = dbname_ + "/" + file.name;
    const Result<uint64_t> size = io::GetFileSize(path);
    if (!size.ok()) co_return size.status();
    if (file.number < first_new_number_) {
      // Not written (and synced) by this repair: its writer may have died
      // before its sync. On disk before the MANIFEST names it.
      auto synced = fs_->Open(path, io::OpenMode::kRead);
      if (!synced.ok()) co_return synced.status();
      if (Status s = co_await (*synced)->Sync(); !s.ok()) co_return s;
    }
    t.meta.file_size = *size;
    t.entries = entries;
    kept_.push_back(std::move(t));
    ++stats_.tables_kept;
    co_return Status::OK();
  }
  co_return co_await CopyReadable(**table, file);
}

asio::awaitable<Status> Repairer::CopyReadable(const table::Table& table,
                                               const TableFile& from) {
  const uint64_t number = next_number_++;
  TableOutput out(write_options_, *fs_, dbname_);
  Status s = out.Open(number);
  TableSalvager walk(table, icmp_, /*logger=*/nullptr);  // the scan logged the damage
  RepairedTable t;
  while (s.ok() && co_await walk.Next()) {
    ParsedInternalKey parsed;
    if (ParseInternalKey(walk.key(), &parsed)) {
      t.max_sequence = std::max(t.max_sequence, parsed.sequence);
    }
    s = co_await out.Add(walk.key(), walk.value());
  }
  if (s.ok()) s = walk.error();
  if (s.ok() && out.NumEntries() == 0) {
    s = Status::IOError(table.file_name(),
                        "entries read in a first pass did not read again");
  }
  if (s.ok()) {
    t.entries = out.NumEntries();
    s = co_await out.Finish(&t.meta);
  } else if (out.is_open()) {
    out.Abandon();
  }
  const std::string path = io::TableFileName(dbname_, number);
  if (!s.ok()) {
    (void)io::RemoveFile(path);  // named by nothing
    co_return s;
  }
  CORODB_LOG(
      logger_.get(),
      "repair: %s is damaged: its %llu readable entries copied to #%llu, the original "
      "moved to lost/",
      from.name.c_str(), static_cast<unsigned long long>(t.entries),
      static_cast<unsigned long long>(number));
  kept_.push_back(std::move(t));
  ++stats_.tables_rewritten;
  to_lost_.push_back(from.name);
  co_return Status::OK();
}

asio::awaitable<Status> Repairer::Renumber() {
  TableOrder order(*fs_, dbname_, icmp_, read_options_, logger_.get());
  Result<std::vector<size_t>> oldest_first = co_await order.Compute(kept_);
  if (!oldest_first.ok()) co_return oldest_first.status();
  stats_.order_conflicts = order.conflicts();
  std::vector<RepairedTable> ordered;
  ordered.reserve(kept_.size());
  uint64_t last = 0;
  for (size_t i : *oldest_first) {
    RepairedTable t = std::move(kept_[i]);
    if (t.meta.number <= last) {
      // Must outrank a table with a higher number: renamed above all.
      const uint64_t number = next_number_++;
      auto from = io::TableFileName(dbname_, t.meta.number);
      if (!io::FileExists(from)) from = io::SSTTableFileName(dbname_, t.meta.number);
      if (Status s = fs_->Rename(from, io::TableFileName(dbname_, number)); !s.ok()) {
        co_return s;
      }
      CORODB_LOG(logger_.get(),
                 "repair: table #%llu renamed #%llu: it holds newer versions of "
                 "some keys than #%llu",
                 static_cast<unsigned long long>(t.meta.number),
                 static_cast<unsigned long long>(number),
                 static_cast<unsigned long long>(last));
      t.meta.number = number;
      ++stats_.renumbered;
    }
    last = t.meta.number;
    ordered.push_back(std::move(t));
  }
  kept_ = std::move(ordered);
  co_return Status::OK();
}

asio::awaitable<Status> Repairer::WriteManifest(uint64_t number) {
  VersionEdit edit;
  edit.SetComparatorName(icmp_.user_comparator()->Name());
  edit.SetLogNumber(first_new_number_);
  edit.SetNextFile(next_number_);
  SequenceNumber last_sequence = 0;
  for (const RepairedTable& t : kept_) {
    last_sequence = std::max(last_sequence, t.max_sequence);
    edit.AddFile(0, t.meta);
    stats_.entries += t.entries;
  }
  edit.SetLastSequence(last_sequence);
  std::string record;
  edit.EncodeTo(&record);
  std::string bytes;
  log::Writer writer;
  writer.AddRecord(record, &bytes);
  const std::string path = io::DescriptorFileName(dbname_, number);
  Status s;
  {
    auto file = fs_->Open(path, io::OpenMode::kCreate);
    if (!file.ok()) co_return file.status();
    s = co_await (*file)->AppendAndSync(std::span<const char>(bytes));
  }
  if (!s.ok()) (void)io::RemoveFile(path);  // CURRENT does not name it yet
  co_return s;
}

Status Repairer::Archive(const std::string& name) {
  const std::string lost = dbname_ + "/lost";
  std::string to = lost + "/" + name;
  for (int i = 1; io::FileExists(to); ++i)
    to = lost + "/" + name + "." + std::to_string(i);
  if (Status s = fs_->Rename(dbname_ + "/" + name, to); !s.ok()) return s;
  CORODB_LOG(logger_.get(), "repair: moved %s to %s", name.c_str(),
             to.substr(dbname_.size() + 1).c_str());
  return Status::OK();
}

void Repairer::LogSummary(uint64_t manifest_number) const {
  SequenceNumber last_sequence = 0;
  for (const RepairedTable& t : kept_)
    last_sequence = std::max(last_sequence, t.max_sequence);
  const auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  CORODB_LOG(
      logger_.get(),
      "repair: done: MANIFEST-%06llu names %zu tables at level 0 (%llu entries, last "
      "sequence %llu). Recovered: %llu records from %llu logs into %llu tables; %llu "
      "tables kept, %llu damaged tables copied; %llu tables renumbered (%llu order "
      "conflicts). Lost: %llu log records skipped, %llu log bytes dropped, %llu damaged "
      "table parts skipped, %llu tables unreadable, %llu logs not read to their end (in "
      "lost/)",
      u(manifest_number), kept_.size(), u(stats_.entries), u(last_sequence),
      u(stats_.log_records), u(stats_.logs), u(stats_.tables_from_logs),
      u(stats_.tables_kept), u(stats_.tables_rewritten), u(stats_.renumbered),
      u(stats_.order_conflicts), u(stats_.log_records_skipped),
      u(stats_.log_bytes_dropped), u(stats_.table_damage), u(stats_.tables_lost),
      u(stats_.logs_lost));
}

}  // namespace

asio::awaitable<Status> RunRepair(std::string dbname, Options options,
                                  asio::io_context* ctx,
                                  std::shared_ptr<io::Backend> backend) {
  Repairer repairer(std::move(dbname), std::move(options), ctx, std::move(backend));
  co_return co_await repairer.Run();
}

}  // namespace corodb

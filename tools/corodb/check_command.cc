// check: verifies a database's files without opening it (no LOCK, nothing
// written), with the engine's own readers: CURRENT, the MANIFEST (every
// record, replayed by VersionSet), every live table (Table::Open checks the
// footer, index and metaindex blocks; every meta block's checksum, the
// filter's included, is checked; a sequential iterator checks every data
// block's checksum; the tool checks key order, the key range and
// size the MANIFEST records) and every live log (every record's checksum,
// every batch's encoding). Files that are not live are listed, not read.
#include <map>
#include <ostream>
#include <set>

#include "db/write_batch_internal.h"
#include "files.h"
#include "format/dbformat.h"
#include "io/file_names.h"
#include "table/table.h"
#include "table/table_options.h"
#include "version/current_file.h"
#include "version/version_set.h"

namespace corodb::cli {
namespace {

namespace asio = boost::asio;

// Tallies outcomes and prints one line per file.
class Report {
 public:
  explicit Report(const Context& ctx) : ctx_(ctx) {}

  void Ok(const std::string& name, const std::string& what) {
    ++ok_;
    *ctx_.out << "ok       " << name << ": " << what << "\n";
  }
  void Problem(const std::string& name, const Status& s) {
    *ctx_.out << (s.IsCorruption() ? "DAMAGED  " : "ERROR    ") << name << ": " << s.ToString()
              << "\n";
    if (s.IsCorruption()) {
      ++damaged_;
      if (first_corruption_.ok()) first_corruption_ = s;
    } else {
      ++errors_;
      if (first_error_.ok()) first_error_ = s;
    }
  }
  void Skipped(const std::string& name, const std::string& why) {
    *ctx_.out << "skipped  " << name << ": " << why << "\n";
  }

  // Corruption wins over other errors: it is what the operator must act on.
  Status Outcome() const {
    *ctx_.out << "check: " << ok_ << " ok, " << damaged_ << " damaged, " << errors_
              << " unreadable\n";
    return first_corruption_.ok() ? first_error_ : first_corruption_;
  }

 private:
  const Context& ctx_;
  int ok_ = 0, damaged_ = 0, errors_ = 0;
  Status first_corruption_, first_error_;
};

// A live table as the MANIFEST records it (absent when the MANIFEST could
// not be read and every table present is checked on its own).
struct Expected {
  int level = -1;
  FileMetaData meta;
};

// Verifies the checksum of every meta block of `t` (its filter, whatever the
// policy: Table::Open reads a filter only for the policy it is given).
asio::awaitable<Status> CheckMetaBlocks(const table::Table& t) {
  Result<std::vector<table::Table::MetaBlock>> meta = co_await t.ReadMetaIndex();
  if (!meta.ok()) co_return meta.status();
  io::AlignedBuffer buf(io::AlignedBuffer::kAlignment);
  for (const table::Table::MetaBlock& m : *meta) {
    Result<Slice> raw =
        co_await t.ReadRaw(m.handle.offset(), m.handle.size() + table::kBlockTrailerSize, &buf);
    if (!raw.ok()) co_return raw.status();
    Result<unsigned char> type =
        table::StoredBlockType(*raw, m.handle, /*verify_checksum=*/true, t.file_name());
    if (!type.ok()) co_return type.status();
  }
  co_return Status::OK();
}

// Reads every entry of the table at `path` (all checksums verified) and
// checks key order and, when known, the MANIFEST's size and key range.
asio::awaitable<Status> CheckTable(const io::FileSystem& fs, std::string path,
                                   std::optional<Expected> expected, uint64_t* entries) {
  const InternalKeyComparator icmp(BytewiseComparator());
  Result<uint64_t> size = io::GetFileSize(path);
  if (!size.ok()) co_return size.status();
  if (expected && *size != expected->meta.file_size) {
    co_return Status::Corruption(path, "is " + std::to_string(*size) +
                                           " bytes; the MANIFEST records " +
                                           std::to_string(expected->meta.file_size));
  }
  Result<std::unique_ptr<io::File>> file = fs.Open(path, io::OpenMode::kRead);
  if (!file.ok()) co_return file.status();
  table::TableOptions options;
  options.comparator = &icmp;
  options.internal_keys = true;
  options.map_resident_pages = false;  // a bad sector fails a read, never SIGBUS
  Result<std::unique_ptr<table::Table>> t =
      co_await table::Table::Open(options, std::move(*file), *size);
  if (!t.ok()) co_return t.status();
  if (Status s = co_await CheckMetaBlocks(**t); !s.ok()) co_return s;
  std::unique_ptr<table::AsyncIterator> it = (*t)->NewSequentialIterator();
  std::string first, previous;
  uint64_t n = 0;
  for (co_await it->SeekToFirst(); it->Valid();) {
    if (n == 0) {
      first.assign(it->key());
    } else if (icmp.Compare(previous, it->key()) >= 0) {
      co_return Status::Corruption(path, "entry " + std::to_string(n) + " (" +
                                             InternalKeyText(it->key(), Encoding::kEscaped) +
                                             ") is not after the one before it");
    }
    previous.assign(it->key());
    ++n;
    if (!it->TryNext()) co_await it->Next();
  }
  if (!it->status().ok()) co_return it->status();
  *entries = n;
  if (expected) {
    const FileMetaData& m = expected->meta;
    if (n == 0) co_return Status::Corruption(path, "holds no entries; the MANIFEST lists it");
    if (icmp.Compare(first, m.smallest.Encode()) != 0 ||
        icmp.Compare(previous, m.largest.Encode()) != 0) {
      co_return Status::Corruption(
          path, "holds " + InternalKeyText(first, Encoding::kEscaped) + " .. " +
                    InternalKeyText(previous, Encoding::kEscaped) + "; the MANIFEST records " +
                    InternalKeyText(m.smallest.Encode(), Encoding::kEscaped) + " .. " +
                    InternalKeyText(m.largest.Encode(), Encoding::kEscaped));
    }
  }
  co_return Status::OK();
}

// Reads every record of the log at `path` and decodes every batch.
asio::awaitable<Status> CheckLog(const io::FileSystem& fs, std::string path, uint64_t* records,
                                 bool* torn_tail) {
  Result<std::unique_ptr<io::File>> file = fs.Open(path, io::OpenMode::kRead);
  if (!file.ok()) co_return file.status();
  LogWalk walk = co_await WalkLog(
      **file,
      [&path](uint64_t offset, Slice record) {
        WriteBatch batch;
        Status s = WriteBatchInternal::SetContents(&batch, record);
        if (s.ok()) {
          struct Ignore final : WriteBatch::Handler {
            void Put(Slice, Slice) override {}
            void Delete(Slice) override {}
          } ignore;
          s = batch.Iterate(ignore);
        }
        if (s.ok()) return s;
        return Status::Corruption(path + ": offset " + std::to_string(offset), s.message());
      },
      nullptr);
  *records = walk.records;
  *torn_tail = walk.torn_tail;
  co_return walk.status;
}

// One run of check over ctx.db: the files found, the MANIFEST's view of
// them (when it reads), and the report.
class Checker {
 public:
  Checker(const Context& ctx, const io::FileSystem& fs)
      : ctx_(ctx),
        fs_(fs),
        report_(ctx),
        versions_(ctx.db, Options(), &fs, /*table_cache=*/nullptr, &icmp_, /*logger=*/nullptr) {}

  // Lists the directory; its IOError when it cannot be listed.
  Status ListFiles() {
    Result<std::vector<std::string>> names = io::ListDir(ctx_.db);
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      uint64_t number = 0;
      io::FileType type;
      if (!io::ParseFileName(name, &number, &type)) continue;
      if (type == io::FileType::kTableFile) tables_[number] = name;
      if (type == io::FileType::kLogFile) logs_[number] = name;
      if (type == io::FileType::kDescriptorFile) manifests_[number] = name;
    }
    return Status::OK();
  }

  // CURRENT and the MANIFEST it names, replayed by VersionSet::Recover.
  asio::awaitable<void> CheckManifest() {
    uint64_t manifest_number = 0;
    Result<uint64_t> current = co_await ReadCurrentFile(fs_, ctx_.db);
    if (!current.ok()) {
      report_.Problem("CURRENT", current.status());
    } else {
      manifest_number = *current;
      const std::string manifest = BaseName(io::DescriptorFileName(ctx_.db, manifest_number));
      report_.Ok("CURRENT", "names " + manifest);
      // Recover reads CURRENT again: a MANIFEST it names that is missing is
      // then CURRENT's Corruption, as an Open would report it.
      bool save_manifest = false;
      if (Status s = co_await versions_.Recover(&save_manifest); !s.ok()) {
        report_.Problem(manifest, s);
      } else {
        have_version_ = true;
        report_.Ok(manifest, "levels " + versions_.LevelSummary() + ", log " +
                                 std::to_string(versions_.log_number()) + ", last sequence " +
                                 std::to_string(versions_.last_sequence()));
      }
    }
    for (const auto& [number, name] : manifests_) {
      if (number != manifest_number) report_.Skipped(name, "not the MANIFEST CURRENT names");
    }
  }

  // The live tables (every table present when the MANIFEST did not read).
  asio::awaitable<void> CheckTables() {
    std::map<uint64_t, Expected> live;
    if (have_version_) {
      std::shared_ptr<const Version> v = versions_.current();
      for (int level = 0; level < kNumLevels; ++level) {
        for (const FileRef& f : v->files(level)) live[f->number] = Expected{level, f->meta()};
      }
    }
    for (const auto& [number, expected] : live) {
      auto present = tables_.find(number);
      if (present == tables_.end()) {
        const std::string path = io::TableFileName(ctx_.db, number);
        report_.Problem(BaseName(path),
                        Status::Corruption(path, "missing: the MANIFEST lists it at level " +
                                                     std::to_string(expected.level)));
        continue;
      }
      co_await CheckOneTable(present->second, expected);
    }
    for (const auto& [number, name] : tables_) {
      if (live.contains(number)) continue;
      if (have_version_) {
        report_.Skipped(name, "not in the MANIFEST (obsolete: the next open deletes it)");
      } else {
        co_await CheckOneTable(name, std::nullopt);
      }
    }
  }

  // The logs the next open replays (every log when the MANIFEST did not read).
  asio::awaitable<void> CheckLogs() {
    for (const auto& [number, name] : logs_) {
      if (have_version_ && number < versions_.log_number() &&
          number != versions_.prev_log_number()) {
        report_.Skipped(name, "older than the MANIFEST's log number (obsolete)");
        continue;
      }
      uint64_t records = 0;
      bool torn_tail = false;
      Status s = co_await CheckLog(fs_, PathOf(name), &records, &torn_tail);
      if (s.ok()) {
        report_.Ok(name, std::to_string(records) + " records" +
                             (torn_tail ? ", then a torn tail (a write cut by a crash)" : ""));
      } else {
        report_.Problem(name, s);
      }
    }
  }

  Status Outcome() const { return report_.Outcome(); }

 private:
  std::string PathOf(const std::string& name) const { return ctx_.db + "/" + name; }

  asio::awaitable<void> CheckOneTable(std::string name, std::optional<Expected> expected) {
    uint64_t entries = 0;
    Status s = co_await CheckTable(fs_, PathOf(name), expected, &entries);
    if (!s.ok()) {
      report_.Problem(name, s);
    } else if (expected) {
      report_.Ok(name, "level " + std::to_string(expected->level) + ", " +
                           std::to_string(entries) + " entries");
    } else {
      report_.Ok(name, std::to_string(entries) + " entries");
    }
  }

  const Context& ctx_;
  const io::FileSystem& fs_;
  Report report_;
  const InternalKeyComparator icmp_{BytewiseComparator()};
  VersionSet versions_;
  bool have_version_ = false;
  std::map<uint64_t, std::string> tables_, logs_, manifests_;  // number -> name
};

asio::awaitable<Status> Check(const Context& ctx) {
  Result<std::unique_ptr<io::FileSystem>> fs = MakeFileSystem(ctx);
  if (!fs.ok()) co_return fs.status();
  Checker checker(ctx, **fs);
  if (Status s = checker.ListFiles(); !s.ok()) co_return s;
  co_await checker.CheckManifest();
  co_await checker.CheckTables();
  co_await checker.CheckLogs();
  co_return checker.Outcome();
}

}  // namespace

int CmdCheck(Context& ctx) {
  Status s = RunStatus(Check(ctx));
  return s.ok() ? kExitOk : Fail(ctx, s);
}

}  // namespace corodb::cli

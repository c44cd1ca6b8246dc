// VersionSet: recovery from the MANIFEST, LogAndApply, compaction picking.
// Version and Compaction are in version.cc.
#include "version/version_set.h"

#include <algorithm>
#include <cassert>
#include <iterator>
#include <map>

#include "io/file_names.h"
#include "io/file_system.h"
#include "log/log_reader.h"
#include "log/log_writer.h"
#include "table/table_cache.h"
#include "util/logging.h"
#include "version/config.h"
#include "version/current_file.h"

namespace corodb {
namespace asio = boost::asio;

namespace {

// Keeps the first damage a MANIFEST reader reports: a MANIFEST is never
// read past damage.
class FirstCorruption final : public log::Reporter {
 public:
  void Corruption(uint64_t /*offset*/, size_t /*bytes*/, const Status& status) override {
    if (first.ok()) first = status;
  }
  Status first;
};

// The counters a MANIFEST's edits carry; the last edit that sets one wins.
struct ManifestCounters {
  std::optional<uint64_t> log_number;
  std::optional<uint64_t> prev_log_number;
  std::optional<uint64_t> next_file;
  std::optional<SequenceNumber> last_sequence;

  void Absorb(const VersionEdit& edit) {
    if (edit.log_number()) log_number = edit.log_number();
    if (edit.prev_log_number()) prev_log_number = edit.prev_log_number();
    if (edit.next_file_number()) next_file = edit.next_file_number();
    if (edit.last_sequence()) last_sequence = edit.last_sequence();
  }
  // The first entry the MANIFEST lacks, in LevelDB's words; nullptr when
  // none (the previous log number is optional: 0).
  const char* Missing() const {
    if (!next_file) return "no meta-nextfile entry";
    if (!log_number) return "no meta-lognumber entry";
    if (!last_sequence) return "no last-sequence-number entry";
    return nullptr;
  }
};

// Adds to *inputs the files of `level_files` that hold more of the user key
// of the inputs' largest key (its older entries: the same user key, later
// in internal-key order), repeatedly. A user key split across two files of a
// level must move down whole; otherwise the older entries left behind would
// be found before the newer ones that moved (LevelDB 1.21's boundary rule).
void AddBoundaryInputs(const InternalKeyComparator& icmp,
                       const std::vector<FileRef>& level_files,
                       std::vector<FileRef>* inputs) {
  if (inputs->empty()) return;
  const Comparator* ucmp = icmp.user_comparator();
  InternalKey largest = (*inputs)[0]->largest;
  for (const FileRef& f : *inputs) {
    if (icmp.Compare(f->largest.Encode(), largest.Encode()) > 0) largest = f->largest;
  }
  for (;;) {
    const FileRef* boundary = nullptr;
    for (const FileRef& f : level_files) {
      if (icmp.Compare(f->smallest.Encode(), largest.Encode()) > 0 &&
          ucmp->Compare(f->smallest.user_key(), largest.user_key()) == 0 &&
          (boundary == nullptr ||
           icmp.Compare(f->smallest.Encode(), (*boundary)->smallest.Encode()) < 0)) {
        boundary = &f;
      }
    }
    if (boundary == nullptr) return;
    inputs->push_back(*boundary);
    largest = (*boundary)->largest;
  }
}

}  // namespace

// ---------------------------------------------------------------- Builder

// Applies a series of edits to a base Version without building the
// intermediate ones: per level, the files deleted and added so far, and the
// compact pointers set.
class VersionSet::Builder {
 public:
  Builder(const InternalKeyComparator* icmp, std::shared_ptr<const Version> base)
      : icmp_(icmp), base_(std::move(base)) {}

  // Records `edit`. InvalidArgument (nothing recorded) when it names a level
  // >= kNumLevels (VersionEdit::DecodeFrom refuses those already).
  Status Apply(const VersionEdit& edit) {
    auto bad_level = [](int level) { return level < 0 || level >= kNumLevels; };
    for (const auto& [level, key] : edit.compact_pointers()) {
      if (bad_level(level)) return LevelError("compact pointer", level);
    }
    for (const auto& [level, number] : edit.deleted_files()) {
      if (bad_level(level)) {
        return LevelError("deleted file " + std::to_string(number), level);
      }
    }
    for (const auto& [level, meta] : edit.new_files()) {
      if (bad_level(level)) {
        return LevelError("new file " + std::to_string(meta.number), level);
      }
    }
    for (const auto& [level, key] : edit.compact_pointers()) {
      compact_pointers_[level] = std::string(key.Encode());
    }
    // A file deleted from a level it is not in is forgotten: LevelDB ignores
    // such deletions too.
    for (const auto& [level, number] : edit.deleted_files()) {
      levels_[level].deleted.insert(number);
    }
    for (const auto& [level, meta] : edit.new_files()) {
      levels_[level].deleted.erase(meta.number);
      levels_[level].added[meta.number] = std::make_shared<FileInfo>(meta);
    }
    return Status::OK();
  }

  // Fills v's levels with the base's files plus those added, minus those
  // deleted: level 0 by file number (oldest first), deeper levels by
  // smallest key (ties by number). InvalidArgument when two files of a
  // level >= 1 overlap.
  Status SaveTo(Version* v) const {
    for (int level = 0; level < kNumLevels; ++level) {
      const LevelEdits& edits = levels_[level];
      std::vector<FileRef> added;
      added.reserve(edits.added.size());
      for (const auto& [number, f] : edits.added) added.push_back(f);
      const auto by_number = [](const FileRef& a, const FileRef& b) {
        return a->number < b->number;
      };
      const auto by_smallest = [this](const FileRef& a, const FileRef& b) {
        const int r = icmp_->Compare(a->smallest.Encode(), b->smallest.Encode());
        return r != 0 ? r < 0 : a->number < b->number;
      };
      std::vector<FileRef> merged;
      const std::vector<FileRef>& base = base_->files(level);
      merged.reserve(base.size() + added.size());
      if (level == 0) {
        std::sort(added.begin(), added.end(), by_number);
        std::merge(base.begin(), base.end(), added.begin(), added.end(),
                   std::back_inserter(merged), by_number);
      } else {
        std::sort(added.begin(), added.end(), by_smallest);
        std::merge(base.begin(), base.end(), added.begin(), added.end(),
                   std::back_inserter(merged), by_smallest);
      }
      std::vector<FileRef>& out = v->files_[level];
      for (FileRef& f : merged) {
        if (edits.deleted.contains(f->number)) continue;
        // A base file added again replaces itself.
        auto again = edits.added.find(f->number);
        if (again != edits.added.end() && again->second != f) continue;
        if (level > 0 && !out.empty() &&
            icmp_->Compare(out.back()->largest.Encode(), f->smallest.Encode()) >= 0) {
          return Status::InvalidArgument(
              "files " + std::to_string(out.back()->number) + " and " +
              std::to_string(f->number) + " of level " + std::to_string(level) +
              " overlap: " + out.back()->largest.DebugString() +
              " >= " + f->smallest.DebugString());
        }
        out.push_back(std::move(f));
      }
    }
    return Status::OK();
  }

  // The compact pointer the edits set for `level`, if any.
  const std::optional<std::string>& compact_pointer(int level) const {
    return compact_pointers_[level];
  }

 private:
  struct LevelEdits {
    std::set<uint64_t> deleted;
    std::map<uint64_t, FileRef> added;  // by number: an added file replaces itself
  };

  static Status LevelError(const std::string& what, int level) {
    return Status::InvalidArgument(what + " at level " + std::to_string(level) +
                                   " (levels are 0.." + std::to_string(kNumLevels - 1) +
                                   ")");
  }

  const InternalKeyComparator* icmp_;
  std::shared_ptr<const Version> base_;
  LevelEdits levels_[kNumLevels];
  std::optional<std::string> compact_pointers_[kNumLevels];
};

// ------------------------------------------------------------- VersionSet

VersionSet::VersionSet(std::string dbname, const Options& options,
                       const io::FileSystem* fs, table::TableCache* table_cache,
                       const InternalKeyComparator* icmp, Logger* logger)
    : dbname_(std::move(dbname)),
      options_(options),
      fs_(fs),
      table_cache_(table_cache),
      icmp_(icmp),
      logger_(logger) {
  auto empty = std::make_shared<Version>(icmp_, table_cache_, ++versions_made_);
  Finalize(empty.get());
  std::lock_guard lock(mu_);
  versions_.push_back(empty);
  current_ = std::move(empty);
}

VersionSet::~VersionSet() = default;

std::shared_ptr<const Version> VersionSet::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

void VersionSet::MarkFileNumberUsed(uint64_t number) {
  uint64_t next = next_file_number_.load();
  while (next <= number && !next_file_number_.compare_exchange_weak(next, number + 1)) {
  }
}

void VersionSet::SetLastSequence(SequenceNumber s) {
  assert(s >= last_sequence_.load());
  last_sequence_.store(s);
}

asio::awaitable<Status> VersionSet::Recover(bool* save_manifest) {
  Result<uint64_t> manifest_number = co_await ReadCurrentFile(*fs_, dbname_);
  if (!manifest_number.ok()) co_return manifest_number.status();
  co_return co_await RecoverManifest(*manifest_number, /*named_by_current=*/true, save_manifest);
}

asio::awaitable<Status> VersionSet::RecoverFromManifest(uint64_t manifest_number,
                                                        bool* save_manifest) {
  co_return co_await RecoverManifest(manifest_number, /*named_by_current=*/false, save_manifest);
}

asio::awaitable<Status> VersionSet::RecoverManifest(uint64_t manifest_number,
                                                    bool named_by_current, bool* save_manifest) {
  const std::string path = io::DescriptorFileName(dbname_, manifest_number);
  Result<std::unique_ptr<io::File>> file = fs_->Open(path, io::OpenMode::kRead);
  if (!file.ok() && file.status().IsNotFound() && named_by_current) {
    co_return Status::Corruption(
        io::CurrentFileName(dbname_),
        "names a MANIFEST that does not exist: " + file.status().ToString());
  }
  if (!file.ok()) co_return file.status();

  const std::string ucmp_name = icmp_->user_comparator()->Name();
  FirstCorruption reporter;
  log::Reader reader(**file, &reporter, /*checksum=*/true);
  Builder builder(icmp_, current());
  ManifestCounters counters;
  std::string record;
  for (;;) {
    Result<bool> more = co_await reader.ReadRecord(&record);
    if (!more.ok()) co_return more.status();
    if (!reporter.first.ok()) co_return reporter.first;  // names the file and offset
    if (!*more) break;
    const std::string where =
        path + " at offset " + std::to_string(reader.LastRecordOffset());
    VersionEdit edit;
    if (Status s = edit.DecodeFrom(record); !s.ok()) {
      co_return Status::Corruption(where, s.message());
    }
    if (edit.comparator() && *edit.comparator() != ucmp_name) {
      co_return Status::InvalidArgument(
          dbname_, "comparator '" + *edit.comparator() +
                       "' of the database does not match '" + ucmp_name + "'");
    }
    if (Status s = builder.Apply(edit); !s.ok()) {
      co_return Status::Corruption(where, s.message());
    }
    counters.Absorb(edit);
  }
  if (const char* missing = counters.Missing()) {
    co_return Status::Corruption(path, missing);
  }
  if (*counters.last_sequence > kMaxSequenceNumber) {
    // Keys carry 56-bit sequences: later writes would wrap.
    co_return Status::Corruption(path, "last sequence number " +
                                           std::to_string(*counters.last_sequence) +
                                           " is past the largest (" +
                                           std::to_string(kMaxSequenceNumber) + ")");
  }

  auto v = std::make_shared<Version>(icmp_, table_cache_, versions_made_ + 1);
  if (Status s = builder.SaveTo(v.get()); !s.ok()) {
    co_return Status::Corruption(path, s.message());
  }
  Finalize(v.get());
  ++versions_made_;
  for (int level = 0; level < kNumLevels; ++level) {
    if (builder.compact_pointer(level)) {
      compact_pointer_[level] = *builder.compact_pointer(level);
    }
  }
  manifest_writer_.reset();
  manifest_file_.reset();
  manifest_file_number_.store(manifest_number);
  next_file_number_.store(*counters.next_file);
  last_sequence_.store(*counters.last_sequence);
  log_number_.store(*counters.log_number);
  prev_log_number_.store(counters.prev_log_number.value_or(0));
  MarkFileNumberUsed(manifest_number);
  MarkFileNumberUsed(log_number_.load());
  MarkFileNumberUsed(prev_log_number_.load());
  CORODB_LOG(
      logger_,
      "recovered %s: log %llu, previous log %llu, next file %llu, last sequence %llu",
      path.c_str(), static_cast<unsigned long long>(log_number_.load()),
      static_cast<unsigned long long>(prev_log_number_.load()),
      static_cast<unsigned long long>(next_file_number_.load()),
      static_cast<unsigned long long>(last_sequence_.load()));
  Install(std::move(v));
  *save_manifest = true;
  co_return Status::OK();
}

asio::awaitable<Status> VersionSet::LogAndApply(VersionEdit* edit) {
  if (edit->log_number()) {
    const uint64_t n = *edit->log_number();
    if (n < log_number_.load() || n >= next_file_number_.load()) {
      co_return Status::InvalidArgument(
          "VersionEdit", "log number " + std::to_string(n) + " outside [" +
                             std::to_string(log_number_.load()) + ", " +
                             std::to_string(next_file_number_.load()) + ")");
    }
  } else {
    edit->SetLogNumber(log_number_.load());
  }
  if (!edit->prev_log_number()) edit->SetPrevLogNumber(prev_log_number_.load());

  Builder builder(icmp_, current());
  auto v = std::make_shared<Version>(icmp_, table_cache_, versions_made_ + 1);
  if (Status s = builder.Apply(*edit); !s.ok()) co_return s;
  if (Status s = builder.SaveTo(v.get()); !s.ok()) co_return s;
  Finalize(v.get());

  // A new MANIFEST takes its number before the edit records the next one.
  const uint64_t new_manifest = manifest_file_ == nullptr ? NewFileNumber() : 0;
  edit->SetNextFile(next_file_number_.load());
  edit->SetLastSequence(last_sequence_.load());
  if (Status s = co_await WriteManifest(*edit, new_manifest); !s.ok()) co_return s;

  ++versions_made_;
  for (int level = 0; level < kNumLevels; ++level) {
    if (builder.compact_pointer(level)) {
      compact_pointer_[level] = *builder.compact_pointer(level);
    }
  }
  log_number_.store(*edit->log_number());
  prev_log_number_.store(*edit->prev_log_number());
  Install(std::move(v));
  co_return Status::OK();
}

asio::awaitable<Status> VersionSet::WriteManifest(const VersionEdit& edit,
                                                  uint64_t new_manifest_number) {
  const std::string path = io::DescriptorFileName(dbname_, new_manifest_number);
  std::string bytes;
  if (new_manifest_number != 0) {
    Result<std::unique_ptr<io::File>> file = fs_->Open(path, io::OpenMode::kCreate);
    if (!file.ok()) co_return file.status();
    manifest_file_ = std::move(*file);
    manifest_writer_ = std::make_unique<log::Writer>();
    VersionEdit snapshot;
    WriteSnapshot(&snapshot);
    std::string record;
    snapshot.EncodeTo(&record);
    manifest_writer_->AddRecord(record, &bytes);
  }
  std::string record;
  edit.EncodeTo(&record);
  manifest_writer_->AddRecord(record, &bytes);
  Status s = co_await manifest_file_->AppendAndSync(std::span<const char>(bytes));
  if (s.ok() && new_manifest_number != 0) {
    s = co_await SetCurrentFile(*fs_, dbname_, new_manifest_number);
  }
  if (s.ok()) {
    if (new_manifest_number != 0) {
      manifest_file_number_.store(new_manifest_number);
      CORODB_LOG(logger_, "new MANIFEST %s", path.c_str());
    }
    co_return s;
  }

  // Abandoned: the writer no longer matches the file, whatever reached it.
  CORODB_LOG(logger_, "MANIFEST write failed (%s); the next edit starts a new MANIFEST",
             s.ToString().c_str());
  manifest_writer_.reset();
  manifest_file_.reset();
  if (new_manifest_number != 0) {
    // Only the directory sync after the rename may have failed: then CURRENT
    // names the new MANIFEST, which must stay. When CURRENT cannot be read
    // (other than missing), keep it too: it is garbage at worst, not a loss.
    Result<uint64_t> named = co_await ReadCurrentFile(*fs_, dbname_);
    if (named.ok() && *named == new_manifest_number) {
      manifest_file_number_.store(new_manifest_number);
    } else if (named.ok() || named.status().IsNotFound()) {
      if (Status r = io::RemoveFile(path); !r.ok()) {
        CORODB_LOG(logger_, "cannot remove abandoned %s: %s", path.c_str(),
                   r.ToString().c_str());
      }
    }
  }
  co_return s;
}

void VersionSet::WriteSnapshot(VersionEdit* edit) const {
  edit->SetComparatorName(icmp_->user_comparator()->Name());
  for (int level = 0; level < kNumLevels; ++level) {
    if (compact_pointer_[level].empty()) continue;
    InternalKey key;
    if (key.DecodeFrom(compact_pointer_[level])) edit->SetCompactPointer(level, key);
  }
  const std::shared_ptr<const Version> v = current();
  for (int level = 0; level < kNumLevels; ++level) {
    for (const FileRef& f : v->files(level)) edit->AddFile(level, f->meta());
  }
}

void VersionSet::Install(std::shared_ptr<const Version> v) {
  CORODB_LOG(logger_,
             "version %llu installed: %s, log %llu, next file %llu, last sequence %llu",
             static_cast<unsigned long long>(v->number()), v->LevelSummary().c_str(),
             static_cast<unsigned long long>(log_number_.load()),
             static_cast<unsigned long long>(next_file_number_.load()),
             static_cast<unsigned long long>(last_sequence_.load()));
  std::shared_ptr<const Version> old;  // released after mu_ (declared before the lock)
  std::lock_guard lock(mu_);
  std::erase_if(versions_,
                [](const std::weak_ptr<const Version>& w) { return w.expired(); });
  versions_.push_back(v);
  old = std::exchange(current_, std::move(v));
}

void VersionSet::Finalize(Version* v) const {
  int best_level = -1;
  double best_score = -1;
  // The last level is never compacted: there is no level below it.
  for (int level = 0; level < kNumLevels - 1; ++level) {
    const double score =
        level == 0
            ? static_cast<double>(v->files(0).size()) / config::kL0_CompactionTrigger
            : static_cast<double>(v->NumLevelBytes(level)) / MaxBytesForLevel(level);
    if (score > best_score) {
      best_level = level;
      best_score = score;
    }
  }
  v->compaction_level_ = best_level;
  v->compaction_score_ = best_score;
}

int VersionSet::NumLevelFiles(int level) const { return current()->NumFiles(level); }

uint64_t VersionSet::NumLevelBytes(int level) const {
  return current()->NumLevelBytes(level);
}

bool VersionSet::NeedsCompaction() const {
  const std::shared_ptr<const Version> v = current();
  if (v->compaction_score_ >= 1) return true;
  std::lock_guard lock(v->seek_mu_);
  return v->file_to_compact_ != nullptr;
}

std::string VersionSet::LevelSummary() const { return current()->LevelSummary(); }

uint64_t VersionSet::MaxNextLevelOverlappingBytes() const {
  const std::shared_ptr<const Version> v = current();
  uint64_t result = 0;
  for (int level = 1; level < kNumLevels - 1; ++level) {
    for (const FileRef& f : v->files(level)) {
      result = std::max(result, TotalFileSize(v->GetOverlappingInputs(
                                    level + 1, &f->smallest, &f->largest)));
    }
  }
  return result;
}

void VersionSet::AddLiveFiles(std::set<uint64_t>* live) const {
  std::lock_guard lock(mu_);
  std::erase_if(versions_,
                [](const std::weak_ptr<const Version>& w) { return w.expired(); });
  for (const std::weak_ptr<const Version>& w : versions_) {
    // Held while its files are read; if this was the last reference, the
    // Version dies here, under mu_, which its destructor does not take.
    if (std::shared_ptr<const Version> v = w.lock()) {
      for (int level = 0; level < kNumLevels; ++level) {
        for (const FileRef& f : v->files(level)) live->insert(f->number);
      }
    }
  }
  for (int level = 0; level < kNumLevels; ++level) {
    for (const FileRef& f : current_->files(level)) live->insert(f->number);
  }
}

// -------------------------------------------------------- Compaction picking

void VersionSet::GetRange(const std::vector<FileRef>& files, InternalKey* smallest,
                          InternalKey* largest) const {
  assert(!files.empty());
  *smallest = files[0]->smallest;
  *largest = files[0]->largest;
  for (const FileRef& f : files) {
    if (icmp_->Compare(f->smallest.Encode(), smallest->Encode()) < 0) {
      *smallest = f->smallest;
    }
    if (icmp_->Compare(f->largest.Encode(), largest->Encode()) > 0) *largest = f->largest;
  }
}

void VersionSet::GetRange2(const std::vector<FileRef>& a, const std::vector<FileRef>& b,
                           InternalKey* smallest, InternalKey* largest) const {
  std::vector<FileRef> all = a;
  all.insert(all.end(), b.begin(), b.end());
  GetRange(all, smallest, largest);
}

std::unique_ptr<Compaction> VersionSet::PickCompaction() {
  const std::shared_ptr<const Version> v = current();
  FileRef seek_file;
  int seek_level = -1;
  {
    std::lock_guard lock(v->seek_mu_);
    seek_file = v->file_to_compact_;
    seek_level = v->file_to_compact_level_;
  }
  std::unique_ptr<Compaction> c;
  if (v->compaction_score_ >= 1) {
    // Size-triggered: the level's first file past its compact pointer,
    // wrapping around to its first file.
    const int level = v->compaction_level_;
    c.reset(new Compaction(options_, level, v));
    for (const FileRef& f : v->files(level)) {
      if (compact_pointer_[level].empty() ||
          icmp_->Compare(f->largest.Encode(), compact_pointer_[level]) > 0) {
        c->inputs_[0].push_back(f);
        break;
      }
    }
    if (c->inputs_[0].empty()) c->inputs_[0].push_back(v->files(level)[0]);
  } else if (seek_file != nullptr) {
    c.reset(new Compaction(options_, seek_level, v));
    c->inputs_[0].push_back(std::move(seek_file));
    c->seek_ = true;
  } else {
    return nullptr;
  }
  if (c->level() == 0) {
    // Level-0 files overlap: take every one overlapping the chosen one.
    InternalKey smallest, largest;
    GetRange(c->inputs_[0], &smallest, &largest);
    c->inputs_[0] = v->GetOverlappingInputs(0, &smallest, &largest);
    assert(!c->inputs_[0].empty());
  }
  SetupOtherInputs(c.get());
  return c;
}

void VersionSet::SetupOtherInputs(Compaction* c) {
  const Version& v = *c->input_version_;
  const int level = c->level();
  std::vector<FileRef>& inputs0 = c->inputs_[0];
  std::vector<FileRef>& inputs1 = c->inputs_[1];

  AddBoundaryInputs(*icmp_, v.files(level), &inputs0);
  InternalKey smallest, largest;
  GetRange(inputs0, &smallest, &largest);
  inputs1 = v.GetOverlappingInputs(level + 1, &smallest, &largest);
  AddBoundaryInputs(*icmp_, v.files(level + 1), &inputs1);
  InternalKey all_start, all_limit;
  GetRange2(inputs0, inputs1, &all_start, &all_limit);

  // Grow the level's inputs to the whole range when that picks up no more
  // level + 1 files and the compaction stays small enough.
  if (!inputs1.empty()) {
    std::vector<FileRef> expanded0 =
        v.GetOverlappingInputs(level, &all_start, &all_limit);
    AddBoundaryInputs(*icmp_, v.files(level), &expanded0);
    const uint64_t limit = config::kExpandedCompactionFiles * options_.max_file_size;
    if (expanded0.size() > inputs0.size() &&
        TotalFileSize(inputs1) + TotalFileSize(expanded0) < limit) {
      InternalKey new_start, new_limit;
      GetRange(expanded0, &new_start, &new_limit);
      std::vector<FileRef> expanded1 =
          v.GetOverlappingInputs(level + 1, &new_start, &new_limit);
      AddBoundaryInputs(*icmp_, v.files(level + 1), &expanded1);
      if (expanded1.size() == inputs1.size()) {
        CORODB_LOG(
            logger_, "expanding compaction at level %d: %zu+%zu files to %zu+%zu files",
            level, inputs0.size(), inputs1.size(), expanded0.size(), expanded1.size());
        smallest = std::move(new_start);
        largest = std::move(new_limit);
        inputs0 = std::move(expanded0);
        inputs1 = std::move(expanded1);
        GetRange2(inputs0, inputs1, &all_start, &all_limit);
      }
    }
  }
  if (level + 2 < kNumLevels) {
    c->grandparents_ = v.GetOverlappingInputs(level + 2, &all_start, &all_limit);
  }
  // The level's next size compaction starts after this one, at once (not
  // only once the edit is applied), so compactions picked meanwhile differ.
  compact_pointer_[level] = std::string(largest.Encode());
  c->edit_.SetCompactPointer(level, largest);
}

std::unique_ptr<Compaction> VersionSet::CompactRange(int level, const InternalKey* begin,
                                                     const InternalKey* end) {
  if (level < 0 || level + 1 >= kNumLevels) return nullptr;
  const std::shared_ptr<const Version> v = current();
  std::vector<FileRef> inputs = v->GetOverlappingInputs(level, begin, end);
  if (inputs.empty()) return nullptr;
  // Not too much at once; level-0 files overlap each other, so they are
  // never cut (an older file left behind could hide a newer one's deletion).
  if (level > 0) {
    uint64_t total = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      total += inputs[i]->file_size;
      if (total >= options_.max_file_size) {
        inputs.resize(i + 1);
        break;
      }
    }
  }
  std::unique_ptr<Compaction> c(new Compaction(options_, level, v));
  c->inputs_[0] = std::move(inputs);
  c->manual_ = true;
  SetupOtherInputs(c.get());
  return c;
}

}  // namespace corodb

// Version (lookups, overlap queries, sizes) and Compaction (the per-key
// decisions a running compaction asks for). VersionSet is in version_set.cc.
#include <optional>
#include <string>

#include "table/table_cache.h"
#include "version/config.h"
#include "version/lookup.h"
#include "version/version_set.h"

namespace corodb {
namespace asio = boost::asio;

namespace {

uint64_t MaxGrandparentOverlapBytes(uint64_t max_file_size) {
  return config::kMaxGrandparentOverlapFiles * max_file_size;
}

// Whether `f` lies wholly after, or wholly before, a user key (nullptr:
// unbounded, so never).
bool AfterFile(const Comparator* ucmp, const Slice* user_key, const FileInfo& f) {
  return user_key != nullptr && ucmp->Compare(*user_key, f.largest.user_key()) > 0;
}
bool BeforeFile(const Comparator* ucmp, const Slice* user_key, const FileInfo& f) {
  return user_key != nullptr && ucmp->Compare(*user_key, f.smallest.user_key()) < 0;
}

}  // namespace

double MaxBytesForLevel(int level) {
  double result = config::kL1MaxBytes;
  for (; level > 1; --level) result *= 10;
  return result;
}

uint64_t TotalFileSize(const std::vector<FileRef>& files) {
  uint64_t sum = 0;
  for (const FileRef& f : files) sum += f->file_size;
  return sum;
}

// ---------------------------------------------------------------- Version

uint64_t Version::NumLevelBytes(int level) const { return TotalFileSize(files_[level]); }

std::optional<Result<VersionGetResult>> Version::TryGet(const ReadOptions& options,
                                                        const LookupKey& key,
                                                        GetStats* stats) const {
  SeekCharger charger(stats);
  Candidates candidates(*this, *icmp_, key.internal_key());
  int level;
  while (const FileRef* f = candidates.Next(&level)) {
    charger.Consult(*f, level);
    std::optional<Result<table::LookupResult>> r =
        table_cache_->TryGet(options, (*f)->number, key.internal_key());
    if (!r.has_value()) return std::nullopt;
    std::optional<Result<VersionGetResult>> answer =
        Interpret(std::move(*r), key.user_key(), icmp_->user_comparator(), (*f)->number);
    if (answer.has_value()) return answer;
  }
  return Result<VersionGetResult>(VersionGetResult{});
}

asio::awaitable<Result<VersionGetResult>> Version::Get(ReadOptions options,
                                                       const LookupKey& key,
                                                       GetStats* stats) const {
  SeekCharger charger(stats);
  Candidates candidates(*this, *icmp_, key.internal_key());
  int level;
  while (const FileRef* f = candidates.Next(&level)) {
    charger.Consult(*f, level);
    Result<table::LookupResult> r = co_await table_cache_->Get(
        options, (*f)->number, (*f)->file_size, key.internal_key());
    std::optional<Result<VersionGetResult>> answer =
        Interpret(std::move(r), key.user_key(), icmp_->user_comparator(), (*f)->number);
    if (answer.has_value()) co_return std::move(*answer);
  }
  co_return VersionGetResult{};
}

bool Version::UpdateStats(const GetStats& stats) const {
  const FileRef& f = stats.seek_file;
  if (f == nullptr) return false;
  if (f->allowed_seeks.fetch_sub(1) - 1 > 0) return false;
  std::lock_guard lock(seek_mu_);
  if (file_to_compact_ != nullptr) return false;
  file_to_compact_ = f;
  file_to_compact_level_ = stats.seek_file_level;
  return true;
}

bool Version::RecordReadSample(Slice internal_key) const {
  ParsedInternalKey parsed;
  if (!ParseInternalKey(internal_key, &parsed)) return false;
  // LevelDB's rule: a read that had to look past a file (because its range
  // held the key) charges that first file, as a Get consulting two would.
  std::string probe;
  AppendInternalKey(&probe, ParsedInternalKey{parsed.user_key, kMaxSequenceNumber, kValueTypeForSeek});
  Candidates candidates(*this, *icmp_, probe);
  GetStats stats;
  int level;
  const FileRef* first = candidates.Next(&level);
  if (first == nullptr) return false;
  int ignored;
  if (candidates.Next(&ignored) == nullptr) return false;
  stats.seek_file = *first;
  stats.seek_file_level = level;
  return UpdateStats(stats);
}

std::vector<FileRef> Version::GetOverlappingInputs(int level, const InternalKey* begin,
                                                   const InternalKey* end) const {
  const Comparator* ucmp = icmp_->user_comparator();
  std::vector<FileRef> inputs;
  Slice user_begin, user_end;
  if (begin != nullptr) user_begin = begin->user_key();
  if (end != nullptr) user_end = end->user_key();
  const std::vector<FileRef>& files = files_[level];
  for (size_t i = 0; i < files.size();) {
    const FileRef& f = files[i++];
    const Slice file_start = f->smallest.user_key();
    const Slice file_limit = f->largest.user_key();
    if (begin != nullptr && ucmp->Compare(file_limit, user_begin) < 0) continue;
    if (end != nullptr && ucmp->Compare(file_start, user_end) > 0) continue;
    inputs.push_back(f);
    if (level != 0) continue;
    // Level-0 files overlap each other: a file reaching past the range
    // widens it, and the search starts over with the wider range.
    if (begin != nullptr && ucmp->Compare(file_start, user_begin) < 0) {
      user_begin = file_start;
    } else if (end != nullptr && ucmp->Compare(file_limit, user_end) > 0) {
      user_end = file_limit;
    } else {
      continue;
    }
    inputs.clear();
    i = 0;
  }
  return inputs;
}

bool Version::OverlapInLevel(int level, const Slice* smallest_user_key,
                             const Slice* largest_user_key) const {
  const Comparator* ucmp = icmp_->user_comparator();
  const std::vector<FileRef>& files = files_[level];
  if (level == 0) {
    for (const FileRef& f : files) {
      if (!AfterFile(ucmp, smallest_user_key, *f) &&
          !BeforeFile(ucmp, largest_user_key, *f)) {
        return true;
      }
    }
    return false;
  }
  size_t i = 0;
  if (smallest_user_key != nullptr) {
    // The earliest internal key of the smallest user key.
    const InternalKey small(*smallest_user_key, kMaxSequenceNumber, kValueTypeForSeek);
    i = FindFile(*icmp_, files, small.Encode());
  }
  if (i >= files.size()) return false;  // every file ends before the range
  return !BeforeFile(ucmp, largest_user_key, *files[i]);
}

int Version::PickLevelForMemTableOutput(Slice smallest_user_key, Slice largest_user_key,
                                        uint64_t max_file_size) const {
  if (OverlapInLevel(0, &smallest_user_key, &largest_user_key)) return 0;
  // The whole user-key range, every sequence number included.
  const InternalKey start(smallest_user_key, kMaxSequenceNumber, kValueTypeForSeek);
  const InternalKey limit(largest_user_key, 0, static_cast<ValueType>(0));
  int level = 0;
  while (level < config::kMaxMemCompactLevel) {
    if (OverlapInLevel(level + 1, &smallest_user_key, &largest_user_key)) break;
    if (level + 2 < kNumLevels &&
        TotalFileSize(GetOverlappingInputs(level + 2, &start, &limit)) >
            MaxGrandparentOverlapBytes(max_file_size)) {
      break;
    }
    ++level;
  }
  return level;
}

asio::awaitable<uint64_t> Version::ApproximateOffsetOf(const InternalKey& key) const {
  uint64_t result = 0;
  for (int level = 0; level < kNumLevels; ++level) {
    for (const FileRef& f : files_[level]) {
      if (icmp_->Compare(f->largest.Encode(), key.Encode()) <= 0) {
        result += f->file_size;  // the whole file is before the key
      } else if (icmp_->Compare(f->smallest.Encode(), key.Encode()) > 0) {
        // The whole file is after the key; so are the rest of a sorted level
        // (level-0 files are not sorted by key).
        if (level > 0) break;
      } else {
        Result<table::TableCache::Handle> h =
            co_await table_cache_->FindTable(f->number, f->file_size);
        if (h.ok()) result += h->value()->ApproximateOffsetOf(key.Encode());
      }
    }
  }
  co_return result;
}

std::string Version::LevelSummary() const {
  std::string r = "files[";
  for (int level = 0; level < kNumLevels; ++level) {
    r += " " + std::to_string(files_[level].size());
  }
  r += " ]";
  return r;
}

std::string Version::DebugString() const {
  std::string r;
  for (int level = 0; level < kNumLevels; ++level) {
    r += "--- level " + std::to_string(level) + " ---\n";
    for (const FileRef& f : files_[level]) {
      r += " " + std::to_string(f->number) + ":" + std::to_string(f->file_size) + "[" +
           f->smallest.DebugString() + " .. " + f->largest.DebugString() + "]\n";
    }
  }
  return r;
}

// ------------------------------------------------------------- Compaction

Compaction::Compaction(const Options& options, int level,
                       std::shared_ptr<const Version> input_version)
    : level_(level),
      max_output_file_size_(options.max_file_size),
      max_grandparent_overlap_bytes_(MaxGrandparentOverlapBytes(options.max_file_size)),
      input_version_(std::move(input_version)),
      icmp_(input_version_->icmp_) {}

bool Compaction::IsTrivialMove() const {
  return num_input_files(0) == 1 && num_input_files(1) == 0 &&
         TotalFileSize(grandparents_) <= max_grandparent_overlap_bytes_;
}

void Compaction::AddInputDeletions(VersionEdit* edit) const {
  for (int which = 0; which < 2; ++which) {
    for (const FileRef& f : inputs_[which]) edit->RemoveFile(level_ + which, f->number);
  }
}

bool Compaction::IsBaseLevelForKey(Slice user_key) {
  const Comparator* ucmp = icmp_->user_comparator();
  for (int level = level_ + 2; level < kNumLevels; ++level) {
    const std::vector<FileRef>& files = input_version_->files(level);
    // Keys come in increasing order: files ending before this key end
    // before every later one too.
    for (; level_ptrs_[level] < files.size(); ++level_ptrs_[level]) {
      const FileInfo& f = *files[level_ptrs_[level]];
      if (ucmp->Compare(user_key, f.largest.user_key()) <= 0) {
        if (ucmp->Compare(user_key, f.smallest.user_key()) >= 0) return false;
        break;
      }
    }
  }
  return true;
}

bool Compaction::ShouldStopBefore(Slice internal_key) {
  // Charge the grandparent files that end before this key, once a key of
  // the output has been seen (the first key overlaps nothing before it).
  while (grandparent_index_ < grandparents_.size() &&
         icmp_->Compare(internal_key,
                        grandparents_[grandparent_index_]->largest.Encode()) > 0) {
    if (seen_key_) overlapped_bytes_ += grandparents_[grandparent_index_]->file_size;
    ++grandparent_index_;
  }
  seen_key_ = true;
  if (overlapped_bytes_ > max_grandparent_overlap_bytes_) {
    overlapped_bytes_ = 0;  // the next output starts afresh
    return true;
  }
  return false;
}

}  // namespace corodb

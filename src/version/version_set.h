// VersionSet: the set of live table files of a database, as a series of
// immutable Versions, kept durable in the MANIFEST; and the compaction policy
// (LevelDB's: size-triggered before seek-triggered, round-robin compact
// pointers, L0 overlap expansion, trivial moves, grandparent limits).
//
//   co_await Recover()        CURRENT -> MANIFEST -> every edit -> current()
//   co_await LogAndApply(e)   edit appended to the MANIFEST (log format) and
//                             fdatasynced, then the new Version installed
//   PickCompaction()          the next size- or seek-triggered compaction
//   CompactRange(level, ...)  a manual compaction of one level's range
//
// Invariants / thread safety:
// - A Version is immutable once installed (only its seek statistics change,
//   atomically). Readers and compactions hold `std::shared_ptr<const
//   Version>`; the files of every Version still held somewhere are live
//   (AddLiveFiles), so a reader holding a Version keeps its files on disk.
// - current(), AddLiveFiles(), NumLevelFiles(), the counters and the
//   summaries may be called from any thread (a short internal lock).
// - Mutators — Recover, LogAndApply, PickCompaction, CompactRange,
//   SetLastSequence, MarkFileNumberUsed — are called by one coroutine at a
//   time (the DB's background worker, or Open before it starts); this is the
//   caller's duty, not checked. NewFileNumber() is thread-safe (atomic): the
//   write path allocates log numbers while the background worker allocates
//   table numbers.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "corodb/options.h"
#include "corodb/result.h"
#include "format/dbformat.h"
#include "version/version_edit.h"

namespace corodb {
class Logger;
namespace io {
class File;
class FileSystem;
}  // namespace io
namespace log {
class Writer;
}
namespace table {
class TableCache;
}

// A table file of a Version. Shared by every Version that has it.
struct FileInfo {
  explicit FileInfo(const FileMetaData& meta)
      : number(meta.number), file_size(meta.file_size), smallest(meta.smallest),
        largest(meta.largest),
        allowed_seeks(static_cast<int>(std::max<uint64_t>(100, meta.file_size / 16384))) {}
  FileMetaData meta() const { return FileMetaData{number, file_size, smallest, largest}; }

  const uint64_t number;
  const uint64_t file_size;
  const InternalKey smallest;
  const InternalKey largest;
  // Seeks left before this file is compacted (LevelDB: one seek costs about
  // as much as compacting 16 KiB, hence max(100, size / 16 KiB)).
  std::atomic<int> allowed_seeks;
};
using FileRef = std::shared_ptr<FileInfo>;

// Level sizes, LevelDB's: level 1 holds 10 MiB, each deeper level 10x more.
double MaxBytesForLevel(int level);

// The sum of the files' sizes.
uint64_t TotalFileSize(const std::vector<FileRef>& files);

// The outcome of a point lookup in a Version.
struct VersionGetResult {
  enum Kind { kNotFound, kFound, kDeleted } kind = kNotFound;
  std::string value;  // kFound
};

// Seek statistics of one Get: the first file consulted when more than one was.
struct GetStats {
  FileRef seek_file;
  int seek_file_level = -1;
};

class Version {
 public:
  Version(const InternalKeyComparator* icmp, table::TableCache* table_cache, uint64_t number)
      : icmp_(icmp), table_cache_(table_cache), number_(number) {}

  // Files of each level: L0 in the order they were added (newest last; they
  // may overlap), deeper levels sorted by smallest key, disjoint.
  const std::vector<FileRef>& files(int level) const { return files_[level]; }
  int NumFiles(int level) const { return static_cast<int>(files_[level].size()); }
  uint64_t NumLevelBytes(int level) const;
  // A number for logs and tests: the n-th Version of this VersionSet.
  uint64_t number() const { return number_; }

  // Point lookup of `key` (at its sequence) in the tables: L0 files that
  // overlap, newest first; then one file per deeper level, by binary search.
  // TryGet answers without I/O (the filter rules a file out, or the block is
  // cached) and returns nullopt at the first file that needs a read (the
  // caller then co_awaits Get, which starts over). `stats` is reset, then
  // filled in as LevelDB's: when more than one file was consulted, the first
  // one (after a nullopt it means nothing).
  // Errors: the table's Corruption or IOError (naming the file), or
  // Corruption when a table's entry is not an internal key.
  std::optional<Result<VersionGetResult>> TryGet(const ReadOptions& options, const LookupKey& key,
                                                 GetStats* stats) const;
  // `key` and `stats` must stay alive until the awaitable completes.
  // SUSPENDS: table opens and data-block reads, only when not cached.
  boost::asio::awaitable<Result<VersionGetResult>> Get(ReadOptions options, const LookupKey& key,
                                                       GetStats* stats) const;

  // Charges a seek to stats.seek_file; true when that used up its allowed
  // seeks and this Version has no seek-compaction candidate yet (it becomes
  // one: the caller should schedule background work).
  bool UpdateStats(const GetStats& stats) const;
  // An iterator's read sample at `internal_key` (LevelDB's
  // RecordReadSample): when at least two files' ranges hold its user key,
  // charges the first as UpdateStats does. Returns as UpdateStats.
  bool RecordReadSample(Slice internal_key) const;

  // Files of `level` overlapping the user-key range [begin, end] (nullptr:
  // unbounded). For level 0, LevelDB's expansion: a file that widens the
  // range widens it for the search (the result is every L0 file transitively
  // overlapping it).
  std::vector<FileRef> GetOverlappingInputs(int level, const InternalKey* begin,
                                            const InternalKey* end) const;
  // Whether some file of `level` overlaps the user-key range
  // [smallest, largest] (nullptr: unbounded).
  bool OverlapInLevel(int level, const Slice* smallest_user_key,
                      const Slice* largest_user_key) const;
  // The level a flushed memtable's table covering [smallest, largest] goes
  // to: 0 when it overlaps L0; else pushed down while it overlaps nothing in
  // the next level and not too many bytes of the level after (grandparent
  // limit), at most to level 2 (LevelDB's kMaxMemCompactLevel).
  int PickLevelForMemTableOutput(Slice smallest_user_key, Slice largest_user_key,
                                 uint64_t max_file_size) const;

  // Approximate bytes of the database before `key` (sum of whole files
  // before it plus ApproximateOffsetOf inside the files that contain it; a
  // table that cannot be opened counts 0). `key` must stay alive until the
  // awaitable completes.
  // SUSPENDS: table opens.
  boost::asio::awaitable<uint64_t> ApproximateOffsetOf(const InternalKey& key) const;

  // "files[ 2 3 0 0 0 0 0 ]"-like summary, and a full listing.
  std::string LevelSummary() const;
  std::string DebugString() const;

 private:
  friend class VersionSet;
  friend class Compaction;
  friend class BatchGet;

  const InternalKeyComparator* icmp_;
  table::TableCache* table_cache_;
  const uint64_t number_;
  std::vector<FileRef> files_[kNumLevels];

  // Computed by VersionSet::Finalize when the Version is built.
  // The level to compact next by size and its score (>= 1 means compact).
  double compaction_score_ = -1;
  int compaction_level_ = -1;

  // Seek-triggered candidate, set once by UpdateStats.
  mutable std::mutex seek_mu_;
  mutable FileRef file_to_compact_;
  mutable int file_to_compact_level_ = -1;
};

// A compaction: inputs from `level` and `level + 1`, written to `level + 1`.
class Compaction {
 public:
  int level() const { return level_; }
  // The Version the inputs come from (held until the compaction ends).
  const std::shared_ptr<const Version>& input_version() const { return input_version_; }
  // The edit that installs the result; inputs are added by AddInputDeletions.
  VersionEdit* edit() { return &edit_; }
  // which = 0: files of level(); 1: files of level() + 1.
  const std::vector<FileRef>& inputs(int which) const { return inputs_[which]; }
  int num_input_files(int which) const { return static_cast<int>(inputs_[which].size()); }
  uint64_t MaxOutputFileSize() const { return max_output_file_size_; }
  // A single input file moving to level + 1 without rewriting: nothing at
  // level + 1 overlaps it and it overlaps at most 10 * max_file_size bytes of
  // level + 2.
  bool IsTrivialMove() const;
  // Adds every input as a deletion to edit().
  void AddInputDeletions(VersionEdit* edit) const;
  // True when no level deeper than level() + 1 can hold `user_key` (so a
  // deletion marker for it may be dropped). Calls must come in increasing
  // key order (it walks the deeper levels with cursors, as LevelDB's).
  bool IsBaseLevelForKey(Slice user_key);
  // True when the current output should end before `internal_key`: the keys
  // written so far overlap more than the grandparent limit of level + 2.
  // Calls must come in increasing key order.
  bool ShouldStopBefore(Slice internal_key);
  // Manual or seek compaction (for logs and statistics).
  bool is_manual() const { return manual_; }
  bool is_seek() const { return seek_; }

 private:
  friend class VersionSet;
  Compaction(const Options& options, int level, std::shared_ptr<const Version> input_version);

  const int level_;
  const uint64_t max_output_file_size_;
  const uint64_t max_grandparent_overlap_bytes_;
  std::shared_ptr<const Version> input_version_;
  const InternalKeyComparator* icmp_;
  VersionEdit edit_;
  std::vector<FileRef> inputs_[2];
  std::vector<FileRef> grandparents_;
  size_t grandparent_index_ = 0;
  bool seen_key_ = false;
  uint64_t overlapped_bytes_ = 0;
  size_t level_ptrs_[kNumLevels] = {};
  bool manual_ = false;
  bool seek_ = false;
};

class VersionSet {
 public:
  // `table_cache`, `fs`, `logger` are not owned and must outlive the set.
  VersionSet(std::string dbname, const Options& options, const io::FileSystem* fs,
             table::TableCache* table_cache, const InternalKeyComparator* icmp, Logger* logger);
  ~VersionSet();
  VersionSet(const VersionSet&) = delete;
  VersionSet& operator=(const VersionSet&) = delete;

  // Reads CURRENT and the MANIFEST it names, applies every edit and installs
  // the result as current(). Call once, on a set fresh from the constructor.
  // Checks the comparator name (InvalidArgument on a mismatch, naming both)
  // and that the MANIFEST has the next-file, log-number and last-sequence
  // entries (Corruption otherwise). Damage — a bad CURRENT, a bad record or
  // checksum, a level >= kNumLevels, overlapping files in a level >= 1 — is
  // Corruption naming the file (and offset); it is never skipped. An edit
  // deleting a file its level does not have is ignored, as LevelDB ignores
  // it (directories LevelDB wrote must open). Sets *save_manifest when the
  // next LogAndApply must start a new MANIFEST (always true in this
  // implementation: corodb, like LevelDB by default, writes a fresh MANIFEST
  // at each Open).
  // SUSPENDS: reads of CURRENT and the MANIFEST.
  boost::asio::awaitable<Status> Recover(bool* save_manifest);

  // Applies `edit` to current() and installs the result. Fills in the edit's
  // log number and previous log number (each when not set: the current one;
  // a set log number must be >= log_number() and < next_file_number()),
  // next file number and last sequence from the set's counters; on success
  // log_number() and prev_log_number() become the edit's. The first call
  // after Recover (or on a set whose MANIFEST write failed) starts a new
  // MANIFEST (number NewFileNumber()) holding a snapshot of the whole state
  // followed by `edit`, syncs it, and points CURRENT at it (temp file +
  // rename + directory fsync); later calls append `edit` as one record and
  // fdatasync. Only after the MANIFEST is durable is the new Version
  // installed. On failure nothing is installed, the failed MANIFEST is
  // abandoned (the next call starts a new one; a new MANIFEST that CURRENT
  // never named is removed), and the error is returned. An edit that would
  // make files of a level >= 1 overlap, or names a level >= kNumLevels, is
  // refused (InvalidArgument) before anything is written.
  // SUSPENDS: MANIFEST append + fdatasync (and CURRENT when starting one).
  boost::asio::awaitable<Status> LogAndApply(VersionEdit* edit);

  // The current Version (never null: an empty Version before Recover).
  std::shared_ptr<const Version> current() const;

  // Allocates a file number (thread-safe).
  uint64_t NewFileNumber() { return next_file_number_.fetch_add(1); }
  // Makes sure NewFileNumber() never returns `number` (or below).
  void MarkFileNumberUsed(uint64_t number);
  uint64_t next_file_number() const { return next_file_number_.load(); }
  // The MANIFEST that CURRENT names (0 before Recover or the first LogAndApply).
  uint64_t manifest_file_number() const { return manifest_file_number_.load(); }
  uint64_t log_number() const { return log_number_.load(); }
  uint64_t prev_log_number() const { return prev_log_number_.load(); }
  SequenceNumber last_sequence() const { return last_sequence_.load(); }
  // REQUIRES: s >= last_sequence().
  void SetLastSequence(SequenceNumber s);

  int NumLevelFiles(int level) const;
  uint64_t NumLevelBytes(int level) const;
  // True when current() has a size- (score >= 1) or seek-triggered compaction.
  bool NeedsCompaction() const;
  // The next compaction, or nullptr when none is needed. Size-triggered
  // (current()'s highest score >= 1) first, starting after the level's
  // compact pointer (wrapping around); else seek-triggered. L0 inputs are
  // expanded to every L0 file overlapping them; level + 1 inputs are the
  // files overlapping the level's range; the level's inputs then grow while
  // that adds no level + 1 file and the total stays under 25 * max_file_size
  // (SetupOtherInputs). Records the compact pointer (in the set and in the
  // compaction's edit).
  std::unique_ptr<Compaction> PickCompaction();
  // A manual compaction of `level`'s files overlapping [begin, end]
  // (nullptr: unbounded), or nullptr when none overlap. For level > 0 the
  // inputs are cut after the first file that brings their total to
  // max_file_size (the caller repeats from where it stopped, as LevelDB's
  // CompactRange does). Marked is_manual(). nullptr too for the last level
  // (nothing lies below it).
  std::unique_ptr<Compaction> CompactRange(int level, const InternalKey* begin,
                                           const InternalKey* end);
  // Max bytes overlapping in the next level for any file of level >= 1
  // (LevelDB's MaxNextLevelOverlappingBytes, for tests and properties).
  uint64_t MaxNextLevelOverlappingBytes() const;

  // Adds the number of every table file of every Version still held
  // (current() included) to *live.
  void AddLiveFiles(std::set<uint64_t>* live) const;

  // "files[ 2 3 0 0 0 0 0 ]".
  std::string LevelSummary() const;

 private:
  class Builder;

  // Computes v's compaction score and level (L0: files / 4; level n >= 1:
  // bytes / MaxBytesForLevel(n); the last level is never a source).
  void Finalize(Version* v) const;
  void SetupOtherInputs(Compaction* c);
  // Smallest and largest internal key of `files` (REQUIRES: not empty).
  void GetRange(const std::vector<FileRef>& files, InternalKey* smallest,
                InternalKey* largest) const;
  void GetRange2(const std::vector<FileRef>& a, const std::vector<FileRef>& b,
                 InternalKey* smallest, InternalKey* largest) const;
  // Encodes current()'s whole state as one edit (a new MANIFEST's first record).
  void WriteSnapshot(VersionEdit* edit) const;
  // Appends `edit` to the open MANIFEST (new_manifest_number == 0), or
  // starts MANIFEST-new_manifest_number (snapshot, then `edit`, then
  // CURRENT). On failure the MANIFEST is abandoned (see LogAndApply).
  // SUSPENDS: as LogAndApply.
  boost::asio::awaitable<Status> WriteManifest(const VersionEdit& edit,
                                               uint64_t new_manifest_number);
  void Install(std::shared_ptr<const Version> v);

  const std::string dbname_;
  const Options options_;
  const io::FileSystem* fs_;
  table::TableCache* const table_cache_;
  const InternalKeyComparator* const icmp_;
  Logger* const logger_;

  // Written by the mutators only; atomic so the accessors may run anywhere.
  std::atomic<uint64_t> next_file_number_{2};
  std::atomic<uint64_t> manifest_file_number_{0};
  std::atomic<SequenceNumber> last_sequence_{0};
  std::atomic<uint64_t> log_number_{0};
  std::atomic<uint64_t> prev_log_number_{0};
  uint64_t versions_made_ = 0;

  // The open MANIFEST (null: the next LogAndApply starts a new one).
  std::unique_ptr<io::File> manifest_file_;
  std::unique_ptr<log::Writer> manifest_writer_;

  // Per level: the key where the next size compaction starts (empty: the
  // level's beginning).
  std::string compact_pointer_[kNumLevels];

  mutable std::mutex mu_;
  std::shared_ptr<const Version> current_;  // guarded by mu_
  // Every Version handed out, to find live files; expired ones are pruned.
  mutable std::vector<std::weak_ptr<const Version>> versions_;  // guarded by mu_
};

}  // namespace corodb

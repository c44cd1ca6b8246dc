// The path of one point lookup through a Version's tables, shared by
// Version::Get and BatchGet (DB::MultiGet): which files may hold the key, in
// lookup order; which of them is charged a seek; and what a table's answer
// means for the key. Internal to the version module.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "corodb/result.h"
#include "format/dbformat.h"
#include "table/table.h"
#include "version/version_set.h"

namespace corodb {

// Index of the first file of a sorted, disjoint level whose largest key is
// >= `internal_key`; files.size() when there is none.
size_t FindFile(const InternalKeyComparator& icmp, const std::vector<FileRef>& files,
                Slice internal_key);

// Walks the files whose range may hold a user key, in lookup order: level-0
// files containing it, newest (highest number) first, then for each deeper
// level the one file whose range can contain it. Level 0 is kept sorted by
// number, oldest first, so walking it backwards is newest first. The
// Version and the key's bytes must outlive it.
class Candidates {
 public:
  Candidates(const Version& v, const InternalKeyComparator& icmp, Slice internal_key)
      : v_(v),
        icmp_(icmp),
        ucmp_(icmp.user_comparator()),
        internal_key_(internal_key),
        user_key_(ExtractUserKey(internal_key)),
        l0_left_(v.files(0).size()) {}

  // The next file and its level; nullptr when no file is left.
  const FileRef* Next(int* level) {
    const std::vector<FileRef>& l0 = v_.files(0);
    while (l0_left_ > 0) {
      const FileRef& f = l0[--l0_left_];
      if (ucmp_->Compare(user_key_, f->smallest.user_key()) >= 0 &&
          ucmp_->Compare(user_key_, f->largest.user_key()) <= 0) {
        *level = 0;
        return &f;
      }
    }
    while (++level_ < kNumLevels) {
      const std::vector<FileRef>& files = v_.files(level_);
      const size_t i = FindFile(icmp_, files, internal_key_);
      if (i < files.size() && ucmp_->Compare(user_key_, files[i]->smallest.user_key()) >= 0) {
        *level = level_;
        return &files[i];
      }
    }
    return nullptr;
  }

 private:
  const Version& v_;
  const InternalKeyComparator& icmp_;
  const Comparator* ucmp_;
  const Slice internal_key_;
  const Slice user_key_;
  size_t l0_left_;
  int level_ = 0;  // the last level >= 1 searched
};

// Remembers the files consulted for LevelDB's seek statistics: once a
// second file is consulted, the first one is charged.
class SeekCharger {
 public:
  explicit SeekCharger(GetStats* stats) : stats_(stats) { *stats_ = GetStats{}; }
  void Consult(const FileRef& f, int level) {
    if (stats_->seek_file == nullptr && last_ != nullptr) {
      stats_->seek_file = *last_;
      stats_->seek_file_level = last_level_;
    }
    last_ = &f;
    last_level_ = level;
  }

 private:
  GetStats* stats_;
  const FileRef* last_ = nullptr;
  int last_level_ = -1;
};

// What one table's answer means for a lookup of `user_key`: the result
// (found, deleted, or an error), or nullopt to go on with the next file.
std::optional<Result<VersionGetResult>> Interpret(Result<table::LookupResult> r, Slice user_key,
                                                  const Comparator* ucmp, uint64_t file_number);

}  // namespace corodb

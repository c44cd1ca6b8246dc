// The filter meta block, in LevelDB's layout:
//
//   filter_block := filter* + fixed32 filter_offset* + fixed32 array_offset + base_lg (1 byte)
//
// Filter i summarizes the keys of every data block whose file offset lies in
// [i << base_lg, (i + 1) << base_lg); base_lg is 11 (2 KiB). An empty filter
// (offset i == offset i + 1) means no block starts in that range.
//
// Invariants / thread safety: the builder is used by one table builder; the
// reader is immutable after Parse() and safe to share.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "corodb/filter_policy.h"
#include "corodb/slice.h"
#include "corodb/result.h"

namespace corodb::table {

constexpr int kFilterBaseLg = 11;
constexpr uint64_t kFilterBase = 1ull << kFilterBaseLg;

class FilterBlockBuilder {
 public:
  explicit FilterBlockBuilder(std::shared_ptr<const FilterPolicy> policy);
  FilterBlockBuilder(const FilterBlockBuilder&) = delete;
  FilterBlockBuilder& operator=(const FilterBlockBuilder&) = delete;

  // Announces that the next keys belong to a data block at `block_offset`.
  // REQUIRES: offsets never decrease.
  void StartBlock(uint64_t block_offset);
  void AddKey(Slice key);
  // Returns the finished filter block, valid while the builder lives.
  Slice Finish();

 private:
  void GenerateFilter();

  std::shared_ptr<const FilterPolicy> policy_;
  std::string keys_;                  // keys of the current filter, flattened
  std::vector<size_t> key_starts_;    // where each key begins in keys_
  std::string result_;                // filters built so far
  std::vector<uint32_t> filter_offsets_;
  std::vector<Slice> scratch_keys_;
};

class FilterBlockReader {
 public:
  // Validates `contents` (offsets within bounds and in order). Corruption
  // (without a file name) when damaged. Takes the contents; `policy` must be
  // the one the filters were built with.
  static Result<FilterBlockReader> Parse(std::shared_ptr<const FilterPolicy> policy,
                                         std::string contents);

  // False only when `key` is certainly not in the data block at `block_offset`.
  bool KeyMayMatch(uint64_t block_offset, Slice key) const;

  size_t size() const { return data_.size(); }

 private:
  FilterBlockReader(std::shared_ptr<const FilterPolicy> policy, std::string data,
                    uint32_t array_offset, size_t num, int base_lg)
      : policy_(std::move(policy)),
        data_(std::move(data)),
        array_offset_(array_offset),
        num_(num),
        base_lg_(base_lg) {}

  std::shared_ptr<const FilterPolicy> policy_;
  std::string data_;
  uint32_t array_offset_;  // start of the offset array
  size_t num_;             // number of filters
  int base_lg_;
};

}  // namespace corodb::table

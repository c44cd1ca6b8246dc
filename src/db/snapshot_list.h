// SnapshotList: the sequence numbers of a DB's live snapshots.
//
// Invariants / thread safety: every member takes `mu_`. Taking a snapshot
// reads the DB's visible sequence under `mu_`, and Smallest() reads it under
// `mu_` too: a compaction that asked Smallest() before a snapshot was taken
// dropped nothing that snapshot can see (its sequence is at least the one
// the compaction used), and one that asked after it sees it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>

#include "corodb/snapshot.h"

namespace corodb::internal {

class SnapshotList : public std::enable_shared_from_this<SnapshotList> {
 public:
  // `visible`: the DB's last visible sequence (outlives the list's use by
  // the DB; a handle released after the DB is gone does not read it).
  explicit SnapshotList(const std::atomic<uint64_t>* visible) : visible_(visible) {}
  SnapshotList(const SnapshotList&) = delete;
  SnapshotList& operator=(const SnapshotList&) = delete;
  ~SnapshotList();

  // A snapshot at the current visible sequence.
  SnapshotHandle Take();
  // The oldest sequence a snapshot or a new reader may read at: the oldest
  // snapshot's, or the visible sequence when there is none.
  uint64_t Smallest() const;
  size_t size() const;
  // Whether `s` was taken from this list (and is not released).
  bool Owns(const Snapshot* s) const;

 private:
  friend class corodb::SnapshotHandle;
  class Impl;
  void Release(const Snapshot* s);

  const std::atomic<uint64_t>* visible_;
  mutable std::mutex mu_;
  std::multiset<uint64_t> sequences_;  // guarded by mu_
  std::set<const Snapshot*> live_;     // guarded by mu_
};

}  // namespace corodb::internal

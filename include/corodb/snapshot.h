// Snapshots: a read point. Reads through a snapshot (ReadOptions::snapshot)
// see the database as it was when the snapshot was taken, and compactions
// keep every version of a key such a read may need.
//
//   corodb::SnapshotHandle snap = db->GetSnapshot();
//   corodb::ReadOptions ro;
//   ro.snapshot = snap.get();
//   auto v = co_await db->Get(ro, "key");   // as of GetSnapshot()
//   snap.reset();                           // or db->ReleaseSnapshot(snap), or let it go
//
// Thread safety: a Snapshot is immutable; handles may be created, used and
// released on any thread. A handle may outlive its DB (releasing it then
// does nothing).
#pragma once

#include <cstdint>
#include <memory>

namespace corodb {

namespace internal {
class SnapshotList;
}

// What ReadOptions::snapshot points to. Only a DB creates one.
class Snapshot {
 public:
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  // The sequence number of the newest write visible through this snapshot.
  uint64_t sequence() const { return sequence_; }

 protected:
  explicit Snapshot(uint64_t sequence) : sequence_(sequence) {}
  ~Snapshot() = default;

 private:
  const uint64_t sequence_;
};

// Owns a Snapshot: destroying or reset()ting the handle releases it.
// Move-only.
class SnapshotHandle {
 public:
  SnapshotHandle() = default;
  SnapshotHandle(SnapshotHandle&& other) noexcept
      : list_(std::move(other.list_)), snapshot_(other.snapshot_) {
    other.snapshot_ = nullptr;
  }
  SnapshotHandle& operator=(SnapshotHandle&& other) noexcept {
    if (this != &other) {
      reset();
      list_ = std::move(other.list_);
      snapshot_ = other.snapshot_;
      other.snapshot_ = nullptr;
    }
    return *this;
  }
  ~SnapshotHandle() { reset(); }

  // The snapshot, or nullptr once released (or for a default handle).
  const Snapshot* get() const { return snapshot_; }
  const Snapshot* operator->() const { return snapshot_; }
  explicit operator bool() const { return snapshot_ != nullptr; }
  // Releases the snapshot (nothing when there is none).
  void reset();

 private:
  friend class internal::SnapshotList;
  SnapshotHandle(std::shared_ptr<internal::SnapshotList> list, const Snapshot* snapshot)
      : list_(std::move(list)), snapshot_(snapshot) {}

  std::shared_ptr<internal::SnapshotList> list_;
  const Snapshot* snapshot_ = nullptr;
};

}  // namespace corodb

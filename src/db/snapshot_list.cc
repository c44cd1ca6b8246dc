#include "db/snapshot_list.h"

namespace corodb {
namespace internal {

class SnapshotList::Impl final : public Snapshot {
 public:
  Impl(uint64_t sequence, std::multiset<uint64_t>::iterator pos) : Snapshot(sequence), pos(pos) {}
  ~Impl() = default;
  const std::multiset<uint64_t>::iterator pos;
};

SnapshotList::~SnapshotList() {
  // Handles hold the list, so none is left; nothing to free.
}

SnapshotHandle SnapshotList::Take() {
  std::lock_guard lock(mu_);
  const uint64_t sequence = visible_->load(std::memory_order_acquire);
  auto* s = new Impl(sequence, sequences_.insert(sequence));
  live_.insert(s);
  return SnapshotHandle(shared_from_this(), s);
}

uint64_t SnapshotList::Smallest() const {
  std::lock_guard lock(mu_);
  const uint64_t visible = visible_->load(std::memory_order_acquire);
  return sequences_.empty() ? visible : std::min(visible, *sequences_.begin());
}

size_t SnapshotList::size() const {
  std::lock_guard lock(mu_);
  return sequences_.size();
}

bool SnapshotList::Owns(const Snapshot* s) const {
  std::lock_guard lock(mu_);
  return live_.count(s) != 0;
}

void SnapshotList::Release(const Snapshot* s) {
  std::lock_guard lock(mu_);
  if (live_.erase(s) == 0) return;
  const auto* impl = static_cast<const Impl*>(s);
  sequences_.erase(impl->pos);
  delete impl;
}

}  // namespace internal

void SnapshotHandle::reset() {
  if (snapshot_ == nullptr) return;
  list_->Release(snapshot_);
  snapshot_ = nullptr;
  list_.reset();
}

}  // namespace corodb

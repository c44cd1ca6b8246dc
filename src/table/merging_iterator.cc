#include "table/merging_iterator.h"

#include <cstdint>
#include <utility>

#include "format/dbformat.h"

namespace corodb::table {
namespace {

class EmptyIterator final : public AsyncIterator {
 public:
  bool Valid() const override { return false; }
  Slice key() const override { return {}; }
  Slice value() const override { return {}; }
  Status status() const override { return Status::OK(); }
  boost::asio::awaitable<void> SeekToFirst() override { co_return; }
  boost::asio::awaitable<void> SeekToLast() override { co_return; }
  boost::asio::awaitable<void> Seek(Slice) override { co_return; }
  boost::asio::awaitable<void> Next() override { co_return; }
  boost::asio::awaitable<void> Prev() override { co_return; }
};

// The valid children are kept in a binary heap rather than scanned
// linearly as LevelDB does: a step costs about two comparisons when the
// moved child stays in front (the common case in long runs), at most
// 2·log2(n) otherwise, where a scan costs n - 1 every step; a DB read merges
// the memtables, every L0 table and one child per level.
class MergingIterator final : public AsyncIterator {
 public:
  MergingIterator(const Comparator* cmp, std::vector<std::unique_ptr<AsyncIterator>> children)
      : cmp_(cmp),
        bytewise_internal_(IsBytewiseInternalComparator(cmp)),
        children_(std::move(children)) {
    heap_.reserve(children_.size());
  }

  bool Valid() const override { return !heap_.empty() && status_.ok(); }
  Slice key() const override { return heap_.front().key; }
  Slice value() const override { return children_[heap_.front().child]->value(); }
  Status status() const override {
    if (!status_.ok()) return status_;
    for (const auto& child : children_) {
      if (Status s = child->status(); !s.ok()) return s;
    }
    return Status::OK();
  }

  boost::asio::awaitable<void> SeekToFirst() override {
    for (const auto& child : children_) co_await child->SeekToFirst();
    Rebuild(Direction::kForward);
  }

  boost::asio::awaitable<void> SeekToLast() override {
    for (const auto& child : children_) co_await child->SeekToLast();
    Rebuild(Direction::kReverse);
  }

  boost::asio::awaitable<void> Seek(Slice target) override {
    for (const auto& child : children_) co_await child->Seek(target);
    Rebuild(Direction::kForward);
  }

  bool TrySeek(Slice target) override {
    for (const auto& child : children_) {
      if (!child->TrySeek(target)) return false;
    }
    Rebuild(Direction::kForward);
    return true;
  }

  boost::asio::awaitable<void> Next() override {
    AsyncIterator* current = children_[heap_.front().child].get();
    if (direction_ == Direction::kForward) {
      if (!current->TryNext()) co_await current->Next();
      AfterTopMoved<Direction::kForward>();
      co_return;
    }
    // SUSPENDS: the other children are repositioned after key(), which lives
    // in `current` and so stays put until `current` moves last.
    co_await PlaceOthersAfter(heap_.front());
    if (!current->TryNext()) co_await current->Next();
    Rebuild(Direction::kForward);
  }

  boost::asio::awaitable<void> Prev() override {
    AsyncIterator* current = children_[heap_.front().child].get();
    if (direction_ == Direction::kReverse) {
      if (!current->TryPrev()) co_await current->Prev();
      AfterTopMoved<Direction::kReverse>();
      co_return;
    }
    co_await PlaceOthersBefore(heap_.front());
    if (!current->TryPrev()) co_await current->Prev();
    Rebuild(Direction::kReverse);
  }

  bool TryNext() override {
    if (direction_ != Direction::kForward) return false;
    if (!children_[heap_.front().child]->TryNext()) return false;
    AfterTopMoved<Direction::kForward>();
    return true;
  }

  bool TryPrev() override {
    if (direction_ != Direction::kReverse) return false;
    if (!children_[heap_.front().child]->TryPrev()) return false;
    AfterTopMoved<Direction::kReverse>();
    return true;
  }

 private:
  enum class Direction { kForward, kReverse };

  struct Entry {
    Slice key;       // the child's key(), valid until the child moves
    uint32_t child;  // index into children_
  };

  // Whether `a` comes before `b` when moving in direction D: by key, then
  // (equal keys) the lower child index first going forward, last going back.
  template <Direction D>
  bool Before(const Entry& a, const Entry& b) const {
    const int c = bytewise_internal_ ? CompareBytewiseInternalKeys(a.key, b.key)
                                     : cmp_->Compare(a.key, b.key);
    if constexpr (D == Direction::kForward) {
      return c < 0 || (c == 0 && a.child < b.child);
    } else {
      return c > 0 || (c == 0 && a.child > b.child);
    }
  }

  // Places `moving` at heap slot `i` or below it. The entry comes in as an
  // argument, inlined, rather than being read back from memory: the step
  // that just changed it (AfterTopMoved) wrote it in pieces, and reading it
  // back whole (from heap_[i], or from the stack as a by-value argument)
  // stalls on store forwarding — perf put that load at 6 % of a scan.
  template <Direction D>
  [[gnu::always_inline]] void SiftDown(size_t i, Entry moving) {
    const size_t n = heap_.size();
    while (true) {
      size_t first = 2 * i + 1;
      if (first >= n) break;
      if (first + 1 < n && Before<D>(heap_[first + 1], heap_[first])) ++first;
      if (!Before<D>(heap_[first], moving)) break;
      heap_[i] = heap_[first];
      i = first;
    }
    heap_[i] = moving;
  }

  // The child in front moved: take its new key, or drop it when it ran off
  // its end (recording its error, if that is why).
  template <Direction D>
  void AfterTopMoved() {
    const uint32_t index = heap_.front().child;
    const AsyncIterator* child = children_[index].get();
    Entry moving;
    if (child->Valid()) {
      moving = Entry{child->key(), index};
    } else {
      NoteError(*child);
      moving = heap_.back();
      heap_.pop_back();
      if (heap_.empty()) return;
    }
    SiftDown<D>(0, moving);
  }

  void NoteError(const AsyncIterator& child) {
    if (!status_.ok()) return;
    if (Status s = child.status(); !s.ok()) status_ = std::move(s);
  }

  // Every child was repositioned: rebuild the heap for `direction` from the
  // valid ones. Status is recomputed from scratch (a Seek*() clears errors).
  void Rebuild(Direction direction) {
    direction_ = direction;
    status_ = Status::OK();
    heap_.clear();
    for (size_t i = 0; i < children_.size(); ++i) {
      const AsyncIterator& child = *children_[i];
      if (child.Valid()) {
        heap_.push_back({child.key(), static_cast<uint32_t>(i)});
      } else {
        NoteError(child);
      }
    }
    for (size_t i = heap_.size() / 2; i-- > 0;) {
      if (direction == Direction::kForward) {
        SiftDown<Direction::kForward>(i, heap_[i]);
      } else {
        SiftDown<Direction::kReverse>(i, heap_[i]);
      }
    }
  }

  // Moves child `other` to its first entry after the current one, `at`,
  // in (key, child index) order: for a lower index than at's, past every
  // entry equal to at.key; otherwise to the first entry >= at.key.
  // SUSPENDS: child seeks and steps.
  boost::asio::awaitable<void> PlaceAfter(AsyncIterator* other, uint32_t index, Entry at) {
    co_await other->Seek(at.key);
    if (index > at.child) co_return;
    while (other->Valid() && cmp_->Compare(other->key(), at.key) == 0) {
      if (!other->TryNext()) co_await other->Next();
    }
  }

  boost::asio::awaitable<void> PlaceOthersAfter(Entry at) {
    for (uint32_t i = 0; i < children_.size(); ++i) {
      if (i != at.child) co_await PlaceAfter(children_[i].get(), i, at);
    }
  }

  // The mirror image: each other child to its last entry before `at`.
  boost::asio::awaitable<void> PlaceOthersBefore(Entry at) {
    for (uint32_t i = 0; i < children_.size(); ++i) {
      if (i == at.child) continue;
      AsyncIterator* other = children_[i].get();
      // The first entry after `at` in merged order; the one before it is ours.
      co_await PlaceAfter(other, i, at);
      if (other->Valid()) {
        if (!other->TryPrev()) co_await other->Prev();
      } else if (other->status().ok()) {
        co_await other->SeekToLast();  // every entry of `other` comes before `at`
      }
    }
  }

  const Comparator* const cmp_;
  // Internal keys over BytewiseComparator: compared inline
  // (CompareBytewiseInternalKeys), not through two virtual calls per step.
  const bool bytewise_internal_;
  std::vector<std::unique_ptr<AsyncIterator>> children_;
  std::vector<Entry> heap_;
  Direction direction_ = Direction::kForward;
  Status status_;  // the first child error met since the last Seek*()
};

}  // namespace

std::unique_ptr<AsyncIterator> NewMergingIterator(
    const Comparator* cmp, std::vector<std::unique_ptr<AsyncIterator>> children) {
  if (children.empty()) return std::make_unique<EmptyIterator>();
  if (children.size() == 1) return std::move(children.front());
  return std::make_unique<MergingIterator>(cmp, std::move(children));
}

}  // namespace corodb::table

#include "db/db_iter.h"

#include <string>
#include <utility>

#include "db/read_yield.h"
#include "util/key_buffer.h"
#include "util/random.h"

namespace corodb {
namespace asio = boost::asio;

namespace {

// LevelDB samples about once per this many bytes read.
constexpr uint32_t kReadBytesPeriod = 1 << 20;

class DBIter final : public Iterator {
 public:
  DBIter(const Comparator* ucmp, std::unique_ptr<table::AsyncIterator> iter,
         SequenceNumber sequence, ReadSampler sampler, uint32_t seed,
         std::shared_ptr<IteratorRecycler> recycler, IteratorRecycler::Key key)
      : ucmp_(ucmp),
        bytewise_(ucmp == BytewiseComparator()),
        iter_(std::move(iter)),
        sequence_(sequence),
        sampler_(std::move(sampler)),
        rnd_(seed),
        recycler_(std::move(recycler)),
        recycle_key_(key) {
    bytes_until_sampling_ = RandomPeriod();
  }
  // A move left pending (its coroutine destroyed while it waited) may have
  // left the internal iterator between states: only a settled one is offered.
  ~DBIter() override {
    if (recycler_ != nullptr && pending_ == Move::kNone && !tree_unsettled_ &&
        iter_->status().ok()) {
      std::unique_ptr<table::AsyncIterator> dropped = recycler_->Put(recycle_key_, std::move(iter_));
    }
  }

  bool Valid() const override { return valid_ && pending_ == Move::kNone; }
  Slice key() const override {
    if (!Valid()) return {};
    return direction_ == Direction::kForward ? ExtractUserKey(iter_->key()) : Slice(saved_key_);
  }
  Slice value() const override {
    if (!Valid()) return {};
    return direction_ == Direction::kForward ? iter_->value() : Slice(saved_value_);
  }
  Status status() const override { return status_.ok() ? iter_->status() : status_; }

  asio::awaitable<void> SeekToFirst() override {
    if (std::exchange(yield_owed_, false) || ReadTurnOver()) co_await YieldToExecutor();
    StartForwardSeek();
    pending_ = Move::kSeekToFirst;
    co_await Drive();
  }
  asio::awaitable<void> SeekToLast() override {
    if (std::exchange(yield_owed_, false) || ReadTurnOver()) co_await YieldToExecutor();
    StartReverseSeek();
    pending_ = Move::kSeekToLast;
    co_await Drive();
  }
  asio::awaitable<void> Seek(Slice target) override {
    if (std::exchange(yield_owed_, false) || ReadTurnOver()) co_await YieldToExecutor();
    StartForwardSeek();
    seek_key_.clear();
    AppendInternalKey(&seek_key_, ParsedInternalKey(target, sequence_, kValueTypeForSeek));
    if (iter_->TrySeek(seek_key_)) {
      Continue();  // may leave a move that needs I/O pending
    } else {
      pending_ = Move::kSeek;
    }
    if (pending_ != Move::kNone) co_await Drive();
  }
  asio::awaitable<void> Next() override {
    if (std::exchange(yield_owed_, false) || ReadTurnOver()) co_await YieldToExecutor();
    if (pending_ == Move::kNone) {
      if (!valid_) co_return Misuse("Next()");
      StartNext();
    }
    co_await Drive();
  }
  asio::awaitable<void> Prev() override {
    if (std::exchange(yield_owed_, false) || ReadTurnOver()) co_await YieldToExecutor();
    if (pending_ == Move::kNone) {
      if (!valid_) co_return Misuse("Prev()");
      StartPrev();
    }
    co_await Drive();
  }
  // Declined, it leaves no move pending: the iterator is unpositioned (a
  // Next or Prev is misuse) until a seek, which starts over.
  bool TrySeek(Slice target) override {
    StartForwardSeek();  // declined or not, the old position is gone
    if (ReadTurnOver()) {
      yield_owed_ = true;  // the awaited Seek yields first
      return false;
    }
    yield_owed_ = false;
    seek_key_.clear();
    AppendInternalKey(&seek_key_, ParsedInternalKey(target, sequence_, kValueTypeForSeek));
    if (!iter_->TrySeek(seek_key_)) {
      tree_unsettled_ = true;  // the internal position is unspecified
      return false;
    }
    Continue();  // may leave a move that needs I/O pending
    if (pending_ == Move::kNone) return true;
    pending_ = Move::kNone;
    valid_ = false;
    tree_unsettled_ = true;
    return false;
  }
  // The move that ends a read turn declines (false, nothing started), so the
  // caller's co_await Next() yields first: a scan over memory gives its
  // executor a turn too (read_yield.h).
  bool TryNext() override {
    if (pending_ != Move::kNone) return false;
    if (ReadTurnOver()) {
      yield_owed_ = true;
      return false;
    }
    yield_owed_ = false;  // a declined move retried in Try* form: the caller goes on
    if (!valid_) {
      Misuse("Next()");
      return true;
    }
    StartNext();
    return pending_ == Move::kNone;
  }
  bool TryPrev() override {
    if (pending_ != Move::kNone) return false;
    if (ReadTurnOver()) {
      yield_owed_ = true;
      return false;
    }
    yield_owed_ = false;  // a declined move retried in Try* form: the caller goes on
    if (!valid_) {
      Misuse("Prev()");
      return true;
    }
    StartPrev();
    return pending_ == Move::kNone;
  }

 private:
  enum class Direction { kForward, kReverse };
  // A Try* move declined for its thread's turn to yield: the awaitable move
  // that follows yields first.
  bool yield_owed_ = false;
  // An internal move that needs I/O and has not been done yet.
  enum class Move { kNone, kNext, kPrev, kSeek, kSeekToFirst, kSeekToLast };
  // What to run once the pending move is done.
  enum class Phase { kFindNext, kFindPrev, kBackOff };

  // Keeps the first error: a move after the iterator failed (it is then
  // not Valid()) must not replace the failure with InvalidArgument.
  void Misuse(const char* what) {
    if (status().ok()) {
      status_ = Status::InvalidArgument(what, "the iterator is not positioned (Valid() is false)");
    }
  }

  uint32_t RandomPeriod() { return rnd_.Uniform(2 * kReadBytesPeriod); }

  // Parses the internal iterator's entry and samples the read. false (and a
  // Corruption) when the key is not an internal key.
  bool ParseKey(ParsedInternalKey* ikey) {
    const Slice k = iter_->key();
    const size_t bytes = k.size() + iter_->value().size();
    while (bytes_until_sampling_ < bytes) {
      bytes_until_sampling_ += RandomPeriod();
      if (sampler_) sampler_(k);
    }
    bytes_until_sampling_ -= bytes;
    if (!ParseInternalKey(k, ikey)) {
      if (status_.ok()) status_ = Status::Corruption("iterator", "an entry's key is not an internal key");
      return false;
    }
    return true;
  }

  // A seek starts over: errors of earlier moves are forgotten, as the
  // internal iterators forget theirs on a seek (otherwise a misuse would
  // leave the repositioned iterator Valid() with an error status).
  // A move left pending by a declined Try* is dropped: the seek replaces it.
  void StartForwardSeek() {
    pending_ = Move::kNone;
    tree_unsettled_ = false;
    status_ = Status::OK();
    direction_ = Direction::kForward;
    saved_value_.clear();
    valid_ = false;
    skipping_ = false;
    phase_ = Phase::kFindNext;
  }
  void StartReverseSeek() {
    pending_ = Move::kNone;
    tree_unsettled_ = false;
    status_ = Status::OK();
    direction_ = Direction::kReverse;
    saved_value_.clear();
    valid_ = false;
    value_type_ = kTypeDeletion;
    phase_ = Phase::kFindPrev;
  }

  // REQUIRES: valid_, nothing pending.
  void StartNext() {
    skipping_ = true;
    phase_ = Phase::kFindNext;
    if (direction_ == Direction::kReverse) {
      // The internal iterator is just before this key's entries (or before
      // everything); saved_key_ is this key, whose entries are skipped.
      direction_ = Direction::kForward;
      if (!iter_->Valid()) {
        pending_ = Move::kSeekToFirst;
        return;
      }
    } else {
      saved_key_.assign(ExtractUserKey(iter_->key()));
    }
    if (!iter_->TryNext()) {
      pending_ = Move::kNext;
      return;
    }
    Continue();
  }

  // REQUIRES: valid_, nothing pending.
  void StartPrev() {
    if (direction_ == Direction::kForward) {
      // Back off to the last entry of an earlier user key.
      saved_key_.assign(ExtractUserKey(iter_->key()));
      phase_ = Phase::kBackOff;
    } else {
      // Already just before this key's entries.
      value_type_ = kTypeDeletion;
      phase_ = Phase::kFindPrev;
    }
    Continue();
  }

  // Runs the phase until it is done or needs an internal move with I/O
  // (then pending_ is set).
  void Continue() {
    for (;;) {
      switch (phase_) {
        case Phase::kFindNext:
          FindNext();
          return;
        case Phase::kFindPrev:
          FindPrev();
          return;
        case Phase::kBackOff:
          if (!BackOff()) return;
          value_type_ = kTypeDeletion;
          phase_ = Phase::kFindPrev;
          break;
      }
    }
  }

  // The newest visible entry at or after the internal position, skipping
  // user keys <= saved_key_ while skipping_ (a key just returned or found
  // deleted).
  void FindNext() {
    while (iter_->Valid()) {
      ParsedInternalKey ikey;
      if (!ParseKey(&ikey)) break;
      if (ikey.sequence <= sequence_) {
        if (ikey.type == kTypeDeletion) {
          saved_key_.assign(ikey.user_key);
          skipping_ = true;
        } else if (!skipping_ || CompareUser(ikey.user_key, saved_key_) > 0) {
          valid_ = true;
          saved_key_.clear();
          return;
        }
      }
      if (!iter_->TryNext()) {
        pending_ = Move::kNext;
        return;
      }
    }
    valid_ = false;
    saved_key_.clear();
  }

  // Steps back while the entry's user key is saved_key_. true when the
  // position is at an earlier user key (direction becomes reverse); false
  // when a move is pending or the iterator ran off the front (invalid).
  bool BackOff() {
    for (;;) {
      if (!iter_->Valid()) {
        valid_ = false;
        saved_key_.clear();
        saved_value_.clear();
        return false;
      }
      if (CompareUser(ExtractUserKey(iter_->key()), saved_key_) < 0) {
        direction_ = Direction::kReverse;
        return true;
      }
      if (!iter_->TryPrev()) {
        pending_ = Move::kPrev;
        return false;
      }
    }
  }

  // Walking backwards, collects the newest visible version of the previous
  // user key into saved_key_/saved_value_; value_type_ is the type of the
  // newest visible version of saved_key_ seen so far.
  void FindPrev() {
    while (iter_->Valid()) {
      ParsedInternalKey ikey;
      if (!ParseKey(&ikey)) {
        value_type_ = kTypeDeletion;
        break;
      }
      if (ikey.sequence <= sequence_) {
        if (value_type_ != kTypeDeletion && CompareUser(ikey.user_key, saved_key_) < 0) {
          valid_ = true;  // saved_key_ is complete: this entry is an earlier key
          return;
        }
        value_type_ = ikey.type;
        if (ikey.type == kTypeDeletion) {
          saved_key_.clear();
          saved_value_.clear();
        } else {
          saved_key_.assign(ikey.user_key);
          saved_value_.assign(iter_->value());
        }
      }
      if (!iter_->TryPrev()) {
        pending_ = Move::kPrev;
        return;
      }
    }
    // Ran off the front — or the internal iterator failed: then saved_key_
    // may lack newer versions in the entries it could not read, and an
    // iterator with an error is never Valid().
    if (value_type_ == kTypeDeletion || !iter_->status().ok()) {
      valid_ = false;
      saved_key_.clear();
      saved_value_.clear();
      direction_ = Direction::kForward;
    } else {
      valid_ = true;
    }
  }

  // Awaits pending internal moves and continues, until the move is done.
  asio::awaitable<void> Drive() {
    while (pending_ != Move::kNone) {
      const Move move = pending_;
      switch (move) {
        case Move::kNext:
          co_await iter_->Next();
          break;
        case Move::kPrev:
          co_await iter_->Prev();
          break;
        case Move::kSeek:
          co_await iter_->Seek(seek_key_);
          break;
        case Move::kSeekToFirst:
          co_await iter_->SeekToFirst();
          break;
        case Move::kSeekToLast:
          co_await iter_->SeekToLast();
          break;
        case Move::kNone:
          break;
      }
      pending_ = Move::kNone;
      Continue();
    }
  }

  // User keys in BytewiseComparator order: compared inline, not through a
  // virtual call per step.
  int CompareUser(Slice a, Slice b) const { return bytewise_ ? a.compare(b) : ucmp_->Compare(a, b); }

  const Comparator* const ucmp_;
  const bool bytewise_;
  std::unique_ptr<table::AsyncIterator> iter_;  // moved out only by the destructor
  const SequenceNumber sequence_;
  const ReadSampler sampler_;
  Random rnd_;
  const std::shared_ptr<IteratorRecycler> recycler_;  // may be null
  const IteratorRecycler::Key recycle_key_;
  uint64_t bytes_until_sampling_ = 0;

  // Misuse or a damaged key since the last seek; the internal iterator's
  // errors are its own.
  Status status_;
  Direction direction_ = Direction::kForward;
  bool valid_ = false;
  Move pending_ = Move::kNone;
  // A declined TrySeek left the internal iterator between positions: it is
  // not offered to the recycler until a seek has repositioned it.
  bool tree_unsettled_ = false;
  Phase phase_ = Phase::kFindNext;
  bool skipping_ = false;
  ValueType value_type_ = kTypeDeletion;
  // Forward: a user key to skip. Reverse: the current key.
  // Keys in inline buffers: a seek or a step allocates nothing for them.
  KeyBuffer saved_key_;
  std::string saved_value_;  // reverse: the current value
  KeyBuffer seek_key_;       // the internal key a pending Seek looks for
};

}  // namespace

std::unique_ptr<Iterator> NewDBIterator(const Comparator* ucmp,
                                        std::unique_ptr<table::AsyncIterator> internal,
                                        SequenceNumber sequence, ReadSampler sampler,
                                        uint32_t seed, std::shared_ptr<IteratorRecycler> recycler,
                                        IteratorRecycler::Key key) {
  return std::make_unique<DBIter>(ucmp, std::move(internal), sequence, std::move(sampler), seed,
                                  std::move(recycler), key);
}

std::unique_ptr<table::AsyncIterator> IteratorRecycler::Take(const Key& key) {
  std::lock_guard lock(mu_);
  if (kept_ == nullptr || !(kept_key_ == key)) return nullptr;
  return std::move(kept_);
}

std::unique_ptr<table::AsyncIterator> IteratorRecycler::Put(
    const Key& key, std::unique_ptr<table::AsyncIterator> it) {
  std::lock_guard lock(mu_);
  if (closed_ || key.view != current_) return it;
  kept_key_ = key;
  std::swap(kept_, it);
  return it;
}

std::unique_ptr<table::AsyncIterator> IteratorRecycler::SetCurrent(const void* view) {
  std::lock_guard lock(mu_);
  current_ = view;
  if (kept_ != nullptr && kept_key_.view != view) return std::move(kept_);
  return nullptr;
}

std::unique_ptr<table::AsyncIterator> IteratorRecycler::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  current_ = nullptr;
  return std::move(kept_);
}

}  // namespace corodb

namespace corodb {
namespace {

class ErrorIterator final : public Iterator {
 public:
  explicit ErrorIterator(Status status) : status_(std::move(status)) {}
  bool Valid() const override { return false; }
  Slice key() const override { return {}; }
  Slice value() const override { return {}; }
  Status status() const override { return status_; }
  asio::awaitable<void> SeekToFirst() override { co_return; }
  asio::awaitable<void> SeekToLast() override { co_return; }
  asio::awaitable<void> Seek(Slice) override { co_return; }
  asio::awaitable<void> Next() override { co_return; }
  asio::awaitable<void> Prev() override { co_return; }
  bool TryNext() override { return true; }
  bool TryPrev() override { return true; }
  bool TrySeek(Slice) override { return true; }

 private:
  const Status status_;
};

}  // namespace

std::unique_ptr<Iterator> NewErrorIterator(Status status) {
  return std::make_unique<ErrorIterator>(std::move(status));
}

}  // namespace corodb

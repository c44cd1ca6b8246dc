// Helpers for the iterator tests: an in-memory child iterator with
// controllable fast paths and errors, and a random walk that checks any
// AsyncIterator against a sorted model, step by step.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include "corodb/comparator.h"
#include "table/iterator.h"
#include "util/random.h"

namespace corodb::table::testing {

// An iterator over sorted, distinct (key, value) pairs. Its awaited moves
// really suspend (they post to the executor first). Its fast paths work
// like a table's blocks of `block` entries: TryNext() refuses at the last
// entry of a block (it moves off the last entry of the run otherwise: a
// memtable iterator may), TryPrev() at the first. Landing on entry
// `fail_at` (by any move) makes it invalid with an IOError; Seek*() clears
// that error first.
class VectorIterator final : public AsyncIterator {
 public:
  using Entries = std::vector<std::pair<std::string, std::string>>;

  VectorIterator(const Comparator* cmp, Entries entries, size_t block, ptrdiff_t fail_at = -1)
      : cmp_(cmp), entries_(std::move(entries)), block_(block), fail_at_(fail_at) {}

  static bool TryNextAllowed(size_t pos, size_t block) { return (pos + 1) % block != 0; }
  static bool TryPrevAllowed(size_t pos, size_t block) { return pos % block != 0; }

  bool Valid() const override { return status_.ok() && pos_ >= 0 && pos_ < Size(); }
  Slice key() const override { return entries_[static_cast<size_t>(pos_)].first; }
  Slice value() const override { return entries_[static_cast<size_t>(pos_)].second; }
  Status status() const override { return status_; }

  boost::asio::awaitable<void> SeekToFirst() override {
    co_await Suspend();
    status_ = Status::OK();
    Land(0);
  }
  boost::asio::awaitable<void> SeekToLast() override {
    co_await Suspend();
    status_ = Status::OK();
    Land(Size() - 1);
  }
  boost::asio::awaitable<void> Seek(Slice target) override {
    co_await Suspend();
    status_ = Status::OK();
    const auto it = std::partition_point(entries_.begin(), entries_.end(), [&](const auto& e) {
      return cmp_->Compare(e.first, target) < 0;
    });
    Land(it - entries_.begin());
  }
  boost::asio::awaitable<void> Next() override {
    BOOST_REQUIRE(Valid());
    co_await Suspend();
    Land(pos_ + 1);
  }
  boost::asio::awaitable<void> Prev() override {
    BOOST_REQUIRE(Valid());
    co_await Suspend();
    Land(pos_ - 1);
  }
  bool TryNext() override {
    BOOST_REQUIRE(Valid());
    if (!TryNextAllowed(static_cast<size_t>(pos_), block_)) return false;
    Land(pos_ + 1);
    return true;
  }
  bool TryPrev() override {
    BOOST_REQUIRE(Valid());
    if (!TryPrevAllowed(static_cast<size_t>(pos_), block_)) return false;
    Land(pos_ - 1);
    return true;
  }

 private:
  ptrdiff_t Size() const { return static_cast<ptrdiff_t>(entries_.size()); }
  static boost::asio::awaitable<void> Suspend() {
    co_await boost::asio::post(co_await boost::asio::this_coro::executor, boost::asio::use_awaitable);
  }
  void Land(ptrdiff_t pos) {
    pos_ = pos;
    if (fail_at_ >= 0 && pos_ == fail_at_) status_ = Status::IOError("child failed at entry", std::to_string(pos));
  }

  const Comparator* cmp_;
  Entries entries_;
  size_t block_;
  ptrdiff_t fail_at_;
  ptrdiff_t pos_ = -1;
  Status status_;
};

// One entry of a walk's model: the merged sequence in order, each entry
// with the index of its source (child or file) and its position there.
struct ModelEntry {
  std::string key;
  std::string value;
  uint32_t source = 0;
  size_t pos = 0;
};
using ModelSeq = std::vector<ModelEntry>;

// What a fast path did, for the test's own expectations.
struct FastStep {
  bool next = true;          // TryNext (else TryPrev)
  bool moved = false;        // it returned true
  ptrdiff_t from = 0;        // model position before
  bool last_forward = true;  // the last move before it went forward (Seek*, Next)
};

struct WalkStats {
  int fast_moves = 0;
  int fast_refusals = 0;
  int seeks = 0;
  int steps = 0;
};

// Walks `it` with `steps` random operations (Seek to targets from
// `target`, SeekToFirst/Last, runs of Next/Prev, TryNext/TryPrev) and
// requires that after each one it sits where `model` says, with OK status.
// `on_fast` sees every TryNext/TryPrev (may be empty).
inline boost::asio::awaitable<WalkStats> RandomWalk(
    AsyncIterator* it, const ModelSeq* model, const Comparator* cmp,
    std::function<std::string(Random*)> target, std::function<void(const FastStep&)> on_fast,
    uint32_t seed, int steps) {
  Random rnd(seed);
  WalkStats stats;
  const auto n = static_cast<ptrdiff_t>(model->size());
  ptrdiff_t pos = -1;
  bool last_forward = true;
  int run = 0;         // steps left in the current run of moves
  bool run_forward = true;
  auto check = [&](const char* op) {
    BOOST_TEST_CONTEXT("after " << op << " at model position " << pos << " of " << n) {
      BOOST_REQUIRE_MESSAGE(it->status().ok(), it->status().ToString());
      const bool valid = pos >= 0 && pos < n;
      BOOST_REQUIRE_EQUAL(it->Valid(), valid);
      if (valid) {
        BOOST_REQUIRE(it->key() == (*model)[static_cast<size_t>(pos)].key);
        BOOST_REQUIRE(it->value() == (*model)[static_cast<size_t>(pos)].value);
      }
    }
  };
  for (int i = 0; i < steps; ++i) {
    const bool valid = pos >= 0 && pos < n;
    if (!valid || run == 0) {
      // A seek, or the start of a new run of moves.
      const uint32_t r = rnd.Uniform(10);
      if (!valid || r < 3) {
        ++stats.seeks;
        if (r == 0) {
          co_await it->SeekToFirst();
          pos = n > 0 ? 0 : -1;
          last_forward = true;
          check("SeekToFirst");
        } else if (r == 1) {
          co_await it->SeekToLast();
          pos = n - 1;
          last_forward = false;
          check("SeekToLast");
        } else {
          const std::string t = target(&rnd);
          co_await it->Seek(t);
          pos = std::partition_point(model->begin(), model->end(),
                                     [&](const ModelEntry& e) { return cmp->Compare(e.key, t) < 0; }) -
                model->begin();
          if (pos == n) pos = -1;
          last_forward = true;
          check("Seek");
        }
        run = static_cast<int>(rnd.Uniform(40));
        run_forward = rnd.OneIn(2);
        continue;
      }
      run = static_cast<int>(rnd.Uniform(40));
      run_forward = rnd.OneIn(2);
    }
    --run;
    ++stats.steps;
    const bool forward = rnd.OneIn(8) ? !run_forward : run_forward;  // switches within runs too
    if (rnd.OneIn(2)) {
      FastStep fs{forward, false, pos, last_forward};
      fs.moved = forward ? it->TryNext() : it->TryPrev();
      if (fs.moved) {
        ++stats.fast_moves;
        pos += forward ? 1 : -1;
        last_forward = forward;
      } else {
        ++stats.fast_refusals;
      }
      check(forward ? "TryNext" : "TryPrev");
      if (on_fast) on_fast(fs);
    } else if (forward) {
      co_await it->Next();
      ++pos;
      last_forward = true;
      check("Next");
    } else {
      co_await it->Prev();
      --pos;
      last_forward = false;
      check("Prev");
    }
    if (pos == n) pos = -1;
  }
  co_return stats;
}

// Random bytes of length [0, max_len) over a small alphabet, so that keys
// collide across sources and seek targets fall on and between keys.
inline std::string SmallAlphabetKey(Random* rnd, uint32_t max_len) {
  std::string s(rnd->Uniform(max_len), '\0');
  for (char& c : s) c = static_cast<char>('a' + rnd->Uniform(4));
  return s;
}

}  // namespace corodb::table::testing

// Fairness for reads that complete without suspending.
//
// A Get, MultiGet or iterator move answered from memory (memtables, cached
// blocks, a page-cache preadv2) returns without suspending: a cache hit costs
// a function call, not a trip through the executor (DESIGN.md, "Reads never
// hop to another thread"). A coroutine that loops over such reads would then
// hold its thread for as long as the loop runs, and every other handler on
// that executor waits: other connections of a server, and, when the reader
// runs on the engine executor (Options::engine_context), the installs of
// flushes and compactions, so writers stall until the loop ends. So once
// kReadTurnNanos have passed since a thread's reads last yielded (a *turn*),
// or kMaxReadsPerTurn reads were counted, the next read first yields to its
// executor (docs/decisions.md, "Reads yield to their executor after a
// 200 µs turn").
//
// A turn is measured in time, not in reads: an iterator step costs 0.1 µs
// and a Get 2 µs, and a yield (a post and the reactor's epoll_wait) costs
// a few µs, so a count fair to Gets made scans pay a yield every 6 µs.
#pragma once

#include <cstdint>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace corodb {

// The length of a turn, and the most reads one turn may hold.
inline constexpr int64_t kReadTurnNanos = 200'000;
inline constexpr uint32_t kMaxReadsPerTurn = 4096;
// The clock is read once per this many reads.
inline constexpr uint32_t kReadsPerClockCheck = 16;

// One thread's turn: which reads count toward it, and when a yield is due.
// Bookkeeping only (tests drive it with their own clock).
//
// A turn starts at a yield, so after the thread has done other work (or
// slept) the first clock check may find the turn over and yield once more
// than needed: at most one extra yield per kReadTurnNanos.
class ReadTurn {
 public:
  // Counts `n` reads (a MultiGet counts its keys). True when the caller
  // should yield to its executor first; a new turn then begins.
  bool CountReads(uint32_t n) { return CountReadsWith(n, &MonotonicNanos); }
  // The same on the clock `now()` (nanoseconds), read at most once per call.
  template <class Clock>
  bool CountReadsWith(uint32_t n, Clock&& now) {
    reads_ += n;
    since_check_ += n;
    if (since_check_ < kReadsPerClockCheck) return false;
    since_check_ = 0;
    const int64_t now_ns = now();
    if (now_ns - start_ns_ < kReadTurnNanos && reads_ < kMaxReadsPerTurn) return false;
    start_ns_ = now_ns;
    reads_ = 0;
    return true;
  }

  static int64_t MonotonicNanos();

 private:
  uint32_t reads_ = 0;        // in this turn
  uint32_t since_check_ = 0;  // since the clock was last read
  int64_t start_ns_ = 0;      // of this turn
};

// True when the caller's read should yield first (this thread's turn is over).
inline bool ReadTurnOver(uint32_t reads = 1) {
  thread_local ReadTurn turn;
  return turn.CountReads(reads);
}

// Suspends the calling coroutine and resumes it through its executor (a post),
// letting the handlers queued there run first.
inline boost::asio::awaitable<void> YieldToExecutor() {
  const auto executor = co_await boost::asio::this_coro::executor;
  co_await boost::asio::post(executor, boost::asio::use_awaitable);
}

}  // namespace corodb

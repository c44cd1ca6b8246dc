// Fairness for reads that complete without suspending.
//
// A Get, MultiGet or iterator move answered from memory (memtables, cached
// blocks, a page-cache preadv2) returns without suspending: a cache hit costs
// a function call, not a trip through the executor (DESIGN.md, "Reads never
// hop to another thread"). A coroutine that loops over such reads would then
// hold its thread for as long as the loop runs, and every other handler on
// that executor waits: other connections of a server, and, when the reader
// runs on the engine executor (Options::engine_context), the installs of
// flushes and compactions, so writers stall until the loop ends. So every
// kReadsPerYield reads on one thread, the next one first yields to its
// executor, as Asio's own operations always do (docs/decisions.md, "Reads
// yield to their executor every 64 reads").
#pragma once

#include <cstdint>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace corodb {

inline constexpr uint32_t kReadsPerYield = 64;

// True once every kReadsPerYield calls on this thread: the caller's read
// should yield first.
inline bool ReadTurnOver() {
  thread_local uint32_t reads = 0;
  if (++reads < kReadsPerYield) return false;
  reads = 0;
  return true;
}

// Suspends the calling coroutine and resumes it through its executor (a post),
// letting the handlers queued there run first.
inline boost::asio::awaitable<void> YieldToExecutor() {
  const auto executor = co_await boost::asio::this_coro::executor;
  co_await boost::asio::post(executor, boost::asio::use_awaitable);
}

}  // namespace corodb

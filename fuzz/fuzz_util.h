// Helpers shared by the libFuzzer targets in fuzz/: a checked assertion that
// survives NDEBUG, a reader for the option bytes at the front of an input,
// running a coroutine to completion, and a scratch directory per process.
//
// Thread safety: none needed; libFuzzer calls a target from one thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace corodb::fuzz {

// Aborts (a crash libFuzzer records, with the input) when `cond` is false.
#define FUZZ_CHECK(cond, what)                                            \
  do {                                                                    \
    if (!(cond)) ::corodb::fuzz::Fail(__FILE__, __LINE__, #cond, (what)); \
  } while (0)

[[noreturn]] inline void Fail(const char* file, int line, const char* cond,
                              std::string_view what) {
  std::fprintf(stderr, "%s:%d: invariant failed: %s (%.*s)\n", file, line, cond,
               static_cast<int>(what.size()), what.data());
  std::abort();
}

// The input as option bytes taken from the front, then the rest as payload.
class Input {
 public:
  Input(const uint8_t* data, size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}
  // The next byte, or 0 once the input is used up.
  uint8_t Byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  bool Bool() { return (Byte() & 1) != 0; }
  // Everything not taken yet.
  std::string_view Rest() const { return rest_; }

 private:
  std::string_view rest_;
};

// Runs `aw` on a fresh io_context until it completes and returns its value.
// An exception out of the engine is a bug: it aborts.
template <typename T>
T Run(boost::asio::awaitable<T> aw) {
  boost::asio::io_context ctx;
  std::optional<T> result;
  boost::asio::co_spawn(ctx, std::move(aw), [&](std::exception_ptr e, T value) {
    if (e) Fail(__FILE__, __LINE__, "no exception", "a coroutine threw");
    result.emplace(std::move(value));
  });
  ctx.run();
  if (!result) Fail(__FILE__, __LINE__, "completed", "a coroutine never completed");
  return std::move(*result);
}

// Runs `aw` on `ctx` (which this thread runs, and which may hold work of
// its own, such as a DB engine's) until `aw` completes, and returns its
// value. An exception out of the engine is a bug: it aborts.
template <typename T>
T RunOn(boost::asio::io_context& ctx, boost::asio::awaitable<T> aw) {
  std::optional<T> result;
  boost::asio::co_spawn(ctx, std::move(aw), [&](std::exception_ptr e, T value) {
    if (e) Fail(__FILE__, __LINE__, "no exception", "a coroutine threw");
    result.emplace(std::move(value));
  });
  ctx.restart();
  while (!result) {
    if (ctx.run_one() == 0) Fail(__FILE__, __LINE__, "completed", "a coroutine never completed");
  }
  ctx.poll();  // what the completion left behind (a closed DB's last handlers)
  return std::move(*result);
}

// A directory of this process's own (under $TMPDIR or /tmp), created on
// first use and removed with everything in it at exit.
const std::string& ScratchDir();

// Writes `bytes` to `path`, replacing it; aborts on failure.
void WriteFileOrDie(const std::string& path, std::string_view bytes);

// Removes every entry of `dir` (not recursively) but keeps `dir`.
void EmptyDir(const std::string& dir);

}  // namespace corodb::fuzz

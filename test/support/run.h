// Running coroutines to completion in tests.
#pragma once

#include <exception>
#include <optional>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace corodb::test {

// Runs `aw` on `ctx` (which must not be running elsewhere) until it finishes
// and returns its value; rethrows what it threw.
template <typename T>
T RunOn(boost::asio::io_context& ctx, boost::asio::awaitable<T> aw) {
  std::optional<T> result;
  std::exception_ptr error;
  boost::asio::co_spawn(ctx, std::move(aw), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) result.emplace(std::move(value));
  });
  ctx.restart();
  ctx.run();
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

// Same, on a fresh io_context.
template <typename T>
T Run(boost::asio::awaitable<T> aw) {
  boost::asio::io_context ctx;
  return RunOn(ctx, std::move(aw));
}

}  // namespace corodb::test

// Backend::Start under allocation failure: a Start that throws std::bad_alloc
// started nothing (its handler is never called, nothing stays counted, the
// context runs out of work and shuts down); a Start that returns completes
// its handler once. Each operator new call Start makes is failed in turn.
// (Asio's own handler memory comes from aligned_alloc, which this test does
// not fail: the failures reach corodb's operation and its bookkeeping.)
//
// It replaces the global operator new (support/failing_new.h), so it is a
// test binary of its own.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "io/backend.h"
#include "io/threadpool_backend.h"
#include "io/uring_backend.h"
#include "support/backends.h"
#include "support/failing_new.h"
#include "support/temp_dir.h"
#include "util/logging.h"

namespace corodb::io {
namespace {

namespace asio = boost::asio;
namespace bdata = boost::unit_test::data;
using test::BackendNames;
using test::MakeBackendByName;
using test::TempDir;

// Destroys `ctx` on another thread and waits for that up to a deadline: a
// context whose shutdown waits for an operation nobody will finish would
// hang the test binary, so that is reported and the process ends.
void DestroyOrDie(std::unique_ptr<asio::io_context> ctx, const std::string& what) {
  std::promise<void> destroyed;
  std::future<void> done = destroyed.get_future();
  std::thread([c = std::move(ctx), destroyed = std::move(destroyed)]() mutable {
    c.reset();
    destroyed.set_value();
  }).detach();
  if (done.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    BOOST_ERROR(what << ": the io_context's shutdown hangs (an operation stays counted)");
    std::_Exit(1);
  }
}

// A context whose ring (or pool bookkeeping) a first operation has set up,
// so that the failures injected later hit Start's own steps.
std::unique_ptr<asio::io_context> WarmContext(Backend& backend, int fd) {
  auto ctx = std::make_unique<asio::io_context>();
  int calls = 0;
  backend.Start(ctx->get_executor(), IoRequest{IoOpcode::kFdatasync, fd, nullptr, 0, 0},
                IoHandler([&calls](IoCompletion) { ++calls; }));
  ctx->run();
  BOOST_TEST_REQUIRE(calls == 1);
  ctx->restart();
  return ctx;
}

struct FailedStart {
  bool threw = false;            // Start threw bad_alloc
  bool no_failure_left = false;  // Start made at most `n` allocations
};

// Starts `req` with this thread's allocation after the first `n` failing.
FailedStart StartFailingAllocation(Backend& backend, asio::io_context& ctx, const IoRequest& req,
                                   IoHandler handler, long n) {
  FailedStart r;
  test::FailAllocationAfter(n);
  struct Disarm {
    ~Disarm() { test::StopFailingAllocations(); }
  } disarm;
  try {
    backend.Start(ctx.get_executor(), req, std::move(handler));
  } catch (const std::bad_alloc&) {
    r.threw = true;
  }
  r.no_failure_left = test::AllocationFailurePending();
  return r;
}

BOOST_DATA_TEST_CASE(AStartThatThrowsBadAllocStartedNothing, bdata::make(BackendNames()),
                     backend_name) {
  TempDir dir;
  const std::string path = dir.path() + "/f";
  const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  BOOST_TEST_REQUIRE(fd >= 0);
  std::shared_ptr<Backend> backend = MakeBackendByName(backend_name);

  int failures_seen = 0;
  for (long n = 0;; ++n) {
    std::unique_ptr<asio::io_context> ctx = WarmContext(*backend, fd);
    int calls = 0;
    int32_t res = 1;
    IoRequest req{IoOpcode::kFdatasync, fd, nullptr, 0, 0};
    req.submit_now = true;
    // With a cancellation slot, so that Start's slot paths run too. (The
    // slot keeps a handler either way: IoHandler installs its own.)
    asio::cancellation_signal cancel;
    IoHandler handler(asio::bind_cancellation_slot(cancel.slot(), [&calls, &res](IoCompletion c) {
      ++calls;
      res = c.res;
    }));
    const auto [threw, no_failure_left] =
        StartFailingAllocation(*backend, *ctx, req, std::move(handler), n);
    const std::string what = backend_name + ", allocation " + std::to_string(n) + " failing";
    BOOST_TEST_INFO(what);
    BOOST_TEST(threw == !no_failure_left);

    // The context runs out of work: nothing the failed Start made stays alive.
    ctx->run_for(std::chrono::seconds(20));
    BOOST_TEST(ctx->stopped(), "the context still has work: an operation was left behind");
    if (threw) {
      ++failures_seen;
      BOOST_TEST(calls == 0, "a Start that threw completed its handler");
    } else {
      BOOST_TEST(calls == 1);
      BOOST_TEST(res == 0);
    }
    DestroyOrDie(std::move(ctx), what);
    if (no_failure_left) break;
    BOOST_TEST_REQUIRE(n < 1000);
  }
  // Start allocates (its operation at least): some failure was injected.
  BOOST_TEST(failures_seen > 0);
  ::close(fd);
}

// The same with every io_uring_submit failing: an immediate submit (a
// sync's) then runs the ring's error paths, a retry timer (EAGAIN) or the
// bookkeeping that fails the unsubmitted operations (EIO), after the
// operation is published. A failed allocation there must neither make Start
// throw for a started operation nor lose it: it completes once, with the error.
BOOST_AUTO_TEST_CASE(AnImmediateSubmitThatFailsCompletesItsOperationOnce, test::NeedsUring()) {
  TempDir dir;
  const std::string path = dir.path() + "/f";
  const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  BOOST_TEST_REQUIRE(fd >= 0);
  // With a logger: the failure's log line allocates too.
  std::FILE* log_stream = std::tmpfile();
  BOOST_TEST_REQUIRE(log_stream != nullptr);
  const std::unique_ptr<Logger> logger = Logger::ToStream(log_stream);
  auto backend = std::make_shared<UringBackend>(
      UringConfig{}, std::make_shared<ThreadPoolBackend>(1), logger.get());
  // Clears the injected submit error however the test leaves.
  struct SubmitError {
    explicit SubmitError(int err) { SetUringCallErrorForTesting(UringCall::kSubmit, err); }
    ~SubmitError() { SetUringCallErrorForTesting(UringCall::kSubmit, 0); }
  };
  for (const int err : {EIO, EAGAIN}) {
    // Failures that hit Start after its operation was published.
    int failed_after_publication = 0;
    for (long n = 0;; ++n) {
      std::unique_ptr<asio::io_context> ctx = WarmContext(*backend, fd);

      int calls = 0;
      int32_t res = 1;
      IoRequest req{IoOpcode::kFdatasync, fd, nullptr, 0, 0};
      req.submit_now = true;
      IoHandler handler([&calls, &res](IoCompletion c) {
        ++calls;
        res = c.res;
      });
      std::optional<SubmitError> submit_error(std::in_place, err);
      const auto [threw, no_failure_left] =
          StartFailingAllocation(*backend, *ctx, req, std::move(handler), n);
      const std::string what = std::string(std::strerror(err)) + " from every submit, allocation " +
                               std::to_string(n) + " failing";
      // Done in milliseconds (the EAGAIN retries take 31): the deadline is the failure.
      ctx->run_for(std::chrono::seconds(20));
      submit_error.reset();
      BOOST_TEST(ctx->stopped(), what << ": the context still has work");
      if (threw) {
        BOOST_TEST(calls == 0, what << ": a Start that threw completed its handler");
      } else {
        BOOST_TEST(calls == 1, what);
        BOOST_TEST(res == -err, what);
        if (!no_failure_left) ++failed_after_publication;
      }
      DestroyOrDie(std::move(ctx), what);
      if (no_failure_left) break;
      BOOST_TEST_REQUIRE(n < 1000);
    }
    // The retry timer (EAGAIN) or the failure's bookkeeping (EIO) allocates
    // after the operation is published: some failure landed there.
    BOOST_TEST(failed_after_publication > 0, std::strerror(err));
  }
  ::close(fd);
  std::fclose(log_stream);
}

}  // namespace
}  // namespace corodb::io

// Backend selection, probing and fallback; rings under concurrency, parking
// and shutdown with I/O in flight.
#include "io/backend.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "io/file_system.h"
#include "io/threadpool_backend.h"
#include "io/uring_backend.h"
#include "support/backends.h"
#include "support/run.h"
#include "support/temp_dir.h"
#include "util/logging.h"

namespace corodb::io {
namespace {

namespace asio = boost::asio;
namespace bdata = boost::unit_test::data;
using test::BackendNames;
using test::MakeBackendByName;
using test::TempDir;

// Sets an environment variable for the scope of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_.empty()) {
      ::unsetenv(name_);
    } else {
      ::setenv(name_, old_.c_str(), 1);
    }
  }

 private:
  const char* name_;
  std::string old_;
};

// Makes io_uring setup fail with `err` for the scope of a test.
class ScopedUringRefusal {
 public:
  explicit ScopedUringRefusal(int err) { SetUringSetupErrorForTesting(err); }
  ~ScopedUringRefusal() { SetUringSetupErrorForTesting(0); }
};

// A backend that counts the operations started through it and forwards them.
// As the uring backend's fallback it tells whether the fallback did the I/O.
class CountingBackend final : public Backend {
 public:
  explicit CountingBackend(std::shared_ptr<Backend> inner) : inner_(std::move(inner)) {}
  std::string_view Name() const override { return "counting"; }
  void Start(const asio::any_io_executor& ex, const IoRequest& req, IoHandler handler) override {
    starts_.fetch_add(1);
    inner_->Start(ex, req, std::move(handler));
  }
  int starts() const { return starts_.load(); }

 private:
  std::shared_ptr<Backend> inner_;
  std::atomic<int> starts_{0};
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

BOOST_AUTO_TEST_SUITE(BackendSelectionTest)

BOOST_AUTO_TEST_CASE(ExplicitKindsAreHonoured) {
  ScopedEnv env("CORODB_IO_BACKEND", nullptr);
  auto pool = MakeBackend(IoBackendKind::kThreadPool, 2, nullptr);
  BOOST_REQUIRE(pool.ok());
  BOOST_TEST((*pool)->Name() == "threadpool");
}

BOOST_AUTO_TEST_CASE(UringAndAutoChooseUringWhereItWorks, test::NeedsUring()) {
  ScopedEnv env("CORODB_IO_BACKEND", nullptr);
  auto uring = MakeBackend(IoBackendKind::kUring, 2, nullptr);
  BOOST_REQUIRE(uring.ok());
  BOOST_TEST((*uring)->Name() == "uring");
  auto autod = MakeBackend(IoBackendKind::kAuto, 2, nullptr);
  BOOST_REQUIRE(autod.ok());
  BOOST_TEST((*autod)->Name() == "uring");
}

BOOST_AUTO_TEST_CASE(EnvironmentOverridesOptions) {
  ScopedEnv env("CORODB_IO_BACKEND", "threadpool");
  auto b = MakeBackend(IoBackendKind::kUring, 2, nullptr);
  BOOST_REQUIRE(b.ok());
  BOOST_TEST((*b)->Name() == "threadpool");
}

BOOST_AUTO_TEST_CASE(RefusedSetupFallsBackAndLogsWhyOnce) {
  ScopedEnv env("CORODB_IO_BACKEND", nullptr);
  ScopedUringRefusal refuse(EPERM);  // as under Docker's seccomp profile
  BOOST_TEST(ProbeUring() == -EPERM);
  TempDir dir;
  {
    auto logger = Logger::OpenInDirectory(dir.path());
    BOOST_REQUIRE(logger.ok());
    auto b = MakeBackend(IoBackendKind::kAuto, 2, logger->get());
    BOOST_REQUIRE(b.ok());
    BOOST_TEST((*b)->Name() == "threadpool");
    // The fallback still does real I/O.
    FileSystem fs(*b);
    auto f = fs.Open(dir.Child("x"), OpenMode::kCreate);
    BOOST_REQUIRE(f.ok());
    BOOST_TEST(test::Run((*f)->AppendAndSync(std::span<const char>("abc", 3))).ok());
  }
  const std::string log = Slurp(dir.Child("LOG"));
  BOOST_TEST(log.find("io_uring unavailable") != std::string::npos);
  BOOST_TEST(log.find("Operation not permitted") != std::string::npos);
  size_t count = 0;
  for (size_t pos = 0; (pos = log.find("io_uring unavailable", pos)) != std::string::npos; ++pos) ++count;
  BOOST_TEST(count == 1u);
}

BOOST_AUTO_TEST_CASE(RefusedSetupFailsExplicitUring) {
  ScopedEnv env("CORODB_IO_BACKEND", nullptr);
  ScopedUringRefusal refuse(ENOSYS);
  auto b = MakeBackend(IoBackendKind::kUring, 2, nullptr);
  BOOST_REQUIRE(!b.ok());
  BOOST_TEST(b.status().IsNotSupported());
  BOOST_TEST(b.status().ToString().find("Function not implemented") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(ContextWhoseRingFailsUsesThreadPool, test::NeedsUring()) {
  TempDir dir;
  auto fallback = std::make_shared<CountingBackend>(std::make_shared<ThreadPoolBackend>(2));
  auto uring = std::make_shared<UringBackend>(UringConfig{}, fallback, nullptr);
  FileSystem fs(uring);
  auto f = fs.Open(dir.Child("x"), OpenMode::kCreate);
  BOOST_REQUIRE(f.ok());
  ScopedUringRefusal refuse(ENOMEM);  // the next context's ring cannot be created
  asio::io_context ctx;
  BOOST_TEST(test::RunOn(ctx, (*f)->WriteAt(0, std::span<const char>("hello", 5))).ok());
  char buf[5];
  auto got = test::RunOn(ctx, (*f)->ReadAt(0, std::span<char>(buf, 5)));
  BOOST_REQUIRE(got.ok());
  BOOST_TEST(std::string(buf, 5) == "hello");
  // The thread pool did both, not a ring.
  BOOST_TEST(fallback->starts() == 2);
}

BOOST_AUTO_TEST_SUITE_END()

// One coroutine's share of the concurrency test: writes its own region, reads it back.
asio::awaitable<int> WriteReadOwnRegion(File& f, uint64_t base, int rounds, uint32_t seed) {
  int mismatches = 0;
  std::string data(4096, '\0');
  std::string back(4096, '\0');
  for (int r = 0; r < rounds; ++r) {
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((seed + r * 31 + i) & 0xff);
    const uint64_t off = base + static_cast<uint64_t>(r % 4) * 4096;
    if (!(co_await f.WriteAt(off, std::span<const char>(data))).ok()) ++mismatches;
    auto got = co_await f.ReadAt(off, std::span<char>(back));
    if (!got.ok() || *got != back.size() || back != data) ++mismatches;
  }
  co_return mismatches;
}

BOOST_AUTO_TEST_SUITE(RingConcurrencyTest)

// Several io_contexts (one of them run by two threads) and a strand, each with
// many coroutines doing I/O on one shared file at disjoint offsets.
BOOST_DATA_TEST_CASE(ManyCoroutinesOnManyThreadsAndContexts, bdata::make(BackendNames()), backend) {
  TempDir dir;
  FileSystem fs(MakeBackendByName(backend));
  auto f = fs.Open(dir.Child("shared"), OpenMode::kCreate);
  BOOST_REQUIRE(f.ok());
  File& file = **f;
  constexpr int kContexts = 3;
  constexpr int kCoroutinesPerContext = 24;
  constexpr int kRounds = 20;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::atomic<int> failures{0};
  std::atomic<int> finished{0};
  int region = 0;
  for (int c = 0; c < kContexts; ++c) {
    contexts.push_back(std::make_unique<asio::io_context>());
    for (int k = 0; k < kCoroutinesPerContext; ++k, ++region) {
      auto target = c == 2 ? asio::any_io_executor(asio::make_strand(*contexts.back()))
                           : asio::any_io_executor(contexts.back()->get_executor());
      asio::co_spawn(target, WriteReadOwnRegion(file, static_cast<uint64_t>(region) * 4 * 4096, kRounds, region),
                     [&](std::exception_ptr e, int bad) {
                       if (e || bad != 0) failures.fetch_add(1);
                       finished.fetch_add(1);
                     });
    }
  }
  std::vector<std::thread> threads;
  for (int c = 0; c < kContexts; ++c) {
    threads.emplace_back([&, c] { contexts[c]->run(); });
  }
  threads.emplace_back([&] { contexts[0]->run(); });  // context 0 has two threads
  for (auto& t : threads) t.join();
  BOOST_TEST(finished.load() == kContexts * kCoroutinesPerContext);
  BOOST_TEST(failures.load() == 0);
}

// Executors that are not an io_context (a thread_pool) still get their I/O done.
BOOST_DATA_TEST_CASE(ThreadPoolExecutorCoroutinesComplete, bdata::make(BackendNames()), backend) {
  TempDir dir;
  FileSystem fs(MakeBackendByName(backend));
  auto f = fs.Open(dir.Child("tp"), OpenMode::kCreate);
  BOOST_REQUIRE(f.ok());
  asio::thread_pool pool(2);
  std::atomic<int> failures{0};
  for (int k = 0; k < 8; ++k) {
    asio::co_spawn(pool, WriteReadOwnRegion(**f, static_cast<uint64_t>(k) * 4 * 4096, 5, k),
                   [&](std::exception_ptr e, int bad) {
                     if (e || bad != 0) failures.fetch_add(1);
                   });
  }
  pool.join();
  BOOST_TEST(failures.load() == 0);
}

// A ring with a tiny queue: 200 concurrent reads must all complete (parked, never failed).
BOOST_AUTO_TEST_CASE(FullSubmissionQueueParksOperations, test::NeedsUring()) {
  TempDir dir;
  auto backend = std::make_shared<UringBackend>(UringConfig{4, 8},
                                                std::make_shared<ThreadPoolBackend>(1), nullptr);
  FileSystem fs(backend);
  auto f = fs.Open(dir.Child("small"), OpenMode::kCreate);
  BOOST_REQUIRE(f.ok());
  BOOST_REQUIRE(test::Run((*f)->WriteAt(0, std::span<const char>(std::string(200 * 4 * 4096, 'x')))).ok());
  asio::io_context ctx;
  std::atomic<int> failures{0};
  int done = 0;
  for (int k = 0; k < 200; ++k) {
    asio::co_spawn(ctx, WriteReadOwnRegion(**f, static_cast<uint64_t>(k) * 4 * 4096, 2, k),
                   [&](std::exception_ptr e, int bad) {
                     if (e || bad != 0) failures.fetch_add(1);
                     ++done;
                   });
  }
  ctx.run();
  BOOST_TEST(done == 200);
  BOOST_TEST(failures.load() == 0);
}

// Reads `count` random 4 KiB blocks of `f` (whose byte i is i * 7 % 251) and
// counts the ones that fail or differ.
asio::awaitable<int> DirectReadLoop(File& f, uint64_t blocks, int count, uint64_t seed) {
  AlignedBuffer buf(4096);
  int bad = 0;
  for (int i = 0; i < count; ++i) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    const uint64_t off = (seed >> 33) % blocks * 4096;
    auto got = co_await f.ReadAt(off, buf.span());
    if (!got.ok() || *got != 4096) {
      ++bad;
      continue;
    }
    for (size_t j = 0; j < 4096; j += 509) {
      if (buf.data()[j] != static_cast<char>((off + j) * 7 % 251)) {
        ++bad;
        break;
      }
    }
  }
  co_return bad;
}

// O_DIRECT reads complete asynchronously (task work, then the eventfd), unlike
// the page-cache hits of the other tests: queue depth 1 on one thread, then
// several coroutines on a context run by two threads, all must complete.
// Skipped where the temporary directory does not support O_DIRECT.
BOOST_AUTO_TEST_CASE(DirectReadsCompleteAtDepthOneAndOnTwoThreads, test::NeedsUring()) {
  TempDir dir;
  FileSystem fs(MakeBackendByName("uring"));
  constexpr uint64_t kBlocks = 256;
  {
    std::string data(kBlocks * 4096, '\0');
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 % 251);
    auto w = fs.Open(dir.Child("direct"), OpenMode::kCreate);
    BOOST_REQUIRE(w.ok());
    BOOST_REQUIRE(test::Run((*w)->WriteAt(0, std::span<const char>(data))).ok());
    BOOST_REQUIRE(test::Run((*w)->Sync()).ok());
  }
  auto f = fs.Open(dir.Child("direct"), OpenMode::kRead, /*direct=*/true);
  if (!f.ok()) return;  // no O_DIRECT here
  File& file = **f;
  BOOST_TEST(test::Run(DirectReadLoop(file, kBlocks, 300, 1)) == 0);

  asio::io_context ctx;
  std::atomic<int> failures{0};
  std::atomic<int> finished{0};
  for (int k = 0; k < 6; ++k) {
    asio::co_spawn(ctx, DirectReadLoop(file, kBlocks, 150, static_cast<uint64_t>(k) + 2),
                   [&](std::exception_ptr e, int bad) {
                     if (e || bad != 0) failures.fetch_add(1);
                     finished.fetch_add(1);
                   });
  }
  std::thread second([&] { ctx.run(); });
  ctx.run();
  second.join();
  BOOST_TEST(finished.load() == 6);
  BOOST_TEST(failures.load() == 0);
}

asio::awaitable<void> SlowSyncLoop(File& f, std::atomic<int>* started) {
  std::string block(64 * 1024, 'y');
  for (;;) {
    started->fetch_add(1);
    if (!(co_await f.AppendAndSync(std::span<const char>(block))).ok()) co_return;
  }
}

// Destroying an io_context while operations are in the kernel must wait for
// them and free nothing the kernel still writes (checked under ASan).
BOOST_DATA_TEST_CASE(ShutdownWithIoInFlightIsClean, bdata::make(BackendNames()), backend) {
  TempDir dir;
  FileSystem fs(MakeBackendByName(backend));
  std::vector<std::unique_ptr<File>> files;
  for (int i = 0; i < 8; ++i) {
    auto f = fs.Open(dir.Child("f" + std::to_string(i)), OpenMode::kAppend);
    BOOST_REQUIRE(f.ok());
    files.push_back(std::move(f).value());
  }
  std::atomic<int> started{0};
  {
    asio::io_context ctx;
    for (auto& f : files) asio::co_spawn(ctx, SlowSyncLoop(*f, &started), asio::detached);
    for (int i = 0; i < 20; ++i) ctx.run_one();
    BOOST_TEST(started.load() >= 8);
    // ctx dies here with writes and syncs in flight.
  }
  // Files are still usable afterwards with a new context.
  BOOST_TEST(test::Run(files[0]->AppendAndSync(std::span<const char>("z", 1))).ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::io

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
#include <memory_resource>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/require.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "io/file_system.h"
#include "io/threadpool_backend.h"
#include "io/uring_backend.h"
#include "io/uring_diagnosis.h"
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

// Makes rings behave as on a kernel without some optional features, for the
// scope of a test.
class ScopedMissingFeatures {
 public:
  explicit ScopedMissingFeatures(unsigned features) { SetUringMissingFeaturesForTesting(features); }
  ~ScopedMissingFeatures() { SetUringMissingFeaturesForTesting(0); }
};

// Makes a ring system call fail with `err` until reset (or the scope ends).
class ScopedCallError {
 public:
  ScopedCallError(UringCall call, int err) : call_(call) { SetUringCallErrorForTesting(call, err); }
  ~ScopedCallError() { Reset(); }
  void Reset() { SetUringCallErrorForTesting(call_, 0); }

 private:
  UringCall call_;
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

// Sets a flag when the coroutine frame that holds it is destroyed.
struct SetOnDestroy {
  std::atomic<bool>* flag;
  ~SetOnDestroy() { flag->store(true); }
};

// Reads from `f` into a buffer on its own frame; `destroyed` tells when that
// frame (and so the buffer) is gone, `finished` that the read returned.
asio::awaitable<void> ReadHoldingBuffer(File& f, std::atomic<bool>* destroyed,
                                        std::atomic<bool>* finished) {
  SetOnDestroy guard{destroyed};
  char buf[64];
  Result<size_t> r = co_await f.ReadAt(0, std::span<char>(buf, sizeof(buf)));
  (void)r;
  finished->store(true);
}

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

// kAuto's probe answers from the last success without a ring; kUring, the
// diagnostics and a testing override always set one up; a context whose ring
// fails makes the next kAuto choice probe again.
BOOST_AUTO_TEST_CASE(AutoProbeRemembersSuccessUntilARingFails, test::NeedsUring()) {
  ScopedEnv env("CORODB_IO_BACKEND", nullptr);
  unsigned first = 0;
  BOOST_REQUIRE(ProbeUring(UringConfig{}, &first) == 0);
  uint64_t rings = UringRingsSetUpForTesting();
  unsigned again = ~0u;
  BOOST_TEST(ProbeUringRemembered(UringConfig{}, &again) == 0);
  BOOST_TEST(again == first);
  auto autod = MakeBackend(IoBackendKind::kAuto, 1, nullptr);
  BOOST_REQUIRE(autod.ok());
  BOOST_TEST((*autod)->Name() == "uring");
  BOOST_TEST(UringRingsSetUpForTesting() == rings);  // neither set up a ring
  // kUring and ProbeUring itself probe for real.
  BOOST_REQUIRE(MakeBackend(IoBackendKind::kUring, 1, nullptr).ok());
  BOOST_TEST(ProbeUring() == 0);
  BOOST_TEST(UringRingsSetUpForTesting() == rings + 2);
  {
    ScopedUringRefusal refuse(EPERM);
    BOOST_TEST(ProbeUringRemembered() == -EPERM);
    BOOST_TEST(!MakeBackend(IoBackendKind::kUring, 1, nullptr).ok());
  }
  {
    ScopedMissingFeatures old_kernel(kUringAllFeatures);
    unsigned features = kUringAllFeatures;
    BOOST_TEST(ProbeUringRemembered(UringConfig{}, &features) == 0);
    BOOST_TEST(features == 0u);
  }
  // ...and what they found under the override was not remembered.
  BOOST_TEST(ProbeUringRemembered(UringConfig{}, &again) == 0);
  BOOST_TEST(again == first);
  // A context whose ring cannot be set up (as after a seccomp filter was
  // installed) makes the next choice probe again.
  {
    ScopedUringRefusal refuse(EPERM);
    TempDir dir;
    FileSystem fs(*autod);
    asio::io_context ctx;
    auto f = fs.Open(dir.Child("x"), OpenMode::kCreate);
    BOOST_REQUIRE(f.ok());
    BOOST_TEST(test::RunOn(ctx, (*f)->AppendAndSync(std::span<const char>("hello", 5))).ok());
    BOOST_TEST(!RingStatsOf(ctx).ready);
  }
  rings = UringRingsSetUpForTesting();
  BOOST_TEST(ProbeUringRemembered() == 0);
  BOOST_TEST(UringRingsSetUpForTesting() == rings + 1);
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
  // The verdict and its reason (the refusal is simulated: the process's
  // seccomp mode and sysctl decide which verdict EPERM gets).
  const UringFacts facts = GatherUringFacts(-EPERM, 0);
  const std::string why = std::string("io: io_uring ") + VerdictName(ClassifyUring(facts));
  BOOST_TEST(log.find(why + " (io_uring_setup: Operation not permitted): " +
                      ExplainUringVerdict(facts)) != std::string::npos, log);
  BOOST_TEST(log.find("Falling back to the threadpool backend") != std::string::npos);
  size_t count = 0;
  for (size_t pos = 0; (pos = log.find(why, pos)) != std::string::npos; ++pos) ++count;
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
  BOOST_TEST(!RingStatsOf(ctx).ready);
  BOOST_TEST(RingStatsOf(ctx).started == 0u);
}

// A kernel without some optional features (5.15 LTS has neither SUBMIT_ALL
// nor CQE_SKIP) still gets rings: the ring did the I/O, the fallback nothing.
BOOST_TEST_DECORATOR(test::NeedsUring())
BOOST_DATA_TEST_CASE(KernelWithoutOptionalFeaturesStillGetsRings,
                     bdata::make({unsigned{kUringSubmitAll}, unsigned{kUringAllFeatures}}),
                     missing) {
  ScopedEnv env("CORODB_IO_BACKEND", nullptr);
  ScopedMissingFeatures old_kernel(missing);
  unsigned features = kUringAllFeatures;
  BOOST_REQUIRE(ProbeUring(UringConfig{}, &features) == 0);
  BOOST_TEST((features & missing) == 0u);
  TempDir dir;
  {
    auto logger = Logger::OpenInDirectory(dir.path());
    BOOST_REQUIRE(logger.ok());
    auto b = MakeBackend(IoBackendKind::kUring, 2, logger->get());
    BOOST_REQUIRE_MESSAGE(b.ok(), b.status().ToString());
    BOOST_TEST((*b)->Name() == "uring");
  }
  // The features used and missing are logged once, when the backend is chosen.
  const std::string log = Slurp(dir.Child("LOG"));
  BOOST_TEST(log.find("missing: " + DescribeUringFeatures(missing)) != std::string::npos);

  auto fallback = std::make_shared<CountingBackend>(std::make_shared<ThreadPoolBackend>(1));
  FileSystem fs(std::make_shared<UringBackend>(UringConfig{}, fallback, nullptr));
  auto f = fs.Open(dir.Child("x"), OpenMode::kCreate);
  BOOST_REQUIRE(f.ok());
  asio::io_context ctx;
  BOOST_TEST(test::RunOn(ctx, (*f)->AppendAndSync(std::span<const char>("hello", 5))).ok());
  char buf[5];
  auto got = test::RunOn(ctx, (*f)->ReadAt(0, std::span<char>(buf, 5)));
  BOOST_REQUIRE(got.ok());
  BOOST_TEST(std::string(buf, *got) == "hello");
  const UringRingStats stats = RingStatsOf(ctx);
  BOOST_TEST(stats.ready);
  BOOST_TEST((stats.features & missing) == 0u);
  BOOST_TEST(stats.completed == 2u);
  BOOST_TEST(fallback->starts() == 0);
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
  // They did not all fit: some waited, parked, for room in the queues.
  const UringRingStats stats = RingStatsOf(ctx);
  BOOST_TEST(stats.started == 200u * 4);
  BOOST_TEST(stats.parked > 0u);
  BOOST_TEST(stats.completed == stats.started);
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

// The executors a coroutine of an io_context may run on. Each must reach
// that context's ring.
const std::vector<std::string> kExecutorKinds = {
    "plain", "tracked", "continuation", "allocator", "strand", "strand_of_any", "any_of_strand"};

asio::any_io_executor ExecutorOf(const std::string& kind, asio::io_context& ctx) {
  namespace ex = asio::execution;
  const asio::any_io_executor plain = ctx.get_executor();
  if (kind == "tracked") return asio::prefer(ctx.get_executor(), ex::outstanding_work.tracked);
  if (kind == "continuation") return asio::prefer(ctx.get_executor(), ex::relationship.continuation);
  if (kind == "allocator") {
    return asio::require(ctx.get_executor(),
                         ex::allocator(std::pmr::polymorphic_allocator<std::byte>()));
  }
  if (kind == "strand") return asio::make_strand(ctx);  // strand<io_context::executor_type>
  // What make_strand(socket.get_executor()) returns: strand<any_io_executor>.
  if (kind == "strand_of_any") return asio::make_strand(plain);
  // An any_io_executor holding a strand, with another property preferred.
  if (kind == "any_of_strand") {
    return asio::prefer(asio::any_io_executor(asio::make_strand(plain)),
                        ex::relationship.continuation);
  }
  return plain;
}

// Returns 0 when a write and a read of `f` both succeed.
asio::awaitable<int> WriteThenReadBack(File& f) {
  const Status w = co_await f.WriteAt(0, std::span<const char>("abcd", 4));
  if (!w.ok()) co_return 1;
  char buf[4];
  const Result<size_t> r = co_await f.ReadAt(0, std::span<char>(buf, 4));
  if (!r.ok()) co_return 1;
  co_return 0;
}

// Runs `default_ctx` (the engine's, which gets the I/O of executors that are
// not an io_context) on a thread of its own while the test runs.
class DefaultContextThread {
 public:
  explicit DefaultContextThread(UringBackend& backend) : backend_(backend) {
    backend_.SetDefaultContext(&ctx_);
    thread_ = std::thread([this] { ctx_.run(); });
  }
  ~DefaultContextThread() { Stop(); }
  // Lets the context's run() return once it has nothing left to do, and joins it.
  void Stop() {
    if (!thread_.joinable()) return;
    guard_.reset();
    thread_.join();
    backend_.SetDefaultContext(nullptr);
  }
  asio::io_context& ctx() { return ctx_; }

 private:
  UringBackend& backend_;
  asio::io_context ctx_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_{ctx_.get_executor()};
  std::thread thread_;
};

BOOST_AUTO_TEST_SUITE(RingExecutorTest)

// A coroutine on any executor of an io_context does its I/O on that
// context's ring, never on the default (engine) context's: that would be a
// cross-thread hop, and a use-after-free if its context died meanwhile.
BOOST_TEST_DECORATOR(test::NeedsUring())
BOOST_DATA_TEST_CASE(EveryExecutorOfAContextUsesThatContextsRing, bdata::make(kExecutorKinds), kind) {
  TempDir dir;
  auto fallback = std::make_shared<CountingBackend>(std::make_shared<ThreadPoolBackend>(1));
  auto backend = std::make_shared<UringBackend>(UringConfig{}, fallback, nullptr);
  DefaultContextThread engine(*backend);
  FileSystem fs(backend);
  auto f = fs.Open(dir.Child("x"), OpenMode::kCreate);
  BOOST_REQUIRE(f.ok());
  asio::io_context ctx;
  int bad = -1;
  asio::co_spawn(ExecutorOf(kind, ctx), WriteThenReadBack(**f), [&](std::exception_ptr e, int b) {
    bad = e ? -2 : b;
  });
  ctx.run();
  engine.Stop();
  BOOST_TEST(bad == 0);
  BOOST_TEST(RingStatsOf(ctx).completed == 2u);
  BOOST_TEST(RingStatsOf(engine.ctx()).started == 0u);
  BOOST_TEST(fallback->starts() == 0);
}

// Executors of a thread_pool are not an io_context's: their I/O goes to the
// default context's ring.
BOOST_AUTO_TEST_CASE(ThreadPoolExecutorsUseTheDefaultContextsRing, test::NeedsUring()) {
  TempDir dir;
  auto backend = std::make_shared<UringBackend>(UringConfig{}, std::make_shared<ThreadPoolBackend>(1),
                                                nullptr);
  DefaultContextThread engine(*backend);
  FileSystem fs(backend);
  auto f = fs.Open(dir.Child("x"), OpenMode::kCreate);
  BOOST_REQUIRE(f.ok());
  asio::thread_pool pool(1);
  std::atomic<int> bad{-1};
  asio::co_spawn(asio::make_strand(pool.get_executor()), WriteThenReadBack(**f),
                 [&](std::exception_ptr e, int b) { bad = e ? -2 : b; });
  pool.join();
  engine.Stop();
  BOOST_TEST(bad.load() == 0);
  BOOST_TEST(RingStatsOf(engine.ctx()).completed == 2u);
}

// A read from a strand<any_io_executor> blocked on an empty pipe when its
// io_context is destroyed: the context's own ring cancels it and waits for
// it, then destroys the coroutine. (Sent to the default ring, it would
// complete later and resume on the destroyed strand: ASan reports that.)
BOOST_AUTO_TEST_CASE(DestroyingAContextWithAStrandReadInFlightIsClean, test::NeedsUring()) {
  int fds[2];
  BOOST_REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  auto backend = std::make_shared<UringBackend>(UringConfig{}, std::make_shared<ThreadPoolBackend>(1),
                                                nullptr);
  DefaultContextThread engine(*backend);
  File reader(backend, fds[0], "pipe", 0);
  std::atomic<bool> destroyed{false};
  std::atomic<bool> finished{false};
  {
    asio::io_context ctx;
    asio::co_spawn(asio::make_strand(asio::any_io_executor(ctx.get_executor())),
                   ReadHoldingBuffer(reader, &destroyed, &finished), asio::detached);
    ctx.poll();  // the coroutine starts its read, which is submitted
    BOOST_TEST(RingStatsOf(ctx).started == 1u);
  }
  BOOST_TEST(destroyed.load());
  BOOST_TEST(!finished.load());
  BOOST_REQUIRE(::write(fds[1], "x", 1) == 1);  // would complete a read left in another ring
  engine.Stop();
  BOOST_TEST(RingStatsOf(engine.ctx()).started == 0u);
  ::close(fds[1]);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(RingErrorTest)

// io_uring_enter failing for good (EAGAIN and EBUSY after a few delayed
// retries, anything else at once) fails the operation it could not submit
// with an IOError naming the error, instead of retrying forever.
BOOST_TEST_DECORATOR(test::NeedsUring())
BOOST_DATA_TEST_CASE(PersistentSubmitErrorFailsTheOperation, bdata::make({EAGAIN, EBUSY, ENXIO}),
                     err) {
  TempDir dir;
  auto fallback = std::make_shared<CountingBackend>(std::make_shared<ThreadPoolBackend>(1));
  FileSystem fs(std::make_shared<UringBackend>(UringConfig{}, fallback, nullptr));
  auto f = fs.Open(dir.Child("x"), OpenMode::kCreate);
  BOOST_REQUIRE(f.ok());
  asio::io_context ctx;
  BOOST_REQUIRE(test::RunOn(ctx, (*f)->WriteAt(0, std::span<const char>("data", 4))).ok());
  ScopedCallError failing(UringCall::kSubmit, err);
  std::optional<Result<size_t>> got;
  char buf[4];
  asio::co_spawn(ctx, (*f)->ReadAt(0, std::span<char>(buf, 4)),
                 [&](std::exception_ptr e, Result<size_t> r) {
                   if (!e) got = std::move(r);
                 });
  ctx.restart();
  // Returns as soon as the read completes; the bound only matters if it never does.
  ctx.run_for(std::chrono::seconds(20));
  failing.Reset();
  BOOST_REQUIRE_MESSAGE(got.has_value(), "the read did not complete");
  BOOST_TEST(got->status().IsIOError());
  BOOST_TEST(got->status().ToString().find(std::strerror(err)) != std::string::npos);
  BOOST_TEST(fallback->starts() == 0);
  // The ring works again once submitting does.
  BOOST_TEST(test::RunOn(ctx, (*f)->ReadAt(0, std::span<char>(buf, 4))).ok());
}

// An operation prepared but never submitted when its context is destroyed
// (the final submit fails) is destroyed with the context: nothing leaks
// (LeakSanitizer checks the rest) and nothing waits for a CQE never owed.
BOOST_AUTO_TEST_CASE(ShutdownWithAnUnsubmittedOperationFreesIt, test::NeedsUring()) {
  TempDir dir;
  FileSystem fs(test::MakeBackendByName("uring"));
  auto f = fs.Open(dir.Child("x"), OpenMode::kCreate);
  BOOST_REQUIRE(f.ok());
  std::atomic<bool> destroyed{false};
  std::atomic<bool> finished{false};
  {
    auto ctx = std::make_unique<asio::io_context>();
    BOOST_REQUIRE(test::RunOn(*ctx, (*f)->WriteAt(0, std::span<const char>("data", 4))).ok());
    ctx->restart();
    asio::co_spawn(*ctx, ReadHoldingBuffer(**f, &destroyed, &finished), asio::detached);
    // Up to the read's start: prepared, its submission deferred to a Flush.
    while (RingStatsOf(*ctx).started < 2) BOOST_REQUIRE(ctx->run_one() == 1u);
    ScopedCallError failing(UringCall::kSubmit, EIO);
    ctx.reset();
  }
  BOOST_TEST(destroyed.load());
  BOOST_TEST(!finished.load());
}

// If waiting for the kernel's completions fails at shutdown, the operations
// the kernel still owes are kept alive (leaked, logged), never freed under it.
BOOST_AUTO_TEST_CASE(ShutdownWhenWaitingFailsKeepsTheBuffersTheKernelMayOwn, test::NeedsUring()) {
  TempDir dir;
  int fds[2];
  BOOST_REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  const uint64_t kept_before = UringOperationsKeptForKernel();
  std::atomic<bool> destroyed{false};
  std::atomic<bool> finished{false};
  {
    auto logger = Logger::OpenInDirectory(dir.path());
    BOOST_REQUIRE(logger.ok());
    auto backend = std::make_shared<UringBackend>(
        UringConfig{}, std::make_shared<ThreadPoolBackend>(1), logger->get());
    File reader(backend, fds[0], "pipe", 0);
    auto ctx = std::make_unique<asio::io_context>();
    asio::co_spawn(*ctx, ReadHoldingBuffer(reader, &destroyed, &finished), asio::detached);
    ctx->poll();  // the read waits in the kernel on the empty pipe
    BOOST_REQUIRE(RingStatsOf(*ctx).started == 1u);
    ScopedCallError no_submit(UringCall::kSubmit, EIO);  // no cancellation gets out either
    ScopedCallError no_wait(UringCall::kWaitCqe, EIO);
    ctx.reset();
  }
  BOOST_TEST(!destroyed.load());  // its buffer lives on
  BOOST_TEST(!finished.load());
  BOOST_TEST(UringOperationsKeptForKernel() == kept_before + 1);
  BOOST_TEST(Slurp(dir.Child("LOG")).find("keeping 1 operations") != std::string::npos);
  ::close(fds[1]);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb::io

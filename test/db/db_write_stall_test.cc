// Write stalls on every I/O backend: a full memtable with a flush pending,
// and level 0 at the slowdown and stop triggers. The background is held
// (DBImpl::HoldBackgroundForTesting) to keep the stall; tests wait for events
// (writers suspended, completions), never for time.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <future>
#include <thread>

#include "db_engine_test_util.h"
#include "support/temp_dir.h"

namespace corodb {
namespace {

namespace asio = boost::asio;
namespace bdata = boost::unit_test::data;
using test::BackendNames;
using test::EngineOptions;
using test::FilesAtLevel;
using test::GetOrStatus;
using test::kEventMillis;
using test::kKiB;
using test::LevelSummary;
using test::NumKey;
using test::OpenHeldOrDie;
using test::OpenOrDie;
using test::Run;
using test::SizedValue;
using test::Stat;
using test::TempDir;
using test::WaitFor;
using test::WaitIdle;
using test::WriteForRecoveryIntoLevel0;

// ============================================================================

BOOST_AUTO_TEST_SUITE(DBWriteStallTest)

// Writes `count` keys NumKey(prefix, first + i), counting each completed one.
asio::awaitable<Status> CountedWriter(DB* db, std::string prefix, int first, int count,
                                      std::atomic<int>* done) {
  for (int i = 0; i < count; ++i) {
    const std::string key = NumKey(prefix, first + i);
    if (Status s = co_await db->Put({}, key, SizedValue(key, 1000)); !s.ok()) co_return s;
    done->fetch_add(1);
  }
  co_return Status::OK();
}

// A writer thread running its own io_context, with the writers spawned on it.
class WriterThread {
 public:
  WriterThread() : work_(asio::make_work_guard(ctx_)), thread_([this] { ctx_.run(); }) {}
  ~WriterThread() { Join(); }

  // Spawns a CountedWriter; `finished` is set (and `status` written before)
  // when it completes.
  void Spawn(DB* db, std::string prefix, int first, int count, std::atomic<int>* done,
             std::atomic<bool>* finished, Status* status) {
    asio::co_spawn(ctx_, CountedWriter(db, std::move(prefix), first, count, done),
                   [finished, status](std::exception_ptr e, Status s) {
                     *status = e ? Status::IOError("the writer threw") : s;
                     finished->store(true);
                   });
  }
  void Join() {
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }

 private:
  asio::io_context ctx_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

// On the way out of a test (also a failing one): the background runs again,
// so stalled writers finish and the writer thread can be joined.
struct ReleaseBackground {
  DBImpl* impl;
  WriterThread* writers;
  ~ReleaseBackground() {
    impl->HoldBackgroundForTesting(false);
    writers->Join();
  }
};

asio::awaitable<Result<std::string>> GetTask(DB* db, std::string key) {
  co_return co_await db->Get({}, key);
}

// Runs a Get on the engine executor (a coroutine spawned there).
std::future<Result<std::string>> GetOnEngine(DB& db, std::string key) {
  auto promise = std::make_shared<std::promise<Result<std::string>>>();
  std::future<Result<std::string>> future = promise->get_future();
  asio::co_spawn(db.engine_executor(), GetTask(&db, std::move(key)),
                 [promise](std::exception_ptr e, Result<std::string> r) {
                   if (e) {
                     promise->set_exception(e);
                   } else {
                     promise->set_value(std::move(r));
                   }
                 });
  return future;
}

// With the background held, one memtable frozen (its flush pending) and the
// next one full, the next writer suspends — only it: Gets (on the caller and
// on the engine executor) and properties are answered meanwhile. Released,
// the flush runs and the writer completes; the stop is counted.
BOOST_DATA_TEST_CASE(FullMemtableWithFlushPendingSuspendsOnlyWriters,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = EngineOptions(backend);
  options.write_buffer_size = 64 * kKiB;
  auto db = OpenHeldOrDie(options, dir.Child("db"), backend);
  DBImpl& impl = *db;

  // Fill the first memtable until it is frozen (its flush is held).
  int n = 0;
  while (Stat(*db, "memtable_switches") == 0) {
    const std::string key = NumKey("w", n++);
    BOOST_REQUIRE(Run(db->Put({}, key, SizedValue(key, 1000))).ok());
    BOOST_REQUIRE_LT(n, 1000);
  }
  BOOST_REQUIRE_EQUAL(Stat(*db, "flushes"), 0u);
  const int in_frozen = n - 2;  // the last write went to the new memtable
  const int in_new = n - 1;

  WriterThread writers;
  ReleaseBackground release{&impl, &writers};
  std::atomic<int> done1{0}, done2{0};
  std::atomic<bool> finished1{false}, finished2{false};
  Status status1, status2;
  // Twice a memtable's worth: it fills the new memtable and then must wait.
  writers.Spawn(db.get(), "w", n, 150, &done1, &finished1, &status1);
  BOOST_REQUIRE(WaitFor(
      [&] { return impl.SuspendedQueuedWritersForTesting() == 1 || finished1.load(); },
      kEventMillis));
  BOOST_REQUIRE_MESSAGE(!finished1.load(),
                        "the writer was not stopped: " << status1.ToString());
  const int done_at_stall = done1.load();
  BOOST_TEST(done_at_stall > 0);
  // A second writer queues behind it.
  writers.Spawn(db.get(), "x", 0, 5, &done2, &finished2, &status2);
  BOOST_REQUIRE(WaitFor(
      [&] { return impl.SuspendedQueuedWritersForTesting() == 2 || finished2.load(); },
      kEventMillis));

  // The engine keeps serving everything else.
  BOOST_TEST(GetOrStatus(*db, NumKey("w", in_frozen)) ==
             SizedValue(NumKey("w", in_frozen), 1000));
  BOOST_TEST(GetOrStatus(*db, NumKey("w", in_new)) ==
             SizedValue(NumKey("w", in_new), 1000));
  BOOST_TEST(GetOrStatus(*db, NumKey("w", n)) == SizedValue(NumKey("w", n), 1000));
  std::string stats;
  BOOST_TEST(db->GetProperty("corodb.stats", &stats));
  BOOST_TEST(db->GetProperty("leveldb.num-files-at-level0", &stats));
  std::future<Result<std::string>> on_engine = GetOnEngine(*db, NumKey("w", 0));
  BOOST_REQUIRE(on_engine.wait_for(std::chrono::milliseconds(kEventMillis)) ==
                std::future_status::ready);
  const Result<std::string> engine_get = on_engine.get();
  BOOST_TEST((engine_get.ok() && *engine_get == SizedValue(NumKey("w", 0), 1000)));
  // ... while the writers stay where they were.
  BOOST_TEST(!finished1.load());
  BOOST_TEST(!finished2.load());
  BOOST_TEST(done1.load() == done_at_stall);
  BOOST_TEST(done2.load() == 0);
  BOOST_TEST(Stat(*db, "flushes") == 0u);

  impl.HoldBackgroundForTesting(false);
  BOOST_REQUIRE(
      WaitFor([&] { return finished1.load() && finished2.load(); }, kEventMillis));
  writers.Join();
  BOOST_TEST(status1.ok(), status1.ToString());
  BOOST_TEST(status2.ok(), status2.ToString());
  BOOST_TEST(done1.load() == 150);
  BOOST_TEST(done2.load() == 5);
  BOOST_TEST(Stat(*db, "stops") >= 1u);
  BOOST_TEST(Stat(*db, "flushes") >= 1u);
  for (int i = 0; i < n + 150; ++i)
    BOOST_REQUIRE_EQUAL(GetOrStatus(*db, NumKey("w", i)),
                        SizedValue(NumKey("w", i), 1000));
  for (int i = 0; i < 5; ++i)
    BOOST_REQUIRE_EQUAL(GetOrStatus(*db, NumKey("x", i)),
                        SizedValue(NumKey("x", i), 1000));
}

// At 8 level-0 files each write group is delayed once (1 ms); below, none is.
BOOST_DATA_TEST_CASE(Level0SlowdownTriggerDelaysEachWriteGroupOnce,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  WriteForRecoveryIntoLevel0(backend, path, 280);
  auto db = OpenHeldOrDie(EngineOptions(backend), path, backend);
  const int l0 = FilesAtLevel(*db, 0);
  BOOST_REQUIRE_MESSAGE(l0 >= 8 && l0 < 12, "the setup should give 8..11 level-0 tables: "
                                                << LevelSummary(*db));
  BOOST_REQUIRE_EQUAL(Stat(*db, "slowdowns"), 0u);
  for (int i = 0; i < 5; ++i)
    BOOST_REQUIRE(Run(db->Put({}, NumKey("slow", i), "v")).ok());
  BOOST_TEST(Stat(*db, "slowdowns") == 5u);
  BOOST_TEST(Stat(*db, "stops") == 0u);

  db->HoldBackgroundForTesting(false);
  BOOST_REQUIRE(WaitIdle(*db).ok());
  BOOST_REQUIRE_MESSAGE(FilesAtLevel(*db, 0) < 8, LevelSummary(*db));
  for (int i = 5; i < 10; ++i)
    BOOST_REQUIRE(Run(db->Put({}, NumKey("slow", i), "v")).ok());
  BOOST_TEST(Stat(*db, "slowdowns") == 5u);
  for (int i = 0; i < 10; ++i) BOOST_TEST(GetOrStatus(*db, NumKey("slow", i)) == "v");
}

// Aborts the process, naming `what`, unless destroyed within `limit`: a
// test whose failure is a hang fails fast instead of running into the test
// timeout. Destroyed on every way out of the test (a failed REQUIRE throws).
class Watchdog {
 public:
  Watchdog(const char* what, std::chrono::seconds limit)
      : thread_([this, what, limit] {
          std::unique_lock lock(mu_);
          if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
            std::fprintf(stderr, "%s: still running after %llds\n", what,
                         static_cast<long long>(limit.count()));
            std::abort();
          }
        }) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

// A write buffer smaller than an empty memtable's own arena (4 KiB and a
// few bytes): every write finds the memtable "full", but an empty one is
// never switched (that only makes another empty one), so each write goes
// in and the next one switches. Before that rule the first Put waited for
// room forever (found in review); a watchdog fails the test after 60 s
// instead of letting the hang run into the test timeout.
BOOST_DATA_TEST_CASE(AWriteBufferSmallerThanAnEmptyMemtableStillTakesWrites,
                     bdata::make(BackendNames()), backend) {
  const Watchdog watchdog("AWriteBufferSmallerThanAnEmptyMemtableStillTakesWrites",
                          std::chrono::seconds(60));
  for (const size_t buffer : {size_t{1}, 4 * kKiB}) {
    BOOST_TEST_CONTEXT("write_buffer_size " << buffer) {
      TempDir dir;
      const std::string path = dir.Child("db");
      Options options = EngineOptions(backend);
      options.write_buffer_size = buffer;
      {
        auto db = OpenOrDie(options, path, backend);
        std::string usage;
        BOOST_REQUIRE(db->GetProperty("leveldb.approximate-memory-usage", &usage));
        BOOST_REQUIRE_MESSAGE(std::stoull(usage) > buffer,
                              "an empty memtable's arena should exceed the buffer: " << usage);
        for (int i = 0; i < 20; ++i) {
          BOOST_REQUIRE(Run(db->Put({}, NumKey("tiny", i), SizedValue(NumKey("tiny", i), 100))).ok());
        }
        // One memtable per write: the first write fills the open's, each
        // later one switches once (never an empty memtable).
        BOOST_TEST(Stat(*db, "memtable_switches") == 19u);
        BOOST_REQUIRE(WaitIdle(*db).ok());
        for (int i = 0; i < 20; ++i) {
          BOOST_TEST(GetOrStatus(*db, NumKey("tiny", i)) == SizedValue(NumKey("tiny", i), 100));
        }
      }
      auto db = OpenOrDie(options, path, backend);
      for (int i = 0; i < 20; ++i) {
        BOOST_TEST(GetOrStatus(*db, NumKey("tiny", i)) == SizedValue(NumKey("tiny", i), 100));
      }
    }
  }
}

// At 12 level-0 files writers wait for a compaction (reads go on); released,
// the compaction runs and they complete.
BOOST_DATA_TEST_CASE(Level0StopTriggerSuspendsWritersUntilCompaction,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  WriteForRecoveryIntoLevel0(backend, path, 500);
  auto db = OpenHeldOrDie(EngineOptions(backend), path, backend);
  DBImpl& impl = *db;
  BOOST_REQUIRE_MESSAGE(
      FilesAtLevel(*db, 0) >= 12,
      "the setup should give >= 12 level-0 tables: " << LevelSummary(*db));

  WriterThread writers;
  ReleaseBackground release{&impl, &writers};
  std::atomic<int> done{0};
  std::atomic<bool> finished{false};
  Status status;
  writers.Spawn(db.get(), "stop", 0, 3, &done, &finished, &status);
  BOOST_REQUIRE(WaitFor(
      [&] { return impl.SuspendedQueuedWritersForTesting() == 1 || finished.load(); },
      kEventMillis));
  BOOST_REQUIRE_MESSAGE(!finished.load(),
                        "the writer was not stopped: " << status.ToString());
  std::future<Result<std::string>> on_engine = GetOnEngine(*db, "no such key");
  BOOST_REQUIRE(on_engine.wait_for(std::chrono::milliseconds(kEventMillis)) ==
                std::future_status::ready);
  BOOST_TEST(on_engine.get().status().IsNotFound());
  BOOST_TEST(!finished.load());
  BOOST_TEST(done.load() == 0);

  impl.HoldBackgroundForTesting(false);
  BOOST_REQUIRE(WaitFor([&] { return finished.load(); }, kEventMillis));
  writers.Join();
  BOOST_TEST(status.ok(), status.ToString());
  BOOST_TEST(Stat(*db, "stops") >= 1u);
  BOOST_TEST(Stat(*db, "compactions") >= 1u);
  BOOST_TEST(FilesAtLevel(*db, 0) < 12, LevelSummary(*db));
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(GetOrStatus(*db, NumKey("stop", i)) ==
               SizedValue(NumKey("stop", i), 1000));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb

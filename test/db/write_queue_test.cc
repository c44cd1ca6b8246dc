// The commit path: who commits (the writer's own thread), durability and
// order across log switches, failures while beginning a group or growing the
// log, closing, executors.
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <new>
#include <optional>
#include <sstream>
#include <thread>

#include <boost/asio/append.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <leveldb/db.h>

#include "corodb/sync_db.h"
#include "db_test_util.h"
#include "io/file_names.h"
#include "support/temp_dir.h"

namespace corodb {
namespace {

namespace asio = boost::asio;
namespace bdata = boost::unit_test::data;
using test::BackendNames;
using test::GetOrStatus;
using test::OpenOrDie;
using test::Run;
using test::UntilRoleIsFree;
using test::WaitFor;
using test::TempDir;
using test::TestOptions;

asio::awaitable<void> PutInto(DB& db, WriteOptions wo, std::string key, Status* out,
                              std::atomic<bool>* done = nullptr) {
  *out = co_await db.Put(wo, key, "v" + key);
  if (done != nullptr) done->store(true);
}

// A power cut before the DB could close: every later sync fails, then
// whatever was never synced is dropped.
void CrashAndCutPower(std::unique_ptr<DB> db, io::FaultInjectionBackend& fault) {
  fault.FailAllSyncs(EIO);
  db.reset();
  fault.FailAllSyncs(0);
  BOOST_REQUIRE(fault.DropUnsyncedData().ok());
}

std::string NewestLogPath(const std::string& dir) {
  auto names = io::ListDir(dir);
  BOOST_REQUIRE(names.ok());
  uint64_t best = 0;
  for (const auto& name : *names) {
    uint64_t number;
    io::FileType type;
    if (io::ParseFileName(name, &number, &type) && type == io::FileType::kLogFile) {
      best = std::max(best, number);
    }
  }
  BOOST_REQUIRE(best != 0);
  return io::LogFileName(dir, best);
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Once armed, holds every fdatasync until the test starts (or fails) it by
// its arrival index (0-based), so a test decides which group's sync
// completes when.
class GateSyncs final : public io::Backend {
 public:
  explicit GateSyncs(std::shared_ptr<io::Backend> inner) : inner_(std::move(inner)) {}
  std::string_view Name() const override { return inner_->Name(); }
  void Start(const asio::any_io_executor& ex, const io::IoRequest& req,
             io::IoHandler handler) override {
    if (req.opcode == io::IoOpcode::kFdatasync) {
      std::lock_guard lock(mu_);
      if (armed_) {
        held_.push_back(Held{ex, req, std::move(handler)});
        return;
      }
    }
    inner_->Start(ex, req, std::move(handler));
  }
  io::IoCompletion RunInline(const io::IoRequest& req) override { return inner_->RunInline(req); }
  void OnOpen(int fd, const std::string& path) override { inner_->OnOpen(fd, path); }
  void OnClose(int fd) override { inner_->OnClose(fd); }
  void Arm() {
    std::lock_guard lock(mu_);
    armed_ = true;
  }
  // fdatasyncs started since Arm(), held or released.
  size_t arrived() {
    std::lock_guard lock(mu_);
    return held_.size();
  }
  // Starts the i-th held sync from its executor's thread, as the commit
  // path would have.
  void Release(size_t i) {
    std::lock_guard lock(mu_);
    BOOST_REQUIRE(i < held_.size() && !held_[i].released);
    Held* h = &held_[i];
    h->released = true;
    asio::post(h->ex, [this, h] { inner_->Start(h->ex, h->req, std::move(h->handler)); });
  }
  // Completes the i-th held sync with -err, without running it.
  void Fail(size_t i, int err) {
    std::lock_guard lock(mu_);
    BOOST_REQUIRE(i < held_.size() && !held_[i].released);
    Held* h = &held_[i];
    h->released = true;
    asio::post(h->ex, [h, err] { std::move(h->handler)(io::IoCompletion{-err, 0}); });
  }
  // Stops holding; starts every sync not released yet.
  void ReleaseRest() {
    std::lock_guard lock(mu_);
    armed_ = false;
    for (Held& h : held_) {
      if (h.released) continue;
      h.released = true;
      asio::post(h.ex, [this, p = &h] { inner_->Start(p->ex, p->req, std::move(p->handler)); });
    }
  }

 private:
  struct Held {
    asio::any_io_executor ex;
    io::IoRequest req;
    io::IoHandler handler;
    bool released = false;
  };
  std::shared_ptr<io::Backend> inner_;
  std::mutex mu_;
  bool armed_ = false;     // GUARDED_BY(mu_)
  std::deque<Held> held_;  // GUARDED_BY(mu_); a deque: posted starts point into it
};

// A DB whose fdatasyncs a GateSyncs holds (armed after a first sync write
// grew the log), no memtable switch (no room task, no other sync), and
// sync writers on a context of their own. Its destructor releases every
// held sync and joins the writers' thread, also when a check failed.
struct GatedDB {
  static constexpr int kWriters = 8;
  TempDir dir;
  std::shared_ptr<GateSyncs> gate;
  std::unique_ptr<DB> db;
  asio::io_context ctx;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread writers;
  Status status[kWriters];
  std::atomic<bool> done[kWriters] = {};

  explicit GatedDB(const std::string& backend) {
    Options options = TestOptions(backend);
    options.write_buffer_size = 64 << 20;
    gate = std::make_shared<GateSyncs>(test::MakeBackendByName(backend));
    auto opened = test::TryOpen(options, dir.Child("db"), gate);
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    db = std::move(opened).value();
    BOOST_REQUIRE(Run(db->Put({.sync = true}, "warm", "w")).ok());
    UntilRoleIsFree(*db);
    gate->Arm();
    guard.emplace(ctx.get_executor());
    writers = std::thread([this] { ctx.run(); });
  }
  ~GatedDB() {
    gate->ReleaseRest();
    guard.reset();
    if (writers.joinable()) writers.join();
  }
  DBImpl& impl() { return static_cast<DBImpl&>(*db); }
  void Spawn(int i, bool sync = true) {
    asio::co_spawn(ctx, PutInto(*db, {.sync = sync}, Key(i), &status[i], &done[i]), asio::detached);
  }
  static std::string Key(int i) { return "k" + std::to_string(i); }
  bool WaitSuspendedQueued(size_t n) {
    return WaitFor([&] { return impl().SuspendedQueuedWritersForTesting() == n; }, 20000);
  }
  bool WaitArrived(size_t n) {
    return WaitFor([&] { return gate->arrived() == n; }, 20000);
  }
  bool WaitDone(int i) {
    return WaitFor([&] { return done[i].load(); }, 20000);
  }
  // Groups A = {0} and B = {1} (one each: pipelined), then C = {2, 3}
  // begun behind B and, once A and B ended, in flight alone (its sync
  // held: index 2). Writer 4 then arrives, one behind a group of two.
  void UpToOneBehindAGroupOfTwo() {
    Spawn(0);  // group A = {0}
    BOOST_REQUIRE(WaitArrived(1));
    Spawn(1);  // group B = {1}, behind A: as many as A
    BOOST_REQUIRE(WaitArrived(2));
    Spawn(2);
    Spawn(3);  // two groups in flight: 2 and 3 wait
    BOOST_REQUIRE(WaitSuspendedQueued(2));
    gate->Release(0);  // A ends; C = {2, 3} begins behind B
    BOOST_REQUIRE(WaitFor([&] { return gate->arrived() == 3 && done[0].load(); }, 20000));
    gate->Release(1);  // B ends: C is the group in flight
    BOOST_REQUIRE(WaitDone(1));
    Spawn(4);
  }
};

BOOST_AUTO_TEST_SUITE(WriteQueueTest)

// No thread switch for an uncontended write: the coroutine that writes
// commits on its own thread and completes within the handler that started
// it, although the DB's engine runs on another thread.
BOOST_DATA_TEST_CASE(UncontendedWriteCompletesOnTheCallersThreadWithoutSuspending,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  auto db = OpenOrDie(TestOptions(backend), dir.Child("db"), backend);
  asio::io_context ctx;
  Status s = Status::IOError("not run");
  std::atomic<bool> done{false};
  asio::co_spawn(ctx, PutInto(*db, WriteOptions{}, "a", &s, &done), asio::detached);
  BOOST_TEST(ctx.run_one() == 1u);  // the coroutine's first (and only) step
  BOOST_TEST(done.load());
  BOOST_TEST(s.ok(), s.ToString());
  ctx.run();
  BOOST_TEST(GetOrStatus(*db, "a") == "va");
}

// SyncDB's reads and (uncontended) writes run on the calling thread: they
// work while nothing runs the engine executor at all.
BOOST_DATA_TEST_CASE(SyncDBDoesNotNeedTheEngineThread, bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  asio::io_context engine;
  options.engine_context = &engine;
  std::unique_ptr<SyncDB> db;
  {
    auto guard = asio::make_work_guard(engine);
    std::thread runner([&engine] { engine.run(); });
    auto opened = SyncDB::Open(options, dir.Child("db"));
    guard.reset();
    runner.join();  // nothing runs the engine from here on
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    db = std::move(opened).value();
  }
  auto result = std::make_shared<std::promise<std::string>>();
  std::future<std::string> got = result->get_future();
  std::thread caller([&db, result] {
    Status s = db->Put({}, "k", "v");
    Result<std::string> v = db->Get({}, "k");
    result->set_value(!s.ok() ? s.ToString() : v.ok() ? *v : v.status().ToString());
  });
  if (got.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    caller.detach();
    (void)db.release();  // a thread still uses it
    BOOST_FAIL("SyncDB waited for the engine executor");
  }
  caller.join();
  BOOST_TEST(got.get() == "v");
  BOOST_TEST(db->Close().ok());
}

// Non-sync groups fill a log, the memtable switches, then a sync write to
// the new log is acknowledged. After a power cut, the recovered state is a
// prefix of the write order: the sync write survived, so must everything
// written before it, in the older logs too.
BOOST_DATA_TEST_CASE(LogSwitchKeepsPrefixOrderAcrossPowerCut, bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  options.write_buffer_size = 16 * 1024;
  auto fault = std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
  auto opened = test::TryOpen(options, dir.Child("db"), fault);
  BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  std::unique_ptr<DB> db = std::move(opened).value();
  for (int i = 0; i < 100; ++i) {
    BOOST_REQUIRE(Run(db->Put({}, "n" + std::to_string(i), std::string(1000, 'n'))).ok());
  }
  BOOST_REQUIRE(Run(db->Put({.sync = true}, "last", "synced")).ok());
  std::string stats;
  BOOST_REQUIRE(db->GetProperty("corodb.stats", &stats));
  BOOST_TEST(stats.find("memtable_switches: 0\n") == std::string::npos, stats);
  CrashAndCutPower(std::move(db), *fault);

  auto reopened = OpenOrDie(options, dir.Child("db"), backend);
  BOOST_TEST(GetOrStatus(*reopened, "last") == "synced");
  int missing = 0;
  for (int i = 0; i < 100; ++i) {
    if (GetOrStatus(*reopened, "n" + std::to_string(i)) != std::string(1000, 'n')) ++missing;
  }
  BOOST_TEST(missing == 0);
}

// bad_alloc while beginning group b, with group a's sync in flight ahead of
// it: a still ends as its sync says (acknowledged, visible); b fails; only
// then does the database refuse writes.
BOOST_DATA_TEST_CASE(ExceptionBeginningAGroupFailsItInLogOrder, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const Options options = TestOptions(backend);
  auto fault = std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
  {
    auto opened = test::TryOpen(options, dir.Child("db"), fault);
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    DB& db = **opened;
    auto& impl = static_cast<DBImpl&>(db);
    BOOST_REQUIRE(Run(db.Put({.sync = true}, "warm", "w")).ok());  // grows the log first
    int begins = 0;
    impl.SetBeginGroupHookForTesting([&begins] {
      if (++begins == 2) throw std::bad_alloc();
    });
    fault->HoldSyncs();
    asio::io_context ctx;
    auto guard = asio::make_work_guard(ctx);
    std::thread writers([&ctx] { ctx.run(); });
    Status sa, sb;
    asio::co_spawn(ctx, PutInto(db, {.sync = true}, "a", &sa), asio::detached);
    BOOST_REQUIRE(WaitFor([&] { return fault->held_syncs() == 1; }, 20000));
    asio::co_spawn(ctx, PutInto(db, {.sync = true}, "b", &sb), asio::detached);
    BOOST_REQUIRE(WaitFor([&] { return fault->held_syncs() == 2; }, 20000));  // b began, then threw
    fault->ReleaseSyncs();
    guard.reset();
    writers.join();
    BOOST_TEST(sa.ok(), sa.ToString());
    BOOST_TEST(sb.IsIOError(), sb.ToString());
    BOOST_TEST(sb.ToString().find("bad_alloc") != std::string::npos, sb.ToString());
    BOOST_TEST(GetOrStatus(db, "a") == "va");
    BOOST_TEST(GetOrStatus(db, "b") == "NOT_FOUND");
    BOOST_TEST(!Run(db.Put({}, "later", "x")).ok());
  }
  auto db = OpenOrDie(options, dir.Child("db"), backend);
  BOOST_TEST(GetOrStatus(*db, "a") == "va");
}

// Restores RLIMIT_FSIZE and SIGXFSZ's disposition.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    BOOST_REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_) == 0);
    rlimit limited = old_;
    limited.rlim_cur = bytes;
    BOOST_REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit old_{};
  sighandler_t old_handler_;
};

// Growing the log by a 1 MiB chunk fails with EFBIG (as with ENOSPC or
// EDQUOT on a nearly full disk), but small records still fit: sync writes
// keep working, appended without preallocation, and survive a reopen.
BOOST_DATA_TEST_CASE(LogThatCannotGrowByAChunkStillTakesSyncWrites, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const Options options = TestOptions(backend);
  {
    WriteQueueTest::FileSizeLimit limit(256 * 1024);
    auto db = OpenOrDie(options, dir.Child("db"), backend);
    for (int i = 0; i < 50; ++i) {
      Status s = Run(db->Put({.sync = true}, "k" + std::to_string(i), std::string(100, 'x')));
      BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    }
    BOOST_TEST(Run(db->Close()).ok());
  }
  auto db = OpenOrDie(options, dir.Child("db"), backend);
  for (int i = 0; i < 50; ++i) {
    BOOST_TEST(GetOrStatus(*db, "k" + std::to_string(i)) == std::string(100, 'x'));
  }
  BOOST_TEST(Run(db->Put({.sync = true}, "after", "reopen")).ok());
}

// A clean close leaves no preallocated zeros behind the last record, and the
// real LevelDB opens the directory with paranoid_checks and reads every key.
BOOST_DATA_TEST_CASE(CleanCloseLeavesLogLevelDBParanoidOpens, bdata::make(BackendNames()), backend) {
  TempDir dir;
  std::string log_path;
  {
    auto db = OpenOrDie(TestOptions(backend), dir.Child("db"), backend);
    for (int i = 0; i < 20; ++i) {
      BOOST_REQUIRE(Run(db->Put({.sync = true}, "s" + std::to_string(i), std::string(200, 'a' + i))).ok());
    }
    log_path = NewestLogPath(dir.Child("db"));
    BOOST_REQUIRE(Slurp(log_path).size() >= (1u << 20));  // preallocated while open
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
  const std::string log = Slurp(log_path);
  BOOST_REQUIRE(!log.empty());
  BOOST_TEST(log.back() != '\0');  // ends with the last record's payload
  BOOST_TEST(log.size() < 8192u);

  leveldb::Options lo;
  lo.paranoid_checks = true;
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(lo, dir.Child("db"), &raw);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  std::unique_ptr<leveldb::DB> ldb(raw);
  for (int i = 0; i < 20; ++i) {
    std::string value;
    BOOST_TEST(ldb->Get({}, "s" + std::to_string(i), &value).ok());
    BOOST_TEST(value == std::string(200, 'a' + i));
  }
}

// A DB on the caller's engine_context destroyed right after its writes
// return, without Close(): the destructor closes it (no zero tail, data
// there after reopen) and nothing touches it afterwards (ASan).
BOOST_DATA_TEST_CASE(DestroyWithoutCloseOnCallersEngineClosesIt, bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  asio::io_context engine;
  auto guard = asio::make_work_guard(engine);
  std::thread engine_thread([&engine] { engine.run(); });
  options.engine_context = &engine;
  for (int round = 0; round < 10; ++round) {
    auto opened = test::TryOpen(options, dir.Child("db"), test::MakeBackendByName(backend));
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    std::unique_ptr<DB> db = std::move(opened).value();
    asio::io_context ctx;
    Status s1, s2;
    asio::co_spawn(ctx, PutInto(*db, {.sync = true}, "r" + std::to_string(round), &s1), asio::detached);
    asio::co_spawn(ctx, PutInto(*db, {.sync = true}, "q" + std::to_string(round), &s2), asio::detached);
    ctx.run();
    BOOST_REQUIRE(s1.ok() && s2.ok());
    db.reset();  // no Close()
    const std::string log = Slurp(NewestLogPath(dir.Child("db")));
    BOOST_TEST((log.empty() || log.back() != '\0'), "round " << round << ": zero tail");
  }
  auto db = OpenOrDie(TestOptions(backend), dir.Child("db"), backend);
  for (int round = 0; round < 10; ++round) {
    BOOST_TEST(GetOrStatus(*db, "r" + std::to_string(round)) == "vr" + std::to_string(round));
  }
  guard.reset();
  engine_thread.join();
}

asio::awaitable<void> MixedWriter(DB& db, int writer, int count) {
  for (int i = 0; i < count; ++i) {
    const std::string key = "w" + std::to_string(writer) + "-" + std::to_string(i);
    Status s = co_await db.Put({.sync = i % 10 == 0}, key, std::string(300, 'a' + writer));
    if (!s.ok()) throw std::runtime_error(s.ToString());
  }
}

// The engine executor may be run by several threads: room tasks (memtable
// and log switches, log growth) and the commit steps stay correct (TSan).
BOOST_DATA_TEST_CASE(EngineContextRunByTwoThreads, bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  options.write_buffer_size = 16 * 1024;
  asio::io_context engine;
  auto guard = asio::make_work_guard(engine);
  std::thread e1([&engine] { engine.run(); });
  std::thread e2([&engine] { engine.run(); });
  options.engine_context = &engine;
  {
    auto opened = test::TryOpen(options, dir.Child("db"), test::MakeBackendByName(backend));
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    DB& db = **opened;
    constexpr int kThreads = 4, kPerThread = 300;
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&db, t, &failures] {
        asio::io_context ctx;
        asio::co_spawn(ctx, MixedWriter(db, t, kPerThread), [&failures](std::exception_ptr e) {
          if (e) failures.fetch_add(1);
        });
        ctx.run();
      });
    }
    for (auto& t : threads) t.join();
    BOOST_TEST(failures.load() == 0);
    std::string stats;
    BOOST_REQUIRE(db.GetProperty("corodb.stats", &stats));
    BOOST_TEST(stats.find("memtable_switches: 0\n") == std::string::npos, stats);
    for (int t = 0; t < kThreads; ++t) {
      for (int i = 0; i < kPerThread; i += 7) {
        const std::string key = "w" + std::to_string(t) + "-" + std::to_string(i);
        BOOST_TEST(GetOrStatus(db, key) == std::string(300, 'a' + t), key);
      }
    }
    BOOST_TEST(Run(db.Close()).ok());
  }
  guard.reset();
  e1.join();
  e2.join();
}

struct CutWrite {
  std::string key;
  bool sync = false;
  bool ok = false;
  int submitted = 0;  // logical clock at submission
  int acked = 0;      // logical clock at completion
};

asio::awaitable<void> CutWriter(DB& db, int writer, int count, std::atomic<int>* clock,
                                std::vector<CutWrite>* out) {
  for (int i = 0; i < count; ++i) {
    CutWrite w;
    w.key = "w" + std::to_string(writer) + "-" + std::to_string(i);
    w.sync = i % 3 == 0;
    w.submitted = clock->fetch_add(1);
    const Status s = co_await db.Put({.sync = w.sync}, w.key, std::string(400, 'a' + writer));
    w.acked = clock->fetch_add(1);
    w.ok = s.ok();
    out->push_back(std::move(w));
  }
}

// Runs 4 writers x 40 puts (every third a sync write) on one context, with a
// memtable small enough for several log switches; returns every write.
std::vector<CutWrite> RunCutWorkload(DB& db) {
  asio::io_context ctx;
  std::atomic<int> clock{0};
  std::vector<std::vector<CutWrite>> per(4);
  for (int w = 0; w < 4; ++w) {
    asio::co_spawn(ctx, CutWriter(db, w, 40, &clock, &per[w]), asio::detached);
  }
  ctx.run();
  std::vector<CutWrite> all;
  for (auto& v : per) all.insert(all.end(), v.begin(), v.end());
  return all;
}

// A power cut right after each sync point of a workload with log switches
// and log growth, one run per sync point: every acknowledged sync write
// survives, and what survives is a prefix of the write order (a write that
// was acknowledged before another was submitted precedes it in the log, so
// if the later one survived, so did it).
BOOST_DATA_TEST_CASE(PowerCutAfterEverySyncKeepsAPrefix, bdata::make(BackendNames()), backend) {
  Options options = TestOptions(backend);
  options.write_buffer_size = 16 * 1024;
  uint64_t sync_points = 0;
  {
    TempDir dir;
    auto fault = std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
    auto opened = test::TryOpen(options, dir.Child("db"), fault);
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    const uint64_t before = fault->successful_syncs();
    for (const CutWrite& w : RunCutWorkload(**opened)) BOOST_REQUIRE(w.ok);
    sync_points = fault->successful_syncs() - before;
  }
  BOOST_TEST_MESSAGE(backend << ": " << sync_points << " sync points");
  BOOST_REQUIRE(sync_points >= 20u);
  for (uint64_t k = 1; k <= sync_points; ++k) {
    TempDir dir;
    auto fault = std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
    BOOST_REQUIRE(fault->TrackDirectory(dir.Child("db")).ok());  // entries too
    std::vector<CutWrite> writes;
    {
      auto opened = test::TryOpen(options, dir.Child("db"), fault);
      BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
      fault->CutPowerAfterSyncs(static_cast<int>(k));
      writes = RunCutWorkload(**opened);
    }
    BOOST_REQUIRE(fault->DropUnsyncedData().ok());
    auto db = OpenOrDie(options, dir.Child("db"), backend);
    std::vector<bool> present(writes.size());
    for (size_t i = 0; i < writes.size(); ++i) {
      const std::string got = GetOrStatus(*db, writes[i].key);
      present[i] = got != "NOT_FOUND";
      if (present[i]) BOOST_TEST(got.size() == 400u, "cut " << k << ": " << writes[i].key << ": " << got);
      if (writes[i].ok && writes[i].sync) {
        BOOST_TEST(present[i], "cut after sync " << k << ": acknowledged sync write " << writes[i].key
                                                 << " lost");
      }
    }
    for (size_t l = 0; l < writes.size(); ++l) {
      if (!present[l]) continue;
      for (size_t e = 0; e < writes.size(); ++e) {
        if (writes[e].ok && writes[e].acked < writes[l].submitted && !present[e]) {
          BOOST_TEST(false, "cut after sync " << k << ": " << writes[l].key << " survived but "
                                              << writes[e].key << ", acknowledged before it was "
                                              << "written, did not");
        }
      }
    }
  }
}

// A sync group begins behind the group in flight once as many writers are
// queued as that group has, not with the first writer that arrives: a thin
// group started early would cost a whole fdatasync, and it could not end
// before the group ahead anyway. Groups of one still pipeline (two
// fdatasyncs in flight), and a group declined this way begins when the one
// ahead ends. Nothing ends before its sync.
BOOST_DATA_TEST_CASE(SyncGroupBeginsBehindAnotherOnceAsLarge, bdata::make(BackendNames()),
                     backend) {
  GatedDB g(backend);
  g.UpToOneBehindAGroupOfTwo();
  BOOST_REQUIRE(g.WaitSuspendedQueued(1));  // 4 waits
  BOOST_TEST(g.gate->arrived() == 3);
  g.Spawn(5);  // now two: D = {4, 5} begins behind C
  BOOST_REQUIRE(g.WaitArrived(4));
  BOOST_TEST(g.impl().QueuedWritersForTesting() == 0);
  g.gate->Release(2);  // C ends: D, two writers, is in flight
  BOOST_REQUIRE(g.WaitDone(2) && g.WaitDone(3));

  g.Spawn(6);  // declined behind D ...
  BOOST_REQUIRE(g.WaitSuspendedQueued(1));
  BOOST_TEST(g.gate->arrived() == 4);
  for (int i = 4; i <= 6; ++i) BOOST_TEST(!g.done[i].load());  // nothing unsynced ended
  g.gate->Release(3);  // ... and begins once D ends
  BOOST_REQUIRE(g.WaitArrived(5));
  BOOST_TEST(!g.done[6].load());

  g.gate->ReleaseRest();
  BOOST_REQUIRE(g.WaitDone(6));
  for (int i = 0; i <= 6; ++i) {
    BOOST_TEST(g.status[i].ok(), i << ": " << g.status[i].ToString());
    BOOST_TEST(GetOrStatus(*g.db, GatedDB::Key(i)) == "v" + GatedDB::Key(i));
  }
}

// A group declined behind a group whose fdatasync then fails is refused,
// not begun and not left waiting: every writer of both gets the error, and
// no further sync is started.
BOOST_DATA_TEST_CASE(SyncGroupDeclinedBehindAFailedSyncFails, bdata::make(BackendNames()),
                     backend) {
  GatedDB g(backend);
  g.UpToOneBehindAGroupOfTwo();
  BOOST_REQUIRE(g.WaitSuspendedQueued(1));
  g.gate->Fail(2, EIO);  // C's sync
  BOOST_REQUIRE(g.WaitDone(2) && g.WaitDone(3) && g.WaitDone(4));
  for (int i = 2; i <= 4; ++i) BOOST_TEST(g.status[i].IsIOError(), i << ": " << g.status[i].ToString());
  BOOST_TEST(g.gate->arrived() == 3);
  for (int i = 2; i <= 4; ++i) BOOST_TEST(GetOrStatus(*g.db, GatedDB::Key(i)) == "NOT_FOUND");
}

// Close's barrier behind a declined writer: the writer's group begins
// (the barrier stops it from growing), its sync completes, then Close.
BOOST_DATA_TEST_CASE(CloseBehindADeclinedSyncGroupCompletesBoth, bdata::make(BackendNames()),
                     backend) {
  GatedDB g(backend);
  g.UpToOneBehindAGroupOfTwo();
  BOOST_REQUIRE(g.WaitSuspendedQueued(1));
  Status closed;
  std::atomic<bool> close_done{false};
  asio::co_spawn(
      g.ctx,
      [&]() -> asio::awaitable<void> {
        closed = co_await g.db->Close();
        close_done.store(true);
      },
      asio::detached);
  BOOST_REQUIRE(g.WaitArrived(4));  // {4} began behind C
  g.gate->ReleaseRest();
  BOOST_REQUIRE(g.WaitDone(4));
  BOOST_REQUIRE(WaitFor([&] { return close_done.load(); }, 20000));
  BOOST_TEST(g.status[4].ok(), g.status[4].ToString());
  BOOST_TEST(closed.ok(), closed.ToString());
}

BOOST_AUTO_TEST_SUITE_END()

// Holds the next fdatasync started through Start(); the test then fails it.
class HoldOneSync final : public io::Backend {
 public:
  explicit HoldOneSync(std::shared_ptr<io::Backend> inner) : inner_(std::move(inner)) {}
  std::string_view Name() const override { return inner_->Name(); }
  void Start(const asio::any_io_executor& ex, const io::IoRequest& req,
             io::IoHandler handler) override {
    if (req.opcode == io::IoOpcode::kFdatasync) {
      std::unique_lock lock(mu_);
      if (arm_) {
        arm_ = false;
        held_ex_ = ex;
        held_.emplace(std::move(handler));
        return;
      }
      lock.unlock();
      inner_->Start(ex, req, io::IoHandler([this, h = std::move(handler)](io::IoCompletion c) mutable {
        if (c.res == 0) passed_.fetch_add(1);
        std::move(h)(c);
      }));
      return;
    }
    inner_->Start(ex, req, std::move(handler));
  }
  io::IoCompletion RunInline(const io::IoRequest& req) override { return inner_->RunInline(req); }
  void OnOpen(int fd, const std::string& path) override { inner_->OnOpen(fd, path); }
  void OnClose(int fd) override { inner_->OnClose(fd); }

  void HoldNext() { std::lock_guard l(mu_); arm_ = true; }
  bool holding() { std::lock_guard l(mu_); return held_.has_value(); }
  int passed() const { return passed_.load(); }
  // Completes the held sync with -err (it never reached the disk).
  void FailHeld(int err) {
    std::lock_guard l(mu_);
    asio::post(held_ex_, asio::append(std::move(*held_), io::IoCompletion{-err, 0}));
    held_.reset();
  }

 private:
  std::shared_ptr<io::Backend> inner_;
  std::mutex mu_;
  bool arm_ = false;
  asio::any_io_executor held_ex_;
  std::optional<io::IoHandler> held_;
  std::atomic<int> passed_{0};
};

BOOST_AUTO_TEST_SUITE(WriteQueueReviewTest)

// Found by a line-by-line review of the writer-driven commit path; each
// failed on its first version.

// A coroutine that destroys the DB right after its own sync write returns.
// The group is ended by the sync completion on the writer's own context;
// the writer must not be resumed while that thread holds the commit role
// (~DBImpl waits for the role).
BOOST_DATA_TEST_CASE(DestroyAfterSyncWriteInsideWriterCoroutine, bdata::make(BackendNames()), backend) {
  TempDir dir;
  auto db = std::make_shared<std::unique_ptr<DB>>(OpenOrDie(TestOptions(backend), dir.Child("db"), backend));
  BOOST_REQUIRE(Run((*db)->Put({.sync = true}, "warm", "w")).ok());  // grows the log (room task)
  UntilRoleIsFree(**db);
  auto ctx = std::make_shared<asio::io_context>();
  auto done = std::make_shared<std::atomic<bool>>(false);
  auto status = std::make_shared<Status>();
  asio::co_spawn(*ctx, [db, done, status]() -> asio::awaitable<void> {
    Status w = co_await (*db)->Put({.sync = true}, "k", "v");
    *status = w;
    db->reset();  // destroy right after the write, as owners of a DB do
    done->store(true);
  }, asio::detached);
  std::thread runner([ctx] { ctx->run(); });
  if (!WaitFor([&] { return done->load(); }, 20000)) {
    runner.detach();  // deadlocked inside ~DBImpl: leak everything
    new auto(ctx);
    new auto(db);
    BOOST_FAIL("~DBImpl called from the writer's continuation never returned");
  }
  runner.join();
  BOOST_TEST(status->ok(), status->ToString());
}

// A non-sync write commits solo on context A; meanwhile C queues a sync
// write, and A's thread begins C's group. C's fdatasync must complete on C's
// own context (its leader's), not on A's, which nobody runs any more.
BOOST_DATA_TEST_CASE(OtherWritersSyncStartedOnMyContext, bdata::make(BackendNames()), backend) {
  TempDir dir;
  auto db = OpenOrDie(TestOptions(backend), dir.Child("db"), backend);
  auto& impl = static_cast<DBImpl&>(*db);
  BOOST_REQUIRE(Run(db->Put({.sync = true}, "warm", "w")).ok());  // preallocates the log
  UntilRoleIsFree(*db);

  asio::io_context c_ctx;
  auto c_guard = asio::make_work_guard(c_ctx);
  std::thread c_thread([&] { c_ctx.run(); });
  std::atomic<bool> c_done{false};
  Status sc;
  int begins = 0;
  impl.SetBeginGroupHookForTesting([&] {
    if (++begins != 1) return;
    // While A commits solo, C queues a sync write.
    asio::co_spawn(c_ctx, [&]() -> asio::awaitable<void> {
      sc = co_await db->Put({.sync = true}, "c", "vc");
      c_done.store(true);
    }, asio::detached);
    BOOST_REQUIRE(WaitFor([&] { return impl.QueuedWritersForTesting() == 1; }, 20000));
  });

  asio::io_context a_ctx;
  Status sa = Status::IOError("not run");
  asio::co_spawn(a_ctx, [&]() -> asio::awaitable<void> {
    sa = co_await db->Put({}, "a", "va");
  }, asio::detached);
  BOOST_TEST(a_ctx.run_one() == 1u);  // A's write: done without suspending
  BOOST_TEST(sa.ok(), sa.ToString());

  const bool c_completed = WaitFor([&] { return c_done.load(); }, 5000);
  BOOST_TEST(c_completed, "C's sync write did not complete while only C's context and the engine ran");
  a_ctx.run();  // lets C's fdatasync completion run, so the test can clean up
  BOOST_REQUIRE(WaitFor([&] { return c_done.load(); }, 20000));
  BOOST_TEST(sc.ok(), sc.ToString());
  impl.SetBeginGroupHookForTesting(nullptr);
  c_guard.reset();
  c_thread.join();
}

// Prefix order across a log switch when the old log's last sync fails:
// group A (sync, old log) is in flight; C (sync) needs a switch and is
// synced in the new log; then A's fdatasync fails. The switch must have
// synced the old log itself (seeing the error), so that after a power cut
// C never survives without A and the writes before it.
BOOST_DATA_TEST_CASE(SwitchWhileOldLogSyncInFlightKeepsPrefix, bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  options.write_buffer_size = 16 * 1024;
  auto fault = std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
  auto hold = std::make_shared<HoldOneSync>(fault);
  auto opened = test::TryOpen(options, dir.Child("db"), hold);
  BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  std::unique_ptr<DB> db = std::move(opened).value();
  BOOST_REQUIRE(Run(db->Put({.sync = true}, "warm", "w")).ok());
  auto usage = [&] {
    std::string v;
    BOOST_REQUIRE(db->GetProperty("corodb.approximate-memory-usage", &v));
    return std::stoull(v);
  };
  int fills = 0;
  while (usage() + 6000 < options.write_buffer_size) {
    BOOST_REQUIRE(Run(db->Put({}, "n" + std::to_string(fills), std::string(500, 'n'))).ok());
    ++fills;
  }
  asio::io_context ctx;
  auto guard = asio::make_work_guard(ctx);
  std::thread runner([&] { ctx.run(); });
  Status sa = Status::IOError("pending"), sc = Status::IOError("pending");
  std::atomic<int> ended{0};
  hold->HoldNext();
  asio::co_spawn(ctx, [&]() -> asio::awaitable<void> {
    sa = co_await db->Put({.sync = true}, "a", std::string(8000, 'a'));
    ended.fetch_add(1);
  }, asio::detached);
  BOOST_REQUIRE(WaitFor([&] { return hold->holding(); }, 20000));
  // C needs a switch once A is in the memtable: A's fdatasync starts before
  // its memtable insert (which it overlaps), so the insert may still be
  // running on the runner thread when the sync is caught.
  BOOST_REQUIRE(WaitFor([&] { return usage() >= options.write_buffer_size; }, 20000));
  const int passed_before = hold->passed();
  asio::co_spawn(ctx, [&]() -> asio::awaitable<void> {
    sc = co_await db->Put({.sync = true}, "c", "vc");
    ended.fetch_add(1);
  }, asio::detached);
  // New log preallocated and synced, then C's own fdatasync.
  BOOST_REQUIRE(WaitFor([&] { return hold->passed() >= passed_before + 2; }, 20000));
  hold->FailHeld(EIO);
  BOOST_REQUIRE(WaitFor([&] { return ended.load() == 2; }, 20000));
  guard.reset();
  runner.join();
  BOOST_TEST(!sa.ok());
  BOOST_TEST(!sc.ok());
  fault->FailAllSyncs(EIO);
  db.reset();
  fault->FailAllSyncs(0);
  BOOST_REQUIRE(fault->DropUnsyncedData().ok());

  auto reopened = OpenOrDie(options, dir.Child("db"), backend);
  const std::string c = GetOrStatus(*reopened, "c");
  const std::string a = GetOrStatus(*reopened, "a");
  int missing = 0;
  for (int i = 0; i < fills; ++i) {
    if (GetOrStatus(*reopened, "n" + std::to_string(i)) == "NOT_FOUND") ++missing;
  }
  BOOST_TEST_MESSAGE("after power cut: c=" << c << " a=" << (a == "NOT_FOUND" ? a : "present")
                                           << " fills missing " << missing << "/" << fills);
  if (c == "vc") {
    BOOST_TEST(a == std::string(8000, 'a'), "c (later) survived but a (earlier) did not");
    BOOST_TEST(missing == 0, "c survived but " << missing << " earlier acknowledged writes did not");
  }
}

// Preallocation that fails part-way (a short write, then EFBIG) leaves zeros
// behind the last record: Close truncates them too.
BOOST_DATA_TEST_CASE(CloseTruncatesPartialPreallocation, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const Options options = TestOptions(backend);
  std::string log_path;
  {
    WriteQueueTest::FileSizeLimit limit(256 * 1024);
    auto db = OpenOrDie(options, dir.Child("db"), backend);
    for (int i = 0; i < 20; ++i) {
      BOOST_REQUIRE(Run(db->Put({.sync = true}, "k" + std::to_string(i), std::string(100, 'x'))).ok());
    }
    BOOST_REQUIRE(Run(db->Close()).ok());
  }
  uint64_t best = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.Child("db"))) {
    uint64_t number;
    io::FileType type;
    if (io::ParseFileName(e.path().filename().string(), &number, &type) &&
        type == io::FileType::kLogFile) {
      best = std::max(best, number);
    }
  }
  std::ifstream in(io::LogFileName(dir.Child("db"), best), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string log = ss.str();
  BOOST_TEST(log.size() < 8192u, "log is " << log.size() << " bytes after a clean close");
  BOOST_TEST((!log.empty() && log.back() != '\0'), "zero tail after a clean close");
}


BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb

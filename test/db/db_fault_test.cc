// Failures: injected write/sync errors, power cuts, torn and corrupted logs.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>

#include "db/config.h"
#include "db/write_batch_internal.h"
#include "db_test_util.h"
#include "format/dbformat.h"
#include "io/file_names.h"
#include "log/log_reader.h"
#include "log/log_writer.h"
#include "support/temp_dir.h"

namespace corodb {
namespace {

namespace asio = boost::asio;
namespace bdata = boost::unit_test::data;
using test::BackendNames;
using test::GetOrStatus;
using test::OpenOrDie;
using test::Run;
using test::TempDir;
using test::TestOptions;

struct WriteOutcome {
  std::string key;
  Status status;
};

asio::awaitable<void> FaultWriter(DB& db, int writer, int count, bool sync,
                                  std::vector<WriteOutcome>* out) {
  for (int i = 0; i < count; ++i) {
    const std::string key = "k" + std::to_string(writer) + "-" + std::to_string(i);
    WriteOptions wo;
    wo.sync = sync;
    Status s = co_await db.Put(wo, key, "v" + key);
    out->push_back({key, s});
  }
}

// Runs `writers` coroutines on one io_context against `db`, each doing `count` puts.
std::vector<WriteOutcome> RunWriters(DB& db, int writers, int count, bool sync) {
  asio::io_context ctx;
  std::vector<std::vector<WriteOutcome>> per(writers);
  for (int w = 0; w < writers; ++w) {
    asio::co_spawn(ctx, FaultWriter(db, w, count, sync, &per[w]), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
  }
  ctx.run();
  std::vector<WriteOutcome> all;
  for (auto& v : per) all.insert(all.end(), v.begin(), v.end());
  return all;
}

asio::awaitable<void> PutInto(DB& db, WriteOptions wo, std::string key, Status* out) {
  *out = co_await db.Put(wo, key, "v" + key);
}

asio::awaitable<Status> PutStatus(DB& db, std::string key) {
  co_return co_await db.Put({}, key, "v" + key);
}

asio::awaitable<Result<std::string>> GetValue(DB& db, std::string key) {
  co_return co_await db.Get({}, key);
}

BOOST_AUTO_TEST_SUITE(DBFaultTest)

// Group commit is pipelined: a second sync group begins (logged, applied,
// its fdatasync started) while the first group's fdatasync is in flight, but
// neither is visible to readers nor acknowledged before its sync completes,
// and groups end in log order. When the first sync fails, the group already
// in flight behind it fails too, and nothing of either becomes visible.
BOOST_DATA_TEST_CASE(SyncGroupsPipelineButStayInvisibleUntilSynced,
                     bdata::make(BackendNames()) * bdata::make({false, true}), backend, fail_first) {
  TempDir dir;
  const Options options = TestOptions(backend);
  auto fault = std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
  WriteOptions sync;
  sync.sync = true;
  {
    auto opened = test::TryOpen(options, dir.Child("db"), fault);
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    auto& db = **opened;
    BOOST_REQUIRE(Run(db.Put(sync, "warm", "vwarm")).ok());  // grows the log before holding
    if (fail_first) fault->FailNthSync(1, EIO);
    fault->HoldSyncs();

    asio::io_context ctx;
    auto guard = asio::make_work_guard(ctx);
    std::thread writers([&ctx] { ctx.run(); });
    Status sa, sb, sc;
    asio::co_spawn(ctx, PutInto(db, sync, "a", &sa), asio::detached);
    BOOST_REQUIRE(test::WaitFor([&] { return fault->held_syncs() == 1; }, 20000));
    asio::co_spawn(ctx, PutInto(db, sync, "b", &sb), asio::detached);
    // Group b began although group a is not synced: two fdatasyncs in flight,
    // through two file descriptions of the log (each sees writeback errors).
    BOOST_REQUIRE(test::WaitFor([&] { return fault->held_syncs() == 2; }, 20000));
    const std::vector<int> fds = fault->held_sync_fds();
    BOOST_TEST(fds[0] != fds[1]);
    asio::co_spawn(ctx, PutInto(db, WriteOptions{}, "c", &sc), asio::detached);
    // c queues behind the two groups in flight (it may not begin before one ends).
    BOOST_REQUIRE(test::WaitFor([&] { return static_cast<DBImpl&>(db).QueuedWritersForTesting() == 1; }, 20000));
    // Logged and in the memtable, but not synced: invisible.
    BOOST_TEST(GetOrStatus(db, "a") == "NOT_FOUND");
    BOOST_TEST(GetOrStatus(db, "b") == "NOT_FOUND");
    BOOST_TEST(GetOrStatus(db, "c") == "NOT_FOUND");
    BOOST_TEST(GetOrStatus(db, "warm") == "vwarm");

    fault->ReleaseSyncs();
    guard.reset();
    writers.join();
    if (!fail_first) {
      BOOST_TEST(sa.ok());
      BOOST_TEST(sb.ok());
      BOOST_TEST(sc.ok());
      for (const char* key : {"a", "b", "c"}) BOOST_TEST(GetOrStatus(db, key) == std::string("v") + key);
    } else {
      for (const Status* s : {&sa, &sb, &sc}) {
        BOOST_TEST(s->IsIOError());
        BOOST_TEST(s->ToString().find("Input/output error") != std::string::npos);
      }
      for (const char* key : {"a", "b", "c"}) BOOST_TEST(GetOrStatus(db, key) == "NOT_FOUND");
      BOOST_TEST(!Run(db.Put({}, "later", "x")).ok());
    }
  }
  auto db = OpenOrDie(options, dir.Child("db"), backend);
  BOOST_TEST(GetOrStatus(*db, "warm") == "vwarm");
  if (!fail_first) {
    for (const char* key : {"a", "b", "c"}) BOOST_TEST(GetOrStatus(*db, key) == std::string("v") + key);
  } else {
    // a and b were written to the log (their outcome was reported as an error,
    // i.e. unknown); c began after the failure and was never logged.
    BOOST_TEST(GetOrStatus(*db, "c") == "NOT_FOUND");
  }
}

// EIO or ENOSPC in a log write (non-sync writers) or a log sync (sync
// writers) of the commit loop: the group it hits fails with it, then every
// write; reads serve what was acknowledged, and so does a reopen.
BOOST_DATA_TEST_CASE(FailedWalWriteFailsItsGroupThenEveryWrite,
                     bdata::make(BackendNames()) * bdata::make({false, true}) *
                         bdata::make({EIO, ENOSPC}),
                     backend, sync, err) {
  TempDir dir;
  const Options options = TestOptions(backend);
  auto fault = std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
  std::vector<WriteOutcome> outcomes;
  {
    auto opened = test::TryOpen(options, dir.Child("db"), fault);
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    auto& db = **opened;
    BOOST_REQUIRE(Run(db.Put({}, "before", "ok")).ok());
    if (sync) {
      fault->FailNthSync(3, err);
    } else {
      fault->FailNthWrite(5, err);
    }
    outcomes = RunWriters(db, 8, 20, sync);
    size_t ok = 0, failed = 0;
    for (const auto& o : outcomes) {
      if (o.status.ok()) {
        ++ok;
      } else {
        ++failed;
        BOOST_TEST(o.status.IsIOError());
        BOOST_TEST(o.status.ToString().find(std::strerror(err)) != std::string::npos);
        BOOST_TEST(o.status.ToString().find(".log") != std::string::npos);
      }
    }
    BOOST_TEST(ok > 0u);
    BOOST_TEST(failed > 0u);
    BOOST_TEST(fault->faults_injected() == 1u);
    // Background-error state: new writes fail with the same error; reads work.
    Status later = Run(db.Put({}, "after", "x"));
    BOOST_TEST(later.ToString().find(std::strerror(err)) != std::string::npos);
    BOOST_TEST(GetOrStatus(db, "before") == "ok");
    for (const auto& o : outcomes) {
      if (o.status.ok()) BOOST_TEST(GetOrStatus(db, o.key) == "v" + o.key);
    }
  }
  // Reopen without faults: everything acknowledged is there.
  auto db = OpenOrDie(options, dir.Child("db"), backend);
  BOOST_TEST(GetOrStatus(*db, "before") == "ok");
  BOOST_TEST(GetOrStatus(*db, "after") == "NOT_FOUND");
  for (const auto& o : outcomes) {
    if (o.status.ok()) BOOST_TEST(GetOrStatus(*db, o.key) == "v" + o.key);
  }
}

// A power cut (drop everything not fdatasync'ed) loses no acknowledged sync write.
BOOST_DATA_TEST_CASE(PowerCutKeepsAcknowledgedSyncWrites, bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  options.write_buffer_size = 32 * 1024;  // several logs
  auto fault = std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
  BOOST_REQUIRE(fault->TrackDirectory(dir.Child("db")).ok());  // entries too
  std::vector<std::string> synced;
  {
    auto opened = test::TryOpen(options, dir.Child("db"), fault);
    BOOST_REQUIRE(opened.ok());
    auto& db = **opened;
    for (int i = 0; i < 2000; ++i) {
      const std::string key = "key" + std::to_string(i);
      WriteOptions wo;
      wo.sync = (i % 10 == 0);
      BOOST_REQUIRE(Run(db.Put(wo, key, std::string(50, 'a' + i % 26))).ok());
      if (wo.sync) synced.push_back(key);
    }
    // Unsynced tail after the last sync.
    for (int i = 2000; i < 2050; ++i) {
      BOOST_REQUIRE(Run(db.Put({}, "key" + std::to_string(i), "tail")).ok());
    }
  }
  BOOST_REQUIRE(fault->DropUnsyncedData().ok());
  auto db = OpenOrDie(options, dir.Child("db"), backend);
  for (const auto& key : synced) {
    const int i = std::stoi(key.substr(3));
    BOOST_TEST(GetOrStatus(*db, key) == std::string(50, 'a' + i % 26));
  }
  // Writes before the last sync in the same log were made durable by it too.
  BOOST_TEST(GetOrStatus(*db, "key1990") == std::string(50, 'a' + 1990 % 26));
}

// A group that fails while an earlier group's sync is in flight fails alone:
// the earlier group still ends normally (acknowledged, visible), and only
// then does the database enter the background-error state.
BOOST_DATA_TEST_CASE(LaterGroupFailureDoesNotFailEarlierGroupInFlight, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const Options options = TestOptions(backend);
  auto fault = std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
  WriteOptions sync;
  sync.sync = true;
  Status sa, sb;
  {
    auto opened = test::TryOpen(options, dir.Child("db"), fault);
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    auto& db = **opened;
    BOOST_REQUIRE(Run(db.Put(sync, "warm", "vwarm")).ok());
    fault->HoldSyncs();
    asio::io_context ctx;
    auto guard = asio::make_work_guard(ctx);
    std::thread writers([&ctx] { ctx.run(); });
    asio::co_spawn(ctx, PutInto(db, sync, "a", &sa), asio::detached);
    BOOST_REQUIRE(test::WaitFor([&] { return fault->held_syncs() == 1; }, 20000));
    fault->FailNthWrite(1, EIO);  // group b's log append
    asio::co_spawn(ctx, PutInto(db, sync, "b", &sb), asio::detached);
    BOOST_REQUIRE(test::WaitFor([&] { return fault->faults_injected() == 1; }, 20000));
    fault->ReleaseSyncs();
    guard.reset();
    writers.join();
    BOOST_TEST(sa.ok(), sa.ToString());
    BOOST_TEST(sb.IsIOError(), sb.ToString());
    BOOST_TEST(GetOrStatus(db, "a") == "va");
    BOOST_TEST(GetOrStatus(db, "b") == "NOT_FOUND");
    BOOST_TEST(!Run(db.Put({}, "later", "x")).ok());  // background error now
  }
  auto db = OpenOrDie(options, dir.Child("db"), backend);
  BOOST_TEST(GetOrStatus(*db, "a") == "va");
}

// Writers on the engine's own context (Options::engine_context) are resumed
// inline by the commit loop. When a writer's co_spawn handler rethrows, the
// exception leaves io_context::run() as Asio promises, and the database is
// unaffected: the other writer of the group completes, later writes work.
BOOST_DATA_TEST_CASE(ThrowingWriterHandlerLeavesRunNotTheCommitLoop, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  asio::io_context ctx;
  options.engine_context = &ctx;
  auto opened = test::RunOn(ctx, OpenDBWithBackend(options, dir.Child("db"),
                                                   test::MakeBackendByName(backend)));
  BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  DB& db = **opened;
  Status sa, sb;
  asio::co_spawn(ctx, PutInto(db, WriteOptions{}, "a", &sa), [](std::exception_ptr) {
    throw std::runtime_error("thrown by a writer's handler");
  });
  asio::co_spawn(ctx, PutInto(db, WriteOptions{}, "b", &sb), asio::detached);
  bool threw = false;
  try {
    ctx.restart();
    ctx.run();
  } catch (const std::runtime_error& e) {
    threw = std::string(e.what()) == "thrown by a writer's handler";
  }
  BOOST_TEST(threw);
  ctx.restart();
  ctx.run();
  BOOST_TEST(sa.ok(), sa.ToString());
  BOOST_TEST(sb.ok(), sb.ToString());
  BOOST_TEST(test::RunOn(ctx, PutStatus(db, "c")).ok());
  for (const char* key : {"a", "b", "c"}) {
    Result<std::string> got = test::RunOn(ctx, GetValue(db, key));
    BOOST_TEST((got.ok() && *got == std::string("v") + key), key);
  }
  BOOST_TEST(test::RunOn(ctx, db.Close()).ok());
}

// Many sync writers with a tiny write buffer: groups are pipelined across log
// switches (a sync still in flight on the old log while the next group goes
// to the new one). After a power cut every acknowledged write is there.
BOOST_DATA_TEST_CASE(PowerCutWithPipelinedGroupsAcrossLogSwitches, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  options.write_buffer_size = 16 * 1024;
  auto fault = std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
  std::vector<WriteOutcome> outcomes;
  std::string stats;
  {
    auto opened = test::TryOpen(options, dir.Child("db"), fault);
    BOOST_REQUIRE(opened.ok());
    outcomes = RunWriters(**opened, 16, 60, /*sync=*/true);
    BOOST_REQUIRE((*opened)->GetProperty("corodb.stats", &stats));
  }
  BOOST_TEST_MESSAGE(stats);
  BOOST_TEST(stats.find("memtable_switches: 0\n") == std::string::npos);
  for (const auto& o : outcomes) BOOST_REQUIRE(o.status.ok());
  BOOST_REQUIRE(fault->DropUnsyncedData().ok());
  auto db = OpenOrDie(options, dir.Child("db"), backend);
  for (const auto& o : outcomes) BOOST_TEST(GetOrStatus(*db, o.key) == "v" + o.key);
}

// Non-sync log bytes are made durable by background fdatasyncs, one per
// config::kWalWritebackChunk, so the switch's own sync finds little to do.
// They are off the writers' path (writes complete while one is held), one
// at a time (more bytes while one is in flight start no second), and go
// through a file description of their own: not the two the sync groups take
// in turn, so none of those can lose a writeback error to it.
BOOST_DATA_TEST_CASE(NonSyncLogBytesAreSyncedInTheBackgroundOneAtATime, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  options.write_buffer_size = 64 << 20;  // one log throughout
  // Sync writes then grow the log without a held zero-fill sync of their own.
  options.paranoid_checks = true;
  auto fault = std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
  auto opened = test::TryOpen(options, dir.Child("db"), fault);
  BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  DB& db = **opened;
  const std::string value(1000, 'v');
  auto key = [](int i) { return "key" + std::to_string(i); };
  const uint64_t syncs_before = fault->successful_syncs();
  fault->HoldSyncs();
  int written = 0;
  while (fault->held_syncs() == 0 && written < 4000) {
    BOOST_REQUIRE(Run(db.Put({}, key(written++), value)).ok());
  }
  BOOST_REQUIRE_EQUAL(fault->held_syncs(), 1u);
  BOOST_TEST(test::Stat(db, "wal_background_syncs") == 1u);
  // Not before a chunk of log bytes (each record is 1000 B and a few dozen).
  BOOST_TEST(static_cast<size_t>(written) * 1100 >= config::kWalWritebackChunk);
  // Twice as many bytes again while it is held: writes go on, no second sync.
  for (int end = 3 * written; written < end; ++written) {
    BOOST_REQUIRE(Run(db.Put({}, key(written), value)).ok());
  }
  BOOST_TEST(fault->held_syncs() == 1u);
  BOOST_TEST(test::Stat(db, "wal_background_syncs") == 1u);

  // Two sync groups in flight beside it: three descriptions of the log.
  Status sa, sb;
  asio::io_context ctx;
  auto guard = asio::make_work_guard(ctx);
  std::thread writers([&ctx] { ctx.run(); });
  WriteOptions sync;
  sync.sync = true;
  asio::co_spawn(ctx, PutInto(db, sync, "a", &sa), asio::detached);
  BOOST_REQUIRE(test::WaitFor([&] { return fault->held_syncs() == 2; }, 20000));
  asio::co_spawn(ctx, PutInto(db, sync, "b", &sb), asio::detached);
  BOOST_REQUIRE(test::WaitFor([&] { return fault->held_syncs() == 3; }, 20000));
  std::vector<int> fds = fault->held_sync_fds();
  // Nor the appending one, whose syncs (the switch's, Close's) must still
  // see an error the background sync met.
  fds.push_back(static_cast<DBImpl&>(db).LogFdForTesting());
  std::sort(fds.begin(), fds.end());
  BOOST_TEST(fds.front() >= 0);
  BOOST_TEST((std::adjacent_find(fds.begin(), fds.end()) == fds.end()));
  fault->ReleaseSyncs();
  guard.reset();
  writers.join();
  BOOST_TEST(sa.ok(), sa.ToString());
  BOOST_TEST(sb.ok(), sb.ToString());

  // Once it has completed, the next chunk starts the next one.
  BOOST_REQUIRE(test::WaitFor([&] { return fault->successful_syncs() >= syncs_before + 3; }, 20000));
  const int more = written + 2 * static_cast<int>(config::kWalWritebackChunk / 1000);
  while (test::Stat(db, "wal_background_syncs") < 2 && written < more) {
    BOOST_REQUIRE(Run(db.Put({}, key(written++), value)).ok());
  }
  BOOST_TEST(test::Stat(db, "wal_background_syncs") == 2u);
  BOOST_TEST(GetOrStatus(db, key(0)) == value);
  BOOST_TEST(GetOrStatus(db, key(written - 1)) == value);
}

// Close to a memtable switch, background syncs come every
// config::kWalPreSwitchChunk instead of every kWalWritebackChunk, so the
// switch's own fdatasync finds little left. Each background sync is let
// complete before the next write, so that none is skipped as in flight.
BOOST_DATA_TEST_CASE(BackgroundLogSyncsComeCloserNearTheSwitch, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  options.write_buffer_size = 4 << 20;  // near the switch: its last 256 KiB
  options.paranoid_checks = true;       // no preallocation syncs
  auto opened = OpenOrDie(options, dir.Child("db"), backend);
  DB& db = *opened;
  const std::string value(1000, 'v');
  std::vector<int> starts;  // records logged when each background sync started
  int written = 0;
  for (;;) {
    BOOST_REQUIRE(written < 8000);
    const uint64_t before = test::Stat(db, "wal_background_syncs");
    BOOST_REQUIRE(Run(db.Put({}, "key" + std::to_string(written++), value)).ok());
    if (test::Stat(db, "memtable_switches") != 0) break;
    if (test::Stat(db, "wal_background_syncs") > before) {
      starts.push_back(written);
      BOOST_REQUIRE(test::WaitFor(
          [&] { return test::Stat(db, "wal_background_sync_running") == 0; }, 20000));
    }
  }
  const int in_log = written - 1;  // the last Put went to the new log
  // Records are 1000 B and a few dozen in the log, more in the memtable.
  const int chunk_records = static_cast<int>(config::kWalPreSwitchChunk / 1000) + 1;
  const int window_records = static_cast<int>(config::kWalPreSwitchRoom / 1000) + 1;
  const int mib_records = static_cast<int>(config::kWalWritebackChunk / 1100);
  std::ostringstream seen;
  for (int at : starts) seen << at << ' ';
  seen << "of " << in_log;
  BOOST_TEST_INFO(seen.str());
  BOOST_REQUIRE(starts.size() >= 3u);
  // A MiB apart until the window (not every 64 KiB throughout)...
  BOOST_TEST(starts[0] >= mib_records);
  // ...then at most a chunk apart, and the last at most a chunk before the switch.
  int close = 0;
  for (size_t i = 1; i < starts.size(); ++i) {
    if (starts[i] - starts[i - 1] > chunk_records) continue;
    ++close;
    BOOST_TEST(in_log - starts[i] <= window_records, "a close sync outside the window: " << starts[i]);
  }
  BOOST_TEST(close >= 2);
  BOOST_TEST(in_log - starts.back() <= chunk_records);
}

// A sync group's fdatasync covers every log byte before it: the background
// sync's chunk is counted again from there, not from the last background sync.
BOOST_DATA_TEST_CASE(ASyncWriteRestartsTheBackgroundSyncChunk, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  options.write_buffer_size = 64 << 20;  // one log throughout
  options.paranoid_checks = true;        // no preallocation syncs
  auto opened = test::TryOpen(options, dir.Child("db"), test::MakeBackendByName(backend));
  BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  DB& db = **opened;
  const std::string value(1000, 'v');
  auto key = [](int i) { return "key" + std::to_string(i); };
  // Records are 1000 B and a few dozen: 3/4 of a chunk, a sync write, 3/4 again.
  const int per_chunk = static_cast<int>(config::kWalWritebackChunk / 1000);
  int written = 0;
  for (; written < per_chunk * 3 / 4; ++written) {
    BOOST_REQUIRE(Run(db.Put({}, key(written), value)).ok());
  }
  WriteOptions sync;
  sync.sync = true;
  BOOST_REQUIRE(Run(db.Put(sync, "synced", value)).ok());
  for (const int end = written + per_chunk * 3 / 4; written < end; ++written) {
    BOOST_REQUIRE(Run(db.Put({}, key(written), value)).ok());
  }
  BOOST_TEST(test::Stat(db, "wal_background_syncs") == 0u);
  // A chunk after the sync write, the first background sync starts.
  while (test::Stat(db, "wal_background_syncs") == 0 && written < 3 * per_chunk) {
    BOOST_REQUIRE(Run(db.Put({}, key(written++), value)).ok());
  }
  BOOST_TEST(test::Stat(db, "wal_background_syncs") == 1u);
  // Not before a chunk of bytes after the sync write (each record is 1000 B and a few dozen).
  BOOST_TEST(static_cast<size_t>(written - per_chunk * 3 / 4) * 1100 >= config::kWalWritebackChunk);
}

// Close() returns only after the log's last background sync has ended: its
// completion may not outlive the DB (nor keep a held sync past the engine's
// context). The log itself is closed (synced) first.
BOOST_DATA_TEST_CASE(CloseWaitsForTheBackgroundLogSync, bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  options.write_buffer_size = 64 << 20;
  auto fault = std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
  const std::string value(1000, 'v');
  auto key = [](int i) { return "key" + std::to_string(i); };
  int written = 0;
  {
    auto opened = test::TryOpen(options, dir.Child("db"), fault);
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    DB& db = **opened;
    fault->HoldSyncs();
    while (fault->held_syncs() == 0 && written < 4000) {
      BOOST_REQUIRE(Run(db.Put({}, key(written++), value)).ok());
    }
    BOOST_REQUIRE_EQUAL(fault->held_syncs(), 1u);
    std::atomic<bool> closed{false};
    Status close_status;
    std::thread closer([&] {
      close_status = Run(db.Close());
      closed.store(true);
    });
    auto log_says_closed = [&] {
      std::ifstream in(dir.Child("db") + "/LOG");
      const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      return text.find("closed; ") != std::string::npos;
    };
    BOOST_REQUIRE(test::WaitFor(log_says_closed, 20000));
    BOOST_TEST(!closed.load());
    BOOST_TEST(fault->held_syncs() == 1u);
    fault->ReleaseSyncs();
    closer.join();
    BOOST_TEST(close_status.ok(), close_status.ToString());
  }
  auto db = OpenOrDie(options, dir.Child("db"), backend);
  BOOST_TEST(GetOrStatus(*db, key(0)) == value);
  BOOST_TEST(GetOrStatus(*db, key(written - 1)) == value);
}

// A background log sync that fails (EIO, ENOSPC) means logged bytes may not
// reach the disk: the groups that begin after it fail with its error, which
// names the log, and so does every later write; the writes acknowledged
// before it stay readable, and a reopen has them all.
BOOST_DATA_TEST_CASE(FailedBackgroundLogSyncFailsLaterWrites,
                     bdata::make(BackendNames()) * bdata::make({EIO, ENOSPC}), backend, err) {
  TempDir dir;
  Options options = TestOptions(backend);
  options.write_buffer_size = 64 << 20;
  auto fault = std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
  const std::string value(1000, 'v');
  auto key = [](int i) { return "key" + std::to_string(i); };
  int acknowledged = 0;
  Status failed;
  {
    auto opened = test::TryOpen(options, dir.Child("db"), fault);
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    DB& db = **opened;
    fault->FailNthSync(1, err, [](const std::string& path) {
      return path.size() > 4 && path.compare(path.size() - 4, 4, ".log") == 0;
    });
    // The failure arrives on the engine's thread some time after the first
    // chunk; writes go on until a group begins after it.
    const int bound = 64 * static_cast<int>(config::kWalWritebackChunk / 1000);
    while (acknowledged < bound) {
      failed = Run(db.Put({}, key(acknowledged), value));
      if (!failed.ok()) break;
      ++acknowledged;
    }
    BOOST_REQUIRE_MESSAGE(!failed.ok(), "no write failed after " << acknowledged);
    BOOST_TEST(fault->faults_injected() == 1u);
    // A second may start in the group that checked just before the first's
    // failure arrived; no group begins after it.
    BOOST_TEST(test::Stat(db, "wal_background_syncs") >= 1u);
    BOOST_TEST(test::Stat(db, "wal_background_syncs") <= 2u);
    BOOST_TEST(failed.IsIOError(), failed.ToString());
    BOOST_TEST(failed.ToString().find(std::strerror(err)) != std::string::npos, failed.ToString());
    BOOST_TEST(failed.ToString().find(".log") != std::string::npos, failed.ToString());
    BOOST_TEST(failed.ToString().find("fdatasync") != std::string::npos, failed.ToString());
    // A sync covers the whole file; its own description appended nothing.
    BOOST_TEST(failed.ToString().find("offset") == std::string::npos, failed.ToString());
    BOOST_TEST(static_cast<size_t>(acknowledged) * 1100 >= config::kWalWritebackChunk);
    const Status later = Run(db.Put({.sync = true}, "later", "x"));
    BOOST_TEST(later.ToString() == failed.ToString());
    // Nor does a flush request switch the memtable to a new log.
    const uint64_t switches = test::Stat(db, "memtable_switches");
    const Status compacted = Run(db.CompactRange(nullptr, nullptr));
    BOOST_TEST(compacted.ToString() == failed.ToString());
    BOOST_TEST(test::Stat(db, "memtable_switches") == switches);
    BOOST_TEST(GetOrStatus(db, key(0)) == value);
    BOOST_TEST(GetOrStatus(db, key(acknowledged - 1)) == value);
    BOOST_TEST(GetOrStatus(db, key(acknowledged)) == "NOT_FOUND");
  }
  auto db = OpenOrDie(options, dir.Child("db"), backend);
  for (int i = 0; i < acknowledged; ++i) {
    if (GetOrStatus(*db, key(i)) != value) {
      BOOST_ERROR("acknowledged write " << key(i) << " lost: " << GetOrStatus(*db, key(i)));
      break;
    }
  }
  BOOST_TEST(GetOrStatus(*db, "later") == "NOT_FOUND");
}

BOOST_AUTO_TEST_SUITE_END()

std::string LogPath(const std::string& dir) {
  auto names = io::ListDir(dir);
  BOOST_REQUIRE(names.ok());
  uint64_t best = 0;
  for (const auto& n : *names) {
    uint64_t number;
    io::FileType type;
    if (io::ParseFileName(n, &number, &type) && type == io::FileType::kLogFile) best = std::max(best, number);
  }
  BOOST_REQUIRE(best > 0);
  return io::LogFileName(dir, best);
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

BOOST_AUTO_TEST_SUITE(DBLogDamageTest)

// Truncating the log anywhere inside its last record (a crash mid-write)
// loses only that record, with or without paranoid checks.
BOOST_DATA_TEST_CASE(TornTailAtEveryOffsetLosesOnlyLastRecord, bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  const std::string db_dir = dir.Child("db");
  std::string log_path;
  size_t before_last = 0;
  {
    auto db = OpenOrDie(options, db_dir, backend);
    for (int i = 0; i < 5; ++i) BOOST_REQUIRE(Run(db->Put({}, "k" + std::to_string(i), "v")).ok());
    log_path = LogPath(db_dir);
    before_last = Slurp(log_path).size();
    BOOST_REQUIRE(Run(db->Put({}, "last", std::string(300, 'z'))).ok());
  }
  const std::string full = Slurp(log_path);
  const std::string backup = dir.Child("backup");
  std::filesystem::copy(db_dir, backup, std::filesystem::copy_options::recursive);
  for (size_t cut = before_last; cut < full.size(); cut += (cut < before_last + 10 ? 1 : 37)) {
    for (bool paranoid : {false, true}) {
      std::filesystem::remove_all(db_dir);
      std::filesystem::copy(backup, db_dir, std::filesystem::copy_options::recursive);
      WriteFile(log_path, full.substr(0, cut));
      options.paranoid_checks = paranoid;
      auto db = test::TryOpen(options, db_dir, test::MakeBackendByName(backend));
      BOOST_TEST_CONTEXT("cut at " << cut << " paranoid " << paranoid) {
        BOOST_REQUIRE_MESSAGE(db.ok(), db.status().ToString());
        BOOST_TEST(GetOrStatus(**db, "k4") == "v");
        BOOST_TEST(GetOrStatus(**db, "last") == "NOT_FOUND");
      }
    }
  }
}

// A flipped byte before the tail: paranoid_checks fails Open with Corruption
// naming the log and offset; otherwise the damaged block's records are
// skipped (logged) and records in other blocks survive.
BOOST_DATA_TEST_CASE(FlippedByteIsCorruptionOrSkipped, bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  const std::string db_dir = dir.Child("db");
  {
    auto db = OpenOrDie(options, db_dir, backend);
    // ~40 records of 2 KiB: the log spans three 32 KiB blocks.
    for (int i = 0; i < 40; ++i) {
      BOOST_REQUIRE(Run(db->Put({}, "k" + std::to_string(i), std::string(2000, 'a' + i % 26))).ok());
    }
  }
  const std::string log_path = LogPath(db_dir);
  std::string data = Slurp(log_path);
  BOOST_REQUIRE(data.size() > 3 * 32768 / 2);
  data[100] ^= 0x40;  // inside the first record of the first block
  WriteFile(log_path, data);

  options.paranoid_checks = true;
  auto strict = test::TryOpen(options, db_dir, test::MakeBackendByName(backend));
  BOOST_REQUIRE(!strict.ok());
  BOOST_TEST(strict.status().IsCorruption());
  BOOST_TEST(strict.status().ToString().find(".log") != std::string::npos);
  BOOST_TEST(strict.status().ToString().find("offset") != std::string::npos);

  options.paranoid_checks = false;
  auto lenient = test::TryOpen(options, db_dir, test::MakeBackendByName(backend));
  BOOST_REQUIRE_MESSAGE(lenient.ok(), lenient.status().ToString());
  BOOST_TEST(GetOrStatus(**lenient, "k0") == "NOT_FOUND");
  BOOST_TEST(GetOrStatus(**lenient, "k39") == std::string(2000, 'a' + 39 % 26));
  lenient->reset();
  const std::string info = Slurp(dir.Child("db/LOG.old")) + Slurp(dir.Child("db/LOG"));
  BOOST_TEST(info.find("dropping") != std::string::npos);
}

// A database whose log holds "a" = "old" and then `forged` at sequence
// `first`, a well-formed record (a forged one, or damage the checksum
// cannot see).
void WriteForgedLog(const Options& options, const std::string& db_dir, const std::string& backend,
                    WriteBatch forged, SequenceNumber first) {
  {
    auto db = OpenOrDie(options, db_dir, backend);
    BOOST_REQUIRE(Run(db->Put({}, "a", "old")).ok());
  }
  const std::string log_path = LogPath(db_dir);
  std::string data = Slurp(log_path);
  WriteBatchInternal::SetSequence(&forged, first);
  log::Writer writer(data.size());
  writer.AddRecord(WriteBatchInternal::Contents(forged), &data);
  WriteFile(log_path, data);
}

// A logged batch whose sequence numbers run past 2^56 - 1 (a damaged or
// forged record; keys carry 56-bit sequences): paranoid_checks fails Open
// with Corruption naming the log and offset; otherwise the record is
// skipped. Never inserted with wrapped sequences: a later write of a key
// must shadow its older value, not hide behind it.
BOOST_DATA_TEST_CASE(SequencePastTheLargestIsCorruptionNotWrapped, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  const std::string db_dir = dir.Child("db");
  WriteBatch forged;
  forged.Put("x", "1");
  forged.Put("y", "2");  // sequence 2^56: past the largest
  WriteForgedLog(options, db_dir, backend, forged, kMaxSequenceNumber);
  const std::string backup = dir.Child("backup");
  std::filesystem::copy(db_dir, backup, std::filesystem::copy_options::recursive);

  options.paranoid_checks = true;
  auto strict = test::TryOpen(options, db_dir, test::MakeBackendByName(backend));
  BOOST_REQUIRE(!strict.ok());
  BOOST_TEST(strict.status().IsCorruption(), strict.status().ToString());
  BOOST_TEST(strict.status().ToString().find(".log at offset") != std::string::npos,
             strict.status().ToString());
  BOOST_TEST(strict.status().ToString().find("sequence") != std::string::npos,
             strict.status().ToString());

  std::filesystem::remove_all(db_dir);
  std::filesystem::copy(backup, db_dir, std::filesystem::copy_options::recursive);
  options.paranoid_checks = false;
  {
    auto lenient = test::TryOpen(options, db_dir, test::MakeBackendByName(backend));
    BOOST_REQUIRE_MESSAGE(lenient.ok(), lenient.status().ToString());
    BOOST_TEST(GetOrStatus(**lenient, "x") == "NOT_FOUND");
    BOOST_TEST(GetOrStatus(**lenient, "y") == "NOT_FOUND");
    BOOST_TEST(GetOrStatus(**lenient, "a") == "old");
    BOOST_REQUIRE(Run((*lenient)->Put({}, "a", "new")).ok());
    BOOST_TEST(GetOrStatus(**lenient, "a") == "new");
  }
  auto again = test::TryOpen(options, db_dir, test::MakeBackendByName(backend));
  BOOST_REQUIRE_MESSAGE(again.ok(), again.status().ToString());
  BOOST_TEST(GetOrStatus(**again, "a") == "new");
}

// A logged batch that ends exactly at 2^56 - 1 is accepted by the replay;
// the next write would need sequence 2^56, which wraps to 0 in its tag (it
// hid older data from reads and was Corruption at the next Open): it is
// refused, and nothing is lost across a reopen.
BOOST_DATA_TEST_CASE(WriteAfterTheLargestSequenceNeverWraps, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  const std::string db_dir = dir.Child("db");
  WriteBatch forged;
  forged.Put("x", "1");  // sequence 2^56 - 1: the largest, accepted
  WriteForgedLog(options, db_dir, backend, forged, kMaxSequenceNumber);

  {
    auto db = test::TryOpen(options, db_dir, test::MakeBackendByName(backend));
    BOOST_REQUIRE_MESSAGE(db.ok(), db.status().ToString());
    // No sequence is left: the write is refused, never logged with a
    // wrapped sequence (which hid "a" from reads and was Corruption at the
    // next Open).
    const Status put = Run((*db)->Put({}, "b", "new"));
    BOOST_TEST(put.IsCorruption(), put.ToString());
    BOOST_TEST(put.ToString().find("no sequence numbers left") != std::string::npos,
               put.ToString());
    BOOST_TEST(GetOrStatus(**db, "a") == "old");
    BOOST_TEST(GetOrStatus(**db, "x") == "1");
    BOOST_TEST(GetOrStatus(**db, "b") == "NOT_FOUND");
  }
  options.paranoid_checks = true;
  auto again = test::TryOpen(options, db_dir, test::MakeBackendByName(backend));
  BOOST_REQUIRE_MESSAGE(again.ok(), again.status().ToString());
  BOOST_TEST(GetOrStatus(**again, "a") == "old");
  BOOST_TEST(GetOrStatus(**again, "x") == "1");
  BOOST_TEST(GetOrStatus(**again, "b") == "NOT_FOUND");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb

namespace corodb {
namespace {

// Sync writes go to preallocated (zero-filled, synced) log space. A crash
// that persists only part of the last record leaves it torn in front of
// zeros: a torn tail, also under paranoid_checks. Damage to an earlier
// record, with records after it, stays corruption.
BOOST_AUTO_TEST_SUITE(DBPreallocatedLogTest)

BOOST_DATA_TEST_CASE(PreallocatedLogTornRecordVersusCorruption, bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  const std::string db_dir = dir.Child("db");
  std::string log_path, data;
  {
    auto db = OpenOrDie(options, db_dir, backend);
    for (int i = 0; i < 20; ++i) {
      BOOST_REQUIRE(Run(db->Put({.sync = true}, "s" + std::to_string(i), std::string(200, 'a' + i))).ok());
    }
    // The log as a crash leaves it (a clean close truncates the zeros).
    log_path = LogPath(db_dir);
    data = Slurp(log_path);
  }
  BOOST_REQUIRE(data.size() >= (1u << 20));  // preallocated
  BOOST_TEST(Slurp(log_path).size() < 8192u);  // truncated by the clean close
  size_t last_nonzero = data.find_last_not_of('\0');
  BOOST_REQUIRE(last_nonzero != std::string::npos);
  const std::string backup = dir.Child("backup");
  std::filesystem::copy(db_dir, backup, std::filesystem::copy_options::recursive);
  auto restore = [&](const std::string& contents) {
    std::filesystem::remove_all(db_dir);
    std::filesystem::copy(backup, db_dir, std::filesystem::copy_options::recursive);
    WriteFile(log_path, contents);
  };
  for (bool paranoid : {false, true}) {
    options.paranoid_checks = paranoid;
    // Torn last record: its second half never reached the disk.
    std::string torn = data;
    std::fill(torn.begin() + static_cast<std::ptrdiff_t>(last_nonzero - 100), torn.begin() + static_cast<std::ptrdiff_t>(last_nonzero + 1), '\0');
    restore(torn);
    {
      auto db = test::TryOpen(options, db_dir, test::MakeBackendByName(backend));
      BOOST_TEST_CONTEXT("torn, paranoid " << paranoid) {
        BOOST_REQUIRE_MESSAGE(db.ok(), db.status().ToString());
        BOOST_TEST(GetOrStatus(**db, "s18") == std::string(200, 'a' + 18));
        BOOST_TEST(GetOrStatus(**db, "s19") == "NOT_FOUND");
      }
    }
    // A flipped byte in an early record, with 15 good records after it.
    std::string flipped = data;
    flipped[1000] ^= 0x10;
    restore(flipped);
    auto db = test::TryOpen(options, db_dir, test::MakeBackendByName(backend));
    BOOST_TEST_CONTEXT("flipped, paranoid " << paranoid) {
      if (paranoid) {
        BOOST_REQUIRE(!db.ok());
        BOOST_TEST(db.status().IsCorruption());
      } else {
        BOOST_REQUIRE(db.ok());
        BOOST_TEST(GetOrStatus(**db, "s0") == std::string(200, 'a'));
      }
    }
  }
}

// Where each record of an in-memory log starts and ends (parsed with the
// log reader, so the tests never decode framing themselves).
struct RecordSpan {
  uint64_t offset;
  uint64_t end;
};
std::vector<RecordSpan> RecordSpans(const std::string& log) {
  log::RecordParser parser("spans.log", nullptr, /*checksum=*/true);
  std::vector<RecordSpan> spans;
  std::string record;
  for (;;) {
    switch (parser.Next(&record)) {
      case log::RecordParser::Step::kRecord:
        spans.push_back({parser.LastRecordOffset(), parser.EndOfLastRecord()});
        break;
      case log::RecordParser::Step::kNeedBlock: {
        const uint64_t at = parser.NextBlockOffset();
        parser.FeedBlock(at >= log.size() ? Slice() : Slice(log).substr(at, log::kBlockSize));
        break;
      }
      case log::RecordParser::Step::kEndOfLog:
        return spans;
    }
  }
}

// Writes sync puts "p0", "p1", ... with `value_size`-byte values into a
// preallocated log (paranoid_checks off while writing: sync groups then grow
// the log in zero-filled chunks) until `done(spans)` holds; returns the log.
template <typename Done>
std::string WritePreallocatedLog(const std::string& backend, const std::string& db_dir,
                                 size_t value_size, Done done) {
  Options options = TestOptions(backend);
  options.paranoid_checks = false;
  // Through a backend that sees every write, so no group is copied through
  // a mapping of the log (whose last window would decide the file's size):
  // the log's size is the preallocation's.
  auto opened = test::TryOpen(options, db_dir,
                              std::make_shared<io::FaultInjectionBackend>(
                                  test::MakeBackendByName(backend)));
  BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  std::unique_ptr<DB> db = std::move(opened).value();
  for (int i = 0; i < 10000; ++i) {
    BOOST_REQUIRE(Run(db->Put({.sync = true}, "p" + std::to_string(i),
                              std::string(value_size, static_cast<char>('a' + i % 26))))
                      .ok());
    if (done(RecordSpans(Slurp(LogPath(db_dir))))) break;
  }
  // The log as a crash leaves it: a clean close would truncate the zeros.
  const std::string path = LogPath(db_dir);
  const std::string crashed = Slurp(path);
  db.reset();
  WriteFile(path, crashed);
  return path;
}

std::string PValue(size_t value_size, int i) {
  return std::string(value_size, static_cast<char>('a' + i % 26));
}

// (a) A damaged payload byte of record 1 in block 0; the only record after it
// is a FULL record in block 1, which the reader returns in the same call
// that drops block 0's rest; zeros follow. That is damage in the middle of
// the log, not a torn tail.
BOOST_DATA_TEST_CASE(DamageBeforeARecordInALaterBlockIsCorruption, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const std::string db_dir = dir.Child("db");
  constexpr size_t kValue = 2000;
  const std::string log_path = WritePreallocatedLog(backend, db_dir, kValue, [](const auto& spans) {
    return spans.back().offset >= log::kBlockSize;
  });
  std::string data = Slurp(log_path);
  const std::vector<RecordSpan> spans = RecordSpans(data);
  const size_t n = spans.size();
  BOOST_REQUIRE(n >= 3u);
  BOOST_REQUIRE(data.size() % config::kWalPreallocChunk == 0);
  // Exactly one record starts in block 1: the last one, a FULL record.
  BOOST_REQUIRE(spans[n - 2].offset < log::kBlockSize);
  BOOST_REQUIRE(spans[n - 1].end < 2 * log::kBlockSize);
  data[spans[1].offset + log::kHeaderSize + 20] ^= 0x10;
  WriteFile(log_path, data);

  Options options = TestOptions(backend);
  options.paranoid_checks = true;
  auto strict = test::TryOpen(options, db_dir, test::MakeBackendByName(backend));
  BOOST_REQUIRE_MESSAGE(!strict.ok(), "mid-log damage taken for a torn tail");
  BOOST_TEST(strict.status().IsCorruption(), strict.status().ToString());
  BOOST_TEST(strict.status().ToString().find(log_path + ": offset " + std::to_string(spans[1].offset)) !=
                 std::string::npos,
             strict.status().ToString());

  options.paranoid_checks = false;  // the damaged block is skipped, as before
  auto lenient = test::TryOpen(options, db_dir, test::MakeBackendByName(backend));
  BOOST_REQUIRE_MESSAGE(lenient.ok(), lenient.status().ToString());
  BOOST_TEST(GetOrStatus(**lenient, "p0") == PValue(kValue, 0));
  BOOST_TEST(GetOrStatus(**lenient, "p1") == "NOT_FOUND");
  const int last = static_cast<int>(n - 1);
  BOOST_TEST(GetOrStatus(**lenient, "p" + std::to_string(last)) == PValue(kValue, last));
}

// (b) The high bit of record 1's length: the length reaches past its block.
// Whether the log is preallocated (zeros after) or not (the damaged record is
// in the file's last, partial block), that is damage, never a torn tail.
BOOST_DATA_TEST_CASE(LengthPastItsBlockIsCorruption,
                     bdata::make(BackendNames()) * bdata::make({true, false}), backend,
                     preallocated) {
  TempDir dir;
  const std::string db_dir = dir.Child("db");
  constexpr size_t kValue = 200;
  std::string log_path;
  if (preallocated) {
    log_path = WritePreallocatedLog(backend, db_dir, kValue,
                                    [](const auto& spans) { return spans.size() == 5; });
  } else {
    Options options = TestOptions(backend);
    options.paranoid_checks = true;  // no preallocation: the log ends after its last record
    auto db = OpenOrDie(options, db_dir, backend);
    for (int i = 0; i < 5; ++i) {
      BOOST_REQUIRE(Run(db->Put({.sync = true}, "p" + std::to_string(i), PValue(kValue, i))).ok());
    }
    log_path = LogPath(db_dir);
  }
  std::string data = Slurp(log_path);
  const std::vector<RecordSpan> spans = RecordSpans(data);
  BOOST_REQUIRE(spans.size() == 5u);
  BOOST_REQUIRE((data.size() > log::kBlockSize) == preallocated);
  data[spans[1].offset + 5] = static_cast<char>(data[spans[1].offset + 5] | 0x80);
  WriteFile(log_path, data);

  Options options = TestOptions(backend);
  options.paranoid_checks = true;
  auto strict = test::TryOpen(options, db_dir, test::MakeBackendByName(backend));
  BOOST_REQUIRE_MESSAGE(!strict.ok(), "a damaged length taken for a torn tail");
  BOOST_TEST(strict.status().IsCorruption(), strict.status().ToString());
  BOOST_TEST(strict.status().ToString().find(log_path + ": offset " + std::to_string(spans[1].offset)) !=
                 std::string::npos,
             strict.status().ToString());

  options.paranoid_checks = false;
  auto lenient = test::TryOpen(options, db_dir, test::MakeBackendByName(backend));
  BOOST_REQUIRE_MESSAGE(lenient.ok(), lenient.status().ToString());
  BOOST_TEST(GetOrStatus(**lenient, "p0") == PValue(kValue, 0));
  BOOST_TEST(GetOrStatus(**lenient, "p1") == "NOT_FOUND");
}

// A torn record in the last block of a preallocated 1 MiB chunk: fewer than
// 32 KiB of zeros follow it. Still a torn tail under paranoid_checks.
BOOST_DATA_TEST_CASE(TornRecordBeforeAShortZeroRunIsATornTail, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const std::string db_dir = dir.Child("db");
  constexpr size_t kValue = 10000;
  const std::string log_path = WritePreallocatedLog(backend, db_dir, kValue, [](const auto& spans) {
    return spans.back().end >= config::kWalPreallocChunk - log::kBlockSize;
  });
  std::string data = Slurp(log_path);
  const std::vector<RecordSpan> spans = RecordSpans(data);
  const size_t n = spans.size();
  BOOST_REQUIRE(data.size() == config::kWalPreallocChunk);
  BOOST_REQUIRE(spans[n - 1].end < config::kWalPreallocChunk);
  BOOST_REQUIRE(data.size() - spans[n - 1].end < log::kBlockSize);
  // The second half of the last record never reached the disk.
  const uint64_t torn_from = spans[n - 1].offset + (spans[n - 1].end - spans[n - 1].offset) / 2;
  std::fill(data.begin() + static_cast<std::ptrdiff_t>(torn_from),
            data.begin() + static_cast<std::ptrdiff_t>(spans[n - 1].end), '\0');
  WriteFile(log_path, data);

  for (bool paranoid : {true, false}) {
    Options options = TestOptions(backend);
    options.paranoid_checks = paranoid;
    auto db = test::TryOpen(options, db_dir, test::MakeBackendByName(backend));
    BOOST_TEST_CONTEXT("paranoid " << paranoid) {
      BOOST_REQUIRE_MESSAGE(db.ok(), db.status().ToString());
      const int last = static_cast<int>(n - 1);
      BOOST_TEST(GetOrStatus(**db, "p" + std::to_string(last - 1)) == PValue(kValue, last - 1));
      BOOST_TEST(GetOrStatus(**db, "p" + std::to_string(last)) == "NOT_FOUND");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

// Files of `dir` of one type, by number.
std::vector<uint64_t> FilesOfType(const std::string& dir, io::FileType want) {
  auto names = io::ListDir(dir);
  BOOST_REQUIRE(names.ok());
  std::vector<uint64_t> numbers;
  for (const auto& n : *names) {
    uint64_t number;
    io::FileType type;
    if (io::ParseFileName(n, &number, &type) && type == want) numbers.push_back(number);
  }
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

// The first sequence number of every batch in every log of `dir`, logs in
// number order.
std::vector<SequenceNumber> LoggedBatchSequences(const std::string& dir) {
  std::vector<SequenceNumber> sequences;
  for (uint64_t number : FilesOfType(dir, io::FileType::kLogFile)) {
    const std::string log = Slurp(io::LogFileName(dir, number));
    log::RecordParser parser("log", nullptr, /*checksum=*/true);
    std::string record;
    for (bool more = true; more;) {
      switch (parser.Next(&record)) {
        case log::RecordParser::Step::kRecord: {
          WriteBatch batch;
          BOOST_REQUIRE(WriteBatchInternal::SetContents(&batch, record).ok());
          sequences.push_back(WriteBatchInternal::Sequence(batch));
          break;
        }
        case log::RecordParser::Step::kNeedBlock: {
          const uint64_t at = parser.NextBlockOffset();
          parser.FeedBlock(at >= log.size() ? Slice() : Slice(log).substr(at, log::kBlockSize));
          break;
        }
        case log::RecordParser::Step::kEndOfLog:
          more = false;
          break;
      }
    }
  }
  return sequences;
}

// Open makes what it replayed durable: it may have come from the page cache
// only (a non-sync write before a process crash, or a sync write whose
// fdatasync failed), and must not become visible and then vanish.
BOOST_AUTO_TEST_SUITE(DBRecoveryDurabilityTest)

// A non-sync put, a process crash, a reopen that serves it, a sync put, a
// power cut: both puts are there.
BOOST_DATA_TEST_CASE(ReplayedWriteSurvivesAPowerCutAfterReopen, bdata::make(BackendNames()),
                     backend) {
  TempDir dir;
  const Options options = TestOptions(backend);
  const std::string db_dir = dir.Child("db");
  auto fault = std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
  BOOST_REQUIRE(fault->TrackDirectory(db_dir).ok());  // entries too
  {
    auto db = test::TryOpen(options, db_dir, fault);
    BOOST_REQUIRE_MESSAGE(db.ok(), db.status().ToString());
    BOOST_REQUIRE(Run((*db)->Put({}, "a", "va")).ok());
  }  // closed without a sync: the process is gone, the page cache is not
  {
    auto db = test::TryOpen(options, db_dir, fault);
    BOOST_REQUIRE_MESSAGE(db.ok(), db.status().ToString());
    BOOST_TEST(GetOrStatus(**db, "a") == "va");
    BOOST_REQUIRE(Run((*db)->Put({.sync = true}, "b", "vb")).ok());
    // The replayed logs and their MANIFEST are gone; one log holds it all.
    BOOST_TEST(FilesOfType(db_dir, io::FileType::kLogFile).size() == 1u);
    BOOST_TEST(FilesOfType(db_dir, io::FileType::kDescriptorFile).size() == 1u);
  }
  BOOST_REQUIRE(fault->DropUnsyncedData().ok());
  auto db = OpenOrDie(options, db_dir, backend);
  BOOST_TEST(GetOrStatus(*db, "a") == "va");
  BOOST_TEST(GetOrStatus(*db, "b") == "vb");
}

// A sync put whose fdatasync fails, then a reopen in the same boot: the
// put's bytes are in the page cache of the log. If the reopened database
// serves the key, a power cut must not take it away.
BOOST_DATA_TEST_CASE(FailedSyncWriteIsNeverVisibleThenLost, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const Options options = TestOptions(backend);
  const std::string db_dir = dir.Child("db");
  auto fault = std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
  BOOST_REQUIRE(fault->TrackDirectory(db_dir).ok());  // entries too
  {
    auto db = test::TryOpen(options, db_dir, fault);
    BOOST_REQUIRE_MESSAGE(db.ok(), db.status().ToString());
    BOOST_REQUIRE(Run((*db)->Put({.sync = true}, "warm", "vwarm")).ok());  // grows the log
    fault->FailNthSync(1, EIO);
    const Status s = Run((*db)->Put({.sync = true}, "a", "va"));
    BOOST_REQUIRE_MESSAGE(s.IsIOError(), s.ToString());
    BOOST_REQUIRE(fault->faults_injected() == 1u);
  }
  bool visible = false;
  {
    auto db = test::TryOpen(options, db_dir, fault);  // same boot
    BOOST_REQUIRE_MESSAGE(db.ok(), db.status().ToString());
    const std::string a = GetOrStatus(**db, "a");
    BOOST_TEST_MESSAGE("after reopen: a = " << a);
    BOOST_REQUIRE(a == "va" || a == "NOT_FOUND");
    visible = a == "va";
  }
  BOOST_REQUIRE(fault->DropUnsyncedData().ok());
  auto db = OpenOrDie(options, db_dir, backend);
  BOOST_TEST(GetOrStatus(*db, "warm") == "vwarm");
  if (visible) BOOST_TEST(GetOrStatus(*db, "a") == "va", "served after the failed sync, then lost");
}

// A crash (an injected EIO or ENOSPC write or sync failure, so Open fails
// there, naming the error and leaving no temp file) at each step of flushing
// what Open replayed — level-0 table written and synced, directory synced,
// new log created, MANIFEST written and synced, CURRENT switched — then
// optionally a power cut, then a reopen: every sync-acknowledged put is
// there, unsynced ones all or none, and no batch is in the logs left behind
// twice (nor inserted twice meanwhile: the memtable asserts that).
BOOST_DATA_TEST_CASE(CrashWhileFlushingTheReplayLosesAndDuplicatesNothing,
                     bdata::make(BackendNames()) * bdata::make({false, true}) *
                         bdata::make({false, true}) * bdata::make({EIO, ENOSPC}),
                     backend, fail_sync, power_cut, err) {
  TempDir dir;
  const Options options = TestOptions(backend);
  int failed_opens = 0;
  for (int n = 1; n < 50; ++n) {
    const std::string db_dir = dir.Child("db" + std::to_string(n));
    auto fault = std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
    BOOST_REQUIRE(fault->TrackDirectory(db_dir).ok());  // entries too
    {
      auto db = test::TryOpen(options, db_dir, fault);
      BOOST_REQUIRE_MESSAGE(db.ok(), db.status().ToString());
      for (int i = 0; i < 5; ++i) {
        BOOST_REQUIRE(Run((*db)->Put({.sync = true}, "k" + std::to_string(i), "v")).ok());
      }
      for (int i = 0; i < 5; ++i) {
        BOOST_REQUIRE(Run((*db)->Put({}, "u" + std::to_string(i), "v")).ok());
      }
    }
    if (fail_sync) {
      fault->FailNthSync(n, err);
    } else {
      fault->FailNthWrite(n, err);
    }
    bool opened = false;
    {
      auto db = test::TryOpen(options, db_dir, fault);
      opened = db.ok();
      BOOST_TEST_CONTEXT("fault " << n) {
        BOOST_TEST(opened == (fault->faults_injected() == 0u), db.status().ToString());
        if (!opened) {
          BOOST_TEST(db.status().IsIOError(), db.status().ToString());
          BOOST_TEST(db.status().ToString().find(std::strerror(err)) != std::string::npos,
                     db.status().ToString());
        }
        BOOST_TEST(FilesOfType(db_dir, io::FileType::kTempFile).empty(),
                   "a temp file left behind");
      }
    }
    if (!opened) ++failed_opens;
    if (power_cut) BOOST_REQUIRE(fault->DropUnsyncedData().ok());
    {
      auto db = OpenOrDie(options, db_dir, backend);
      BOOST_TEST_CONTEXT("fault " << n << (power_cut ? ", power cut" : "")) {
        for (int i = 0; i < 5; ++i) BOOST_TEST(GetOrStatus(*db, "k" + std::to_string(i)) == "v");
        int unsynced = 0;
        for (int i = 0; i < 5; ++i) unsynced += GetOrStatus(*db, "u" + std::to_string(i)) == "v";
        if (power_cut) {
          BOOST_TEST((unsynced == 0 || unsynced == 5), unsynced << " of 5 unsynced puts");
        } else {
          BOOST_TEST(unsynced == 5);
        }
      }
    }
    // Each batch once, in order, in the logs left behind.
    const std::vector<SequenceNumber> sequences = LoggedBatchSequences(db_dir);
    BOOST_TEST_CONTEXT("fault " << n) {
      BOOST_TEST((std::adjacent_find(sequences.begin(), sequences.end(),
                                     std::greater_equal<SequenceNumber>()) == sequences.end()),
                 "a batch logged twice or out of order");
      BOOST_TEST((sequences.size() == 0u || sequences.size() == 5u || sequences.size() == 10u),
                 sequences.size());
    }
    if (opened) break;  // past the last write or sync of the reopen
  }
  // Writes: table, MANIFEST, CURRENT; syncs: table, directory, new log's
  // directory entry, MANIFEST, CURRENT, directory.
  BOOST_TEST(failed_opens >= (fail_sync ? 5 : 3));
}

// A database with nothing to replay reopens without writing a table, and
// leaves one MANIFEST (a new one, as LevelDB's Open writes).
BOOST_DATA_TEST_CASE(CleanReopenWritesNoTable, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const Options options = TestOptions(backend);
  const std::string db_dir = dir.Child("db");
  auto fault = std::make_shared<io::FaultInjectionBackend>(test::MakeBackendByName(backend));
  { BOOST_REQUIRE(test::TryOpen(options, db_dir, fault).ok()); }
  const std::vector<uint64_t> manifests = FilesOfType(db_dir, io::FileType::kDescriptorFile);
  BOOST_TEST(manifests.size() == 1u);
  { BOOST_REQUIRE(test::TryOpen(options, db_dir, fault).ok()); }
  BOOST_TEST(FilesOfType(db_dir, io::FileType::kTableFile).empty());
  const std::vector<uint64_t> after = FilesOfType(db_dir, io::FileType::kDescriptorFile);
  BOOST_TEST(after.size() == 1u);
  BOOST_TEST(after != manifests);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb

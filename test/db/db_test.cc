// DB behaviour on every I/O backend: open/reopen rules, a randomized model
// test against std::map, and concurrent writers from many threads.
#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>

#include "corodb/cache.h"
#include "corodb/filter_policy.h"
#include "corodb/sync_db.h"
#include "db/write_batch_internal.h"
#include "db_test_util.h"
#include "io/file_names.h"
#include "io/file_system.h"
#include "log/log_reader.h"
#include "support/temp_dir.h"
#include "util/random.h"

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

std::string RandomString(Random& rnd, size_t max_len) {
  std::string s(rnd.Skewed(static_cast<int>(std::log2(max_len))) % (max_len + 1), '\0');
  for (char& c : s) c = static_cast<char>(rnd.Uniform(256));
  return s;
}

BOOST_AUTO_TEST_SUITE(DBOpenTest)

BOOST_DATA_TEST_CASE(PutGetDeleteSurviveReopen, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const Options options = TestOptions(backend);
  {
    auto db = OpenOrDie(options, dir.Child("db"), backend);
    BOOST_TEST(Run(db->Put({}, "a", "1")).ok());
    BOOST_TEST(Run(db->Put({}, "b", "2")).ok());
    BOOST_TEST(Run(db->Put({}, "", "empty key")).ok());
    BOOST_TEST(Run(db->Put({}, std::string("\0\xff", 2), "")).ok());
    BOOST_TEST(Run(db->Delete({}, "b")).ok());
    BOOST_TEST(GetOrStatus(*db, "a") == "1");
    BOOST_TEST(GetOrStatus(*db, "b") == "NOT_FOUND");
    BOOST_TEST(Run(db->Close()).ok());
  }
  auto db = OpenOrDie(options, dir.Child("db"), backend);
  BOOST_TEST(GetOrStatus(*db, "a") == "1");
  BOOST_TEST(GetOrStatus(*db, "b") == "NOT_FOUND");
  BOOST_TEST(GetOrStatus(*db, "") == "empty key");
  BOOST_TEST(GetOrStatus(*db, std::string("\0\xff", 2)) == "");
  std::string backend_name;
  BOOST_REQUIRE(db->GetProperty("corodb.io-backend", &backend_name));
  BOOST_TEST(backend_name == backend);
}

BOOST_DATA_TEST_CASE(MissingDatabaseNeedsCreateIfMissing, bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  options.create_if_missing = false;
  auto db = test::TryOpen(options, dir.Child("db"), test::MakeBackendByName(backend));
  BOOST_REQUIRE(!db.ok());
  BOOST_TEST(db.status().IsInvalidArgument());
  BOOST_TEST(db.status().ToString().find("does not exist") != std::string::npos);
}

BOOST_DATA_TEST_CASE(ErrorIfExistsRefusesExistingDatabase, bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  { auto db = OpenOrDie(options, dir.Child("db"), backend); }
  options.error_if_exists = true;
  auto db = test::TryOpen(options, dir.Child("db"), test::MakeBackendByName(backend));
  BOOST_REQUIRE(!db.ok());
  BOOST_TEST(db.status().IsInvalidArgument());
  BOOST_TEST(db.status().ToString().find("exists") != std::string::npos);
}

BOOST_DATA_TEST_CASE(SecondOpenerIsRefusedWhileOpen, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const Options options = TestOptions(backend);
  auto first = OpenOrDie(options, dir.Child("db"), backend);
  auto second = test::TryOpen(options, dir.Child("db"), test::MakeBackendByName(backend));
  BOOST_REQUIRE(!second.ok());
  BOOST_TEST(second.status().IsIOError());
  BOOST_TEST(second.status().ToString().find("LOCK") != std::string::npos);
  first.reset();
  BOOST_TEST(test::TryOpen(options, dir.Child("db"), test::MakeBackendByName(backend)).ok());
}

BOOST_DATA_TEST_CASE(WritesAfterCloseAreRefused, bdata::make(BackendNames()), backend) {
  TempDir dir;
  auto db = OpenOrDie(TestOptions(backend), dir.Child("db"), backend);
  BOOST_TEST(Run(db->Put({}, "k", "v")).ok());
  BOOST_TEST(Run(db->Close()).ok());
  Status s = Run(db->Put({}, "k2", "v"));
  BOOST_TEST(s.IsInvalidArgument());
  BOOST_TEST(GetOrStatus(*db, "k") == "v");
}

BOOST_AUTO_TEST_CASE(SyncDBFacadeWorks) {
  TempDir dir;
  Options options;
  options.create_if_missing = true;
  auto db = SyncDB::Open(options, dir.Child("db"));
  BOOST_REQUIRE_MESSAGE(db.ok(), db.status().ToString());
  BOOST_TEST((*db)->Put({.sync = true}, "x", "y").ok());
  WriteBatch batch;
  batch.Put("p", "q");
  batch.Delete("x");
  BOOST_TEST((*db)->Write({}, batch).ok());
  BOOST_TEST((*db)->Get({}, "x").status().IsNotFound());
  BOOST_TEST(*(*db)->Get({}, "p") == "q");
  std::string stats;
  BOOST_REQUIRE((*db)->GetProperty("corodb.stats", &stats));
  BOOST_TEST(stats.find("wal_syncs: 1") != std::string::npos);
  BOOST_TEST((*db)->Close().ok());
}

class ForeignCache final : public Cache {
 public:
  size_t capacity() const override { return 0; }
  size_t usage() const override { return 0; }
};

// Options that cannot work are refused with the field's name, before
// anything is created.
BOOST_AUTO_TEST_CASE(UnusableOptionsAreRefused) {
  TempDir dir;
  Options options;
  options.create_if_missing = true;
  options.write_buffer_size = 0;
  auto db = SyncDB::Open(options, dir.Child("db"));
  BOOST_REQUIRE(!db.ok());
  BOOST_TEST(db.status().IsInvalidArgument());
  BOOST_TEST(db.status().ToString().find("write_buffer_size") != std::string::npos);
  options.write_buffer_size = Options().write_buffer_size;
  options.block_cache = std::make_shared<ForeignCache>();
  db = SyncDB::Open(options, dir.Child("db"));
  BOOST_REQUIRE(!db.ok());
  BOOST_TEST(db.status().ToString().find("block_cache") != std::string::npos);
  BOOST_TEST(!io::FileExists(dir.Child("db")));
  options.block_cache = NewLRUCache(1 << 20);
  options.compaction_readahead_size = (size_t{1} << 30) + 1;  // a buffer per input table
  db = SyncDB::Open(options, dir.Child("db"));
  BOOST_REQUIRE(!db.ok());
  BOOST_TEST(db.status().ToString().find("compaction_readahead_size") != std::string::npos);
  BOOST_TEST(!io::FileExists(dir.Child("db")));
  options.compaction_readahead_size = 0;  // a block per read
  BOOST_TEST(SyncDB::Open(options, dir.Child("db")).ok());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(DBModelTest)

// Random puts, deletes and batches (empty and binary keys and values) checked
// against std::map, with reopens at random points and tiny memtables so that
// memtable switches and multi-log recovery happen often.
BOOST_DATA_TEST_CASE(RandomOperationsMatchStdMap, bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  options.write_buffer_size = 16 * 1024;
  std::map<std::string, std::string> model;
  Random rnd(301);
  auto db = OpenOrDie(options, dir.Child("db"), backend);
  auto check_all = [&](DB& d) {
    for (const auto& [k, v] : model) {
      BOOST_TEST_CONTEXT("key size " << k.size()) { BOOST_TEST(GetOrStatus(d, k) == v); }
    }
  };
  std::vector<std::string> keys;
  for (int i = 0; i < 200; ++i) keys.push_back(RandomString(rnd, 24));
  keys.push_back("");
  for (int step = 0; step < 3000; ++step) {
    const uint32_t op = rnd.Uniform(100);
    const std::string& key = keys[rnd.Uniform(static_cast<uint32_t>(keys.size()))];
    WriteOptions wo;
    wo.sync = rnd.OneIn(20);
    if (op < 50) {
      const std::string value = RandomString(rnd, 300);
      BOOST_REQUIRE(Run(db->Put(wo, key, value)).ok());
      model[key] = value;
    } else if (op < 70) {
      BOOST_REQUIRE(Run(db->Delete(wo, key)).ok());
      model.erase(key);
    } else if (op < 85) {
      WriteBatch batch;
      const uint32_t n = rnd.Uniform(10);
      for (uint32_t i = 0; i < n; ++i) {
        const std::string& k = keys[rnd.Uniform(static_cast<uint32_t>(keys.size()))];
        if (rnd.OneIn(3)) {
          batch.Delete(k);
          model.erase(k);
        } else {
          const std::string v = RandomString(rnd, 100);
          batch.Put(k, v);
          model[k] = v;
        }
      }
      BOOST_REQUIRE(Run(db->Write(wo, batch)).ok());
    } else if (op < 99) {
      BOOST_TEST(GetOrStatus(*db, key) == (model.count(key) ? model[key] : "NOT_FOUND"));
    } else {
      db.reset();  // reopen
      db = OpenOrDie(options, dir.Child("db"), backend);
      check_all(*db);
    }
  }
  check_all(*db);
  db.reset();
  db = OpenOrDie(options, dir.Child("db"), backend);
  check_all(*db);
}

BOOST_AUTO_TEST_SUITE_END()

// Reads every record of every log left in `dir`, in file order, and checks
// that sequence numbers are contiguous and increasing: the log order is the
// sequence order. Returns the number of updates up to the last record.
uint64_t CheckLogSequenceOrder(const std::string& dir, const std::string& backend) {
  io::FileSystem fs(test::MakeBackendByName(backend));
  auto names = io::ListDir(dir);
  BOOST_REQUIRE(names.ok());
  std::vector<uint64_t> logs;
  for (const auto& n : *names) {
    uint64_t number;
    io::FileType type;
    if (io::ParseFileName(n, &number, &type) && type == io::FileType::kLogFile) logs.push_back(number);
  }
  std::sort(logs.begin(), logs.end());
  // Logs whose memtables were flushed are gone: the sequence continues from
  // the first record of the oldest log left (the updates before it count).
  uint64_t expected = 0;
  uint64_t updates = 0;
  for (uint64_t number : logs) {
    auto file = fs.Open(io::LogFileName(dir, number), io::OpenMode::kRead);
    BOOST_REQUIRE(file.ok());
    log::Reader reader(**file, nullptr, true);
    std::string record;
    for (;;) {
      Result<bool> more = Run(reader.ReadRecord(&record));
      BOOST_REQUIRE(more.ok());
      if (!*more) break;
      WriteBatch batch;
      BOOST_REQUIRE(WriteBatchInternal::SetContents(&batch, record).ok());
      if (expected == 0) {
        expected = WriteBatchInternal::Sequence(batch);
        updates = expected - 1;
      }
      BOOST_TEST(WriteBatchInternal::Sequence(batch) == expected);
      expected += WriteBatchInternal::Count(batch);
      updates += WriteBatchInternal::Count(batch);
    }
  }
  return updates;
}

asio::awaitable<int> WriterTask(DB& db, int writer, int count, bool sync) {
  int failures = 0;
  for (int i = 0; i < count; ++i) {
    WriteOptions wo;
    wo.sync = sync && (i % 4 == 0);
    const std::string key = "w" + std::to_string(writer) + "-" + std::to_string(i);
    if (!(co_await db.Put(wo, key, key + "-value")).ok()) ++failures;
  }
  co_return failures;
}

BOOST_AUTO_TEST_SUITE(DBConcurrencyTest)

// Many coroutines on several threads and io_contexts write at once. Every
// acknowledged write is readable, before and after reopen; the logs hold the
// updates in sequence order; writes were grouped.
BOOST_DATA_TEST_CASE(ConcurrentWritersAreAllDurableAndOrdered, bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = TestOptions(backend);
  options.write_buffer_size = 64 * 1024;
  constexpr int kThreads = 3;
  constexpr int kWritersPerThread = 16;
  constexpr int kWritesPerWriter = 60;
  {
    auto db = OpenOrDie(options, dir.Child("db"), backend);
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
      contexts.push_back(std::make_unique<asio::io_context>());
      for (int w = 0; w < kWritersPerThread; ++w) {
        asio::co_spawn(*contexts.back(),
                       WriterTask(*db, t * kWritersPerThread + w, kWritesPerWriter, t == 0),
                       [&](std::exception_ptr e, int f) { failures += (e ? 1 : 0) + f; });
      }
    }
    std::vector<std::thread> threads;
    for (auto& c : contexts) threads.emplace_back([&c] { c->run(); });
    for (auto& th : threads) th.join();
    BOOST_TEST(failures.load() == 0);
    for (int w = 0; w < kThreads * kWritersPerThread; ++w) {
      for (int i = 0; i < kWritesPerWriter; i += 7) {
        const std::string key = "w" + std::to_string(w) + "-" + std::to_string(i);
        BOOST_TEST(GetOrStatus(*db, key) == key + "-value");
      }
    }
    std::string stats;
    BOOST_REQUIRE(db->GetProperty("corodb.stats", &stats));
    BOOST_TEST_MESSAGE(stats);
    BOOST_TEST(stats.find("writes: " + std::to_string(kThreads * kWritersPerThread * kWritesPerWriter)) !=
               std::string::npos);
  }
  BOOST_TEST(CheckLogSequenceOrder(dir.Child("db"), backend) ==
             static_cast<uint64_t>(kThreads * kWritersPerThread * kWritesPerWriter));
  auto db = OpenOrDie(options, dir.Child("db"), backend);
  for (int w = 0; w < kThreads * kWritersPerThread; ++w) {
    for (int i = 0; i < kWritesPerWriter; ++i) {
      const std::string key = "w" + std::to_string(w) + "-" + std::to_string(i);
      BOOST_TEST(GetOrStatus(*db, key) == key + "-value");
    }
  }
}

asio::awaitable<void> RacingWriter(DB* db, int t, int c, std::atomic<int>* started,
                                   std::vector<std::pair<std::string, bool>>* out) {
  for (int i = 0; i < 200; ++i) {
    const std::string key = "t" + std::to_string(t) + "c" + std::to_string(c) + "-" + std::to_string(i);
    WriteOptions wo;
    wo.sync = (i % 3 == 0);
    started->fetch_add(1);
    const Status s = co_await db->Put(wo, key, "v");
    if (!s.ok() && !s.IsInvalidArgument()) throw std::runtime_error(s.ToString());
    out->emplace_back(key, s.ok());
    if (!s.ok()) co_return;
  }
}

// Close() while writers on other threads keep writing (sync and not): every
// write either completes OK and survives reopen, or fails as closed; none is
// half-done, and nothing touches the closed log.
BOOST_DATA_TEST_CASE(CloseRacingWritersLosesNothingAcknowledged, bdata::make(BackendNames()), backend) {
  TempDir dir;
  const Options options = TestOptions(backend);
  std::vector<std::vector<std::pair<std::string, bool>>> outcomes(4);
  {
    auto db = OpenOrDie(options, dir.Child("db"), backend);
    std::vector<std::thread> threads;
    std::atomic<int> started{0};
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        asio::io_context ctx;
        for (int c = 0; c < 8; ++c) {
          // One vector per thread: its coroutines all run on this thread.
          asio::co_spawn(ctx, RacingWriter(db.get(), t, c, &started, &outcomes[static_cast<size_t>(t)]),
                         [](std::exception_ptr e) {
                           if (e) std::rethrow_exception(e);
                         });
        }
        ctx.run();
      });
    }
    while (started.load() < 200) std::this_thread::yield();
    BOOST_TEST(Run(db->Close()).ok());
    for (auto& th : threads) th.join();
  }
  auto db = OpenOrDie(options, dir.Child("db"), backend);
  size_t ok = 0, refused = 0;
  for (const auto& per_thread : outcomes) {
    for (const auto& [key, acked] : per_thread) {
      if (acked) {
        ++ok;
        BOOST_TEST(GetOrStatus(*db, key) == "v");
      } else {
        ++refused;
      }
    }
  }
  BOOST_TEST(ok > 0u);
  BOOST_TEST(refused > 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb

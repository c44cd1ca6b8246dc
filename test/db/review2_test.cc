// Review 2 (CompactRange, snapshots/iterators, mmap tables, repair): tests
// that fail on main at f1db023.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <future>
#include <thread>

#include "db_engine_test_util.h"
#include "support/temp_dir.h"

namespace corodb {
namespace {

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

BOOST_AUTO_TEST_SUITE(Review2Test)

// CompactRange's FlushMemTable sets force_switch_; the room task consumes it
// (exchange) and puts it back only when a flush is pending. When the room
// task instead has to wait for the level-0 stop trigger, the request is
// dropped: once level 0 drains the task finds the memtable "not full" and
// lets the empty batch through, FlushMemTable sees no pending flush, and
// CompactRange returns OK with the memtable never flushed.
BOOST_DATA_TEST_CASE(CompactRangeFlushesTheMemtableWhileLevel0IsAtTheStopTrigger,
                     bdata::make(BackendNames()), backend) {
  TempDir dir;
  const std::string path = dir.Child("db");
  WriteForRecoveryIntoLevel0(backend, path, 326);  // 11 overlapping level-0 tables (315..340 give 11)
  Options options = EngineOptions(backend);
  // The level-0 compaction that drains the stop trigger takes about a second.
  options.compaction_rate_limit = 256 * kKiB;
  auto db = OpenHeldOrDie(options, path, backend);
  DBImpl& impl = *db;
  struct Release {
    DBImpl* impl;
    ~Release() { impl->HoldBackgroundForTesting(false); }
  } release{&impl};
  BOOST_REQUIRE_MESSAGE(FilesAtLevel(*db, 0) == 11, LevelSummary(*db));

  // Fill a memtable inside the level-0 key range until it is frozen (its
  // flush held): its table will be the 12th at level 0. The last write is in
  // the new memtable.
  int n = 0;
  while (Stat(*db, "memtable_switches") == 0) {
    const std::string key = NumKey("r", 50000 + n++);
    BOOST_REQUIRE(Run(db->Put({}, key, SizedValue(key, 1000))).ok());
    BOOST_REQUIRE_LT(n, 1000);
  }
  const std::string in_memtable = NumKey("r", 50000 + n - 1);

  std::future<Status> compacted = std::async(std::launch::async, [&] {
    return Run(db->CompactRange(nullptr, nullptr));
  });
  // Its empty batch waits in the room task for the held flush.
  BOOST_REQUIRE(WaitFor([&] { return impl.SuspendedQueuedWritersForTesting() == 1; },
                        kEventMillis));
  impl.HoldBackgroundForTesting(false);  // flush (level 0 -> 12), then compact
  BOOST_REQUIRE(compacted.wait_for(std::chrono::milliseconds(kEventMillis)) ==
                std::future_status::ready);
  const Status s = compacted.get();
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  // The memtable holding `in_memtable` must have been frozen and flushed.
  BOOST_TEST(Stat(*db, "memtable_switches") == 2u);
  BOOST_TEST(Stat(*db, "flushes") == 2u);
  BOOST_TEST(GetOrStatus(*db, in_memtable) == SizedValue(in_memtable, 1000));
}

// iterator.h: "it may outlive the DB object only if it is destroyed before
// any further move". An iterator that has read a table holds a TableCache
// handle and block-cache handles; ~DBImpl destroys the table cache and the
// block cache, and the iterator's destruction then unpins entries of freed
// shards (heap-use-after-free; run under ASan or valgrind to see it).
BOOST_DATA_TEST_CASE(AnIteratorDestroyedAfterItsDB, bdata::make(BackendNames()), backend) {
  TempDir dir;
  auto db = OpenOrDie(EngineOptions(backend), dir.path(), backend);
  for (int i = 0; i < 2000; ++i) {
    BOOST_REQUIRE(Run(db->Put({}, NumKey("k", i), SizedValue(NumKey("k", i), 100))).ok());
  }
  BOOST_REQUIRE(WaitIdle(*db).ok());
  BOOST_REQUIRE_GT(FilesAtLevel(*db, 0) + FilesAtLevel(*db, 1) + FilesAtLevel(*db, 2), 0);
  std::unique_ptr<Iterator> it = db->NewIterator({});
  Run([&]() -> boost::asio::awaitable<bool> {
    co_await it->Seek(NumKey("k", 10));
    co_return true;
  }());
  BOOST_REQUIRE(it->Valid());
  db.reset();
  it.reset();  // allowed by the contract
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace corodb

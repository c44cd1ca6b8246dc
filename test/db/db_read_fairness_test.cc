// Reads answered from memory complete without suspending, yet a coroutine
// looping over them must not hold its thread: handlers posted to its
// executor run within a turn (kReadTurnNanos, at most kMaxReadsPerTurn reads),
// and a flush whose install waits on the engine executor finishes while
// readers on that executor keep reading.
#include <chrono>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "db/read_yield.h"
#include "db_engine_test_util.h"
#include "support/temp_dir.h"

namespace corodb::test {
namespace bdata = boost::unit_test::data;
namespace asio = boost::asio;

namespace {

enum class ReadKind { kGet, kMultiGet, kSeek, kNext, kTryNext, kTryPrev };

// `reads` reads of kind `kind`, all answered from the memtable; counts them in *done.
asio::awaitable<void> ReadLoop(DB& db, ReadKind kind, int reads, int* done) {
  const Slice keys[] = {"a", "b"};
  std::unique_ptr<Iterator> it = db.NewIterator({});
  co_await it->SeekToFirst();
  for (int i = 0; i < reads; ++i) {
    switch (kind) {
      case ReadKind::kGet:
        (void)co_await db.Get({}, "a");
        break;
      case ReadKind::kMultiGet:
        (void)co_await db.MultiGet({}, keys);
        break;
      case ReadKind::kSeek:
        co_await it->Seek("a");
        break;
      case ReadKind::kNext:
        if (!it->Valid()) co_await it->SeekToFirst();
        co_await it->Next();
        break;
      case ReadKind::kTryNext:  // the scan idiom of iterator.h
        if (!it->Valid()) co_await it->SeekToFirst();
        if (!it->TryNext()) co_await it->Next();
        break;
      case ReadKind::kTryPrev:
        if (!it->Valid()) co_await it->SeekToLast();
        if (!it->TryPrev()) co_await it->Prev();
        break;
    }
    ++*done;
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(DBReadFairnessTest)

BOOST_DATA_TEST_CASE(HandlersPostedBehindAReadLoopRunWithinItsBudget,
                     bdata::make(BackendNames()) * bdata::make({0, 1, 2, 3, 4, 5}), backend, kind) {
  TempDir dir;
  Options options = EngineOptions(backend);
  asio::io_context ctx(1);
  options.engine_context = &ctx;
  auto opened = RunOn(ctx, OpenDBWithBackend(options, dir.Child("db"), MakeBackendByName(backend)));
  BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  DB& db = **opened;
  BOOST_REQUIRE(RunOn(ctx, db.Put({}, "a", "1")).ok());
  BOOST_REQUIRE(RunOn(ctx, db.Put({}, "b", "2")).ok());

  constexpr int kReads = 3 * static_cast<int>(kMaxReadsPerTurn);
  int done = 0;
  int done_when_first_ran = -1;
  int done_when_second_ran = -1;
  asio::co_spawn(ctx, ReadLoop(db, static_cast<ReadKind>(kind), kReads, &done), asio::detached);
  // Queued behind the reader's first turn; the second is queued behind a
  // whole turn that starts at the reader's yield.
  asio::post(ctx, [&] {
    done_when_first_ran = done;
    asio::post(ctx, [&] { done_when_second_ran = done; });
  });
  ctx.restart();
  ctx.run();
  // A loop pass counts one read, or two (a MultiGet of two keys; a Next past
  // the end and the SeekToFirst after it): a turn holds kMaxReadsPerTurn
  // reads at most, and at least kReadsPerClockCheck (the clock is read no
  // sooner).
  const int max_passes = static_cast<int>(
      static_cast<ReadKind>(kind) == ReadKind::kMultiGet ? kMaxReadsPerTurn / 2 : kMaxReadsPerTurn);
  const int min_passes = static_cast<int>(kReadsPerClockCheck / 2);
  BOOST_TEST(done == kReads);
  BOOST_TEST(done_when_first_ran >= 0);
  BOOST_TEST(done_when_first_ran <= max_passes);
  BOOST_TEST(done_when_second_ran > done_when_first_ran);
  BOOST_TEST(done_when_second_ran - done_when_first_ran <= max_passes);
  BOOST_TEST(done_when_second_ran - done_when_first_ran >= min_passes);
  BOOST_REQUIRE(RunOn(ctx, db.Close()).ok());
}

// The symptom the budget fixes: readers and a writer on the engine's own
// context; the writer fills memtable after memtable, and each switch waits
// for a flush to be installed on that context. Without yields the reader's
// loop, which only stops once the writer is done, held the context and the
// writer never finished (this test then hangs until CTest's timeout).
BOOST_DATA_TEST_CASE(AWriterOnTheReadersContextGetsItsFlushesInstalled, bdata::make(BackendNames()), backend) {
  TempDir dir;
  Options options = EngineOptions(backend);  // 32 KiB memtables
  asio::io_context ctx(1);
  options.engine_context = &ctx;
  auto opened = RunOn(ctx, OpenDBWithBackend(options, dir.Child("db"), MakeBackendByName(backend)));
  BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  DB& db = **opened;
  BOOST_REQUIRE(RunOn(ctx, db.Put({}, "a", "1")).ok());

  bool writer_done = false;
  Status write_status;
  auto writer = [&]() -> asio::awaitable<void> {
    // 400 KiB: a dozen memtable switches, each waiting for room.
    for (int i = 0; i < 400 && write_status.ok(); ++i) {
      write_status = co_await db.Put({}, NumKey("w", i), SizedValue("w", 1000));
    }
    writer_done = true;
  };
  int64_t reads = 0;
  auto reader = [&]() -> asio::awaitable<void> {
    while (!writer_done) {
      (void)co_await db.Get({}, "a");
      ++reads;
    }
  };
  asio::co_spawn(ctx, writer(), asio::detached);
  asio::co_spawn(ctx, reader(), asio::detached);
  ctx.restart();
  ctx.run();
  BOOST_TEST(write_status.ok(), write_status.ToString());
  BOOST_TEST(writer_done);
  BOOST_TEST(reads > 0);
  std::string stats;
  BOOST_REQUIRE(db.GetProperty("corodb.stats", &stats));
  BOOST_TEST(stats.find("\nflushes: 0\n") == std::string::npos, stats);
  BOOST_REQUIRE(RunOn(ctx, db.Close()).ok());
}

// The turn's rule, on a clock the test drives: a yield once a turn has
// lasted kReadTurnNanos (seen at a clock check), or has held kMaxReadsPerTurn
// reads, whichever comes first; the clock is read once per
// kReadsPerClockCheck reads.
BOOST_AUTO_TEST_CASE(ATurnEndsAfterItsTimeOrItsReads) {
  int64_t now = 1'000'000'000;  // ns
  int clock_reads = 0;
  auto clock = [&] {
    ++clock_reads;
    return now;
  };
  ReadTurn turn;
  // Counts single reads, each taking `step_ns`, until one should yield;
  // returns how many were counted (the yielding one included).
  auto reads_until_yield = [&](int64_t step_ns) {
    for (uint32_t n = 1;; ++n) {
      now += step_ns;
      if (turn.CountReadsWith(1, clock)) return n;
      BOOST_REQUIRE(n < 10 * kMaxReadsPerTurn);
    }
  };
  // A fresh turn began at time 0: over at the first clock check.
  BOOST_TEST(reads_until_yield(0) == kReadsPerClockCheck);
  BOOST_TEST(clock_reads == 1);

  // Fast reads (the clock never reaches the turn's end): the read count ends it.
  clock_reads = 0;
  BOOST_TEST(reads_until_yield(0) == kMaxReadsPerTurn);
  BOOST_TEST(clock_reads == static_cast<int>(kMaxReadsPerTurn / kReadsPerClockCheck));

  // Slow reads: the turn ends at the first clock check at or past its length.
  const int64_t step = 10'000;  // 10 µs per read
  const auto checks = static_cast<uint32_t>(
      (kReadTurnNanos / step + kReadsPerClockCheck - 1) / kReadsPerClockCheck);
  BOOST_TEST(reads_until_yield(step) == checks * kReadsPerClockCheck);

  // A MultiGet counts its keys: a batch of kMaxReadsPerTurn keys ends a turn.
  BOOST_TEST(!turn.CountReadsWith(1, clock));
  BOOST_TEST(turn.CountReadsWith(kMaxReadsPerTurn, clock));
}

// The turn's clock is CLOCK_MONOTONIC in nanoseconds: the clock
// std::chrono::steady_clock reads here (libstdc++), in its unit.
BOOST_AUTO_TEST_CASE(TheTurnsClockIsTheMonotonicClockInNanoseconds) {
  using std::chrono::duration_cast;
  using std::chrono::nanoseconds;
  using std::chrono::steady_clock;
  static_assert(steady_clock::is_steady);
  const int64_t before =
      duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
  const int64_t turn = ReadTurn::MonotonicNanos();
  const int64_t after =
      duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
  BOOST_TEST(before <= turn);
  BOOST_TEST(turn <= after);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace corodb::test
